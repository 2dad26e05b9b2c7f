//! The caller's notification preferences: which automatic notifications (appointment reminders,
//! appointment updates, broadcast announcements) may be sent to them.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use medico24_notifications::{NotificationPreferences, PreferencesPatch};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ApiResult;
use super::input::{self, request_body};
use super::routing::RouteRegistry;
use crate::auth::AuthUser;
use crate::openapi::schemas::{ErrorResponse, ValidationErrorResponse};
use crate::state::AppState;

/// The caller's notification preferences. Direct sends by an admin and notifications of other
/// kinds (account and security notices among them) cannot be turned off.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPreferencesResponse {
    /// Reminders before an appointment (default true).
    pub appointment_reminders: bool,
    /// Bookings and status changes of the caller's appointments (default true).
    pub appointment_updates: bool,
    /// Broadcast announcements (default true).
    pub system_announcements: bool,
}

impl From<NotificationPreferences> for NotificationPreferencesResponse {
    fn from(p: NotificationPreferences) -> Self {
        Self {
            appointment_reminders: p.appointment_reminders,
            appointment_updates: p.appointment_updates,
            system_announcements: p.system_announcements,
        }
    }
}

request_body! {
    /// `PATCH /users/me/notification-preferences` body: absent members stay as they are.
    pub struct UpdateNotificationPreferencesRequest {
        /// Reminders before an appointment.
        pub appointment_reminders: Option<bool>,
        /// Bookings and status changes of the caller's appointments.
        pub appointment_updates: Option<bool>,
        /// Broadcast announcements.
        pub system_announcements: Option<bool>,
    }
}

/// The caller's notification preferences (every kind on until changed).
#[utoipa::path(get, path = "/api/v1/users/me/notification-preferences", tag = "users",
    operation_id = "get_notification_preferences",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The caller's preferences", body = NotificationPreferencesResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Account deactivated", body = ErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
    ))]
pub async fn get_preferences(
    user: AuthUser,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let preferences = state.notifications.preferences(user.0.id).await?;
    Ok(HttpResponse::Ok().json(NotificationPreferencesResponse::from(preferences)))
}

/// Changes some of the caller's notification preferences; answers all of them.
#[utoipa::path(patch, path = "/api/v1/users/me/notification-preferences", tag = "users",
    operation_id = "update_notification_preferences",
    security(("bearerAuth" = [])),
    request_body(content = UpdateNotificationPreferencesRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The caller's preferences after the change", body = NotificationPreferencesResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Account deactivated", body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 422, description = "Invalid body", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
    ))]
pub async fn update_preferences(
    user: AuthUser,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let body: UpdateNotificationPreferencesRequest = input::body(&req, &body)?;
    let patch = PreferencesPatch {
        appointment_reminders: body.appointment_reminders,
        appointment_updates: body.appointment_updates,
        system_announcements: body.system_announcements,
    };
    let preferences = state
        .notifications
        .update_preferences(user.0.id, patch)
        .await?;
    Ok(HttpResponse::Ok().json(NotificationPreferencesResponse::from(preferences)))
}

/// Registers the preference routes under `prefix`.
pub fn routes(routes: &mut RouteRegistry, prefix: &str) {
    let path = format!("{prefix}/users/me/notification-preferences");
    routes.route(Method::GET, &path, get_preferences).route(
        Method::PATCH,
        &path,
        update_preferences,
    );
}

/// OpenAPI paths of this module.
#[derive(utoipa::OpenApi)]
#[openapi(paths(get_preferences, update_preferences))]
pub struct Docs;
