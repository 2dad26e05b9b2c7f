//! The pooled Redis handle (one server, a Redis Cloud-style proxy, or a Redis Cluster; TLS with
//! `rediss://`) and the key namespace every key is built in.

use std::path::PathBuf;
use std::time::Duration;

use deadpool::Runtime;
use deadpool::managed::{self, Metrics, Object, Pool, RecycleError, RecycleResult, Timeouts};
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Client, Cmd, Pipeline, RedisFuture, TlsCertificates, Value};

/// Pool settings, all from configuration.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `redis://` or `rediss://` URL (for a cluster: any one node; the others are discovered).
    pub url: String,
    /// A PEM file with the CA certificates that sign the server's certificate (`rediss://`);
    /// `None` trusts the platform's roots.
    pub tls_ca_file: Option<PathBuf>,
    /// Speak the Redis Cluster protocol (follow `MOVED`/`ASK`, route by slot). Not for a
    /// Redis Cloud-style proxy, which hides its cluster behind one endpoint.
    pub cluster: bool,
    /// Maximum number of open connections.
    pub max_connections: usize,
    /// How long a caller waits for a connection (or for one to be opened).
    pub timeout: Duration,
    /// Prepended to every key; empty in production, random per test.
    pub key_prefix: String,
    /// A pooled connection idle for longer than this is checked with a `PING` when it is checked
    /// out; one used more recently is handed out as it is ([`RedisConfig::IDLE_CHECK_AFTER`]).
    pub idle_check_after: Duration,
}

impl RedisConfig {
    /// The production idle threshold. Under load every connection is reused within
    /// microseconds, so a checkout costs no round trip; after a quiet second (when Redis may
    /// have restarted or closed the connection) it is checked first.
    pub const IDLE_CHECK_AFTER: Duration = Duration::from_secs(1);
}

/// Why Redis could not serve a request.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    /// No connection could be had: Redis is down, slow or the pool is exhausted.
    #[error("redis unavailable: {0}")]
    Unavailable(String),
    /// A command failed.
    #[error("redis command failed: {0}")]
    Command(#[from] redis::RedisError),
    /// The pool could not be built from the configuration.
    #[error("invalid redis configuration: {0}")]
    Config(String),
}

/// Opens multiplexed connections for the pool and checks them on checkout.
///
/// A connection used within [`RedisConfig::idle_check_after`] is handed out as it is, with no
/// round trip (a general-purpose pool sends `UNWATCH` + `PING` on every checkout; the commands
/// sent here never leave connection state behind: no `WATCH`, `SELECT` or `SUBSCRIBE`, and
/// transactions are `MULTI`/`EXEC` pipelines). One idle for longer gets a `PING` first. A
/// connection whose command fails at the transport level or times out is detached from the pool
/// by the caller ([`Connection::detach`]), so a dead one is used at most once.
#[derive(Debug)]
pub struct Manager {
    client: Backend,
    idle_check_after: Duration,
}

/// What connections are opened to.
#[derive(Debug)]
enum Backend {
    /// One endpoint: a server, or a proxy in front of a cluster.
    Single(Box<Client>),
    /// A Redis Cluster, routed by slot.
    Cluster(Box<ClusterClient>),
}

/// An open connection of either kind.
#[derive(Clone)]
pub enum RawConnection {
    /// To one endpoint.
    Single(MultiplexedConnection),
    /// To every node of a cluster.
    Cluster(ClusterConnection),
}

impl ConnectionLike for RawConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(conn) => conn.req_packed_command(cmd),
            Self::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(conn) => conn.req_packed_commands(cmd, offset, count),
            Self::Cluster(conn) => conn.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(conn) => conn.get_db(),
            Self::Cluster(conn) => conn.get_db(),
        }
    }
}

impl managed::Manager for Manager {
    type Type = RawConnection;
    type Error = redis::RedisError;

    async fn create(&self) -> Result<RawConnection, redis::RedisError> {
        match &self.client {
            Backend::Single(client) => client
                .get_multiplexed_async_connection()
                .await
                .map(RawConnection::Single),
            Backend::Cluster(client) => client
                .get_async_connection()
                .await
                .map(RawConnection::Cluster),
        }
    }

    async fn recycle(
        &self,
        conn: &mut RawConnection,
        metrics: &Metrics,
    ) -> RecycleResult<redis::RedisError> {
        if metrics.last_used() < self.idle_check_after {
            return Ok(());
        }
        let pong: String = redis::cmd("PING").query_async(conn).await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(RecycleError::message("unexpected PING reply"))
        }
    }
}

/// Writes two keys of one slot (each expiring in 10 s) and reads the first back.
static HEALTH_SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        "redis.call('SET', KEYS[1], ARGV[1], 'PX', 10000) \
         redis.call('SET', KEYS[2], ARGV[1], 'PX', 10000) \
         return redis.call('GET', KEYS[1])",
    )
});

/// A value unique enough per check (process id and a counter): probes of concurrent checks
/// and of several replicas never share keys.
fn health_probe_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The client for `config`: TLS roots from the CA file when given, cluster or single endpoint.
fn backend(config: &RedisConfig) -> Result<Backend, RedisError> {
    let tls = |root_cert: Vec<u8>| TlsCertificates {
        client_tls: None,
        root_cert: Some(root_cert),
    };
    let root_cert =
        match &config.tls_ca_file {
            Some(path) => Some(std::fs::read(path).map_err(|e| {
                RedisError::Config(format!("REDIS_CA_FILE `{}`: {e}", path.display()))
            })?),
            None => None,
        };
    let url = config.url.as_str();
    let invalid = |e: redis::RedisError| RedisError::Config(e.to_string());
    if config.cluster {
        let mut builder = ClusterClient::builder(vec![url])
            .connection_timeout(config.timeout)
            .response_timeout(config.timeout);
        if let Some(root_cert) = root_cert {
            builder = builder.certs(tls(root_cert));
        }
        builder
            .build()
            .map(|client| Backend::Cluster(Box::new(client)))
            .map_err(invalid)
    } else {
        match root_cert {
            Some(root_cert) => Client::build_with_tls(url, tls(root_cert)),
            None => Client::open(url),
        }
        .map(|client| Backend::Single(Box::new(client)))
        .map_err(invalid)
    }
}

/// A connection checked out of the pool; usable wherever `redis` wants a connection.
pub struct Connection {
    inner: Object<Manager>,
}

impl Connection {
    /// Takes the connection out of the pool for good (it closes when dropped), so the next
    /// checkout opens a fresh one: for a connection whose command failed at the transport level
    /// or timed out.
    pub fn detach(self) {
        drop(Object::take(self.inner));
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        self.inner.req_packed_command(cmd)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        self.inner.req_packed_commands(cmd, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}

/// The application's handle to Redis. Cheap to clone.
#[derive(Clone)]
pub struct Redis {
    pool: Pool<Manager>,
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
        let client = backend(config)?;
        let pool = Pool::builder(Manager {
            client,
            idle_check_after: config.idle_check_after,
        })
        .max_size(config.max_connections)
        .runtime(Runtime::Tokio1)
        .timeouts(Timeouts {
            wait: Some(config.timeout),
            create: Some(config.timeout),
            recycle: Some(config.timeout),
        })
        .build()
        .map_err(|e| RedisError::Config(e.to_string()))?;
        Ok(Self {
            pool,
            key_prefix: config.key_prefix.clone(),
            timeout: config.timeout,
        })
    }

    /// Whether this handle speaks the cluster protocol.
    pub fn is_cluster(&self) -> bool {
        matches!(self.pool.manager().client, Backend::Cluster(_))
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
            .map(|inner| Connection { inner })
            .map_err(|e| RedisError::Unavailable(e.to_string()))
    }

    /// Checks that Redis can do what the session store needs, bounded by the configured
    /// timeout: the client speaks the server's protocol (a cluster answered without
    /// `REDIS_CLUSTER` redirects most keys elsewhere), and a script writing two keys of one
    /// hash slot runs (what every session change does).
    ///
    /// # Errors
    /// [`RedisError`] naming what does not work.
    pub async fn check(&self) -> Result<(), RedisError> {
        let cluster = self.is_cluster();
        let probe = health_probe_id();
        let first = self.key(&format!("v2:health:{{{probe}}}:a"));
        let second = self.key(&format!("v2:health:{{{probe}}}:b"));
        crate::exec::bounded(self, async move |conn| {
            // (A cluster client sends INFO to every node and answers per node: only the
            // single-endpoint client needs the question.)
            if !cluster {
                let info: String = redis::cmd("INFO").arg("cluster").query_async(conn).await?;
                if info.lines().any(|line| line.trim() == "cluster_enabled:1") {
                    return Err(RedisError::Unavailable(
                        "the server is a Redis Cluster node but REDIS_CLUSTER is off".to_owned(),
                    ));
                }
            }
            let echoed: String = HEALTH_SCRIPT
                .key(&first)
                .key(&second)
                .arg(&probe)
                .invoke_async(conn)
                .await?;
            if echoed == probe {
                Ok(())
            } else {
                Err(RedisError::Unavailable(
                    "the health script answered something else".to_owned(),
                ))
            }
        })
        .await
    }

    /// Sends `PING`, bounded by the configured timeout.
    ///
    /// # Errors
    /// [`RedisError`] when Redis does not answer `PONG` in time.
    pub async fn ping(&self) -> Result<(), RedisError> {
        let pong: String = crate::exec::bounded(self, async |conn| {
            Ok(redis::cmd("PING").query_async(conn).await?)
        })
        .await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(RedisError::Unavailable(format!(
                "unexpected PING reply {pong:?}"
            )))
        }
    }
}
