//! Identity use cases: authenticating bearer tokens, Firebase login, refresh rotation, logout,
//! the caller's profile, and admin user management.

use chrono::{DateTime, Utc};
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

/// Why a bearer token does not authenticate (in check order).
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

/// Why a Firebase login failed.
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

/// Why a refresh failed.
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

/// Why an admin change of a user failed.
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

    /// Resolves an `Authorization` header value to an active user: a `Bearer` scheme with
    /// credentials, a valid access token, a UUID subject, an existing user, an active account.
    ///
    /// # Errors
    /// The first failing step as an [`AuthError`].
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<User, AuthError> {
        self.authenticate_until(authorization)
            .await
            .map(|(user, _)| user)
    }

    /// [`Self::authenticate`], also answering when the access token expires (the event stream
    /// closes then).
    ///
    /// # Errors
    /// The first failing step as an [`AuthError`].
    pub async fn authenticate_until(
        &self,
        authorization: Option<&str>,
    ) -> Result<(User, DateTime<Utc>), AuthError> {
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
        Ok((user, claims.expires_at))
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

    /// Firebase login: verify, upsert, create a session, mint tokens.
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

    /// Refresh-token rotation.
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

    /// Logout: revokes the token's session when the token is valid and the session is
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

    /// Revokes every session of `user`.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the store fails.
    pub async fn logout_all(&self, user: UserId) -> Result<(), PortError> {
        self.sessions.revoke_all(user).await
    }

    /// Merge-patch of the caller's profile; an empty patch writes nothing.
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

    /// Marks the caller onboarded.
    ///
    /// # Errors
    /// [`PortError`] when the database fails.
    pub async fn onboard(&self, user: User) -> Result<User, PortError> {
        let updated = self.users.mark_onboarded(user.id, self.clock.now()).await?;
        self.cache.invalidate(user.id).await;
        Ok(updated.unwrap_or(user))
    }

    /// Any active user's public profile; `None` for unknown or inactive users.
    ///
    /// # Errors
    /// [`PortError`] when the database fails.
    pub async fn public_profile(&self, id: UserId) -> Result<Option<User>, PortError> {
        Ok(self.load_user(id).await?.filter(|u| u.is_active))
    }

    /// Deactivates the caller: user and push tokens in one transaction, then the cache
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

    /// Admin list of users.
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

    /// Admin change of a user's role or activation.
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

    /// Admin list of audit events.
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

/// Longest name claim kept (`name`, `given_name`, `family_name`), in characters: the bound a
/// user's own profile update has.
pub const MAX_CLAIM_NAME_CHARS: usize = 200;

/// Longest `picture` claim kept, in characters: the bound a user's own profile update has.
pub const MAX_CLAIM_URL_CHARS: usize = 2048;

/// Untrusted text from an identity token, made storable: control characters (NUL among them,
/// which PostgreSQL refuses in text) are removed, surrounding whitespace is trimmed, and the
/// rest is cut to `max_chars` characters. Nothing left is `None`. The claims are whatever the
/// account holder typed into their Google profile, so they are cleaned, never refused.
pub fn claim_text(value: Option<String>, max_chars: usize) -> Option<String> {
    let cleaned: String = value?.chars().filter(|c| !c.is_control()).collect();
    let trimmed = cleaned.trim();
    let cut: String = trimmed.chars().take(max_chars).collect();
    let cut = cut.trim_end();
    (!cut.is_empty()).then(|| cut.to_owned())
}

/// The `picture` claim when it is an `http(s)` URL without whitespace within the length bound;
/// anything else is dropped (a cut URL would point elsewhere).
pub fn claim_url(value: Option<String>) -> Option<String> {
    let url = claim_text(value, usize::MAX)?;
    let scheme_ok = ["https://", "http://"].iter().any(|scheme| {
        url.len() > scheme.len()
            && url
                .get(..scheme.len())
                .is_some_and(|prefix| prefix.eq_ignore_ascii_case(scheme))
    });
    (scheme_ok && url.chars().count() <= MAX_CLAIM_URL_CHARS && !url.contains(char::is_whitespace))
        .then_some(url)
}

/// Derives the stored profile from verified claims; `None` without a usable email. Every
/// free-text claim goes through [`claim_text`] (or [`claim_url`]).
pub fn login_profile(identity: FirebaseIdentity) -> Option<LoginProfile> {
    let email = identity.email.filter(|e| is_valid_email(e))?;
    let name_claim = |v: Option<String>| claim_text(v, MAX_CLAIM_NAME_CHARS);
    let name = name_claim(identity.name);
    let (split_given, split_family) = match name.as_deref().and_then(|n| n.split_once(' ')) {
        Some((given, family)) => (
            name_claim(Some(given.to_owned())),
            name_claim(Some(family.to_owned())),
        ),
        None => (name.clone(), None),
    };
    Some(LoginProfile {
        firebase_uid: identity.uid,
        email,
        email_verified: identity.email_verified.unwrap_or(false),
        given_name: name_claim(identity.given_name).or(split_given),
        family_name: name_claim(identity.family_name).or(split_family),
        full_name: name,
        photo_url: claim_url(identity.picture),
    })
}

#[cfg(test)]
mod claim_tests {
    use super::*;

    /// Deterministic pseudo-random strings over an alphabet of the awkward cases: NUL and other
    /// C0/C1 controls, whitespace of several kinds, multi-byte letters and emoji.
    fn samples() -> Vec<String> {
        const ALPHABET: [char; 14] = [
            '\0', '\u{1}', '\u{1b}', '\u{7f}', '\u{85}', '\n', '\t', ' ', '\u{a0}', 'a', 'Z', 'é',
            '漢', '😀',
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..3000)
            .map(|i| {
                let len = if i % 100 == 0 {
                    5000
                } else {
                    (next() % 40) as usize
                };
                (0..len)
                    .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                    .collect()
            })
            .collect()
    }

    #[test]
    fn cleaned_claims_are_storable_bounded_trimmed_and_stable() {
        for sample in samples() {
            for max in [1, 5, MAX_CLAIM_NAME_CHARS] {
                let Some(clean) = claim_text(Some(sample.clone()), max) else {
                    // Nothing but controls and whitespace.
                    assert!(
                        sample.chars().all(|c| c.is_control() || c.is_whitespace()),
                        "{sample:?}"
                    );
                    continue;
                };
                assert!(!clean.chars().any(char::is_control), "{clean:?}");
                assert!(clean.chars().count() <= max, "{clean:?}");
                assert_eq!(clean.trim(), clean);
                assert!(!clean.is_empty());
                assert_eq!(claim_text(Some(clean.clone()), max), Some(clean.clone()));
            }
            // Never panics, whatever the bytes; what it keeps is clean.
            for candidate in [
                sample.clone(),
                format!("https://{sample}"),
                format!("é{sample}"),
            ] {
                if let Some(url) = claim_url(Some(candidate)) {
                    assert!(!url.chars().any(|c| c.is_control() || c.is_whitespace()));
                }
            }
        }
    }

    #[test]
    fn a_picture_is_kept_only_as_a_clean_http_url_within_bounds() {
        let long = format!("https://example.com/{}", "a".repeat(MAX_CLAIM_URL_CHARS));
        for (picture, kept) in [
            ("https://lh3.googleusercontent.com/a/x=s96-c", true),
            ("HTTP://example.com/p.png", true),
            (" https://example.com/p.png\n", true),
            ("https://exa\0mple.com/p.png", true),
            ("javascript:alert(1)", false),
            ("https://", false),
            ("https://example.com/a b.png", false),
            ("data:image/png;base64,AAAA", false),
            (long.as_str(), false),
            ("", false),
        ] {
            let result = claim_url(Some(picture.to_owned()));
            assert_eq!(result.is_some(), kept, "{picture:?} → {result:?}");
            if let Some(url) = result {
                assert!(!url.chars().any(|c| c.is_control() || c.is_whitespace()));
            }
        }
    }

    #[test]
    fn names_with_controls_are_cleaned_and_split_after_cleaning() {
        let profile = login_profile(FirebaseIdentity {
            uid: "uid-1".into(),
            email: Some("asha@example.com".into()),
            email_verified: Some(true),
            name: Some("\0Asha\u{1} Rani\0".into()),
            picture: Some("https://example.com/\0p.png".into()),
            given_name: Some("\0".into()),
            family_name: Some("x".repeat(1000)),
        })
        .unwrap_or_else(|| panic!("usable email"));
        assert_eq!(profile.full_name.as_deref(), Some("Asha Rani"));
        assert_eq!(profile.given_name.as_deref(), Some("Asha"));
        assert_eq!(
            profile.family_name.map(|f| f.chars().count()),
            Some(MAX_CLAIM_NAME_CHARS)
        );
        assert_eq!(
            profile.photo_url.as_deref(),
            Some("https://example.com/p.png")
        );
    }
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
