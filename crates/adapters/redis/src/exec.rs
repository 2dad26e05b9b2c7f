//! Running one Redis round trip (connection checkout included) under the handle's timeout.

use std::future::Future;

use deadpool_redis::Connection;
use medico24_identity::PortError;

use crate::client::{Redis, RedisError};

/// Checks out a connection and runs `op` on it, the whole bounded by [`Redis::timeout`].
///
/// A checkout failure, a command error or the timeout all come back as [`RedisError`].
pub(crate) async fn bounded<T, F, Fut>(redis: &Redis, op: F) -> Result<T, RedisError>
where
    F: FnOnce(Connection) -> Fut,
    Fut: Future<Output = Result<T, RedisError>>,
{
    let attempt = async {
        let conn = redis.conn().await?;
        op(conn).await
    };
    tokio::time::timeout(redis.timeout(), attempt)
        .await
        .map_err(|_| RedisError::Unavailable("redis call timed out".to_owned()))?
}

/// Every Redis failure behind a port is "the store cannot be reached" (→ 503 or fail open).
pub(crate) fn unavailable(error: RedisError) -> PortError {
    PortError::Unavailable(error.to_string())
}

/// Whole seconds of `ttl` for `EXPIRE`/`SET EX`, at least 1 (0 would delete or be refused).
pub(crate) fn ttl_secs(ttl: std::time::Duration) -> u64 {
    ttl.as_secs().max(1)
}
