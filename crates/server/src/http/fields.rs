//! Field readers and input rules shared by more than one handler module: the phone rule, text
//! without NUL characters, the directory's paging window, geo query and fee, and the
//! `pharmacy_id` path parameter.

use actix_web::HttpRequest;
use medico24_directory::{DecimalError, GeoQuery, Window, check_fee};
use medico24_kernel::{PharmacyId, check_phone};
use serde_json::{Value, json};

use super::error::{ApiError, ValidationIssue, phone_message};
use super::input::{
    BodyKind, BodyReader, Object, QueryReader, json_object, path_uuid, percent_decode,
};

/// Adds the phone rule's issue for `field`, if broken.
pub fn check_phone_field(reader: &mut BodyReader<'_>, field: &str, phone: &str) {
    if let Err(error) = check_phone(phone) {
        reader.issue(field, "value_error", phone_message(field, error));
    }
}

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

/// 422 when any string or key anywhere in a JSON body contains a NUL character.
///
/// # Errors
/// 422 `value_error` at the location of each such value.
pub fn reject_nul_in_body(object: &Object) -> Result<(), ApiError> {
    fn walk(value: &Value, loc: &mut Vec<Value>, issues: &mut Vec<ValidationIssue>) {
        match value {
            Value::String(text) if text.contains('\0') => {
                issues.push(ValidationIssue::new(
                    loc.clone(),
                    "value_error",
                    NUL_MESSAGE,
                ));
            }
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    loc.push(json!(index));
                    walk(item, loc, issues);
                    loc.pop();
                }
            }
            Value::Object(members) => {
                for (key, member) in members {
                    loc.push(json!(key));
                    if key.contains('\0') {
                        issues.push(ValidationIssue::new(
                            loc.clone(),
                            "value_error",
                            NUL_MESSAGE,
                        ));
                    } else {
                        walk(member, loc, issues);
                    }
                    loc.pop();
                }
            }
            _ => {}
        }
    }
    let mut issues = Vec::new();
    let mut loc = vec![json!("body")];
    for (key, member) in object {
        loc.push(json!(key));
        walk(member, &mut loc, &mut issues);
        loc.pop();
    }
    if issues.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(issues))
    }
}

/// A JSON object body (as [`json_object`] reads it) without NUL characters.
///
/// # Errors
/// As [`json_object`], and 422 for NUL characters.
pub fn directory_body(req: &HttpRequest, body: &[u8], kind: BodyKind) -> Result<Object, ApiError> {
    let object = json_object(req, body, kind)?;
    reject_nul_in_body(&object)?;
    Ok(object)
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

/// A fee member: a number, `0 ≤ fee ≤ 99 999 999.99`, at most 2 decimals.
pub fn read_fee(reader: &mut BodyReader<'_>, name: &str) -> Option<f64> {
    let fee = reader.optional_number(name, f64::NEG_INFINITY, f64::INFINITY)?;
    match check_fee(fee) {
        Ok(fee) => Some(fee),
        Err(error) => {
            let kind = match error {
                DecimalError::BelowMinimum(_) => "greater_than_equal",
                DecimalError::AboveMaximum(_) => "less_than_equal",
                DecimalError::TooManyDecimals(_) => "decimal_max_places",
            };
            reader.issue(name, kind, error.to_string());
            None
        }
    }
}

/// An optional integer member that fits the `integer` columns.
pub fn read_i32(reader: &mut BodyReader<'_>, name: &str, min: i32, max: i32) -> Option<i32> {
    reader
        .optional_int(name, i64::from(min), i64::from(max))
        .and_then(|n| i32::try_from(n).ok())
}

/// The `pharmacy_id` path parameter (public and admin pharmacy routes).
///
/// # Errors
/// 422 `uuid_parsing` at `["path", "pharmacy_id"]`.
pub fn pharmacy_id(req: &HttpRequest) -> Result<PharmacyId, ApiError> {
    Ok(PharmacyId::from_uuid(path_uuid(req, "pharmacy_id")?))
}
