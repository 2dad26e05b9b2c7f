//! Mapping of the environment domain's errors: provider failures and coordinates off the globe.

use medico24_environment::{ConditionsError, InvalidCoordinates};
use serde_json::json;

use super::{ApiError, ErrorCode};

/// Message of the 502/503 when the provider fails and nothing can be served.
pub const UNAVAILABLE: &str = "Environmental data currently unavailable";

/// The adapter has logged the failure (service and kind); the key never reaches a log.
impl From<ConditionsError> for ApiError {
    fn from(error: ConditionsError) -> Self {
        match error {
            ConditionsError::ProviderUnreachable(_) => ApiError::unavailable(UNAVAILABLE),
            ConditionsError::ProviderFailed(_) => ApiError::new(ErrorCode::BadGateway, UNAVAILABLE),
        }
    }
}

/// 422 `value_error` at `["query", "lat"]` or `["query", "lng"]`.
impl From<InvalidCoordinates> for ApiError {
    fn from(invalid: InvalidCoordinates) -> Self {
        let (field, message) = match invalid {
            InvalidCoordinates::Latitude => ("lat", "Input should be between -90 and 90"),
            InvalidCoordinates::Longitude => ("lng", "Input should be between -180 and 180"),
        };
        ApiError::invalid(vec![json!("query"), json!(field)], "value_error", message)
    }
}
