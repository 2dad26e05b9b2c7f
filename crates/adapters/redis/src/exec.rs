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

#[cfg(test)]
mod tests {
    //! Against the test Redis (`MEDICO24_TEST_REDIS_URL`, default local): which failures take
    //! the connection out of the pool.

    #![allow(clippy::unwrap_used, reason = "tests fail loudly on broken fixtures")]

    use std::time::Duration;

    use super::bounded;
    use crate::client::{Redis, RedisConfig, RedisError};

    /// One pooled connection, never pinged on checkout, calls bounded by 300 ms.
    fn single_connection() -> Redis {
        let url = std::env::var("MEDICO24_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        Redis::connect_lazy(&RedisConfig {
            url,
            tls_ca_file: None,
            cluster: false,
            max_connections: 1,
            timeout: Duration::from_millis(300),
            key_prefix: format!("test:{}:", uuid::Uuid::new_v4().simple()),
            idle_check_after: Duration::from_secs(3600),
        })
        .unwrap()
    }

    async fn client_id(redis: &Redis) -> i64 {
        bounded(redis, async |conn| {
            Ok(redis::cmd("CLIENT").arg("ID").query_async(conn).await?)
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn a_call_that_times_out_leaves_its_connection_out_of_the_pool() {
        let redis = single_connection();
        let first = client_id(&redis).await;
        // BLPOP on an empty list holds the connection for 5 s, past the 300 ms bound.
        let key = redis.key("empty-list");
        let blocked = bounded(&redis, async |conn| {
            let _: Option<(String, String)> = redis::cmd("BLPOP")
                .arg(&key)
                .arg(5)
                .query_async(conn)
                .await?;
            Ok(())
        })
        .await;
        assert!(
            matches!(blocked, Err(RedisError::Unavailable(_))),
            "{blocked:?}"
        );
        // Kept, the connection would still be waiting on BLPOP and this call would time out.
        assert_ne!(client_id(&redis).await, first);
    }

    #[tokio::test]
    async fn a_command_refused_by_redis_keeps_its_connection() {
        let redis = single_connection();
        let first = client_id(&redis).await;
        let key = redis.key("text");
        let refused = bounded(&redis, async |conn| {
            let () = redis::cmd("SET")
                .arg(&key)
                .arg("not a number")
                .arg("EX")
                .arg(60)
                .query_async(&mut *conn)
                .await?;
            let count: i64 = redis::cmd("INCR").arg(&key).query_async(conn).await?;
            Ok(count)
        })
        .await;
        assert!(
            matches!(refused, Err(RedisError::Command(_))),
            "{refused:?}"
        );
        assert_eq!(client_id(&redis).await, first);
    }
}
