//! The in-process cache of Google's x509 certificate set that signs Firebase ID tokens:
//! fetched on first use, kept for the response's `Cache-Control: max-age`, refreshed on expiry
//! and (at most once a minute) for an unknown `kid`; concurrent refreshes share one fetch.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use jsonwebtoken::DecodingKey;
use medico24_identity::IdTokenError;
use medico24_kernel::Clock;
use reqwest::header::{CACHE_CONTROL, HeaderMap};

use crate::outcome::{FetchObserver, Outcome};

/// Cache lifetime when the response carries no usable `max-age`.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);
/// Minimum time between two fetches triggered by an unknown `kid` while the set is fresh.
const UNKNOWN_KID_REFRESH_INTERVAL: chrono::TimeDelta = chrono::TimeDelta::seconds(60);
/// After a failed refresh, an expired set keeps being served this long before the next attempt,
/// so an outage of Google's endpoint does not make every login wait for a timeout.
const FAILED_REFRESH_BACKOFF: chrono::TimeDelta = chrono::TimeDelta::seconds(30);
/// Upper bound on the certificate document (Google's is a few kilobytes).
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// One fetched certificate set with its public keys parsed once.
pub(crate) struct CertSet {
    keys: HashMap<String, DecodingKey>,
    expires_at: DateTime<Utc>,
}

impl CertSet {
    /// The public key of the certificate named `kid`.
    pub(crate) fn key(&self, kid: &str) -> Option<&DecodingKey> {
        self.keys.get(kid)
    }
}

/// When the last fetch was attempted and whether it produced a set.
#[derive(Clone, Copy)]
struct Attempt {
    at: DateTime<Utc>,
    succeeded: bool,
}

#[derive(Default)]
struct CacheState {
    set: Option<Arc<CertSet>>,
    last_attempt: Option<Attempt>,
}

/// Why a fetch produced no set; only the reason is logged.
#[derive(Debug, thiserror::Error)]
enum FetchFailure {
    #[error("timed out")]
    Timeout,
    #[error("request failed")]
    Network,
    #[error("unexpected status {0}")]
    Status(u16),
    #[error("response body too large")]
    TooLarge,
    #[error("response is not a JSON object of PEM strings")]
    BadJson,
    #[error("no certificate in the response could be parsed")]
    NoUsableCertificate,
}

impl FetchFailure {
    fn outcome(&self) -> Outcome {
        match self {
            FetchFailure::Timeout => Outcome::Timeout,
            _ => Outcome::Error,
        }
    }
}

/// The certificate cache shared by every verification in the process.
pub(crate) struct CertCache {
    url: String,
    timeout: Duration,
    http: reqwest::Client,
    observer: Option<FetchObserver>,
    state: RwLock<CacheState>,
    /// Completed fetch attempts (successful or not); lets tasks that queued behind a refresh
    /// reuse its result instead of fetching again.
    attempts: AtomicU64,
    /// Held for the duration of a fetch: at most one in flight.
    refresh: tokio::sync::Mutex<()>,
}

impl CertCache {
    pub(crate) fn new(
        url: String,
        timeout: Duration,
        http: reqwest::Client,
        observer: Option<FetchObserver>,
    ) -> Self {
        Self {
            url,
            timeout,
            http,
            observer,
            state: RwLock::new(CacheState::default()),
            attempts: AtomicU64::new(0),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    /// A certificate set to look `kid` up in, fetching or refreshing it when it has expired or
    /// (at most once a minute) does not hold `kid`. The caller treats a missing `kid` in the
    /// returned set as an invalid token.
    ///
    /// # Errors
    /// [`IdTokenError::CertificatesUnavailable`] when no set is cached and fetching one fails.
    pub(crate) async fn set_for(
        &self,
        kid: &str,
        clock: &impl Clock,
    ) -> Result<Arc<CertSet>, IdTokenError> {
        // Read the attempt counter before the state: if it has moved by the time we hold the
        // refresh lock, someone else fetched after we looked and we use their result.
        let seen_attempts = self.attempts.load(Ordering::Acquire);
        if let Some(set) = self.usable_without_fetch(kid, clock.now()) {
            return Ok(set);
        }

        let _refreshing = self.refresh.lock().await;
        if self.attempts.load(Ordering::Acquire) != seen_attempts {
            return self.current().ok_or(IdTokenError::CertificatesUnavailable);
        }

        let now = clock.now();
        let fetched = self.fetch(now).await;
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        state.last_attempt = Some(Attempt {
            at: now,
            succeeded: fetched.is_ok(),
        });
        let result = match fetched {
            Ok(set) => {
                let set = Arc::new(set);
                state.set = Some(Arc::clone(&set));
                Ok(set)
            }
            Err(failure) => match &state.set {
                Some(previous) => {
                    tracing::warn!(reason = %failure, "firebase certificate refresh failed; keeping the previous set");
                    Ok(Arc::clone(previous))
                }
                None => {
                    tracing::warn!(reason = %failure, "firebase certificate fetch failed; no certificate set available");
                    Err(IdTokenError::CertificatesUnavailable)
                }
            },
        };
        drop(state);
        self.attempts.fetch_add(1, Ordering::Release);
        result
    }

    fn current(&self) -> Option<Arc<CertSet>> {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .set
            .clone()
    }

    /// The cached set when no fetch is due for `kid` at `now`.
    fn usable_without_fetch(&self, kid: &str, now: DateTime<Utc>) -> Option<Arc<CertSet>> {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        let set = state.set.as_ref()?;
        let attempted_within = |window: chrono::TimeDelta, failed_only: bool| {
            state
                .last_attempt
                .is_some_and(|a| (!failed_only || !a.succeeded) && now - a.at < window)
        };
        let use_cached = if now >= set.expires_at {
            // Expired: refresh, unless a refresh just failed (then serve the old set a while).
            attempted_within(FAILED_REFRESH_BACKOFF, true)
        } else if set.keys.contains_key(kid) {
            true
        } else {
            // Fresh but the kid is unknown: keys may have rotated; look again at most once a minute.
            attempted_within(UNKNOWN_KID_REFRESH_INTERVAL, false)
        };
        use_cached.then(|| Arc::clone(set))
    }

    /// One GET of the certificate URL, reported to the observer.
    async fn fetch(&self, now: DateTime<Utc>) -> Result<CertSet, FetchFailure> {
        let started = Instant::now();
        let result = match tokio::time::timeout(self.timeout, self.fetch_unobserved(now)).await {
            Ok(result) => result,
            Err(_elapsed) => Err(FetchFailure::Timeout),
        };
        if let Some(observer) = &self.observer {
            let outcome = result
                .as_ref()
                .map_or_else(FetchFailure::outcome, |_| Outcome::Success);
            observer(outcome, started.elapsed());
        }
        result
    }

    async fn fetch_unobserved(&self, now: DateTime<Utc>) -> Result<CertSet, FetchFailure> {
        let mut response = self
            .http
            .get(&self.url)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(request_failure)?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(FetchFailure::Status(response.status().as_u16()));
        }
        let max_age = max_age(response.headers()).unwrap_or(DEFAULT_MAX_AGE);

        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(request_failure)? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(FetchFailure::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let pems: HashMap<String, String> =
            serde_json::from_slice(&body).map_err(|_| FetchFailure::BadJson)?;

        let mut keys = HashMap::with_capacity(pems.len());
        let mut skipped = 0_usize;
        for (kid, pem) in pems {
            match DecodingKey::from_rsa_pem(pem.as_bytes()) {
                Ok(key) => {
                    keys.insert(kid, key);
                }
                Err(_) => skipped += 1,
            }
        }
        if skipped > 0 {
            tracing::warn!(
                skipped,
                "firebase certificate set contains certificates that could not be parsed"
            );
        }
        if keys.is_empty() {
            return Err(FetchFailure::NoUsableCertificate);
        }

        let expires_at = chrono::TimeDelta::from_std(max_age)
            .ok()
            .and_then(|age| now.checked_add_signed(age))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        tracing::debug!(
            certificates = keys.len(),
            max_age_s = max_age.as_secs(),
            "firebase certificate set fetched"
        );
        Ok(CertSet { keys, expires_at })
    }
}

fn request_failure(error: reqwest::Error) -> FetchFailure {
    if error.is_timeout() {
        FetchFailure::Timeout
    } else {
        FetchFailure::Network
    }
}

/// The `max-age` directive of the `Cache-Control` header(s), when present and numeric.
fn max_age(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|directive| {
            let (name, value) = directive.split_once('=')?;
            if !name.trim().eq_ignore_ascii_case("max-age") {
                return None;
            }
            value.trim().trim_matches('"').parse::<u64>().ok()
        })
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(CACHE_CONTROL, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(
            max_age(&headers(&[
                "public, max-age=19302, must-revalidate, no-transform"
            ])),
            Some(Duration::from_secs(19302))
        );
        assert_eq!(
            max_age(&headers(&["Max-Age = 60"])),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            max_age(&headers(&["public", "max-age=\"7\""])),
            Some(Duration::from_secs(7))
        );
    }

    #[test]
    fn max_age_is_absent_without_a_numeric_directive() {
        assert_eq!(max_age(&headers(&[])), None);
        assert_eq!(max_age(&headers(&["no-cache"])), None);
        assert_eq!(max_age(&headers(&["max-age=soon"])), None);
        assert_eq!(max_age(&headers(&["s-maxage=60"])), None);
    }
}
