//! Demo data for local runs and benchmarks (`medico24 seed`).

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};

use crate::database::normalize_url;

/// The demo data script; it reads its size from the `medico24.seed_pharmacies` setting.
const DEMO_SEED_SQL: &str = include_str!("../sql/demo_seed.sql");

/// Why seeding failed.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// Could not connect.
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    /// The script failed.
    #[error("seeding failed: {0}")]
    Script(String),
}

/// Loads the demo data set with `pharmacies` pharmacies (and the fixed clinics and doctors).
/// Running it on a database that already has pharmacies adds nothing.
///
/// # Errors
/// [`SeedError`] when the database is unreachable or the script fails.
pub async fn seed_demo_data(database_url: &str, pharmacies: u32) -> Result<(), SeedError> {
    let mut conn = AsyncPgConnection::establish(&normalize_url(database_url))
        .await
        .map_err(|e| SeedError::Connect(e.to_string()))?;
    let script = format!(
        "SET medico24.seed_pharmacies = '{pharmacies}';\n{DEMO_SEED_SQL}\nRESET medico24.seed_pharmacies;"
    );
    conn.batch_execute(&script)
        .await
        .map_err(|e| SeedError::Script(e.to_string()))
}
