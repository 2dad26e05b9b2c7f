//! Appointment use cases: booking with idempotency, reading, changing under a row
//! lock with the state machine, deleting, listing.

use std::sync::Arc;

use chrono::Duration;
use chrono_tz::Tz;
use medico24_kernel::{AppointmentId, AuditStamp, Clock, Page, PageRequest, PortError};
use serde_json::{Value, json};

use crate::booking::events::{AppointmentEvents, AppointmentUpdated, NoAppointmentEvents};
use crate::booking::messages::{created_message, status_changed_message};
use crate::booking::model::{
    Appointment, AppointmentChanges, AppointmentFilter, AppointmentSource, AppointmentStatus,
    Caller, NewAppointment,
};
use crate::booking::ports::{
    AppointmentRepository, AuditEntry, CreateOutcome, IdempotencyRequest, LockedChange,
    RepoCreateError, RepoUpdateError, Visibility,
};
use crate::booking::reminders::{ReminderChange, ReminderOffset, plan_reminders, reminder_change};
use crate::booking::rules::{
    TransitionError, check_transition, end_is_after_start, may_use_source,
};

/// Why a booking failed.
#[derive(Debug, thiserror::Error)]
pub enum BookAppointmentError {
    /// The caller's role may not use this source (403).
    #[error("source not allowed")]
    SourceNotAllowed(AppointmentSource),
    /// The end is not after the start (422).
    #[error("end before start")]
    EndBeforeStart,
    /// Unknown doctor (422).
    #[error("unknown doctor")]
    UnknownDoctor,
    /// Unknown or deleted clinic (422).
    #[error("unknown clinic")]
    UnknownClinic,
    /// The doctor is booked in an overlapping slot (409).
    #[error("overlap")]
    Overlap,
    /// The idempotency key was used with another body (409).
    #[error("idempotency conflict")]
    IdempotencyConflict,
    /// Infrastructure failure.
    #[error(transparent)]
    Port(PortError),
}

/// Why a change failed.
#[derive(Debug, thiserror::Error)]
pub enum ChangeAppointmentError {
    /// Missing, deleted or someone else's (404).
    #[error("not found")]
    NotFound,
    /// Role or state machine refused the status change (403 / 409).
    #[error(transparent)]
    Transition(TransitionError),
    /// The merged record ends before it starts (422).
    #[error("end before start")]
    EndBeforeStart,
    /// Unknown doctor (422).
    #[error("unknown doctor")]
    UnknownDoctor,
    /// Unknown or deleted clinic (422).
    #[error("unknown clinic")]
    UnknownClinic,
    /// The new slot overlaps another booking (409).
    #[error("overlap")]
    Overlap,
    /// Infrastructure failure.
    #[error(transparent)]
    Port(PortError),
}

/// Why a delete failed.
#[derive(Debug, thiserror::Error)]
pub enum DeleteAppointmentError {
    /// Missing, deleted (soft) or someone else's (404).
    #[error("not found")]
    NotFound,
    /// Hard delete by a non-admin (403).
    #[error("hard delete not allowed")]
    HardDeleteNotAllowed,
    /// Infrastructure failure.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Outcome of a successful change, for metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Changed {
    /// The row after the change.
    pub appointment: Appointment,
    /// `(from, to)` when the status changed.
    pub transition: Option<(AppointmentStatus, AppointmentStatus)>,
}

/// Lifetime of an idempotency record.
pub const IDEMPOTENCY_TTL_HOURS: i64 = 24;

/// Told how many reminders a booking or a reschedule wrote (`medico24_reminders_scheduled_total`).
pub type ScheduledObserver = Arc<dyn Fn(u64) + Send + Sync>;

/// The appointment use cases over a repository and a clock.
pub struct AppointmentService<R, K> {
    repository: R,
    clock: K,
    zone: Tz,
    events: std::sync::Arc<dyn AppointmentEvents>,
    offsets: Vec<ReminderOffset>,
    scheduled: Option<ScheduledObserver>,
}

/// How many reminder rows a change writes.
fn written(change: &ReminderChange) -> u64 {
    match change {
        ReminderChange::Replace(plan) => plan.slots.len() as u64,
        _ => 0,
    }
}

fn visibility(caller: &Caller) -> Visibility {
    if caller.is_admin() {
        Visibility::Any
    } else {
        Visibility::Owner(caller.id)
    }
}

/// The audit entry of an admin acting on someone else's appointment, else `None`.
fn admin_audit(
    caller: &Caller,
    stamp: &AuditStamp,
    row: &Appointment,
    action: &'static str,
    details: Option<Value>,
) -> Option<AuditEntry> {
    (caller.is_admin() && row.patient_id != caller.id).then(|| AuditEntry {
        stamp: stamp.clone(),
        action,
        details,
    })
}

impl<R: AppointmentRepository, K: Clock> AppointmentService<R, K> {
    /// Wires the service; `zone` renders times in notification texts (`DEFAULT_TIMEZONE`).
    pub fn new(repository: R, clock: K, zone: Tz) -> Self {
        Self {
            repository,
            clock,
            zone,
            events: std::sync::Arc::new(NoAppointmentEvents),
            offsets: Vec::new(),
            scheduled: None,
        }
    }

    /// Announces every committed change (update, status change, delete) to `events`.
    #[must_use]
    pub fn with_events(mut self, events: std::sync::Arc<dyn AppointmentEvents>) -> Self {
        self.events = events;
        self
    }

    /// Tells the patient's stream about the change from `before` to `after`, if any.
    fn announce(&self, before: &Appointment, after: &Appointment) {
        if let Some(event) = AppointmentUpdated::between(before, after) {
            self.events.updated(event);
        }
    }

    /// Schedules reminders at `offsets` before each active appointment (`REMINDER_OFFSETS`);
    /// `observer` is told how many each booking or reschedule wrote.
    #[must_use]
    pub fn with_reminders(
        mut self,
        offsets: Vec<ReminderOffset>,
        observer: Option<ScheduledObserver>,
    ) -> Self {
        self.offsets = offsets;
        self.scheduled = observer;
        self
    }

    fn count_scheduled(&self, count: u64) {
        if count > 0
            && let Some(observer) = &self.scheduled
        {
            observer(count);
        }
    }

    /// Books an appointment for the caller.
    ///
    /// # Errors
    /// [`BookAppointmentError`].
    pub async fn book(
        &self,
        caller: &Caller,
        new: NewAppointment,
        idempotency: Option<IdempotencyRequest>,
    ) -> Result<(CreateOutcome, AppointmentSource), BookAppointmentError> {
        let source = new.source.unwrap_or(AppointmentSource::PatientApp);
        if !may_use_source(caller.role, source) {
            return Err(BookAppointmentError::SourceNotAllowed(source));
        }
        if !end_is_after_start(new.appointment_at, new.appointment_end_at) {
            return Err(BookAppointmentError::EndBeforeStart);
        }
        let now = self.clock.now();
        let appointment = Appointment {
            id: AppointmentId::new_v7(),
            patient_id: caller.id,
            doctor_id: new.doctor_id,
            clinic_id: new.clinic_id,
            doctor_name: new.doctor_name,
            clinic_name: new.clinic_name,
            appointment_at: new.appointment_at,
            appointment_end_at: new.appointment_end_at,
            reason: new.reason,
            contact_phone: new.contact_phone.into_string(),
            notes: new.notes,
            status: AppointmentStatus::Scheduled,
            source,
            created_at: now,
            updated_at: now,
            cancelled_at: None,
            deleted_at: None,
            doctor_clinic_id: None,
        };
        let event = created_message(&appointment, self.zone);
        let reminders = plan_reminders(&appointment, &self.offsets, self.zone, now);
        let outcome = self
            .repository
            .create(&appointment, &event, &reminders, idempotency.as_ref(), now)
            .await
            .map_err(|e| match e {
                RepoCreateError::Overlap => BookAppointmentError::Overlap,
                RepoCreateError::IdempotencyMismatch => BookAppointmentError::IdempotencyConflict,
                RepoCreateError::UnknownDoctor => BookAppointmentError::UnknownDoctor,
                RepoCreateError::UnknownClinic => BookAppointmentError::UnknownClinic,
                RepoCreateError::Port(port) => BookAppointmentError::Port(port),
            })?;
        if matches!(outcome, CreateOutcome::Created(_)) {
            self.count_scheduled(reminders.slots.len() as u64);
        }
        Ok((outcome, source))
    }

    /// The appointment when visible to the caller.
    ///
    /// # Errors
    /// [`PortError`].
    pub async fn get(
        &self,
        caller: &Caller,
        id: AppointmentId,
    ) -> Result<Option<Appointment>, PortError> {
        self.repository.find(id, visibility(caller)).await
    }

    /// Partial update: `None` fields unchanged; a new status follows the transition rules.
    ///
    /// # Errors
    /// [`ChangeAppointmentError`].
    pub async fn update(
        &self,
        caller: &Caller,
        id: AppointmentId,
        changes: AppointmentChanges,
        stamp: AuditStamp,
    ) -> Result<Changed, ChangeAppointmentError> {
        let now = self.clock.now();
        let caller_copy = *caller;
        let (offsets, zone) = (self.offsets.clone(), self.zone);
        let decide =
            move |current: Appointment| -> Result<Option<LockedChange>, ChangeAppointmentError> {
                let mut next = current.clone();
                if let Some(v) = changes.doctor_name {
                    next.doctor_name = v;
                }
                if let Some(v) = changes.clinic_name {
                    next.clinic_name = Some(v);
                }
                if let Some(v) = changes.doctor_id {
                    next.doctor_id = Some(v);
                }
                if let Some(v) = changes.clinic_id {
                    next.clinic_id = Some(v);
                }
                if let Some(v) = changes.appointment_at {
                    next.appointment_at = v;
                }
                if let Some(v) = changes.appointment_end_at {
                    next.appointment_end_at = Some(v);
                }
                if let Some(v) = changes.reason {
                    next.reason = v;
                }
                if let Some(v) = changes.contact_phone {
                    next.contact_phone = v.into_string();
                }
                if let Some(v) = changes.notes {
                    next.notes = Some(v);
                }
                if !end_is_after_start(next.appointment_at, next.appointment_end_at) {
                    return Err(ChangeAppointmentError::EndBeforeStart);
                }
                let mut event = None;
                if let Some(status) = changes.status.filter(|s| *s != current.status) {
                    check_transition(&caller_copy, current.status, status)
                        .map_err(ChangeAppointmentError::Transition)?;
                    next.status = status;
                    if status == AppointmentStatus::Cancelled {
                        next.cancelled_at = Some(now);
                    }
                    event = Some(status_changed_message(&next, current.status));
                }
                if next == current {
                    return Ok(None);
                }
                next.updated_at = now;
                let audit = admin_audit(
                    &caller_copy,
                    &stamp,
                    &current,
                    "appointment.update",
                    Some(changed_fields(&current, &next)),
                );
                let reminders = reminder_change(&current, &next, &offsets, zone, now);
                Ok(Some(LockedChange {
                    updated: next,
                    event,
                    audit,
                    reminders,
                }))
            };
        let (before, after) = self
            .repository
            .update_locked(id, visibility(caller), decide)
            .await
            .map_err(change_error)?;
        self.announce(&before, &after);
        self.count_scheduled(written(&reminder_change(
            &before,
            &after,
            &self.offsets,
            self.zone,
            now,
        )));
        Ok(changed(&before, after))
    }

    /// Status change: the same status again only applies `notes`; `Some("")` clears them.
    ///
    /// # Errors
    /// [`ChangeAppointmentError`].
    pub async fn change_status(
        &self,
        caller: &Caller,
        id: AppointmentId,
        status: AppointmentStatus,
        notes: Option<String>,
        stamp: AuditStamp,
    ) -> Result<Changed, ChangeAppointmentError> {
        let now = self.clock.now();
        let caller_copy = *caller;
        let (offsets, zone) = (self.offsets.clone(), self.zone);
        let decide =
            move |current: Appointment| -> Result<Option<LockedChange>, ChangeAppointmentError> {
                let mut next = current.clone();
                if let Some(notes) = notes {
                    next.notes = if notes.is_empty() { None } else { Some(notes) };
                }
                let mut event = None;
                if status != current.status {
                    check_transition(&caller_copy, current.status, status)
                        .map_err(ChangeAppointmentError::Transition)?;
                    next.status = status;
                    if status == AppointmentStatus::Cancelled {
                        next.cancelled_at = Some(now);
                    }
                    event = Some(status_changed_message(&next, current.status));
                }
                if next == current {
                    return Ok(None);
                }
                next.updated_at = now;
                let audit = admin_audit(
                    &caller_copy,
                    &stamp,
                    &current,
                    "appointment.status_change",
                    Some(json!({"from": current.status.as_str(), "to": next.status.as_str()})),
                );
                let reminders = reminder_change(&current, &next, &offsets, zone, now);
                Ok(Some(LockedChange {
                    updated: next,
                    event,
                    audit,
                    reminders,
                }))
            };
        let (before, after) = self
            .repository
            .update_locked(id, visibility(caller), decide)
            .await
            .map_err(change_error)?;
        self.announce(&before, &after);
        self.count_scheduled(written(&reminder_change(
            &before,
            &after,
            &self.offsets,
            self.zone,
            now,
        )));
        Ok(changed(&before, after))
    }

    /// Soft delete, or hard delete for admins.
    ///
    /// # Errors
    /// [`DeleteAppointmentError`].
    pub async fn delete(
        &self,
        caller: &Caller,
        id: AppointmentId,
        hard: bool,
        stamp: AuditStamp,
    ) -> Result<(), DeleteAppointmentError> {
        if hard {
            if !caller.is_admin() {
                // Visibility first: someone else's appointment stays a 404.
                return match self.repository.find(id, visibility(caller)).await? {
                    Some(_) => Err(DeleteAppointmentError::HardDeleteNotAllowed),
                    None => Err(DeleteAppointmentError::NotFound),
                };
            }
            let row = self.repository.find_any(id).await?;
            let Some(row) = row else {
                return Err(DeleteAppointmentError::NotFound);
            };
            let audit = admin_audit(caller, &stamp, &row, "appointment.hard_delete", None);
            return if self.repository.hard_delete(id, audit).await? {
                self.events.updated(AppointmentUpdated::deleted(&row));
                Ok(())
            } else {
                Err(DeleteAppointmentError::NotFound)
            };
        }
        let row = self
            .repository
            .find(id, visibility(caller))
            .await?
            .ok_or(DeleteAppointmentError::NotFound)?;
        let audit = admin_audit(caller, &stamp, &row, "appointment.delete", None);
        if self
            .repository
            .soft_delete(id, visibility(caller), audit, self.clock.now())
            .await?
        {
            self.events.updated(AppointmentUpdated::deleted(&row));
            Ok(())
        } else {
            Err(DeleteAppointmentError::NotFound)
        }
    }

    /// The caller's own appointments or, with `filter.patient_id` free, everyone's for
    /// the admin list; an inverted date range is an empty page.
    ///
    /// # Errors
    /// [`PortError`].
    pub async fn list(
        &self,
        filter: &AppointmentFilter,
        page: PageRequest,
    ) -> Result<Page<Appointment>, PortError> {
        if let (Some(from), Some(to)) = (filter.from, filter.to)
            && from > to
        {
            let total = 0;
            return Ok(Page {
                items: Vec::new(),
                total,
                request: page,
                next: None,
            });
        }
        self.repository.list(filter, page).await
    }
}

/// How long an idempotency record lives.
pub fn idempotency_ttl() -> Duration {
    Duration::hours(IDEMPOTENCY_TTL_HOURS)
}

fn changed(before: &Appointment, after: Appointment) -> Changed {
    let transition = (before.status != after.status).then_some((before.status, after.status));
    Changed {
        appointment: after,
        transition,
    }
}

fn change_error(error: RepoUpdateError<ChangeAppointmentError>) -> ChangeAppointmentError {
    match error {
        RepoUpdateError::NotFound => ChangeAppointmentError::NotFound,
        RepoUpdateError::Rejected(inner) => inner,
        RepoUpdateError::Overlap => ChangeAppointmentError::Overlap,
        RepoUpdateError::UnknownDoctor => ChangeAppointmentError::UnknownDoctor,
        RepoUpdateError::UnknownClinic => ChangeAppointmentError::UnknownClinic,
        RepoUpdateError::Port(port) => ChangeAppointmentError::Port(port),
    }
}

/// `{"field": new value}` for every field that changed (no personal text: names of fields and
/// statuses/times only).
fn changed_fields(before: &Appointment, after: &Appointment) -> Value {
    let mut changed = serde_json::Map::new();
    let mut mark = |name: &str, differs: bool| {
        if differs {
            changed.insert(name.to_owned(), Value::Bool(true));
        }
    };
    mark("doctor_name", before.doctor_name != after.doctor_name);
    mark("clinic_name", before.clinic_name != after.clinic_name);
    mark("doctor_id", before.doctor_id != after.doctor_id);
    mark("clinic_id", before.clinic_id != after.clinic_id);
    mark(
        "appointment_at",
        before.appointment_at != after.appointment_at,
    );
    mark(
        "appointment_end_at",
        before.appointment_end_at != after.appointment_end_at,
    );
    mark("reason", before.reason != after.reason);
    mark("contact_phone", before.contact_phone != after.contact_phone);
    mark("notes", before.notes != after.notes);
    let mut details = json!({ "changed": Value::Object(changed) });
    if before.status != after.status {
        details["status"] = json!({"from": before.status.as_str(), "to": after.status.as_str()});
    }
    details
}
