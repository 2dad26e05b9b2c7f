//! Mapping of the directory's errors: clinics, doctors and the associations between them.

use medico24_directory::{
    ChangeDoctorError, CreateAssociationError, CreateClinicError, CreateDoctorError,
    DeleteClinicError, EndAssociationError, RemoveAssociationError, UpdateAssociationError,
    UpdateClinicError,
};
use serde_json::json;

use super::ApiError;

/// Message of the 404 for an unknown clinic.
pub const CLINIC_NOT_FOUND: &str = "Clinic not found";
/// Message of the 404 for an unknown doctor.
pub const DOCTOR_NOT_FOUND: &str = "Doctor not found";
/// Message of the 404 for an unknown doctor–clinic association.
const ASSOCIATION_NOT_FOUND: &str = "Doctor-clinic association not found";

fn slug_taken(slug: &str) -> ApiError {
    ApiError::bad_request(format!("Clinic with slug '{slug}' already exists"))
}

impl From<CreateClinicError> for ApiError {
    fn from(error: CreateClinicError) -> Self {
        match error {
            CreateClinicError::SlugTaken(slug) => slug_taken(&slug),
            CreateClinicError::Port(port) => port.into(),
        }
    }
}

impl From<UpdateClinicError> for ApiError {
    fn from(error: UpdateClinicError) -> Self {
        match error {
            UpdateClinicError::NotFound => ApiError::not_found(CLINIC_NOT_FOUND),
            UpdateClinicError::SlugTaken(slug) => slug_taken(&slug),
            UpdateClinicError::Port(port) => port.into(),
        }
    }
}

impl From<DeleteClinicError> for ApiError {
    fn from(error: DeleteClinicError) -> Self {
        match error {
            DeleteClinicError::NotFound => ApiError::not_found(CLINIC_NOT_FOUND),
            DeleteClinicError::Port(port) => port.into(),
        }
    }
}

impl From<CreateAssociationError> for ApiError {
    fn from(error: CreateAssociationError) -> Self {
        match error {
            CreateAssociationError::ClinicIdMismatch => {
                ApiError::bad_request("Clinic ID in URL does not match request body")
            }
            CreateAssociationError::ClinicNotFound => ApiError::not_found(CLINIC_NOT_FOUND),
            CreateAssociationError::DoctorNotFound => ApiError::not_found(DOCTOR_NOT_FOUND),
            CreateAssociationError::AlreadyAssociated => {
                ApiError::bad_request("Doctor is already associated with this clinic")
            }
            CreateAssociationError::Port(port) => port.into(),
        }
    }
}

impl From<UpdateAssociationError> for ApiError {
    fn from(error: UpdateAssociationError) -> Self {
        match error {
            UpdateAssociationError::NotFound => ApiError::not_found(ASSOCIATION_NOT_FOUND),
            UpdateAssociationError::Port(port) => port.into(),
        }
    }
}

impl From<EndAssociationError> for ApiError {
    fn from(error: EndAssociationError) -> Self {
        match error {
            EndAssociationError::NotFound => ApiError::not_found(ASSOCIATION_NOT_FOUND),
            EndAssociationError::EndBeforeStart => ApiError::invalid(
                vec![json!("body"), json!("end_date")],
                "value_error",
                "end_date must not be before the association's start_date",
            ),
            EndAssociationError::Port(port) => port.into(),
        }
    }
}

impl From<RemoveAssociationError> for ApiError {
    fn from(error: RemoveAssociationError) -> Self {
        match error {
            RemoveAssociationError::NoneOpen => {
                ApiError::not_found("No active association found for this doctor and clinic")
            }
            RemoveAssociationError::Port(port) => port.into(),
        }
    }
}

impl From<CreateDoctorError> for ApiError {
    fn from(error: CreateDoctorError) -> Self {
        match error {
            CreateDoctorError::LicenseTaken(license) => ApiError::bad_request(format!(
                "Doctor with license number '{license}' already exists"
            )),
            CreateDoctorError::EmailTaken(email) => {
                ApiError::bad_request(format!("Doctor with email '{email}' already exists"))
            }
            CreateDoctorError::Port(port) => port.into(),
        }
    }
}

impl From<ChangeDoctorError> for ApiError {
    fn from(error: ChangeDoctorError) -> Self {
        match error {
            ChangeDoctorError::NotFound => ApiError::not_found(DOCTOR_NOT_FOUND),
            ChangeDoctorError::Port(port) => port.into(),
        }
    }
}
