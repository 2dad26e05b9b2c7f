//! Demo data for local runs and benchmarks (`medico24 seed`).

use diesel_async::SimpleAsyncConnection;

use crate::connect::PgConnectOptions;

/// The demo data script; it reads its size from the `medico24.seed_pharmacies` setting.
const DEMO_SEED_SQL: &str = include_str!("../sql/demo_seed.sql");

/// Demo users and appointments; sizes from `medico24.seed_users` / `medico24.seed_appointments`.
const DEMO_PEOPLE_SQL: &str = include_str!("../sql/demo_people.sql");

/// How much demo data to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedSize {
    /// Pharmacies (with locations and hours).
    pub pharmacies: u32,
    /// Demo users (one admin, two doctors, the rest patients).
    pub users: u32,
    /// Appointments spread over the seeded doctors and patients.
    pub appointments: u32,
}

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

/// Loads the demo data set: pharmacies, the fixed clinics and doctors, users and appointments.
/// Running it again adds nothing.
///
/// # Errors
/// [`SeedError`] when the database is unreachable or a script fails.
pub async fn seed_demo_data(database_url: &str, size: SeedSize) -> Result<(), SeedError> {
    let options =
        PgConnectOptions::parse(database_url).map_err(|e| SeedError::Connect(e.to_string()))?;
    // Pinned: the URL may lead to a transaction pooler (the script itself is one simple-query
    // batch, which a pooler keeps on one server connection).
    let mut conn = options
        .connect_pinned(true)
        .await
        .map_err(|e| SeedError::Connect(e.to_string()))?;
    let SeedSize {
        pharmacies,
        users,
        appointments,
    } = size;
    let script = format!(
        "SET medico24.seed_pharmacies = '{pharmacies}';\nSET medico24.seed_users = '{users}';\n\
         SET medico24.seed_appointments = '{appointments}';\n{DEMO_SEED_SQL}\n{DEMO_PEOPLE_SQL}\n\
         RESET medico24.seed_pharmacies;\nRESET medico24.seed_users;\nRESET medico24.seed_appointments;"
    );
    conn.batch_execute(&script)
        .await
        .map_err(|e| SeedError::Script(e.to_string()))
}
