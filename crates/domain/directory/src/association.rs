//! Doctor–clinic associations: the record, the views joined with doctors
//! and clinics, and the create/update commands.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use medico24_kernel::{AssociationId, ClinicId, DoctorId};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::clinic::UnknownValue;

/// Association status (`doctor_clinics_status_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssociationStatus {
    /// Practising at the clinic (default).
    Active,
    /// On leave.
    OnLeave,
    /// Temporarily unavailable.
    TemporarilyUnavailable,
    /// No longer practising there (set when an association ends).
    Inactive,
}

impl AssociationStatus {
    /// Every status, in the order the API documents them.
    pub const ALL: [AssociationStatus; 4] = [
        AssociationStatus::Active,
        AssociationStatus::OnLeave,
        AssociationStatus::TemporarilyUnavailable,
        AssociationStatus::Inactive,
    ];

    /// The stored and wire names, in the order the API documents them.
    pub const NAMES: [&'static str; 4] =
        ["active", "on_leave", "temporarily_unavailable", "inactive"];

    /// The stored and wire form.
    pub const fn as_str(&self) -> &'static str {
        match self {
            AssociationStatus::Active => "active",
            AssociationStatus::OnLeave => "on_leave",
            AssociationStatus::TemporarilyUnavailable => "temporarily_unavailable",
            AssociationStatus::Inactive => "inactive",
        }
    }
}

impl fmt::Display for AssociationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AssociationStatus {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or(UnknownValue)
    }
}

/// A `doctor_clinics` row (the API's **DoctorClinic** representation).
#[derive(Debug, Clone, PartialEq)]
pub struct Association {
    /// The doctor's primary clinic.
    pub is_primary: bool,
    /// Fee at this clinic.
    pub consultation_fee: Option<f64>,
    /// Slot length at this clinic.
    pub consultation_duration_minutes: Option<i32>,
    /// Department.
    pub department: Option<String>,
    /// Designation.
    pub designation: Option<String>,
    /// Days of the week (free text).
    pub available_days: Option<Vec<String>>,
    /// Time slot objects.
    pub available_time_slots: Option<Vec<Value>>,
    /// Whether patients may book here.
    pub appointment_booking_enabled: bool,
    /// Primary key.
    pub id: AssociationId,
    /// The doctor.
    pub doctor_id: DoctorId,
    /// The clinic.
    pub clinic_id: ClinicId,
    /// Start.
    pub start_date: DateTime<Utc>,
    /// End (`None` = current).
    pub end_date: Option<DateTime<Utc>>,
    /// Appointments booked here.
    pub total_appointments: i32,
    /// Appointments completed here.
    pub completed_appointments: i32,
    /// Rating at this clinic.
    pub rating_at_clinic: Option<f64>,
    /// Ratings at this clinic.
    pub rating_count_at_clinic: i32,
    /// Status.
    pub status: AssociationStatus,
    /// Creation.
    pub created_at: DateTime<Utc>,
    /// Last update.
    pub updated_at: DateTime<Utc>,
}

impl Association {
    /// Whether the association is current and active (`status = 'active' AND end_date IS NULL`).
    pub fn is_current(&self) -> bool {
        self.status == AssociationStatus::Active && self.end_date.is_none()
    }
}

/// `available_days` as read from a `json` column: the strings of an array, `None` otherwise.
pub fn days_from_json(value: Option<Value>) -> Option<Vec<String>> {
    match value? {
        Value::Array(items) => Some(
            items
                .into_iter()
                .filter_map(|item| match item {
                    Value::String(s) => Some(s),
                    _ => None,
                })
                .collect(),
        ),
        _ => None,
    }
}

/// `available_time_slots` as read from a `json` column: the objects of an array, `None`
/// otherwise.
pub fn slots_from_json(value: Option<Value>) -> Option<Vec<Value>> {
    match value? {
        Value::Array(items) => Some(items.into_iter().filter(Value::is_object).collect()),
        _ => None,
    }
}

/// A doctor practising at a clinic (the API's **DoctorAtClinic** representation).
#[derive(Debug, Clone, PartialEq)]
pub struct DoctorAtClinic {
    /// The doctor.
    pub doctor_id: DoctorId,
    /// The doctor's `full_name`.
    pub doctor_name: String,
    /// Specialization.
    pub specialization: Option<String>,
    /// License number.
    pub license_number: Option<String>,
    /// Years of experience.
    pub experience_years: Option<i32>,
    /// The association's fee.
    pub consultation_fee: Option<f64>,
    /// The association's slot length.
    pub consultation_duration_minutes: Option<i32>,
    /// Department.
    pub department: Option<String>,
    /// Designation.
    pub designation: Option<String>,
    /// Days.
    pub available_days: Option<Vec<String>>,
    /// Time slots.
    pub available_time_slots: Option<Vec<Value>>,
    /// Rating at the clinic.
    pub rating_at_clinic: Option<f64>,
    /// Ratings at the clinic.
    pub rating_count_at_clinic: i32,
    /// Primary clinic of the doctor.
    pub is_primary: bool,
    /// Association status.
    pub status: AssociationStatus,
}

/// A clinic a doctor practises at (the API's **ClinicForDoctor** representation).
#[derive(Debug, Clone, PartialEq)]
pub struct ClinicForDoctor {
    /// The clinic.
    pub clinic_id: ClinicId,
    /// Its name.
    pub clinic_name: String,
    /// Its address.
    pub clinic_address: String,
    /// Its latitude.
    pub clinic_latitude: Option<f64>,
    /// Its longitude.
    pub clinic_longitude: Option<f64>,
    /// The association's fee.
    pub consultation_fee: Option<f64>,
    /// Department.
    pub department: Option<String>,
    /// Designation.
    pub designation: Option<String>,
    /// Days.
    pub available_days: Option<Vec<String>>,
    /// Primary clinic of the doctor.
    pub is_primary: bool,
    /// Association status.
    pub status: AssociationStatus,
}

/// An association with its clinic's name and place (the API's **DoctorClinicSummary**
/// representation).
#[derive(Debug, Clone, PartialEq)]
pub struct DoctorClinicSummary {
    /// The association.
    pub association: Association,
    /// The clinic's name.
    pub clinic_name: String,
    /// The clinic's address.
    pub clinic_address: String,
    /// The clinic's latitude.
    pub latitude: Option<f64>,
    /// The clinic's longitude.
    pub longitude: Option<f64>,
}

/// The AssociationIn fields of a create, validated at the edge.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAssociation {
    /// The doctor (body `doctor_id`).
    pub doctor_id: DoctorId,
    /// The clinic (path id).
    pub clinic_id: ClinicId,
    /// Body `clinic_id`, when given (must equal the path id).
    pub body_clinic_id: Option<ClinicId>,
    /// Default `false`.
    pub is_primary: bool,
    /// Fee (fee rule).
    pub consultation_fee: Option<f64>,
    /// 5–180.
    pub consultation_duration_minutes: Option<i32>,
    /// ≤ 200.
    pub department: Option<String>,
    /// ≤ 200.
    pub designation: Option<String>,
    /// ≤ 7 items of 1–20 characters.
    pub available_days: Option<Vec<String>>,
    /// ≤ 50 objects.
    pub available_time_slots: Option<Vec<Value>>,
    /// Default `true`.
    pub appointment_booking_enabled: bool,
}

impl NewAssociation {
    /// The `doctor_clinic.create` audit details.
    pub fn audit_details(&self) -> Value {
        json!({
            "doctor_id": self.doctor_id.to_string(),
            "clinic_id": self.clinic_id.to_string(),
            "is_primary": self.is_primary,
            "consultation_fee": self.consultation_fee,
            "consultation_duration_minutes": self.consultation_duration_minutes,
            "department": self.department,
            "designation": self.designation,
            "available_days": self.available_days,
            "available_time_slots": self.available_time_slots,
            "appointment_booking_enabled": self.appointment_booking_enabled,
        })
    }
}

/// A partial association update: `None` = unchanged.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AssociationPatch {
    /// Primary flag.
    pub is_primary: Option<bool>,
    /// Fee.
    pub consultation_fee: Option<f64>,
    /// Slot length.
    pub consultation_duration_minutes: Option<i32>,
    /// Department.
    pub department: Option<String>,
    /// Designation.
    pub designation: Option<String>,
    /// Days.
    pub available_days: Option<Vec<String>>,
    /// Time slots.
    pub available_time_slots: Option<Vec<Value>>,
    /// Booking flag.
    pub appointment_booking_enabled: Option<bool>,
    /// Status.
    pub status: Option<AssociationStatus>,
}

impl AssociationPatch {
    /// Whether no member was given.
    pub fn is_empty(&self) -> bool {
        self.audit_details()
            .as_object()
            .is_none_or(serde_json::Map::is_empty)
    }

    /// The `doctor_clinic.update` audit details: the members given.
    pub fn audit_details(&self) -> Value {
        let mut details = Map::new();
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(value) = value {
                details.insert(key.to_owned(), value);
            }
        };
        put("is_primary", self.is_primary.map(Value::from));
        put("consultation_fee", self.consultation_fee.map(Value::from));
        put(
            "consultation_duration_minutes",
            self.consultation_duration_minutes.map(Value::from),
        );
        put("department", self.department.clone().map(Value::from));
        put("designation", self.designation.clone().map(Value::from));
        put(
            "available_days",
            self.available_days.clone().map(Value::from),
        );
        put(
            "available_time_slots",
            self.available_time_slots.clone().map(Value::Array),
        );
        put(
            "appointment_booking_enabled",
            self.appointment_booking_enabled.map(Value::from),
        );
        put("status", self.status.map(|s| Value::from(s.as_str())));
        Value::Object(details)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_names() {
        for (status, name) in AssociationStatus::ALL.iter().zip(AssociationStatus::NAMES) {
            assert_eq!(name.parse::<AssociationStatus>(), Ok(*status));
        }
        assert!("ended".parse::<AssociationStatus>().is_err());
    }

    #[test]
    fn legacy_json_columns_are_read_leniently() {
        assert_eq!(
            days_from_json(Some(json!(["Monday", 3, "Friday"]))),
            Some(vec!["Monday".to_owned(), "Friday".to_owned()])
        );
        assert_eq!(days_from_json(Some(json!("Monday"))), None);
        assert_eq!(days_from_json(None), None);
        assert_eq!(
            slots_from_json(Some(json!([{"start": "10:00"}, "x"]))),
            Some(vec![json!({"start": "10:00"})])
        );
    }

    #[test]
    fn an_empty_patch_is_recognised() {
        assert!(AssociationPatch::default().is_empty());
        let patch = AssociationPatch {
            status: Some(AssociationStatus::OnLeave),
            ..AssociationPatch::default()
        };
        assert_eq!(patch.audit_details(), json!({"status": "on_leave"}));
    }
}
