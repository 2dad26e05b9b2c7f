//! Mapping of the identity domain's errors: authentication of protected routes, login, refresh
//! the admin's user changes, and account erasure.

use medico24_identity::{AdminUpdateUserError, AuthError, ErasureError, LoginError, RefreshError};

use super::ApiError;

/// Authentication failures of a protected route: 401 with `WWW-Authenticate: Bearer`, or 403
/// for a deactivated account.
impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::NotAuthenticated => ApiError::unauthorized("Not authenticated"),
            AuthError::InvalidCredentials => {
                ApiError::unauthorized("Could not validate credentials")
            }
            AuthError::InvalidUserId => ApiError::unauthorized("Invalid user ID format"),
            AuthError::UserNotFound => ApiError::unauthorized("User not found"),
            AuthError::Deactivated => ApiError::forbidden("User account is deactivated"),
            AuthError::Port(port) => port.into(),
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(error: LoginError) -> Self {
        match error {
            LoginError::InvalidIdToken => {
                ApiError::bad_request("Authentication failed: invalid Firebase ID token")
            }
            LoginError::NoUsableEmail => ApiError::bad_request(
                "Authentication failed: the Firebase account has no usable email address",
            ),
            LoginError::ProviderUnavailable => {
                ApiError::unavailable("Authentication service temporarily unavailable")
            }
            LoginError::NotConfigured => {
                ApiError::unavailable("Authentication provider not configured")
            }
            LoginError::Deactivated => ApiError::forbidden("User account is deactivated"),
            LoginError::SessionStoreUnavailable => {
                ApiError::unavailable("Session store unavailable")
            }
            LoginError::Port(port) => port.into(),
        }
    }
}

impl From<RefreshError> for ApiError {
    fn from(error: RefreshError) -> Self {
        match error {
            RefreshError::InvalidToken => {
                ApiError::unauthorized("Could not refresh token: Invalid refresh token")
            }
            RefreshError::Revoked => {
                ApiError::unauthorized("Could not refresh token: Token has been revoked")
            }
            RefreshError::UserNotFound => ApiError::unauthorized("User not found"),
            RefreshError::Deactivated => ApiError::forbidden("User account is deactivated"),
            RefreshError::SessionStoreUnavailable => {
                ApiError::unavailable("Session store unavailable")
            }
            RefreshError::Port(port) => port.into(),
        }
    }
}

impl From<AdminUpdateUserError> for ApiError {
    fn from(error: AdminUpdateUserError) -> Self {
        match error {
            AdminUpdateUserError::NotFound => ApiError::not_found("User not found"),
            AdminUpdateUserError::SelfLockout => {
                ApiError::conflict("You cannot remove your own admin role or deactivate yourself")
            }
            AdminUpdateUserError::Port(port) => port.into(),
        }
    }
}

impl From<ErasureError> for ApiError {
    fn from(error: ErasureError) -> Self {
        match error {
            ErasureError::NotFound => ApiError::not_found("User not found"),
            ErasureError::AlreadyErased => {
                ApiError::conflict("The account is already erased or being erased")
            }
            ErasureError::NotPending => ApiError::conflict(
                "No pending erasure to cancel (none requested, or already running)",
            ),
            ErasureError::Port(port) => port.into(),
        }
    }
}
