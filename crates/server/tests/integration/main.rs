//! Integration tests of the server: the real application on port 0 against real PostgreSQL and
//! Redis (one binary, so the link step happens once).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed expectation is a failed test"
)]

mod admin_stats;
mod appointments;
mod architecture;
mod authz;
mod contract;
mod data_tier;
mod directory;
mod docs;
mod environment;
mod events;
mod faults;
mod fcm;
mod identity;
mod migrations;
mod notifications;
mod openapi_quality;
mod ops;
mod outbox;
mod pharmacies;
mod platform;
mod pool;
mod privacy;
mod rate_limit;
mod reminders;
mod request_schemas;
mod schema_indexes;
mod support;
mod topology;
