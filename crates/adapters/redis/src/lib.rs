//! Redis adapter: the connection pool and key namespace, and the caches, session store and rate
//! limiter that implement the domains' ports.

pub mod client;
mod exec;
pub mod metrics;
pub mod rate_limit;
pub mod session;
pub mod user_cache;

pub use client::{Redis, RedisConfig, RedisError};
pub use metrics::CacheObserver;
pub use rate_limit::RedisRateLimiter;
pub use session::RedisSessionStore;
pub use user_cache::RedisUserCache;
