//! Hooks through which the caches report their outcomes, so the server can count them in
//! `medico24_cache_requests_total{cache,result}` without this crate depending on Prometheus.

use std::sync::Arc;

/// Called once per cache read (`hit`, `miss` or `error`) and once per failed write or
/// invalidation (`error`), with the cache's name (`user`, `pharmacy`, …) first and the result
/// second. Shared by every Redis cache.
pub type CacheObserver = Arc<dyn Fn(&'static str, &'static str) + Send + Sync>;

/// `result` label of a read that found a usable value.
pub const RESULT_HIT: &str = "hit";
/// `result` label of a read that found nothing.
pub const RESULT_MISS: &str = "miss";
/// `result` label of a failed call or an unreadable cached value.
pub const RESULT_ERROR: &str = "error";

/// Reports `result` for `cache` to `observer`, when there is one.
pub(crate) fn report(observer: Option<&CacheObserver>, cache: &'static str, result: &'static str) {
    if let Some(observer) = observer {
        observer(cache, result);
    }
}
