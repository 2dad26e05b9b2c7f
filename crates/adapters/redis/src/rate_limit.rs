//! The fixed-window rate limiter: one counter per policy, client and minute.

use std::sync::LazyLock;

use medico24_identity::{PortError, RateLimiter, RatePolicy};
use redis::Script;

use crate::client::{Redis, RedisError};
use crate::exec::{bounded, unavailable};

/// `INCR` the window's counter and give it a 61 s TTL on the first hit, atomically, so a crash
/// between the two commands can never leave a counter that lives forever.
///
/// `KEYS[1]` = counter. Returns the count.
const HIT_LUA: &str = r"
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('EXPIRE', KEYS[1], 61)
end
return count
";

static HIT: LazyLock<Script> = LazyLock::new(|| Script::new(HIT_LUA));

/// [`RateLimiter`] over Redis counters `v2:rl:{policy}:{client}:{window}`.
///
/// Every call is bounded by the handle's timeout; the caller fails open on any error.
#[derive(Debug, Clone)]
pub struct RedisRateLimiter {
    redis: Redis,
}

impl RedisRateLimiter {
    /// A limiter keeping its counters in `redis`.
    pub fn new(redis: Redis) -> Self {
        Self { redis }
    }
}

impl RateLimiter for RedisRateLimiter {
    async fn hit(&self, policy: RatePolicy, client: &str, window: i64) -> Result<u64, PortError> {
        let key = self
            .redis
            .key(&format!("v2:rl:{}:{client}:{window}", policy.as_str()));
        bounded(&self.redis, async move |conn| {
            let count: u64 = HIT.key(&key).invoke_async(conn).await?;
            Ok::<_, RedisError>(count)
        })
        .await
        .map_err(unavailable)
    }
}
