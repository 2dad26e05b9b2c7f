//! Data-subject rights over HTTP: the export of everything stored about a user (streamed page by
//! page), account erasure requests and their cancellation.

use actix_web::http::Method;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use medico24_identity::{
    AccessRead, Actor, EXPORT_PAGE_ROWS, Erasure, ExportSection, PersonalDataStore, RatePolicy,
};
use medico24_kernel::{PortError, UserId};
use serde::Serialize;
use utoipa::ToSchema;

use super::audit::{audit_context, audit_read};
use super::error::{ApiError, ApiResult};
use super::input::path_uuid;
use super::routing::RouteRegistry;
use super::wire;
use crate::auth::{AdminUser, AuthUser};
use crate::openapi::schemas::{ErrorResponse, ValidationErrorResponse};
use crate::state::AppState;

/// The export document's format name; a new shape gets a new name.
const EXPORT_FORMAT: &str = "medico24.personal-data-export.v1";

/// A session as exported: times only.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedSession {
    /// When the session was created (sign-in).
    #[serde(serialize_with = "wire::datetime")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// When its refresh token was last used.
    #[serde(serialize_with = "wire::datetime")]
    #[schema(value_type = String, format = DateTime)]
    pub last_used_at: DateTime<Utc>,
}

/// Everything stored about a user, as one JSON document. Streamed: the lists are read page by
/// page, so a long history never sits in memory at once. List rows are the stored rows, field
/// for field.
// The document is written piece by piece (`export`, `ExportCursor`), never built as this struct,
// which describes it for the OpenAPI document; a test compares its members with a served export.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonalDataExport {
    /// `medico24.personal-data-export.v1`.
    pub format: String,
    /// When the export was made.
    #[schema(value_type = String, format = DateTime)]
    pub generated_at: String,
    /// The user.
    #[schema(format = Uuid)]
    pub user_id: String,
    /// The account row (`user`), its `patient`, `admin` and `pharmacy_staff` rows,
    /// `notification_preferences` and any `erasure` request.
    #[schema(value_type = Object)]
    pub profile: serde_json::Value,
    /// Live sign-in sessions (no token material).
    pub sessions: Vec<ExportedSession>,
    /// Every appointment of the user as patient, deleted ones included.
    #[schema(value_type = Vec<Object>)]
    pub appointments: Vec<serde_json::Value>,
    /// Every notification of the user, each with its `deliveries`.
    #[schema(value_type = Vec<Object>)]
    pub notifications: Vec<serde_json::Value>,
    /// Push tokens, masked to their last four characters (`token_hint`).
    #[schema(value_type = Vec<Object>)]
    pub push_tokens: Vec<serde_json::Value>,
    /// Messages scheduled or handled for the user (reminders, appointment updates).
    #[schema(value_type = Vec<Object>)]
    pub scheduled_messages: Vec<serde_json::Value>,
    /// Audit events by the user, or about the user's account, appointments and notifications
    /// (reads of the user's data by admins included).
    #[schema(value_type = Vec<Object>)]
    pub audit_events: Vec<serde_json::Value>,
}

/// An erasure request.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErasureResponse {
    /// The account.
    #[schema(format = Uuid)]
    pub user_id: String,
    /// `pending` until the erasure has run.
    pub status: String,
    /// When it was requested.
    #[serde(serialize_with = "wire::datetime")]
    #[schema(value_type = String, format = DateTime)]
    pub requested_at: DateTime<Utc>,
    /// When the account will be erased (`ERASURE_GRACE_HOURS` after the request).
    #[serde(serialize_with = "wire::datetime")]
    #[schema(value_type = String, format = DateTime)]
    pub due_at: DateTime<Utc>,
}

impl From<Erasure> for ErasureResponse {
    fn from(erasure: Erasure) -> Self {
        Self {
            user_id: erasure.user_id.to_string(),
            status: erasure.status.as_str().to_owned(),
            requested_at: erasure.requested_at,
            due_at: erasure.due_at,
        }
    }
}

/// Exports everything stored about the caller.
///
/// Rate limited by the `export` policy (`RATE_LIMIT_EXPORT_PER_MINUTE`, default 2 per client
/// address per minute). A failure after the answer has started cuts the connection, so an
/// incomplete document never parses as complete.
#[utoipa::path(get, path = "/api/v1/users/me/export", tag = "users", operation_id = "export_me",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Everything stored about the caller", body = PersonalDataExport),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Account deactivated", body = ErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn export_me(
    user: AuthUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    export(&req, state, user.0.id, user.0.id).await
}

/// Exports everything stored about a user (recorded in the audit log as `user.export.read`).
#[utoipa::path(get, path = "/api/v1/admin/users/{user_id}/export", tag = "admin", operation_id = "admin_export_user",
    security(("bearerAuth" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "Everything stored about the user", body = PersonalDataExport),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "Unknown user", body = ErrorResponse),
        (status = 422, description = "Malformed id", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn admin_export(
    admin: AdminUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let target = UserId::from_uuid(path_uuid(&req, "user_id")?);
    export(&req, state, admin.0.id, target).await
}

/// The streamed export of `user` for `reader`: the head (format, profile, sessions) is read
/// before the answer starts, so a missing user or an unreachable store is still a clean error,
/// and another reader's export is audited (`user.export.read`) before anything leaves.
async fn export(
    req: &HttpRequest,
    state: web::Data<AppState>,
    reader: UserId,
    user: UserId,
) -> ApiResult<HttpResponse> {
    let profile = state
        .privacy
        .store()
        .export_page(user, ExportSection::Profile, None, 1)
        .await?
        .rows
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::not_found("User not found"))?;
    let read = AccessRead {
        action: "user.export.read",
        resource_type: "user",
        resource_id: Some(user.to_string()),
        subjects: vec![user],
    };
    audit_read(req, &state, reader, read).await?;
    let sessions: Vec<ExportedSession> = state
        .privacy
        .sessions(user)
        .await?
        .into_iter()
        .map(|s| ExportedSession {
            created_at: DateTime::from_timestamp(s.created_at, 0).unwrap_or_default(),
            last_used_at: DateTime::from_timestamp(s.last_used_at, 0).unwrap_or_default(),
        })
        .collect();
    let head = serde_json::json!({
        "format": EXPORT_FORMAT,
        "generated_at": wire::format_datetime(&Utc::now()),
        "user_id": user.to_string(),
        "profile": profile,
        "sessions": sessions,
    });
    // The head without its closing brace: the list sections follow as further members.
    let mut head = serde_json::to_vec(&head).map_err(ApiError::internal)?;
    head.pop();
    let cursor = ExportCursor {
        state,
        user,
        head: Some(Bytes::from(head)),
        section: 0,
        after: None,
        opened: false,
        has_rows: false,
        finished: false,
    };
    let body = futures_util::stream::unfold(cursor, |mut cursor| async move {
        match cursor.next_chunk().await {
            Ok(Some(chunk)) => Some((Ok(chunk), cursor)),
            Ok(None) => None,
            Err(error) => {
                tracing::error!(user.id = %cursor.user, %error, "export cut short");
                cursor.finished = true;
                Some((Err(ExportCut), cursor))
            }
        }
    });
    let disposition = format!("attachment; filename=\"medico24-export-{user}.json\"");
    let mut response = HttpResponse::Ok();
    response
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response.insert_header((header::CONTENT_DISPOSITION, value));
    }
    Ok(response.streaming(body))
}

/// The error that ends an export stream mid-way (actix then drops the connection).
#[derive(Debug, thiserror::Error)]
#[error("the export could not be completed")]
struct ExportCut;

/// Where a streamed export stands.
struct ExportCursor {
    state: web::Data<AppState>,
    user: UserId,
    /// The head, until it has been sent.
    head: Option<Bytes>,
    /// Index into [`ExportSection::LISTS`]; past the end once every list is written.
    section: usize,
    /// Key of the last row written in the current section.
    after: Option<String>,
    /// Whether the current section's array is open.
    opened: bool,
    /// Whether the current section has rows written (the next one needs a comma).
    has_rows: bool,
    /// Whether the closing brace has been written (or the stream failed).
    finished: bool,
}

impl ExportCursor {
    /// The next piece of the document; `None` after the closing brace.
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, PortError> {
        if self.finished {
            return Ok(None);
        }
        if let Some(head) = self.head.take() {
            return Ok(Some(head));
        }
        let Some(&section) = ExportSection::LISTS.get(self.section) else {
            self.finished = true;
            return Ok(Some(Bytes::from_static(b"}")));
        };
        let mut chunk = Vec::new();
        if !self.opened {
            chunk.extend_from_slice(format!(",\"{}\":[", section.key()).as_bytes());
            self.opened = true;
        }
        let page = self
            .state
            .privacy
            .store()
            .export_page(self.user, section, self.after.as_deref(), EXPORT_PAGE_ROWS)
            .await?;
        for row in &page.rows {
            if self.has_rows {
                chunk.push(b',');
            }
            serde_json::to_writer(&mut chunk, row)
                .map_err(|error| PortError::Unexpected(error.to_string()))?;
            self.has_rows = true;
        }
        match page.next {
            Some(next) => self.after = Some(next),
            None => {
                chunk.push(b']');
                self.section += 1;
                self.after = None;
                self.opened = false;
                self.has_rows = false;
            }
        }
        Ok(Some(Bytes::from(chunk)))
    }
}

/// Asks for the caller's account to be erased after the grace period: the account, its push
/// tokens and sessions are deactivated at once. Asking again returns the same schedule.
#[utoipa::path(post, path = "/api/v1/users/me/erasure", tag = "users", operation_id = "request_my_erasure",
    security(("bearerAuth" = [])),
    responses(
        (status = 202, description = "Erasure scheduled; the account is deactivated", body = ErasureResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Account deactivated", body = ErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database or session store unavailable", body = ErrorResponse),
    ))]
pub async fn request_my_erasure(
    user: AuthUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let audit = audit_context(&req, Actor::User(user.0.id));
    let erasure = state.privacy.request_erasure(user.0.id, &audit).await?;
    tracing::info!(user.id = %user.0.id, "user requested the erasure of their account");
    Ok(HttpResponse::Accepted().json(ErasureResponse::from(erasure)))
}

/// Asks for a user's account to be erased after the grace period (deactivated at once).
#[utoipa::path(post, path = "/api/v1/admin/users/{user_id}/erasure", tag = "admin", operation_id = "admin_request_erasure",
    security(("bearerAuth" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "User id")),
    responses(
        (status = 202, description = "Erasure scheduled; the account is deactivated", body = ErasureResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "Unknown user", body = ErrorResponse),
        (status = 409, description = "Already erased or being erased", body = ErrorResponse),
        (status = 422, description = "Malformed id", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database or session store unavailable", body = ErrorResponse),
    ))]
pub async fn admin_request_erasure(
    admin: AdminUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let target = UserId::from_uuid(path_uuid(&req, "user_id")?);
    let audit = audit_context(&req, Actor::User(admin.0.id));
    let erasure = state.privacy.request_erasure(target, &audit).await?;
    Ok(HttpResponse::Accepted().json(ErasureResponse::from(erasure)))
}

/// Cancels a pending erasure. The account stays deactivated; reactivate it with
/// `PATCH /api/v1/admin/users/{user_id}`.
#[utoipa::path(delete, path = "/api/v1/admin/users/{user_id}/erasure", tag = "admin", operation_id = "admin_cancel_erasure",
    security(("bearerAuth" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "User id")),
    responses(
        (status = 204, description = "Cancelled"),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "Unknown user", body = ErrorResponse),
        (status = 409, description = "No pending erasure (none requested, or already running)", body = ErrorResponse),
        (status = 422, description = "Malformed id", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn admin_cancel_erasure(
    admin: AdminUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let target = UserId::from_uuid(path_uuid(&req, "user_id")?);
    let audit = audit_context(&req, Actor::User(admin.0.id));
    state.privacy.cancel_erasure(target, &audit).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers the privacy routes under `prefix`; both exports are limited by the `export` policy.
pub fn routes(routes: &mut RouteRegistry, prefix: &str) {
    routes
        .route(Method::GET, &format!("{prefix}/users/me/export"), export_me)
        .limited(Some(RatePolicy::Export))
        .route(
            Method::POST,
            &format!("{prefix}/users/me/erasure"),
            request_my_erasure,
        )
        .route(
            Method::GET,
            &format!("{prefix}/admin/users/{{user_id}}/export"),
            admin_export,
        )
        .limited(Some(RatePolicy::Export))
        .route(
            Method::POST,
            &format!("{prefix}/admin/users/{{user_id}}/erasure"),
            admin_request_erasure,
        )
        .route(
            Method::DELETE,
            &format!("{prefix}/admin/users/{{user_id}}/erasure"),
            admin_cancel_erasure,
        );
}

/// OpenAPI paths of this module.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    export_me,
    admin_export,
    request_my_erasure,
    admin_request_erasure,
    admin_cancel_erasure
))]
pub struct Docs;
