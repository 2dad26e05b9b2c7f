//! Behaviour with Redis unreachable: sessions report `Unavailable`, the limiter errors, the
//! cache fails open and reports `error`.

use std::time::Duration;

use medico24_identity::{PortError, RateLimiter, RatePolicy, Session, SessionStore, UserCache};
use medico24_kernel::UserId;
use medico24_redis::{Redis, RedisConfig, RedisRateLimiter, RedisSessionStore, RedisUserCache};
use uuid::Uuid;

use crate::support::{recording_observer, sample_user};

/// A handle pointing at a port nothing listens on.
fn dead_redis() -> Redis {
    Redis::connect_lazy(&RedisConfig {
        url: "redis://127.0.0.1:1".to_owned(),
        tls_ca_file: None,
        cluster: false,
        max_connections: 2,
        timeout: Duration::from_millis(300),
        key_prefix: format!("test:{}:", Uuid::new_v4().simple()),
        idle_check_after: RedisConfig::IDLE_CHECK_AFTER,
    })
    .expect("redis config")
}

fn assert_unavailable<T: std::fmt::Debug>(result: Result<T, PortError>) {
    assert!(
        matches!(result, Err(PortError::Unavailable(_))),
        "expected Unavailable, got {result:?}"
    );
}

#[tokio::test]
async fn every_session_method_is_unavailable() {
    let store = RedisSessionStore::new(dead_redis());
    let user = UserId::new_v7();
    let sid = Uuid::new_v4();
    let session = Session {
        sid,
        user_id: user,
        jti: Uuid::new_v4(),
        created_at: 1,
        refreshed_at: 1,
    };
    let ttl = Duration::from_secs(60);

    assert_unavailable(store.create(&session, ttl).await);
    assert_unavailable(
        store
            .rotate(sid, user, Uuid::new_v4(), Uuid::new_v4(), 2, ttl)
            .await,
    );
    assert_unavailable(store.find(sid, user).await);
    assert_unavailable(store.revoke(sid, user).await);
    assert_unavailable(store.revoke_all(user).await);
}

#[tokio::test]
async fn the_rate_limiter_errors() {
    let limiter = RedisRateLimiter::new(dead_redis());

    assert_unavailable(limiter.hit(RatePolicy::Default, "192.0.2.1", 1).await);
}

#[tokio::test]
async fn the_user_cache_fails_open_and_reports_errors() {
    let (observer, seen) = recording_observer();
    let cache = RedisUserCache::new(dead_redis(), Duration::from_secs(60), Some(observer));
    let user = sample_user();

    assert_eq!(cache.get(user.id).await, None);
    cache.put(&user).await;
    cache.invalidate(user.id).await;

    assert_eq!(
        *seen.lock().unwrap(),
        vec![("user", "error"), ("user", "error"), ("user", "error")]
    );
}

#[tokio::test]
async fn a_hung_redis_is_cut_off_by_the_timeout() {
    // Accepts connections and never answers, like a wedged server.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepting = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let redis = Redis::connect_lazy(&RedisConfig {
        url: format!("redis://127.0.0.1:{port}"),
        tls_ca_file: None,
        cluster: false,
        max_connections: 2,
        timeout: Duration::from_millis(300),
        key_prefix: String::new(),
        idle_check_after: RedisConfig::IDLE_CHECK_AFTER,
    })
    .expect("redis config");
    let limiter = RedisRateLimiter::new(redis.clone());
    let store = RedisSessionStore::new(redis);

    // The outer bound only keeps a regression from hanging the suite.
    let hit = tokio::time::timeout(
        Duration::from_secs(30),
        limiter.hit(RatePolicy::Default, "192.0.2.1", 1),
    )
    .await
    .expect("the limiter must give up on its own");
    assert_unavailable(hit);
    let found = tokio::time::timeout(
        Duration::from_secs(30),
        store.find(Uuid::new_v4(), UserId::new_v7()),
    )
    .await
    .expect("the session store must give up on its own");
    assert_unavailable(found);
    accepting.abort();
}
