//! `RedisUserCache`: roundtrip, TTL, invalidation, corrupt values and observer reports.

use std::time::Duration;

use medico24_identity::UserCache;
use medico24_kernel::UserId;
use medico24_redis::RedisUserCache;

use crate::support::{TestRedis, recording_observer, sample_user};

#[tokio::test]
async fn a_stored_user_comes_back_equal_and_expires_after_the_ttl() {
    let t = TestRedis::new();
    let (observer, seen) = recording_observer();
    let cache = RedisUserCache::new(t.redis.clone(), Duration::from_secs(1800), Some(observer));
    let user = sample_user();

    cache.put(&user).await;

    assert_eq!(cache.get(user.id).await, Some(user.clone()));
    let ttl = t.ttl(&format!("v2:user:{}", user.id)).await;
    assert!((1_790..=1_800).contains(&ttl), "TTL {ttl}");
    assert_eq!(*seen.lock().unwrap(), vec![("user", "hit")]);
    t.cleanup().await;
}

#[tokio::test]
async fn an_absent_user_is_a_miss() {
    let t = TestRedis::new();
    let (observer, seen) = recording_observer();
    let cache = RedisUserCache::new(t.redis.clone(), Duration::from_secs(60), Some(observer));

    assert_eq!(cache.get(UserId::new_v7()).await, None);
    assert_eq!(*seen.lock().unwrap(), vec![("user", "miss")]);
    t.cleanup().await;
}

#[tokio::test]
async fn invalidation_makes_the_next_read_a_miss() {
    let t = TestRedis::new();
    let (observer, seen) = recording_observer();
    let cache = RedisUserCache::new(t.redis.clone(), Duration::from_secs(60), Some(observer));
    let user = sample_user();
    cache.put(&user).await;

    cache.invalidate(user.id).await;

    assert_eq!(cache.get(user.id).await, None);
    assert!(t.keys().await.is_empty());
    assert_eq!(*seen.lock().unwrap(), vec![("user", "miss")]);
    t.cleanup().await;
}

#[tokio::test]
async fn a_corrupt_value_is_a_miss_reported_as_an_error() {
    let t = TestRedis::new();
    let (observer, seen) = recording_observer();
    let cache = RedisUserCache::new(t.redis.clone(), Duration::from_secs(60), Some(observer));
    let id = UserId::new_v7();
    let _: () = t
        .query(
            redis::cmd("SET")
                .arg(t.redis.key(&format!("v2:user:{id}")))
                .arg("{\"id\": not json"),
        )
        .await;

    assert_eq!(cache.get(id).await, None);
    assert_eq!(*seen.lock().unwrap(), vec![("user", "error")]);
    t.cleanup().await;
}

#[tokio::test]
async fn a_value_of_the_wrong_shape_is_a_miss_reported_as_an_error() {
    let t = TestRedis::new();
    let (observer, seen) = recording_observer();
    let cache = RedisUserCache::new(t.redis.clone(), Duration::from_secs(60), Some(observer));
    let id = UserId::new_v7();
    let _: () = t
        .query(
            redis::cmd("SET")
                .arg(t.redis.key(&format!("v2:user:{id}")))
                .arg("{\"email\":\"ada@example.test\"}"),
        )
        .await;

    assert_eq!(cache.get(id).await, None);
    assert_eq!(*seen.lock().unwrap(), vec![("user", "error")]);
    t.cleanup().await;
}

#[tokio::test]
async fn works_without_an_observer() {
    let t = TestRedis::new();
    let cache = RedisUserCache::new(t.redis.clone(), Duration::from_secs(60), None);
    let user = sample_user();

    assert_eq!(cache.get(user.id).await, None);
    cache.put(&user).await;
    assert_eq!(cache.get(user.id).await, Some(user.clone()));
    t.cleanup().await;
}
