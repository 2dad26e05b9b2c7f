//! Embedded Diesel migrations, run through a blocking connection wrapper.

use diesel::{Connection, RunQueryDsl};
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::connect::PgConnectOptions;

/// Every migration of `migrations/`, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../../migrations");

/// Advisory lock key held while migrating, so parallel processes (test binaries, replicas)
/// never run the same migration twice.
const MIGRATION_LOCK_KEY: i64 = 0x6d65_6469_636f_3234; // "medico24"

/// Why migrating failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// Could not connect.
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    /// A migration failed; the message names it.
    #[error("migration failed: {0}")]
    Migration(String),
    /// The blocking task died.
    #[error("migration task failed: {0}")]
    Task(String),
}

impl From<diesel::result::Error> for MigrationError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Migration(error.to_string())
    }
}

type Wrapper = AsyncConnectionWrapper<AsyncPgConnection>;

/// Runs every pending migration and returns the versions applied.
///
/// # Errors
/// [`MigrationError`] naming what failed; nothing of this run stays applied (the run is one
/// transaction).
pub async fn run_migrations(database_url: &str) -> Result<Vec<String>, MigrationError> {
    with_locked_connection(database_url, |conn| {
        conn.run_pending_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(ToString::to_string).collect())
            .map_err(|e| MigrationError::Migration(e.to_string()))
    })
    .await
}

/// Reverts every applied migration (newest first) and returns the versions reverted.
///
/// # Errors
/// [`MigrationError`] naming what failed.
pub async fn revert_all_migrations(database_url: &str) -> Result<Vec<String>, MigrationError> {
    with_locked_connection(database_url, |conn| {
        conn.revert_all_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(ToString::to_string).collect())
            .map_err(|e| MigrationError::Migration(e.to_string()))
    })
    .await
}

/// Runs `work` inside one transaction that first takes the migration lock.
///
/// The lock is transaction-scoped (`pg_advisory_xact_lock`): it is released when that
/// transaction ends, however it ends, and it works through a transaction pooler, which lends
/// a server connection for exactly one transaction (a session lock taken there would stay
/// with a server connection this process no longer holds). Each migration runs nested in it
/// (as a savepoint), so a failing migration leaves none of this run applied.
async fn with_locked_connection<T: Send + 'static>(
    database_url: &str,
    work: impl FnOnce(&mut Wrapper) -> Result<T, MigrationError> + Send + 'static,
) -> Result<T, MigrationError> {
    let options = PgConnectOptions::parse(database_url)
        .map_err(|e| MigrationError::Connect(e.to_string()))?;
    // Pinned: `database_url` may lead to a transaction pooler.
    let conn = options
        .connect_pinned(true)
        .await
        .map_err(|e| MigrationError::Connect(e.to_string()))?;
    // The wrapper blocks on the runtime, so it must live on a blocking thread.
    tokio::task::spawn_blocking(move || {
        let mut conn = Wrapper::from(conn);
        conn.transaction(|conn| {
            diesel::sql_query(format!(
                "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
            ))
            .execute(conn)
            .map_err(|e| MigrationError::Migration(e.to_string()))?;
            work(conn)
        })
    })
    .await
    .map_err(|e| MigrationError::Task(e.to_string()))?
}
