//! Extractors for protected routes: `AuthUser` (B), `AdminUser` (A), `AdminSecret` (S).
//! Public routes simply do not take one, so they never look at `Authorization`.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use medico24_identity::User;
use medico24_kernel::Role;
use serde_json::json;

use crate::config::Secret;
use crate::http::error::ApiError;
use crate::http::middleware::AuthenticatedUser;
use crate::security::constant_time_eq;
use crate::state::AppState;

/// The active user behind a valid bearer access token: a `Bearer` header, a valid
/// access token, a UUID subject, an existing user, an active account (checked in that order).
#[derive(Debug, Clone)]
pub struct AuthUser(pub User);

/// An [`AuthUser`] whose role is `admin` (checked after authentication; 403
/// `Admin access required` otherwise).
#[derive(Debug, Clone)]
pub struct AdminUser(pub User);

/// A request carrying the right `X-Admin-Secret`.
#[derive(Debug, Clone, Copy)]
pub struct AdminSecret;

async fn authenticate(req: HttpRequest) -> Result<User, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal("application state missing"))?;
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let user = state.identity.authenticate(authorization).await?;
    req.extensions_mut()
        .insert(AuthenticatedUser(user.id.as_uuid()));
    Ok(user)
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(req).await.map(AuthUser) })
    }
}

impl AuthUser {
    /// 403 with `message` unless the user is an admin (for routes with their own message).
    ///
    /// # Errors
    /// 403 `forbidden` with `message`.
    pub fn require_admin(&self, message: &'static str) -> Result<(), ApiError> {
        if self.0.role == Role::Admin {
            Ok(())
        } else {
            Err(ApiError::forbidden(message))
        }
    }
}

impl FromRequest for AdminUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let user = authenticate(req).await?;
            if user.role != Role::Admin {
                return Err(ApiError::forbidden("Admin access required"));
            }
            Ok(AdminUser(user))
        })
    }
}

/// Checks a presented `X-Admin-Secret` against the configured one.
///
/// # Errors
/// 422 `missing` at `["header", "x-admin-secret"]` without the header; 401 `Invalid admin secret
/// key` for any other value.
pub fn check_admin_secret(
    presented: Option<&header::HeaderValue>,
    expected: &Secret,
) -> Result<(), ApiError> {
    let Some(presented) = presented else {
        return Err(ApiError::invalid(
            vec![json!("header"), json!("x-admin-secret")],
            "missing",
            "Field required",
        ));
    };
    let presented = presented.to_str().unwrap_or_default();
    if constant_time_eq(presented, expected.expose()) {
        Ok(())
    } else {
        Err(ApiError::unauthorized("Invalid admin secret key"))
    }
}

impl FromRequest for AdminSecret {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let result = match req.app_data::<web::Data<AppState>>() {
            Some(state) => check_admin_secret(
                req.headers().get("x-admin-secret"),
                &state.settings.admin_notification_secret,
            )
            .map(|()| AdminSecret),
            None => Err(ApiError::internal("application state missing")),
        };
        std::future::ready(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::error::ErrorCode;

    #[test]
    fn the_admin_secret_is_required_and_compared() {
        let expected = Secret::new("s3cret-value");
        let missing = check_admin_secret(None, &expected).err().map(|e| e.code());
        assert_eq!(missing, Some(ErrorCode::ValidationError));
        let wrong = header::HeaderValue::from_static("nope");
        let error = check_admin_secret(Some(&wrong), &expected).err();
        assert_eq!(
            error.as_ref().map(ApiError::code),
            Some(ErrorCode::Unauthorized)
        );
        assert_eq!(
            error.as_ref().map(ApiError::message),
            Some("Invalid admin secret key")
        );
        let right = header::HeaderValue::from_static("s3cret-value");
        assert!(check_admin_secret(Some(&right), &expected).is_ok());
    }
}
