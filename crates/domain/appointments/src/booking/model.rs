//! The appointment aggregate and its enumerations.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use medico24_kernel::{AppointmentId, Phone, Role, UserId};
use serde::{Deserialize, Serialize};

/// Appointment status (`appointments_status_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentStatus {
    /// Booked, not yet confirmed.
    Scheduled,
    /// Confirmed.
    Confirmed,
    /// Moved to another time.
    Rescheduled,
    /// Cancelled (terminal).
    Cancelled,
    /// Took place (terminal).
    Completed,
    /// The patient did not come (terminal).
    NoShow,
}

impl AppointmentStatus {
    /// Every status, in the order the API documents them.
    pub const ALL: [AppointmentStatus; 6] = [
        AppointmentStatus::Scheduled,
        AppointmentStatus::Confirmed,
        AppointmentStatus::Rescheduled,
        AppointmentStatus::Cancelled,
        AppointmentStatus::Completed,
        AppointmentStatus::NoShow,
    ];

    /// The stored and wire form.
    pub const fn as_str(&self) -> &'static str {
        match self {
            AppointmentStatus::Scheduled => "scheduled",
            AppointmentStatus::Confirmed => "confirmed",
            AppointmentStatus::Rescheduled => "rescheduled",
            AppointmentStatus::Cancelled => "cancelled",
            AppointmentStatus::Completed => "completed",
            AppointmentStatus::NoShow => "no_show",
        }
    }

    /// Whether the appointment is still ahead of the patient (`scheduled`, `confirmed`,
    /// `rescheduled`): only these get reminders.
    pub const fn is_active(&self) -> bool {
        matches!(
            self,
            AppointmentStatus::Scheduled
                | AppointmentStatus::Confirmed
                | AppointmentStatus::Rescheduled
        )
    }

    /// Targets allowed from this status, in table order.
    pub const fn allowed_targets(&self) -> &'static [AppointmentStatus] {
        use AppointmentStatus::*;
        match self {
            Scheduled => &[Confirmed, Rescheduled, Cancelled, Completed, NoShow],
            Confirmed => &[Rescheduled, Cancelled, Completed, NoShow],
            Rescheduled => &[Confirmed, Cancelled, Completed, NoShow],
            Cancelled | Completed | NoShow => &[],
        }
    }
}

impl fmt::Display for AppointmentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not a known value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown value")]
pub struct UnknownValue;

impl FromStr for AppointmentStatus {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or(UnknownValue)
    }
}

/// Where an appointment was created (`appointments_source_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentSource {
    /// The patient app (default).
    PatientApp,
    /// A doctor's app.
    DoctorApp,
    /// The admin console.
    AdminPanel,
    /// Another API client.
    Api,
}

impl AppointmentSource {
    /// Every source, in the order the API documents them.
    pub const ALL: [AppointmentSource; 4] = [
        AppointmentSource::PatientApp,
        AppointmentSource::DoctorApp,
        AppointmentSource::AdminPanel,
        AppointmentSource::Api,
    ];

    /// The stored and wire form.
    pub const fn as_str(&self) -> &'static str {
        match self {
            AppointmentSource::PatientApp => "patient_app",
            AppointmentSource::DoctorApp => "doctor_app",
            AppointmentSource::AdminPanel => "admin_panel",
            AppointmentSource::Api => "api",
        }
    }
}

impl FromStr for AppointmentSource {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or(UnknownValue)
    }
}

/// An `appointments` row. Serialized as JSON in the idempotency record, so a replay answers with
/// exactly the stored appointment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Appointment {
    /// Primary key.
    pub id: AppointmentId,
    /// The owner's `users.id`.
    pub patient_id: UserId,
    /// Directory doctor, when booked against one.
    pub doctor_id: Option<uuid::Uuid>,
    /// Directory clinic.
    pub clinic_id: Option<uuid::Uuid>,
    /// Doctor name snapshot.
    pub doctor_name: String,
    /// Clinic name snapshot.
    pub clinic_name: Option<String>,
    /// Start.
    pub appointment_at: DateTime<Utc>,
    /// End (strictly after the start when set).
    pub appointment_end_at: Option<DateTime<Utc>>,
    /// Reason for the visit.
    pub reason: String,
    /// Contact phone (phone rule).
    pub contact_phone: String,
    /// Free notes.
    pub notes: Option<String>,
    /// Status.
    pub status: AppointmentStatus,
    /// Where it was created.
    pub source: AppointmentSource,
    /// Creation.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When it entered `cancelled`.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Soft deletion.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Legacy association reference (never written by the API).
    pub doctor_clinic_id: Option<uuid::Uuid>,
}

/// Who is acting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// The authenticated user.
    pub id: UserId,
    /// Their role (from the database row).
    pub role: Role,
}

impl Caller {
    /// Whether the caller is an admin.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// Fields of a new booking. Their shape (lengths, types) is the HTTP layer's; the phone rule is
/// carried by [`Phone`]; that the end follows the start is checked by the service.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAppointment {
    /// Doctor name snapshot.
    pub doctor_name: String,
    /// Clinic name snapshot.
    pub clinic_name: Option<String>,
    /// Start.
    pub appointment_at: DateTime<Utc>,
    /// End.
    pub appointment_end_at: Option<DateTime<Utc>>,
    /// Reason.
    pub reason: String,
    /// Contact phone.
    pub contact_phone: Phone,
    /// Notes.
    pub notes: Option<String>,
    /// Directory doctor.
    pub doctor_id: Option<uuid::Uuid>,
    /// Directory clinic.
    pub clinic_id: Option<uuid::Uuid>,
    /// Source (`None` → `patient_app`).
    pub source: Option<AppointmentSource>,
}

/// A `PUT` change: `None` leaves a field unchanged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppointmentChanges {
    /// Doctor name.
    pub doctor_name: Option<String>,
    /// Clinic name.
    pub clinic_name: Option<String>,
    /// Directory doctor.
    pub doctor_id: Option<uuid::Uuid>,
    /// Directory clinic.
    pub clinic_id: Option<uuid::Uuid>,
    /// Start.
    pub appointment_at: Option<DateTime<Utc>>,
    /// End.
    pub appointment_end_at: Option<DateTime<Utc>>,
    /// Reason.
    pub reason: Option<String>,
    /// Contact phone.
    pub contact_phone: Option<Phone>,
    /// Status (state machine applies).
    pub status: Option<AppointmentStatus>,
    /// Notes.
    pub notes: Option<String>,
}

/// Filters of appointment listings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppointmentFilter {
    /// Only this owner (always set for non-admin listings).
    pub patient_id: Option<UserId>,
    /// Exact status.
    pub status: Option<AppointmentStatus>,
    /// Exact doctor.
    pub doctor_id: Option<uuid::Uuid>,
    /// Exact clinic.
    pub clinic_id: Option<uuid::Uuid>,
    /// Inclusive lower bound on `appointment_at`.
    pub from: Option<DateTime<Utc>>,
    /// Inclusive upper bound on `appointment_at`.
    pub to: Option<DateTime<Utc>>,
    /// Include soft-deleted rows (admin list only).
    pub include_deleted: bool,
}
