//! Running one Redis round trip (connection checkout included) under the handle's timeout.

use tokio::time::{Instant, timeout_at};

use medico24_identity::PortError;

use crate::client::{Connection, Redis, RedisError};

/// Checks out a connection and runs `op` on it, the whole bounded by [`Redis::timeout`].
///
/// A checkout failure, a command error or the timeout all come back as [`RedisError`]. A
/// connection whose command failed at the transport level, or did not answer in time, is
/// detached from the pool: the pool hands connections out without probing them, so this is
/// where a dead one leaves (the next checkout opens a new one).
pub(crate) async fn bounded<T>(
    redis: &Redis,
    op: impl AsyncFnOnce(&mut Connection) -> Result<T, RedisError>,
) -> Result<T, RedisError> {
    let deadline = Instant::now() + redis.timeout();
    let timed_out = || RedisError::Unavailable("redis call timed out".to_owned());
    let mut conn = timeout_at(deadline, redis.conn())
        .await
        .map_err(|_| timed_out())??;
    match timeout_at(deadline, op(&mut conn)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => {
            if breaks_connection(&error) {
                conn.detach();
            }
            Err(error)
        }
        Err(_) => {
            conn.detach();
            Err(timed_out())
        }
    }
}

/// Whether `error` leaves the connection unusable (rather than being a command's own error, such
/// as a wrong type or a script error, after which the connection is fine).
fn breaks_connection(error: &RedisError) -> bool {
    match error {
        RedisError::Command(error) => {
            error.is_io_error()
                || error.is_connection_dropped()
                || error.is_unrecoverable_error()
                || error.is_timeout()
        }
        RedisError::Unavailable(_) | RedisError::Config(_) => false,
    }
}

/// Every Redis failure behind a port is "the store cannot be reached" (→ 503 or fail open).
pub(crate) fn unavailable(error: RedisError) -> PortError {
    PortError::Unavailable(error.to_string())
}

/// Whole seconds of `ttl` for `EXPIRE`/`SET EX`, at least 1 (0 would delete or be refused).
pub(crate) fn ttl_secs(ttl: std::time::Duration) -> u64 {
    ttl.as_secs().max(1)
}
