//! The conditions lookup use case: serve a fresh cached entry, else fetch, store and
//! serve; when the provider fails, serve a stale entry or report why nothing can be served.

use medico24_kernel::Clock;

use crate::model::{CachedConditions, ConditionsReport, GridPoint};
use crate::policy::{Freshness, FreshnessPolicy};
use crate::ports::{ConditionsCache, ConditionsProvider, ProviderError};

/// Why a lookup produced no conditions: the provider failed and no servable entry exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConditionsError {
    /// The provider timed out or could not be reached (→ 503).
    #[error("environment provider unreachable: {0}")]
    ProviderUnreachable(ProviderError),
    /// The provider answered with an error status or an unusable body (→ 502).
    #[error("environment provider failed: {0}")]
    ProviderFailed(ProviderError),
}

impl From<ProviderError> for ConditionsError {
    fn from(error: ProviderError) -> Self {
        if error.is_unreachable() {
            ConditionsError::ProviderUnreachable(error)
        } else {
            ConditionsError::ProviderFailed(error)
        }
    }
}

/// The environment use cases over their ports.
///
/// Not single-flight by itself: concurrent lookups of one point each consult the cache and may
/// each call the provider. The server wraps [`EnvironmentService::conditions`] in a per-point
/// single flight (it needs a runtime primitive, which this crate does not use).
pub struct EnvironmentService<P, C, K> {
    provider: P,
    cache: C,
    clock: K,
    policy: FreshnessPolicy,
}

impl<P, C, K> EnvironmentService<P, C, K>
where
    P: ConditionsProvider,
    C: ConditionsCache,
    K: Clock,
{
    /// Wires the service.
    pub fn new(provider: P, cache: C, clock: K, policy: FreshnessPolicy) -> Self {
        Self {
            provider,
            cache,
            clock,
            policy,
        }
    }

    /// Current conditions at `point`.
    ///
    /// 1. A cached entry younger than the fresh period is returned as is (`stale: false`).
    /// 2. Otherwise the provider is asked; a missing `observed_at` becomes the fetch time. The
    ///    answer is stored with `fetched_at` = now and returned (`stale: false`).
    /// 3. When the provider fails, a cached entry within the stale period is returned with
    ///    `stale: true`.
    ///
    /// # Errors
    /// Without a servable entry: [`ConditionsError::ProviderUnreachable`] for a timeout or
    /// connection failure, [`ConditionsError::ProviderFailed`] for an error status or a body
    /// missing a required field.
    pub async fn conditions(&self, point: GridPoint) -> Result<ConditionsReport, ConditionsError> {
        let cached = self.cache.get(point).await;
        let freshness = cached
            .as_ref()
            .map(|entry| self.policy.classify(entry.fetched_at, self.clock.now()));
        if let (Some(entry), Some(Freshness::Fresh)) = (&cached, freshness) {
            return Ok(ConditionsReport {
                conditions: entry.data.clone(),
                stale: false,
            });
        }

        match self.provider.current(point).await {
            Ok(mut conditions) => {
                let fetched_at = self.clock.now();
                conditions.observed_at.get_or_insert(fetched_at);
                let entry = CachedConditions {
                    data: conditions,
                    fetched_at,
                };
                self.cache.put(point, &entry).await;
                Ok(ConditionsReport {
                    conditions: entry.data,
                    stale: false,
                })
            }
            Err(error) => {
                // Re-judge the entry now: the failed fetch may have taken a while.
                let servable = cached.filter(|entry| {
                    self.policy.classify(entry.fetched_at, self.clock.now()) != Freshness::Expired
                });
                match servable {
                    Some(entry) => {
                        tracing::warn!(point = %point, reason = %error, "environment provider failed; serving a stale entry");
                        Ok(ConditionsReport {
                            conditions: entry.data,
                            stale: true,
                        })
                    }
                    None => Err(error.into()),
                }
            }
        }
    }
}
