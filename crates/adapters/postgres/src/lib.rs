//! PostgreSQL/PostGIS adapter: the connection pool, embedded migrations, demo data and the
//! repositories that implement the domain ports with Diesel.

pub mod audit;
pub mod database;
pub mod errors;
pub mod migrate;
#[allow(
    missing_docs,
    reason = "table! modules mirror the SQL schema; docs/database.md documents it"
)]
pub mod schema;
pub mod seed;
pub mod users;

pub use database::{Database, DatabaseConfig, DatabaseError, PgConn, PoolStatus};
pub use migrate::{MigrationError, revert_all_migrations, run_migrations};
pub use seed::{SeedError, seed_demo_data};
pub use users::PgUserRepository;
