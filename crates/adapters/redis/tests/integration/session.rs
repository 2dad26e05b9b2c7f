//! `RedisSessionStore`: creation, rotation outcomes, TTLs and revocation.

use std::time::Duration;

use medico24_identity::{RotateOutcome, Session, SessionStore};
use medico24_kernel::UserId;
use medico24_redis::RedisSessionStore;
use uuid::Uuid;

use crate::support::TestRedis;

const TTL: Duration = Duration::from_secs(7 * 86_400);

fn new_session(user_id: UserId) -> Session {
    Session {
        sid: Uuid::new_v4(),
        user_id,
        jti: Uuid::new_v4(),
        created_at: 1_700_000_000,
        refreshed_at: 1_700_000_000,
    }
}

async fn members(t: &TestRedis, user_id: UserId) -> Vec<String> {
    let mut sids: Vec<String> = t
        .query(redis::cmd("SMEMBERS").arg(t.redis.key(&format!("v2:auth:{{{user_id}}}:sessions"))))
        .await;
    sids.sort();
    sids
}

#[tokio::test]
async fn a_created_session_is_found_and_listed_under_its_user() {
    let t = TestRedis::new();
    let store = RedisSessionStore::new(t.redis.clone());
    let session = new_session(UserId::new_v7());

    store.create(&session, TTL).await.unwrap();

    assert_eq!(
        store.find(session.sid, session.user_id).await.unwrap(),
        Some(session.clone())
    );
    assert_eq!(
        members(&t, session.user_id).await,
        vec![session.sid.to_string()]
    );
    let session_ttl = t
        .ttl(&format!(
            "v2:auth:{{{}}}:session:{}",
            session.user_id, session.sid
        ))
        .await;
    let set_ttl = t
        .ttl(&format!("v2:auth:{{{}}}:sessions", session.user_id))
        .await;
    assert!(
        session_ttl > 0 && session_ttl <= 604_800,
        "session TTL {session_ttl}"
    );
    assert!(set_ttl > 0 && set_ttl <= 604_800, "set TTL {set_ttl}");
    // Every key went through the namespace prefix.
    assert_eq!(t.keys().await.len(), 2);
    t.cleanup().await;
}

#[tokio::test]
async fn an_unknown_session_is_not_found() {
    let t = TestRedis::new();
    let store = RedisSessionStore::new(t.redis.clone());

    assert_eq!(
        store.find(Uuid::new_v4(), UserId::new_v7()).await.unwrap(),
        None
    );
    t.cleanup().await;
}

#[tokio::test]
async fn rotating_with_the_current_jti_rotates_and_replaying_the_old_jti_kills_the_session() {
    let t = TestRedis::new();
    let store = RedisSessionStore::new(t.redis.clone());
    let session = new_session(UserId::new_v7());
    store.create(&session, TTL).await.unwrap();
    let new_jti = Uuid::new_v4();

    let outcome = store
        .rotate(
            session.sid,
            session.user_id,
            session.jti,
            new_jti,
            1_700_000_600,
            TTL,
        )
        .await
        .unwrap();

    assert_eq!(outcome, RotateOutcome::Rotated);
    let rotated = store
        .find(session.sid, session.user_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rotated.jti, new_jti);
    assert_eq!(rotated.created_at, 1_700_000_000);
    assert_eq!(rotated.refreshed_at, 1_700_000_600);

    let replay = store
        .rotate(
            session.sid,
            session.user_id,
            session.jti,
            Uuid::new_v4(),
            1_700_000_700,
            TTL,
        )
        .await
        .unwrap();

    assert_eq!(replay, RotateOutcome::Reused);
    assert_eq!(
        store.find(session.sid, session.user_id).await.unwrap(),
        None
    );
    assert!(members(&t, session.user_id).await.is_empty());
    // The newest token of the killed session is dead too.
    let after = store
        .rotate(
            session.sid,
            session.user_id,
            new_jti,
            Uuid::new_v4(),
            1_700_000_800,
            TTL,
        )
        .await
        .unwrap();
    assert_eq!(after, RotateOutcome::Revoked);
    t.cleanup().await;
}

#[tokio::test]
async fn rotating_a_missing_session_is_revoked() {
    let t = TestRedis::new();
    let store = RedisSessionStore::new(t.redis.clone());

    let outcome = store
        .rotate(
            Uuid::new_v4(),
            UserId::new_v7(),
            Uuid::new_v4(),
            Uuid::new_v4(),
            1_700_000_000,
            TTL,
        )
        .await
        .unwrap();

    assert_eq!(outcome, RotateOutcome::Revoked);
    assert!(
        t.keys().await.is_empty(),
        "a revoked rotation writes nothing"
    );
    t.cleanup().await;
}

#[tokio::test]
async fn rotating_as_another_user_finds_nothing_and_keeps_the_session() {
    let t = TestRedis::new();
    let store = RedisSessionStore::new(t.redis.clone());
    let session = new_session(UserId::new_v7());
    store.create(&session, TTL).await.unwrap();

    let outcome = store
        .rotate(
            session.sid,
            UserId::new_v7(),
            session.jti,
            Uuid::new_v4(),
            1_700_000_600,
            TTL,
        )
        .await
        .unwrap();

    assert_eq!(outcome, RotateOutcome::Revoked);
    assert_eq!(
        store.find(session.sid, session.user_id).await.unwrap(),
        Some(session.clone())
    );
    assert_eq!(
        members(&t, session.user_id).await,
        vec![session.sid.to_string()]
    );
    t.cleanup().await;
}

#[tokio::test]
async fn rotation_resets_the_session_ttl_and_extends_the_user_set() {
    let t = TestRedis::new();
    let store = RedisSessionStore::new(t.redis.clone());
    let session = new_session(UserId::new_v7());
    store.create(&session, TTL).await.unwrap();
    let session_key = format!("v2:auth:{{{}}}:session:{}", session.user_id, session.sid);
    let set_key = format!("v2:auth:{{{}}}:sessions", session.user_id);
    // Age both keys as if most of the lifetime had passed.
    let _: i64 = t
        .query(redis::cmd("EXPIRE").arg(t.redis.key(&session_key)).arg(100))
        .await;
    let _: i64 = t
        .query(redis::cmd("EXPIRE").arg(t.redis.key(&set_key)).arg(100))
        .await;

    let outcome = store
        .rotate(
            session.sid,
            session.user_id,
            session.jti,
            Uuid::new_v4(),
            1_700_000_600,
            TTL,
        )
        .await
        .unwrap();

    assert_eq!(outcome, RotateOutcome::Rotated);
    let session_ttl = t.ttl(&session_key).await;
    let set_ttl = t.ttl(&set_key).await;
    assert!(session_ttl > 604_000, "session TTL {session_ttl}");
    assert!(set_ttl > 604_000, "set TTL {set_ttl}");
    t.cleanup().await;
}

#[tokio::test]
async fn revoking_one_session_leaves_the_others() {
    let t = TestRedis::new();
    let store = RedisSessionStore::new(t.redis.clone());
    let user = UserId::new_v7();
    let first = new_session(user);
    let second = new_session(user);
    store.create(&first, TTL).await.unwrap();
    store.create(&second, TTL).await.unwrap();

    store.revoke(first.sid, user).await.unwrap();

    assert_eq!(store.find(first.sid, first.user_id).await.unwrap(), None);
    assert_eq!(
        store.find(second.sid, second.user_id).await.unwrap(),
        Some(second.clone())
    );
    assert_eq!(members(&t, user).await, vec![second.sid.to_string()]);
    // Revoking again is harmless.
    store.revoke(first.sid, user).await.unwrap();
    t.cleanup().await;
}

#[tokio::test]
async fn revoke_all_removes_every_session_of_the_user_and_no_other() {
    let t = TestRedis::new();
    let store = RedisSessionStore::new(t.redis.clone());
    let user = UserId::new_v7();
    let other = UserId::new_v7();
    let mine = [new_session(user), new_session(user), new_session(user)];
    for session in &mine {
        store.create(session, TTL).await.unwrap();
    }
    let theirs = new_session(other);
    store.create(&theirs, TTL).await.unwrap();
    // A member whose session already expired.
    let _: i64 = t
        .query(
            redis::cmd("SADD")
                .arg(t.redis.key(&format!("v2:auth:{{{user}}}:sessions")))
                .arg(Uuid::new_v4().to_string()),
        )
        .await;

    store.revoke_all(user).await.unwrap();

    for session in &mine {
        assert_eq!(
            store.find(session.sid, session.user_id).await.unwrap(),
            None
        );
    }
    assert!(!t.exists(&format!("v2:auth:{{{user}}}:sessions")).await);
    assert_eq!(
        store.find(theirs.sid, theirs.user_id).await.unwrap(),
        Some(theirs.clone())
    );
    assert_eq!(members(&t, other).await, vec![theirs.sid.to_string()]);
    // A user without sessions is fine too.
    store.revoke_all(UserId::new_v7()).await.unwrap();
    t.cleanup().await;
}

/// Writes `session` in the layout of earlier versions (`v2:auth:session:<sid>`,
/// `v2:auth:user_sessions:<user_id>`), with a TTL.
async fn write_legacy(t: &TestRedis, session: &Session) -> (String, String) {
    let legacy_session = format!("v2:auth:session:{}", session.sid);
    let legacy_set = format!("v2:auth:user_sessions:{}", session.user_id);
    let _: () = t
        .query(
            redis::cmd("HSET")
                .arg(t.redis.key(&legacy_session))
                .arg("user_id")
                .arg(session.user_id.to_string())
                .arg("jti")
                .arg(session.jti.to_string())
                .arg("created_at")
                .arg(session.created_at)
                .arg("refreshed_at")
                .arg(session.refreshed_at),
        )
        .await;
    let _: () = t
        .query(
            redis::cmd("EXPIRE")
                .arg(t.redis.key(&legacy_session))
                .arg(3600),
        )
        .await;
    let _: () = t
        .query(
            redis::cmd("SADD")
                .arg(t.redis.key(&legacy_set))
                .arg(session.sid.to_string()),
        )
        .await;
    (legacy_session, legacy_set)
}

/// The upgrade from the earlier key layout keeps live sessions: the next refresh moves the
/// session into the hash-tagged layout (keeping its remaining lifetime) and rotates it.
#[tokio::test]
async fn a_session_of_the_earlier_key_layout_is_moved_over_by_its_next_refresh() {
    let t = TestRedis::new();
    let store = RedisSessionStore::new(t.redis.clone());
    let session = new_session(UserId::new_v7());
    let (legacy_session, legacy_set) = write_legacy(&t, &session).await;

    assert_eq!(
        store.find(session.sid, session.user_id).await.unwrap(),
        Some(session.clone()),
        "logout finds it"
    );
    // Another user's token naming that sid finds nothing and moves nothing.
    let outcome = store
        .rotate(
            session.sid,
            UserId::new_v7(),
            session.jti,
            Uuid::new_v4(),
            1_700_000_600,
            TTL,
        )
        .await
        .unwrap();
    assert_eq!(outcome, RotateOutcome::Revoked);
    assert!(t.exists(&legacy_session).await);

    let new_jti = Uuid::new_v4();
    let outcome = store
        .rotate(
            session.sid,
            session.user_id,
            session.jti,
            new_jti,
            1_700_000_600,
            TTL,
        )
        .await
        .unwrap();
    assert_eq!(outcome, RotateOutcome::Rotated);
    assert!(!t.exists(&legacy_session).await, "the old hash is gone");
    let legacy_members: Vec<String> = t
        .query(redis::cmd("SMEMBERS").arg(t.redis.key(&legacy_set)))
        .await;
    assert!(legacy_members.is_empty(), "{legacy_members:?}");
    let moved = store
        .find(session.sid, session.user_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved.jti, new_jti);
    assert_eq!(
        members(&t, session.user_id).await,
        vec![session.sid.to_string()]
    );
    // The old token is now a reuse, as for any rotated session.
    let outcome = store
        .rotate(
            session.sid,
            session.user_id,
            session.jti,
            Uuid::new_v4(),
            1_700_000_700,
            TTL,
        )
        .await
        .unwrap();
    assert_eq!(outcome, RotateOutcome::Reused);
    t.cleanup().await;
}

#[tokio::test]
async fn logout_removes_sessions_of_the_earlier_key_layout_too() {
    let t = TestRedis::new();
    let store = RedisSessionStore::new(t.redis.clone());
    let user = UserId::new_v7();
    let (one, two) = (new_session(user), new_session(user));
    let (one_key, set_key) = write_legacy(&t, &one).await;
    let (two_key, _) = write_legacy(&t, &two).await;

    store.revoke(one.sid, user).await.unwrap();
    assert!(!t.exists(&one_key).await);
    assert!(t.exists(&two_key).await);

    store.revoke_all(user).await.unwrap();
    assert!(!t.exists(&two_key).await);
    assert!(!t.exists(&set_key).await);
    assert_eq!(store.find(two.sid, user).await.unwrap(), None);
    t.cleanup().await;
}
