//! Path parameters, parsed after authentication: UUIDs and bounded integers.

use actix_web::HttpRequest;
use serde_json::json;

use super::scalars::{parse_int, percent_decode};
use crate::http::error::ApiError;

/// A UUID path parameter, parsed after authentication.
///
/// # Errors
/// 422 `uuid_parsing` at `["path", name]`.
pub fn path_uuid(req: &HttpRequest, name: &str) -> Result<uuid::Uuid, ApiError> {
    let raw = req.match_info().get(name).unwrap_or_default();
    uuid::Uuid::parse_str(&percent_decode(raw)).map_err(|_| {
        ApiError::invalid(
            vec![json!("path"), json!(name)],
            "uuid_parsing",
            "Input should be a valid UUID",
        )
    })
}

/// An integer path parameter in `min..=max`.
///
/// # Errors
/// 422 `int_parsing`, `greater_than_equal` or `less_than_equal` at `["path", name]`.
pub fn path_int(req: &HttpRequest, name: &str, min: i64, max: i64) -> Result<i64, ApiError> {
    let loc = || vec![json!("path"), json!(name)];
    let raw = percent_decode(req.match_info().get(name).unwrap_or_default());
    let n = parse_int(&raw).ok_or_else(|| {
        ApiError::invalid(
            loc(),
            "int_parsing",
            "Input should be a valid integer, unable to parse string as an integer",
        )
    })?;
    if n < min {
        return Err(ApiError::invalid(
            loc(),
            "greater_than_equal",
            format!("Input should be greater than or equal to {min}"),
        ));
    }
    if n > max {
        return Err(ApiError::invalid(
            loc(),
            "less_than_equal",
            format!("Input should be less than or equal to {max}"),
        ));
    }
    Ok(n)
}
