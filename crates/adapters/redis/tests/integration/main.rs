//! Integration tests of the Redis adapters against a real Redis (`MEDICO24_TEST_REDIS_URL`,
//! default `redis://127.0.0.1:6379`), each test in its own random key prefix.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on broken fixtures"
)]

mod connections;
mod environment_cache;
mod pharmacy_cache;
mod rate_limit;
mod session;
mod support;
mod unavailable;
mod user_cache;
