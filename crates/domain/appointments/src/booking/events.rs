//! The port through which committed appointment changes are announced to their patient's live
//! event stream, and a recording fake.

use chrono::{DateTime, Utc};
use medico24_kernel::{AppointmentId, UserId};

use crate::booking::model::{Appointment, AppointmentStatus};

/// A committed change of one appointment, told to its patient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppointmentUpdated {
    /// The appointment.
    pub id: AppointmentId,
    /// Whose stream hears about it.
    pub patient_id: UserId,
    /// Status after the change.
    pub status: AppointmentStatus,
    /// Start after the change.
    pub appointment_at: DateTime<Utc>,
    /// Names of the fields that changed (`status`, `appointment_at`, …; `deleted` for a soft or
    /// hard delete), never their values.
    pub changed: Vec<&'static str>,
}

impl AppointmentUpdated {
    /// The change from `before` to `after`, or `None` when nothing changed.
    pub fn between(before: &Appointment, after: &Appointment) -> Option<Self> {
        let changed: Vec<&'static str> = [
            ("status", before.status != after.status),
            ("doctor_name", before.doctor_name != after.doctor_name),
            ("clinic_name", before.clinic_name != after.clinic_name),
            ("doctor_id", before.doctor_id != after.doctor_id),
            ("clinic_id", before.clinic_id != after.clinic_id),
            (
                "appointment_at",
                before.appointment_at != after.appointment_at,
            ),
            (
                "appointment_end_at",
                before.appointment_end_at != after.appointment_end_at,
            ),
            ("reason", before.reason != after.reason),
            ("contact_phone", before.contact_phone != after.contact_phone),
            ("notes", before.notes != after.notes),
        ]
        .into_iter()
        .filter_map(|(name, differs)| differs.then_some(name))
        .collect();
        (!changed.is_empty()).then_some(Self {
            id: after.id,
            patient_id: after.patient_id,
            status: after.status,
            appointment_at: after.appointment_at,
            changed,
        })
    }

    /// The deletion of `row`.
    pub fn deleted(row: &Appointment) -> Self {
        Self {
            id: row.id,
            patient_id: row.patient_id,
            status: row.status,
            appointment_at: row.appointment_at,
            changed: vec!["deleted"],
        }
    }
}

/// Where committed appointment changes go (the server's live event streams).
///
/// Called after the change committed, never inside a transaction. It cannot fail the use case:
/// an implementation hands the event on and returns at once, and deals with its own failures
/// (the production one logs a warning without personal data and counts a metric).
pub trait AppointmentEvents: Send + Sync + 'static {
    /// Announces `event` to its patient.
    fn updated(&self, event: AppointmentUpdated);
}

/// Announces nothing (the default until the server wires its event streams in).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAppointmentEvents;

impl AppointmentEvents for NoAppointmentEvents {
    fn updated(&self, _event: AppointmentUpdated) {}
}

/// Records every announced change; clones share the record.
#[cfg(any(test, feature = "testing"))]
#[derive(Debug, Clone, Default)]
pub struct RecordingAppointmentEvents {
    events: std::sync::Arc<std::sync::Mutex<Vec<AppointmentUpdated>>>,
}

#[cfg(any(test, feature = "testing"))]
impl RecordingAppointmentEvents {
    /// Everything announced so far, in order.
    pub fn events(&self) -> Vec<AppointmentUpdated> {
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

#[cfg(any(test, feature = "testing"))]
impl AppointmentEvents for RecordingAppointmentEvents {
    fn updated(&self, event: AppointmentUpdated) {
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(event);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::TimeZone;
    use medico24_kernel::{AuditStamp, FixedClock, Role};

    use super::*;
    use crate::booking::model::{AppointmentChanges, Caller, NewAppointment};
    use crate::booking::ports::CreateOutcome;
    use crate::booking::service::AppointmentService;
    use crate::booking::testing::InMemoryAppointments;

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match future.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(value) => value,
            std::task::Poll::Pending => panic!("the fake never waits"),
        }
    }

    fn caller(role: Role) -> Caller {
        Caller {
            id: UserId::new_v7(),
            role,
        }
    }

    #[test]
    fn committed_changes_and_deletes_are_announced_with_field_names_only() {
        let events = RecordingAppointmentEvents::default();
        let clock = FixedClock::at(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        let service = AppointmentService::new(
            InMemoryAppointments::default(),
            clock,
            chrono_tz::Asia::Kolkata,
        )
        .with_events(Arc::new(events.clone()));
        let patient = caller(Role::Patient);
        let admin = caller(Role::Admin);
        let booking = NewAppointment {
            doctor_name: "Dr A".into(),
            clinic_name: None,
            appointment_at: Utc.with_ymd_and_hms(2030, 1, 1, 10, 0, 0).unwrap(),
            appointment_end_at: None,
            reason: "checkup".into(),
            contact_phone: medico24_kernel::Phone::parse("9876543210").unwrap(),
            notes: None,
            doctor_id: None,
            clinic_id: None,
            source: None,
        };
        let Ok((CreateOutcome::Created(booked), _)) =
            block_on(service.book(&patient, booking, None))
        else {
            panic!("booking failed");
        };
        assert!(events.events().is_empty(), "a booking is not an update");
        let stamp = AuditStamp::user(admin.id, "req-1", None);

        block_on(service.change_status(
            &admin,
            booked.id,
            AppointmentStatus::Confirmed,
            None,
            stamp.clone(),
        ))
        .unwrap();
        // The same status again with no notes changes nothing and announces nothing.
        block_on(service.change_status(
            &admin,
            booked.id,
            AppointmentStatus::Confirmed,
            None,
            stamp.clone(),
        ))
        .unwrap();
        let later = Utc.with_ymd_and_hms(2030, 1, 2, 10, 0, 0).unwrap();
        block_on(service.update(
            &patient,
            booked.id,
            AppointmentChanges {
                appointment_at: Some(later),
                notes: Some("bring reports".into()),
                ..AppointmentChanges::default()
            },
            stamp.clone(),
        ))
        .unwrap();
        block_on(service.delete(&patient, booked.id, false, stamp)).unwrap();

        let seen = events.events();
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert_eq!(seen[0].changed, vec!["status"]);
        assert_eq!(seen[0].status, AppointmentStatus::Confirmed);
        assert_eq!(seen[0].patient_id, patient.id);
        assert_eq!(seen[1].changed, vec!["appointment_at", "notes"]);
        assert_eq!(seen[1].appointment_at, later);
        assert_eq!(seen[2].changed, vec!["deleted"]);
        assert!(seen.iter().all(|e| e.id == booked.id));
    }
}
