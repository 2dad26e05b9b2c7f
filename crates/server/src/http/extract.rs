//! Extractor configuration: failures of actix's JSON, query and path extractors become the
//! 413/422 envelope instead of actix's plain-text defaults.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::web;
use serde_json::{Value, json};

use super::error::{ApiError, ValidationIssue};

/// JSON bodies: the size limit, the accepted content types (`application/json` or `+json`), and
/// 422 for malformed input.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .content_type_required(false)
        .content_type(|mime| {
            mime.type_() == mime::APPLICATION
                && (mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON))
        })
        .error_handler(|error, _req| json_error(&error).into())
}

fn json_error(error: &JsonPayloadError) -> ApiError {
    match error {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            ApiError::payload_too_large()
        }
        JsonPayloadError::ContentType => {
            ApiError::invalid(vec![json!("body")], "content_type", "Expected a JSON body")
        }
        JsonPayloadError::Deserialize(inner)
            if inner.is_eof() && inner.line() == 1 && inner.column() == 0 =>
        {
            ApiError::invalid(vec![json!("body")], "missing", "Field required")
        }
        JsonPayloadError::Deserialize(inner) if inner.is_syntax() || inner.is_eof() => {
            ApiError::invalid(vec![json!("body")], "json_invalid", "JSON decode error")
        }
        JsonPayloadError::Deserialize(inner) => {
            // Serde's message names the field and expected type but never echoes input values.
            ApiError::invalid(vec![json!("body")], "value_error", inner.to_string())
        }
        _ => ApiError::invalid(
            vec![json!("body")],
            "json_invalid",
            "Request body could not be read",
        ),
    }
}

/// Query strings that do not deserialize → 422 at `query`.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error, _req| {
        let message = match &error {
            QueryPayloadError::Deserialize(inner) => inner.to_string(),
            _ => "Invalid query string".to_owned(),
        };
        ApiError::validation(vec![ValidationIssue::new(
            vec![json!("query")],
            "value_error",
            message,
        )])
        .into()
    })
}

/// Path segments that do not deserialize → 422 at `path`.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|error, _req| {
        let message = match &error {
            PathError::Deserialize(inner) => inner.to_string(),
            _ => "Invalid path parameter".to_owned(),
        };
        ApiError::validation(vec![ValidationIssue::new(
            vec![Value::from("path")],
            "value_error",
            message,
        )])
        .into()
    })
}
