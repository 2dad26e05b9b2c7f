//! The error envelope shared by every non-2xx answer: one `ApiError` type, the renderer that
//! completes it with the request path and id, and (in the submodules) every mapping of a domain
//! or port error to an `ApiError`, one submodule per domain.

mod appointments;
mod directory;
mod environment;
mod events;
mod identity;
mod kernel;
mod notifications;
mod pharmacy;

pub use appointments::APPOINTMENT_NOT_FOUND;
pub use directory::{CLINIC_NOT_FOUND, DOCTOR_NOT_FOUND};
pub use kernel::phone_message;

use std::borrow::Cow;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::Value;

/// Stable machine-readable error codes (`error` member of the envelope).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(
    description = "Stable machine-readable code of an error answer, one per HTTP status: \
                   `bad_request` 400, `unauthorized` 401, `forbidden` 403, `not_found` 404, \
                   `method_not_allowed` 405, `conflict` 409, `payload_too_large` 413, \
                   `validation_error` 422, `rate_limited` 429, `internal_error` 500, \
                   `bad_gateway` 502, `service_unavailable` 503 (other 4xx statuses answer \
                   `bad_request`)."
)]
pub enum ErrorCode {
    /// 400.
    BadRequest,
    /// 401.
    Unauthorized,
    /// 403.
    Forbidden,
    /// 404.
    NotFound,
    /// 405.
    MethodNotAllowed,
    /// 409.
    Conflict,
    /// 413.
    PayloadTooLarge,
    /// 422.
    ValidationError,
    /// 429.
    RateLimited,
    /// 500.
    InternalError,
    /// 502.
    BadGateway,
    /// 503.
    ServiceUnavailable,
}

impl ErrorCode {
    /// The HTTP status of this code.
    pub const fn status(self) -> StatusCode {
        match self {
            ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::ValidationError => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::BadGateway => StatusCode::BAD_GATEWAY,
            ErrorCode::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The code used for a status produced outside our handlers (e.g. by actix itself).
    pub fn for_status(status: StatusCode) -> Self {
        match status.as_u16() {
            400 => ErrorCode::BadRequest,
            401 => ErrorCode::Unauthorized,
            403 => ErrorCode::Forbidden,
            404 => ErrorCode::NotFound,
            405 => ErrorCode::MethodNotAllowed,
            409 => ErrorCode::Conflict,
            413 => ErrorCode::PayloadTooLarge,
            422 => ErrorCode::ValidationError,
            429 => ErrorCode::RateLimited,
            502 => ErrorCode::BadGateway,
            503 => ErrorCode::ServiceUnavailable,
            402..=499 => ErrorCode::BadRequest,
            _ => ErrorCode::InternalError,
        }
    }

    /// The safe default message for errors that carry none of their own.
    pub const fn default_message(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "Bad Request",
            ErrorCode::Unauthorized => "Not authenticated",
            ErrorCode::Forbidden => "Forbidden",
            ErrorCode::NotFound => "Not Found",
            ErrorCode::MethodNotAllowed => "Method Not Allowed",
            ErrorCode::Conflict => "Conflict",
            ErrorCode::PayloadTooLarge => "Request body is too large",
            ErrorCode::ValidationError => "Request validation failed",
            ErrorCode::RateLimited => "Rate limit exceeded",
            ErrorCode::InternalError => INTERNAL_ERROR_MESSAGE,
            ErrorCode::BadGateway => "Bad Gateway",
            ErrorCode::ServiceUnavailable => "Service temporarily unavailable",
        }
    }
}

/// What a 500 always says.
pub const INTERNAL_ERROR_MESSAGE: &str = "An unexpected error occurred";

/// One entry of a 422's `details`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ValidationIssue {
    /// Where: `body`/`query`/`path`/`header`, then field names and array indexes.
    #[schema(schema_with = loc_schema)]
    pub loc: Vec<Value>,
    /// Human-readable message.
    pub msg: String,
    /// Machine-readable kind (`missing`, `int_parsing`, `value_error`, …).
    #[serde(rename = "type")]
    pub kind: Cow<'static, str>,
}

/// `loc`: an array of field names (strings) and array indexes (integers).
fn loc_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
    ArrayBuilder::new()
        .items(
            OneOfBuilder::new()
                .item(ObjectBuilder::new().schema_type(Type::String))
                .item(ObjectBuilder::new().schema_type(Type::Integer)),
        )
        .build()
}

impl ValidationIssue {
    /// An issue at `loc` (e.g. `["body", "contact_phone"]`).
    pub fn new(
        loc: Vec<Value>,
        kind: impl Into<Cow<'static, str>>,
        msg: impl Into<String>,
    ) -> Self {
        Self {
            loc,
            msg: msg.into(),
            kind: kind.into(),
        }
    }
}

/// The members of an error body that the failing layer knows; the edge middleware adds `path`
/// and `request_id` (see [`ErrorBody::render`]).
#[derive(Debug, Clone)]
pub struct ErrorBody {
    /// Stable code.
    pub code: ErrorCode,
    /// Safe message (also sent as `detail`).
    pub message: Cow<'static, str>,
    /// 422 details.
    pub details: Vec<ValidationIssue>,
    /// One endpoint-specific extra member (`allowed_statuses`).
    pub extra: Option<(&'static str, Value)>,
    /// For 5xx: the cause, logged once by the edge middleware and never sent.
    pub internal_cause: Option<String>,
}

impl ErrorBody {
    /// The final JSON envelope.
    pub fn render(&self, path: &str, request_id: &str) -> Value {
        let mut body = serde_json::Map::new();
        body.insert(
            "error".into(),
            serde_json::to_value(self.code).unwrap_or(Value::Null),
        );
        body.insert("message".into(), Value::String(self.message.to_string()));
        body.insert("detail".into(), Value::String(self.message.to_string()));
        body.insert("path".into(), Value::String(path.to_owned()));
        body.insert("request_id".into(), Value::String(request_id.to_owned()));
        if self.code == ErrorCode::ValidationError {
            body.insert(
                "details".into(),
                serde_json::to_value(&self.details).unwrap_or(Value::Array(Vec::new())),
            );
        }
        if let Some((key, value)) = &self.extra {
            body.insert((*key).into(), value.clone());
        }
        Value::Object(body)
    }
}

/// An error answer. Built by handlers, extractors, middleware and `From` impls for domain errors.
/// Boxed so `Result<T, ApiError>` stays small on the happy path.
#[derive(Debug)]
pub struct ApiError(Box<ApiErrorInner>);

#[derive(Debug)]
struct ApiErrorInner {
    body: ErrorBody,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    /// An error with `code` and a safe `message`.
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self(Box::new(ApiErrorInner {
            body: ErrorBody {
                code,
                message: message.into(),
                details: Vec::new(),
                extra: None,
                internal_cause: None,
            },
            headers: Vec::new(),
        }))
    }

    /// 400.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    /// 401 with `WWW-Authenticate: Bearer`.
    pub fn unauthorized(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
            .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    /// 403.
    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    /// 405 with `Allow` listing `allowed`.
    pub fn method_not_allowed(allowed: &str) -> Self {
        let allow = HeaderValue::from_str(allowed).unwrap_or_else(|_| HeaderValue::from_static(""));
        Self::new(ErrorCode::MethodNotAllowed, "Method Not Allowed")
            .with_header(header::ALLOW, allow)
    }

    /// 409.
    pub fn conflict(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    /// 413.
    pub fn payload_too_large() -> Self {
        Self::new(ErrorCode::PayloadTooLarge, "Request body is too large")
    }

    /// 422 with the given issues (at least one).
    pub fn validation(details: Vec<ValidationIssue>) -> Self {
        let message = details
            .first()
            .map(|d| Cow::Owned(d.msg.clone()))
            .unwrap_or(Cow::Borrowed("Request validation failed"));
        let mut error = Self::new(ErrorCode::ValidationError, message);
        error.0.body.details = details;
        error
    }

    /// 422 with one issue.
    pub fn invalid(loc: Vec<Value>, kind: &'static str, msg: impl Into<String>) -> Self {
        Self::validation(vec![ValidationIssue::new(loc, kind, msg)])
    }

    /// 503.
    pub fn unavailable(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::ServiceUnavailable, message)
    }

    /// 500 with the safe message; `cause` is logged once with the request id, never sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut error = Self::new(ErrorCode::InternalError, INTERNAL_ERROR_MESSAGE);
        error.0.body.internal_cause = Some(format!("{cause:#}"));
        error
    }

    /// Adds a response header.
    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.0.headers.push((name, value));
        self
    }

    /// Adds the one endpoint-specific member the contract allows (`allowed_statuses`).
    #[must_use]
    pub fn with_extra(mut self, key: &'static str, value: Value) -> Self {
        self.0.body.extra = Some((key, value));
        self
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.0.body.code
    }

    /// The safe message.
    pub fn message(&self) -> &str {
        &self.0.body.message
    }

    /// The body as the failing layer built it (before the edge adds `path` and `request_id`).
    pub fn body(&self) -> &ErrorBody {
        &self.0.body
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.0.body.code, self.0.body.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.0.body.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status_code());
        for (name, value) in &self.0.headers {
            builder.insert_header((name.clone(), value.clone()));
        }
        // The body is rendered by the edge middleware, which knows the path and request id.
        let mut response = builder.finish();
        response.extensions_mut().insert(self.0.body.clone());
        response
    }
}

/// Result type of handlers.
pub type ApiResult<T> = Result<T, ApiError>;
