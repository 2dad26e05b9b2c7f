//! The push messages announcing appointment events, rendered when the change commits and
//! stored in the outbox.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

use crate::booking::model::{Appointment, AppointmentStatus};

/// A fully rendered notification for the outbox (`notification_outbox.payload`).
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    /// `appointment_created` or `appointment_status_changed`.
    pub event_type: &'static str,
    /// Recipient (the appointment's patient).
    pub user_id: medico24_kernel::UserId,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Notification type.
    pub notification_type: &'static str,
    /// Priority.
    pub priority: &'static str,
    /// String → string data for the client.
    pub data: Value,
}

impl OutboxMessage {
    /// The `payload` column.
    pub fn payload(&self) -> Value {
        json!({
            "title": self.title,
            "body": self.body,
            "notification_type": self.notification_type,
            "priority": self.priority,
            "data": self.data,
        })
    }
}

/// `Jan 01, 10:00 AM IST`: the start in `zone` with the zone abbreviation.
pub fn format_when(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone)
        .format("%b %d, %I:%M %p %Z")
        .to_string()
}

/// The message of a new booking.
pub fn created_message(appointment: &Appointment, zone: Tz) -> OutboxMessage {
    OutboxMessage {
        event_type: "appointment_created",
        user_id: appointment.patient_id,
        title: "Appointment Scheduled".to_owned(),
        body: format!(
            "Appointment with {} on {}",
            appointment.doctor_name,
            format_when(appointment.appointment_at, zone)
        ),
        notification_type: "appointment_confirmation",
        priority: "normal",
        data: json!({
            "type": "appointment_created",
            "appointment_id": appointment.id.to_string(),
            "screen": "/appointments",
        }),
    }
}

/// The message of a status change from `old` to the appointment's current status.
pub fn status_changed_message(appointment: &Appointment, old: AppointmentStatus) -> OutboxMessage {
    let doctor = &appointment.doctor_name;
    let new = appointment.status;
    let body = match new {
        AppointmentStatus::Confirmed => {
            format!("Your appointment with {doctor} has been confirmed")
        }
        AppointmentStatus::Cancelled => {
            format!("Your appointment with {doctor} has been cancelled")
        }
        AppointmentStatus::Rescheduled => {
            format!("Your appointment with {doctor} has been rescheduled")
        }
        AppointmentStatus::Completed => format!("Your appointment with {doctor} is completed"),
        other => format!("Appointment status updated to {other}"),
    };
    let (notification_type, priority) = match new {
        AppointmentStatus::Cancelled => ("appointment_cancelled", "high"),
        AppointmentStatus::Confirmed => ("appointment_confirmation", "normal"),
        _ => ("other", "normal"),
    };
    OutboxMessage {
        event_type: "appointment_status_changed",
        user_id: appointment.patient_id,
        title: "Appointment Update".to_owned(),
        body,
        notification_type,
        priority,
        data: json!({
            "type": "appointment_status_changed",
            "appointment_id": appointment.id.to_string(),
            "old_status": old.as_str(),
            "new_status": new.as_str(),
            "screen": format!("/appointments/{}", appointment.id),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn times_are_shown_in_the_configured_zone_with_its_abbreviation() {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 4, 30, 0).unwrap();
        assert_eq!(
            format_when(at, chrono_tz::Asia::Kolkata),
            "Jan 01, 10:00 AM IST"
        );
        assert_eq!(
            format_when(at, chrono_tz::America::New_York),
            "Dec 31, 11:30 PM EST"
        );
    }
}
