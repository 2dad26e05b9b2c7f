//! Command line of the `medico24` binary.

use clap::{Parser, Subcommand};

/// Medico24 API server.
#[derive(Debug, Parser)]
#[command(
    name = "medico24",
    version,
    about = "Medico24 healthcare appointment API"
)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API until SIGTERM/SIGINT.
    Serve,
    /// Apply every pending database migration.
    Migrate {
        /// Revert every migration instead (development only).
        #[arg(long)]
        revert_all: bool,
    },
    /// Load demo data (pharmacies, clinics, doctors around Mumbai).
    Seed {
        /// Number of pharmacies (default: env SEED_PHARMACIES, else 1000).
        #[arg(long, env = "SEED_PHARMACIES", default_value_t = 1000)]
        pharmacies: u32,
        /// Number of demo users (default: env SEED_USERS, else 50).
        #[arg(long, env = "SEED_USERS", default_value_t = 50)]
        users: u32,
        /// Number of demo appointments (default: env SEED_APPOINTMENTS, else 200).
        #[arg(long, env = "SEED_APPOINTMENTS", default_value_t = 200)]
        appointments: u32,
    },
    /// Print the OpenAPI document as JSON.
    Openapi,
    /// Print a Firebase ID token for the auth emulator mode (FIREBASE_AUTH_EMULATOR_HOST set,
    /// not production): exchange it at POST /api/v1/auth/firebase/verify.
    DevToken {
        /// Email of the account.
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Firebase uid (default: derived from the email).
        #[arg(long)]
        uid: Option<String>,
        /// Lifetime in minutes.
        #[arg(long, default_value_t = 60)]
        minutes: i64,
    },
    /// Give the admin role to one account (it must have logged in once): by its id, or by an
    /// email that names exactly one account (emails are neither unique nor always verified;
    /// an ambiguous one is refused and its accounts are listed).
    #[command(group(clap::ArgGroup::new("account").required(true).args(["user_id", "email"])))]
    MakeAdmin {
        /// Id of the account (`id` in `GET /api/v1/users/me` or the admin user list).
        #[arg(long)]
        user_id: Option<String>,
        /// Email of the account.
        #[arg(long)]
        email: Option<String>,
    },
    /// Compare the admin statistics the database maintains with a recount of the tables, in one
    /// snapshot; exits non-zero on a difference. Differences only arise from writes that
    /// bypassed the triggers (`session_replication_role = replica`, disabled triggers).
    StatsCheck {
        /// Recount and replace the maintained statistics when they differ (writes to users,
        /// appointments, pharmacies and notifications wait during the recount).
        #[arg(long)]
        repair: bool,
    },
}
