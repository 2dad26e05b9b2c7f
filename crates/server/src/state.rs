//! Shared application state handed to handlers and middleware.

use std::sync::Arc;
use std::time::Instant;

use medico24_postgres::Database;
use medico24_redis::Redis;

use crate::config::Settings;
use crate::metrics::Metrics;

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
}
