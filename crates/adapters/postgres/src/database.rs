//! The pooled database handle: building the pool, checking out connections, health checks.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool::Runtime;
use deadpool::managed::{PoolError, Timeouts};
use diesel::sql_types::Integer;
use diesel::{ConnectionError, ConnectionResult};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod, deadpool as dp,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

/// A pooled connection checked out of the [`Database`].
pub type PgConn = dp::Object<AsyncPgConnection>;

/// Called with how long each checkout waited for a connection (for the pool-wait metric).
pub type WaitObserver = Arc<dyn Fn(Duration) + Send + Sync>;

/// What the pool's connection setup returns.
type SetupFuture<'a> =
    Pin<Box<dyn Future<Output = ConnectionResult<AsyncPgConnection>> + Send + 'a>>;

/// Opens a connection and runs `setup` on it.
async fn open_connection(
    url: String,
    setup: Option<String>,
) -> ConnectionResult<AsyncPgConnection> {
    let mut conn = AsyncPgConnection::establish(&url).await?;
    if let Some(setup) = setup {
        conn.batch_execute(&setup)
            .await
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
    }
    Ok(conn)
}

/// Pool settings, all from configuration.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// `postgres://` URL.
    pub url: String,
    /// Maximum number of open connections.
    pub max_connections: usize,
    /// How long a request waits for a free connection before giving up.
    pub wait_timeout: Duration,
    /// How long opening a new connection may take.
    pub connect_timeout: Duration,
    /// Longest a statement may run before PostgreSQL cancels it (`statement_timeout`, set on
    /// every new connection); `None` keeps the server's setting.
    pub statement_timeout: Option<Duration>,
}

/// Why the database could not serve a request.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// No connection could be had in time: the server is down or the pool is exhausted.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A query failed.
    #[error("database query failed")]
    Query(#[from] diesel::result::Error),
    /// The pool could not be built from the configuration.
    #[error("invalid database configuration: {0}")]
    Config(String),
}

/// Counts of the pool's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections open and waiting to be used.
    pub idle: usize,
    /// Connections checked out.
    pub in_use: usize,
    /// Configured maximum.
    pub max: usize,
}

/// The application's handle to PostgreSQL. Cheap to clone.
#[derive(Clone)]
pub struct Database {
    pool: dp::Pool<AsyncPgConnection>,
    on_wait: Option<WaitObserver>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("status", &self.status())
            .finish()
    }
}

impl Database {
    /// Builds the pool; no connection is opened until the first checkout, so the service starts
    /// while PostgreSQL is down.
    ///
    /// # Errors
    /// [`DatabaseError::Config`] when the pool cannot be built.
    pub fn connect_lazy(config: &DatabaseConfig) -> Result<Self, DatabaseError> {
        let mut manager_config = ManagerConfig::<AsyncPgConnection>::default();
        // A checkout only checks that the connection is open and outside a transaction: no
        // `SELECT 1` round trip per request. A connection the server closed is seen as closed
        // and replaced; one lost mid-query fails that query, which answers 503 (see `errors`).
        manager_config.recycling_method = RecyclingMethod::Fast;
        let setup = config
            .statement_timeout
            .map(|timeout| format!("SET statement_timeout = {}", timeout.as_millis()));
        // A connection's driver task runs on the runtime that opened it. Connections are opened
        // wherever a checkout finds the pool short, often on an HTTP worker's runtime, which
        // stops before the background workers during a graceful shutdown; a connection still in
        // use elsewhere would then fail with "connection closed". Opening every connection on
        // the runtime that built the pool (the main one) ties them to the process's lifetime.
        let runtime = tokio::runtime::Handle::try_current().ok();
        manager_config.custom_setup = Box::new(move |url: &str| -> SetupFuture<'_> {
            let open = open_connection(url.to_owned(), setup.clone());
            match runtime.clone() {
                Some(runtime) => Box::pin(async move {
                    runtime
                        .spawn(open)
                        .await
                        .map_err(|e| ConnectionError::BadConnection(e.to_string()))?
                }),
                None => Box::pin(open),
            }
        });
        let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
            normalize_url(&config.url),
            manager_config,
        );
        let pool = dp::Pool::builder(manager)
            .max_size(config.max_connections)
            .runtime(Runtime::Tokio1)
            .timeouts(Timeouts {
                wait: Some(config.wait_timeout),
                create: Some(config.connect_timeout),
                recycle: Some(config.connect_timeout),
            })
            .build()
            .map_err(|e| DatabaseError::Config(e.to_string()))?;
        Ok(Self {
            pool,
            on_wait: None,
        })
    }

    /// Reports every checkout's waiting time to `observer`.
    #[must_use]
    pub fn with_wait_observer(mut self, observer: WaitObserver) -> Self {
        self.on_wait = Some(observer);
        self
    }

    /// Checks out a connection.
    ///
    /// # Errors
    /// [`DatabaseError::Unavailable`] when no connection can be had within the wait timeout or
    /// a new connection cannot be opened.
    pub async fn conn(&self) -> Result<PgConn, DatabaseError> {
        let started = Instant::now();
        let result = self.pool.get().await;
        if let Some(observe) = &self.on_wait {
            observe(started.elapsed());
        }
        result.map_err(|e| match e {
            PoolError::Timeout(kind) => {
                DatabaseError::Unavailable(format!("pool timeout ({kind:?})"))
            }
            PoolError::Backend(inner) => DatabaseError::Unavailable(inner.to_string()),
            other => DatabaseError::Unavailable(other.to_string()),
        })
    }

    /// Runs `SELECT 1` on a pooled connection.
    ///
    /// # Errors
    /// [`DatabaseError::Unavailable`] or [`DatabaseError::Query`].
    pub async fn ping(&self) -> Result<(), DatabaseError> {
        let mut conn = self.conn().await?;
        diesel::select(diesel::dsl::sql::<Integer>("1"))
            .get_result::<i32>(&mut conn)
            .await?;
        Ok(())
    }

    /// Current pool occupancy.
    pub fn status(&self) -> PoolStatus {
        let status = self.pool.status();
        PoolStatus {
            idle: status.available,
            in_use: status.size.saturating_sub(status.available),
            max: status.max_size,
        }
    }

    /// Closes the pool: checked-out connections are dropped when returned.
    pub fn close(&self) {
        self.pool.close();
    }
}

/// Accepts the reference implementation's `postgresql+asyncpg://` scheme as well.
pub fn normalize_url(url: &str) -> String {
    for prefix in [
        "postgresql+asyncpg://",
        "postgresql+psycopg://",
        "postgresql+psycopg2://",
    ] {
        if let Some(rest) = url.strip_prefix(prefix) {
            return format!("postgresql://{rest}");
        }
    }
    url.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asyncpg_urls_are_accepted() {
        assert_eq!(
            normalize_url("postgresql+asyncpg://u:p@h:5432/db"),
            "postgresql://u:p@h:5432/db"
        );
        assert_eq!(normalize_url("postgres://h/db"), "postgres://h/db");
    }
}
