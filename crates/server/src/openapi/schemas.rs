//! The error answers' schemas (`Error`, `ValidationError`, `ConflictError`), which handlers name
//! in their annotations. This module imports no handler, so a handler's dependency on it is
//! one-directional; the document itself ([`super::document`]) is assembled in the parent.

use utoipa::ToSchema;

use super::examples;
use crate::http::error::{ErrorCode, ValidationIssue};

/// Body of every non-2xx answer. Every member is always sent; a 422 adds `details`
/// (schema `ValidationError`), and a 409 that refuses a status change adds `allowed_statuses`
/// (schema `ConflictError`).
#[derive(Debug, serde::Serialize, ToSchema)]
#[schema(as = Error, examples(examples::error_not_found))]
pub struct ErrorResponse {
    /// Stable code, one per HTTP status.
    pub error: ErrorCode,
    /// Safe, human-readable message.
    pub message: String,
    /// Same as `message` (read by the Flutter client).
    pub detail: String,
    /// Request path as received.
    pub path: String,
    /// Value of the response's `X-Request-ID`.
    pub request_id: String,
}

/// Body of a 422: the error envelope plus one entry per failure.
#[derive(Debug, serde::Serialize, ToSchema)]
#[schema(as = ValidationError, examples(examples::validation_error))]
pub struct ValidationErrorResponse {
    /// Always `validation_error`.
    #[schema(schema_with = validation_code)]
    pub error: ErrorCode,
    /// The first issue's message.
    pub message: String,
    /// Same as `message`.
    pub detail: String,
    /// Request path as received.
    pub path: String,
    /// Value of the response's `X-Request-ID`.
    pub request_id: String,
    /// One entry per failure, in discovery order.
    pub details: Vec<ValidationIssue>,
}

/// `error` of an answer whose status has exactly one code.
fn single_code(code: ErrorCode) -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let name = serde_json::to_value(code)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default();
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(format!("Always `{name}`.")))
        .enum_values(Some([name]))
        .build()
}

fn validation_code() -> utoipa::openapi::schema::Object {
    single_code(ErrorCode::ValidationError)
}

fn conflict_code() -> utoipa::openapi::schema::Object {
    single_code(ErrorCode::Conflict)
}

/// Body of a 409 on the operations that change an appointment's status: the error envelope,
/// plus `allowed_statuses` when the change is refused because the transition is illegal.
#[derive(Debug, serde::Serialize, ToSchema)]
#[schema(as = ConflictError, examples(examples::conflict_transition))]
pub struct ConflictResponse {
    /// Always `conflict`.
    #[schema(schema_with = conflict_code)]
    pub error: ErrorCode,
    /// Safe, human-readable message.
    pub message: String,
    /// Same as `message`.
    pub detail: String,
    /// Request path as received.
    pub path: String,
    /// Value of the response's `X-Request-ID`.
    pub request_id: String,
    /// The statuses the appointment may move to from its current one (empty for a terminal
    /// status); sent only when the 409 refuses a status change, absent on other conflicts
    /// (overlapping times).
    #[schema(value_type = Option<Vec<super::enums::AppointmentStatus>>, nullable = false)]
    pub allowed_statuses: Option<Vec<String>>,
}
