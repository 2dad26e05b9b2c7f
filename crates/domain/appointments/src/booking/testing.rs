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

#[derive(Debug, Default)]
struct State {
    rows: Vec<Appointment>,
    outbox: Vec<OutboxMessage>,
    audit: Vec<AuditEntry>,
    keys: Vec<(UserId, String, String, Appointment)>,
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
        idempotency: Option<&IdempotencyRequest>,
        _now: DateTime<Utc>,
    ) -> Result<CreateOutcome, RepoCreateError> {
        let mut state = self.lock();
        if let Some(key) = idempotency
            && let Some((_, _, hash, stored)) = state
                .keys
                .iter()
                .find(|(user, k, _, _)| *user == appointment.patient_id && *k == key.key)
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
        if let Some(key) = idempotency {
            state.keys.push((
                appointment.patient_id,
                key.key.clone(),
                key.request_hash.clone(),
                appointment.clone(),
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
            contact_phone: "9876543210".into(),
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
        let mut phone = new(None, 9);
        phone.contact_phone = "12x".into();
        assert!(matches!(
            block_on(w.service.book(&w.patient, phone, None)),
            Err(BookAppointmentError::InvalidPhone(_))
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
