//! Embedded Diesel migrations, run through a blocking connection wrapper.

use diesel::sql_types::BigInt;
use diesel::{Connection, RunQueryDsl};
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::database::normalize_url;

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

type Wrapper = AsyncConnectionWrapper<AsyncPgConnection>;

/// Runs every pending migration and returns the versions applied.
///
/// # Errors
/// [`MigrationError`] naming what failed; applied migrations stay applied (each runs in its
/// own transaction).
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

async fn with_locked_connection<T: Send + 'static>(
    database_url: &str,
    work: impl FnOnce(&mut Wrapper) -> Result<T, MigrationError> + Send + 'static,
) -> Result<T, MigrationError> {
    let url = normalize_url(database_url);
    // The wrapper blocks on the runtime, so it must live on a blocking thread.
    tokio::task::spawn_blocking(move || {
        let mut conn = <Wrapper as Connection>::establish(&url)
            .map_err(|e| MigrationError::Connect(e.to_string()))?;
        diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
            .execute(&mut conn)
            .map_err(|e| MigrationError::Migration(e.to_string()))?;
        let result = work(&mut conn);
        // Unlocking also happens when the connection closes; an error here changes nothing.
        let _ = diesel::select(diesel::dsl::sql::<BigInt>(&format!(
            "pg_advisory_unlock({MIGRATION_LOCK_KEY})::int8"
        )))
        .execute(&mut conn);
        result
    })
    .await
    .map_err(|e| MigrationError::Task(e.to_string()))?
}
