//! The user cache (`v2:user:{id}`): cache-aside JSON copies of `users` rows that fail
//! open, so a Redis outage only costs database reads.

use std::time::Duration;

use medico24_identity::{User, UserCache};
use medico24_kernel::UserId;

use crate::client::{Redis, RedisError};
use crate::exec::{bounded, ttl_secs};
use crate::metrics::{CacheObserver, RESULT_ERROR, RESULT_HIT, RESULT_MISS, report};

/// The `cache` label of this cache.
const CACHE: &str = "user";

/// [`UserCache`] over Redis strings holding the [`User`] as JSON.
///
/// Errors never reach the caller: a failed or unreadable read is a miss, a failed write or
/// invalidation is skipped. Each is logged at `warn` with the user id only (never the row) and
/// reported as `error` to the observer, which also hears every `hit` and `miss`.
#[derive(Clone)]
pub struct RedisUserCache {
    redis: Redis,
    ttl: Duration,
    observer: Option<CacheObserver>,
}

impl std::fmt::Debug for RedisUserCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisUserCache")
            .field("redis", &self.redis)
            .field("ttl", &self.ttl)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

impl RedisUserCache {
    /// A cache in `redis` keeping rows for `ttl` (`USER_CACHE_TTL_SECONDS`; at least one
    /// second), reporting its outcomes to `observer` when given.
    pub fn new(redis: Redis, ttl: Duration, observer: Option<CacheObserver>) -> Self {
        Self {
            redis,
            ttl,
            observer,
        }
    }

    fn key(&self, id: UserId) -> String {
        self.redis.key(&format!("v2:user:{id}"))
    }

    /// Deletes the cached row of `id`, reporting a failure (the erasure must know the row is
    /// gone; [`UserCache::invalidate`] fails open instead).
    ///
    /// # Errors
    /// [`RedisError`] when the key could not be deleted.
    pub async fn remove(&self, id: UserId) -> Result<(), RedisError> {
        let key = self.key(id);
        bounded(&self.redis, async move |conn| {
            let _: i64 = redis::cmd("DEL").arg(&key).query_async(conn).await?;
            Ok::<_, RedisError>(())
        })
        .await
    }

    fn report(&self, result: &'static str) {
        report(self.observer.as_ref(), CACHE, result);
    }
}

impl UserCache for RedisUserCache {
    async fn get(&self, id: UserId) -> Option<User> {
        let key = self.key(id);
        let cached = bounded(&self.redis, async move |conn| {
            let value: Option<String> = redis::cmd("GET").arg(&key).query_async(conn).await?;
            Ok::<_, RedisError>(value)
        })
        .await;
        let json = match cached {
            Ok(Some(json)) => json,
            Ok(None) => {
                self.report(RESULT_MISS);
                return None;
            }
            Err(error) => {
                tracing::warn!(user.id = %id, error = %error, "user cache read failed");
                self.report(RESULT_ERROR);
                return None;
            }
        };
        match serde_json::from_str::<User>(&json) {
            Ok(user) => {
                self.report(RESULT_HIT);
                Some(user)
            }
            Err(error) => {
                // serde_json's message can quote the offending value (an email, a name), so only
                // its category and position are logged.
                tracing::warn!(
                    user.id = %id,
                    error.category = ?error.classify(),
                    error.line = error.line(),
                    error.column = error.column(),
                    "user cache holds an unreadable value"
                );
                self.report(RESULT_ERROR);
                None
            }
        }
    }

    async fn put(&self, user: &User) {
        let id = user.id;
        let json = match serde_json::to_string(user) {
            Ok(json) => json,
            Err(error) => {
                tracing::warn!(user.id = %id, error.category = ?error.classify(), "user cache could not encode a row");
                self.report(RESULT_ERROR);
                return;
            }
        };
        let key = self.key(id);
        let ttl = ttl_secs(self.ttl);
        let written = bounded(&self.redis, async move |conn| {
            let () = redis::cmd("SET")
                .arg(&key)
                .arg(json)
                .arg("EX")
                .arg(ttl)
                .query_async(conn)
                .await?;
            Ok::<_, RedisError>(())
        })
        .await;
        if let Err(error) = written {
            tracing::warn!(user.id = %id, error = %error, "user cache write skipped");
            self.report(RESULT_ERROR);
        }
    }

    async fn invalidate(&self, id: UserId) {
        if let Err(error) = self.remove(id).await {
            tracing::warn!(user.id = %id, error = %error, "user cache invalidation skipped");
            self.report(RESULT_ERROR);
        }
    }
}
