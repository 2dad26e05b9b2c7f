//! `RedisPharmacyCache`: detail and listing round trips with their TTLs and keys, the
//! generation counter, empty listings, and failing open with `error` reports.

use std::time::Duration;

use medico24_kernel::PharmacyId;
use medico24_pharmacy::{PharmacyCache, PharmacyFilter, Window};
use medico24_redis::{Redis, RedisConfig, RedisPharmacyCache};
use uuid::Uuid;

use crate::support::{TestRedis, recording_observer};

fn cache(t: &TestRedis) -> (RedisPharmacyCache, crate::support::Seen) {
    let (observer, seen) = recording_observer();
    let cache = RedisPharmacyCache::new(
        t.redis.clone(),
        Duration::from_secs(3600),
        Duration::from_secs(300),
        Some(observer),
    );
    (cache, seen)
}

#[tokio::test]
async fn a_detail_body_comes_back_byte_for_byte_until_invalidated() {
    let t = TestRedis::new();
    let (cache, seen) = cache(&t);
    let id = PharmacyId::new_v7();
    let body = r#"{"name":"Apollo","rating":0.0,"hours":[]}"#;

    assert_eq!(cache.get_detail(id).await, None);
    cache.put_detail(id, body).await;
    assert_eq!(cache.get_detail(id).await.as_deref(), Some(body));
    let ttl = t.ttl(&format!("v2:pharmacy:{id}")).await;
    assert!((3_590..=3_600).contains(&ttl), "TTL {ttl}");
    cache.invalidate_detail(id).await;
    assert_eq!(cache.get_detail(id).await, None);
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            ("pharmacy", "miss"),
            ("pharmacy", "hit"),
            ("pharmacy", "miss")
        ]
    );
    t.cleanup().await;
}

#[tokio::test]
async fn listings_live_under_the_generation_and_a_bump_supersedes_them() {
    let t = TestRedis::new();
    let (cache, seen) = cache(&t);
    let filter = PharmacyFilter {
        supports_delivery: Some(true),
        ..PharmacyFilter::default()
    };
    let window = Window::new(20, 10).unwrap();

    assert_eq!(
        cache.list_generation().await,
        Some(0),
        "a missing counter is 0"
    );
    cache.put_list(0, &filter, window, "[]").await;
    assert_eq!(
        cache.get_list(0, &filter, window).await.as_deref(),
        Some("[]"),
        "an empty listing is a cached value"
    );
    let key = "v2:pharmacy:list:0:20:10:true:any:true:any";
    assert!(t.exists(key).await, "key shape of the listing cache");
    let ttl = t.ttl(key).await;
    assert!((290..=300).contains(&ttl), "TTL {ttl}");

    cache.bump_list_generation().await;
    cache.bump_list_generation().await;
    assert_eq!(cache.list_generation().await, Some(2));
    assert_eq!(
        t.ttl("v2:pharmacy:list_gen").await,
        -1,
        "the counter never expires"
    );
    assert_eq!(cache.get_list(2, &filter, window).await, None);
    let other = PharmacyFilter::default();
    assert_eq!(
        cache.get_list(0, &other, window).await,
        None,
        "filters are part of the key"
    );
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            ("pharmacy_list", "hit"),
            ("pharmacy_list", "miss"),
            ("pharmacy_list", "miss")
        ]
    );
    t.cleanup().await;
}

#[tokio::test]
async fn a_corrupt_generation_bypasses_the_listing_cache() {
    let t = TestRedis::new();
    let (cache, seen) = cache(&t);
    let _: () = t
        .query(
            redis::cmd("SET")
                .arg(t.redis.key("v2:pharmacy:list_gen"))
                .arg("not-a-number"),
        )
        .await;
    assert_eq!(cache.list_generation().await, None);
    assert_eq!(*seen.lock().unwrap(), vec![("pharmacy_list", "error")]);
    t.cleanup().await;
}

#[tokio::test]
async fn with_redis_down_every_call_fails_open_and_reports_an_error() {
    let dead = Redis::connect_lazy(&RedisConfig {
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
    let cache = RedisPharmacyCache::new(
        dead,
        Duration::from_secs(60),
        Duration::from_secs(60),
        Some(observer),
    );
    let id = PharmacyId::new_v7();
    let filter = PharmacyFilter::default();
    let window = Window::default();

    assert_eq!(cache.get_detail(id).await, None);
    cache.put_detail(id, "{}").await;
    cache.invalidate_detail(id).await;
    assert_eq!(cache.list_generation().await, None);
    assert_eq!(cache.get_list(0, &filter, window).await, None);
    cache.put_list(0, &filter, window, "[]").await;
    cache.bump_list_generation().await;
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            ("pharmacy", "error"),
            ("pharmacy", "error"),
            ("pharmacy", "error"),
            ("pharmacy_list", "error"),
            ("pharmacy_list", "error"),
            ("pharmacy_list", "error"),
            ("pharmacy_list", "error"),
        ]
    );
}
