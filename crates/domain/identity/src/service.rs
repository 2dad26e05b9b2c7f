//! Identity use cases: authenticating bearer tokens, Firebase login, refresh rotation, logout,
//! the caller's profile, and admin user management.

use medico24_kernel::{Clock, Page, PageRequest, Role, UserId, is_valid_email};

use crate::model::{
    AuditContext, AuditEvent, FirebaseIdentity, LoginProfile, LoginUpsert, RotateOutcome, Session,
    User,
};
use crate::ports::{
    AdminUpdateOutcome, AdminUserChange, AuditFilter, IdTokenError, IdTokenVerifier, PortError,
    ProfilePatch, SessionStore, TokenSigner, UserCache, UserFilter, UserRepository,
};

/// An access token and a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPair {
    /// Bearer token for B and A routes.
    pub access_token: String,
    /// Token for `/auth/refresh` and `/auth/logout`.
    pub refresh_token: String,
}

/// A successful login.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginResult {
    /// Fresh tokens of a new session.
    pub tokens: TokenPair,
    /// The user row as stored after the upsert.
    pub user: User,
}

/// Why a bearer token does not authenticate (§3.2, in check order).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Missing header, wrong scheme or empty credentials.
    #[error("not authenticated")]
    NotAuthenticated,
    /// The token failed access-token validation.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// `sub` is not a UUID.
    #[error("invalid user id format")]
    InvalidUserId,
    /// No such user.
    #[error("user not found")]
    UserNotFound,
    /// The user is deactivated.
    #[error("user deactivated")]
    Deactivated,
    /// The user could not be loaded.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Why a Firebase login failed (§9.1).
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The ID token was rejected.
    #[error("invalid ID token")]
    InvalidIdToken,
    /// The token carries no usable email address.
    #[error("no usable email")]
    NoUsableEmail,
    /// Firebase certificates could not be fetched.
    #[error("certificates unavailable")]
    ProviderUnavailable,
    /// No Firebase project configured.
    #[error("provider not configured")]
    NotConfigured,
    /// The account exists and is deactivated.
    #[error("user deactivated")]
    Deactivated,
    /// The session store is down.
    #[error("session store unavailable")]
    SessionStoreUnavailable,
    /// The database failed.
    #[error(transparent)]
    Port(PortError),
}

/// Why a refresh failed (§9.2).
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Invalid, expired or foreign refresh token.
    #[error("invalid refresh token")]
    InvalidToken,
    /// The session was logged out, expired or killed by reuse.
    #[error("revoked")]
    Revoked,
    /// The user no longer exists.
    #[error("user not found")]
    UserNotFound,
    /// The user is deactivated.
    #[error("user deactivated")]
    Deactivated,
    /// The session store is down.
    #[error("session store unavailable")]
    SessionStoreUnavailable,
    /// The database failed.
    #[error(transparent)]
    Port(PortError),
}

/// Why an admin change of a user failed (§16.6).
#[derive(Debug, thiserror::Error)]
pub enum AdminUpdateUserError {
    /// No such user.
    #[error("user not found")]
    NotFound,
    /// An admin tried to drop their own admin role or deactivate themselves.
    #[error("self lockout")]
    SelfLockout,
    /// The database failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// The identity use cases over their ports.
pub struct IdentityService<U, C, S, V, T, K> {
    users: U,
    cache: C,
    sessions: S,
    verifier: V,
    tokens: T,
    clock: K,
}

impl<U, C, S, V, T, K> IdentityService<U, C, S, V, T, K>
where
    U: UserRepository,
    C: UserCache,
    S: SessionStore,
    V: IdTokenVerifier,
    T: TokenSigner,
    K: Clock,
{
    /// Wires the service.
    pub fn new(users: U, cache: C, sessions: S, verifier: V, tokens: T, clock: K) -> Self {
        Self {
            users,
            cache,
            sessions,
            verifier,
            tokens,
            clock,
        }
    }

    /// The user repository (for use cases in the server that only read).
    pub fn users(&self) -> &U {
        &self.users
    }

    /// Resolves an `Authorization` header value to an active user (§3.2 steps 1–5).
    ///
    /// # Errors
    /// The first failing step as an [`AuthError`].
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<User, AuthError> {
        let token = bearer_token(authorization).ok_or(AuthError::NotAuthenticated)?;
        let claims = self
            .tokens
            .verify_access(token, self.clock.now())
            .map_err(|_| AuthError::InvalidCredentials)?;
        let id: UserId = claims.sub.parse().map_err(|_| AuthError::InvalidUserId)?;
        let user = self.load_user(id).await?.ok_or(AuthError::UserNotFound)?;
        if !user.is_active {
            return Err(AuthError::Deactivated);
        }
        Ok(user)
    }

    /// A user through the cache (filled on a miss).
    ///
    /// # Errors
    /// [`PortError`] when the database fails.
    pub async fn load_user(&self, id: UserId) -> Result<Option<User>, PortError> {
        if let Some(user) = self.cache.get(id).await {
            return Ok(Some(user));
        }
        let user = self.users.find(id).await?;
        if let Some(user) = &user {
            self.cache.put(user).await;
        }
        Ok(user)
    }

    /// Firebase login (§9.1): verify, upsert, create a session, mint tokens.
    ///
    /// # Errors
    /// [`LoginError`] naming the failed step.
    pub async fn login(&self, id_token: &str) -> Result<LoginResult, LoginError> {
        let identity = self.verifier.verify(id_token).await.map_err(|e| match e {
            IdTokenError::Invalid(reason) => {
                tracing::info!(reason, "firebase ID token rejected");
                LoginError::InvalidIdToken
            }
            IdTokenError::CertificatesUnavailable => LoginError::ProviderUnavailable,
            IdTokenError::NotConfigured => LoginError::NotConfigured,
        })?;
        let profile = login_profile(identity).ok_or(LoginError::NoUsableEmail)?;
        let now = self.clock.now();
        let user = match self
            .users
            .upsert_login(&profile, now)
            .await
            .map_err(LoginError::Port)?
        {
            LoginUpsert::Active(user) => user,
            LoginUpsert::Deactivated => return Err(LoginError::Deactivated),
        };
        // The row changed even if the session cannot be created: drop the cached copy first.
        self.cache.invalidate(user.id).await;
        let tokens = self.start_session(user.id).await?;
        Ok(LoginResult { tokens, user })
    }

    async fn start_session(&self, user: UserId) -> Result<TokenPair, LoginError> {
        let now = self.clock.now();
        let session = Session {
            sid: uuid::Uuid::new_v4(),
            user_id: user,
            jti: uuid::Uuid::new_v4(),
            created_at: now.timestamp(),
            refreshed_at: now.timestamp(),
        };
        self.sessions
            .create(&session, self.tokens.refresh_ttl())
            .await
            .map_err(|_| LoginError::SessionStoreUnavailable)?;
        Ok(TokenPair {
            access_token: self.tokens.issue_access(user, now),
            refresh_token: self
                .tokens
                .issue_refresh(user, session.sid, session.jti, now),
        })
    }

    /// Refresh-token rotation (§9.2).
    ///
    /// # Errors
    /// [`RefreshError`] naming the failed step.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, RefreshError> {
        let now = self.clock.now();
        let claims = self
            .tokens
            .verify_refresh(refresh_token, now)
            .map_err(|_| RefreshError::InvalidToken)?;
        let user_id: UserId = claims.sub.parse().map_err(|_| RefreshError::InvalidToken)?;
        let user = self.users.find(user_id).await.map_err(RefreshError::Port)?;
        match user {
            None => {
                self.revoke_best_effort(claims.sid, user_id).await;
                return Err(RefreshError::UserNotFound);
            }
            Some(user) if !user.is_active => {
                self.revoke_best_effort(claims.sid, user_id).await;
                return Err(RefreshError::Deactivated);
            }
            Some(_) => {}
        }
        let new_jti = uuid::Uuid::new_v4();
        let outcome = self
            .sessions
            .rotate(
                claims.sid,
                user_id,
                claims.jti,
                new_jti,
                now.timestamp(),
                self.tokens.refresh_ttl(),
            )
            .await
            .map_err(|_| RefreshError::SessionStoreUnavailable)?;
        match outcome {
            RotateOutcome::Rotated => Ok(TokenPair {
                access_token: self.tokens.issue_access(user_id, now),
                refresh_token: self.tokens.issue_refresh(user_id, claims.sid, new_jti, now),
            }),
            RotateOutcome::Revoked => Err(RefreshError::Revoked),
            RotateOutcome::Invalid => Err(RefreshError::InvalidToken),
            RotateOutcome::Reused => {
                tracing::warn!(user.id = %user_id, "retired refresh token presented; session revoked");
                Err(RefreshError::Revoked)
            }
        }
    }

    async fn revoke_best_effort(&self, sid: uuid::Uuid, user: UserId) {
        if let Err(error) = self.sessions.revoke(sid, user).await {
            tracing::warn!(user.id = %user, error = %error, "could not revoke session");
        }
    }

    /// Logout (§9.3): revokes the token's session when the token is valid and the session is
    /// the subject's; anything else writes nothing.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the store fails while handling a valid token.
    pub async fn logout(&self, refresh_token: &str) -> Result<(), PortError> {
        let Ok(claims) = self.tokens.verify_refresh(refresh_token, self.clock.now()) else {
            return Ok(());
        };
        let Ok(user_id) = claims.sub.parse::<UserId>() else {
            return Ok(());
        };
        match self.sessions.find(claims.sid, user_id).await? {
            Some(session) if session.user_id == user_id => {
                self.sessions.revoke(claims.sid, user_id).await
            }
            _ => Ok(()),
        }
    }

    /// Revokes every session of `user` (§9.4).
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the store fails.
    pub async fn logout_all(&self, user: UserId) -> Result<(), PortError> {
        self.sessions.revoke_all(user).await
    }

    /// Merge-patch of the caller's profile (§10.2); an empty patch writes nothing.
    ///
    /// # Errors
    /// [`PortError`] when the database fails.
    pub async fn update_profile(
        &self,
        user: User,
        patch: &ProfilePatch,
    ) -> Result<User, PortError> {
        if patch.is_empty() {
            return Ok(user);
        }
        let updated = self
            .users
            .update_profile(user.id, patch, self.clock.now())
            .await?;
        self.cache.invalidate(user.id).await;
        Ok(updated.unwrap_or(user))
    }

    /// Marks the caller onboarded (§10.3).
    ///
    /// # Errors
    /// [`PortError`] when the database fails.
    pub async fn onboard(&self, user: User) -> Result<User, PortError> {
        let updated = self.users.mark_onboarded(user.id, self.clock.now()).await?;
        self.cache.invalidate(user.id).await;
        Ok(updated.unwrap_or(user))
    }

    /// Any active user's public profile (§10.4); `None` for unknown or inactive users.
    ///
    /// # Errors
    /// [`PortError`] when the database fails.
    pub async fn public_profile(&self, id: UserId) -> Result<Option<User>, PortError> {
        Ok(self.load_user(id).await?.filter(|u| u.is_active))
    }

    /// Deactivates the caller (§10.5): user and push tokens in one transaction, then the cache
    /// and every session (best effort).
    ///
    /// # Errors
    /// [`PortError`] when the database fails.
    pub async fn deactivate_self(&self, user: UserId) -> Result<(), PortError> {
        self.users.deactivate(user, self.clock.now()).await?;
        self.cache.invalidate(user).await;
        if let Err(error) = self.sessions.revoke_all(user).await {
            tracing::warn!(user.id = %user, error = %error, "could not revoke sessions of a deactivated user");
        }
        Ok(())
    }

    /// Admin list of users (§16.2).
    ///
    /// # Errors
    /// [`PortError`] when the database fails.
    pub async fn list_users(
        &self,
        filter: &UserFilter,
        page: PageRequest,
    ) -> Result<Page<User>, PortError> {
        self.users.list(filter, page).await
    }

    /// Admin change of a user's role or activation (§16.6).
    ///
    /// # Errors
    /// [`AdminUpdateUserError`].
    pub async fn admin_update_user(
        &self,
        actor: &User,
        target: UserId,
        change: AdminUserChange,
        audit: &AuditContext,
    ) -> Result<User, AdminUpdateUserError> {
        let demotes = change.role.is_some_and(|role| role != Role::Admin);
        let deactivates = change.is_active == Some(false);
        if target == actor.id && (demotes || deactivates) {
            return Err(AdminUpdateUserError::SelfLockout);
        }
        match self
            .users
            .admin_update(target, change, audit, self.clock.now())
            .await?
        {
            AdminUpdateOutcome::NotFound => Err(AdminUpdateUserError::NotFound),
            AdminUpdateOutcome::Unchanged(user) => Ok(user),
            AdminUpdateOutcome::Updated { before, after } => {
                self.cache.invalidate(target).await;
                if before.is_active
                    && !after.is_active
                    && let Err(error) = self.sessions.revoke_all(target).await
                {
                    tracing::warn!(user.id = %target, error = %error, "could not revoke sessions of a deactivated user");
                }
                Ok(*after)
            }
        }
    }

    /// Admin list of audit events (§16.11).
    ///
    /// # Errors
    /// [`PortError`] when the database fails.
    pub async fn list_audit(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>, PortError> {
        self.users.list_audit(filter, page).await
    }
}

/// The credentials of a `Bearer` header (scheme case-insensitive, non-empty credentials).
pub fn bearer_token(authorization: Option<&str>) -> Option<&str> {
    let (scheme, credentials) = authorization?.trim().split_once(' ')?;
    let credentials = credentials.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !credentials.is_empty()).then_some(credentials)
}

/// Derives the stored profile from verified claims; `None` without a usable email.
pub fn login_profile(identity: FirebaseIdentity) -> Option<LoginProfile> {
    let email = identity.email.filter(|e| is_valid_email(e))?;
    let non_empty = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let name = non_empty(identity.name);
    let (split_given, split_family) = match name.as_deref().and_then(|n| n.split_once(' ')) {
        Some((given, family)) => (
            Some(given.to_owned()),
            non_empty(Some(family.trim().to_owned())),
        ),
        None => (name.clone(), None),
    };
    Some(LoginProfile {
        firebase_uid: identity.uid,
        email,
        email_verified: identity.email_verified.unwrap_or(false),
        given_name: non_empty(identity.given_name).or(split_given),
        family_name: non_empty(identity.family_name).or(split_family),
        full_name: name,
        photo_url: non_empty(identity.picture),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(email: Option<&str>, name: Option<&str>) -> FirebaseIdentity {
        FirebaseIdentity {
            uid: "uid-1".into(),
            email: email.map(Into::into),
            email_verified: Some(true),
            name: name.map(Into::into),
            picture: Some(String::new()),
            given_name: None,
            family_name: None,
        }
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_needs_credentials() {
        assert_eq!(bearer_token(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(Some("bEaReR   abc ")), Some("abc"));
        assert_eq!(bearer_token(Some("Basic abc")), None);
        assert_eq!(bearer_token(Some("Bearer ")), None);
        assert_eq!(bearer_token(Some("Bearer")), None);
        assert_eq!(bearer_token(None), None);
    }

    #[test]
    fn login_profile_splits_the_name_at_its_first_space() {
        let profile =
            login_profile(identity(Some("asha@example.com"), Some("Asha Rani Verma"))).unwrap();
        assert_eq!(profile.full_name.as_deref(), Some("Asha Rani Verma"));
        assert_eq!(profile.given_name.as_deref(), Some("Asha"));
        assert_eq!(profile.family_name.as_deref(), Some("Rani Verma"));
        assert_eq!(profile.photo_url, None, "empty picture is no picture");
        assert!(profile.email_verified);
    }

    #[test]
    fn login_profile_needs_a_valid_email() {
        assert!(login_profile(identity(None, Some("A"))).is_none());
        assert!(login_profile(identity(Some(""), Some("A"))).is_none());
        assert!(login_profile(identity(Some("not-an-email"), Some("A"))).is_none());
    }
}
