//! Redis adapter: the connection pool and key namespace, and the caches, session store and rate
//! limiter that implement the domains' ports, and the live user events (log, notices, tickets).

pub mod client;
pub mod directory_cache;
pub mod environment_cache;
pub mod events;
mod exec;
pub mod metrics;
pub mod pharmacy_cache;
pub mod privacy;
pub mod rate_limit;
pub mod session;
pub mod user_cache;

pub use client::{Redis, RedisConfig, RedisError};
pub use directory_cache::{DirectoryCacheTtls, RedisDirectoryCache};
pub use environment_cache::RedisConditionsCache;
pub use events::{Notice, RedisEvents, StoredEvent};
pub use metrics::CacheObserver;
pub use pharmacy_cache::RedisPharmacyCache;
pub use privacy::RedisPersonalTraces;
pub use rate_limit::RedisRateLimiter;
pub use session::RedisSessionStore;
pub use user_cache::RedisUserCache;
