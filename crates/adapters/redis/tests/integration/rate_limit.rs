//! `RedisRateLimiter`: counting, expiry, independence of counters, atomicity.

use medico24_identity::{RateLimiter, RatePolicy};
use medico24_redis::RedisRateLimiter;

use crate::support::TestRedis;

#[tokio::test]
async fn counts_from_one_within_a_window_and_expires_the_counter_after_61_seconds() {
    let t = TestRedis::new();
    let limiter = RedisRateLimiter::new(t.redis.clone());

    for expected in 1..=5 {
        let count = limiter
            .hit(RatePolicy::Auth, "203.0.113.7", 28_000_000)
            .await
            .unwrap();
        assert_eq!(count, expected);
    }

    let ttl = t.ttl("v2:rl:auth:203.0.113.7:28000000").await;
    assert!((1..=61).contains(&ttl), "TTL {ttl}");
    t.cleanup().await;
}

#[tokio::test]
async fn the_first_hit_sets_a_61_second_ttl() {
    let t = TestRedis::new();
    let limiter = RedisRateLimiter::new(t.redis.clone());

    limiter
        .hit(RatePolicy::Default, "2001:db8::1", 7)
        .await
        .unwrap();

    let ttl = t.ttl("v2:rl:default:2001:db8::1:7").await;
    assert!((60..=61).contains(&ttl), "TTL {ttl}");
    t.cleanup().await;
}

#[tokio::test]
async fn policies_clients_and_windows_count_independently() {
    let t = TestRedis::new();
    let limiter = RedisRateLimiter::new(t.redis.clone());
    for _ in 0..3 {
        limiter
            .hit(RatePolicy::Default, "198.51.100.1", 100)
            .await
            .unwrap();
    }

    assert_eq!(
        limiter
            .hit(RatePolicy::Default, "198.51.100.1", 100)
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        limiter
            .hit(RatePolicy::Auth, "198.51.100.1", 100)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        limiter
            .hit(RatePolicy::AdminSend, "198.51.100.1", 100)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        limiter
            .hit(RatePolicy::Environment, "198.51.100.1", 100)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        limiter
            .hit(RatePolicy::Default, "198.51.100.2", 100)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        limiter
            .hit(RatePolicy::Default, "198.51.100.1", 101)
            .await
            .unwrap(),
        1
    );
    assert_eq!(t.keys().await.len(), 6);
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_hits_count_exactly_a_hundred() {
    let t = TestRedis::new();
    let limiter = RedisRateLimiter::new(t.redis.clone());
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let limiter = limiter.clone();
        tasks.spawn(async move { limiter.hit(RatePolicy::Default, "192.0.2.9", 42).await });
    }

    let mut counts = Vec::new();
    while let Some(result) = tasks.join_next().await {
        counts.push(result.unwrap().unwrap());
    }

    counts.sort_unstable();
    assert_eq!(counts, (1..=100).collect::<Vec<u64>>());
    assert_eq!(
        limiter
            .hit(RatePolicy::Default, "192.0.2.9", 42)
            .await
            .unwrap(),
        101
    );
    t.cleanup().await;
}
