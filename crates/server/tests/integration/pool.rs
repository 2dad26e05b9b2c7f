//! The database pool split into per-worker shards: each HTTP worker thread gets connections of
//! its own, the background work the shared pool, and the total stays within the pool size.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use diesel::sql_types::Integer;
use diesel_async::RunQueryDsl;
use medico24_postgres::{Database, DatabaseConfig, DatabaseError, PgConn};
use medico24_testkit::TestDb;
use tokio::runtime::Runtime;

/// A pool of `max` connections for `workers` HTTP workers, waiting at most half a second.
fn sharded(db: &TestDb, max: usize, workers: usize) -> Database {
    Database::connect_lazy_for_workers(
        &DatabaseConfig {
            url: db.url().to_owned(),
            pooler: medico24_postgres::PoolerMode::Session,
            prepared_statements: true,
            max_connections: max,
            wait_timeout: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(5),
            statement_timeout: None,
        },
        workers,
    )
    .unwrap()
}

async fn backend_pid(conn: &mut PgConn) -> i32 {
    diesel::select(diesel::dsl::sql::<Integer>("pg_backend_pid()"))
        .get_result::<i32>(conn)
        .await
        .unwrap()
}

/// The backend of one checkout, returned to the pool afterwards.
async fn checkout_pid(database: &Database) -> i32 {
    let mut conn = database.conn().await.unwrap();
    backend_pid(&mut conn).await
}

type Job = Box<dyn FnOnce(&Runtime) + Send>;

/// A thread with its own single-threaded runtime, like an actix-web worker.
struct Worker {
    jobs: mpsc::Sender<Job>,
    thread: JoinHandle<()>,
}

impl Worker {
    fn start() -> Self {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            for job in inbox {
                job(&runtime);
            }
        });
        Self { jobs, thread }
    }

    /// Runs `f` on the worker's thread and waits for its result.
    fn run<T: Send + 'static>(&self, f: impl FnOnce(&Runtime) -> T + Send + 'static) -> T {
        let (reply, answer) = mpsc::channel();
        self.jobs
            .send(Box::new(move |runtime| {
                let _ = reply.send(f(runtime));
            }))
            .unwrap();
        answer.recv().unwrap()
    }

    /// The backend a checkout on this worker gets.
    fn pid(&self, database: &Database) -> i32 {
        let database = database.clone();
        self.run(move |runtime| runtime.block_on(checkout_pid(&database)))
    }

    /// Ends the thread and its runtime.
    fn stop(self) {
        drop(self.jobs);
        self.thread.join().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_worker_thread_uses_its_own_shard_and_background_work_the_shared_pool() {
    let db = TestDb::new().await;
    // 6 connections for 2 workers: a shard of 2 each, 2 shared.
    let database = sharded(&db, 6, 2);
    let (a, b) = (Worker::start(), Worker::start());

    let first_a = a.pid(&database);
    assert_eq!(
        a.pid(&database),
        first_a,
        "a worker reuses its shard's connection"
    );
    let first_b = b.pid(&database);
    assert_ne!(first_b, first_a, "two workers share no connection");
    // This test runs on a multi-threaded runtime, as the background workers do.
    let shared = checkout_pid(&database).await;
    assert!(![first_a, first_b].contains(&shared));
    let status = database.status();
    assert_eq!((status.idle, status.in_use, status.max), (3, 0, 6));

    // Both shards are taken: a third worker uses the shared pool.
    let c = Worker::start();
    assert_eq!(c.pid(&database), shared);

    // A worker that ends gives its shard back, without its connections (they were driven by the
    // runtime that ended); the next worker gets the shard and opens a new one that works.
    a.stop();
    assert_eq!(database.status().idle, 2);
    let d = Worker::start();
    let fresh = d.pid(&database);
    assert!(![first_a, first_b, shared].contains(&fresh));
    assert_eq!(d.pid(&database), fresh);
    for worker in [b, c, d] {
        worker.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_waits_for_its_own_shard_and_the_total_stays_within_the_pool_size() {
    let db = TestDb::new().await;
    let database = sharded(&db, 6, 2);
    let a = Worker::start();
    let held = database.clone();
    // Holding both of its shard's connections, the worker's third checkout times out (503).
    let third = a.run(move |runtime| {
        runtime.block_on(async move {
            let _first = held.conn().await.unwrap();
            let _second = held.conn().await.unwrap();
            held.conn().await.map(|_| ())
        })
    });
    assert!(
        matches!(third, Err(DatabaseError::Unavailable(_))),
        "{third:?}"
    );
    // Everyone else still gets connections, and no more than the pool size are ever open.
    let b = Worker::start();
    b.pid(&database);
    checkout_pid(&database).await;
    let status = database.status();
    assert!(status.idle + status.in_use <= 6, "{status:?}");
    assert_eq!(status.max, 6);
    a.stop();
    b.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_too_small_to_split_is_shared_by_everyone() {
    let db = TestDb::new().await;
    // 3 connections cannot give 2 workers and the shared pool 2 each: one pool of 3.
    let database = sharded(&db, 3, 2);
    let (a, b) = (Worker::start(), Worker::start());
    let held = database.clone();
    let (release, released) = mpsc::channel::<()>();
    let (holding, held_all) = mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let _all = [
                held.conn().await.unwrap(),
                held.conn().await.unwrap(),
                held.conn().await.unwrap(),
            ];
            holding.send(()).unwrap();
            let _ = released.recv();
        });
    });
    held_all.recv().unwrap();
    // Every connection is in use on one thread: the others wait and time out.
    let waited = database.clone();
    let other =
        a.run(move |runtime| runtime.block_on(async move { waited.conn().await.map(|_| ()) }));
    assert!(
        matches!(other, Err(DatabaseError::Unavailable(_))),
        "{other:?}"
    );
    assert!(database.conn().await.is_err());
    release.send(()).unwrap();
    holder.join().unwrap();
    b.pid(&database);
    a.stop();
    b.stop();
}

/// Pooler mode, where a statement outside a transaction runs in a transaction of its own: a
/// statement abandoned half-way (its future dropped, as when a request is cancelled) leaves that
/// transaction open, so the connection refuses further statements and leaves the pool instead of
/// serving the next checkout inside someone else's transaction.
#[tokio::test]
async fn a_connection_left_inside_a_statements_own_transaction_never_returns_to_the_pool() {
    let db = TestDb::new().await;
    let database = Database::connect_lazy(&DatabaseConfig {
        url: db.url().to_owned(),
        pooler: medico24_postgres::PoolerMode::Transaction,
        prepared_statements: false,
        max_connections: 1,
        wait_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(5),
        statement_timeout: Some(Duration::from_secs(15)),
    })
    .unwrap();
    let mut conn = database.conn().await.unwrap();
    let abandoned = backend_pid(&mut conn).await;
    let sleep = diesel::sql_query("SELECT pg_sleep(2)").execute(&mut conn);
    assert!(
        tokio::time::timeout(Duration::from_millis(200), sleep)
            .await
            .is_err(),
        "the sleep was cut short"
    );
    let refused = diesel::select(diesel::dsl::sql::<Integer>("1"))
        .get_result::<i32>(&mut conn)
        .await;
    assert!(
        matches!(
            refused,
            Err(diesel::result::Error::BrokenTransactionManager)
        ),
        "{refused:?}"
    );
    drop(conn);
    // The only pooled connection was closed: the next checkout opens a fresh one.
    let mut next = database.conn().await.unwrap();
    assert_ne!(backend_pid(&mut next).await, abandoned);
    // And the abandoned backend, with its open transaction, is gone.
    let gone = format!("SELECT count(*)::int4 FROM pg_stat_activity WHERE pid = {abandoned}");
    let mut left = 1;
    for _ in 0..50 {
        left = diesel::select(diesel::dsl::sql::<Integer>(&format!("({gone})")))
            .get_result::<i32>(&mut next)
            .await
            .unwrap();
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, 0, "backend {abandoned} still open");
}
