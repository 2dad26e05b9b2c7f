//! Ports of the environment domain. Adapters implement them; each method's errors are documented.

use std::future::Future;

use crate::model::{CachedConditions, Conditions, GridPoint};

/// Why the provider produced no conditions. Carries no upstream text (which could contain the
/// API key or response bodies), only what is safe to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// No answer within the timeout (→ 503 family).
    #[error("provider timed out")]
    Timeout,
    /// The connection could not be made or broke (→ 503 family).
    #[error("provider unreachable")]
    Network,
    /// The provider answered with a non-2xx status (→ 502 family).
    #[error("provider answered status {0}")]
    UpstreamStatus(u16),
    /// The answer was not JSON or lacked a required field (→ 502 family); names what was wrong.
    #[error("provider answer unusable: {0}")]
    BadBody(&'static str),
}

impl ProviderError {
    /// Whether the provider could not be reached at all (timeout or connection failure), as
    /// opposed to answering badly.
    pub const fn is_unreachable(&self) -> bool {
        matches!(self, ProviderError::Timeout | ProviderError::Network)
    }
}

/// The source of current conditions (Google Air Quality + Weather).
pub trait ConditionsProvider: Send + Sync + 'static {
    /// Current conditions at `point` (its rounded coordinates are what is asked for).
    ///
    /// `observed_at` is `None` when the provider's answers carry no time; the service then uses
    /// the fetch time.
    ///
    /// # Errors
    /// [`ProviderError::Timeout`] / [`ProviderError::Network`] when the provider cannot be
    /// reached in time; [`ProviderError::UpstreamStatus`] for a non-2xx answer;
    /// [`ProviderError::BadBody`] when a required field (`aqi`, `aqi_category`, `temperature`,
    /// `condition`) is missing or the answer is not JSON.
    fn current(
        &self,
        point: GridPoint,
    ) -> impl Future<Output = Result<Conditions, ProviderError>> + Send;
}

/// The conditions cache (`v2:env:{lat3}:{lng3}`). Fails open: a failed or unreadable read is a
/// miss and a failed write is skipped; the adapter logs and counts them, callers never see them.
pub trait ConditionsCache: Send + Sync + 'static {
    /// The entry stored for `point`, whatever its age (the service applies the policy).
    fn get(&self, point: GridPoint) -> impl Future<Output = Option<CachedConditions>> + Send;
    /// Stores `entry` for `point`, kept at least as long as it may be served stale.
    fn put(&self, point: GridPoint, entry: &CachedConditions) -> impl Future<Output = ()> + Send;
}
