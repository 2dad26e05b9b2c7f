//! Test support shared by every crate's integration tests: a fresh PostgreSQL database per test
//! cloned from a template migrated once per run, a random Redis key prefix per test, the real
//! server spawned on port 0 (`spawn_app`), and wiremock fakes of Google and Firebase.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test support: a failed setup must abort the test loudly"
)]

pub mod app;
pub mod db;
pub mod fakes;
pub mod id_tokens;
pub mod proxy;
pub mod redis;

pub use app::{TestApp, spawn_app, spawn_app_with, spawn_app_with_db};
pub use db::TestDb;
pub use fakes::{FakeFirebase, FakeGoogle};
pub use id_tokens::FirebaseKeys;
pub use proxy::FaultProxy;
pub use redis::TestRedis;

/// Base URL of the PostgreSQL server tests create their databases on.
pub fn test_database_url() -> String {
    std::env::var("MEDICO24_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// URL of the Redis server tests use (each test under its own key prefix).
pub fn test_redis_url() -> String {
    std::env::var("MEDICO24_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}
