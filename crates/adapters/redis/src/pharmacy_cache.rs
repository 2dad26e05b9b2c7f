//! The pharmacy caches: the detail body per id (`v2:pharmacy:{id}`) and listing pages
//! under a generation counter (`v2:pharmacy:list_gen`,
//! `v2:pharmacy:list:{gen}:{skip}:{limit}:{is_active}:{is_verified}:{supports_delivery}:{supports_pickup}`).
//!
//! Values are the exact JSON bodies the server renders, stored as strings, so a cached answer is
//! byte-identical to an uncached one. A write never deletes list pages: it increments the
//! generation, and pages of older generations are never read again and expire with their TTL
//! (no `KEYS`/`SCAN`). Everything fails open.

use std::time::Duration;

use medico24_kernel::PharmacyId;
use medico24_pharmacy::{PharmacyCache, PharmacyFilter, Window};

use crate::client::{Redis, RedisError};
use crate::exec::{bounded, ttl_secs};
use crate::metrics::{CacheObserver, RESULT_ERROR, RESULT_HIT, RESULT_MISS, report};

/// The `cache` label of the detail cache.
const DETAIL: &str = "pharmacy";
/// The `cache` label of the listing cache (and of the generation counter).
const LIST: &str = "pharmacy_list";

/// [`PharmacyCache`] over Redis strings.
///
/// Errors never reach the caller: a failed read is a miss, a failed write or invalidation is
/// skipped. Each is logged at `warn` (with the pharmacy id or the key's shape, never a body) and
/// reported as `error` to the observer, which also hears every `hit` and `miss`.
#[derive(Clone)]
pub struct RedisPharmacyCache {
    redis: Redis,
    detail_ttl: Duration,
    list_ttl: Duration,
    observer: Option<CacheObserver>,
}

impl std::fmt::Debug for RedisPharmacyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPharmacyCache")
            .field("redis", &self.redis)
            .field("detail_ttl", &self.detail_ttl)
            .field("list_ttl", &self.list_ttl)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

fn flag(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "true",
        Some(false) => "false",
        None => "any",
    }
}

/// The key of a listing page without the namespace prefix.
pub fn list_key(generation: u64, filter: &PharmacyFilter, window: Window) -> String {
    format!(
        "v2:pharmacy:list:{generation}:{}:{}:{}:{}:{}:{}",
        window.skip(),
        window.limit(),
        flag(Some(filter.is_active)),
        flag(filter.is_verified),
        flag(filter.supports_delivery),
        flag(filter.supports_pickup)
    )
}

/// The generation counter's key without the namespace prefix.
pub const LIST_GENERATION_KEY: &str = "v2:pharmacy:list_gen";

impl RedisPharmacyCache {
    /// Caches in `redis`: details for `detail_ttl` (`PHARMACY_CACHE_TTL_SECONDS`), listing pages
    /// for `list_ttl` (`PHARMACY_LIST_CACHE_TTL_SECONDS`), both at least one second; outcomes
    /// reported to `observer` when given.
    pub fn new(
        redis: Redis,
        detail_ttl: Duration,
        list_ttl: Duration,
        observer: Option<CacheObserver>,
    ) -> Self {
        Self {
            redis,
            detail_ttl,
            list_ttl,
            observer,
        }
    }

    fn detail_key(&self, id: PharmacyId) -> String {
        self.redis.key(&format!("v2:pharmacy:{id}"))
    }

    async fn get(&self, key: String) -> Result<Option<String>, RedisError> {
        bounded(&self.redis, async move |conn| {
            let value: Option<String> = redis::cmd("GET").arg(&key).query_async(conn).await?;
            Ok(value)
        })
        .await
    }

    async fn set(&self, key: String, body: &str, ttl: Duration) -> Result<(), RedisError> {
        let body = body.to_owned();
        let ttl = ttl_secs(ttl);
        bounded(&self.redis, async move |conn| {
            let () = redis::cmd("SET")
                .arg(&key)
                .arg(body)
                .arg("EX")
                .arg(ttl)
                .query_async(conn)
                .await?;
            Ok(())
        })
        .await
    }

    /// Reports a read's outcome and turns it into the port's answer.
    fn read_outcome(
        &self,
        cache: &'static str,
        outcome: Result<Option<String>, RedisError>,
        what: &str,
    ) -> Option<String> {
        match outcome {
            Ok(Some(body)) => {
                report(self.observer.as_ref(), cache, RESULT_HIT);
                Some(body)
            }
            Ok(None) => {
                report(self.observer.as_ref(), cache, RESULT_MISS);
                None
            }
            Err(error) => {
                tracing::warn!(cache, key = what, error = %error, "pharmacy cache read failed");
                report(self.observer.as_ref(), cache, RESULT_ERROR);
                None
            }
        }
    }

    fn write_failed(&self, cache: &'static str, what: &str, error: &RedisError) {
        tracing::warn!(cache, key = what, error = %error, "pharmacy cache write skipped");
        report(self.observer.as_ref(), cache, RESULT_ERROR);
    }
}

impl PharmacyCache for RedisPharmacyCache {
    async fn get_detail(&self, id: PharmacyId) -> Option<String> {
        let outcome = self.get(self.detail_key(id)).await;
        self.read_outcome(DETAIL, outcome, &id.to_string())
    }

    async fn put_detail(&self, id: PharmacyId, body: &str) {
        if let Err(error) = self.set(self.detail_key(id), body, self.detail_ttl).await {
            self.write_failed(DETAIL, &id.to_string(), &error);
        }
    }

    async fn invalidate_detail(&self, id: PharmacyId) {
        let key = self.detail_key(id);
        let deleted = bounded(&self.redis, async move |conn| {
            let _: i64 = redis::cmd("DEL").arg(&key).query_async(conn).await?;
            Ok(())
        })
        .await;
        if let Err(error) = deleted {
            self.write_failed(DETAIL, &id.to_string(), &error);
        }
    }

    async fn list_generation(&self) -> Option<u64> {
        match self.get(self.redis.key(LIST_GENERATION_KEY)).await {
            Ok(None) => Some(0),
            Ok(Some(text)) => match text.parse::<u64>() {
                Ok(generation) => Some(generation),
                Err(_) => {
                    tracing::warn!(
                        cache = LIST,
                        "pharmacy list generation is not an integer; listings bypass the cache"
                    );
                    report(self.observer.as_ref(), LIST, RESULT_ERROR);
                    None
                }
            },
            Err(error) => {
                tracing::warn!(cache = LIST, error = %error, "pharmacy list generation unreadable");
                report(self.observer.as_ref(), LIST, RESULT_ERROR);
                None
            }
        }
    }

    async fn get_list(
        &self,
        generation: u64,
        filter: &PharmacyFilter,
        window: Window,
    ) -> Option<String> {
        let key = list_key(generation, filter, window);
        let outcome = self.get(self.redis.key(&key)).await;
        self.read_outcome(LIST, outcome, &key)
    }

    async fn put_list(&self, generation: u64, filter: &PharmacyFilter, window: Window, body: &str) {
        let key = list_key(generation, filter, window);
        if let Err(error) = self.set(self.redis.key(&key), body, self.list_ttl).await {
            self.write_failed(LIST, &key, &error);
        }
    }

    async fn bump_list_generation(&self) {
        let key = self.redis.key(LIST_GENERATION_KEY);
        let bumped = bounded(&self.redis, async move |conn| {
            let _: i64 = redis::cmd("INCR").arg(&key).query_async(conn).await?;
            Ok(())
        })
        .await;
        if let Err(error) = bumped {
            // Listings cached under the current generation stay visible for their TTL at most.
            self.write_failed(LIST, LIST_GENERATION_KEY, &error);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_keys_follow_the_spec() {
        let filter = PharmacyFilter {
            is_active: false,
            supports_pickup: Some(true),
            ..PharmacyFilter::default()
        };
        let window = Window::new(20, 10).unwrap_or_default();
        assert_eq!(
            list_key(7, &filter, window),
            "v2:pharmacy:list:7:20:10:false:any:any:true"
        );
    }
}
