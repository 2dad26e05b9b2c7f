//! Unit tests of `IdentityService` over the in-memory fakes of its ports and a fixed clock.

use std::future::Future;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use medico24_kernel::{FixedClock, PageRequest, Role, UserId};

use crate::model::{Actor, AuditContext, FirebaseIdentity, User};
use crate::ports::{
    AdminUserChange, AuditFilter, IdTokenError, PortError, ProfilePatch, TokenSigner, UserCache,
    UserFilter,
};
use crate::service::{
    AdminUpdateUserError, AuthError, IdentityService, LoginError, LoginResult, RefreshError,
    TokenPair,
};
use crate::testing::{
    FakeIdTokens, FakeTokens, InMemorySessions, InMemoryUserCache, InMemoryUsers,
    firebase_identity, user_row,
};

type Service = IdentityService<
    InMemoryUsers,
    InMemoryUserCache,
    InMemorySessions,
    FakeIdTokens,
    FakeTokens,
    FixedClock,
>;

/// Drives a future to completion; the fakes never wait, so one poll suffices.
fn run<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the fakes never wait"),
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).single().unwrap()
}

/// The service and a handle on each of its fakes.
struct World {
    service: Service,
    users: InMemoryUsers,
    cache: InMemoryUserCache,
    sessions: InMemorySessions,
    id_tokens: FakeIdTokens,
    tokens: FakeTokens,
    clock: FixedClock,
}

fn world() -> World {
    let users = InMemoryUsers::new();
    let cache = InMemoryUserCache::new();
    let sessions = InMemorySessions::new();
    let id_tokens = FakeIdTokens::new();
    let tokens = FakeTokens::new();
    let clock = FixedClock::at(t0());
    let service = IdentityService::new(
        users.clone(),
        cache.clone(),
        sessions.clone(),
        id_tokens.clone(),
        tokens,
        clock.clone(),
    );
    World {
        service,
        users,
        cache,
        sessions,
        id_tokens,
        tokens,
        clock,
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn audit_by(admin: &User) -> AuditContext {
    AuditContext {
        actor: Actor::User(admin.id),
        request_id: "req-1".to_owned(),
        ip: Some("203.0.113.7".parse().unwrap()),
    }
}

fn page() -> PageRequest {
    PageRequest::new(1, 20).unwrap()
}

impl World {
    /// Logs in through the service with a Firebase token for `uid` / `email`.
    fn login(&self, uid: &str, email: &str) -> LoginResult {
        let token = format!("firebase-token-{uid}");
        self.id_tokens.accept(&token, firebase_identity(uid, email));
        run(self.service.login(&token)).unwrap()
    }

    /// Stores a user row directly.
    fn seed(&self, email: &str, role: Role) -> User {
        self.users.insert(user_row(email, role, self.clock_now()))
    }

    fn clock_now(&self) -> DateTime<Utc> {
        medico24_kernel::Clock::now(&self.clock)
    }

    /// A refresh token the service would have issued for `user`'s session `sid`.
    fn refresh_token_for(&self, user: UserId, sid: uuid::Uuid, jti: uuid::Uuid) -> String {
        self.tokens.issue_refresh(user, sid, jti, self.clock_now())
    }

    fn authenticate(&self, token: &str) -> Result<User, AuthError> {
        run(self.service.authenticate(Some(&bearer(token))))
    }
}

// ---------------------------------------------------------------------------------------------
// authenticate
// ---------------------------------------------------------------------------------------------

#[test]
fn a_missing_or_malformed_authorization_header_is_not_authenticated() {
    let w = world();
    for header in [
        None,
        Some(""),
        Some("Bearer"),
        Some("Bearer   "),
        Some("Basic abc"),
        Some("garbage"),
    ] {
        let result = run(w.service.authenticate(header));
        assert!(
            matches!(result, Err(AuthError::NotAuthenticated)),
            "{header:?} → {result:?}"
        );
    }
    assert_eq!(w.users.calls(), 0, "no lookup without credentials");
}

#[test]
fn a_garbage_bearer_token_is_invalid_credentials() {
    let w = world();
    assert!(matches!(
        w.authenticate("not-a-token"),
        Err(AuthError::InvalidCredentials)
    ));
    assert!(matches!(
        w.authenticate("access|x|y"),
        Err(AuthError::InvalidCredentials)
    ));
}

#[test]
fn a_refresh_token_used_as_a_bearer_token_is_invalid_credentials() {
    let w = world();
    let login = w.login("uid-1", "asha@example.com");
    assert!(matches!(
        w.authenticate(&login.tokens.refresh_token),
        Err(AuthError::InvalidCredentials)
    ));
}

#[test]
fn an_access_token_expired_beyond_the_ten_second_leeway_is_invalid_credentials() {
    let w = world();
    let login = w.login("uid-1", "asha@example.com");
    w.clock
        .advance(chrono::Duration::minutes(30) + chrono::Duration::seconds(11));
    assert!(matches!(
        w.authenticate(&login.tokens.access_token),
        Err(AuthError::InvalidCredentials)
    ));
}

#[test]
fn an_access_token_expired_within_the_leeway_still_authenticates() {
    let w = world();
    let login = w.login("uid-1", "asha@example.com");
    w.clock
        .advance(chrono::Duration::minutes(30) + chrono::Duration::seconds(10));
    assert_eq!(
        w.authenticate(&login.tokens.access_token).unwrap().id,
        login.user.id
    );
}

#[test]
fn an_access_token_whose_subject_is_not_a_uuid_is_an_invalid_user_id() {
    let w = world();
    let token = FakeTokens::mint_access(
        "42",
        uuid::Uuid::new_v4(),
        t0() + chrono::Duration::minutes(30),
    );
    assert!(matches!(
        w.authenticate(&token),
        Err(AuthError::InvalidUserId)
    ));
}

#[test]
fn an_access_token_of_an_unknown_user_is_user_not_found() {
    let w = world();
    let token = w.tokens.issue_access(UserId::new_v7(), t0());
    assert!(matches!(
        w.authenticate(&token),
        Err(AuthError::UserNotFound)
    ));
}

#[test]
fn a_deactivated_user_is_refused_with_deactivated() {
    let w = world();
    let mut user = user_row("asha@example.com", Role::Patient, t0());
    user.is_active = false;
    let user = w.users.insert(user);
    let token = w.tokens.issue_access(user.id, t0());
    assert!(matches!(
        w.authenticate(&token),
        Err(AuthError::Deactivated)
    ));
}

#[test]
fn the_role_comes_from_the_user_row() {
    let w = world();
    let admin = w.seed("root@example.com", Role::Admin);
    let token = w.tokens.issue_access(admin.id, t0());
    assert_eq!(w.authenticate(&token).unwrap().role, Role::Admin);
}

#[test]
fn a_cache_hit_avoids_the_repository() {
    let w = world();
    let user = w.seed("asha@example.com", Role::Patient);
    let token = w.tokens.issue_access(user.id, t0());
    assert_eq!(
        w.authenticate(&token).unwrap(),
        user,
        "first call loads from the database"
    );
    assert_eq!(
        w.cache.cached(user.id),
        Some(user.clone()),
        "and fills the cache"
    );

    w.users.fail_with_unavailable(true);
    let calls = w.users.calls();
    assert_eq!(
        w.authenticate(&token).unwrap(),
        user,
        "second call is served by the cache"
    );
    assert_eq!(w.users.calls(), calls, "the repository was not asked");
    assert_eq!((w.cache.hits(), w.cache.misses()), (1, 1));
}

#[test]
fn a_database_failure_on_a_cache_miss_is_a_port_error() {
    let w = world();
    let user = w.seed("asha@example.com", Role::Patient);
    let token = w.tokens.issue_access(user.id, t0());
    w.users.fail_with_unavailable(true);
    assert!(matches!(
        w.authenticate(&token),
        Err(AuthError::Port(PortError::Unavailable(_)))
    ));
}

#[test]
fn a_cache_outage_falls_back_to_the_database() {
    let w = world();
    let user = w.seed("asha@example.com", Role::Patient);
    let token = w.tokens.issue_access(user.id, t0());
    w.cache.simulate_outage(true);
    assert_eq!(w.authenticate(&token).unwrap(), user);
    assert_eq!(w.authenticate(&token).unwrap(), user);
    assert_eq!(
        w.users.calls(),
        2,
        "every call reads the database while the cache is down"
    );
}

// ---------------------------------------------------------------------------------------------
// login
// ---------------------------------------------------------------------------------------------

#[test]
fn an_invalid_firebase_token_is_invalid_id_token() {
    let w = world();
    assert!(matches!(
        run(w.service.login("never-seen")),
        Err(LoginError::InvalidIdToken)
    ));
    w.id_tokens
        .refuse("bad-signature", IdTokenError::Invalid("bad signature"));
    assert!(matches!(
        run(w.service.login("bad-signature")),
        Err(LoginError::InvalidIdToken)
    ));
    assert_eq!(
        (w.users.calls(), w.sessions.calls()),
        (0, 0),
        "nothing is written"
    );
}

#[test]
fn a_firebase_identity_without_a_usable_email_is_no_usable_email() {
    let w = world();
    let cases: [(&str, Option<&str>); 3] = [
        ("missing", None),
        ("empty", Some("")),
        ("invalid", Some("asha@")),
    ];
    for (token, email) in cases {
        w.id_tokens.accept(
            token,
            FirebaseIdentity {
                email: email.map(Into::into),
                ..firebase_identity(token, "x@y.z")
            },
        );
        assert!(
            matches!(run(w.service.login(token)), Err(LoginError::NoUsableEmail)),
            "{token}"
        );
    }
    assert!(w.users.all().is_empty(), "no row is created");
}

#[test]
fn unreachable_firebase_certificates_are_provider_unavailable() {
    let w = world();
    w.id_tokens
        .refuse("t", IdTokenError::CertificatesUnavailable);
    assert!(matches!(
        run(w.service.login("t")),
        Err(LoginError::ProviderUnavailable)
    ));
}

#[test]
fn a_missing_firebase_project_is_not_configured() {
    let w = world();
    w.id_tokens.refuse("t", IdTokenError::NotConfigured);
    assert!(matches!(
        run(w.service.login("t")),
        Err(LoginError::NotConfigured)
    ));
}

#[test]
fn a_first_login_creates_an_active_patient_with_a_session_and_working_tokens() {
    let w = world();
    let login = w.login("uid-1", "asha@example.com");
    let user = &login.user;
    assert_eq!(
        (
            user.role,
            user.is_active,
            user.is_onboarded,
            user.auth_provider.as_str()
        ),
        (Role::Patient, true, false, "google")
    );
    assert_eq!(
        user.full_name.as_deref(),
        Some("asha@example.com"),
        "named by the email without a name claim"
    );
    assert_eq!((user.created_at, user.last_login_at), (t0(), Some(t0())));
    assert_eq!(w.users.get(user.id).as_ref(), Some(user));

    let [session] = &w.sessions.sessions_of(user.id)[..] else {
        panic!("one session")
    };
    assert_eq!(
        (session.created_at, session.refreshed_at),
        (t0().timestamp(), t0().timestamp())
    );
    assert_eq!(
        w.sessions.ttl(session.sid),
        Some(Duration::from_secs(7 * 86_400)),
        "TTL = refresh lifetime"
    );
    let claims = w
        .tokens
        .verify_refresh(&login.tokens.refresh_token, t0())
        .unwrap();
    assert_eq!(
        (claims.sid, claims.jti),
        (session.sid, session.jti),
        "the refresh token names the session"
    );
    assert_eq!(
        w.authenticate(&login.tokens.access_token).unwrap().id,
        user.id
    );
}

#[test]
fn a_second_login_refreshes_name_and_photo_and_returns_the_updated_row() {
    let w = world();
    let first = w.login("uid-1", "asha@example.com");
    w.clock.advance(chrono::Duration::hours(1));
    w.id_tokens.accept(
        "second",
        FirebaseIdentity {
            name: Some("Asha Verma".into()),
            picture: Some("https://example.com/asha.png".into()),
            email: Some("asha.verma@example.com".into()),
            ..firebase_identity("uid-1", "asha@example.com")
        },
    );
    let second = run(w.service.login("second")).unwrap();
    assert_eq!(second.user.id, first.user.id, "same row");
    assert_eq!(second.user.full_name.as_deref(), Some("Asha Verma"));
    assert_eq!(second.user.given_name.as_deref(), Some("Asha"));
    assert_eq!(second.user.family_name.as_deref(), Some("Verma"));
    assert_eq!(
        second.user.photo_url.as_deref(),
        Some("https://example.com/asha.png")
    );
    assert_eq!(
        second.user.email, "asha.verma@example.com",
        "email is always refreshed"
    );
    let later = t0() + chrono::Duration::hours(1);
    assert_eq!(
        (
            second.user.created_at,
            second.user.updated_at,
            second.user.last_login_at
        ),
        (t0(), later, Some(later))
    );
    assert_eq!(
        w.users.get(first.user.id),
        Some(second.user.clone()),
        "the returned row is the stored row"
    );
    assert_eq!(
        w.sessions.sessions_of(first.user.id).len(),
        2,
        "each login opens its own session"
    );
}

#[test]
fn a_login_without_a_name_keeps_the_stored_name() {
    let w = world();
    w.id_tokens.accept(
        "named",
        FirebaseIdentity {
            name: Some("Asha Verma".into()),
            ..firebase_identity("uid-1", "a@example.com")
        },
    );
    run(w.service.login("named")).unwrap();
    let again = w.login("uid-1", "a@example.com");
    assert_eq!(again.user.full_name.as_deref(), Some("Asha Verma"));
}

#[test]
fn a_login_invalidates_the_cached_user() {
    let w = world();
    let first = w.login("uid-1", "asha@example.com");
    w.authenticate(&first.tokens.access_token).unwrap();
    assert!(w.cache.cached(first.user.id).is_some());
    w.login("uid-1", "asha@example.com");
    assert_eq!(w.cache.cached(first.user.id), None);
}

#[test]
fn a_deactivated_account_cannot_log_in_and_gets_no_session() {
    let w = world();
    let first = w.login("uid-1", "asha@example.com");
    run(w.service.deactivate_self(first.user.id)).unwrap();
    let before = w.users.get(first.user.id);
    w.clock.advance(chrono::Duration::minutes(1));
    w.id_tokens.accept(
        "again",
        FirebaseIdentity {
            name: Some("New Name".into()),
            ..firebase_identity("uid-1", "new@example.com")
        },
    );
    assert!(matches!(
        run(w.service.login("again")),
        Err(LoginError::Deactivated)
    ));
    assert!(w.sessions.sessions().is_empty(), "no session created");
    assert_eq!(w.users.get(first.user.id), before, "nothing written");
}

#[test]
fn login_with_the_session_store_down_is_session_store_unavailable() {
    let w = world();
    w.sessions.fail_with_unavailable(true);
    w.id_tokens
        .accept("t", firebase_identity("uid-1", "asha@example.com"));
    assert!(matches!(
        run(w.service.login("t")),
        Err(LoginError::SessionStoreUnavailable)
    ));
}

#[test]
fn login_with_the_database_down_is_a_port_error() {
    let w = world();
    w.users.fail_with_unavailable(true);
    w.id_tokens
        .accept("t", firebase_identity("uid-1", "asha@example.com"));
    assert!(matches!(
        run(w.service.login("t")),
        Err(LoginError::Port(PortError::Unavailable(_)))
    ));
    assert_eq!(w.sessions.calls(), 0);
}

// ---------------------------------------------------------------------------------------------
// refresh
// ---------------------------------------------------------------------------------------------

#[test]
fn a_refresh_returns_a_new_pair_that_works() {
    let w = world();
    let login = w.login("uid-1", "asha@example.com");
    w.clock.advance(chrono::Duration::hours(1));
    let pair = run(w.service.refresh(&login.tokens.refresh_token)).unwrap();
    assert_ne!(pair, login.tokens);

    let old = w
        .tokens
        .verify_refresh(&login.tokens.refresh_token, w.clock_now())
        .unwrap();
    let new = w
        .tokens
        .verify_refresh(&pair.refresh_token, w.clock_now())
        .unwrap();
    assert_eq!(new.sid, old.sid, "same session");
    assert_ne!(new.jti, old.jti, "new token id");
    let session = w.sessions.session(new.sid).unwrap();
    assert_eq!(
        (session.jti, session.refreshed_at),
        (new.jti, w.clock_now().timestamp())
    );

    assert_eq!(
        w.authenticate(&pair.access_token).unwrap().id,
        login.user.id
    );
    run(w.service.refresh(&pair.refresh_token)).unwrap();
}

#[test]
fn presenting_a_retired_refresh_token_kills_the_whole_session() {
    let w = world();
    let login = w.login("uid-1", "asha@example.com");
    let newest: TokenPair = run(w.service.refresh(&login.tokens.refresh_token)).unwrap();
    assert!(matches!(
        run(w.service.refresh(&login.tokens.refresh_token)),
        Err(RefreshError::Revoked)
    ));
    assert!(w.sessions.sessions().is_empty(), "the session is deleted");
    assert!(matches!(
        run(w.service.refresh(&newest.refresh_token)),
        Err(RefreshError::Revoked)
    ));
}

#[test]
fn refreshing_after_logout_is_revoked() {
    let w = world();
    let login = w.login("uid-1", "asha@example.com");
    run(w.service.logout(&login.tokens.refresh_token)).unwrap();
    assert!(matches!(
        run(w.service.refresh(&login.tokens.refresh_token)),
        Err(RefreshError::Revoked)
    ));
}

#[test]
fn refreshing_an_expired_session_is_revoked() {
    let w = world();
    let login = w.login("uid-1", "asha@example.com");
    let sid = w.sessions.sessions_of(login.user.id)[0].sid;
    w.sessions.expire(sid);
    assert!(matches!(
        run(w.service.refresh(&login.tokens.refresh_token)),
        Err(RefreshError::Revoked)
    ));
}

#[test]
fn refreshing_for_a_deleted_user_is_user_not_found_and_revokes_the_session() {
    let w = world();
    let login = w.login("uid-1", "asha@example.com");
    w.users.remove(login.user.id);
    assert!(matches!(
        run(w.service.refresh(&login.tokens.refresh_token)),
        Err(RefreshError::UserNotFound)
    ));
    assert!(w.sessions.sessions().is_empty());
}

#[test]
fn refreshing_for_a_deactivated_user_is_deactivated_and_revokes_the_session() {
    let w = world();
    let login = w.login("uid-1", "asha@example.com");
    let other_session = w.login("uid-1", "asha@example.com");
    let mut row = w.users.get(login.user.id).unwrap();
    row.is_active = false;
    w.users.insert(row);
    assert!(matches!(
        run(w.service.refresh(&login.tokens.refresh_token)),
        Err(RefreshError::Deactivated)
    ));
    let remaining = w.sessions.sessions_of(login.user.id);
    assert_eq!(remaining.len(), 1, "the presented session is revoked");
    assert!(matches!(
        run(w.service.refresh(&other_session.tokens.refresh_token)),
        Err(RefreshError::Deactivated)
    ));
}

#[test]
fn refresh_reads_the_user_from_the_database_not_the_cache() {
    let w = world();
    let login = w.login("uid-1", "asha@example.com");
    w.authenticate(&login.tokens.access_token).unwrap();
    let mut row = w.users.get(login.user.id).unwrap();
    row.is_active = false;
    w.users.insert(row);
    assert!(
        w.cache.cached(login.user.id).unwrap().is_active,
        "the cache still says active"
    );
    assert!(matches!(
        run(w.service.refresh(&login.tokens.refresh_token)),
        Err(RefreshError::Deactivated)
    ));
}

#[test]
fn a_refresh_token_naming_another_users_session_finds_no_session_of_its_own() {
    let w = world();
    let asha = w.login("uid-1", "asha@example.com");
    let ravi = w.login("uid-2", "ravi@example.com");
    let ravis = w.sessions.sessions_of(ravi.user.id)[0].clone();
    let forged = w.refresh_token_for(asha.user.id, ravis.sid, ravis.jti);
    // Sessions are looked up per user: Asha has no session with that id.
    assert!(matches!(
        run(w.service.refresh(&forged)),
        Err(RefreshError::Revoked)
    ));
    assert_eq!(
        w.sessions.session(ravis.sid),
        Some(ravis),
        "the other session is untouched"
    );
}

#[test]
fn an_access_token_or_garbage_presented_for_refresh_is_an_invalid_token() {
    let w = world();
    let login = w.login("uid-1", "asha@example.com");
    for token in [login.tokens.access_token.as_str(), "garbage", ""] {
        assert!(
            matches!(
                run(w.service.refresh(token)),
                Err(RefreshError::InvalidToken)
            ),
            "{token}"
        );
    }
}

#[test]
fn an_expired_refresh_token_is_an_invalid_token() {
    let w = world();
    let login = w.login("uid-1", "asha@example.com");
    w.clock
        .advance(chrono::Duration::days(7) + chrono::Duration::seconds(11));
    assert!(matches!(
        run(w.service.refresh(&login.tokens.refresh_token)),
        Err(RefreshError::InvalidToken)
    ));
}

#[test]
fn a_refresh_token_whose_subject_is_not_a_uuid_is_an_invalid_token() {
    let w = world();
    let token = FakeTokens::mint_refresh(
        "42",
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        t0() + chrono::Duration::days(1),
    );
    assert!(matches!(
        run(w.service.refresh(&token)),
        Err(RefreshError::InvalidToken)
    ));
    assert_eq!(w.users.calls(), 0);
}

#[test]
fn refresh_with_the_session_store_down_is_session_store_unavailable() {
    let w = world();
    let login = w.login("uid-1", "asha@example.com");
    w.sessions.fail_with_unavailable(true);
    assert!(matches!(
        run(w.service.refresh(&login.tokens.refresh_token)),
        Err(RefreshError::SessionStoreUnavailable)
    ));
    w.sessions.fail_with_unavailable(false);
    run(w.service.refresh(&login.tokens.refresh_token)).unwrap();
}

#[test]
fn refresh_with_the_database_down_is_a_port_error() {
    let w = world();
    let login = w.login("uid-1", "asha@example.com");
    w.users.fail_with_unavailable(true);
    assert!(matches!(
        run(w.service.refresh(&login.tokens.refresh_token)),
        Err(RefreshError::Port(_))
    ));
}

#[test]
fn a_deleted_user_refresh_survives_a_session_store_outage_as_user_not_found() {
    let w = world();
    let login = w.login("uid-1", "asha@example.com");
    w.users.remove(login.user.id);
    w.sessions.fail_with_unavailable(true);
    assert!(matches!(
        run(w.service.refresh(&login.tokens.refresh_token)),
        Err(RefreshError::UserNotFound)
    ));
}

// ---------------------------------------------------------------------------------------------
// logout and logout-all
// ---------------------------------------------------------------------------------------------

#[test]
fn logging_out_with_garbage_touches_nothing() {
    let w = world();
    let login = w.login("uid-1", "asha@example.com");
    let calls = w.sessions.calls();
    for token in ["garbage", "", login.tokens.access_token.as_str()] {
        run(w.service.logout(token)).unwrap();
    }
    let expired = FakeTokens::mint_refresh(
        &login.user.id.to_string(),
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        t0() - chrono::Duration::minutes(1),
    );
    run(w.service.logout(&expired)).unwrap();
    assert_eq!(w.sessions.calls(), calls, "no store call");
    assert_eq!(w.sessions.sessions().len(), 1, "no session touched");
}

#[test]
fn logging_out_ends_the_session_only() {
    let w = world();
    let first = w.login("uid-1", "asha@example.com");
    let second = w.login("uid-1", "asha@example.com");
    run(w.service.logout(&first.tokens.refresh_token)).unwrap();
    assert_eq!(w.sessions.sessions().len(), 1);
    run(w.service.refresh(&second.tokens.refresh_token)).unwrap();
}

#[test]
fn logging_out_with_a_retired_token_of_the_session_still_ends_it() {
    let w = world();
    let login = w.login("uid-1", "asha@example.com");
    let newest = run(w.service.refresh(&login.tokens.refresh_token)).unwrap();
    run(w.service.logout(&login.tokens.refresh_token)).unwrap();
    assert!(w.sessions.sessions().is_empty());
    assert!(matches!(
        run(w.service.refresh(&newest.refresh_token)),
        Err(RefreshError::Revoked)
    ));
}

#[test]
fn logging_out_with_a_token_naming_another_users_session_revokes_nothing() {
    let w = world();
    let asha = w.login("uid-1", "asha@example.com");
    let ravi = w.login("uid-2", "ravi@example.com");
    let ravis = w.sessions.sessions_of(ravi.user.id)[0].clone();
    run(w
        .service
        .logout(&w.refresh_token_for(asha.user.id, ravis.sid, ravis.jti)))
    .unwrap();
    assert_eq!(w.sessions.sessions().len(), 2);
    run(w.service.refresh(&ravi.tokens.refresh_token)).unwrap();
}

#[test]
fn logging_out_with_the_store_down_fails_for_a_valid_token_only() {
    let w = world();
    let login = w.login("uid-1", "asha@example.com");
    w.sessions.fail_with_unavailable(true);
    assert!(matches!(
        run(w.service.logout(&login.tokens.refresh_token)),
        Err(PortError::Unavailable(_))
    ));
    run(w.service.logout("garbage")).unwrap();
}

#[test]
fn logout_all_kills_every_session_of_the_user_only() {
    let w = world();
    let first = w.login("uid-1", "asha@example.com");
    let second = w.login("uid-1", "asha@example.com");
    let ravi = w.login("uid-2", "ravi@example.com");
    run(w.service.logout_all(first.user.id)).unwrap();
    assert!(w.sessions.sessions_of(first.user.id).is_empty());
    for token in [&first.tokens.refresh_token, &second.tokens.refresh_token] {
        assert!(matches!(
            run(w.service.refresh(token)),
            Err(RefreshError::Revoked)
        ));
    }
    run(w.service.refresh(&ravi.tokens.refresh_token)).unwrap();
    assert_eq!(
        w.authenticate(&first.tokens.access_token).unwrap().id,
        first.user.id,
        "access tokens stay valid"
    );
}

#[test]
fn logout_all_with_the_store_down_is_unavailable() {
    let w = world();
    let login = w.login("uid-1", "asha@example.com");
    w.sessions.fail_with_unavailable(true);
    assert!(matches!(
        run(w.service.logout_all(login.user.id)),
        Err(PortError::Unavailable(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// users
// ---------------------------------------------------------------------------------------------

#[test]
fn an_empty_patch_writes_nothing() {
    let w = world();
    let user = w.seed("asha@example.com", Role::Patient);
    w.clock.advance(chrono::Duration::hours(1));
    let calls = w.users.calls();
    let same = run(w
        .service
        .update_profile(user.clone(), &ProfilePatch::default()))
    .unwrap();
    assert_eq!(same, user);
    assert_eq!(
        w.users.get(user.id).unwrap().updated_at,
        t0(),
        "updated_at unchanged"
    );
    assert_eq!(w.users.calls(), calls, "no repository call");
}

#[test]
fn a_patch_sets_clears_and_leaves_fields_and_invalidates_the_cache() {
    let w = world();
    let mut user = user_row("asha@example.com", Role::Patient, t0());
    user.given_name = Some("Asha".into());
    user.photo_url = Some("https://example.com/a.png".into());
    let user = w.users.insert(user);
    run(w.cache.put(&user));
    w.clock.advance(chrono::Duration::hours(1));
    let patch = ProfilePatch {
        full_name: Some(Some("Asha Verma".into())),
        photo_url: Some(None),
        phone: Some(Some("+91 22 1234 5678".into())),
        ..ProfilePatch::default()
    };
    let updated = run(w.service.update_profile(user.clone(), &patch)).unwrap();
    assert_eq!(updated.full_name.as_deref(), Some("Asha Verma"));
    assert_eq!(updated.photo_url, None, "null clears");
    assert_eq!(updated.given_name.as_deref(), Some("Asha"), "absent leaves");
    assert_eq!(updated.phone.as_deref(), Some("+91 22 1234 5678"));
    assert_eq!(updated.updated_at, t0() + chrono::Duration::hours(1));
    assert_eq!(w.users.get(user.id), Some(updated));
    assert_eq!(w.cache.cached(user.id), None, "cache invalidated");
}

#[test]
fn update_profile_with_the_database_down_is_a_port_error() {
    let w = world();
    let user = w.seed("asha@example.com", Role::Patient);
    w.users.fail_with_unavailable(true);
    let patch = ProfilePatch {
        full_name: Some(None),
        ..ProfilePatch::default()
    };
    assert!(matches!(
        run(w.service.update_profile(user, &patch)),
        Err(PortError::Unavailable(_))
    ));
}

#[test]
fn onboarding_marks_the_user_and_invalidates_the_cache() {
    let w = world();
    let user = w.seed("asha@example.com", Role::Patient);
    run(w.cache.put(&user));
    let onboarded = run(w.service.onboard(user.clone())).unwrap();
    assert!(onboarded.is_onboarded);
    assert!(
        run(w.service.onboard(onboarded)).unwrap().is_onboarded,
        "idempotent"
    );
    assert_eq!(w.cache.cached(user.id), None);
    w.users.fail_with_unavailable(true);
    assert!(matches!(
        run(w.service.onboard(user)),
        Err(PortError::Unavailable(_))
    ));
}

#[test]
fn a_public_profile_hides_unknown_and_inactive_users() {
    let w = world();
    let active = w.seed("asha@example.com", Role::Doctor);
    let mut inactive = user_row("ravi@example.com", Role::Patient, t0());
    inactive.is_active = false;
    let inactive = w.users.insert(inactive);
    assert_eq!(
        run(w.service.public_profile(active.id)).unwrap(),
        Some(active)
    );
    assert_eq!(run(w.service.public_profile(inactive.id)).unwrap(), None);
    assert_eq!(
        run(w.service.public_profile(UserId::new_v7())).unwrap(),
        None
    );
    w.users.fail_with_unavailable(true);
    assert!(run(w.service.public_profile(UserId::new_v7())).is_err());
}

#[test]
fn deactivating_oneself_deactivates_push_tokens_and_ends_sessions_and_access() {
    let w = world();
    let login = w.login("uid-1", "asha@example.com");
    w.login("uid-1", "asha@example.com");
    let other = w.login("uid-2", "ravi@example.com");
    w.authenticate(&login.tokens.access_token).unwrap();
    run(w.service.deactivate_self(login.user.id)).unwrap();
    assert!(!w.users.get(login.user.id).unwrap().is_active);
    assert_eq!(w.users.push_tokens_deactivated_for(), vec![login.user.id]);
    assert!(w.sessions.sessions_of(login.user.id).is_empty());
    assert_eq!(w.sessions.sessions_of(other.user.id).len(), 1);
    assert!(
        matches!(
            w.authenticate(&login.tokens.access_token),
            Err(AuthError::Deactivated)
        ),
        "cache invalidated"
    );
    assert!(matches!(
        run(w.service.refresh(&login.tokens.refresh_token)),
        Err(RefreshError::Deactivated)
    ));
}

#[test]
fn deactivating_oneself_with_the_session_store_down_still_succeeds() {
    let w = world();
    let login = w.login("uid-1", "asha@example.com");
    w.sessions.fail_with_unavailable(true);
    run(w.service.deactivate_self(login.user.id)).unwrap();
    w.sessions.fail_with_unavailable(false);
    assert_eq!(
        w.sessions.sessions_of(login.user.id).len(),
        1,
        "the revocation was best effort"
    );
    assert!(matches!(
        run(w.service.refresh(&login.tokens.refresh_token)),
        Err(RefreshError::Deactivated)
    ));
}

#[test]
fn deactivating_oneself_with_the_database_down_is_a_port_error_and_keeps_sessions() {
    let w = world();
    let login = w.login("uid-1", "asha@example.com");
    w.users.fail_with_unavailable(true);
    assert!(matches!(
        run(w.service.deactivate_self(login.user.id)),
        Err(PortError::Unavailable(_))
    ));
    assert_eq!(w.sessions.sessions_of(login.user.id).len(), 1);
}

// ---------------------------------------------------------------------------------------------
// admin
// ---------------------------------------------------------------------------------------------

#[test]
fn an_admin_cannot_demote_or_deactivate_themselves() {
    let w = world();
    let admin = w.seed("root@example.com", Role::Admin);
    for change in [
        AdminUserChange {
            role: Some(Role::Patient),
            is_active: None,
        },
        AdminUserChange {
            role: None,
            is_active: Some(false),
        },
        AdminUserChange {
            role: Some(Role::Admin),
            is_active: Some(false),
        },
    ] {
        let result = run(w
            .service
            .admin_update_user(&admin, admin.id, change, &audit_by(&admin)));
        assert!(
            matches!(result, Err(AdminUpdateUserError::SelfLockout)),
            "{change:?}"
        );
    }
    assert_eq!(w.users.get(admin.id), Some(admin));
    assert!(w.users.audit_events().is_empty());
}

#[test]
fn an_admin_may_confirm_their_own_role_and_activation() {
    let w = world();
    let admin = w.seed("root@example.com", Role::Admin);
    let change = AdminUserChange {
        role: Some(Role::Admin),
        is_active: Some(true),
    };
    let same = run(w
        .service
        .admin_update_user(&admin, admin.id, change, &audit_by(&admin)))
    .unwrap();
    assert_eq!(same, admin);
}

#[test]
fn changing_an_unknown_user_is_not_found() {
    let w = world();
    let admin = w.seed("root@example.com", Role::Admin);
    let change = AdminUserChange {
        role: Some(Role::Doctor),
        is_active: None,
    };
    let result =
        run(w
            .service
            .admin_update_user(&admin, UserId::new_v7(), change, &audit_by(&admin)));
    assert!(matches!(result, Err(AdminUpdateUserError::NotFound)));
}

#[test]
fn a_change_that_changes_nothing_returns_the_unchanged_row() {
    let w = world();
    let admin = w.seed("root@example.com", Role::Admin);
    let target = w.seed("asha@example.com", Role::Patient);
    run(w.cache.put(&target));
    w.clock.advance(chrono::Duration::hours(1));
    for change in [
        AdminUserChange::default(),
        AdminUserChange {
            role: Some(Role::Patient),
            is_active: Some(true),
        },
    ] {
        let same = run(w
            .service
            .admin_update_user(&admin, target.id, change, &audit_by(&admin)))
        .unwrap();
        assert_eq!(same, target, "updated_at unchanged");
    }
    assert!(
        w.users.audit_events().is_empty(),
        "no audit without a change"
    );
    assert!(w.cache.cached(target.id).is_some(), "nothing to invalidate");
}

#[test]
fn deactivating_a_user_revokes_their_sessions_invalidates_the_cache_and_is_audited() {
    let w = world();
    let admin = w.seed("root@example.com", Role::Admin);
    let target = w.login("uid-1", "asha@example.com");
    w.login("uid-1", "asha@example.com");
    let bystander = w.login("uid-2", "ravi@example.com");
    w.authenticate(&target.tokens.access_token).unwrap();
    w.clock.advance(chrono::Duration::minutes(5));

    let change = AdminUserChange {
        role: None,
        is_active: Some(false),
    };
    let after = run(w
        .service
        .admin_update_user(&admin, target.user.id, change, &audit_by(&admin)))
    .unwrap();
    assert!(!after.is_active);
    assert_eq!(after.updated_at, t0() + chrono::Duration::minutes(5));
    assert!(
        w.sessions.sessions_of(target.user.id).is_empty(),
        "sessions revoked"
    );
    assert_eq!(w.sessions.sessions_of(bystander.user.id).len(), 1);
    assert_eq!(w.cache.cached(target.user.id), None, "cache invalidated");
    assert!(matches!(
        w.authenticate(&target.tokens.access_token),
        Err(AuthError::Deactivated)
    ));
    assert_eq!(w.users.push_tokens_deactivated_for(), vec![target.user.id]);

    let [event] = &w.users.audit_events()[..] else {
        panic!("one audit event")
    };
    assert_eq!(
        (
            event.action.as_str(),
            event.resource_type.as_str(),
            event.actor_type.as_str()
        ),
        ("user.update", "user", "user")
    );
    assert_eq!(event.actor_user_id, Some(admin.id));
    assert_eq!(event.resource_id, Some(target.user.id.to_string()));
    assert_eq!(
        (event.request_id.as_str(), event.ip.as_deref()),
        ("req-1", Some("203.0.113.7"))
    );
    assert_eq!(
        event.details,
        Some(serde_json::json!({
            "before": {"role": "patient", "is_active": true},
            "after": {"role": "patient", "is_active": false},
        }))
    );
}

#[test]
fn promoting_a_user_keeps_their_sessions_and_is_listed_in_the_audit_trail() {
    let w = world();
    let admin = w.seed("root@example.com", Role::Admin);
    let target = w.login("uid-1", "asha@example.com");
    let change = AdminUserChange {
        role: Some(Role::Doctor),
        is_active: None,
    };
    let after = run(w
        .service
        .admin_update_user(&admin, target.user.id, change, &audit_by(&admin)))
    .unwrap();
    assert_eq!(after.role, Role::Doctor);
    assert_eq!(w.sessions.sessions_of(target.user.id).len(), 1);
    assert!(w.users.push_tokens_deactivated_for().is_empty());

    w.clock.advance(chrono::Duration::minutes(1));
    let change = AdminUserChange {
        role: Some(Role::Admin),
        is_active: None,
    };
    run(w
        .service
        .admin_update_user(&admin, target.user.id, change, &audit_by(&admin)))
    .unwrap();
    let filter = AuditFilter {
        resource_id: Some(target.user.id.to_string()),
        ..AuditFilter::default()
    };
    let trail = run(w.service.list_audit(&filter, page())).unwrap();
    assert_eq!(trail.total, 2);
    assert_eq!(
        trail.items[0].at,
        t0() + chrono::Duration::minutes(1),
        "newest first"
    );
    let only_first = AuditFilter {
        to: Some(t0()),
        ..filter
    };
    assert_eq!(
        run(w.service.list_audit(&only_first, page()))
            .unwrap()
            .total,
        1,
        "`to` is inclusive"
    );
}

#[test]
fn admin_update_with_the_database_down_is_a_port_error() {
    let w = world();
    let admin = w.seed("root@example.com", Role::Admin);
    w.users.fail_with_unavailable(true);
    let change = AdminUserChange {
        role: Some(Role::Doctor),
        is_active: None,
    };
    let result =
        run(w
            .service
            .admin_update_user(&admin, UserId::new_v7(), change, &audit_by(&admin)));
    assert!(matches!(
        result,
        Err(AdminUpdateUserError::Port(PortError::Unavailable(_)))
    ));
}

#[test]
fn deactivating_a_user_with_the_session_store_down_still_succeeds() {
    let w = world();
    let admin = w.seed("root@example.com", Role::Admin);
    let target = w.login("uid-1", "asha@example.com");
    w.sessions.fail_with_unavailable(true);
    let change = AdminUserChange {
        role: None,
        is_active: Some(false),
    };
    let after = run(w
        .service
        .admin_update_user(&admin, target.user.id, change, &audit_by(&admin)))
    .unwrap();
    assert!(!after.is_active);
}

#[test]
fn listing_users_filters_and_orders_newest_first() {
    let w = world();
    let asha = w.seed("asha@example.com", Role::Patient);
    w.clock.advance(chrono::Duration::minutes(1));
    let ravi = w.seed("ravi@clinic.example.com", Role::Doctor);
    w.clock.advance(chrono::Duration::minutes(1));
    let mut meera = user_row("meera@example.com", Role::Patient, w.clock_now());
    meera.full_name = Some("Meera CLINIC Staff".into());
    meera.is_active = false;
    let meera = w.users.insert(meera);

    let all = run(w.service.list_users(&UserFilter::default(), page())).unwrap();
    assert_eq!(
        all.items.iter().map(|u| u.id).collect::<Vec<_>>(),
        vec![meera.id, ravi.id, asha.id]
    );
    assert_eq!(all.total, 3);

    let search = UserFilter {
        search: Some("Clinic".into()),
        ..UserFilter::default()
    };
    let found = run(w.service.list_users(&search, page())).unwrap();
    assert_eq!(
        found.items.iter().map(|u| u.id).collect::<Vec<_>>(),
        vec![meera.id, ravi.id],
        "name or email"
    );

    let patients = UserFilter {
        role: Some(Role::Patient),
        is_active: Some(true),
        ..UserFilter::default()
    };
    assert_eq!(
        run(w.service.list_users(&patients, page())).unwrap().items,
        vec![asha]
    );

    let second = run(w
        .service
        .list_users(&UserFilter::default(), PageRequest::new(2, 2).unwrap()))
    .unwrap();
    assert_eq!((second.total, second.items.len()), (3, 1));
    assert_eq!(second.next, None, "the last page");

    // Walking by key returns the numbered pages.
    let first = run(w
        .service
        .list_users(&UserFilter::default(), PageRequest::new(1, 2).unwrap()))
    .unwrap();
    let key = first.next.expect("a page follows");
    assert_eq!(key.id, ravi.id.as_uuid(), "the key of the page's last row");
    let after = run(w
        .service
        .list_users(&UserFilter::default(), PageRequest::after(2, 2, key)))
    .unwrap();
    assert_eq!(after.items, second.items);
    assert_eq!((after.total, after.next), (3, None));

    w.users.fail_with_unavailable(true);
    assert!(run(w.service.list_users(&UserFilter::default(), page())).is_err());
    assert!(run(w.service.list_audit(&AuditFilter::default(), page())).is_err());
}
