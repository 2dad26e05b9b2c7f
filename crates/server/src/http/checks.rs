//! The live dependency checks (database and Redis, each timed and bounded), shared by the health
//! routes and the admin dashboard.

use std::future::Future;
use std::time::{Duration, Instant};

use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

/// Each dependency check gets this long.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Outcome of one dependency check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// Answered in time.
    Healthy,
    /// Failed or timed out.
    Unhealthy,
}

/// One dependency check with its latency.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckResult {
    /// `healthy` or `unhealthy`.
    pub status: CheckStatus,
    /// Milliseconds; null when the check failed or timed out.
    pub latency_ms: Option<f64>,
}

/// Both dependency checks.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Checks {
    /// PostgreSQL `SELECT 1`.
    pub database: CheckResult,
    /// Redis `PING`.
    pub redis: CheckResult,
}

async fn timed_check<F, E>(check: F) -> CheckResult
where
    F: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let started = Instant::now();
    match tokio::time::timeout(CHECK_TIMEOUT, check).await {
        Ok(Ok(())) => CheckResult {
            status: CheckStatus::Healthy,
            latency_ms: Some((started.elapsed().as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0),
        },
        Ok(Err(error)) => {
            tracing::warn!(error = %error, "health check failed");
            CheckResult {
                status: CheckStatus::Unhealthy,
                latency_ms: None,
            }
        }
        Err(_) => CheckResult {
            status: CheckStatus::Unhealthy,
            latency_ms: None,
        },
    }
}

/// Runs the database and Redis checks concurrently. Redis is healthy only when the session
/// store can work there (see `Redis::check`), not merely when it answers `PING`.
pub async fn check_dependencies(state: &AppState) -> Checks {
    let (database, redis) = tokio::join!(
        timed_check(state.db.ping()),
        timed_check(state.redis.check())
    );
    Checks { database, redis }
}
