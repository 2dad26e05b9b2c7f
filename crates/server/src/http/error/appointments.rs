//! Mapping of the booking errors: creating, changing and deleting appointments.

use medico24_appointments::booking::{
    AppointmentStatus, BookAppointmentError, ChangeAppointmentError, DeleteAppointmentError,
    TransitionError,
};
use serde_json::json;

use super::ApiError;

/// Message of the 404 for an unknown (or not visible) appointment.
pub const APPOINTMENT_NOT_FOUND: &str = "Appointment not found";

/// 422 `value_error` at `["body", name]`.
fn body_issue(name: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid(vec![json!("body"), json!(name)], "value_error", message)
}

fn end_before_start() -> ApiError {
    body_issue(
        "appointment_end_at",
        "appointment_end_at must be after appointment_at",
    )
}

fn overlap() -> ApiError {
    ApiError::conflict("The doctor already has an appointment that overlaps this time")
}

fn not_found() -> ApiError {
    ApiError::not_found(APPOINTMENT_NOT_FOUND)
}

impl From<BookAppointmentError> for ApiError {
    fn from(error: BookAppointmentError) -> Self {
        match error {
            BookAppointmentError::SourceNotAllowed(source) => ApiError::forbidden(format!(
                "Not allowed to create appointments with source '{}'",
                source.as_str()
            )),
            BookAppointmentError::EndBeforeStart => end_before_start(),
            BookAppointmentError::UnknownDoctor => body_issue("doctor_id", "Doctor not found"),
            BookAppointmentError::UnknownClinic => body_issue("clinic_id", "Clinic not found"),
            BookAppointmentError::Overlap => overlap(),
            BookAppointmentError::IdempotencyConflict => {
                ApiError::conflict("Idempotency-Key was already used with a different request body")
            }
            BookAppointmentError::Port(port) => port.into(),
        }
    }
}

impl From<ChangeAppointmentError> for ApiError {
    fn from(error: ChangeAppointmentError) -> Self {
        match error {
            ChangeAppointmentError::NotFound => not_found(),
            ChangeAppointmentError::Transition(TransitionError::NotPermitted) => {
                ApiError::forbidden("Patients may only confirm or cancel appointments")
            }
            ChangeAppointmentError::Transition(
                illegal @ TransitionError::Illegal { allowed, .. },
            ) => {
                let allowed: Vec<&str> = allowed.iter().map(AppointmentStatus::as_str).collect();
                ApiError::conflict(illegal.message()).with_extra("allowed_statuses", json!(allowed))
            }
            ChangeAppointmentError::EndBeforeStart => end_before_start(),
            ChangeAppointmentError::UnknownDoctor => body_issue("doctor_id", "Doctor not found"),
            ChangeAppointmentError::UnknownClinic => body_issue("clinic_id", "Clinic not found"),
            ChangeAppointmentError::Overlap => overlap(),
            ChangeAppointmentError::Port(port) => port.into(),
        }
    }
}

impl From<DeleteAppointmentError> for ApiError {
    fn from(error: DeleteAppointmentError) -> Self {
        match error {
            DeleteAppointmentError::NotFound => not_found(),
            DeleteAppointmentError::HardDeleteNotAllowed => {
                ApiError::forbidden("Only admins can hard-delete appointments")
            }
            DeleteAppointmentError::Port(port) => port.into(),
        }
    }
}
