//! Google OAuth2 access tokens for a service account: the service-account JSON, the
//! RS256-signed JWT-bearer grant posted to a configurable token URL, and an in-process cache that
//! keeps a token until `expires_in − 300 s` and lets concurrent refreshes share one request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use medico24_kernel::Clock;
use serde::{Deserialize, Serialize};

use crate::outcome::Outcome;

/// Google's token endpoint, used when neither `GOOGLE_OAUTH_TOKEN_URL` nor the account's
/// `token_uri` is set.
pub const DEFAULT_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// Scope of FCM HTTP v1.
pub const FCM_SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// A token is used until this long before it expires.
const EXPIRY_MARGIN_SECS: i64 = 300;
/// Lifetime of the signed assertion.
const ASSERTION_LIFETIME_SECS: i64 = 3600;
/// Upper bound on the token endpoint's answer.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Called once per outbound request with the `service` label (`fcm`, `google_oauth`), how it
/// ended and how long it took (`medico24_external_request_duration_seconds`).
pub type CallObserver = Arc<dyn Fn(&'static str, Outcome, Duration) + Send + Sync>;

/// Why a service-account JSON is unusable; never includes the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceAccountError {
    /// Not a JSON object.
    #[error("service account is not a JSON object")]
    Json,
    /// A required field is missing or empty.
    #[error("service account has no {0}")]
    Missing(&'static str),
    /// `private_key` is not a PEM RSA private key.
    #[error("service account private_key is not a PEM RSA private key")]
    InvalidKey,
}

/// The fields of a Google service-account JSON key that FCM sending needs.
#[derive(Clone)]
pub struct ServiceAccount {
    /// Firebase/Google Cloud project.
    pub project_id: String,
    /// `kid` of the assertion.
    pub private_key_id: String,
    /// `iss` of the assertion.
    pub client_email: String,
    /// The account's token endpoint, when given.
    pub token_uri: Option<String>,
    key: EncodingKey,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("project_id", &self.project_id)
            .field("client_email", &self.client_email)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct RawAccount {
    project_id: Option<String>,
    private_key_id: Option<String>,
    private_key: Option<String>,
    client_email: Option<String>,
    token_uri: Option<String>,
}

impl ServiceAccount {
    /// Parses a service-account JSON key (`project_id`, `private_key_id`, `private_key` as a
    /// PKCS#8 PEM, `client_email`, optional `token_uri`).
    ///
    /// # Errors
    /// [`ServiceAccountError`] naming the first problem.
    pub fn from_json(json: &str) -> Result<Self, ServiceAccountError> {
        let raw: RawAccount = serde_json::from_str(json).map_err(|_| ServiceAccountError::Json)?;
        let required = |value: Option<String>, name| {
            value
                .filter(|v| !v.trim().is_empty())
                .ok_or(ServiceAccountError::Missing(name))
        };
        let project_id = required(raw.project_id, "project_id")?;
        let private_key_id = required(raw.private_key_id, "private_key_id")?;
        let private_key = required(raw.private_key, "private_key")?;
        let client_email = required(raw.client_email, "client_email")?;
        let key = EncodingKey::from_rsa_pem(private_key.as_bytes())
            .map_err(|_| ServiceAccountError::InvalidKey)?;
        Ok(Self {
            project_id,
            private_key_id,
            client_email,
            token_uri: raw.token_uri.filter(|u| !u.trim().is_empty()),
            key,
        })
    }
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

/// The signed JWT-bearer assertion (RS256) of the OAuth2 token request.
///
/// # Errors
/// A signing error (not expected with a key that parsed).
pub fn assertion(
    account: &ServiceAccount,
    scope: &str,
    token_url: &str,
    now: DateTime<Utc>,
) -> Result<String, jsonwebtoken::errors::Error> {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(account.private_key_id.clone());
    let iat = now.timestamp();
    let claims = AssertionClaims {
        iss: &account.client_email,
        scope,
        aud: token_url,
        iat,
        exp: iat + ASSERTION_LIFETIME_SECS,
    };
    jsonwebtoken::encode(&header, &claims, &account.key)
}

/// A bearer token and the cache generation it came from (to invalidate exactly it after a 401).
#[derive(Debug, Clone)]
pub(crate) struct AccessToken {
    pub(crate) value: Arc<str>,
    pub(crate) generation: u64,
}

/// Why no token could be had; only the reason is logged.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum TokenError {
    #[error("token request timed out")]
    Timeout,
    #[error("token request failed")]
    Network,
    #[error("token endpoint answered {0}")]
    Status(u16),
    #[error("token response is not usable")]
    BadResponse,
    #[error("assertion could not be signed")]
    Signing,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: i64,
}

struct Cached {
    token: AccessToken,
    expires_at: DateTime<Utc>,
}

/// The process's access token for one service account and scope.
pub(crate) struct TokenSource<C> {
    account: ServiceAccount,
    token_url: String,
    scope: &'static str,
    http: reqwest::Client,
    timeout: Duration,
    clock: C,
    observer: Option<CallObserver>,
    cached: RwLock<Option<Cached>>,
    /// Completed fetch attempts; a task that queued behind a refresh reuses its result.
    attempts: AtomicU64,
    /// Held while fetching: at most one request in flight.
    refresh: tokio::sync::Mutex<()>,
}

impl<C: Clock> TokenSource<C> {
    pub(crate) fn new(
        account: ServiceAccount,
        token_url: String,
        scope: &'static str,
        http: reqwest::Client,
        timeout: Duration,
        clock: C,
        observer: Option<CallObserver>,
    ) -> Self {
        Self {
            account,
            token_url,
            scope,
            http,
            timeout,
            clock,
            observer,
            cached: RwLock::new(None),
            attempts: AtomicU64::new(0),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    pub(crate) fn clock(&self) -> &C {
        &self.clock
    }

    fn fresh(&self) -> Option<AccessToken> {
        let now = self.clock.now();
        self.cached
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|c| now < c.expires_at)
            .map(|c| c.token.clone())
    }

    /// A valid token: the cached one, or one fetched now (shared with concurrent callers).
    pub(crate) async fn token(&self) -> Result<AccessToken, TokenError> {
        let seen = self.attempts.load(Ordering::Acquire);
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        let _refreshing = self.refresh.lock().await;
        if self.attempts.load(Ordering::Acquire) != seen {
            // Someone fetched while we waited: use their result, even a failure.
            return self.fresh().ok_or(TokenError::BadResponse);
        }
        let result = self.fetch().await;
        let outcome = match result {
            Ok((value, expires_in)) => {
                let now = self.clock.now();
                let keep = if expires_in > EXPIRY_MARGIN_SECS {
                    expires_in - EXPIRY_MARGIN_SECS
                } else {
                    expires_in / 2
                };
                let token = AccessToken {
                    value: Arc::from(value),
                    generation: seen + 1,
                };
                *self.cached.write().unwrap_or_else(PoisonError::into_inner) = Some(Cached {
                    token: token.clone(),
                    expires_at: now + chrono::Duration::seconds(keep.max(0)),
                });
                tracing::debug!(valid_for_s = keep, "google oauth access token fetched");
                Ok(token)
            }
            Err(error) => {
                tracing::warn!(reason = %error, "google oauth access token could not be fetched");
                Err(error)
            }
        };
        self.attempts.fetch_add(1, Ordering::Release);
        outcome
    }

    /// Drops the cached token if it is still the one of `generation` (FCM answered 401 to it).
    pub(crate) fn invalidate(&self, generation: u64) {
        let mut cached = self.cached.write().unwrap_or_else(PoisonError::into_inner);
        if cached
            .as_ref()
            .is_some_and(|c| c.token.generation == generation)
        {
            *cached = None;
        }
    }

    async fn fetch(&self) -> Result<(String, i64), TokenError> {
        let started = Instant::now();
        let result = match tokio::time::timeout(self.timeout, self.fetch_unobserved()).await {
            Ok(result) => result,
            Err(_elapsed) => Err(TokenError::Timeout),
        };
        if let Some(observer) = &self.observer {
            let outcome = match &result {
                Ok(_) => Outcome::Success,
                Err(TokenError::Timeout) => Outcome::Timeout,
                Err(_) => Outcome::Error,
            };
            observer("google_oauth", outcome, started.elapsed());
        }
        result
    }

    async fn fetch_unobserved(&self) -> Result<(String, i64), TokenError> {
        let jwt = assertion(&self.account, self.scope, &self.token_url, self.clock.now())
            .map_err(|_| TokenError::Signing)?;
        // The assertion is base64url segments joined by dots: nothing to percent-encode.
        let body = format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={jwt}"
        );
        let mut response = self
            .http
            .post(&self.token_url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .timeout(self.timeout)
            .body(body)
            .send()
            .await
            .map_err(transport)?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(TokenError::Status(response.status().as_u16()));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if bytes.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(TokenError::BadResponse);
            }
            bytes.extend_from_slice(&chunk);
        }
        let parsed: TokenResponse =
            serde_json::from_slice(&bytes).map_err(|_| TokenError::BadResponse)?;
        if parsed.access_token.is_empty() {
            return Err(TokenError::BadResponse);
        }
        Ok((parsed.access_token, parsed.expires_in))
    }
}

fn transport(error: reqwest::Error) -> TokenError {
    if error.is_timeout() {
        TokenError::Timeout
    } else {
        TokenError::Network
    }
}
