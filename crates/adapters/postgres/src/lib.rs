//! PostgreSQL/PostGIS adapter: the connection pool, embedded migrations, demo data and the
//! repositories that implement the domain ports with Diesel.

pub mod appointments;
pub mod audit;
pub mod conn;
pub mod connect;
pub mod database;
pub mod directory;
pub mod errors;
mod keyset;
mod maintained;
pub mod migrate;
pub mod notifications;
pub mod pharmacies;
pub mod privacy;
mod reminders;
pub mod replica;
#[allow(
    missing_docs,
    reason = "table! modules mirror the SQL schema; docs/database.md documents it"
)]
pub mod schema;
pub mod seed;
pub mod stats;
pub mod users;

pub use appointments::PgAppointmentRepository;
pub use conn::{PgConn, PoolerMode};
pub use connect::{ConnectConfigError, PgConnectOptions, SslMode};
pub use database::{Database, DatabaseConfig, DatabaseError, PoolStatus};
pub use directory::PgDirectoryRepository;
pub use migrate::{MigrationError, revert_all_migrations, run_migrations};
pub use notifications::PgNotificationRepository;
pub use pharmacies::PgPharmacyRepository;
pub use privacy::PgPersonalData;
pub use replica::{FallbackObserver, ReplicaFallback};
pub use seed::{SeedError, SeedSize, seed_demo_data};
pub use stats::{PgAdminStats, StatsCheck};
pub use users::PgUserRepository;
