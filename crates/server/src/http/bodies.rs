//! Response bodies that more than one handler module sends: a doctor–clinic association (clinic
//! and doctor routes) and a notification record (user and admin notification routes).

use chrono::{DateTime, Utc};
use medico24_directory::Association;
use medico24_notifications::Notification;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::wire;

/// A doctor–clinic association (schema `DoctorClinicResponse`).
#[derive(Debug, Serialize, ToSchema)]
pub struct DoctorClinicResponse {
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
    /// Days of the week.
    pub available_days: Option<Vec<String>>,
    /// Time slot objects.
    #[schema(value_type = Option<Vec<Object>>)]
    pub available_time_slots: Option<Vec<Value>>,
    /// Whether patients may book here.
    pub appointment_booking_enabled: bool,
    /// Association id.
    #[schema(format = Uuid)]
    pub id: String,
    /// Doctor id.
    #[schema(format = Uuid)]
    pub doctor_id: String,
    /// Clinic id.
    #[schema(format = Uuid)]
    pub clinic_id: String,
    /// Start.
    #[serde(serialize_with = "wire::datetime")]
    #[schema(value_type = String, format = DateTime)]
    pub start_date: DateTime<Utc>,
    /// End (null = current).
    #[serde(serialize_with = "wire::optional_datetime")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub end_date: Option<DateTime<Utc>>,
    /// Appointments booked here.
    pub total_appointments: i32,
    /// Appointments completed here.
    pub completed_appointments: i32,
    /// Rating at this clinic.
    pub rating_at_clinic: Option<f64>,
    /// Ratings at this clinic.
    pub rating_count_at_clinic: i32,
    /// Association status.
    #[schema(value_type = crate::openapi::enums::AssociationStatus)]
    pub status: String,
    /// Creation time.
    #[serde(serialize_with = "wire::datetime")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// Last update.
    #[serde(serialize_with = "wire::datetime")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

impl From<&Association> for DoctorClinicResponse {
    fn from(a: &Association) -> Self {
        Self {
            is_primary: a.is_primary,
            consultation_fee: a.consultation_fee,
            consultation_duration_minutes: a.consultation_duration_minutes,
            department: a.department.clone(),
            designation: a.designation.clone(),
            available_days: a.available_days.clone(),
            available_time_slots: a.available_time_slots.clone(),
            appointment_booking_enabled: a.appointment_booking_enabled,
            id: a.id.to_string(),
            doctor_id: a.doctor_id.to_string(),
            clinic_id: a.clinic_id.to_string(),
            start_date: a.start_date,
            end_date: a.end_date,
            total_appointments: a.total_appointments,
            completed_appointments: a.completed_appointments,
            rating_at_clinic: a.rating_at_clinic,
            rating_count_at_clinic: a.rating_count_at_clinic,
            status: a.status.as_str().to_owned(),
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

/// A notification (`NotificationRecord`).
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationRecordResponse {
    /// Id.
    #[schema(format = Uuid)]
    pub id: String,
    /// Recipient.
    #[schema(format = Uuid)]
    pub user_id: String,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Kind.
    #[schema(value_type = crate::openapi::enums::NotificationType)]
    pub notification_type: String,
    /// Priority.
    #[schema(value_type = crate::openapi::enums::NotificationPriority)]
    pub priority: String,
    /// Data sent with it.
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
    /// `pending`, `sent`, `delivered`, `partially_delivered`, `failed` or `read`.
    #[schema(value_type = crate::openapi::enums::NotificationStatus)]
    pub status: String,
    /// When its deliveries were created.
    #[serde(serialize_with = "wire::optional_datetime")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub sent_at: Option<DateTime<Utc>>,
    /// When at least one device accepted it.
    #[serde(serialize_with = "wire::optional_datetime")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub delivered_at: Option<DateTime<Utc>>,
    /// When it was read.
    #[serde(serialize_with = "wire::optional_datetime")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub read_at: Option<DateTime<Utc>>,
    /// Summary of failed deliveries.
    pub failure_reason: Option<String>,
    /// Retries performed across deliveries.
    pub retry_count: i64,
    /// Kept from the reference (3).
    pub max_retries: i64,
    /// Kept from the reference.
    #[serde(serialize_with = "wire::optional_datetime")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub scheduled_for: Option<DateTime<Utc>>,
    /// Kept from the reference.
    #[serde(serialize_with = "wire::optional_datetime")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<DateTime<Utc>>,
    /// `{"outbox_id"}` or `{"broadcast_id"}` when it came from there.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Creation.
    #[serde(serialize_with = "wire::datetime")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// Last update.
    #[serde(serialize_with = "wire::datetime")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

impl From<Notification> for NotificationRecordResponse {
    fn from(n: Notification) -> Self {
        Self {
            id: n.id.to_string(),
            user_id: n.user_id.to_string(),
            title: n.title,
            body: n.body,
            notification_type: n.notification_type.as_str().to_owned(),
            priority: n.priority.as_str().to_owned(),
            data: n.data,
            status: n.status.as_str().to_owned(),
            sent_at: n.sent_at,
            delivered_at: n.delivered_at,
            read_at: n.read_at,
            failure_reason: n.failure_reason,
            retry_count: i64::from(n.retry_count),
            max_retries: i64::from(n.max_retries),
            scheduled_for: n.scheduled_for,
            expires_at: n.expires_at,
            metadata: n.metadata,
            created_at: n.created_at,
            updated_at: n.updated_at,
        }
    }
}
