//! In-memory fakes of the identity ports, for unit tests here and handler tests in the server:
//! each behaves like its real adapter (same outcomes and error variants for the same situations),
//! and the [`contract`] checks run against fakes and adapters alike so the two cannot drift.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use medico24_kernel::paging::SeekKey;
use medico24_kernel::{Page, PageRequest, Role, UserId};

use crate::model::{
    Actor, AuditContext, AuditEvent, FirebaseIdentity, LoginProfile, LoginUpsert, RotateOutcome,
    Session, User,
};
use crate::ports::{
    AccessClaims, AdminUpdateOutcome, AdminUserChange, AuditFilter, IdTokenError, IdTokenVerifier,
    InvalidToken, PortError, ProfilePatch, RateLimiter, RatePolicy, RefreshClaims, SessionStore,
    TokenSigner, UserCache, UserFilter, UserRepository,
};

/// Locks a fake's state; a test that panicked while holding it must not hide the state from the
/// assertions of the next one.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One page of an already filtered and ordered listing, with the total over all pages.
fn page_of<T>(rows: Vec<T>, request: PageRequest) -> Page<T> {
    let total = u64::try_from(rows.len()).unwrap_or(u64::MAX);
    let offset = usize::try_from(request.offset()).unwrap_or(usize::MAX);
    let size = usize::try_from(request.page_size()).unwrap_or(usize::MAX);
    Page {
        items: rows.into_iter().skip(offset).take(size).collect(),
        total,
        request,
        next: None,
    }
}

/// A user row as a first login would store it (active patient, not onboarded, `google`, signed
/// in at `now`) with the given `email` and `role`; a fixture for [`InMemoryUsers::insert`].
pub fn user_row(email: &str, role: Role, now: DateTime<Utc>) -> User {
    User {
        id: UserId::new_v7(),
        firebase_uid: format!("firebase-{}", uuid::Uuid::new_v4().simple()),
        email: email.to_owned(),
        email_verified: true,
        auth_provider: "google".to_owned(),
        full_name: Some(email.to_owned()),
        given_name: None,
        family_name: None,
        photo_url: None,
        phone: None,
        role,
        is_active: true,
        is_onboarded: false,
        created_at: now,
        updated_at: now,
        last_login_at: Some(now),
    }
}

/// Verified claims with a uid, a verified email and nothing else; a fixture for
/// [`FakeIdTokens::accept`].
pub fn firebase_identity(uid: &str, email: &str) -> FirebaseIdentity {
    FirebaseIdentity {
        uid: uid.to_owned(),
        email: Some(email.to_owned()),
        email_verified: Some(true),
        name: None,
        picture: None,
        given_name: None,
        family_name: None,
    }
}

// ---------------------------------------------------------------------------------------------
// UserRepository
// ---------------------------------------------------------------------------------------------

/// The `users` and `audit_events` tables in memory, with the semantics of the PostgreSQL adapter.
///
/// Clones share one state, so a test keeps a handle for assertions after handing one to a
/// service. The fake does not model the `patients`/`admins` role rows.
#[derive(Debug, Clone, Default)]
pub struct InMemoryUsers {
    state: Arc<Mutex<UsersState>>,
}

#[derive(Debug, Default)]
struct UsersState {
    rows: HashMap<UserId, User>,
    audit: Vec<AuditEvent>,
    tokens_deactivated_for: Vec<UserId>,
    unavailable: bool,
    calls: usize,
}

impl InMemoryUsers {
    /// An empty repository.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `user` as is (replacing a row with the same id), bypassing the port; returns it.
    pub fn insert(&self, user: User) -> User {
        lock(&self.state).rows.insert(user.id, user.clone());
        user
    }

    /// The stored row with `id`, read without going through the port (ignores the failure switch).
    pub fn get(&self, id: UserId) -> Option<User> {
        lock(&self.state).rows.get(&id).cloned()
    }

    /// Every stored row, oldest first.
    pub fn all(&self) -> Vec<User> {
        let mut rows: Vec<User> = lock(&self.state).rows.values().cloned().collect();
        rows.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        rows
    }

    /// Deletes the row with `id` (as an operator might), returning it.
    pub fn remove(&self, id: UserId) -> Option<User> {
        lock(&self.state).rows.remove(&id)
    }

    /// Every audit event written so far, in the order written.
    pub fn audit_events(&self) -> Vec<AuditEvent> {
        lock(&self.state).audit.clone()
    }

    /// The users whose push tokens were deactivated (by `deactivate` or an admin deactivation),
    /// once per deactivation, in order.
    pub fn push_tokens_deactivated_for(&self) -> Vec<UserId> {
        lock(&self.state).tokens_deactivated_for.clone()
    }

    /// While `on`, every port call fails with [`PortError::Unavailable`] and writes nothing.
    pub fn fail_with_unavailable(&self, on: bool) {
        lock(&self.state).unavailable = on;
    }

    /// Port calls made so far, failed ones included.
    pub fn calls(&self) -> usize {
        lock(&self.state).calls
    }

    /// Counts a port call and takes the state, unless the database is "down".
    fn enter(&self) -> Result<MutexGuard<'_, UsersState>, PortError> {
        let mut state = lock(&self.state);
        state.calls += 1;
        if state.unavailable {
            return Err(PortError::Unavailable(
                "database unavailable (simulated)".to_owned(),
            ));
        }
        Ok(state)
    }
}

fn matches_user(user: &User, filter: &UserFilter, needle: Option<&str>) -> bool {
    filter.role.is_none_or(|role| user.role == role)
        && filter
            .is_active
            .is_none_or(|active| user.is_active == active)
        && needle.is_none_or(|needle| {
            user.email.to_lowercase().contains(needle)
                || user
                    .full_name
                    .as_deref()
                    .is_some_and(|name| name.to_lowercase().contains(needle))
        })
}

fn matches_audit(event: &AuditEvent, filter: &AuditFilter) -> bool {
    filter
        .actor_user_id
        .is_none_or(|actor| event.actor_user_id == Some(actor))
        && filter
            .action
            .as_ref()
            .is_none_or(|action| &event.action == action)
        && filter
            .resource_type
            .as_ref()
            .is_none_or(|kind| &event.resource_type == kind)
        && filter
            .resource_id
            .as_deref()
            .is_none_or(|id| event.resource_id.as_deref() == Some(id))
        && filter
            .subject_id
            .is_none_or(|subject| event.subject_ids.contains(&subject))
        && filter.from.is_none_or(|from| event.at >= from)
        && filter.to.is_none_or(|to| event.at <= to)
}

fn apply_patch(field: &mut Option<String>, change: &Option<Option<String>>) {
    if let Some(value) = change {
        field.clone_from(value);
    }
}

fn refresh_when_given(field: &mut Option<String>, claim: Option<&str>) {
    if let Some(value) = claim {
        *field = Some(value.to_owned());
    }
}

impl UserRepository for InMemoryUsers {
    async fn upsert_login(
        &self,
        profile: &LoginProfile,
        now: DateTime<Utc>,
    ) -> Result<LoginUpsert, PortError> {
        let mut state = self.enter()?;
        if let Some(row) = state
            .rows
            .values_mut()
            .find(|row| row.firebase_uid == profile.firebase_uid)
        {
            // `ON CONFLICT … DO UPDATE … WHERE users.is_active`: an inactive row is left alone.
            if !row.is_active {
                return Ok(LoginUpsert::Deactivated);
            }
            row.email.clone_from(&profile.email);
            row.email_verified = profile.email_verified;
            refresh_when_given(&mut row.full_name, profile.full_name.as_deref());
            refresh_when_given(&mut row.photo_url, profile.photo_url.as_deref());
            refresh_when_given(&mut row.given_name, profile.given_name.as_deref());
            refresh_when_given(&mut row.family_name, profile.family_name.as_deref());
            row.last_login_at = Some(now);
            row.updated_at = now;
            return Ok(LoginUpsert::Active(row.clone()));
        }
        let user = User {
            id: UserId::new_v7(),
            firebase_uid: profile.firebase_uid.clone(),
            email: profile.email.clone(),
            email_verified: profile.email_verified,
            auth_provider: "google".to_owned(),
            full_name: Some(
                profile
                    .full_name
                    .clone()
                    .unwrap_or_else(|| profile.email.clone()),
            ),
            given_name: profile.given_name.clone(),
            family_name: profile.family_name.clone(),
            photo_url: profile.photo_url.clone(),
            phone: None,
            role: Role::Patient,
            is_active: true,
            is_onboarded: false,
            created_at: now,
            updated_at: now,
            last_login_at: Some(now),
        };
        state.rows.insert(user.id, user.clone());
        Ok(LoginUpsert::Active(user))
    }

    async fn find(&self, id: UserId) -> Result<Option<User>, PortError> {
        Ok(self.enter()?.rows.get(&id).cloned())
    }

    async fn update_profile(
        &self,
        id: UserId,
        patch: &ProfilePatch,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, PortError> {
        let mut state = self.enter()?;
        // The port takes non-empty patches only; Diesel refuses an empty changeset likewise.
        if patch.is_empty() {
            return Err(PortError::Unexpected(
                "empty profile patch: no changes to save".to_owned(),
            ));
        }
        let Some(row) = state.rows.get_mut(&id) else {
            return Ok(None);
        };
        apply_patch(&mut row.full_name, &patch.full_name);
        apply_patch(&mut row.given_name, &patch.given_name);
        apply_patch(&mut row.family_name, &patch.family_name);
        apply_patch(&mut row.photo_url, &patch.photo_url);
        apply_patch(&mut row.phone, &patch.phone);
        row.updated_at = now;
        Ok(Some(row.clone()))
    }

    async fn mark_onboarded(
        &self,
        id: UserId,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, PortError> {
        let mut state = self.enter()?;
        let Some(row) = state.rows.get_mut(&id) else {
            return Ok(None);
        };
        row.is_onboarded = true;
        row.updated_at = now;
        Ok(Some(row.clone()))
    }

    async fn deactivate(&self, id: UserId, now: DateTime<Utc>) -> Result<(), PortError> {
        let mut state = self.enter()?;
        let Some(row) = state.rows.get_mut(&id) else {
            // `UPDATE … WHERE id = $1` matching no row is not an error.
            return Ok(());
        };
        row.is_active = false;
        row.updated_at = now;
        state.tokens_deactivated_for.push(id);
        Ok(())
    }

    async fn list(&self, filter: &UserFilter, page: PageRequest) -> Result<Page<User>, PortError> {
        let state = self.enter()?;
        let needle = filter.search.as_deref().map(str::to_lowercase);
        let mut rows: Vec<User> = state
            .rows
            .values()
            .filter(|user| matches_user(user, filter, needle.as_deref()))
            .cloned()
            .collect();
        rows.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(Page::from_sorted(rows, page, |user| SeekKey {
            at: user.created_at,
            id: user.id.as_uuid(),
        }))
    }

    async fn admin_update(
        &self,
        target: UserId,
        change: AdminUserChange,
        audit: &AuditContext,
        now: DateTime<Utc>,
    ) -> Result<AdminUpdateOutcome, PortError> {
        let mut state = self.enter()?;
        let Some(row) = state.rows.get_mut(&target) else {
            return Ok(AdminUpdateOutcome::NotFound);
        };
        let before = row.clone();
        let role = change.role.unwrap_or(before.role);
        let is_active = change.is_active.unwrap_or(before.is_active);
        if role == before.role && is_active == before.is_active {
            return Ok(AdminUpdateOutcome::Unchanged(before));
        }
        row.role = role;
        row.is_active = is_active;
        row.updated_at = now;
        let after = row.clone();
        if before.is_active && !after.is_active {
            state.tokens_deactivated_for.push(target);
        }
        let (actor_user_id, actor_type) = match audit.actor {
            Actor::User(id) => (Some(id), "user"),
            Actor::AdminSecret => (None, "admin_secret"),
            Actor::System => (None, "system"),
        };
        state.audit.push(AuditEvent {
            id: uuid::Uuid::now_v7(),
            actor_user_id,
            actor_type: actor_type.to_owned(),
            action: "user.update".to_owned(),
            resource_type: "user".to_owned(),
            resource_id: Some(target.to_string()),
            request_id: audit.request_id.clone(),
            ip: audit.ip.map(|ip| ip.to_string()),
            at: now,
            details: Some(serde_json::json!({
                "before": {"role": before.role.as_str(), "is_active": before.is_active},
                "after": {"role": after.role.as_str(), "is_active": after.is_active},
            })),
            subject_ids: vec![target],
        });
        Ok(AdminUpdateOutcome::Updated {
            before: Box::new(before),
            after: Box::new(after),
        })
    }

    async fn list_audit(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>, PortError> {
        let state = self.enter()?;
        let mut rows: Vec<AuditEvent> = state
            .audit
            .iter()
            .filter(|event| matches_audit(event, filter))
            .cloned()
            .collect();
        rows.sort_by(|a, b| b.at.cmp(&a.at).then(b.id.cmp(&a.id)));
        Ok(page_of(rows, page))
    }
}

// ---------------------------------------------------------------------------------------------
// UserCache
// ---------------------------------------------------------------------------------------------

/// What the user cache has been asked so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// `get` calls answered from the cache.
    pub hits: usize,
    /// `get` calls that found nothing (or hit an outage).
    pub misses: usize,
    /// Rows stored.
    pub puts: usize,
    /// Rows dropped by `invalidate` (calls for absent rows included, outages excluded).
    pub invalidations: usize,
}

/// The `v2:user:{id}` cache in memory. Rows are stored as JSON, as the Redis adapter does, so a
/// row that does not survive serialization shows up as a miss. TTLs are not modelled.
///
/// During a simulated outage the cache fails open like the adapter: every `get` misses, and
/// `put` and `invalidate` do nothing (a row cached before the outage stays cached).
#[derive(Debug, Clone, Default)]
pub struct InMemoryUserCache {
    state: Arc<Mutex<CacheState>>,
}

#[derive(Debug, Default)]
struct CacheState {
    entries: HashMap<UserId, String>,
    down: bool,
    stats: CacheStats,
}

impl InMemoryUserCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// While `on`, the cache behaves as if Redis were unreachable.
    pub fn simulate_outage(&self, on: bool) {
        lock(&self.state).down = on;
    }

    /// Counters of every call so far.
    pub fn stats(&self) -> CacheStats {
        lock(&self.state).stats
    }

    /// `get` calls answered from the cache.
    pub fn hits(&self) -> usize {
        lock(&self.state).stats.hits
    }

    /// `get` calls that found nothing.
    pub fn misses(&self) -> usize {
        lock(&self.state).stats.misses
    }

    /// The cached row for `id`, read without counting (ignores the outage switch).
    pub fn cached(&self, id: UserId) -> Option<User> {
        let state = lock(&self.state);
        state
            .entries
            .get(&id)
            .and_then(|json| serde_json::from_str(json).ok())
    }
}

impl UserCache for InMemoryUserCache {
    async fn get(&self, id: UserId) -> Option<User> {
        let mut state = lock(&self.state);
        let found = if state.down {
            None
        } else {
            state
                .entries
                .get(&id)
                .and_then(|json| serde_json::from_str::<User>(json).ok())
        };
        if found.is_some() {
            state.stats.hits += 1;
        } else {
            state.stats.misses += 1;
        }
        found
    }

    async fn put(&self, user: &User) {
        let mut state = lock(&self.state);
        if state.down {
            return;
        }
        if let Ok(json) = serde_json::to_string(user) {
            state.entries.insert(user.id, json);
            state.stats.puts += 1;
        }
    }

    async fn invalidate(&self, id: UserId) {
        let mut state = lock(&self.state);
        if state.down {
            return;
        }
        state.entries.remove(&id);
        state.stats.invalidations += 1;
    }
}

// ---------------------------------------------------------------------------------------------
// SessionStore
// ---------------------------------------------------------------------------------------------

/// The Redis session keys in memory: one entry per `v2:auth:session:{sid}` and one set
/// of sids per `v2:auth:user_sessions:{user_id}`. TTLs are recorded, not enforced; use
/// [`InMemorySessions::expire`] to let one run out.
#[derive(Debug, Clone, Default)]
pub struct InMemorySessions {
    state: Arc<Mutex<SessionsState>>,
}

#[derive(Debug, Default)]
struct SessionsState {
    sessions: HashMap<uuid::Uuid, StoredSession>,
    user_sets: HashMap<UserId, BTreeSet<uuid::Uuid>>,
    unavailable: bool,
    calls: usize,
}

#[derive(Debug, Clone)]
struct StoredSession {
    session: Session,
    ttl: Duration,
}

impl SessionsState {
    fn delete(&mut self, sid: uuid::Uuid) {
        if let Some(stored) = self.sessions.remove(&sid)
            && let Some(set) = self.user_sets.get_mut(&stored.session.user_id)
        {
            set.remove(&sid);
            if set.is_empty() {
                self.user_sets.remove(&stored.session.user_id);
            }
        }
    }
}

impl InMemorySessions {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// While `on`, every port call fails with [`PortError::Unavailable`] and writes nothing.
    pub fn fail_with_unavailable(&self, on: bool) {
        lock(&self.state).unavailable = on;
    }

    /// Port calls made so far, failed ones included.
    pub fn calls(&self) -> usize {
        lock(&self.state).calls
    }

    /// Every live session, oldest first.
    pub fn sessions(&self) -> Vec<Session> {
        let mut sessions: Vec<Session> = lock(&self.state)
            .sessions
            .values()
            .map(|stored| stored.session.clone())
            .collect();
        sessions.sort_by_key(|session| (session.created_at, session.sid));
        sessions
    }

    /// The live sessions of `user`, oldest first.
    pub fn sessions_of(&self, user: UserId) -> Vec<Session> {
        self.sessions()
            .into_iter()
            .filter(|session| session.user_id == user)
            .collect()
    }

    /// The session with `sid`, read without going through the port.
    pub fn session(&self, sid: uuid::Uuid) -> Option<Session> {
        lock(&self.state)
            .sessions
            .get(&sid)
            .map(|stored| stored.session.clone())
    }

    /// The TTL last given to the session with `sid`.
    pub fn ttl(&self, sid: uuid::Uuid) -> Option<Duration> {
        lock(&self.state)
            .sessions
            .get(&sid)
            .map(|stored| stored.ttl)
    }

    /// Lets the session's key expire as Redis would: the hash goes, the sid stays in the user's
    /// set (pruned lazily). Returns whether the session existed.
    pub fn expire(&self, sid: uuid::Uuid) -> bool {
        lock(&self.state).sessions.remove(&sid).is_some()
    }

    /// Counts a port call and takes the state, unless the store is "down".
    fn enter(&self) -> Result<MutexGuard<'_, SessionsState>, PortError> {
        let mut state = lock(&self.state);
        state.calls += 1;
        if state.unavailable {
            return Err(PortError::Unavailable(
                "session store unavailable (simulated)".to_owned(),
            ));
        }
        Ok(state)
    }
}

impl SessionStore for InMemorySessions {
    async fn create(&self, session: &Session, ttl: Duration) -> Result<(), PortError> {
        let mut state = self.enter()?;
        state.sessions.insert(
            session.sid,
            StoredSession {
                session: session.clone(),
                ttl,
            },
        );
        state
            .user_sets
            .entry(session.user_id)
            .or_default()
            .insert(session.sid);
        Ok(())
    }

    async fn rotate(
        &self,
        sid: uuid::Uuid,
        user_id: UserId,
        presented_jti: uuid::Uuid,
        new_jti: uuid::Uuid,
        now_unix: i64,
        ttl: Duration,
    ) -> Result<RotateOutcome, PortError> {
        let mut state = self.enter()?;
        let Some(stored) = state.sessions.get_mut(&sid) else {
            return Ok(RotateOutcome::Revoked);
        };
        if stored.session.user_id != user_id {
            // Sessions are kept per user: another user's session is not found.
            return Ok(RotateOutcome::Revoked);
        }
        if stored.session.jti != presented_jti {
            state.delete(sid);
            return Ok(RotateOutcome::Reused);
        }
        stored.session.jti = new_jti;
        stored.session.refreshed_at = now_unix;
        stored.ttl = ttl;
        Ok(RotateOutcome::Rotated)
    }

    async fn find(&self, sid: uuid::Uuid, user_id: UserId) -> Result<Option<Session>, PortError> {
        Ok(self
            .enter()?
            .sessions
            .get(&sid)
            .filter(|stored| stored.session.user_id == user_id)
            .map(|stored| stored.session.clone()))
    }

    async fn revoke(&self, sid: uuid::Uuid, user_id: UserId) -> Result<(), PortError> {
        let mut state = self.enter()?;
        // Only a session of `user_id` is deleted: a sid of another user is left alone.
        if state
            .sessions
            .get(&sid)
            .is_some_and(|stored| stored.session.user_id == user_id)
        {
            state.delete(sid);
        } else if let Some(set) = state.user_sets.get_mut(&user_id) {
            // `SREM` of an expired member.
            set.remove(&sid);
        }
        Ok(())
    }

    async fn revoke_all(&self, user_id: UserId) -> Result<(), PortError> {
        let mut state = self.enter()?;
        for sid in state.user_sets.remove(&user_id).unwrap_or_default() {
            state.sessions.remove(&sid);
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// IdTokenVerifier
// ---------------------------------------------------------------------------------------------

/// A Firebase ID-token verifier answering from a table the test fills; any other token is
/// [`IdTokenError::Invalid`]`("unknown token")`.
#[derive(Debug, Clone, Default)]
pub struct FakeIdTokens {
    state: Arc<Mutex<IdTokensState>>,
}

#[derive(Debug, Default)]
struct IdTokensState {
    answers: HashMap<String, Result<FirebaseIdentity, IdTokenError>>,
    calls: usize,
}

impl FakeIdTokens {
    /// A verifier that knows no token.
    pub fn new() -> Self {
        Self::default()
    }

    /// `token` verifies to `identity`.
    pub fn accept(&self, token: &str, identity: FirebaseIdentity) {
        lock(&self.state)
            .answers
            .insert(token.to_owned(), Ok(identity));
    }

    /// `token` fails verification with `error`.
    pub fn refuse(&self, token: &str, error: IdTokenError) {
        lock(&self.state)
            .answers
            .insert(token.to_owned(), Err(error));
    }

    /// `verify` calls made so far.
    pub fn calls(&self) -> usize {
        lock(&self.state).calls
    }
}

impl IdTokenVerifier for FakeIdTokens {
    async fn verify(&self, id_token: &str) -> Result<FirebaseIdentity, IdTokenError> {
        let mut state = lock(&self.state);
        state.calls += 1;
        state
            .answers
            .get(id_token)
            .cloned()
            .unwrap_or(Err(IdTokenError::Invalid("unknown token")))
    }
}

// ---------------------------------------------------------------------------------------------
// TokenSigner
// ---------------------------------------------------------------------------------------------

/// Seconds an expired token is still accepted.
pub const LEEWAY_SECONDS: i64 = 10;

/// A deterministic stand-in for the JWT signer. Tokens are readable strings,
/// `access|<sub>|<jti>|<exp>` and `refresh|<sub>|<sid>|<jti>|<exp>` (`exp` in Unix seconds), and
/// are validated like the JWTs: the kind must match (the real tokens use different keys), `jti`
/// and `sid` must be UUIDs, and `now ≤ exp + 10 s`. Anything else is [`InvalidToken`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FakeTokens {
    access_ttl: Duration,
    refresh_ttl: Duration,
}

impl Default for FakeTokens {
    fn default() -> Self {
        Self {
            access_ttl: Duration::from_secs(30 * 60),
            refresh_ttl: Duration::from_secs(7 * 24 * 60 * 60),
        }
    }
}

fn expiry(now: DateTime<Utc>, ttl: Duration) -> i64 {
    now.timestamp()
        .saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX))
}

fn still_valid(exp: &str, now: DateTime<Utc>) -> Result<(), InvalidToken> {
    let exp: i64 = exp.parse().map_err(|_| InvalidToken)?;
    if now.timestamp() > exp.saturating_add(LEEWAY_SECONDS) {
        return Err(InvalidToken);
    }
    Ok(())
}

impl FakeTokens {
    /// Access tokens for 30 minutes, refresh tokens for 7 days.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same signer with another refresh-token lifetime.
    #[must_use]
    pub fn with_refresh_ttl(self, ttl: Duration) -> Self {
        Self {
            refresh_ttl: ttl,
            ..self
        }
    }

    /// Access-token lifetime.
    pub fn access_ttl(&self) -> Duration {
        self.access_ttl
    }

    /// An access token with any `sub` (a UUID or not) expiring at `exp`, for tests that need a
    /// token the service would never issue.
    pub fn mint_access(sub: &str, jti: uuid::Uuid, exp: DateTime<Utc>) -> String {
        format!("access|{sub}|{jti}|{}", exp.timestamp())
    }

    /// A refresh token with any `sub`, `sid` and `jti`, expiring at `exp`.
    pub fn mint_refresh(sub: &str, sid: uuid::Uuid, jti: uuid::Uuid, exp: DateTime<Utc>) -> String {
        format!("refresh|{sub}|{sid}|{jti}|{}", exp.timestamp())
    }
}

impl TokenSigner for FakeTokens {
    fn issue_access(&self, user: UserId, now: DateTime<Utc>) -> String {
        let exp = expiry(now, self.access_ttl);
        format!("access|{user}|{}|{exp}", uuid::Uuid::new_v4())
    }

    fn issue_refresh(
        &self,
        user: UserId,
        sid: uuid::Uuid,
        jti: uuid::Uuid,
        now: DateTime<Utc>,
    ) -> String {
        let exp = expiry(now, self.refresh_ttl);
        format!("refresh|{user}|{sid}|{jti}|{exp}")
    }

    fn verify_access(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, InvalidToken> {
        let ["access", sub, jti, exp] = token.split('|').collect::<Vec<_>>()[..] else {
            return Err(InvalidToken);
        };
        uuid::Uuid::parse_str(jti).map_err(|_| InvalidToken)?;
        still_valid(exp, now)?;
        let expires_at = exp
            .parse::<i64>()
            .ok()
            .and_then(|exp| DateTime::from_timestamp(exp, 0))
            .ok_or(InvalidToken)?;
        Ok(AccessClaims {
            sub: sub.to_owned(),
            expires_at,
        })
    }

    fn verify_refresh(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<RefreshClaims, InvalidToken> {
        let ["refresh", sub, sid, jti, exp] = token.split('|').collect::<Vec<_>>()[..] else {
            return Err(InvalidToken);
        };
        let sid = uuid::Uuid::parse_str(sid).map_err(|_| InvalidToken)?;
        let jti = uuid::Uuid::parse_str(jti).map_err(|_| InvalidToken)?;
        still_valid(exp, now)?;
        Ok(RefreshClaims {
            sub: sub.to_owned(),
            jti,
            sid,
        })
    }

    fn refresh_ttl(&self) -> Duration {
        self.refresh_ttl
    }
}

// ---------------------------------------------------------------------------------------------
// RateLimiter
// ---------------------------------------------------------------------------------------------

/// Fixed-window counters in memory, keyed like the Redis adapter's (policy, client, window).
/// Windows never expire; a test moves to the next window by moving its clock.
#[derive(Debug, Clone, Default)]
pub struct InMemoryRateLimiter {
    state: Arc<Mutex<RateState>>,
}

#[derive(Debug, Default)]
struct RateState {
    counts: HashMap<(RatePolicy, String, i64), u64>,
    unavailable: bool,
}

impl InMemoryRateLimiter {
    /// No requests counted yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// While `on`, every `hit` fails with [`PortError::Unavailable`] and counts nothing.
    pub fn fail_with_unavailable(&self, on: bool) {
        lock(&self.state).unavailable = on;
    }

    /// Requests counted for `client` under `policy` in `window`.
    pub fn count(&self, policy: RatePolicy, client: &str, window: i64) -> u64 {
        lock(&self.state)
            .counts
            .get(&(policy, client.to_owned(), window))
            .copied()
            .unwrap_or(0)
    }
}

impl RateLimiter for InMemoryRateLimiter {
    async fn hit(&self, policy: RatePolicy, client: &str, window: i64) -> Result<u64, PortError> {
        let mut state = lock(&self.state);
        if state.unavailable {
            return Err(PortError::Unavailable(
                "rate limiter unavailable (simulated)".to_owned(),
            ));
        }
        let count = state
            .counts
            .entry((policy, client.to_owned(), window))
            .or_insert(0);
        *count += 1;
        Ok(*count)
    }
}

// ---------------------------------------------------------------------------------------------
// Contract checks
// ---------------------------------------------------------------------------------------------

/// Behaviour every implementation of a port must show, checked against the fakes here and
/// against the real adapters in their own tests, so the two cannot drift. Each check panics with
/// a message naming the broken rule; each uses fresh random ids and emails, so it may run on a
/// store shared with other tests.
pub mod contract {
    use std::time::Duration;

    use chrono::{DateTime, Utc};
    use medico24_kernel::{PageRequest, Role, UserId};

    use crate::model::{Actor, AuditContext, LoginProfile, LoginUpsert, RotateOutcome, Session};
    use crate::ports::{
        AdminUpdateOutcome, AdminUserChange, AuditFilter, PortError, ProfilePatch, SessionStore,
        UserFilter, UserRepository,
    };

    fn ok<T>(result: Result<T, PortError>, what: &str) -> T {
        match result {
            Ok(value) => value,
            Err(error) => panic!("{what}: unexpected port error: {error}"),
        }
    }

    /// Sessions: create, rotate (`Rotated`, `Reused` deleting the session, `Invalid` for another
    /// user, `Revoked` when missing), revoke one (only the owner's), revoke all (only the
    /// owner's).
    ///
    /// # Panics
    /// When the store breaks one of these rules or returns a [`PortError`].
    pub async fn session_store<S: SessionStore>(store: &S) {
        let ttl = Duration::from_secs(3600);
        let alice = UserId::new_v7();
        let bob = UserId::new_v7();
        let session = |user| Session {
            sid: uuid::Uuid::new_v4(),
            user_id: user,
            jti: uuid::Uuid::new_v4(),
            created_at: 1_700_000_000,
            refreshed_at: 1_700_000_000,
        };
        let first = session(alice);
        let second = session(alice);
        let bobs = session(bob);
        for s in [&first, &second, &bobs] {
            ok(store.create(s, ttl).await, "create");
        }
        assert_eq!(
            ok(store.find(first.sid, first.user_id).await, "find"),
            Some(first.clone()),
            "find returns the session as created"
        );
        assert_eq!(
            ok(store.find(uuid::Uuid::new_v4(), alice).await, "find"),
            None,
            "find of an unknown sid is None"
        );
        assert_eq!(
            ok(store.find(first.sid, bob).await, "find"),
            None,
            "find of another user's session is None"
        );

        let new_jti = uuid::Uuid::new_v4();
        let rotate =
            |sid, user, presented, new| store.rotate(sid, user, presented, new, 1_700_000_100, ttl);
        assert_eq!(
            ok(rotate(first.sid, bob, first.jti, new_jti).await, "rotate"),
            RotateOutcome::Revoked,
            "another user's session is not found (and stays untouched)"
        );
        assert_eq!(
            ok(rotate(first.sid, alice, first.jti, new_jti).await, "rotate"),
            RotateOutcome::Rotated,
            "rotating with the current jti succeeds"
        );
        let rotated = ok(store.find(first.sid, first.user_id).await, "find");
        assert_eq!(
            rotated
                .as_ref()
                .map(|s| (s.jti, s.refreshed_at, s.created_at)),
            Some((new_jti, 1_700_000_100, first.created_at)),
            "rotation stores the new jti and refreshed_at, keeping created_at"
        );
        assert_eq!(
            ok(
                rotate(first.sid, alice, first.jti, uuid::Uuid::new_v4()).await,
                "rotate"
            ),
            RotateOutcome::Reused,
            "presenting a retired jti is Reused"
        );
        assert_eq!(
            ok(store.find(first.sid, first.user_id).await, "find"),
            None,
            "reuse deletes the session"
        );
        assert_eq!(
            ok(
                rotate(first.sid, alice, new_jti, uuid::Uuid::new_v4()).await,
                "rotate"
            ),
            RotateOutcome::Revoked,
            "after reuse even the newest jti is Revoked"
        );

        ok(store.revoke(second.sid, bob).await, "revoke");
        assert!(
            ok(store.find(second.sid, second.user_id).await, "find").is_some(),
            "revoke leaves another user's session alone"
        );
        ok(store.revoke(second.sid, alice).await, "revoke");
        assert_eq!(
            ok(store.find(second.sid, second.user_id).await, "find"),
            None,
            "revoke deletes the owner's session"
        );
        ok(
            store.revoke(second.sid, alice).await,
            "revoking a missing session is not an error",
        );

        let third = session(alice);
        let fourth = session(alice);
        for s in [&third, &fourth] {
            ok(store.create(s, ttl).await, "create");
        }
        ok(store.revoke_all(alice).await, "revoke_all");
        assert_eq!(
            ok(store.find(third.sid, third.user_id).await, "find"),
            None,
            "revoke_all deletes every session of the user"
        );
        assert_eq!(
            ok(store.find(fourth.sid, fourth.user_id).await, "find"),
            None,
            "revoke_all deletes every session of the user"
        );
        assert_eq!(
            ok(store.find(bobs.sid, bobs.user_id).await, "find"),
            Some(bobs.clone()),
            "revoke_all spares other users"
        );
        ok(store.revoke_all(bob).await, "revoke_all");
    }

    /// Login upsert, profile patch, onboarding, deactivation, admin list, admin change and audit
    /// list as the repository sees them.
    /// `now` must have whole microseconds (the database's resolution).
    ///
    /// # Panics
    /// When the repository breaks one of these rules or returns a [`PortError`].
    pub async fn user_repository<R: UserRepository>(repo: &R, now: DateTime<Utc>) {
        let marker = uuid::Uuid::new_v4().simple().to_string();
        let email = format!("contract-{marker}@example.com");
        let profile = LoginProfile {
            firebase_uid: format!("uid-{marker}"),
            email: email.clone(),
            email_verified: false,
            full_name: None,
            given_name: None,
            family_name: None,
            photo_url: None,
        };
        let LoginUpsert::Active(created) =
            ok(repo.upsert_login(&profile, now).await, "upsert_login")
        else {
            panic!("a first login creates an active row");
        };
        assert_eq!(
            created.full_name.as_deref(),
            Some(email.as_str()),
            "a new row without a name is named by its email"
        );
        assert_eq!(
            (
                created.role,
                created.is_active,
                created.is_onboarded,
                created.auth_provider.as_str()
            ),
            (Role::Patient, true, false, "google"),
            "a new row is an active, not onboarded google patient"
        );
        assert_eq!(
            (
                created.created_at,
                created.updated_at,
                created.last_login_at
            ),
            (now, now, Some(now)),
            "a new row is stamped with now"
        );

        let later = now + chrono::Duration::minutes(5);
        let relogin = LoginProfile {
            email: format!("changed-{marker}@example.com"),
            email_verified: true,
            full_name: Some("Asha Verma".to_owned()),
            photo_url: Some("https://example.com/a.png".to_owned()),
            ..profile.clone()
        };
        let LoginUpsert::Active(refreshed) =
            ok(repo.upsert_login(&relogin, later).await, "upsert_login")
        else {
            panic!("a second login of an active user refreshes the row");
        };
        assert_eq!(
            refreshed.id, created.id,
            "the upsert is keyed on firebase_uid"
        );
        assert_eq!(
            (
                refreshed.email.as_str(),
                refreshed.email_verified,
                refreshed.full_name.as_deref()
            ),
            (relogin.email.as_str(), true, Some("Asha Verma")),
            "email, email_verified and a given name are refreshed"
        );
        assert_eq!(
            (refreshed.created_at, refreshed.last_login_at),
            (now, Some(later)),
            "a refresh keeps created_at and stamps last_login_at"
        );
        // The store owns `updated_at` on updates (PostgreSQL stamps it with a trigger, from
        // its own clock): the rule is only that a refresh moves it on.
        assert!(
            refreshed.updated_at > created.updated_at,
            "a refresh stamps updated_at"
        );
        let LoginUpsert::Active(kept) =
            ok(repo.upsert_login(&profile, later).await, "upsert_login")
        else {
            panic!("a third login refreshes the row");
        };
        assert_eq!(
            kept.full_name.as_deref(),
            Some("Asha Verma"),
            "an absent name claim keeps the stored name"
        );
        assert_eq!(
            ok(repo.find(created.id).await, "find"),
            Some(kept.clone()),
            "find returns the stored row"
        );
        assert_eq!(
            ok(repo.find(UserId::new_v7()).await, "find"),
            None,
            "find of an unknown id is None"
        );

        let patch = ProfilePatch {
            full_name: Some(None),
            phone: Some(Some("+91 22 1234 5678".to_owned())),
            ..ProfilePatch::default()
        };
        let patched = ok(
            repo.update_profile(created.id, &patch, later).await,
            "update_profile",
        );
        assert_eq!(
            patched
                .as_ref()
                .map(|u| (u.full_name.clone(), u.phone.clone(), u.photo_url.clone())),
            Some((
                None,
                Some("+91 22 1234 5678".to_owned()),
                kept.photo_url.clone()
            )),
            "a patch clears with null, sets with a value and leaves absent members"
        );
        assert_eq!(
            ok(
                repo.update_profile(UserId::new_v7(), &patch, later).await,
                "update_profile"
            ),
            None,
            "patching an unknown user is None"
        );
        let onboarded = ok(
            repo.mark_onboarded(created.id, later).await,
            "mark_onboarded",
        );
        assert_eq!(
            onboarded.map(|u| u.is_onboarded),
            Some(true),
            "mark_onboarded sets the flag"
        );
        assert_eq!(
            ok(
                repo.mark_onboarded(UserId::new_v7(), later).await,
                "mark_onboarded"
            ),
            None,
            "unknown user"
        );

        let search = UserFilter {
            search: Some(marker.to_uppercase()),
            ..UserFilter::default()
        };
        let page = PageRequest::new(1, 10).unwrap_or_else(|_| unreachable!("1/10 is a valid page"));
        let listed = ok(repo.list(&search, page).await, "list");
        assert_eq!(
            (listed.total, listed.items.first().map(|u| u.id)),
            (1, Some(created.id)),
            "search is a case-insensitive substring of the email"
        );

        let audit = AuditContext {
            actor: Actor::AdminSecret,
            request_id: format!("req-{marker}"),
            ip: None,
        };
        let unchanged = ok(
            repo.admin_update(created.id, AdminUserChange::default(), &audit, later)
                .await,
            "admin_update",
        );
        assert!(
            matches!(unchanged, AdminUpdateOutcome::Unchanged(_)),
            "an empty change is Unchanged"
        );
        let change = AdminUserChange {
            role: Some(Role::Doctor),
            is_active: Some(false),
        };
        let outcome = ok(
            repo.admin_update(created.id, change, &audit, later).await,
            "admin_update",
        );
        let AdminUpdateOutcome::Updated { before, after } = outcome else {
            panic!("a real change is Updated");
        };
        assert_eq!(
            (before.role, before.is_active, after.role, after.is_active),
            (Role::Patient, true, Role::Doctor, false),
            "admin_update reports before and after"
        );
        let missing = ok(
            repo.admin_update(UserId::new_v7(), change, &audit, later)
                .await,
            "admin_update",
        );
        assert_eq!(
            missing,
            AdminUpdateOutcome::NotFound,
            "an unknown target is NotFound"
        );
        let events = ok(
            repo.list_audit(
                &AuditFilter {
                    resource_id: Some(created.id.to_string()),
                    ..AuditFilter::default()
                },
                page,
            )
            .await,
            "list_audit",
        );
        let [event] = &events.items[..] else {
            panic!(
                "one user.update event per real change, got {}",
                events.items.len()
            );
        };
        assert_eq!(
            (
                event.action.as_str(),
                event.resource_type.as_str(),
                event.actor_type.as_str(),
                event.actor_user_id
            ),
            ("user.update", "user", "admin_secret", None),
            "the audit event names the action, resource and actor"
        );
        assert_eq!(
            event.subject_ids,
            vec![created.id],
            "the changed user is the event's subject"
        );
        assert_eq!(
            event.details,
            Some(serde_json::json!({
                "before": {"role": "patient", "is_active": true},
                "after": {"role": "doctor", "is_active": false},
            })),
            "the audit details hold before and after"
        );
        assert_eq!(
            ok(repo.upsert_login(&profile, later).await, "upsert_login"),
            LoginUpsert::Deactivated,
            "an inactive user's login writes nothing and says Deactivated"
        );
        ok(
            repo.deactivate(UserId::new_v7(), later).await,
            "deactivating an unknown user is not an error",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<F: std::future::Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        match future
            .as_mut()
            .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
        {
            std::task::Poll::Ready(output) => output,
            std::task::Poll::Pending => panic!("the fakes never wait"),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_772_442_000, 0).unwrap()
    }

    #[test]
    fn the_in_memory_session_store_meets_the_session_store_contract() {
        run(contract::session_store(&InMemorySessions::new()));
    }

    #[test]
    fn the_in_memory_user_repository_meets_the_user_repository_contract() {
        let users = InMemoryUsers::new();
        run(contract::user_repository(&users, now()));
        assert_eq!(
            users.push_tokens_deactivated_for().len(),
            1,
            "the admin deactivation deactivated push tokens"
        );
    }

    #[test]
    fn an_expired_session_key_leaves_its_sid_to_be_pruned_by_revoke_all() {
        let sessions = InMemorySessions::new();
        let user = UserId::new_v7();
        let session = Session {
            sid: uuid::Uuid::new_v4(),
            user_id: user,
            jti: uuid::Uuid::new_v4(),
            created_at: 0,
            refreshed_at: 0,
        };
        run(sessions.create(&session, Duration::from_secs(60))).unwrap();
        assert!(sessions.expire(session.sid));
        assert_eq!(
            run(sessions.find(session.sid, session.user_id)).unwrap(),
            None
        );
        assert_eq!(
            run(sessions.rotate(
                session.sid,
                user,
                session.jti,
                uuid::Uuid::new_v4(),
                1,
                Duration::from_secs(60)
            ))
            .unwrap(),
            RotateOutcome::Revoked
        );
        run(sessions.revoke_all(user)).unwrap();
        assert!(sessions.sessions().is_empty());
    }

    #[test]
    fn fake_tokens_of_one_kind_are_refused_as_the_other_and_after_the_leeway() {
        let tokens = FakeTokens::new();
        let user = UserId::new_v7();
        let access = tokens.issue_access(user, now());
        let refresh = tokens.issue_refresh(user, uuid::Uuid::new_v4(), uuid::Uuid::new_v4(), now());
        assert_eq!(
            tokens.verify_access(&access, now()).map(|c| c.sub),
            Ok(user.to_string())
        );
        assert_eq!(tokens.verify_refresh(&access, now()), Err(InvalidToken));
        assert_eq!(tokens.verify_access(&refresh, now()), Err(InvalidToken));
        assert!(tokens.verify_refresh(&refresh, now()).is_ok());
        let expiry = now() + chrono::Duration::minutes(30);
        assert!(
            tokens
                .verify_access(&access, expiry + chrono::Duration::seconds(10))
                .is_ok()
        );
        assert_eq!(
            tokens.verify_access(&access, expiry + chrono::Duration::seconds(11)),
            Err(InvalidToken)
        );
        assert_eq!(tokens.verify_access("access|x|y", now()), Err(InvalidToken));
        assert_eq!(
            tokens.verify_refresh("refresh|u|not-a-sid|not-a-jti|99999999999", now()),
            Err(InvalidToken)
        );
        assert_ne!(
            tokens.issue_access(user, now()),
            access,
            "access tokens carry a fresh jti"
        );
    }

    #[test]
    fn the_rate_limiter_counts_per_policy_client_and_window() {
        let limiter = InMemoryRateLimiter::new();
        assert_eq!(
            run(limiter.hit(RatePolicy::Auth, "203.0.113.7", 100)).unwrap(),
            1
        );
        assert_eq!(
            run(limiter.hit(RatePolicy::Auth, "203.0.113.7", 100)).unwrap(),
            2
        );
        assert_eq!(
            run(limiter.hit(RatePolicy::Auth, "203.0.113.7", 101)).unwrap(),
            1
        );
        assert_eq!(
            run(limiter.hit(RatePolicy::Default, "203.0.113.7", 100)).unwrap(),
            1
        );
        limiter.fail_with_unavailable(true);
        assert!(matches!(
            run(limiter.hit(RatePolicy::Auth, "203.0.113.7", 100)),
            Err(PortError::Unavailable(_))
        ));
        assert_eq!(limiter.count(RatePolicy::Auth, "203.0.113.7", 100), 2);
    }

    #[test]
    fn the_cache_fails_open_during_an_outage_and_keeps_what_it_had() {
        let cache = InMemoryUserCache::new();
        let user = user_row("a@example.com", Role::Patient, now());
        run(cache.put(&user));
        cache.simulate_outage(true);
        assert_eq!(run(cache.get(user.id)), None);
        run(cache.invalidate(user.id));
        cache.simulate_outage(false);
        assert_eq!(run(cache.get(user.id)), Some(user));
        assert_eq!(
            cache.stats(),
            CacheStats {
                hits: 1,
                misses: 1,
                puts: 1,
                invalidations: 0
            }
        );
    }
}
