//! Mapping of the kernel's errors: the infrastructure failure every port can report, and the
//! phone rule's message.

use medico24_kernel::{PhoneError, PortError};

use super::ApiError;

impl From<PortError> for ApiError {
    fn from(error: PortError) -> Self {
        match error {
            PortError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "backing service unavailable");
                ApiError::unavailable("Service temporarily unavailable")
            }
            PortError::Unexpected(cause) => ApiError::internal(cause),
        }
    }
}

/// The message of a broken phone rule for the member `field`.
pub fn phone_message(field: &str, error: PhoneError) -> String {
    match error {
        PhoneError::Length => format!("{field} must be between 7 and 20 characters"),
        PhoneError::Characters => {
            format!("{field} must contain only digits, spaces, +, -, ( and )")
        }
        PhoneError::TooFewDigits => format!("{field} must contain at least 7 digits"),
    }
}
