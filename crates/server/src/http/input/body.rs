//! The gate of every JSON request body: [`json_object`] reads a body as one JSON object
//! (content type, JSON syntax, depth of nesting, NUL characters); typed bodies then read its
//! members (see `request`).

use actix_web::HttpRequest;
use actix_web::http::header;
use serde_json::{Map, Value, json};

use crate::http::error::{ApiError, ValidationIssue};

/// A JSON object body.
pub type Object = Map<String, Value>;

/// Whether a body may be absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// Empty body → 422 `missing`.
    Required,
    /// Empty body and `null` mean `{}`.
    Optional,
}

/// Parses a request body as a JSON object.
///
/// # Errors
/// 422 with `content_type`, `missing`, `json_invalid` or `dict_type`.
pub fn json_object(req: &HttpRequest, body: &[u8], kind: BodyKind) -> Result<Object, ApiError> {
    let body_loc = || vec![json!("body")];
    if let Some(content_type) = req.headers().get(header::CONTENT_TYPE) {
        let accepted = content_type
            .to_str()
            .ok()
            .and_then(|v| v.parse::<mime::Mime>().ok())
            .is_some_and(|m| {
                m.type_() == mime::APPLICATION
                    && (m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON))
            });
        if !accepted {
            return Err(ApiError::invalid(
                body_loc(),
                "content_type",
                "Expected a JSON body",
            ));
        }
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return match kind {
            BodyKind::Required => Err(ApiError::invalid(body_loc(), "missing", "Field required")),
            BodyKind::Optional => Ok(Object::new()),
        };
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::invalid(body_loc(), "json_invalid", "JSON decode error"))?;
    // Free-form members (contacts, opening hours, notification data) are stored as jsonb and
    // copied into audit details one or two levels deeper; a bound well below the JSON reader's
    // own nesting limit (128) keeps every stored document readable back.
    if nesting_depth(&value) > MAX_BODY_DEPTH {
        return Err(ApiError::invalid(
            body_loc(),
            "json_invalid",
            format!("JSON nested deeper than {MAX_BODY_DEPTH} levels"),
        ));
    }
    // PostgreSQL cannot store NUL characters: refuse them here, for every endpoint.
    let mut found = Vec::new();
    nul_locations(&value, &mut vec![json!("body")], &mut found);
    if !found.is_empty() {
        let issues = found
            .into_iter()
            .map(|loc| {
                ValidationIssue::new(loc, "value_error", "Text must not contain NUL characters")
            })
            .collect();
        return Err(ApiError::validation(issues));
    }
    match value {
        Value::Object(object) => Ok(object),
        Value::Null if kind == BodyKind::Optional => Ok(Object::new()),
        _ => Err(ApiError::invalid(
            body_loc(),
            "dict_type",
            "Input should be a valid dictionary or object to extract fields from",
        )),
    }
}

/// The deepest nesting of arrays and objects a request body may have; the body object itself
/// is level 1.
pub const MAX_BODY_DEPTH: usize = 32;

/// How many arrays and objects enclose the innermost value (a scalar is 0, `{}` is 1).
pub(super) fn nesting_depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(value, 0_usize)];
    // Runs on every request body: one stack, no allocation per container.
    while let Some((value, above)) = pending.pop() {
        let level = above + 1;
        match value {
            Value::Array(items) => pending.extend(items.iter().map(|child| (child, level))),
            Value::Object(map) => pending.extend(map.values().map(|child| (child, level))),
            _ => continue,
        }
        deepest = deepest.max(level);
    }
    deepest
}

/// Every place a string (or object key) contains a NUL character, in document order.
pub(super) fn nul_locations(value: &Value, at: &mut Vec<Value>, found: &mut Vec<Vec<Value>>) {
    match value {
        Value::String(text) if text.contains('\0') => found.push(at.clone()),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                at.push(json!(i));
                nul_locations(item, at, found);
                at.pop();
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                at.push(json!(key.replace('\0', "")));
                if key.contains('\0') {
                    found.push(at.clone());
                } else {
                    nul_locations(item, at, found);
                }
                at.pop();
            }
        }
        _ => {}
    }
}
