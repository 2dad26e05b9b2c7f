//! The production data tier, for real: a TLS-only PostgreSQL primary (SCRAM, `hostssl` only)
//! with a streaming replica, Debian's PgBouncer in transaction mode in front of it, a TLS-only
//! Redis and a three-node Redis Cluster with TLS, all started by `deploy/topology/topology.sh`
//! (`cargo xtask test` starts them and passes their URLs in `MEDICO24_TIER_*`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use diesel::sql_types::{BigInt, Bool, Text};
use diesel_async::{AsyncConnection, RunQueryDsl, SimpleAsyncConnection};
use medico24_postgres::{Database, DatabaseConfig, PgConnectOptions, PoolerMode};
use medico24_redis::{Redis, RedisConfig, RedisSessionStore};
use reqwest::StatusCode;
use uuid::Uuid;

/// Where the data tier's endpoints are.
struct Tier {
    /// PgBouncer (transaction mode), TLS verified, database `medico24`.
    pooled: String,
    /// The primary, directly.
    direct: String,
    /// The streaming replica, directly.
    read: String,
    /// The clusters' Unix socket directory (superuser access, for drills).
    socket_dir: String,
    /// A CA that did not sign any of the tier's certificates.
    other_ca: PathBuf,
    /// The CA that did.
    ca: PathBuf,
    /// A TLS-only standalone Redis (`rediss://`).
    redis_tls: String,
    /// One node of the TLS Redis Cluster.
    redis_cluster: String,
}

fn tier() -> Tier {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: `cargo xtask test` starts the data tier and sets it")
        })
    };
    Tier {
        pooled: var("MEDICO24_TIER_DATABASE_URL"),
        direct: var("MEDICO24_TIER_DIRECT_URL"),
        read: var("MEDICO24_TIER_READ_URL"),
        socket_dir: var("MEDICO24_TIER_SOCKET_DIR"),
        ca: PathBuf::from(var("MEDICO24_TIER_CA")),
        other_ca: PathBuf::from(var("MEDICO24_TIER_OTHER_CA")),
        redis_tls: var("MEDICO24_TIER_REDIS_TLS_URL"),
        redis_cluster: var("MEDICO24_TIER_REDIS_CLUSTER_URL"),
    }
}

/// `url` with its database name replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let (server, _) = base.rsplit_once('/').expect("a database in the URL");
    format!("{server}/{database}?{query}")
}

/// `url` with `sslrootcert` pointing at `ca`.
fn with_ca(url: &str, ca: &std::path::Path) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.starts_with("sslrootcert="))
        .collect();
    format!("{base}?{}&sslrootcert={}", kept.join("&"), ca.display())
}

fn set_param(url: &str, key: &str, value: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut kept: Vec<String> = query
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.starts_with(&format!("{key}=")))
        .map(str::to_owned)
        .collect();
    kept.push(format!("{key}={value}"));
    format!("{base}?{}", kept.join("&"))
}

fn password_of(url: &str) -> String {
    let userinfo = url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split_once('@'));
    userinfo
        .and_then(|(info, _)| info.split_once(':'))
        .map(|(_, password)| password.to_owned())
        .expect("a password in the URL")
}

/// A fresh database on the TLS primary, migrated through the pooler; dropped at the end.
struct TierDb {
    name: String,
    tier: Tier,
}

impl TierDb {
    async fn new() -> Self {
        let tier = tier();
        let name = format!("tier_{}", Uuid::new_v4().simple());
        let mut admin = PgConnectOptions::parse(&tier.direct)
            .unwrap()
            .connect()
            .await
            .unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let db = Self { name, tier };
        // Through the pooler: the migration lock must hold and be released there too.
        medico24_postgres::run_migrations(&db.pooled())
            .await
            .unwrap();
        db
    }

    fn pooled(&self) -> String {
        with_database(&self.tier.pooled, &self.name)
    }

    fn direct(&self) -> String {
        with_database(&self.tier.direct, &self.name)
    }

    fn pool(&self, url: &str, pooler: PoolerMode, statement_timeout: Option<Duration>) -> Database {
        Database::connect_lazy(&DatabaseConfig {
            url: url.to_owned(),
            pooler,
            prepared_statements: pooler == PoolerMode::Session,
            max_connections: 8,
            wait_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            statement_timeout,
        })
        .unwrap()
    }
}

impl Drop for TierDb {
    fn drop(&mut self) {
        let direct = self.tier.direct.clone();
        let name = self.name.clone();
        // Best effort, off the test's runtime (which may be shutting down).
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async move {
                let mut admin = PgConnectOptions::parse(&direct)
                    .ok()?
                    .connect()
                    .await
                    .ok()?;
                admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .ok()
            })
        })
        .join();
    }
}

#[derive(diesel::QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    value: bool,
}

#[derive(diesel::QueryableByName)]
struct Setting {
    #[diesel(sql_type = Text)]
    value: String,
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    value: i64,
}

#[tokio::test]
async fn verify_full_connects_over_tls_with_scram_and_an_encoded_password() {
    let tier = tier();
    assert!(
        password_of(&tier.direct).contains('%'),
        "the tier's password needs URL-encoding, so decoding is exercised"
    );
    let db = Database::connect_lazy(&DatabaseConfig {
        url: tier.direct.clone(),
        pooler: PoolerMode::Session,
        prepared_statements: true,
        max_connections: 2,
        wait_timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(10),
        statement_timeout: None,
    })
    .unwrap();
    let mut conn = db.conn().await.unwrap();
    let tls: Flag =
        diesel::sql_query("SELECT ssl AS value FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .get_result(&mut conn)
            .await
            .unwrap();
    assert!(tls.value, "the connection is encrypted");
    let method: Setting =
        diesel::sql_query("SELECT current_setting('password_encryption') AS value")
            .get_result(&mut conn)
            .await
            .unwrap();
    assert_eq!(method.value, "scram-sha-256");
}

#[tokio::test]
async fn every_weaker_or_wrong_tls_setting_is_refused_with_a_clear_error_and_no_password() {
    let tier = tier();
    let password = password_of(&tier.direct);
    let cases = [
        // A CA that did not sign the server's certificate.
        (with_ca(&tier.direct, &tier.other_ca), "certificate"),
        (
            set_param(
                &with_ca(&tier.direct, &tier.other_ca),
                "sslmode",
                "verify-ca",
            ),
            "certificate",
        ),
        // The server accepts TLS only (hostssl), so plain TCP is rejected by pg_hba.
        (set_param(&tier.direct, "sslmode", "disable"), "pg_hba.conf"),
        // A host name the certificate does not name, reached at the right address.
        (
            set_param(
                &tier.direct.replacen("@localhost:", "@db.invalid:", 1),
                "hostaddr",
                "127.0.0.1",
            ),
            "certificate",
        ),
    ];
    for (url, needle) in cases {
        let error = match PgConnectOptions::parse(&url).unwrap().connect().await {
            Ok(_) => panic!("connected with {}", url.replace(&password, "***")),
            Err(error) => error.to_string(),
        };
        assert!(
            error.to_lowercase().contains(needle),
            "{needle} not in {error:?}"
        );
        assert!(!error.contains(&password), "the password leaked: {error}");
        assert!(
            !error.contains("p@ss"),
            "the decoded password leaked: {error}"
        );
    }
    // verify-ca checks the chain, not the name: the wrong host name is accepted there.
    let wrong_name = set_param(
        &set_param(
            &tier.direct.replacen("@localhost:", "@db.invalid:", 1),
            "hostaddr",
            "127.0.0.1",
        ),
        "sslmode",
        "verify-ca",
    );
    PgConnectOptions::parse(&wrong_name)
        .unwrap()
        .connect()
        .await
        .unwrap();
    // `require` encrypts without checking; the server is reached.
    let require = set_param(&with_ca(&tier.direct, &tier.ca), "sslmode", "require");
    let require = require.replace(&format!("&sslrootcert={}", tier.ca.display()), "");
    PgConnectOptions::parse(&require)
        .unwrap()
        .connect()
        .await
        .unwrap();
}

#[tokio::test]
async fn migrating_twice_through_the_pooler_finishes_and_leaves_no_lock_behind() {
    let db = TierDb::new().await;
    let again = tokio::time::timeout(
        Duration::from_secs(60),
        medico24_postgres::run_migrations(&db.pooled()),
    )
    .await
    .expect("the second run does not wait for a lock the first kept")
    .unwrap();
    assert!(again.is_empty(), "nothing left to apply: {again:?}");
    let mut conn = PgConnectOptions::parse(&db.direct())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let locks: Count =
        diesel::sql_query("SELECT count(*) AS value FROM pg_locks WHERE locktype = 'advisory'")
            .get_result(&mut conn)
            .await
            .unwrap();
    assert_eq!(locks.value, 0);
}

#[tokio::test]
async fn through_a_transaction_pooler_statements_and_transactions_never_fail_under_concurrency() {
    let db = TierDb::new().await;
    let pool = db.pool(
        &db.pooled(),
        PoolerMode::Transaction,
        Some(Duration::from_secs(15)),
    );
    let mut tasks = Vec::new();
    for task in 0..64_i64 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            for round in 0..20_i64 {
                let mut conn = pool.conn().await?;
                let value: Count = diesel::sql_query("SELECT $1::int8 AS value")
                    .bind::<BigInt, _>(task * 1000 + round)
                    .get_result(&mut conn)
                    .await?;
                assert_eq!(value.value, task * 1000 + round);
                let inside: Count = conn
                    .transaction::<_, diesel::result::Error, _>(async |conn| {
                        diesel::sql_query("SELECT $1::int8 + 1 AS value")
                            .bind::<BigInt, _>(round)
                            .get_result(conn)
                            .await
                    })
                    .await?;
                assert_eq!(inside.value, round + 1);
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn the_statement_timeout_holds_through_the_pooler_and_does_not_leak_to_other_clients() {
    let db = TierDb::new().await;
    let limited = db.pool(
        &db.pooled(),
        PoolerMode::Transaction,
        Some(Duration::from_millis(300)),
    );
    let unlimited = db.pool(&db.pooled(), PoolerMode::Transaction, None);
    for _ in 0..5 {
        let mut conn = limited.conn().await.unwrap();
        let error = diesel::sql_query("SELECT pg_sleep(2)")
            .execute(&mut conn)
            .await
            .unwrap_err();
        assert!(error.to_string().contains("statement timeout"), "{error}");
        // Inside an explicit transaction too.
        let error = conn
            .transaction::<_, diesel::result::Error, _>(async |conn| {
                diesel::sql_query("SELECT pg_sleep(2)").execute(conn).await
            })
            .await
            .unwrap_err();
        assert!(error.to_string().contains("statement timeout"), "{error}");
    }
    // Other clients of the same pooler (sharing its server connections) keep the default.
    for _ in 0..20 {
        let mut conn = unlimited.conn().await.unwrap();
        let setting: Setting =
            diesel::sql_query("SELECT current_setting('statement_timeout') AS value")
                .get_result(&mut conn)
                .await
                .unwrap();
        assert_eq!(setting.value, "0");
    }
}

/// Environment for the app pointed at the data tier (pooled URL, direct URL for migrations).
fn tier_vars(db: &TierDb, vars: &mut HashMap<String, String>) {
    vars.insert("DATABASE_URL".into(), db.pooled());
    vars.insert("DATABASE_DIRECT_URL".into(), db.direct());
    vars.insert("DATABASE_POOLER".into(), "transaction".into());
    vars.insert("REDIS_URL".into(), db.tier.redis_cluster.clone());
    vars.insert("REDIS_CLUSTER".into(), "true".into());
    vars.insert("REDIS_CA_FILE".into(), db.tier.ca.display().to_string());
}

#[tokio::test]
async fn the_app_serves_reads_and_writes_through_pgbouncer_and_a_redis_cluster_over_tls() {
    let db = TierDb::new().await;
    let app = medico24_testkit::spawn_app_with(|vars| tier_vars(&db, vars)).await;
    let ready = app.get("/api/v1/health/ready").await;
    assert_eq!(ready.status(), StatusCode::OK);
    let detailed: serde_json::Value = app
        .get("/api/v1/health/detailed")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detailed["status"], "healthy", "{detailed}");
    let mut requests = Vec::new();
    for _ in 0..40 {
        let app_client = app.client.clone();
        let url = app.url("/api/v1/pharmacies/?page=1&page_size=5");
        requests.push(tokio::spawn(async move {
            app_client.get(url).send().await.map(|r| r.status())
        }));
    }
    for request in requests {
        assert_eq!(request.await.unwrap().unwrap(), StatusCode::OK);
    }
}

#[tokio::test]
async fn a_live_event_crosses_instances_through_sharded_pub_sub_on_the_tls_redis_cluster() {
    use crate::events::{Next, Sse, book};
    let db = TierDb::new().await;
    let prefix = format!("test:{}:", Uuid::new_v4().simple());
    let spawn = |heartbeat_ms: &'static str| {
        let prefix = prefix.clone();
        let db = &db;
        medico24_testkit::spawn_app_with(move |vars| {
            tier_vars(db, vars);
            vars.insert("REDIS_KEY_PREFIX".into(), prefix);
            vars.insert("RATE_LIMIT_PER_MINUTE".into(), "100000".into());
            vars.insert("RATE_LIMIT_AUTH_PER_MINUTE".into(), "100000".into());
            vars.insert("EVENTS_HEARTBEAT_MS".into(), heartbeat_ms.into());
        })
    };
    let first = spawn("200").await;
    // Heartbeats (the safety net) slower than the bound: only the notice can deliver.
    let second = spawn("30000").await;
    crate::support::mount_certs(&first).await;
    let patient = crate::support::login(&first, "uid-tier-ev", "tier-ev@example.com").await;
    let id = book(&first, &patient.access, 9).await;
    let mut stream = Sse::open(&second, "", Some(&patient.access), None).await;
    // The second instance's subscription is up once a notice published now reaches it: the
    // patient changes the notes (each change is a real event) until one arrives. (The tier's
    // database is not the test kit's, so no admin is made here.)
    let mut arrived = None;
    for attempt in 0..3 {
        if arrived.is_some() {
            break;
        }
        let sent = std::time::Instant::now();
        let (status, body) = crate::support::status_json(
            crate::support::call(
                &first,
                reqwest::Method::PUT,
                &format!("/api/v1/appointments/{id}"),
                Some(&patient.access),
                Some(serde_json::json!({"notes": format!("attempt {attempt}")})),
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if let Next::Event(event) = stream.next(Duration::from_secs(1)).await {
            arrived = Some((event, sent.elapsed()));
        }
    }
    let (event, took) = arrived.expect("the second instance never heard a notice over the cluster");
    assert_eq!(event.event, "appointment.updated");
    assert_eq!(event.data["appointment_id"], serde_json::json!(id));
    assert_eq!(event.data["changed"], serde_json::json!(["notes"]));
    assert!(took < Duration::from_secs(1), "{took:?}");
}

#[tokio::test]
async fn sessions_follow_their_contract_on_a_tls_redis_and_on_a_tls_redis_cluster() {
    let tier = tier();
    for (url, cluster) in [(&tier.redis_tls, false), (&tier.redis_cluster, true)] {
        let redis = Redis::connect_lazy(&RedisConfig {
            url: url.clone(),
            tls_ca_file: Some(tier.ca.clone()),
            cluster,
            max_connections: 4,
            timeout: Duration::from_secs(5),
            key_prefix: format!("test:{}:", Uuid::new_v4().simple()),
            idle_check_after: RedisConfig::IDLE_CHECK_AFTER,
        })
        .unwrap();
        redis.ping().await.unwrap();
        medico24_identity::testing::contract::session_store(&RedisSessionStore::new(redis)).await;
    }
}

#[tokio::test]
async fn a_redis_whose_certificate_the_ca_did_not_sign_is_refused() {
    let tier = tier();
    for (url, cluster) in [(&tier.redis_tls, false), (&tier.redis_cluster, true)] {
        let result = Redis::connect_lazy(&RedisConfig {
            url: url.clone(),
            tls_ca_file: Some(tier.other_ca.clone()),
            cluster,
            max_connections: 1,
            timeout: Duration::from_secs(2),
            key_prefix: String::new(),
            idle_check_after: RedisConfig::IDLE_CHECK_AFTER,
        })
        .map(|redis| async move { redis.ping().await });
        match result {
            Err(_) => {}
            Ok(ping) => assert!(ping.await.is_err(), "{url} accepted an unknown CA"),
        }
    }
}

#[tokio::test]
async fn health_reports_redis_unhealthy_when_a_cluster_is_spoken_to_as_one_server() {
    let db = TierDb::new().await;
    let app = medico24_testkit::spawn_app_with(|vars| {
        tier_vars(&db, vars);
        vars.insert("REDIS_CLUSTER".into(), "false".into());
    })
    .await;
    let detailed: serde_json::Value = app
        .get("/api/v1/health/detailed")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detailed["redis"], "unhealthy", "{detailed}");
    assert_eq!(detailed["status"], "degraded", "{detailed}");
    // The database is fine, so the replica stays in the balancer's rotation.
    assert_eq!(
        app.get("/api/v1/health/ready").await.status(),
        StatusCode::OK
    );
}

fn port_of(url: &str) -> String {
    let after_at = url.rsplit_once('@').map_or(url, |(_, rest)| rest);
    let authority = after_at.split('/').next().unwrap_or_default();
    authority
        .rsplit_once(':')
        .map(|(_, port)| port.to_owned())
        .expect("a port")
}

/// Whether `conn` is on a standby.
async fn in_recovery(conn: &mut medico24_postgres::PgConn) -> bool {
    let flag: Flag = diesel::sql_query("SELECT pg_is_in_recovery() AS value")
        .get_result(conn)
        .await
        .unwrap();
    flag.value
}

type Seen = std::sync::Arc<std::sync::Mutex<Vec<medico24_postgres::ReplicaFallback>>>;

/// The primary (direct) with the replica behind `read_url` for reads, and what fell back.
fn with_replica(db: &TierDb, read_url: &str, max_lag: Duration) -> (Database, Seen) {
    let seen: Seen = Seen::default();
    let recorder = seen.clone();
    let primary = db.pool(&db.direct(), PoolerMode::Session, None);
    let replica = Database::connect_lazy(&DatabaseConfig {
        url: read_url.to_owned(),
        pooler: PoolerMode::Session,
        prepared_statements: true,
        max_connections: 4,
        wait_timeout: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(1),
        statement_timeout: None,
    })
    .unwrap();
    let database = primary.with_replica(
        replica,
        max_lag,
        Some(std::sync::Arc::new(move |reason| {
            recorder.lock().unwrap().push(reason);
        })),
    );
    (database, seen)
}

/// Reads from the replica once it has caught up with the test's new database.
async fn wait_for_replica_reads(database: &Database) {
    for _ in 0..60 {
        let mut conn = database.read_conn().await.unwrap();
        if in_recovery(&mut conn).await {
            return;
        }
        drop(conn);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("reads never reached the replica");
}

#[tokio::test]
async fn lag_tolerant_reads_go_to_the_replica_and_everything_else_to_the_primary() {
    let db = TierDb::new().await;
    let read_url = with_database(&db.tier.read, &db.name);
    let (database, _) = with_replica(&db, &read_url, Duration::from_secs(5));
    wait_for_replica_reads(&database).await;
    let mut conn = database.conn().await.unwrap();
    assert!(!in_recovery(&mut conn).await, "conn() is the primary");
}

#[tokio::test]
async fn a_replica_that_cannot_be_reached_sends_reads_to_the_primary_and_says_why() {
    let db = TierDb::new().await;
    let dead = db
        .direct()
        .replacen(&format!(":{}/", port_of(&db.direct())), ":1/", 1);
    let (database, seen) = with_replica(&db, &dead, Duration::from_secs(5));
    for _ in 0..3 {
        let mut conn = database.read_conn().await.unwrap();
        assert!(!in_recovery(&mut conn).await);
    }
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(
        seen.iter()
            .all(|reason| *reason == medico24_postgres::ReplicaFallback::Unavailable),
        "{seen:?}"
    );
}

/// Resumes WAL replay on the replica when dropped (also when the test fails half-way).
struct ReplayPaused {
    admin_url: String,
}

impl ReplayPaused {
    async fn new(admin_url: String) -> Self {
        let mut admin = PgConnectOptions::parse(&admin_url)
            .unwrap()
            .connect()
            .await
            .unwrap();
        admin
            .batch_execute("SELECT pg_wal_replay_pause()")
            .await
            .unwrap();
        Self { admin_url }
    }
}

impl Drop for ReplayPaused {
    fn drop(&mut self) {
        let url = self.admin_url.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async move {
                let mut admin = PgConnectOptions::parse(&url).ok()?.connect().await.ok()?;
                admin
                    .batch_execute("SELECT pg_wal_replay_resume()")
                    .await
                    .ok()
            })
        })
        .join();
    }
}

#[tokio::test]
async fn a_replica_further_behind_than_the_bound_is_not_read_until_it_catches_up() {
    let db = TierDb::new().await;
    let read_url = with_database(&db.tier.read, &db.name);
    let (database, seen) = with_replica(&db, &read_url, Duration::from_millis(300));
    wait_for_replica_reads(&database).await;

    let admin = format!(
        "postgresql:///postgres?host={}&port={}&user=postgres&sslmode=disable",
        db.tier.socket_dir,
        port_of(&db.tier.read)
    );
    let paused = ReplayPaused::new(admin).await;
    // The primary moves on; the paused replica does not.
    let mut primary = database.conn().await.unwrap();
    primary
        .batch_execute("CREATE TABLE lag_probe (id int); INSERT INTO lag_probe VALUES (1)")
        .await
        .unwrap();
    drop(primary);
    let mut lagging_seen = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let mut conn = database.read_conn().await.unwrap();
        if !in_recovery(&mut conn).await
            && seen
                .lock()
                .unwrap()
                .contains(&medico24_postgres::ReplicaFallback::Lagging)
        {
            lagging_seen = true;
            break;
        }
    }
    assert!(
        lagging_seen,
        "the lagging replica kept being read: {:?}",
        seen.lock().unwrap()
    );
    drop(paused);
    wait_for_replica_reads(&database).await;
}

#[tokio::test]
async fn statements_another_client_left_on_the_pooled_server_connection_do_not_collide_with_ours() {
    let tier = tier();
    // `<db>_single`: PgBouncer gives every client the same single server connection.
    let single = with_database(&tier.pooled, "medico24_single");
    // A client that prepares statements under the driver's own names and leaves them there, as
    // a request cancelled half-way does.
    let mut leaker = PgConnectOptions::parse(&single)
        .unwrap()
        .connect_pinned(true)
        .await
        .unwrap();
    let leaked: String = (0..3000)
        .map(|n| format!("PREPARE s{n} AS SELECT {n};"))
        .collect();
    leaker
        .batch_execute(&format!("BEGIN; {leaked} COMMIT"))
        .await
        .unwrap();
    drop(leaker);

    let db = Database::connect_lazy(&DatabaseConfig {
        url: single,
        pooler: PoolerMode::Transaction,
        prepared_statements: false,
        max_connections: 2,
        wait_timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(10),
        statement_timeout: Some(Duration::from_secs(15)),
    })
    .unwrap();
    let mut conn = db.conn().await.unwrap();
    for n in 0..50_i64 {
        let value: Count = diesel::sql_query("SELECT $1::int8 AS value")
            .bind::<BigInt, _>(n)
            .get_result(&mut conn)
            .await
            .unwrap();
        assert_eq!(value.value, n);
        let inside: Count = conn
            .transaction::<_, diesel::result::Error, _>(async |conn| {
                diesel::sql_query("SELECT $1::int8 AS value")
                    .bind::<BigInt, _>(n)
                    .get_result(conn)
                    .await
            })
            .await
            .unwrap();
        assert_eq!(inside.value, n);
    }
}

#[tokio::test]
async fn an_export_streams_and_an_erasure_runs_through_pgbouncer_and_the_tls_redis_cluster() {
    use crate::support::{call, login, mount_certs, status_json};
    use reqwest::Method;
    let db = TierDb::new().await;
    let app = medico24_testkit::spawn_app_with(|vars| {
        tier_vars(&db, vars);
        vars.insert("ERASURE_GRACE_HOURS".into(), "0".into());
    })
    .await;
    mount_certs(&app).await;
    let email = "tier-erasure@example.com";
    let patient = login(&app, "uid-tier-erasure", email).await;
    crate::events::book(&app, &patient.access, 10).await;

    let (status, export) = status_json(
        call(
            &app,
            Method::GET,
            "/api/v1/users/me/export",
            Some(&patient.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{export}");
    assert_eq!(export["profile"]["user"]["email"], email);
    assert_eq!(export["appointments"].as_array().unwrap().len(), 1);
    assert_eq!(export["sessions"].as_array().unwrap().len(), 1, "{export}");

    let (status, body) = status_json(
        call(
            &app,
            Method::POST,
            "/api/v1/users/me/erasure",
            Some(&patient.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let user = medico24_kernel::UserId::from_uuid(patient.id.parse().unwrap());
    assert!(
        app.state.privacy.sessions(user).await.unwrap().is_empty(),
        "the sessions are gone from the cluster"
    );
    let (status, _) = status_json(
        call(
            &app,
            Method::GET,
            "/api/v1/users/me",
            Some(&patient.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        medico24_server::workers::run_once(&app.state)
            .await
            .unwrap()
            .erased,
        1
    );

    let database = db.pool(&db.direct(), PoolerMode::Session, None);
    let mut conn = database.conn().await.unwrap();
    let left: Count = diesel::sql_query(
        "SELECT (SELECT count(*) FROM users WHERE email = $1 OR firebase_uid = 'uid-tier-erasure') \
              + (SELECT count(*) FROM appointments WHERE reason <> '[erased]') AS value",
    )
    .bind::<Text, _>(email)
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(left.value, 0, "no personal field is left");
    let again = login(&app, "uid-tier-erasure", email).await;
    assert_ne!(
        again.id, patient.id,
        "the same Google account gets a new account"
    );
}
