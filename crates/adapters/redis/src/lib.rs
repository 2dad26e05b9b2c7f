//! Redis adapter: the connection pool and key namespace, and (as the domains grow) the caches,
//! session store and rate limiter that implement their ports.

pub mod client;

pub use client::{Redis, RedisConfig, RedisError};
