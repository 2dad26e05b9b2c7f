//! Push tokens and notifications: token registration and deactivation, admin sends (bearer
//! admin or `X-Admin-Secret`), history, detail, read marks, deletion and statistics.

use medico24_identity::{AccessRead, RatePolicy};
use std::collections::BTreeMap;

use actix_web::http::Method;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use medico24_kernel::{AuditStamp, NotificationId, UserId};
use medico24_notifications::{
    Delivery, HistoryFilter, NotificationStatus, NotificationType, Platform, Priority, PushData,
    PushToken, SendAudit, SendNotification, SendResult, Viewer,
};
use serde::Serialize;
use utoipa::ToSchema;

use super::audit::{audit_read, audit_stamp};
use super::bodies::NotificationRecordResponse;
use super::error::ApiResult;
use super::input::{self, Ignored, IntOr, Query, Text, path_uuid, request_body, request_query};
use super::middleware::RequestContext;
use super::paging::{MAX_PAGE, numbered};
use super::routing::RouteRegistry;
use super::wire;
use crate::auth::{AdminSecret, AuthUser};
use crate::openapi::schemas::{ErrorResponse, ValidationErrorResponse};
use crate::state::AppState;

/// Message of the 403 on `POST /notifications/send` for non-admins.
const SEND_FORBIDDEN: &str = "Only admins can send notifications";
/// Message of the 403 on `GET /notifications/history/{user_id}` for non-admins.
const HISTORY_FORBIDDEN: &str = "Only admins can view other users' notifications";
// ---------------------------------------------------------------------------------------------
// Representations
// ---------------------------------------------------------------------------------------------

/// A registered device token (`PushToken`).
#[derive(Debug, Serialize, ToSchema)]
pub struct PushTokenResponse {
    /// Token row id.
    #[schema(format = Uuid)]
    pub id: String,
    /// Owner.
    #[schema(format = Uuid)]
    pub user_id: String,
    /// The FCM registration token.
    pub fcm_token: String,
    /// `android`, `ios` or `web`.
    #[schema(value_type = crate::openapi::enums::Platform)]
    pub platform: String,
    /// Whether pushes go to it.
    pub is_active: bool,
    /// Last registration.
    #[serde(serialize_with = "wire::optional_datetime")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<DateTime<Utc>>,
    /// Creation.
    #[serde(serialize_with = "wire::datetime")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

impl From<PushToken> for PushTokenResponse {
    fn from(token: PushToken) -> Self {
        Self {
            id: token.id.to_string(),
            user_id: token.user_id.to_string(),
            fcm_token: token.fcm_token,
            platform: token.platform.as_str().to_owned(),
            is_active: token.is_active,
            last_used_at: token.last_used_at,
            created_at: token.created_at,
        }
    }
}

/// One push to one device (`DeliveryRecord`).
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryRecordResponse {
    /// Id.
    #[schema(format = Uuid)]
    pub id: String,
    /// The notification.
    #[schema(format = Uuid)]
    pub notification_id: String,
    /// The device token row.
    #[schema(format = Uuid)]
    pub push_token_id: String,
    /// FCM message name on success.
    pub fcm_message_id: Option<String>,
    /// `pending`, `sent`, `delivered`, `failed` or `invalid_token`.
    #[schema(value_type = crate::openapi::enums::DeliveryStatus)]
    pub delivery_status: String,
    /// When FCM accepted it.
    #[serde(serialize_with = "wire::optional_datetime")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub delivered_at: Option<DateTime<Utc>>,
    /// FCM error code, or `<code>: <message>`.
    pub failure_reason: Option<String>,
    /// Creation.
    #[serde(serialize_with = "wire::datetime")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

impl From<Delivery> for DeliveryRecordResponse {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id.to_string(),
            notification_id: d.notification_id.to_string(),
            push_token_id: d.push_token_id.to_string(),
            fcm_message_id: d.fcm_message_id,
            delivery_status: d.delivery_status.as_str().to_owned(),
            delivered_at: d.delivered_at,
            failure_reason: d.failure_reason,
            created_at: d.created_at,
        }
    }
}

/// A page of notifications (`NotificationHistory`).
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationHistoryResponse {
    /// Notifications of this page, newest first.
    pub notifications: Vec<NotificationRecordResponse>,
    /// Matching notifications over all pages.
    pub total: u64,
    /// Page number.
    pub page: u32,
    /// Page size.
    pub page_size: u32,
}

/// A notification with its deliveries (`NotificationDetail`).
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationDetailResponse {
    /// The notification.
    pub notification: NotificationRecordResponse,
    /// Its deliveries, oldest first.
    pub deliveries: Vec<DeliveryRecordResponse>,
    /// Deliveries.
    pub total_devices: u64,
    /// Deliveries `sent` or `delivered`.
    pub successful_deliveries: u64,
    /// Deliveries `failed` or `invalid_token`.
    pub failed_deliveries: u64,
}

/// Outcome of a send (`SendResult`).
#[derive(Debug, Serialize, ToSchema)]
pub struct SendResultResponse {
    /// Devices reached.
    pub success_count: u64,
    /// Devices not reached.
    pub failure_count: u64,
    /// `Sent to {s} devices, {f} failed`.
    pub message: String,
}

impl From<SendResult> for SendResultResponse {
    fn from(result: SendResult) -> Self {
        Self {
            success_count: result.success_count,
            failure_count: result.failure_count,
            message: format!(
                "Sent to {} devices, {} failed",
                result.success_count, result.failure_count
            ),
        }
    }
}

/// Counts over a window (`NotificationStats`).
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationStatsResponse {
    /// Notifications in the window.
    pub total_count: u64,
    /// Count per status (only those that occur).
    pub by_status: BTreeMap<String, u64>,
    /// Count per type (only those that occur).
    pub by_type: BTreeMap<String, u64>,
    /// Count per priority (only those that occur).
    pub by_priority: BTreeMap<String, u64>,
    /// Window length.
    pub days: u32,
}

// ---------------------------------------------------------------------------------------------
// Request bodies
// ---------------------------------------------------------------------------------------------

request_body! {
    /// `POST /notifications/register-token` body.
    pub struct RegisterTokenRequest {
        /// The device's FCM registration token.
        pub fcm_token: Text<1, 4096>,
        /// Device platform.
        pub platform: Platform,
    }
}

request_body! {
    /// `DELETE /notifications/deactivate-token` body.
    pub struct DeactivateTokenRequest {
        /// The token to stop using.
        pub fcm_token: Text<1, 4096>,
        /// Accepted for older clients and ignored (any value).
        pub platform: Option<Ignored>,
    }
}

request_body! {
    /// `POST /notifications/send` and `/notifications/admin-send` body.
    pub struct SendNotificationRequest {
        /// Recipient (an existing user).
        pub user_id: uuid::Uuid,
        /// Title.
        pub title: Text<1, 100>,
        /// Body.
        pub body: Text<1, 500>,
        /// String pairs for the app; keys non-empty, not `from`, `notification`, `message_type`,
        /// not starting with `google` or `gcm`; at most 4096 bytes serialized.
        pub data: Option<PushData>,
        /// Kind (default `other`).
        pub notification_type: Option<NotificationType>,
        /// Priority (default `normal`).
        pub priority: Option<Priority>,
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The audit stamp of a request authorised by `X-Admin-Secret`.
fn secret_stamp(req: &HttpRequest) -> AuditStamp {
    let context = req.extensions().get::<RequestContext>().cloned();
    AuditStamp::admin_secret(
        context
            .as_ref()
            .map(|c| c.request_id.clone())
            .unwrap_or_default(),
        context.and_then(|c| c.client_ip),
    )
}

/// The body of the admin sends (`/notifications/send` and `/notifications/admin-send`).
fn read_send(req: &HttpRequest, body: &[u8]) -> ApiResult<SendNotification> {
    let request: SendNotificationRequest = input::body(req, body)?;
    Ok(SendNotification {
        user_id: UserId::from_uuid(request.user_id),
        title: request.title.into(),
        body: request.body.into(),
        data: request.data.unwrap_or_default(),
        notification_type: request.notification_type.unwrap_or(NotificationType::Other),
        priority: request.priority.unwrap_or(Priority::Normal),
    })
}

fn viewer(user: &AuthUser) -> Viewer {
    Viewer {
        id: user.0.id,
        is_admin: user.0.role == medico24_kernel::Role::Admin,
    }
}

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

/// Registers the caller's device token; the token then belongs to the caller alone.
#[utoipa::path(post, path = "/api/v1/notifications/register-token", tag = "notifications", operation_id = "register_push_token",
    security(("bearerAuth" = [])),
    request_body = RegisterTokenRequest,
    responses(
        (status = 201, description = "Registered (new or re-registered)", body = PushTokenResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Account deactivated", body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 422, description = "Invalid body", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn register_token(
    user: AuthUser,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let request: RegisterTokenRequest = input::body(&req, &body)?;
    let (token, platform) = (String::from(request.fcm_token), request.platform);
    let registered = state
        .notifications
        .register_token(user.0.id, &token, platform)
        .await?;
    Ok(HttpResponse::Created().json(PushTokenResponse::from(registered)))
}

/// Stops pushes to one of the caller's tokens (unknown tokens are fine).
#[utoipa::path(delete, path = "/api/v1/notifications/deactivate-token", tag = "notifications", operation_id = "deactivate_push_token",
    security(("bearerAuth" = [])),
    request_body = DeactivateTokenRequest,
    responses(
        (status = 204, description = "Deactivated"),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Account deactivated", body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 422, description = "Invalid body", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn deactivate_token(
    user: AuthUser,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    // `platform` is accepted and ignored.
    let request: DeactivateTokenRequest = input::body(&req, &body)?;
    let token = String::from(request.fcm_token);
    state
        .notifications
        .deactivate_token(user.0.id, &token)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Stops pushes to every device of the caller.
#[utoipa::path(delete, path = "/api/v1/notifications/deactivate-all", tag = "notifications", operation_id = "deactivate_all_push_tokens",
    security(("bearerAuth" = [])),
    responses(
        (status = 204, description = "Deactivated"),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Account deactivated", body = ErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn deactivate_all(user: AuthUser, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    state.notifications.deactivate_all_tokens(user.0.id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sends a notification to one user's devices (admins only), inside the request.
#[utoipa::path(post, path = "/api/v1/notifications/send", tag = "notifications", operation_id = "send_notification",
    security(("bearerAuth" = [])),
    request_body = SendNotificationRequest,
    responses(
        (status = 200, description = "Device counts", body = SendResultResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 422, description = "Invalid body or unknown user", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn send(
    user: AuthUser,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require_admin(SEND_FORBIDDEN)?;
    let command = read_send(&req, &body)?;
    let audit = SendAudit {
        stamp: audit_stamp(&req, user.0.id),
        action: "notification.send",
    };
    let result = state.notifications.send(command, &audit).await?;
    Ok(HttpResponse::Ok().json(SendResultResponse::from(result)))
}

/// Sends a notification to one user's devices, authorised by the admin secret.
#[utoipa::path(post, path = "/api/v1/notifications/admin-send", tag = "notifications", operation_id = "admin_send_notification",
    security(("adminSecret" = [])),
    request_body = SendNotificationRequest,
    responses(
        (status = 200, description = "Device counts", body = SendResultResponse),
        (status = 401, description = "Wrong admin secret", body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 422, description = "Missing secret, invalid body or unknown user", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn admin_send(
    _secret: AdminSecret,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let command = read_send(&req, &body)?;
    let audit = SendAudit {
        stamp: secret_stamp(&req),
        action: "notification.admin_send",
    };
    let result = state.notifications.send(command, &audit).await?;
    Ok(HttpResponse::Ok().json(SendResultResponse::from(result)))
}

request_query! {
    /// Numbered pages of a notification history, 50 rows by default.
    pub struct HistoryPageParams {
        /// Page number (default 1)
        pub page: IntOr<1, { MAX_PAGE }, 1>,
        /// Page size (default 50)
        pub page_size: IntOr<1, 100, 50>,
    }
}

request_query! {
    /// Filters of a notification history.
    pub struct HistoryFilterParams {
        /// Exact status
        pub status: Option<NotificationStatus>,
        /// Exact type
        pub notification_type: Option<NotificationType>,
    }
}

request_query! {
    /// The window of the notification statistics.
    pub struct StatsParams {
        /// Window in days (default 30)
        pub days: IntOr<1, 365, 30>,
    }
}

/// A page of `user`'s history for `reader` (the user, or an admin: that read is audited).
async fn history_of(
    req: &HttpRequest,
    state: &AppState,
    reader: UserId,
    user: UserId,
) -> ApiResult<HttpResponse> {
    let mut query = Query::new(req);
    let page = query.read::<HistoryPageParams>();
    let filter = query.read::<HistoryFilterParams>();
    let (page, filter) = query.complete((page, filter))?;
    let page = numbered(page.page.get(), page.page_size.get());
    let filter = HistoryFilter {
        status: filter.status,
        notification_type: filter.notification_type,
    };
    let result = state.notifications.history(user, filter, page).await?;
    let read = AccessRead {
        action: "notification.list.read",
        resource_type: "notification",
        resource_id: None,
        subjects: vec![user],
    };
    audit_read(req, state, reader, read).await?;
    Ok(HttpResponse::Ok().json(NotificationHistoryResponse {
        total: result.total,
        page: page.page(),
        page_size: page.page_size(),
        notifications: result
            .items
            .into_iter()
            .map(NotificationRecordResponse::from)
            .collect(),
    }))
}

/// The caller's notifications, newest first.
#[utoipa::path(get, path = "/api/v1/notifications/history", tag = "notifications", operation_id = "notification_history",
    security(("bearerAuth" = [])),
    params(HistoryPageParams, HistoryFilterParams),
    responses(
        (status = 200, description = "A page of notifications", body = NotificationHistoryResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Account deactivated", body = ErrorResponse),
        (status = 422, description = "Invalid query", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn history(
    user: AuthUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    history_of(&req, &state, user.0.id, user.0.id).await
}

/// Another user's notifications (admins only; an unknown user has none).
#[utoipa::path(get, path = "/api/v1/notifications/history/{user_id}", tag = "notifications", operation_id = "notification_history_of_user",
    security(("bearerAuth" = [])),
    params(
        ("user_id" = uuid::Uuid, Path, description = "User id"),
        HistoryPageParams,
        HistoryFilterParams,
    ),
    responses(
        (status = 200, description = "A page of notifications", body = NotificationHistoryResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 422, description = "Invalid id or query", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn history_of_user(
    user: AuthUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require_admin(HISTORY_FORBIDDEN)?;
    let target = UserId::from_uuid(path_uuid(&req, "user_id")?);
    history_of(&req, &state, user.0.id, target).await
}

/// A notification with its deliveries (its owner's, or any for an admin).
#[utoipa::path(get, path = "/api/v1/notifications/{notification_id}", tag = "notifications", operation_id = "get_notification",
    security(("bearerAuth" = [])),
    params(("notification_id" = uuid::Uuid, Path, description = "Notification id")),
    responses(
        (status = 200, description = "The notification and its deliveries", body = NotificationDetailResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Account deactivated", body = ErrorResponse),
        (status = 404, description = "Unknown or someone else's", body = ErrorResponse),
        (status = 422, description = "Invalid id", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn detail(
    user: AuthUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = NotificationId::from_uuid(path_uuid(&req, "notification_id")?);
    let detail = state.notifications.detail(id, viewer(&user)).await?;
    let read = AccessRead {
        action: "notification.read",
        resource_type: "notification",
        resource_id: Some(id.to_string()),
        subjects: vec![detail.notification.user_id],
    };
    audit_read(&req, &state, user.0.id, read).await?;
    let (successful, failed) = (detail.successful(), detail.failed());
    Ok(HttpResponse::Ok().json(NotificationDetailResponse {
        total_devices: detail.deliveries.len() as u64,
        successful_deliveries: successful as u64,
        failed_deliveries: failed as u64,
        notification: detail.notification.into(),
        deliveries: detail
            .deliveries
            .into_iter()
            .map(DeliveryRecordResponse::from)
            .collect(),
    }))
}

/// Marks the caller's own notification read.
#[utoipa::path(patch, path = "/api/v1/notifications/{notification_id}/read", tag = "notifications", operation_id = "mark_notification_read",
    security(("bearerAuth" = [])),
    params(("notification_id" = uuid::Uuid, Path, description = "Notification id")),
    responses(
        (status = 204, description = "Marked read"),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Account deactivated", body = ErrorResponse),
        (status = 404, description = "Unknown or someone else's", body = ErrorResponse),
        (status = 422, description = "Invalid id", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn mark_read(
    user: AuthUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = NotificationId::from_uuid(path_uuid(&req, "notification_id")?);
    state.notifications.mark_read(id, user.0.id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes a notification and its deliveries (the owner's own, or any for an admin, audited).
#[utoipa::path(delete, path = "/api/v1/notifications/{notification_id}", tag = "notifications", operation_id = "delete_notification",
    security(("bearerAuth" = [])),
    params(("notification_id" = uuid::Uuid, Path, description = "Notification id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Account deactivated", body = ErrorResponse),
        (status = 404, description = "Unknown or someone else's", body = ErrorResponse),
        (status = 422, description = "Invalid id", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn delete(
    user: AuthUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = NotificationId::from_uuid(path_uuid(&req, "notification_id")?);
    let stamp = audit_stamp(&req, user.0.id);
    state
        .notifications
        .delete(id, viewer(&user), &stamp)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Counts by status, type and priority over the last `days` days: the caller's notifications,
/// or everyone's for an admin.
#[utoipa::path(get, path = "/api/v1/notifications/stats/summary", tag = "notifications", operation_id = "notification_stats",
    security(("bearerAuth" = [])),
    params(StatsParams),
    responses(
        (status = 200, description = "Counts", body = NotificationStatsResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Account deactivated", body = ErrorResponse),
        (status = 422, description = "Invalid query", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn stats(
    user: AuthUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    // Read within 1..=365.
    let days = u32::try_from(input::query::<StatsParams>(&req)?.days.get()).unwrap_or(30);
    let stats = state.notifications.stats(viewer(&user), days).await?;
    Ok(HttpResponse::Ok().json(NotificationStatsResponse {
        total_count: stats.total_count,
        by_status: stats.by_status,
        by_type: stats.by_type,
        by_priority: stats.by_priority,
        days,
    }))
}

/// Registers the notification routes under `prefix`.
pub fn routes(routes: &mut RouteRegistry, prefix: &str) {
    let p = |path: &str| format!("{prefix}/notifications{path}");
    routes
        .route(Method::POST, &p("/register-token"), register_token)
        .route(Method::DELETE, &p("/deactivate-token"), deactivate_token)
        .route(Method::DELETE, &p("/deactivate-all"), deactivate_all)
        // Sends reach devices: the admin-send budget.
        .route(Method::POST, &p("/send"), send)
        .limited(Some(RatePolicy::AdminSend))
        .route(Method::POST, &p("/admin-send"), admin_send)
        .limited(Some(RatePolicy::AdminSend))
        .route(Method::GET, &p("/history"), history)
        .route(Method::GET, &p("/history/{user_id}"), history_of_user)
        .route(Method::GET, &p("/stats/summary"), stats)
        .route(Method::GET, &p("/{notification_id}"), detail)
        .route(Method::DELETE, &p("/{notification_id}"), delete)
        .route(Method::PATCH, &p("/{notification_id}/read"), mark_read);
}

/// OpenAPI paths of this module.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    register_token,
    deactivate_token,
    deactivate_all,
    send,
    admin_send,
    history,
    history_of_user,
    detail,
    mark_read,
    delete,
    stats
))]
pub struct Docs;

#[cfg(test)]
mod tests;
