//! PostgreSQL/PostGIS adapter: the connection pool, embedded migrations, demo data and the
//! repositories that implement the domain ports with Diesel.

pub mod database;
pub mod migrate;
pub mod schema;
pub mod seed;

pub use database::{Database, DatabaseConfig, DatabaseError, PgConn, PoolStatus};
pub use migrate::{MigrationError, revert_all_migrations, run_migrations};
pub use seed::{SeedError, seed_demo_data};
