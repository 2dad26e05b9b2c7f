//! Shared fixtures: a per-test namespaced Redis handle, raw key inspection and cleanup, a
//! recording cache observer and a sample user.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use medico24_identity::User;
use medico24_kernel::{Role, UserId};
use medico24_redis::{CacheObserver, Redis, RedisConfig};
use uuid::Uuid;

/// URL of the Redis the tests run against.
pub fn redis_url() -> String {
    std::env::var("MEDICO24_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A handle whose keys all live under a fresh random prefix.
pub struct TestRedis {
    pub redis: Redis,
    pub prefix: String,
}

impl TestRedis {
    pub fn new() -> Self {
        let prefix = format!("test:{}:", Uuid::new_v4().simple());
        let redis = Redis::connect_lazy(&RedisConfig {
            url: redis_url(),
            tls_ca_file: None,
            cluster: false,
            max_connections: 16,
            timeout: Duration::from_secs(5),
            key_prefix: prefix.clone(),
            idle_check_after: RedisConfig::IDLE_CHECK_AFTER,
        })
        .expect("redis config");
        Self { redis, prefix }
    }

    /// Every key under this test's prefix (SCAN: test-only).
    pub async fn keys(&self) -> Vec<String> {
        let mut conn = self.redis.conn().await.expect("redis connection");
        let mut cursor: u64 = 0;
        let mut keys = Vec::new();
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}*", self.prefix))
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .expect("SCAN");
            keys.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        keys.sort();
        keys
    }

    /// Runs one raw command on the test Redis.
    pub async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> T {
        let mut conn = self.redis.conn().await.expect("redis connection");
        cmd.query_async(&mut conn).await.expect("redis command")
    }

    /// `TTL` of the namespaced `key` (-2 when absent, -1 without expiry).
    pub async fn ttl(&self, key: &str) -> i64 {
        self.query(redis::cmd("TTL").arg(self.redis.key(key))).await
    }

    /// Whether the namespaced `key` exists.
    pub async fn exists(&self, key: &str) -> bool {
        let n: i64 = self
            .query(redis::cmd("EXISTS").arg(self.redis.key(key)))
            .await;
        n == 1
    }

    /// Deletes every key of this test.
    pub async fn cleanup(self) {
        let keys = self.keys().await;
        if !keys.is_empty() {
            let _: i64 = self.query(redis::cmd("DEL").arg(keys)).await;
        }
    }
}

/// What a recording observer was told, in order: `(cache, result)` pairs.
pub type Seen = Arc<Mutex<Vec<(&'static str, &'static str)>>>;

/// An observer that records every `(cache, result)` it is told.
pub fn recording_observer() -> (CacheObserver, Seen) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let observer: CacheObserver = Arc::new(move |cache, result| {
        sink.lock().unwrap().push((cache, result));
    });
    (observer, seen)
}

/// A fully populated user row.
pub fn sample_user() -> User {
    let now = Utc::now();
    User {
        id: UserId::new_v7(),
        firebase_uid: format!("uid-{}", Uuid::new_v4().simple()),
        email: "ada@example.test".to_owned(),
        email_verified: true,
        auth_provider: "google".to_owned(),
        full_name: Some("Ada Lovelace".to_owned()),
        given_name: Some("Ada".to_owned()),
        family_name: Some("Lovelace".to_owned()),
        photo_url: None,
        phone: Some("+441234567890".to_owned()),
        role: Role::Doctor,
        is_active: true,
        is_onboarded: false,
        created_at: now,
        updated_at: now,
        last_login_at: Some(now),
    }
}
