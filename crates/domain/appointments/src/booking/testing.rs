//! In-memory fake of [`AppointmentRepository`] that behaves like the PostgreSQL adapter:
//! same visibility, same idempotency outcomes, same overlap rule (per doctor, non-cancelled,
//! non-deleted rows, busy `[start, end or start + 30 min)`), same atomicity.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};
use medico24_kernel::paging::SeekKey;
use medico24_kernel::{AppointmentId, Page, PageRequest, PortError, UserId};

use crate::booking::messages::OutboxMessage;
use crate::booking::model::{Appointment, AppointmentFilter, AppointmentStatus};
use crate::booking::ports::{
    AppointmentRepository, AuditEntry, CreateOutcome, IdempotencyRequest, LockedChange,
    RepoCreateError, RepoUpdateError, Visibility,
};
use crate::booking::reminders::{ReminderChange, ReminderPlan};
use crate::booking::service::idempotency_ttl;

pub use crate::booking::events::RecordingAppointmentEvents;

#[derive(Debug, Default)]
struct State {
    rows: Vec<Appointment>,
    outbox: Vec<OutboxMessage>,
    /// Pending reminders: (appointment, offset in minutes, due at).
    reminders: Vec<(AppointmentId, u32, DateTime<Utc>)>,
    audit: Vec<AuditEntry>,
    /// (user, key, request hash, stored answer, expires at).
    keys: Vec<(UserId, String, String, Appointment, DateTime<Utc>)>,
    known_doctors: Vec<uuid::Uuid>,
    known_clinics: Vec<uuid::Uuid>,
}

/// The fake repository; clones share state.
#[derive(Debug, Clone, Default)]
pub struct InMemoryAppointments {
    state: Arc<Mutex<State>>,
}

fn busy(a: &Appointment) -> (DateTime<Utc>, DateTime<Utc>) {
    let end = a
        .appointment_end_at
        .filter(|e| *e > a.appointment_at)
        .unwrap_or(a.appointment_at + Duration::minutes(30));
    (a.appointment_at, end)
}

fn blocks(a: &Appointment) -> bool {
    a.doctor_id.is_some() && a.status != AppointmentStatus::Cancelled && a.deleted_at.is_none()
}

fn overlaps(rows: &[Appointment], candidate: &Appointment) -> bool {
    if !blocks(candidate) {
        return false;
    }
    let (start, end) = busy(candidate);
    rows.iter().any(|other| {
        other.id != candidate.id && blocks(other) && other.doctor_id == candidate.doctor_id && {
            let (s, e) = busy(other);
            s < end && start < e
        }
    })
}

fn visible(a: &Appointment, visibility: Visibility) -> bool {
    a.deleted_at.is_none()
        && match visibility {
            Visibility::Owner(user) => a.patient_id == user,
            Visibility::Any => true,
        }
}

impl InMemoryAppointments {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Declares a directory doctor that bookings may reference.
    pub fn add_doctor(&self, id: uuid::Uuid) {
        self.lock().known_doctors.push(id);
    }

    /// Declares a live clinic that bookings may reference.
    pub fn add_clinic(&self, id: uuid::Uuid) {
        self.lock().known_clinics.push(id);
    }

    /// Every stored row.
    pub fn rows(&self) -> Vec<Appointment> {
        self.lock().rows.clone()
    }

    /// Every outbox event written.
    pub fn outbox(&self) -> Vec<OutboxMessage> {
        self.lock().outbox.clone()
    }

    /// Pending reminders: (appointment, offset in minutes, due at), in write order.
    pub fn reminders(&self) -> Vec<(AppointmentId, u32, DateTime<Utc>)> {
        self.lock().reminders.clone()
    }

    /// Every audit entry written.
    pub fn audit(&self) -> Vec<AuditEntry> {
        self.lock().audit.clone()
    }

    fn references_ok(state: &State, a: &Appointment) -> Result<(), RepoCreateError> {
        if a.doctor_id
            .is_some_and(|d| !state.known_doctors.contains(&d))
        {
            return Err(RepoCreateError::UnknownDoctor);
        }
        if a.clinic_id
            .is_some_and(|c| !state.known_clinics.contains(&c))
        {
            return Err(RepoCreateError::UnknownClinic);
        }
        Ok(())
    }
}

impl AppointmentRepository for InMemoryAppointments {
    async fn create(
        &self,
        appointment: &Appointment,
        event: &OutboxMessage,
        reminders: &ReminderPlan,
        idempotency: Option<&IdempotencyRequest>,
        now: DateTime<Utc>,
    ) -> Result<CreateOutcome, RepoCreateError> {
        let mut state = self.lock();
        // An expired record no longer answers: the key is free again.
        state.keys.retain(|(.., expires)| *expires > now);
        if let Some(key) = idempotency
            && let Some((_, _, hash, stored, _)) = state
                .keys
                .iter()
                .find(|(user, k, ..)| *user == appointment.patient_id && *k == key.key)
        {
            return if *hash == key.request_hash {
                Ok(CreateOutcome::Replayed(stored.clone()))
            } else {
                Err(RepoCreateError::IdempotencyMismatch)
            };
        }
        Self::references_ok(&state, appointment)?;
        if overlaps(&state.rows, appointment) {
            return Err(RepoCreateError::Overlap);
        }
        state.rows.push(appointment.clone());
        state.outbox.push(event.clone());
        for slot in &reminders.slots {
            state
                .reminders
                .push((appointment.id, slot.offset.minutes(), slot.due_at));
        }
        if let Some(key) = idempotency {
            state.keys.push((
                appointment.patient_id,
                key.key.clone(),
                key.request_hash.clone(),
                appointment.clone(),
                now + idempotency_ttl(),
            ));
        }
        Ok(CreateOutcome::Created(appointment.clone()))
    }

    async fn find(
        &self,
        id: AppointmentId,
        visibility: Visibility,
    ) -> Result<Option<Appointment>, PortError> {
        Ok(self
            .lock()
            .rows
            .iter()
            .find(|a| a.id == id && visible(a, visibility))
            .cloned())
    }

    async fn find_any(&self, id: AppointmentId) -> Result<Option<Appointment>, PortError> {
        Ok(self.lock().rows.iter().find(|a| a.id == id).cloned())
    }

    async fn update_locked<F, E>(
        &self,
        id: AppointmentId,
        visibility: Visibility,
        decide: F,
    ) -> Result<(Appointment, Appointment), RepoUpdateError<E>>
    where
        F: FnOnce(Appointment) -> Result<Option<LockedChange>, E> + Send + 'static,
        E: Send + 'static,
    {
        let mut state = self.lock();
        let before = state
            .rows
            .iter()
            .find(|a| a.id == id && visible(a, visibility))
            .cloned()
            .ok_or(RepoUpdateError::NotFound)?;
        let Some(change) = decide(before.clone()).map_err(RepoUpdateError::Rejected)? else {
            return Ok((before.clone(), before));
        };
        match Self::references_ok(&state, &change.updated) {
            Err(RepoCreateError::UnknownDoctor) => return Err(RepoUpdateError::UnknownDoctor),
            Err(RepoCreateError::UnknownClinic) => return Err(RepoUpdateError::UnknownClinic),
            _ => {}
        }
        if overlaps(&state.rows, &change.updated) {
            return Err(RepoUpdateError::Overlap);
        }
        if let Some(row) = state.rows.iter_mut().find(|a| a.id == id) {
            *row = change.updated.clone();
        }
        if let Some(event) = change.event {
            state.outbox.push(event);
        }
        if let Some(audit) = change.audit {
            state.audit.push(audit);
        }
        match change.reminders {
            ReminderChange::Keep | ReminderChange::Rewrite(_) => {}
            ReminderChange::Drop => state.reminders.retain(|(a, ..)| *a != id),
            ReminderChange::Replace(plan) => {
                state.reminders.retain(|(a, ..)| *a != id);
                for slot in plan.slots {
                    state
                        .reminders
                        .push((id, slot.offset.minutes(), slot.due_at));
                }
            }
        }
        Ok((before, change.updated))
    }

    async fn soft_delete(
        &self,
        id: AppointmentId,
        visibility: Visibility,
        audit: Option<AuditEntry>,
        now: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        let mut state = self.lock();
        let Some(row) = state
            .rows
            .iter_mut()
            .find(|a| a.id == id && visible(a, visibility))
        else {
            return Ok(false);
        };
        row.deleted_at = Some(now);
        row.updated_at = now;
        state.reminders.retain(|(a, ..)| *a != id);
        if let Some(audit) = audit {
            state.audit.push(audit);
        }
        Ok(true)
    }

    async fn hard_delete(
        &self,
        id: AppointmentId,
        audit: Option<AuditEntry>,
    ) -> Result<bool, PortError> {
        let mut state = self.lock();
        let before = state.rows.len();
        state.rows.retain(|a| a.id != id);
        state.reminders.retain(|(a, ..)| *a != id);
        let deleted = state.rows.len() < before;
        if deleted && let Some(audit) = audit {
            state.audit.push(audit);
        }
        Ok(deleted)
    }

    async fn list(
        &self,
        filter: &AppointmentFilter,
        page: PageRequest,
    ) -> Result<Page<Appointment>, PortError> {
        let state = self.lock();
        let mut rows: Vec<Appointment> = state
            .rows
            .iter()
            .filter(|a| filter.include_deleted || a.deleted_at.is_none())
            .filter(|a| filter.patient_id.is_none_or(|p| a.patient_id == p))
            .filter(|a| filter.status.is_none_or(|s| a.status == s))
            .filter(|a| filter.doctor_id.is_none_or(|d| a.doctor_id == Some(d)))
            .filter(|a| filter.clinic_id.is_none_or(|c| a.clinic_id == Some(c)))
            .filter(|a| filter.from.is_none_or(|f| a.appointment_at >= f))
            .filter(|a| filter.to.is_none_or(|t| a.appointment_at <= t))
            .cloned()
            .collect();
        rows.sort_by_key(|a| std::cmp::Reverse((a.appointment_at, a.id)));
        Ok(Page::from_sorted(rows, page, |a| SeekKey {
            at: a.appointment_at,
            id: a.id.as_uuid(),
        }))
    }
}

// ---------------------------------------------------------------------------------------------
// Contract checks
// ---------------------------------------------------------------------------------------------

/// Behaviour every [`AppointmentRepository`] must show, checked against the fake here and
/// against the PostgreSQL adapter in its own test, so the two cannot drift. Each check panics
/// with a message naming the broken rule.
pub mod contract {
    use chrono::{DateTime, Duration, DurationRound, TimeDelta, Utc};
    use medico24_kernel::{AppointmentId, PageRequest, PortError, UserId};

    use crate::booking::messages::created_message;
    use crate::booking::model::{
        Appointment, AppointmentFilter, AppointmentSource, AppointmentStatus,
    };
    use crate::booking::ports::{
        AppointmentRepository, CreateOutcome, IdempotencyRequest, LockedChange, RepoCreateError,
        RepoUpdateError, Visibility,
    };
    use crate::booking::service::idempotency_ttl;

    /// What the store must already hold: two patients, a directory doctor nobody has booked
    /// yet, and a live clinic.
    #[derive(Debug, Clone, Copy)]
    pub struct Fixture {
        /// A patient.
        pub patient: UserId,
        /// Another patient.
        pub other_patient: UserId,
        /// A doctor without appointments.
        pub doctor: uuid::Uuid,
        /// A live clinic.
        pub clinic: uuid::Uuid,
    }

    fn ok<T>(result: Result<T, PortError>, what: &str) -> T {
        match result {
            Ok(value) => value,
            Err(error) => panic!("{what}: unexpected port error: {error}"),
        }
    }

    /// `a` with the time the store stamps on writes blanked out (a database trigger may own
    /// `updated_at`).
    fn without_updated_at(a: &Appointment) -> Appointment {
        Appointment {
            updated_at: DateTime::UNIX_EPOCH,
            ..a.clone()
        }
    }

    /// The checks, in one run. `now` is whole seconds; slots lie in the future of `now`.
    ///
    /// # Panics
    /// When the repository breaks a rule or returns a [`PortError`].
    pub async fn appointment_repository<R: AppointmentRepository>(
        repo: &R,
        fixture: Fixture,
        now: DateTime<Utc>,
    ) {
        let now = now.duration_trunc(TimeDelta::seconds(1)).unwrap_or(now);
        let day = now + Duration::days(30);
        let at = |minutes: i64| day + Duration::minutes(minutes);
        let slot = |patient: UserId, start: i64, end: Option<i64>| Appointment {
            id: AppointmentId::new_v7(),
            patient_id: patient,
            doctor_id: Some(fixture.doctor),
            clinic_id: Some(fixture.clinic),
            doctor_name: "Dr Contract".to_owned(),
            clinic_name: Some("Contract Clinic".to_owned()),
            appointment_at: at(start),
            appointment_end_at: end.map(at),
            reason: "checkup".to_owned(),
            contact_phone: "9876543210".to_owned(),
            notes: None,
            status: AppointmentStatus::Scheduled,
            source: AppointmentSource::PatientApp,
            created_at: now,
            updated_at: now,
            cancelled_at: None,
            deleted_at: None,
            doctor_clinic_id: None,
        };
        let create = |a: Appointment, key: Option<IdempotencyRequest>, when| async move {
            let event = created_message(&a, chrono_tz::Asia::Kolkata);
            let reminders =
                crate::booking::reminders::plan_reminders(&a, &[], chrono_tz::Asia::Kolkata, when);
            repo.create(&a, &event, &reminders, key.as_ref(), when)
                .await
        };
        let find = |id, visibility| async move { ok(repo.find(id, visibility).await, "find") };
        let owner = Visibility::Owner(fixture.patient);

        // A booking is stored as given and seen by its patient and by admins only.
        let first = slot(fixture.patient, 0, Some(30));
        match create(first.clone(), None, now).await {
            Ok(CreateOutcome::Created(stored)) => {
                assert_eq!(stored, first, "create answers the row")
            }
            other => panic!("create: {other:?}"),
        }
        assert_eq!(
            find(first.id, owner).await,
            Some(first.clone()),
            "the owner finds the row as created"
        );
        assert_eq!(
            find(first.id, Visibility::Any).await,
            Some(first.clone()),
            "an admin finds it"
        );
        assert_eq!(
            find(first.id, Visibility::Owner(fixture.other_patient)).await,
            None,
            "another patient does not"
        );
        assert_eq!(
            ok(repo.find_any(first.id).await, "find_any"),
            Some(first.clone())
        );

        // One doctor, overlapping slots: refused, nothing stored. Adjacent slots are fine.
        let overlapping = slot(fixture.other_patient, 15, Some(45));
        assert!(
            matches!(
                create(overlapping.clone(), None, now).await,
                Err(RepoCreateError::Overlap)
            ),
            "an overlapping slot of the same doctor is refused"
        );
        assert_eq!(
            ok(repo.find_any(overlapping.id).await, "find_any"),
            None,
            "nothing stored on refusal"
        );
        let adjacent = slot(fixture.other_patient, 30, Some(60));
        assert!(
            matches!(
                create(adjacent.clone(), None, now).await,
                Ok(CreateOutcome::Created(_))
            ),
            "a slot starting where another ends is free"
        );
        // Without an end a booking is busy for 30 minutes.
        let open_ended = slot(fixture.patient, 120, None);
        assert!(matches!(
            create(open_ended, None, now).await,
            Ok(CreateOutcome::Created(_))
        ));
        assert!(
            matches!(
                create(slot(fixture.other_patient, 140, None), None, now).await,
                Err(RepoCreateError::Overlap)
            ),
            "a booking without an end blocks 30 minutes"
        );
        assert!(matches!(
            create(slot(fixture.other_patient, 150, Some(160)), None, now).await,
            Ok(CreateOutcome::Created(_))
        ));

        // References: an unknown doctor or clinic is refused and nothing is stored.
        let mut unknown_doctor = slot(fixture.patient, 600, None);
        unknown_doctor.doctor_id = Some(uuid::Uuid::new_v4());
        assert!(matches!(
            create(unknown_doctor.clone(), None, now).await,
            Err(RepoCreateError::UnknownDoctor)
        ));
        let mut unknown_clinic = slot(fixture.patient, 600, None);
        unknown_clinic.clinic_id = Some(uuid::Uuid::new_v4());
        assert!(matches!(
            create(unknown_clinic.clone(), None, now).await,
            Err(RepoCreateError::UnknownClinic)
        ));
        for refused in [&unknown_doctor, &unknown_clinic] {
            assert_eq!(ok(repo.find_any(refused.id).await, "find_any"), None);
        }

        // Idempotency: the same key and body replays the stored row, another body is refused,
        // keys are per user, a refused create leaves the key free, and an expired key is free.
        let key = |k: &str, hash: &str| {
            Some(IdempotencyRequest {
                key: k.to_owned(),
                request_hash: hash.to_owned(),
            })
        };
        let keyed = slot(fixture.patient, 240, Some(270));
        assert!(matches!(
            create(keyed.clone(), key("k1", "h1"), now).await,
            Ok(CreateOutcome::Created(_))
        ));
        match create(slot(fixture.patient, 300, Some(330)), key("k1", "h1"), now).await {
            Ok(CreateOutcome::Replayed(stored)) => {
                assert_eq!(stored, keyed, "a replay answers the first row");
            }
            other => panic!("replay: {other:?}"),
        }
        assert!(
            matches!(
                create(slot(fixture.patient, 300, Some(330)), key("k1", "h2"), now).await,
                Err(RepoCreateError::IdempotencyMismatch)
            ),
            "a live key with another body is refused"
        );
        assert!(
            matches!(
                create(
                    slot(fixture.other_patient, 300, Some(330)),
                    key("k1", "h2"),
                    now
                )
                .await,
                Ok(CreateOutcome::Created(_))
            ),
            "keys are per user"
        );
        assert!(matches!(
            create(slot(fixture.patient, 240, Some(250)), key("k2", "h1"), now).await,
            Err(RepoCreateError::Overlap)
        ));
        assert!(
            matches!(
                create(slot(fixture.patient, 360, Some(390)), key("k2", "h2"), now).await,
                Ok(CreateOutcome::Created(_))
            ),
            "a refused create does not keep its key"
        );
        let later = now + idempotency_ttl() + Duration::seconds(1);
        assert!(
            matches!(
                create(
                    slot(fixture.patient, 420, Some(450)),
                    key("k1", "h3"),
                    later
                )
                .await,
                Ok(CreateOutcome::Created(_))
            ),
            "an expired key is free again"
        );

        // Changes under the lock.
        let other = Visibility::Owner(fixture.other_patient);
        let unchanged = repo
            .update_locked(first.id, owner, |_| Ok::<_, ()>(None))
            .await;
        assert!(
            matches!(&unchanged, Ok((before, after)) if before == &first && after == &first),
            "no change writes nothing: {unchanged:?}"
        );
        let rejected = repo
            .update_locked(first.id, owner, |_| Err::<Option<LockedChange>, _>("no"))
            .await;
        assert!(matches!(rejected, Err(RepoUpdateError::Rejected("no"))));
        let stranger = repo
            .update_locked(first.id, other, |_| Ok::<_, ()>(None))
            .await;
        assert!(
            matches!(stranger, Err(RepoUpdateError::NotFound)),
            "another patient's row is not found"
        );
        let change = |update: fn(&mut Appointment)| {
            move |before: Appointment| {
                let mut updated = before;
                update(&mut updated);
                Ok::<_, ()>(Some(LockedChange {
                    updated,
                    event: None,
                    audit: None,
                    reminders: crate::booking::reminders::ReminderChange::Keep,
                }))
            }
        };
        let into_overlap = repo
            .update_locked(
                first.id,
                owner,
                change(|a| {
                    a.appointment_at += Duration::minutes(30);
                    a.appointment_end_at = a.appointment_end_at.map(|e| e + Duration::minutes(30));
                }),
            )
            .await;
        assert!(
            matches!(into_overlap, Err(RepoUpdateError::Overlap)),
            "moving into a booked slot is refused: {into_overlap:?}"
        );
        let unknown = repo
            .update_locked(
                first.id,
                owner,
                change(|a| a.doctor_id = Some(uuid::Uuid::new_v4())),
            )
            .await;
        assert!(matches!(unknown, Err(RepoUpdateError::UnknownDoctor)));
        assert_eq!(
            find(first.id, owner).await,
            Some(first.clone()),
            "refused changes write nothing"
        );
        let noted = repo
            .update_locked(
                first.id,
                owner,
                change(|a| a.notes = Some("bring reports".to_owned())),
            )
            .await;
        let Ok((before, after)) = noted else {
            panic!("a change: {noted:?}");
        };
        assert_eq!(before, first);
        assert_eq!(after.notes.as_deref(), Some("bring reports"));
        assert_eq!(
            without_updated_at(&after),
            without_updated_at(&Appointment {
                notes: Some("bring reports".to_owned()),
                ..first.clone()
            }),
            "only the changed members change"
        );
        assert_eq!(
            find(first.id, owner).await,
            Some(after.clone()),
            "the answer is the stored row"
        );
        // A cancelled booking no longer blocks its slot.
        let cancelled = repo
            .update_locked(
                adjacent.id,
                Visibility::Any,
                change(|a| a.status = AppointmentStatus::Cancelled),
            )
            .await;
        assert!(cancelled.is_ok(), "{cancelled:?}");
        assert!(
            matches!(
                create(slot(fixture.patient, 35, Some(55)), None, now).await,
                Ok(CreateOutcome::Created(_))
            ),
            "a cancelled booking frees its slot"
        );

        // Soft delete: only visible rows, once; the row stays for admins and frees its slot.
        let deleted_at = now + Duration::minutes(5);
        assert!(!ok(
            repo.soft_delete(first.id, other, None, deleted_at).await,
            "soft_delete"
        ));
        assert!(ok(
            repo.soft_delete(first.id, owner, None, deleted_at).await,
            "soft_delete"
        ));
        assert!(
            !ok(
                repo.soft_delete(first.id, owner, None, deleted_at).await,
                "soft_delete"
            ),
            "only once"
        );
        assert_eq!(
            find(first.id, owner).await,
            None,
            "a deleted row is not found"
        );
        assert_eq!(
            find(first.id, Visibility::Any).await,
            None,
            "not even by admins"
        );
        let gone = ok(repo.find_any(first.id).await, "find_any");
        assert_eq!(gone.as_ref().and_then(|a| a.deleted_at), Some(deleted_at));
        assert!(
            matches!(
                create(slot(fixture.other_patient, 0, Some(15)), None, now).await,
                Ok(CreateOutcome::Created(_))
            ),
            "a deleted booking frees its slot"
        );
        let updated_deleted = repo
            .update_locked(first.id, Visibility::Any, |_| Ok::<_, ()>(None))
            .await;
        assert!(
            matches!(updated_deleted, Err(RepoUpdateError::NotFound)),
            "deleted rows are not changed"
        );

        // Listing: newest slot first, filters, totals, deleted rows only on request, and the
        // keyset walk equals the numbered pages.
        let mine = AppointmentFilter {
            patient_id: Some(fixture.patient),
            doctor_id: Some(fixture.doctor),
            ..AppointmentFilter::default()
        };
        let all = ok(repo.list(&mine, PageRequest::clamped(1, 100)).await, "list");
        assert!(
            all.items
                .iter()
                .all(|a| a.patient_id == fixture.patient && a.deleted_at.is_none())
        );
        assert_eq!(all.total, all.items.len() as u64);
        assert_eq!(all.total, 5, "the patient's live bookings");
        let mut order = all.items.clone();
        order.sort_by_key(|a| std::cmp::Reverse((a.appointment_at, a.id)));
        assert_eq!(all.items, order, "ordered by start, then id, newest first");
        let with_deleted = AppointmentFilter {
            include_deleted: true,
            ..mine.clone()
        };
        assert_eq!(
            ok(
                repo.list(&with_deleted, PageRequest::clamped(1, 100)).await,
                "list"
            )
            .total,
            6
        );
        let window = AppointmentFilter {
            from: Some(at(120)),
            to: Some(at(360)),
            ..mine.clone()
        };
        let windowed = ok(
            repo.list(&window, PageRequest::clamped(1, 100)).await,
            "list",
        );
        assert_eq!(
            windowed
                .items
                .iter()
                .map(|a| a.appointment_at)
                .collect::<Vec<_>>(),
            vec![at(360), at(240), at(120)],
            "from and to are inclusive"
        );
        let cancelled_only = AppointmentFilter {
            patient_id: None,
            status: Some(AppointmentStatus::Cancelled),
            ..mine.clone()
        };
        let cancelled_rows = ok(
            repo.list(&cancelled_only, PageRequest::clamped(1, 100))
                .await,
            "list",
        );
        assert_eq!(
            cancelled_rows
                .items
                .iter()
                .map(|a| a.id)
                .collect::<Vec<_>>(),
            vec![adjacent.id]
        );
        let mut walked = Vec::new();
        let mut request = PageRequest::clamped(1, 2);
        loop {
            let page = ok(repo.list(&mine, request).await, "list");
            assert_eq!(page.total, 5, "every page carries the total");
            walked.extend(page.items.iter().cloned());
            match page.next {
                Some(key) => request = PageRequest::after(request.page() + 1, 2, key),
                None => break,
            }
        }
        assert_eq!(
            walked, all.items,
            "the keyset walk returns the numbered order"
        );

        // Hard delete: soft-deleted or not, once.
        assert!(ok(repo.hard_delete(first.id, None).await, "hard_delete"));
        assert_eq!(ok(repo.find_any(first.id).await, "find_any"), None);
        assert!(
            !ok(repo.hard_delete(first.id, None).await, "hard_delete"),
            "only once"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::booking::model::{AppointmentChanges, AppointmentSource, Caller, NewAppointment};
    use crate::booking::rules::TransitionError;
    use crate::booking::service::{
        AppointmentService, BookAppointmentError, ChangeAppointmentError, DeleteAppointmentError,
    };
    use chrono::TimeZone;
    use medico24_kernel::{AuditStamp, FixedClock, Role};

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        match future.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(value) => value,
            std::task::Poll::Pending => panic!("the fake never waits"),
        }
    }

    struct World {
        repo: InMemoryAppointments,
        service: AppointmentService<InMemoryAppointments, FixedClock>,
        patient: Caller,
        admin: Caller,
        doctor: uuid::Uuid,
    }

    fn world() -> World {
        let repo = InMemoryAppointments::default();
        let doctor = uuid::Uuid::new_v4();
        repo.add_doctor(doctor);
        let clock = FixedClock::at(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        World {
            service: AppointmentService::new(repo.clone(), clock, chrono_tz::Asia::Kolkata),
            repo,
            patient: Caller {
                id: UserId::new_v7(),
                role: Role::Patient,
            },
            admin: Caller {
                id: UserId::new_v7(),
                role: Role::Admin,
            },
            doctor,
        }
    }

    fn new(doctor: Option<uuid::Uuid>, hour: u32) -> NewAppointment {
        NewAppointment {
            doctor_name: "Dr A".into(),
            clinic_name: None,
            appointment_at: Utc.with_ymd_and_hms(2030, 1, 1, hour, 0, 0).unwrap(),
            appointment_end_at: None,
            reason: "checkup".into(),
            contact_phone: medico24_kernel::Phone::parse("9876543210").unwrap(),
            notes: None,
            doctor_id: doctor,
            clinic_id: None,
            source: None,
        }
    }

    fn stamp(caller: &Caller) -> AuditStamp {
        AuditStamp::user(caller.id, "req-1", None)
    }

    fn booked(w: &World) -> Appointment {
        match block_on(w.service.book(&w.patient, new(Some(w.doctor), 10), None)) {
            Ok((CreateOutcome::Created(a), _)) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_booking_is_scheduled_owned_by_the_caller_and_announced() {
        let w = world();
        let a = booked(&w);
        assert_eq!(a.status, AppointmentStatus::Scheduled);
        assert_eq!(a.patient_id, w.patient.id);
        assert_eq!(a.source, AppointmentSource::PatientApp);
        let outbox = w.repo.outbox();
        assert_eq!(outbox.len(), 1);
        assert_eq!(
            outbox[0].body,
            "Appointment with Dr A on Jan 01, 03:30 PM IST"
        );
    }

    #[test]
    fn booking_rules_are_checked_before_anything_is_written() {
        let w = world();
        let mut privileged = new(None, 9);
        privileged.source = Some(AppointmentSource::DoctorApp);
        assert!(matches!(
            block_on(w.service.book(&w.patient, privileged, None)),
            Err(BookAppointmentError::SourceNotAllowed(_))
        ));
        let mut backwards = new(None, 9);
        backwards.appointment_end_at = Some(backwards.appointment_at);
        assert!(matches!(
            block_on(w.service.book(&w.patient, backwards, None)),
            Err(BookAppointmentError::EndBeforeStart)
        ));
        let unknown = new(Some(uuid::Uuid::new_v4()), 9);
        assert!(matches!(
            block_on(w.service.book(&w.patient, unknown, None)),
            Err(BookAppointmentError::UnknownDoctor)
        ));
        assert!(w.repo.rows().is_empty() && w.repo.outbox().is_empty());
    }

    #[test]
    fn overlapping_slots_of_one_doctor_conflict_but_adjacent_ones_do_not() {
        let w = world();
        booked(&w);
        let mut overlapping = new(Some(w.doctor), 10);
        overlapping.appointment_at += Duration::minutes(15);
        assert!(matches!(
            block_on(w.service.book(&w.patient, overlapping, None)),
            Err(BookAppointmentError::Overlap)
        ));
        let mut adjacent = new(Some(w.doctor), 10);
        adjacent.appointment_at += Duration::minutes(30);
        assert!(block_on(w.service.book(&w.patient, adjacent, None)).is_ok());
    }

    #[test]
    fn an_idempotency_key_replays_the_same_body_and_refuses_another() {
        let w = world();
        let key = |hash: &str| {
            Some(IdempotencyRequest {
                key: "k".into(),
                request_hash: hash.into(),
            })
        };
        let first = block_on(w.service.book(&w.patient, new(None, 9), key("h1")))
            .unwrap()
            .0;
        let again = block_on(w.service.book(&w.patient, new(None, 9), key("h1")))
            .unwrap()
            .0;
        match (first, again) {
            (CreateOutcome::Created(a), CreateOutcome::Replayed(b)) => assert_eq!(a, b),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            block_on(w.service.book(&w.patient, new(None, 9), key("h2"))),
            Err(BookAppointmentError::IdempotencyConflict)
        ));
        assert_eq!(w.repo.rows().len(), 1);
        assert_eq!(w.repo.outbox().len(), 1);
    }

    #[test]
    fn updates_merge_validate_and_apply_the_state_machine() {
        let w = world();
        let a = booked(&w);
        let moved = AppointmentChanges {
            appointment_end_at: Some(a.appointment_at - Duration::minutes(1)),
            ..Default::default()
        };
        assert!(matches!(
            block_on(w.service.update(&w.patient, a.id, moved, stamp(&w.patient))),
            Err(ChangeAppointmentError::EndBeforeStart)
        ));
        let complete = AppointmentChanges {
            status: Some(AppointmentStatus::Completed),
            ..Default::default()
        };
        assert!(matches!(
            block_on(
                w.service
                    .update(&w.patient, a.id, complete, stamp(&w.patient))
            ),
            Err(ChangeAppointmentError::Transition(
                TransitionError::NotPermitted
            ))
        ));
        let same = AppointmentChanges {
            reason: Some(a.reason.clone()),
            ..Default::default()
        };
        let unchanged =
            block_on(w.service.update(&w.patient, a.id, same, stamp(&w.patient))).unwrap();
        assert_eq!(unchanged.appointment, a);
        assert_eq!(unchanged.transition, None);
        let cancel = AppointmentChanges {
            status: Some(AppointmentStatus::Cancelled),
            ..Default::default()
        };
        let cancelled = block_on(
            w.service
                .update(&w.patient, a.id, cancel, stamp(&w.patient)),
        )
        .unwrap();
        assert_eq!(
            cancelled.transition,
            Some((AppointmentStatus::Scheduled, AppointmentStatus::Cancelled))
        );
        assert!(cancelled.appointment.cancelled_at.is_some());
        assert_eq!(w.repo.outbox().len(), 2);
        assert!(
            w.repo.audit().is_empty(),
            "owners acting on their own rows are not audited"
        );
    }

    #[test]
    fn admins_acting_on_someone_elses_appointment_are_audited() {
        let w = world();
        let a = booked(&w);
        let changed = block_on(w.service.change_status(
            &w.admin,
            a.id,
            AppointmentStatus::Completed,
            None,
            stamp(&w.admin),
        ))
        .unwrap();
        assert_eq!(changed.appointment.status, AppointmentStatus::Completed);
        assert_eq!(w.repo.audit().len(), 1);
        assert_eq!(w.repo.audit()[0].action, "appointment.status_change");
    }

    #[test]
    fn strangers_get_not_found_and_only_admins_hard_delete() {
        let w = world();
        let a = booked(&w);
        let stranger = Caller {
            id: UserId::new_v7(),
            role: Role::Patient,
        };
        assert!(block_on(w.service.get(&stranger, a.id)).unwrap().is_none());
        assert!(matches!(
            block_on(w.service.delete(&stranger, a.id, false, stamp(&stranger))),
            Err(DeleteAppointmentError::NotFound)
        ));
        assert!(matches!(
            block_on(w.service.delete(&stranger, a.id, true, stamp(&stranger))),
            Err(DeleteAppointmentError::NotFound)
        ));
        assert!(matches!(
            block_on(w.service.delete(&w.patient, a.id, true, stamp(&w.patient))),
            Err(DeleteAppointmentError::HardDeleteNotAllowed)
        ));
        block_on(w.service.delete(&w.patient, a.id, false, stamp(&w.patient))).unwrap();
        assert!(matches!(
            block_on(w.service.delete(&w.patient, a.id, false, stamp(&w.patient))),
            Err(DeleteAppointmentError::NotFound)
        ));
        block_on(w.service.delete(&w.admin, a.id, true, stamp(&w.admin))).unwrap();
        assert!(w.repo.rows().is_empty());
    }

    #[test]
    fn the_fake_meets_the_appointment_repository_contract() {
        let repo = InMemoryAppointments::default();
        let fixture = super::contract::Fixture {
            patient: UserId::new_v7(),
            other_patient: UserId::new_v7(),
            doctor: uuid::Uuid::new_v4(),
            clinic: uuid::Uuid::new_v4(),
        };
        repo.add_doctor(fixture.doctor);
        repo.add_clinic(fixture.clinic);
        block_on(super::contract::appointment_repository(
            &repo,
            fixture,
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        ));
    }

    #[test]
    fn walking_by_key_returns_the_numbered_pages() {
        let w = world();
        for hour in [9, 9, 10, 11, 11] {
            block_on(w.service.book(&w.patient, new(None, hour), None)).unwrap();
        }
        let filter = AppointmentFilter::default();
        let numbered: Vec<Page<Appointment>> = (1..=3)
            .map(|n| block_on(w.service.list(&filter, PageRequest::new(n, 2).unwrap())).unwrap())
            .collect();
        let mut walked = vec![numbered[0].clone()];
        while let Some(key) = walked.last().and_then(|page| page.next) {
            let next = u32::try_from(walked.len() + 1).unwrap();
            walked
                .push(block_on(w.service.list(&filter, PageRequest::after(next, 2, key))).unwrap());
        }
        assert_eq!(walked.len(), 3);
        for (by_key, by_number) in walked.iter().zip(&numbered) {
            assert_eq!(by_key.items, by_number.items);
            assert_eq!(by_key.total, 5);
            assert_eq!(by_key.next, by_number.next);
        }
        let last = &numbered[2].items[0];
        assert_eq!(
            last.appointment_at.format("%H").to_string(),
            "09",
            "oldest last"
        );
    }
}
