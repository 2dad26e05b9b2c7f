//! Shared application state handed to handlers and middleware, and the concrete service types.

use std::sync::Arc;
use std::time::Instant;

use medico24_firebase::FirebaseIdTokenVerifier;
use medico24_identity::IdentityService;
use medico24_kernel::SystemClock;
use medico24_postgres::{Database, PgUserRepository};
use medico24_redis::{Redis, RedisRateLimiter, RedisSessionStore, RedisUserCache};

use crate::auth::JwtTokens;
use crate::config::Settings;
use crate::metrics::Metrics;

/// The identity service with its production adapters.
pub type Identity = IdentityService<
    PgUserRepository,
    RedisUserCache,
    RedisSessionStore,
    FirebaseIdTokenVerifier<SystemClock>,
    JwtTokens,
    SystemClock,
>;

/// Everything a request may need; cloned cheaply (all members are handles).
pub struct AppState {
    /// Configuration.
    pub settings: Arc<Settings>,
    /// PostgreSQL pool.
    pub db: Database,
    /// Redis pool.
    pub redis: Redis,
    /// The one outbound HTTP client (rustls, timeouts).
    pub http: reqwest::Client,
    /// Prometheus series.
    pub metrics: Metrics,
    /// When the process started serving (for uptime).
    pub started_at: Instant,
    /// The OpenAPI document, serialized once at startup.
    pub openapi_json: Arc<Vec<u8>>,
    /// Users, login, sessions, tokens.
    pub identity: Arc<Identity>,
    /// Request counters of the rate limiter.
    pub rate_limiter: RedisRateLimiter,
}
