//! Mapping of the notification domain's errors.

use medico24_notifications::{NotificationError, SendError};
use serde_json::json;

use super::ApiError;

const NOT_FOUND: &str = "Notification not found";

impl From<NotificationError> for ApiError {
    fn from(error: NotificationError) -> Self {
        match error {
            NotificationError::NotFound => ApiError::not_found(NOT_FOUND),
            NotificationError::Port(port) => port.into(),
        }
    }
}

impl From<SendError> for ApiError {
    fn from(error: SendError) -> Self {
        match error {
            SendError::UserNotFound => ApiError::invalid(
                vec![json!("body"), json!("user_id")],
                "value_error",
                "User not found",
            ),
            SendError::Port(port) => port.into(),
        }
    }
}
