//! Mapping of the live event stream refusals: the per-user cap (429), the process cap (503), an
//! unusable ticket (401).

use crate::events::{StreamRefused, TicketError, TicketRefused};

use super::ApiError;
use super::ErrorCode;

impl From<StreamRefused> for ApiError {
    fn from(error: StreamRefused) -> Self {
        match error {
            StreamRefused::PerUser => {
                ApiError::new(ErrorCode::RateLimited, "Too many open event streams")
            }
            StreamRefused::Global => ApiError::unavailable("Event streams at capacity"),
        }
    }
}

impl From<TicketRefused> for ApiError {
    fn from(error: TicketRefused) -> Self {
        match error {
            TicketRefused::Invalid => ApiError::unauthorized("Invalid or expired ticket"),
        }
    }
}

impl From<TicketError> for ApiError {
    fn from(error: TicketError) -> Self {
        match error {
            TicketError::Refused(refused) => refused.into(),
            TicketError::Port(port) => port.into(),
        }
    }
}
