//! Pooled connections: handed out without a round trip while busy, checked with `PING` after
//! being idle, and a connection that died used by at most one call.

use std::time::Duration;

use medico24_identity::{RateLimiter, RatePolicy};
use medico24_redis::{Redis, RedisConfig, RedisRateLimiter};
use uuid::Uuid;

use crate::support::redis_url;

/// A handle with one pooled connection, so every call reuses the same one until it is replaced.
fn single_connection(idle_check_after: Duration) -> Redis {
    Redis::connect_lazy(&RedisConfig {
        url: redis_url(),
        tls_ca_file: None,
        cluster: false,
        max_connections: 1,
        timeout: Duration::from_secs(5),
        key_prefix: format!("test:{}:", Uuid::new_v4().simple()),
        idle_check_after,
    })
    .expect("redis config")
}

/// `CLIENT ID` of the pooled connection.
async fn pooled_client_id(redis: &Redis) -> i64 {
    let mut conn = redis.conn().await.expect("redis connection");
    redis::cmd("CLIENT")
        .arg("ID")
        .query_async(&mut conn)
        .await
        .expect("CLIENT ID")
}

/// Closes connection `id` from the server side, as a Redis restart or `timeout` would.
async fn kill_client(id: i64) {
    let client = redis::Client::open(redis_url()).expect("redis url");
    let mut admin = client
        .get_multiplexed_async_connection()
        .await
        .expect("admin connection");
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(id)
        .query_async(&mut admin)
        .await
        .expect("CLIENT KILL");
    assert_eq!(killed, 1, "connection {id} was not found");
}

#[tokio::test]
async fn a_connection_that_died_while_in_use_fails_one_call_and_is_replaced() {
    // Never idle long enough for a PING: the dead connection is handed out once.
    let redis = single_connection(Duration::from_secs(3600));
    let limiter = RedisRateLimiter::new(redis.clone());
    assert_eq!(limiter.hit(RatePolicy::Default, "c", 1).await.unwrap(), 1);
    let first = pooled_client_id(&redis).await;
    kill_client(first).await;

    let failed = limiter.hit(RatePolicy::Default, "c", 1).await;
    assert!(
        failed.is_err(),
        "a call on the killed connection answered {failed:?}"
    );
    // The failed connection left the pool: the next call opens a new one and succeeds.
    assert_eq!(limiter.hit(RatePolicy::Default, "c", 1).await.unwrap(), 2);
    assert_ne!(pooled_client_id(&redis).await, first);
}

#[tokio::test]
async fn an_idle_connection_is_checked_before_it_is_handed_out() {
    // Every checkout counts as idle: each one is checked with a PING first.
    let redis = single_connection(Duration::ZERO);
    let limiter = RedisRateLimiter::new(redis.clone());
    assert_eq!(limiter.hit(RatePolicy::Default, "c", 1).await.unwrap(), 1);
    let first = pooled_client_id(&redis).await;
    kill_client(first).await;

    // The PING on checkout finds the connection dead; the pool opens another and no call fails.
    assert_eq!(limiter.hit(RatePolicy::Default, "c", 1).await.unwrap(), 2);
    assert_ne!(pooled_client_id(&redis).await, first);
}

#[test]
fn an_unreadable_ca_file_is_a_configuration_error_naming_it() {
    for cluster in [false, true] {
        let result = Redis::connect_lazy(&RedisConfig {
            url: "rediss://127.0.0.1:6380".to_owned(),
            tls_ca_file: Some("/nonexistent/redis-ca.pem".into()),
            cluster,
            max_connections: 1,
            timeout: Duration::from_secs(1),
            key_prefix: String::new(),
            idle_check_after: RedisConfig::IDLE_CHECK_AFTER,
        });
        match result {
            Err(medico24_redis::RedisError::Config(message)) => {
                assert!(message.contains("REDIS_CA_FILE"), "{message}");
                assert!(message.contains("/nonexistent/redis-ca.pem"), "{message}");
            }
            other => panic!("cluster={cluster}: {other:?}"),
        }
    }
}
