//! The caller's account: profile read and merge-patch, onboarding, public profiles,
//! self-deactivation.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use medico24_identity::{ProfilePatch, User};
use medico24_kernel::{Phone, UserId};
use serde::Serialize;
use utoipa::ToSchema;

use actix_web::http::Method;

use super::error::{ApiError, ApiResult};
use super::input::{self, Patch, Text, path_uuid, request_body};
use super::routing::RouteRegistry;
use super::wire;
use crate::auth::AuthUser;
use crate::openapi::schemas::{ErrorResponse, ValidationErrorResponse};
use crate::state::AppState;

/// A user as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    /// Email.
    pub email: String,
    /// Display name.
    pub full_name: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Avatar URL.
    pub photo_url: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// User id.
    #[schema(format = Uuid)]
    pub id: String,
    /// Firebase uid.
    pub firebase_uid: String,
    /// Email verified by Firebase.
    pub email_verified: bool,
    /// `google`.
    pub auth_provider: String,
    /// Role.
    #[schema(value_type = crate::openapi::enums::Role)]
    pub role: String,
    /// Active.
    pub is_active: bool,
    /// Onboarded.
    pub is_onboarded: bool,
    /// Creation time.
    #[serde(serialize_with = "wire::datetime")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// Last update.
    #[serde(serialize_with = "wire::datetime")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
    /// Last login.
    #[serde(serialize_with = "wire::optional_datetime")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_login_at: Option<DateTime<Utc>>,
}

impl From<&User> for UserResponse {
    fn from(user: &User) -> Self {
        Self {
            email: user.email.clone(),
            full_name: user.full_name.clone(),
            given_name: user.given_name.clone(),
            family_name: user.family_name.clone(),
            photo_url: user.photo_url.clone(),
            phone: user.phone.clone(),
            id: user.id.to_string(),
            firebase_uid: user.firebase_uid.clone(),
            email_verified: user.email_verified,
            auth_provider: user.auth_provider.clone(),
            role: user.role.as_str().to_owned(),
            is_active: user.is_active,
            is_onboarded: user.is_onboarded,
            created_at: user.created_at,
            updated_at: user.updated_at,
            last_login_at: user.last_login_at,
        }
    }
}

/// Another user's public profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserProfileResponse {
    /// User id.
    #[schema(format = Uuid)]
    pub id: String,
    /// Display name.
    pub full_name: Option<String>,
    /// Avatar URL.
    pub photo_url: Option<String>,
    /// Role.
    #[schema(value_type = crate::openapi::enums::Role)]
    pub role: String,
    /// Onboarded.
    pub is_onboarded: bool,
}

request_body! {
    /// `PATCH /users/me` body (JSON merge patch: absent = unchanged, `null` = clear).
    pub struct UpdateMeRequest {
        /// Display name.
        pub full_name: Patch<Text<0, 200>>,
        /// Given name.
        pub given_name: Patch<Text<0, 200>>,
        /// Family name.
        pub family_name: Patch<Text<0, 200>>,
        /// Avatar URL.
        pub photo_url: Patch<Text<0, 2048>>,
        /// Phone: 7–20 characters of digits, spaces, `+`, `-`, `(`, `)`, at least 7 digits.
        pub phone: Patch<Phone>,
    }
}

/// The caller.
#[utoipa::path(get, path = "/api/v1/users/me", tag = "users", operation_id = "get_me",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The caller", body = UserResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Account deactivated", body = ErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
    ))]
pub async fn get_me(user: AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(UserResponse::from(&user.0))
}

/// Updates the caller's profile with merge-patch semantics.
#[utoipa::path(patch, path = "/api/v1/users/me", tag = "users", operation_id = "update_me",
    security(("bearerAuth" = [])),
    request_body(content = UpdateMeRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Updated user", body = UserResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Account deactivated", body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 422, description = "Invalid body", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
    ))]
pub async fn update_me(
    user: AuthUser,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let body: UpdateMeRequest = input::body(&req, &body)?;
    let patch = ProfilePatch {
        full_name: body.full_name.map(String::from).into_option(),
        given_name: body.given_name.map(String::from).into_option(),
        family_name: body.family_name.map(String::from).into_option(),
        photo_url: body.photo_url.map(String::from).into_option(),
        phone: body.phone.map(Phone::into_string).into_option(),
    };
    let updated = state.identity.update_profile(user.0, &patch).await?;
    Ok(HttpResponse::Ok().json(UserResponse::from(&updated)))
}

/// Marks the caller onboarded (idempotent).
#[utoipa::path(post, path = "/api/v1/users/me/onboard", tag = "users", operation_id = "onboard_me",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Onboarded user", body = UserResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Account deactivated", body = ErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
    ))]
pub async fn onboard_me(user: AuthUser, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let updated = state.identity.onboard(user.0).await?;
    Ok(HttpResponse::Ok().json(UserResponse::from(&updated)))
}

/// Any active user's public profile.
#[utoipa::path(get, path = "/api/v1/users/{user_id}/profile", tag = "users", operation_id = "get_user_profile",
    security(("bearerAuth" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "Public profile", body = UserProfileResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Account deactivated", body = ErrorResponse),
        (status = 404, description = "Unknown or inactive user", body = ErrorResponse),
        (status = 422, description = "Malformed id", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
    ))]
pub async fn get_profile(
    _user: AuthUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = UserId::from_uuid(path_uuid(&req, "user_id")?);
    let profile = state
        .identity
        .public_profile(id)
        .await?
        .ok_or_else(|| ApiError::not_found("User not found"))?;
    Ok(HttpResponse::Ok().json(UserProfileResponse {
        id: profile.id.to_string(),
        full_name: profile.full_name,
        photo_url: profile.photo_url,
        role: profile.role.as_str().to_owned(),
        is_onboarded: profile.is_onboarded,
    }))
}

/// Deactivates the caller's account, push tokens and sessions.
#[utoipa::path(delete, path = "/api/v1/users/me", tag = "users", operation_id = "delete_me",
    security(("bearerAuth" = [])),
    responses(
        (status = 204, description = "Deactivated"),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Account deactivated", body = ErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
    ))]
pub async fn delete_me(user: AuthUser, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    state.identity.deactivate_self(user.0.id).await?;
    tracing::info!(user.id = %user.0.id, "user deactivated their account");
    Ok(HttpResponse::NoContent().finish())
}

/// Registers the users routes under `prefix`.
pub fn routes(routes: &mut RouteRegistry, prefix: &str) {
    routes
        .route(Method::GET, &format!("{prefix}/users/me"), get_me)
        .route(Method::PATCH, &format!("{prefix}/users/me"), update_me)
        .route(Method::DELETE, &format!("{prefix}/users/me"), delete_me)
        .route(
            Method::POST,
            &format!("{prefix}/users/me/onboard"),
            onboard_me,
        )
        .route(
            Method::GET,
            &format!("{prefix}/users/{{user_id}}/profile"),
            get_profile,
        );
}

/// OpenAPI paths of this module.
#[derive(utoipa::OpenApi)]
#[openapi(paths(get_me, update_me, delete_me, onboard_me, get_profile))]
pub struct Docs;

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::http::input::read_test_body;

    fn read(body: Value) -> Result<UpdateMeRequest, Vec<(Value, String, String)>> {
        read_test_body(body)
    }

    #[test]
    fn absent_keeps_null_clears_and_a_value_sets() {
        let patch =
            read(json!({"full_name": null, "phone": "+91 22 1234 5678", "photo_url": ""})).unwrap();
        assert_eq!(patch.given_name, Patch::Keep);
        assert!(matches!(patch.full_name, Patch::Clear));
        assert_eq!(patch.photo_url.map(String::from), Patch::Set(String::new()));
        assert_eq!(
            patch.phone.map(Phone::into_string),
            Patch::Set("+91 22 1234 5678".to_owned())
        );
        assert_eq!(read(json!({"phone": null})).unwrap().phone, Patch::Clear);
    }

    #[test]
    fn the_phone_rule_and_the_lengths_are_reported_in_member_order() {
        let found = read(json!({"phone": "12x", "family_name": "x".repeat(201), "given_name": 3}))
            .unwrap_err();
        assert_eq!(
            found,
            vec![
                (
                    json!(["body", "given_name"]),
                    "string_type".to_owned(),
                    "Input should be a valid string".to_owned()
                ),
                (
                    json!(["body", "family_name"]),
                    "string_too_long".to_owned(),
                    "String should have at most 200 characters".to_owned()
                ),
                (
                    json!(["body", "phone"]),
                    "value_error".to_owned(),
                    "phone must be between 7 and 20 characters".to_owned()
                ),
            ]
        );
        let found = read(json!({"phone": 5})).unwrap_err();
        assert_eq!(found[0].1, "string_type");
    }
}
