//! `RedisConditionsCache`: the stored form and key, the TTL, hit/stale/miss/error reports, and
//! failing open with Redis down.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use medico24_environment::{CachedConditions, Conditions, ConditionsCache, GridPoint};
use medico24_redis::{Redis, RedisConditionsCache, RedisConfig};
use uuid::Uuid;

use crate::support::{TestRedis, recording_observer};

fn conditions() -> Conditions {
    Conditions {
        aqi: 61,
        aqi_category: "Moderate air quality".to_owned(),
        temperature: 29.4,
        condition: "Partly cloudy".to_owned(),
        humidity: Some(74.0),
        dominant_pollutant: Some("pm25".to_owned()),
        observed_at: chrono::DateTime::from_timestamp(1_771_146_000, 0),
    }
}

fn cache(t: &TestRedis, observer: medico24_redis::CacheObserver) -> RedisConditionsCache {
    RedisConditionsCache::new(
        t.redis.clone(),
        Duration::from_secs(1200),
        Duration::from_secs(7200),
        Some(observer),
    )
}

#[tokio::test]
async fn an_entry_is_stored_under_the_grid_key_for_the_stale_period_and_read_back() {
    let t = TestRedis::new();
    let (observer, seen) = recording_observer();
    let cache = cache(&t, observer);
    let point = GridPoint::round(-0.0004, 72.87765).unwrap();
    // Whole seconds, so the stored text reads back to the same instant.
    let fetched_at = chrono::DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
    let mut data = conditions();
    data.observed_at = Some(fetched_at - TimeDelta::minutes(5));
    let entry = CachedConditions { data, fetched_at };

    cache.put(point, &entry).await;

    assert_eq!(
        t.keys().await,
        vec![format!("{}v2:env:0.000:72.878", t.prefix)]
    );
    let ttl = t.ttl("v2:env:0.000:72.878").await;
    assert!((7_190..=7_200).contains(&ttl), "TTL {ttl}");
    let raw: String = t
        .query(redis::cmd("GET").arg(t.redis.key("v2:env:0.000:72.878")))
        .await;
    let raw: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        raw["data"].as_object().unwrap().keys().collect::<Vec<_>>(),
        vec![
            "aqi",
            "aqi_category",
            "condition",
            "dominant_pollutant",
            "humidity",
            "observed_at",
            "temperature"
        ]
    );
    assert_eq!(raw["data"]["temperature"], 29.4);
    assert!(raw["fetched_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(cache.get(point).await, Some(entry));
    assert_eq!(*seen.lock().unwrap(), vec![("environment", "hit")]);
    t.cleanup().await;
}

#[tokio::test]
async fn an_entry_past_the_fresh_period_is_reported_stale_and_an_absent_one_a_miss() {
    let t = TestRedis::new();
    let (observer, seen) = recording_observer();
    let cache = cache(&t, observer);
    let point = GridPoint::round(19.076, 72.878).unwrap();
    let old = CachedConditions {
        data: conditions(),
        fetched_at: Utc::now() - TimeDelta::minutes(30),
    };
    cache.put(point, &old).await;

    assert_eq!(cache.get(point).await.map(|e| e.data), Some(conditions()));
    assert_eq!(cache.get(GridPoint::round(1.0, 1.0).unwrap()).await, None);
    assert_eq!(
        *seen.lock().unwrap(),
        vec![("environment", "stale"), ("environment", "miss")]
    );
    t.cleanup().await;
}

#[tokio::test]
async fn an_unreadable_value_is_a_miss_reported_as_an_error() {
    let t = TestRedis::new();
    let (observer, seen) = recording_observer();
    let cache = cache(&t, observer);
    let _: () = t
        .query(
            redis::cmd("SET")
                .arg(t.redis.key("v2:env:1.000:2.000"))
                .arg(r#"{"data":{"aqi":"sixty"},"fetched_at":"now"}"#),
        )
        .await;

    assert_eq!(cache.get(GridPoint::round(1.0, 2.0).unwrap()).await, None);
    assert_eq!(*seen.lock().unwrap(), vec![("environment", "error")]);
    t.cleanup().await;
}

#[tokio::test]
async fn with_redis_down_reads_miss_and_writes_are_skipped_both_reported_as_errors() {
    let redis = Redis::connect_lazy(&RedisConfig {
        url: "redis://127.0.0.1:1".to_owned(),
        tls_ca_file: None,
        cluster: false,
        max_connections: 2,
        timeout: Duration::from_millis(300),
        key_prefix: format!("test:{}:", Uuid::new_v4().simple()),
        idle_check_after: RedisConfig::IDLE_CHECK_AFTER,
    })
    .unwrap();
    let (observer, seen) = recording_observer();
    let cache = RedisConditionsCache::new(
        redis,
        Duration::from_secs(1200),
        Duration::from_secs(7200),
        Some(observer),
    );
    let point = GridPoint::round(1.0, 2.0).unwrap();

    assert_eq!(cache.get(point).await, None);
    cache
        .put(
            point,
            &CachedConditions {
                data: conditions(),
                fetched_at: Utc::now(),
            },
        )
        .await;
    assert_eq!(
        *seen.lock().unwrap(),
        vec![("environment", "error"), ("environment", "error")]
    );
}
