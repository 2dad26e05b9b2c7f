//! Ports of the identity domain. Adapters implement them; each method's errors are documented.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use medico24_kernel::{Page, PageRequest, Role, UserId};

use crate::model::{
    AuditContext, AuditEvent, AuditRecord, FirebaseIdentity, LoginProfile, LoginUpsert,
    RotateOutcome, Session, User,
};
use crate::privacy::{
    CancelErasureOutcome, Erasure, ExportPage, ExportSection, RequestErasureOutcome,
};

pub use medico24_kernel::PortError;

/// Why a Firebase ID token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdTokenError {
    /// Signature, header or a claim check failed; the reason is for logs only.
    #[error("invalid ID token: {0}")]
    Invalid(&'static str),
    /// No usable certificate set and fetching one failed.
    #[error("certificates unavailable")]
    CertificatesUnavailable,
    /// No Firebase project id configured.
    #[error("no Firebase project configured")]
    NotConfigured,
}

/// Verifies Firebase ID tokens.
pub trait IdTokenVerifier: Send + Sync + 'static {
    /// Verifies `id_token` and returns its identity claims.
    ///
    /// # Errors
    /// [`IdTokenError::Invalid`] for any verification failure (including an unknown `kid` after
    /// a refresh), [`IdTokenError::CertificatesUnavailable`] when no certificate set can be had,
    /// [`IdTokenError::NotConfigured`] without a project id.
    fn verify(
        &self,
        id_token: &str,
    ) -> impl Future<Output = Result<FirebaseIdentity, IdTokenError>> + Send;
}

/// Claims of a validated access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    /// `sub` as presented (may not be a UUID; the caller checks).
    pub sub: String,
    /// `exp`: when the token stops being valid (long-lived answers such as the event stream
    /// end then).
    pub expires_at: DateTime<Utc>,
}

/// Claims of a validated refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshClaims {
    /// `sub` as presented.
    pub sub: String,
    /// Token id.
    pub jti: uuid::Uuid,
    /// Session id.
    pub sid: uuid::Uuid,
}

/// Why a JWT was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid token")]
pub struct InvalidToken;

/// Mints and validates the service's own access and refresh tokens.
pub trait TokenSigner: Send + Sync + 'static {
    /// An access token for `user` issued at `now`.
    fn issue_access(&self, user: UserId, now: DateTime<Utc>) -> String;
    /// A refresh token for `user` in session `sid` with token id `jti`.
    fn issue_refresh(
        &self,
        user: UserId,
        sid: uuid::Uuid,
        jti: uuid::Uuid,
        now: DateTime<Utc>,
    ) -> String;
    /// Validates an access token at `now`.
    ///
    /// # Errors
    /// [`InvalidToken`] for a bad algorithm, signature, type, or an expired token.
    fn verify_access(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, InvalidToken>;
    /// Validates a refresh token at `now`.
    ///
    /// # Errors
    /// [`InvalidToken`] as for access tokens, and when `jti` or `sid` is missing.
    fn verify_refresh(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<RefreshClaims, InvalidToken>;
    /// Refresh-token lifetime (also the session TTL).
    fn refresh_ttl(&self) -> Duration;
}

/// Five optional profile fields with merge-patch semantics: `None` = leave, `Some(None)` = clear.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfilePatch {
    /// `full_name`.
    pub full_name: Option<Option<String>>,
    /// `given_name`.
    pub given_name: Option<Option<String>>,
    /// `family_name`.
    pub family_name: Option<Option<String>>,
    /// `photo_url`.
    pub photo_url: Option<Option<String>>,
    /// `phone`.
    pub phone: Option<Option<String>>,
}

impl ProfilePatch {
    /// Whether no member was given.
    pub fn is_empty(&self) -> bool {
        self.full_name.is_none()
            && self.given_name.is_none()
            && self.family_name.is_none()
            && self.photo_url.is_none()
            && self.phone.is_none()
    }
}

/// Filters of the admin user list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    /// Exact role.
    pub role: Option<Role>,
    /// Exact activation state.
    pub is_active: Option<bool>,
    /// Case-insensitive substring of `full_name` or `email` (matched literally).
    pub search: Option<String>,
}

/// An admin's change to a user; `None` = unchanged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AdminUserChange {
    /// New role.
    pub role: Option<Role>,
    /// New activation state.
    pub is_active: Option<bool>,
}

/// Result of an admin change.
#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "built once per admin change; boxing buys nothing"
)]
pub enum AdminUpdateOutcome {
    /// No such user.
    NotFound,
    /// Nothing differed; the current row.
    Unchanged(User),
    /// Updated in one transaction with its audit event (and, when deactivating, the user's push
    /// tokens deactivated).
    Updated {
        /// Row before.
        before: Box<User>,
        /// Row after.
        after: Box<User>,
    },
}

/// Filters of the audit list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Exact actor.
    pub actor_user_id: Option<UserId>,
    /// Exact action.
    pub action: Option<String>,
    /// Exact resource type.
    pub resource_type: Option<String>,
    /// Exact resource id.
    pub resource_id: Option<String>,
    /// A user among the event's subjects (whose data it read or changed).
    pub subject_id: Option<UserId>,
    /// Inclusive lower bound on `at`.
    pub from: Option<DateTime<Utc>>,
    /// Inclusive upper bound on `at`.
    pub to: Option<DateTime<Utc>>,
}

/// Persistence of users and the audit trail.
pub trait UserRepository: Send + Sync + 'static {
    /// The atomic login upsert (one statement keyed on `firebase_uid`, plus the
    /// `patients` row for new users, in one transaction).
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn upsert_login(
        &self,
        profile: &LoginProfile,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<LoginUpsert, PortError>> + Send;

    /// The user with `id`, active or not.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn find(&self, id: UserId) -> impl Future<Output = Result<Option<User>, PortError>> + Send;

    /// Applies a non-empty profile patch; `None` when the user does not exist.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn update_profile(
        &self,
        id: UserId,
        patch: &ProfilePatch,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<User>, PortError>> + Send;

    /// Sets `is_onboarded` (idempotent); `None` when the user does not exist.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn mark_onboarded(
        &self,
        id: UserId,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<User>, PortError>> + Send;

    /// Deactivates the user and every push token of theirs in one transaction.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn deactivate(
        &self,
        id: UserId,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// One page of users, newest first (`created_at DESC, id DESC`): by number, or right after
    /// the request's key (`created_at`, `id`) when it has one. [`Page::next`] names the last
    /// row's key when more rows follow.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn list(
        &self,
        filter: &UserFilter,
        page: PageRequest,
    ) -> impl Future<Output = Result<Page<User>, PortError>> + Send;

    /// Applies an admin change under a row lock, ensuring the `patients`/`admins` row of a new
    /// role, deactivating push tokens when deactivating, and writing the `user.update` audit
    /// event with before/after, all in one transaction.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn admin_update(
        &self,
        target: UserId,
        change: AdminUserChange,
        audit: &AuditContext,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<AdminUpdateOutcome, PortError>> + Send;

    /// One page of audit events, newest first (`at DESC, id DESC`).
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn list_audit(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> impl Future<Output = Result<Page<AuditEvent>, PortError>> + Send;
}

/// The user cache (`v2:user:{id}`). Fails open: errors are misses and skipped writes, which the
/// adapter logs and counts; callers never see them.
pub trait UserCache: Send + Sync + 'static {
    /// A cached row.
    fn get(&self, id: UserId) -> impl Future<Output = Option<User>> + Send;
    /// Stores a row for the configured TTL.
    fn put(&self, user: &User) -> impl Future<Output = ()> + Send;
    /// Drops the cached row (after a commit that changed it).
    fn invalidate(&self, id: UserId) -> impl Future<Output = ()> + Send;
}

/// Server-side refresh sessions.
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a new session (hash + user set, atomically) for `ttl`.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the store cannot be reached.
    fn create(
        &self,
        session: &Session,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// The rotation script: checks `user_id` and the presented `jti`, stores `new_jti`, resets
    /// the TTL; a stale `jti` deletes the session (`Reused`).
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the store cannot be reached.
    fn rotate(
        &self,
        sid: uuid::Uuid,
        user_id: UserId,
        presented_jti: uuid::Uuid,
        new_jti: uuid::Uuid,
        now_unix: i64,
        ttl: Duration,
    ) -> impl Future<Output = Result<RotateOutcome, PortError>> + Send;

    /// The session with `sid` of `user_id`, when it exists (a session of another user is
    /// `None`: stores keep a user's sessions together).
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the store cannot be reached.
    fn find(
        &self,
        sid: uuid::Uuid,
        user_id: UserId,
    ) -> impl Future<Output = Result<Option<Session>, PortError>> + Send;

    /// Deletes one session of `user_id`.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the store cannot be reached.
    fn revoke(
        &self,
        sid: uuid::Uuid,
        user_id: UserId,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Deletes every session of `user_id`.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the store cannot be reached.
    fn revoke_all(&self, user_id: UserId) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// Rate-limit policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RatePolicy {
    /// Every limited route not listed below.
    Default,
    /// Login, refresh, logout, logout-all.
    Auth,
    /// Admin sends and broadcasts.
    AdminSend,
    /// Environment conditions.
    Environment,
    /// Personal data exports (each reads a user's whole history).
    Export,
}

impl RatePolicy {
    /// The policy's name in keys, headers and metrics.
    pub const fn as_str(&self) -> &'static str {
        match self {
            RatePolicy::Default => "default",
            RatePolicy::Auth => "auth",
            RatePolicy::AdminSend => "admin_send",
            RatePolicy::Environment => "environment",
            RatePolicy::Export => "export",
        }
    }
}

/// Fixed-window request counters shared by every process.
pub trait RateLimiter: Send + Sync + 'static {
    /// Counts one request of `client` under `policy` in the minute `window` (Unix seconds / 60)
    /// and returns the count so far in that window.
    ///
    /// # Errors
    /// [`PortError`] when the counter store fails (callers then allow the request).
    fn hit(
        &self,
        policy: RatePolicy,
        client: &str,
        window: i64,
    ) -> impl Future<Output = Result<u64, PortError>> + Send;
}

/// The personal data of users across every table: erasure requests and their steps, the
/// export's pages, and the read audit.
pub trait PersonalDataStore: Send + Sync + 'static {
    /// Schedules the erasure of `user` at `due_at`, unless one exists, and in the same
    /// transaction deactivates the account and its push tokens and writes the
    /// `user.erasure.request` audit event (subject `user`). An existing pending request is
    /// returned unchanged.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn request_erasure(
        &self,
        user: UserId,
        requested_by: Option<UserId>,
        due_at: DateTime<Utc>,
        audit: &AuditContext,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<RequestErasureOutcome, PortError>> + Send;

    /// Deletes a pending erasure request of `user` that no worker holds at `now`, with a
    /// `user.erasure.cancel` audit event.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn cancel_erasure(
        &self,
        user: UserId,
        audit: &AuditContext,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<CancelErasureOutcome, PortError>> + Send;

    /// Claims the unfinished erasure due earliest (due at or before `now`, not leased by
    /// another worker) for `lease`, skipping rows other workers hold.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn claim_erasure(
        &self,
        now: DateTime<Utc>,
        lease: std::time::Duration,
    ) -> impl Future<Output = Result<Option<Erasure>, PortError>> + Send;

    /// In one transaction: replaces or removes every personal field of `user` in every table,
    /// deletes the user's notifications, deliveries, push tokens, outbox messages, preferences
    /// and idempotency records, and marks the request `records_erased`. Running it again
    /// changes nothing.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure (the transaction is rolled back).
    fn erase_records(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Marks the erasure of `user` done, with a `user.erasure.complete` audit event by the
    /// system (no personal data: the user id only).
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn finish_erasure(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// One page of `section` for `user`, rows after the key `after` (`None`: from the start),
    /// at most `limit` rows. [`ExportSection::Profile`] is one page of one object (or none
    /// when the user does not exist).
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn export_page(
        &self,
        user: UserId,
        section: ExportSection,
        after: Option<&str>,
        limit: u32,
    ) -> impl Future<Output = Result<ExportPage, PortError>> + Send;

    /// Writes one audit event recording a read.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    fn record_access(
        &self,
        record: &AuditRecord,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// What the fast stores keep about a user outside the database: sessions, the cached account
/// row, the live event log.
pub trait PersonalTraces: Send + Sync + 'static {
    /// The user's live sessions.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the store cannot be reached.
    fn sessions(
        &self,
        user: UserId,
    ) -> impl Future<Output = Result<Vec<Session>, PortError>> + Send;

    /// Deletes every session, the cached row and the event log of `user` (idempotent).
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the store cannot be reached.
    fn purge(&self, user: UserId) -> impl Future<Output = Result<(), PortError>> + Send;
}
