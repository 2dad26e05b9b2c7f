//! `FcmPushSender`: the notifications domain's `PushSender` over FCM HTTP v1,
//! spoken directly with reqwest (see `docs/adr/0005-fcm-http-v1-direct.md`): the exact message
//! body, error classification from `FcmError` details, retries with jittered exponential backoff
//! or `Retry-After`, one token refresh on 401, and at most `FCM_CONCURRENCY` requests in flight.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use medico24_kernel::Clock;
use medico24_notifications::{PushMessage, PushOutcome, PushResult, PushSender, token_tail};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;

use crate::oauth::{CallObserver, DEFAULT_TOKEN_URL, FCM_SCOPE, ServiceAccount, TokenSource};
use crate::outcome::Outcome;

/// `FCM_BASE_URL` default.
pub const DEFAULT_FCM_BASE_URL: &str = "https://fcm.googleapis.com";
/// Android notification channel of the Flutter client (the channel the app creates).
pub const ANDROID_CHANNEL: &str = "medico24_notifications";
/// Upper bound on an FCM answer we read.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest FCM error message kept in a failure reason.
const MAX_MESSAGE_CHARS: usize = 300;
/// Largest wait between two attempts, at a backoff base of one second.
const MAX_DELAY_AT_UNIT_BASE: Duration = Duration::from_secs(30);

/// Settings of [`FcmPushSender`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FcmConfig {
    /// `FCM_BASE_URL`, without a trailing slash.
    pub base_url: String,
    /// `GOOGLE_OAUTH_TOKEN_URL`; else the account's `token_uri`; else Google's.
    pub token_url: Option<String>,
    /// `FCM_CONCURRENCY`: requests in flight per process.
    pub concurrency: usize,
    /// `FCM_MAX_RETRIES`: retries of a retryable failure.
    pub max_retries: u32,
    /// Timeout of one request (10 s for every outbound call).
    pub request_timeout: Duration,
    /// First backoff delay (1 s in production). Every retry delay scales with it: retry `n`
    /// waits `base × 2ⁿ ± 20 %`, a `Retry-After` of `s` seconds counts as `s × base`, and the cap
    /// is `30 × base`; tests use a millisecond base so nothing waits for seconds.
    pub backoff_base: Duration,
}

impl FcmConfig {
    /// The production settings for `base_url` (`FCM_CONCURRENCY` 16, `FCM_MAX_RETRIES` 3).
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            token_url: None,
            concurrency: 16,
            max_retries: 3,
            request_timeout: Duration::from_secs(10),
            backoff_base: Duration::from_secs(1),
        }
    }
}

/// Waits between attempts; injectable so tests record delays instead of sleeping.
pub trait Sleeper: Send + Sync + 'static {
    /// Waits for `duration`.
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send;
}

/// The real wait.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// Sends pushes through FCM HTTP v1; cheap to clone (clones share the token cache and the
/// concurrency limit).
pub struct FcmPushSender<C: Clock, S: Sleeper = TokioSleeper> {
    inner: Arc<Inner<C, S>>,
}

impl<C: Clock, S: Sleeper> Clone for FcmPushSender<C, S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C: Clock, S: Sleeper> std::fmt::Debug for FcmPushSender<C, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FcmPushSender")
            .field("send_url", &self.inner.send_url)
            .finish_non_exhaustive()
    }
}

struct Inner<C, S> {
    send_url: String,
    http: reqwest::Client,
    tokens: TokenSource<C>,
    sleeper: S,
    limit: Semaphore,
    max_retries: u32,
    timeout: Duration,
    backoff_base: Duration,
    observer: Option<CallObserver>,
}

/// How one HTTP attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Attempt {
    Sent(String),
    InvalidToken(String),
    /// FCM refused our OAuth token; carries the cache generation of the token used.
    Unauthorized {
        generation: u64,
        code: String,
        reason: String,
    },
    Retryable {
        code: String,
        reason: String,
        retry_after: Option<Duration>,
    },
    Fatal {
        code: String,
        reason: String,
    },
}

impl<C: Clock, S: Sleeper> FcmPushSender<C, S> {
    /// A sender for `account`, using the process's shared `http` client, reading time from
    /// `clock` (token expiry, `Retry-After` dates), waiting with `sleeper`, and reporting every
    /// FCM and token request to `observer` (`service` = `fcm` or `google_oauth`).
    pub fn new(
        account: ServiceAccount,
        config: FcmConfig,
        http: reqwest::Client,
        clock: C,
        sleeper: S,
        observer: Option<CallObserver>,
    ) -> Self {
        let token_url = config
            .token_url
            .clone()
            .or_else(|| account.token_uri.clone())
            .unwrap_or_else(|| DEFAULT_TOKEN_URL.to_owned());
        let send_url = format!(
            "{}/v1/projects/{}/messages:send",
            config.base_url.trim_end_matches('/'),
            account.project_id
        );
        let tokens = TokenSource::new(
            account,
            token_url,
            FCM_SCOPE,
            http.clone(),
            config.request_timeout,
            clock,
            observer.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                send_url,
                http,
                tokens,
                sleeper,
                limit: Semaphore::new(config.concurrency.max(1)),
                max_retries: config.max_retries,
                timeout: config.request_timeout,
                backoff_base: config.backoff_base,
                observer,
            }),
        }
    }

    /// The URL messages are posted to.
    pub fn send_url(&self) -> &str {
        &self.inner.send_url
    }

    /// Sends one message with the retry rules (bounded retries with jittered
    /// exponential backoff or `Retry-After`, one token refresh on 401).
    pub async fn send(&self, message: &PushMessage) -> PushResult {
        let inner = &*self.inner;
        let body = message_body(message);
        let mut retries = 0_u32;
        let mut refreshed = false;
        loop {
            let attempt = inner.attempt(&body).await;
            let (code, reason, retry_after) = match attempt {
                Attempt::Sent(message_id) => {
                    return PushResult {
                        outcome: PushOutcome::Sent { message_id },
                        retries,
                    };
                }
                Attempt::InvalidToken(code) => {
                    return PushResult {
                        outcome: PushOutcome::InvalidToken { code },
                        retries,
                    };
                }
                Attempt::Unauthorized { generation, .. } if !refreshed => {
                    // Once per message: a fresh OAuth token and an immediate, uncounted retry.
                    refreshed = true;
                    inner.tokens.invalidate(generation);
                    continue;
                }
                Attempt::Unauthorized { code, reason, .. } | Attempt::Fatal { code, reason } => {
                    tracing::warn!(token.tail = token_tail(&message.token), code = %code, "fcm refused a message");
                    return PushResult {
                        outcome: PushOutcome::Failed { code, reason },
                        retries,
                    };
                }
                Attempt::Retryable {
                    code,
                    reason,
                    retry_after,
                } => (code, reason, retry_after),
            };
            if retries >= inner.max_retries {
                tracing::warn!(token.tail = token_tail(&message.token), code = %code, retries, "fcm message failed after retries");
                return PushResult {
                    outcome: PushOutcome::Failed { code, reason },
                    retries,
                };
            }
            let delay = retry_delay(
                retries,
                retry_after,
                inner.backoff_base,
                rand::random_range(0.8..=1.2),
            );
            tracing::debug!(token.tail = token_tail(&message.token), code = %code, delay_ms = delay.as_millis() as u64, "fcm message will be retried");
            inner.sleeper.sleep(delay).await;
            retries += 1;
        }
    }
}

impl<C: Clock, S: Sleeper> Inner<C, S> {
    async fn attempt(&self, body: &Value) -> Attempt {
        let token = match self.tokens.token().await {
            Ok(token) => token,
            Err(error) => {
                return Attempt::Retryable {
                    code: "UNAVAILABLE".to_owned(),
                    reason: format!("UNAVAILABLE: no OAuth2 access token ({error})"),
                    retry_after: None,
                };
            }
        };
        // The semaphore is never closed; a closed one would only lift the limit.
        let _permit = self.limit.acquire().await.ok();
        let started = Instant::now();
        let answer = tokio::time::timeout(self.timeout, self.post(body, &token.value)).await;
        let elapsed = started.elapsed();
        let attempt = match answer {
            Err(_elapsed) => timeout_attempt(),
            Ok(Err(error)) if error.is_timeout() => timeout_attempt(),
            Ok(Err(_)) => Attempt::Retryable {
                code: "network error".to_owned(),
                reason: "network error".to_owned(),
                retry_after: None,
            },
            Ok(Ok((status, headers, bytes))) => {
                let retry_after = retry_after(&headers, self.tokens.clock().now());
                classify(status, &bytes, retry_after, token.generation)
            }
        };
        if let Some(observer) = &self.observer {
            let outcome = match &attempt {
                Attempt::Sent(_) => Outcome::Success,
                Attempt::Retryable { code, .. } if code == "timeout" => Outcome::Timeout,
                _ => Outcome::Error,
            };
            observer("fcm", outcome, elapsed);
        }
        attempt
    }

    async fn post(
        &self,
        body: &Value,
        token: &str,
    ) -> Result<(StatusCode, HeaderMap, Vec<u8>), reqwest::Error> {
        let mut response = self
            .http
            .post(&self.send_url)
            .bearer_auth(token)
            .timeout(self.timeout)
            .json(body)
            .send()
            .await?;
        let status = response.status();
        let headers = response.headers().clone();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if bytes.len() + chunk.len() > MAX_BODY_BYTES {
                break;
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok((status, headers, bytes))
    }
}

impl<C: Clock, S: Sleeper> PushSender for FcmPushSender<C, S> {
    fn is_enabled(&self) -> bool {
        true
    }

    async fn send_all(&self, messages: &[PushMessage]) -> Vec<PushResult> {
        futures_util::future::join_all(messages.iter().map(|message| self.send(message))).await
    }
}

fn timeout_attempt() -> Attempt {
    Attempt::Retryable {
        code: "timeout".to_owned(),
        reason: "timeout".to_owned(),
        retry_after: None,
    }
}

/// The FCM request body, exactly.
pub fn message_body(message: &PushMessage) -> Value {
    let data: Map<String, Value> = message
        .data
        .iter()
        .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
        .collect();
    json!({
        "message": {
            "token": message.token,
            "notification": {"title": message.title, "body": message.body},
            "data": data,
            "android": {
                "priority": "high",
                "notification": {
                    "sound": "default",
                    "notification_priority": "PRIORITY_HIGH",
                    "channel_id": ANDROID_CHANNEL,
                },
            },
            "apns": {
                "headers": {"apns-priority": "10"},
                "payload": {"aps": {"sound": "default", "badge": 1}},
            },
        }
    })
}

/// The error of an FCM answer: its code (`FcmError.errorCode`, else `error.status`), message,
/// and whether a `BadRequest` field violation names `message.token`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FcmErrorBody {
    code: Option<String>,
    message: String,
    token_violation: bool,
}

fn parse_error(bytes: &[u8]) -> Option<FcmErrorBody> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    let error = value.get("error")?.as_object()?;
    let details = error
        .get("details")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let type_is = |detail: &Value, suffix: &str| {
        detail
            .get("@type")
            .and_then(Value::as_str)
            .is_some_and(|t| t == format!("type.googleapis.com/{suffix}"))
    };
    let fcm_code = details
        .iter()
        .filter(|d| type_is(d, "google.firebase.fcm.v1.FcmError"))
        .find_map(|d| d.get("errorCode").and_then(Value::as_str));
    let token_violation = details
        .iter()
        .filter(|d| type_is(d, "google.rpc.BadRequest"))
        .filter_map(|d| d.get("fieldViolations").and_then(Value::as_array))
        .flatten()
        .any(|v| v.get("field").and_then(Value::as_str) == Some("message.token"));
    let code = fcm_code
        .or_else(|| error.get("status").and_then(Value::as_str))
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .chars()
        .take(MAX_MESSAGE_CHARS)
        .collect();
    Some(FcmErrorBody {
        code,
        message,
        token_violation,
    })
}

/// Classifies one FCM answer: sent, invalid token, refused OAuth token, retryable or fatal.
fn classify(
    status: StatusCode,
    bytes: &[u8],
    retry_after: Option<Duration>,
    generation: u64,
) -> Attempt {
    if status.is_success() {
        let name = serde_json::from_slice::<Value>(bytes)
            .ok()
            .and_then(|v| v.get("name").and_then(Value::as_str).map(str::to_owned));
        return match name {
            Some(name) => Attempt::Sent(name),
            None => Attempt::Fatal {
                code: "INVALID_RESPONSE".to_owned(),
                reason: "INVALID_RESPONSE: FCM accepted the message without naming it".to_owned(),
            },
        };
    }
    let error = parse_error(bytes);
    let code = error.as_ref().and_then(|e| e.code.clone());
    let reason = |code: &str| match error.as_ref().map(|e| e.message.as_str()) {
        Some(message) if !message.is_empty() => format!("{code}: {message}"),
        _ => code.to_owned(),
    };
    if status == StatusCode::UNAUTHORIZED {
        let code = code.unwrap_or_else(|| "UNAUTHENTICATED".to_owned());
        return Attempt::Unauthorized {
            generation,
            reason: reason(&code),
            code,
        };
    }
    let token_violation = error.as_ref().is_some_and(|e| e.token_violation);
    match code.as_deref() {
        Some("UNREGISTERED" | "SENDER_ID_MISMATCH") => {
            return Attempt::InvalidToken(code.unwrap_or_default());
        }
        Some("INVALID_ARGUMENT") if token_violation => {
            return Attempt::InvalidToken("INVALID_ARGUMENT".to_owned());
        }
        _ => {}
    }
    let retryable_code = matches!(
        code.as_deref(),
        Some("UNAVAILABLE" | "INTERNAL" | "QUOTA_EXCEEDED")
    );
    let retryable_status = status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS;
    let code = code.unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
    if retryable_code || retryable_status {
        Attempt::Retryable {
            reason: reason(&code),
            code,
            retry_after,
        }
    } else {
        Attempt::Fatal {
            reason: reason(&code),
            code,
        }
    }
}

/// `Retry-After` as a delay from `now`: delta-seconds or an HTTP date.
fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// The wait before retry number `retry + 1`: `base × 2^retry × jitter` (jitter in 0.8–1.2), or
/// `Retry-After` (scaled by `base` per second) when longer, never more than `30 × base`.
fn retry_delay(retry: u32, retry_after: Option<Duration>, base: Duration, jitter: f64) -> Duration {
    let scale = base.as_secs_f64();
    let backoff = base.mul_f64(2_f64.powi(i32::try_from(retry.min(16)).unwrap_or(16)) * jitter);
    let requested = retry_after.map_or(Duration::ZERO, |after| after.mul_f64(scale));
    backoff
        .max(requested)
        .min(MAX_DELAY_AT_UNIT_BASE.mul_f64(scale))
}

#[cfg(test)]
mod tests;
