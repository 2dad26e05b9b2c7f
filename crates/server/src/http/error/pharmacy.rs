//! Mapping of the pharmacy domain's errors.

use medico24_pharmacy::{DeleteHoursError, PharmacyError};

use super::ApiError;

const NOT_FOUND: &str = "Pharmacy not found";
const HOURS_NOT_FOUND: &str = "Pharmacy hours not found";

impl From<PharmacyError> for ApiError {
    fn from(error: PharmacyError) -> Self {
        match error {
            PharmacyError::NotFound => ApiError::not_found(NOT_FOUND),
            PharmacyError::Port(port) => port.into(),
        }
    }
}

impl From<DeleteHoursError> for ApiError {
    fn from(error: DeleteHoursError) -> Self {
        match error {
            DeleteHoursError::PharmacyNotFound => ApiError::not_found(NOT_FOUND),
            DeleteHoursError::HoursNotFound => ApiError::not_found(HOURS_NOT_FOUND),
            DeleteHoursError::Port(port) => port.into(),
        }
    }
}
