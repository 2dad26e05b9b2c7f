//! Input rules shared by more than one handler module: text without NUL characters, the
//! directory's paging window and geo query, and the `pharmacy_id` path parameter.

use actix_web::HttpRequest;
use medico24_directory::{GeoQuery, Window};
use medico24_kernel::PharmacyId;
use serde_json::json;

use super::error::{ApiError, ValidationIssue};
use super::input::{QueryReader, path_uuid, percent_decode};

/// The message of a NUL character in text input: PostgreSQL text and jsonb cannot hold one, so
/// it is refused up front (422) rather than failing in the database (500).
const NUL_MESSAGE: &str = "Input should not contain NUL characters";

/// 422 when the value of one of the free-text query parameters `keys` contains a NUL character
/// (other parameters are parsed strictly or ignored, so they never reach the database).
///
/// # Errors
/// 422 `value_error` at `["query", key]`.
pub fn reject_nul_in_query(req: &HttpRequest, keys: &[&str]) -> Result<(), ApiError> {
    let issues: Vec<ValidationIssue> = req
        .query_string()
        .split('&')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let (key, value) = (percent_decode(key), percent_decode(value));
            (keys.contains(&key.as_str()) && value.contains('\0')).then(|| {
                ValidationIssue::new(vec![json!("query"), json!(key)], "value_error", NUL_MESSAGE)
            })
        })
        .collect();
    if issues.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(issues))
    }
}

/// `skip` (≥ 0, default 0) and `limit` (1–100, default 20).
pub fn read_window(query: &mut QueryReader) -> Window {
    let skip = query.int("skip", 0, 0, i64::MAX);
    let limit = query.int("limit", 20, 1, 100);
    // Out-of-range values were reported; the conversions only keep the types valid.
    Window::new(
        u64::try_from(skip).unwrap_or(0),
        u32::try_from(limit).unwrap_or(20),
    )
}

/// `latitude`, `longitude` (required) and `radius_km` (0 < r ≤ 100, default 10).
pub fn read_geo(query: &mut QueryReader) -> Option<GeoQuery> {
    let latitude = query.required_number("latitude", -90.0, 90.0);
    let longitude = query.required_number("longitude", -180.0, 180.0);
    let radius_km = query.number_above("radius_km", 0.0, 100.0).unwrap_or(10.0);
    Some(GeoQuery {
        latitude: latitude?,
        longitude: longitude?,
        radius_km,
    })
}

/// The `pharmacy_id` path parameter (public and admin pharmacy routes).
///
/// # Errors
/// 422 `uuid_parsing` at `["path", "pharmacy_id"]`.
pub fn pharmacy_id(req: &HttpRequest) -> Result<PharmacyId, ApiError> {
    Ok(PharmacyId::from_uuid(path_uuid(req, "pharmacy_id")?))
}
