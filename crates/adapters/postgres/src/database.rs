//! The pooled database handle: building the pool, checking out connections, health checks.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use deadpool::Runtime;
use deadpool::managed::{PoolError, Timeouts};
use diesel::connection::CacheSize;
use diesel::sql_types::Integer;
use diesel::{ConnectionError, ConnectionResult};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod, deadpool as dp,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

use crate::conn::{PgConn, PoolerMode, StatementPolicy};
use crate::connect::PgConnectOptions;
use crate::replica::{FallbackObserver, Replica, ReplicaFallback};

/// Called with how long each checkout waited for a connection (for the pool-wait metric).
pub type WaitObserver = Arc<dyn Fn(Duration) + Send + Sync>;

/// What the pool's connection setup returns.
type SetupFuture<'a> =
    Pin<Box<dyn Future<Output = ConnectionResult<AsyncPgConnection>> + Send + 'a>>;

/// Opens a connection and prepares it for `setup`.
async fn open_connection(
    options: PgConnectOptions,
    setup: Setup,
) -> ConnectionResult<AsyncPgConnection> {
    let mut conn = match setup.pooler {
        PoolerMode::Session => options.connect().await?,
        PoolerMode::Transaction => options.connect_pinned(!setup.statement_cache).await?,
    };
    if !setup.statement_cache {
        conn.set_prepared_statement_cache_size(CacheSize::Disabled);
    }
    if let Some(sql) = setup.session_sql {
        conn.batch_execute(&sql)
            .await
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
    }
    Ok(conn)
}

/// What every new connection of a pool gets.
#[derive(Debug, Clone)]
struct Setup {
    pooler: PoolerMode,
    statement_cache: bool,
    /// Session settings; only on session connections (see [`PoolerMode`]).
    session_sql: Option<String>,
}

/// Pool settings, all from configuration.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// `postgres://` URL, with libpq's `sslmode`/`sslrootcert` options.
    pub url: String,
    /// Whether the URL leads to a transaction pooler.
    pub pooler: PoolerMode,
    /// Whether statements are prepared once per connection and reused (named prepared
    /// statements). Behind a transaction pooler only with one that carries them over
    /// (PgBouncer 1.21 or later with `max_prepared_statements` above 0).
    pub prepared_statements: bool,
    /// Maximum number of open connections.
    pub max_connections: usize,
    /// How long a request waits for a free connection before giving up.
    pub wait_timeout: Duration,
    /// How long opening a new connection may take.
    pub connect_timeout: Duration,
    /// Longest a statement may run before PostgreSQL cancels it (`statement_timeout`: set on
    /// every new session connection, and on every transaction behind a transaction pooler);
    /// `None` keeps the server's setting.
    pub statement_timeout: Option<Duration>,
}

/// Why the database could not serve a request.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// No connection could be had in time: the server is down or the pool is exhausted.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A query failed.
    #[error("database query failed: {0}")]
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
    /// The shared pool: background work, and every task without a shard.
    pool: dp::Pool<AsyncPgConnection>,
    /// One pool per HTTP worker thread (see [`Database::connect_lazy_for_workers`]).
    shards: Option<Arc<Shards>>,
    max_connections: usize,
    on_wait: Option<WaitObserver>,
    policy: StatementPolicy,
    /// Where [`Database::read_conn`] may read from.
    replica: Option<Arc<Replica>>,
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
        Self::connect_lazy_for_workers(config, 0)
    }

    /// Like [`Database::connect_lazy`], with the connections split between the shared pool and
    /// one shard per HTTP worker thread (`workers` of them).
    ///
    /// An HTTP worker runs its own single-threaded runtime. A connection's driver task lives on
    /// the runtime that opened it, so a request using a connection opened elsewhere hands every
    /// message to another thread and back: measured on the nearby search, that cost about a
    /// quarter of the server's CPU. The first `workers` single-threaded runtimes to check out a
    /// connection each get a shard whose connections they open and use themselves; everything
    /// else (the background workers on the main runtime, further threads) uses the shared pool.
    /// Each shard holds `max_connections / (workers + 1)` connections and the shared pool the
    /// rest, so the total stays within `max_connections`; with fewer than two connections per
    /// part there are no shards. A shard's connections are dropped, and the shard handed to the
    /// next thread that asks, when its runtime ends.
    ///
    /// # Errors
    /// [`DatabaseError::Config`] when a pool cannot be built.
    pub fn connect_lazy_for_workers(
        config: &DatabaseConfig,
        workers: usize,
    ) -> Result<Self, DatabaseError> {
        let parts = workers.saturating_add(1);
        let shard_count = if config.max_connections >= parts.saturating_mul(2) {
            workers
        } else {
            0
        };
        let share = config.max_connections / shard_count.saturating_add(1);
        let shared_max = config.max_connections - share * shard_count;
        // Connections of the shared pool are opened on the runtime that built it (the main
        // one): HTTP worker runtimes stop first in a graceful shutdown, and a connection opened
        // there would die under the background workers still draining the outbox.
        let home = tokio::runtime::Handle::try_current().ok();
        let options = PgConnectOptions::parse(&config.url)
            .map_err(|e| DatabaseError::Config(e.to_string()))?;
        let pool = build_pool(config, &options, shared_max, home)?;
        let shards = if shard_count == 0 {
            None
        } else {
            let pools = (0..shard_count)
                .map(|_| build_pool(config, &options, share, None))
                .collect::<Result<Vec<_>, _>>()?;
            Some(Arc::new(Shards {
                id: NEXT_SHARDS_ID.fetch_add(1, Ordering::Relaxed),
                taken: Mutex::new(vec![false; pools.len()]),
                pools,
            }))
        };
        Ok(Self {
            pool,
            shards,
            max_connections: config.max_connections,
            on_wait: None,
            policy: StatementPolicy::new(
                config.pooler,
                config.statement_timeout,
                config.prepared_statements,
            ),
            replica: None,
        })
    }

    /// The pool this task should check out from: its thread's shard on a single-threaded
    /// runtime that holds (or can claim) one, else the shared pool.
    fn pool_here(&self) -> &dp::Pool<AsyncPgConnection> {
        self.shards
            .as_ref()
            .and_then(|shards| shards.pools.get(shards.index_for_this_thread()?))
            .unwrap_or(&self.pool)
    }

    /// Reports every checkout's waiting time to `observer`.
    #[must_use]
    pub fn with_wait_observer(mut self, observer: WaitObserver) -> Self {
        self.on_wait = Some(observer);
        self
    }

    /// Lets [`Database::read_conn`] read from `replica` while it is at most `max_lag` behind;
    /// `on_fallback` hears each read that could not.
    #[must_use]
    pub fn with_replica(
        mut self,
        replica: Database,
        max_lag: Duration,
        on_fallback: Option<FallbackObserver>,
    ) -> Self {
        self.replica = Some(Arc::new(Replica::new(replica, max_lag, on_fallback)));
        self
    }

    /// Checks out a connection for a read that tolerates a little lag and is not cached (the
    /// rule is in [`crate::replica`]): from the replica when one is configured, reachable and
    /// within its lag bound, else from the primary.
    ///
    /// # Errors
    /// As [`Database::conn`] (the replica's failures only send the read to the primary).
    pub async fn read_conn(&self) -> Result<PgConn, DatabaseError> {
        if let Some(replica) = &self.replica {
            let fallback = match replica.usable(self).await {
                Ok(()) => match replica.db.conn().await {
                    Ok(conn) => return Ok(conn),
                    Err(error) => {
                        tracing::warn!(error = %error, "read replica checkout failed; reading from the primary");
                        replica.mark_unavailable();
                        ReplicaFallback::Unavailable
                    }
                },
                Err(reason) => reason,
            };
            if let Some(observe) = &replica.on_fallback {
                observe(fallback);
            }
        }
        self.conn().await
    }

    /// Checks out a connection.
    ///
    /// # Errors
    /// [`DatabaseError::Unavailable`] when no connection can be had within the wait timeout or
    /// a new connection cannot be opened.
    pub async fn conn(&self) -> Result<PgConn, DatabaseError> {
        let started = Instant::now();
        let result = self.pool_here().get().await;
        if let Some(observe) = &self.on_wait {
            observe(started.elapsed());
        }
        result
            .map(|object| PgConn::new(object, self.policy.clone()))
            .map_err(|e| match e {
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

    /// Current occupancy, summed over the shared pool and the shards.
    pub fn status(&self) -> PoolStatus {
        let shards = self.shards.iter().flat_map(|shards| shards.pools.iter());
        let (idle, size) = std::iter::once(&self.pool)
            .chain(shards)
            .map(dp::Pool::status)
            .fold((0, 0), |(idle, size), status| {
                (idle + status.available, size + status.size)
            });
        PoolStatus {
            idle,
            in_use: size.saturating_sub(idle),
            max: self.max_connections,
        }
    }

    /// Closes the pools (the replica's too): checked-out connections are dropped when returned.
    pub fn close(&self) {
        if let Some(replica) = &self.replica {
            replica.db.close();
        }
        self.pool.close();
        for shard in self.shards.iter().flat_map(|shards| shards.pools.iter()) {
            shard.close();
        }
    }
}

/// Builds one pool of `max` connections, opened on `home` when given, else where the checkout
/// that needs one runs.
fn build_pool(
    config: &DatabaseConfig,
    options: &PgConnectOptions,
    max: usize,
    home: Option<tokio::runtime::Handle>,
) -> Result<dp::Pool<AsyncPgConnection>, DatabaseError> {
    let mut manager_config = ManagerConfig::<AsyncPgConnection>::default();
    // A checkout only checks that the connection is open and outside a transaction: no
    // `SELECT 1` round trip per request. A connection the server closed is seen as closed
    // and replaced; one lost mid-query fails that query, which answers 503 (see `errors`).
    manager_config.recycling_method = RecyclingMethod::Fast;
    let setup = Setup {
        pooler: config.pooler,
        statement_cache: config.prepared_statements,
        session_sql: match config.pooler {
            PoolerMode::Session => config
                .statement_timeout
                .map(|timeout| format!("SET statement_timeout = {}", timeout.as_millis())),
            PoolerMode::Transaction => None,
        },
    };
    let options = options.clone();
    // The URL diesel-async passes is ignored: `options` is the parsed, TLS-aware form of it.
    manager_config.custom_setup = Box::new(move |_url: &str| -> SetupFuture<'_> {
        let open = open_connection(options.clone(), setup.clone());
        match home.clone() {
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
        String::new(),
        manager_config,
    );
    dp::Pool::builder(manager)
        .max_size(max)
        .runtime(Runtime::Tokio1)
        .timeouts(Timeouts {
            wait: Some(config.wait_timeout),
            create: Some(config.connect_timeout),
            recycle: Some(config.connect_timeout),
        })
        .build()
        .map_err(|e| DatabaseError::Config(e.to_string()))
}

/// Distinguishes the shard sets of several [`Database`]s in one process (tests build many).
static NEXT_SHARDS_ID: AtomicU64 = AtomicU64::new(0);

/// The per-worker pools of one [`Database`].
struct Shards {
    id: u64,
    pools: Vec<dp::Pool<AsyncPgConnection>>,
    /// Which shards a live runtime holds.
    taken: Mutex<Vec<bool>>,
}

impl Shards {
    /// The shard of the runtime this task runs on, claiming a free one the first time a
    /// single-threaded runtime asks; `None` on a multi-threaded runtime, outside a runtime, or
    /// when every shard is taken.
    ///
    /// A lease belongs to the thread: a thread that alternated between two live
    /// single-threaded runtimes would have both use the shard opened by the first. Neither
    /// actix-web (one runtime per worker thread) nor the service does that; runtimes that end
    /// one after the other on a thread are handled (the lease is renewed).
    fn index_for_this_thread(self: &Arc<Self>) -> Option<usize> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        if runtime.runtime_flavor() != tokio::runtime::RuntimeFlavor::CurrentThread {
            return None;
        }
        LEASES.with(|leases| {
            let mut leases = leases.borrow_mut();
            if let Some(lease) = leases
                .iter()
                .find(|lease| lease.shards_id == self.id && lease.runtime_alive.strong_count() > 0)
            {
                return lease.index;
            }
            // A lease whose runtime has ended (a thread can run several runtimes one after the
            // other) gives its shard back; its connections died with that runtime.
            leases.retain(|lease| lease.runtime_alive.strong_count() > 0);
            let index = self.claim();
            let alive = Arc::new(());
            let runtime_alive = Arc::downgrade(&alive);
            // Dropped with the runtime's tasks when the runtime shuts down.
            runtime.spawn(async move {
                let _alive = alive;
                std::future::pending::<()>().await;
            });
            leases.push(ShardLease {
                shards_id: self.id,
                shards: Arc::downgrade(self),
                index,
                runtime_alive,
            });
            index
        })
    }

    fn claim(&self) -> Option<usize> {
        let mut taken = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        let index = taken.iter().position(|taken| !taken)?;
        if let Some(slot) = taken.get_mut(index) {
            *slot = true;
        }
        Some(index)
    }

    fn release(&self, index: usize) {
        if let Some(pool) = self.pools.get(index) {
            // Idle connections belonged to the ended runtime: their driver tasks are gone.
            pool.retain(|_, _| false);
        }
        let mut taken = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = taken.get_mut(index) {
            *slot = false;
        }
    }
}

/// A thread's hold on one shard of one [`Database`].
struct ShardLease {
    shards_id: u64,
    shards: Weak<Shards>,
    /// `None`: every shard was taken when this thread asked; it uses the shared pool.
    index: Option<usize>,
    /// Alive as long as the runtime that claimed the shard.
    runtime_alive: Weak<()>,
}

impl Drop for ShardLease {
    fn drop(&mut self) {
        if let (Some(shards), Some(index)) = (self.shards.upgrade(), self.index) {
            shards.release(index);
        }
    }
}

thread_local! {
    /// The shards this thread holds, one lease per [`Database`] it has used.
    static LEASES: RefCell<Vec<ShardLease>> = const { RefCell::new(Vec::new()) };
}
