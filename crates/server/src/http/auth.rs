//! Auth endpoints: Firebase login, refresh rotation, logout, logout-all.

use actix_web::{HttpRequest, HttpResponse, web};
use medico24_identity::RatePolicy;
use medico24_identity::{LoginError, User};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

use actix_web::http::Method;

use super::error::{ApiError, ApiResult};
use super::input::{self, AnyText, FromJson, Reading, expect_str, request_body, string_schema};
use super::routing::RouteRegistry;
use crate::auth::AuthUser;
use crate::openapi::schemas::{ErrorResponse, ValidationErrorResponse};
use crate::state::AppState;

/// Longest ID token looked at; longer ones are invalid without verification.
const MAX_ID_TOKEN_CHARS: usize = 16_384;

/// A Firebase ID token as sent: any string. Its length is not a validation rule: an empty or
/// over-long token is answered as an invalid token (400), like any other token that does not
/// verify, so the schema declares no length bound (the description names the limit).
#[derive(Debug)]
pub struct IdToken(String);

impl FromJson for IdToken {
    fn from_json(value: &Value, reading: &mut Reading) -> Option<Self> {
        expect_str(value, reading).map(|text| Self(text.to_owned()))
    }

    fn schema() -> RefOr<Schema> {
        string_schema(0, usize::MAX).into()
    }
}

request_body! {
    /// `POST /auth/firebase/verify` body.
    pub struct FirebaseLoginRequest {
        /// Firebase ID token; an empty one or one longer than 16 384 characters is answered as an
        /// invalid token (400).
        pub id_token: IdToken,
    }
}

request_body! {
    /// `POST /auth/refresh` and `/auth/logout` body.
    pub struct RefreshRequest {
        /// Refresh token from login or a previous refresh.
        pub refresh_token: AnyText,
    }
}

/// An access and a refresh token.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPairResponse {
    /// Bearer token for protected routes.
    pub access_token: String,
    /// Token for refresh and logout.
    pub refresh_token: String,
    /// Always `bearer`.
    pub token_type: String,
}

/// The user summary of a login.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginUser {
    /// User id.
    #[schema(format = Uuid)]
    pub id: String,
    /// Email.
    pub email: String,
    /// `full_name`, or the email when unset.
    pub name: String,
    /// `photo_url`.
    pub picture: Option<String>,
    /// Always true (deactivated users cannot log in).
    pub is_active: bool,
    /// Role.
    #[schema(value_type = crate::openapi::enums::Role)]
    pub role: String,
    /// Onboarding done.
    pub is_onboarded: bool,
}

/// `POST /auth/firebase/verify` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Bearer token for protected routes.
    pub access_token: String,
    /// Token for refresh and logout.
    pub refresh_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Who logged in.
    pub user: LoginUser,
}

impl LoginUser {
    fn from_user(user: &User) -> Self {
        Self {
            id: user.id.to_string(),
            email: user.email.clone(),
            name: user.full_name.clone().unwrap_or_else(|| user.email.clone()),
            picture: user.photo_url.clone(),
            is_active: user.is_active,
            role: user.role.as_str().to_owned(),
            is_onboarded: user.is_onboarded,
        }
    }
}

/// Exchanges a Firebase ID token for a session and tokens.
#[utoipa::path(post, path = "/api/v1/auth/firebase/verify", tag = "auth", operation_id = "firebase_verify",
    security(),
    request_body = FirebaseLoginRequest,
    responses(
        (status = 200, description = "Logged in", body = LoginResponse),
        (status = 400, description = "ID token rejected", body = ErrorResponse),
        (status = 403, description = "Account deactivated", body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 422, description = "Invalid body", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Authentication or session service unavailable", body = ErrorResponse),
    ))]
pub async fn firebase_verify(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let FirebaseLoginRequest {
        id_token: IdToken(id_token),
    } = input::body(&req, &body)?;
    // Over-long tokens are "invalid" (400), not a validation error.
    if id_token.chars().count() > MAX_ID_TOKEN_CHARS || id_token.is_empty() {
        return Err(LoginError::InvalidIdToken.into());
    }
    let result = state.identity.login(&id_token).await?;
    tracing::info!(user.id = %result.user.id, "login");
    Ok(HttpResponse::Ok().json(LoginResponse {
        access_token: result.tokens.access_token,
        refresh_token: result.tokens.refresh_token,
        token_type: "bearer".to_owned(),
        user: LoginUser::from_user(&result.user),
    }))
}

fn refresh_token_from(req: &HttpRequest, body: &[u8]) -> ApiResult<String> {
    let body: RefreshRequest = input::body(req, body)?;
    Ok(body.refresh_token.into())
}

/// Rotates a refresh token: a new pair in the same session; a retired token kills the session.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", operation_id = "refresh_token",
    security(),
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New token pair", body = TokenPairResponse),
        (status = 401, description = "Invalid, expired, revoked or reused refresh token", body = ErrorResponse),
        (status = 403, description = "Account deactivated", body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 422, description = "Invalid body", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Session store unavailable", body = ErrorResponse),
    ))]
pub async fn refresh(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let token = refresh_token_from(&req, &body)?;
    let pair = state.identity.refresh(&token).await?;
    Ok(HttpResponse::Ok().json(TokenPairResponse {
        access_token: pair.access_token,
        refresh_token: pair.refresh_token,
        token_type: "bearer".to_owned(),
    }))
}

/// Ends the session of a refresh token; invalid tokens are ignored (always 204).
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", operation_id = "logout",
    security(),
    request_body = RefreshRequest,
    responses(
        (status = 204, description = "Logged out"),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 422, description = "Invalid body", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Session store unavailable", body = ErrorResponse),
    ))]
pub async fn logout(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let token = refresh_token_from(&req, &body)?;
    state
        .identity
        .logout(&token)
        .await
        .map_err(|_| ApiError::unavailable("Session store unavailable"))?;
    Ok(HttpResponse::NoContent().finish())
}

/// Ends every session of the caller.
#[utoipa::path(post, path = "/api/v1/auth/logout-all", tag = "auth", operation_id = "logout_all",
    security(("bearerAuth" = [])),
    responses(
        (status = 204, description = "Every session ended"),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Account deactivated", body = ErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Session store unavailable", body = ErrorResponse),
    ))]
pub async fn logout_all(user: AuthUser, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    state
        .identity
        .logout_all(user.0.id)
        .await
        .map_err(|_| ApiError::unavailable("Session store unavailable"))?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers the auth routes under `prefix`.
pub fn routes(routes: &mut RouteRegistry, prefix: &str) {
    // Credential endpoints get the tight authentication budget (guessing, token stuffing).
    let auth = Some(RatePolicy::Auth);
    routes
        .route(
            Method::POST,
            &format!("{prefix}/auth/firebase/verify"),
            firebase_verify,
        )
        .limited(auth)
        .route(Method::POST, &format!("{prefix}/auth/refresh"), refresh)
        .limited(auth)
        .route(Method::POST, &format!("{prefix}/auth/logout"), logout)
        .limited(auth)
        .route(
            Method::POST,
            &format!("{prefix}/auth/logout-all"),
            logout_all,
        )
        .limited(auth);
}

/// OpenAPI paths of this module.
#[derive(utoipa::OpenApi)]
#[openapi(paths(firebase_verify, refresh, logout, logout_all))]
pub struct Docs;

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::http::input::parse_object;

    fn object(body: Value) -> serde_json::Map<String, Value> {
        let Value::Object(object) = body else {
            panic!("test bodies are objects")
        };
        object
    }

    #[test]
    fn an_id_token_of_any_length_is_read_and_only_its_absence_or_type_is_a_422() {
        let long = "t".repeat(MAX_ID_TOKEN_CHARS + 1);
        let read = parse_object::<FirebaseLoginRequest>(&object(json!({"id_token": long})));
        assert_eq!(read.map(|r| r.id_token.0.len()).ok(), Some(long.len()));
        let read = parse_object::<FirebaseLoginRequest>(&object(json!({"id_token": ""})));
        assert!(read.is_ok());
        for body in [json!({}), json!({"id_token": 1})] {
            let error = parse_object::<FirebaseLoginRequest>(&object(body)).unwrap_err();
            let details = error.body().render("/", "r")["details"].clone();
            assert_eq!(details[0]["loc"], json!(["body", "id_token"]));
        }
    }

    #[test]
    fn a_refresh_token_is_any_string() {
        let read = parse_object::<RefreshRequest>(&object(json!({"refresh_token": ""})));
        assert_eq!(
            read.map(|r| String::from(r.refresh_token)).ok(),
            Some(String::new())
        );
        let error = parse_object::<RefreshRequest>(&object(json!({"refresh_token": null})));
        assert!(error.is_err());
    }
}
