//! The pooled Redis handle and the key namespace every key is built in.

use std::time::Duration;

use deadpool_redis::{Config, Connection, Pool, PoolConfig, Runtime, Timeouts};

/// Pool settings, all from configuration.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `redis://` or `rediss://` URL.
    pub url: String,
    /// Maximum number of open connections.
    pub max_connections: usize,
    /// How long a caller waits for a connection (or for one to be opened).
    pub timeout: Duration,
    /// Prepended to every key; empty in production, random per test.
    pub key_prefix: String,
}

/// Why Redis could not serve a request.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    /// No connection could be had: Redis is down, slow or the pool is exhausted.
    #[error("redis unavailable: {0}")]
    Unavailable(String),
    /// A command failed.
    #[error("redis command failed: {0}")]
    Command(#[from] deadpool_redis::redis::RedisError),
    /// The pool could not be built from the configuration.
    #[error("invalid redis configuration: {0}")]
    Config(String),
}

/// The application's handle to Redis. Cheap to clone.
#[derive(Clone)]
pub struct Redis {
    pool: Pool,
    key_prefix: String,
    timeout: Duration,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("key_prefix", &self.key_prefix)
            .finish()
    }
}

impl Redis {
    /// Builds the pool without connecting, so the service starts while Redis is down.
    ///
    /// # Errors
    /// [`RedisError::Config`] for an unusable URL.
    pub fn connect_lazy(config: &RedisConfig) -> Result<Self, RedisError> {
        let mut pool_config = PoolConfig::new(config.max_connections);
        pool_config.timeouts = Timeouts {
            wait: Some(config.timeout),
            create: Some(config.timeout),
            recycle: Some(config.timeout),
        };
        let mut cfg = Config::from_url(config.url.clone());
        cfg.pool = Some(pool_config);
        let pool = cfg
            .create_pool(Some(Runtime::Tokio1))
            .map_err(|e| RedisError::Config(e.to_string()))?;
        Ok(Self {
            pool,
            key_prefix: config.key_prefix.clone(),
            timeout: config.timeout,
        })
    }

    /// The full key for `key` (e.g. `v2:user:…`) in this process's namespace.
    pub fn key(&self, key: &str) -> String {
        format!("{}{key}", self.key_prefix)
    }

    /// The configured timeout; every adapter bounds its round trips by it so a hung Redis
    /// cannot stall a request.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Checks out a connection.
    ///
    /// # Errors
    /// [`RedisError::Unavailable`] when none can be had within the timeout.
    pub async fn conn(&self) -> Result<Connection, RedisError> {
        self.pool
            .get()
            .await
            .map_err(|e| RedisError::Unavailable(e.to_string()))
    }

    /// Sends `PING`, bounded by the configured timeout.
    ///
    /// # Errors
    /// [`RedisError`] when Redis does not answer `PONG` in time.
    pub async fn ping(&self) -> Result<(), RedisError> {
        let attempt = async {
            let mut conn = self.conn().await?;
            let pong: String = deadpool_redis::redis::cmd("PING")
                .query_async(&mut conn)
                .await?;
            if pong == "PONG" {
                Ok(())
            } else {
                Err(RedisError::Unavailable(format!(
                    "unexpected PING reply {pong:?}"
                )))
            }
        };
        tokio::time::timeout(self.timeout, attempt)
            .await
            .map_err(|_| RedisError::Unavailable("PING timed out".to_owned()))?
    }
}
