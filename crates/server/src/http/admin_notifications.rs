//! Admin notification console: the logs of every notification, broadcasts
//! (sent inside the request up to `BROADCAST_SYNC_LIMIT` users, queued for the worker beyond) and
//! their progress.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use medico24_identity::{AccessRead, RatePolicy};
use medico24_kernel::{BroadcastId, UserId};
use medico24_notifications::{
    Broadcast, BroadcastCommand, BroadcastStarted, BroadcastTarget, LogFilter, NotificationStatus,
    PushData,
};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::audit::{audit_read, audit_stamp};
use super::bodies::NotificationRecordResponse;
use super::error::{ApiError, ApiResult};
use super::input::{self, Query, Text, path_uuid, request_body, request_query};
use super::paging::PageParams;
use super::routing::RouteRegistry;
use super::wire;
use crate::auth::AdminUser;
use crate::openapi::schemas::{ErrorResponse, ValidationErrorResponse};
use crate::state::AppState;

/// A page of notifications for admins (`NotificationLogPage`).
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationLogPage {
    /// Notifications of this page, most recently sent first (unsent last).
    pub logs: Vec<NotificationRecordResponse>,
    /// Matching notifications over all pages.
    pub total: u64,
    /// Page number.
    pub page: u32,
    /// Page size.
    pub page_size: u32,
    /// `ceil(total / page_size)`.
    pub total_pages: u64,
}

request_body! {
    /// `POST /admin/notifications/broadcast` body.
    pub struct BroadcastRequest {
        /// Title.
        pub title: Text<1, 100>,
        /// Body.
        pub body: Text<1, 500>,
        /// Audience: active users, of one role unless `all`.
        pub target: BroadcastTarget,
        /// String pairs for the app (rules as for sends).
        pub data: Option<PushData>,
    }
}

/// A broadcast sent inside the request (`BroadcastResult`).
#[derive(Debug, Serialize, ToSchema)]
pub struct BroadcastResultResponse {
    /// Devices reached.
    pub success_count: i64,
    /// Devices not reached.
    pub failure_count: i64,
    /// Audience size.
    pub total_users: i64,
    /// `Broadcast to {n} users: {s} succeeded, {f} failed`.
    pub message: String,
    /// The broadcast.
    #[schema(format = Uuid)]
    pub broadcast_id: String,
}

/// A broadcast left to the worker (`BroadcastQueued`).
#[derive(Debug, Serialize, ToSchema)]
pub struct BroadcastQueuedResponse {
    /// The broadcast.
    #[schema(format = Uuid)]
    pub broadcast_id: String,
    /// Audience size.
    pub total_users: i64,
    /// `queued`.
    #[schema(value_type = crate::openapi::enums::BroadcastStatus)]
    pub status: String,
}

/// A broadcast and its progress (`Broadcast`).
#[derive(Debug, Serialize, ToSchema)]
pub struct BroadcastResponse {
    /// Id.
    #[schema(format = Uuid)]
    pub id: String,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Audience.
    #[schema(value_type = crate::openapi::enums::BroadcastTarget)]
    pub target: String,
    /// Data of every message.
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
    /// `queued`, `running`, `completed` or `failed`.
    #[schema(value_type = crate::openapi::enums::BroadcastStatus)]
    pub status: String,
    /// Audience size when created.
    pub total_users: i64,
    /// Users processed so far.
    pub processed_users: i64,
    /// Devices reached.
    pub success_count: i64,
    /// Devices not reached.
    pub failure_count: i64,
    /// Why the run aborted.
    pub failure_reason: Option<String>,
    /// The admin who created it (null once that user is deleted).
    #[schema(format = Uuid)]
    pub created_by: Option<String>,
    /// Creation.
    #[serde(serialize_with = "wire::datetime")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// First claim.
    #[serde(serialize_with = "wire::optional_datetime")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub started_at: Option<DateTime<Utc>>,
    /// End of the run.
    #[serde(serialize_with = "wire::optional_datetime")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub completed_at: Option<DateTime<Utc>>,
}

impl From<Broadcast> for BroadcastResponse {
    fn from(b: Broadcast) -> Self {
        Self {
            id: b.id.to_string(),
            title: b.title,
            body: b.body,
            target: b.target.as_str().to_owned(),
            data: b.data,
            status: b.status.as_str().to_owned(),
            total_users: b.total_users,
            processed_users: b.processed_users,
            success_count: b.success_count,
            failure_count: b.failure_count,
            failure_reason: b.failure_reason,
            created_by: b.created_by.map(|id| id.to_string()),
            created_at: b.created_at,
            started_at: b.started_at,
            completed_at: b.completed_at,
        }
    }
}

request_query! {
    /// Filters of the notification log.
    pub struct LogFilterParams {
        /// Recipient
        pub user_id: Option<uuid::Uuid>,
        /// Exact status
        pub status: Option<NotificationStatus>,
        /// Inclusive lower bound on `sent_at`
        pub from_date: Option<DateTime<Utc>>,
        /// Inclusive upper bound on `sent_at`
        pub to_date: Option<DateTime<Utc>>,
    }
}

/// Every notification, most recently sent first.
#[utoipa::path(get, path = "/api/v1/admin/notifications/logs", tag = "admin", operation_id = "admin_notification_logs",
    security(("bearerAuth" = [])),
    params(PageParams, LogFilterParams),
    responses(
        (status = 200, description = "A page of notifications", body = NotificationLogPage),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 422, description = "Invalid query", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn logs(
    admin: AdminUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let mut query = Query::new(&req);
    let page = query.read::<PageParams>();
    let filter = query.read::<LogFilterParams>();
    let (page, filter) = query.complete((page, filter))?;
    let page = page.request();
    let filter = LogFilter {
        user_id: filter.user_id.map(UserId::from_uuid),
        status: filter.status,
        from: filter.from_date,
        to: filter.to_date,
    };
    let result = state.notifications.logs(filter, page).await?;
    let read = AccessRead {
        action: "notification.list.read",
        resource_type: "notification",
        resource_id: None,
        subjects: result.items.iter().map(|n| n.user_id).collect(),
    };
    audit_read(&req, &state, admin.0.id, read).await?;
    Ok(HttpResponse::Ok().json(NotificationLogPage {
        total_pages: result.total_pages(),
        total: result.total,
        page: page.page(),
        page_size: page.page_size(),
        logs: result
            .items
            .into_iter()
            .map(NotificationRecordResponse::from)
            .collect(),
    }))
}

/// Sends a message to an audience: inside the request up to `BROADCAST_SYNC_LIMIT` users (200),
/// otherwise queued for the worker (202).
#[utoipa::path(post, path = "/api/v1/admin/notifications/broadcast", tag = "admin", operation_id = "admin_broadcast",
    security(("bearerAuth" = [])),
    request_body = BroadcastRequest,
    responses(
        (status = 200, description = "Sent inside the request", body = BroadcastResultResponse),
        (status = 202, description = "Queued for the worker", body = BroadcastQueuedResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 422, description = "Invalid body", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn broadcast(
    admin: AdminUser,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let request: BroadcastRequest = input::body(&req, &body)?;
    let command = BroadcastCommand {
        title: request.title.into(),
        body: request.body.into(),
        target: request.target,
        data: request.data.unwrap_or_default(),
        created_by: admin.0.id,
    };
    let stamp = audit_stamp(&req, admin.0.id);
    let started = state
        .notifications
        .broadcast(
            command,
            u64::from(state.settings.broadcast_sync_limit),
            &stamp,
        )
        .await?;
    Ok(match started {
        BroadcastStarted::Completed(done) => HttpResponse::Ok().json(BroadcastResultResponse {
            message: format!(
                "Broadcast to {} users: {} succeeded, {} failed",
                done.total_users, done.success_count, done.failure_count
            ),
            success_count: done.success_count,
            failure_count: done.failure_count,
            total_users: done.total_users,
            broadcast_id: done.id.to_string(),
        }),
        BroadcastStarted::Queued(queued) => {
            HttpResponse::Accepted().json(BroadcastQueuedResponse {
                broadcast_id: queued.id.to_string(),
                total_users: queued.total_users,
                status: queued.status.as_str().to_owned(),
            })
        }
    })
}

/// A broadcast and its progress.
#[utoipa::path(get, path = "/api/v1/admin/notifications/broadcasts/{broadcast_id}", tag = "admin", operation_id = "admin_get_broadcast",
    security(("bearerAuth" = [])),
    params(("broadcast_id" = uuid::Uuid, Path, description = "Broadcast id")),
    responses(
        (status = 200, description = "The broadcast", body = BroadcastResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "Unknown broadcast", body = ErrorResponse),
        (status = 422, description = "Invalid id", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn get_broadcast(
    _admin: AdminUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = BroadcastId::from_uuid(path_uuid(&req, "broadcast_id")?);
    let broadcast = state
        .notifications
        .find_broadcast(id)
        .await?
        .ok_or_else(|| ApiError::not_found("Broadcast not found"))?;
    Ok(HttpResponse::Ok().json(BroadcastResponse::from(broadcast)))
}

/// Registers the admin notification routes under `prefix`.
pub fn routes(routes: &mut RouteRegistry, prefix: &str) {
    let p = |path: &str| format!("{prefix}/admin/notifications{path}");
    routes
        .route(Method::GET, &p("/logs"), logs)
        .route(Method::POST, &p("/broadcast"), broadcast)
        .limited(Some(RatePolicy::AdminSend))
        .route(Method::GET, &p("/broadcasts/{broadcast_id}"), get_broadcast);
}

/// OpenAPI paths of this module.
#[derive(utoipa::OpenApi)]
#[openapi(paths(logs, broadcast, get_broadcast))]
pub struct Docs;
