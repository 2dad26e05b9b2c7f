//! `GoogleConditions`: the `ConditionsProvider` port over Google's Air Quality
//! (`currentConditions:lookup`, POST) and Weather (`currentConditions:lookup`, GET) APIs, called
//! concurrently, each bounded by the configured timeout and reported to an observer.
//!
//! The API key travels as the `key` query parameter, so every URL we build contains it. Nothing
//! here ever formats a URL or a `reqwest::Error` (whose text includes the URL): failures are
//! mapped to [`ProviderError`] variants that carry no upstream text.

use std::sync::Arc;
use std::time::{Duration, Instant};

use medico24_environment::{Conditions, ConditionsProvider, GridPoint, ProviderError};
use reqwest::Url;
use serde_json::json;

use crate::parse::{parse_air_quality, parse_weather};

/// Google's Air Quality current-conditions endpoint (`GOOGLE_AIR_QUALITY_URL` default).
pub const DEFAULT_AIR_QUALITY_URL: &str =
    "https://airquality.googleapis.com/v1/currentConditions:lookup";
/// Google's Weather current-conditions endpoint (`GOOGLE_WEATHER_URL` default).
pub const DEFAULT_WEATHER_URL: &str = "https://weather.googleapis.com/v1/currentConditions:lookup";
/// `service` label of Air Quality calls.
pub const SERVICE_AIR_QUALITY: &str = "google_air_quality";
/// `service` label of Weather calls.
pub const SERVICE_WEATHER: &str = "google_weather";
/// Upper bound on one answer (Google's are a few kilobytes).
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How one outbound call ended (`outcome` label of
/// `medico24_external_request_duration_seconds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A 2xx answer with a usable body.
    Success,
    /// Connection failure, non-2xx status or an unusable body.
    Error,
    /// No complete answer within the timeout.
    Timeout,
}

impl Outcome {
    /// The `outcome` label value.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Error => "error",
            Outcome::Timeout => "timeout",
        }
    }
}

/// Called once per outbound call with its `service` label ([`SERVICE_AIR_QUALITY`] or
/// [`SERVICE_WEATHER`]), its outcome and its wall-clock duration.
pub type CallObserver = Arc<dyn Fn(&'static str, Outcome, Duration) + Send + Sync>;

/// Settings of [`GoogleConditions`].
#[derive(Clone)]
pub struct GoogleConfig {
    /// `GOOGLE_MAPS_API_KEY` (non-empty).
    pub api_key: String,
    /// `GOOGLE_AIR_QUALITY_URL`.
    pub air_quality_url: String,
    /// `GOOGLE_WEATHER_URL`.
    pub weather_url: String,
    /// Bound on each call, connection and body included (10 s by default).
    pub timeout: Duration,
}

impl GoogleConfig {
    /// Settings with Google's URLs and the 10 s timeout.
    pub fn new(api_key: impl Into<String>) -> Self {
        Self {
            api_key: api_key.into(),
            air_quality_url: DEFAULT_AIR_QUALITY_URL.to_owned(),
            weather_url: DEFAULT_WEATHER_URL.to_owned(),
            timeout: Duration::from_secs(10),
        }
    }
}

impl std::fmt::Debug for GoogleConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleConfig")
            .field("api_key", &"***")
            .field("air_quality_url", &self.air_quality_url)
            .field("weather_url", &self.weather_url)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A configured URL is not an absolute `http(s)` URL; names the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not an absolute http(s) URL")]
pub struct InvalidUrl(pub &'static str);

/// Current conditions from Google; cheap to clone.
#[derive(Clone)]
pub struct GoogleConditions {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    api_key: String,
    air_quality_url: Url,
    weather_url: Url,
    timeout: Duration,
    observer: Option<CallObserver>,
}

impl std::fmt::Debug for GoogleConditions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleConditions")
            .field("air_quality_url", &self.inner.air_quality_url.as_str())
            .field("weather_url", &self.inner.weather_url.as_str())
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

/// Why one call failed (logged with the service name; never contains the URL).
#[derive(Debug, Clone, Copy)]
struct CallFailure(ProviderError);

impl GoogleConditions {
    /// A provider calling Google with `http` (the process's shared client) and reporting every
    /// call to `observer` (the server records
    /// `medico24_external_request_duration_seconds{service,outcome}`).
    ///
    /// # Errors
    /// [`InvalidUrl`] naming `GOOGLE_AIR_QUALITY_URL` or `GOOGLE_WEATHER_URL`.
    pub fn new(
        config: GoogleConfig,
        http: reqwest::Client,
        observer: Option<CallObserver>,
    ) -> Result<Self, InvalidUrl> {
        let air_quality_url =
            absolute_url(&config.air_quality_url).ok_or(InvalidUrl("GOOGLE_AIR_QUALITY_URL"))?;
        let weather_url =
            absolute_url(&config.weather_url).ok_or(InvalidUrl("GOOGLE_WEATHER_URL"))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                api_key: config.api_key,
                air_quality_url,
                weather_url,
                timeout: config.timeout,
                observer,
            }),
        })
    }

    /// `POST {air_quality_url}?key=…` with the point as JSON.
    fn air_quality_request(&self, point: GridPoint) -> reqwest::RequestBuilder {
        let inner = &*self.inner;
        let mut url = inner.air_quality_url.clone();
        url.query_pairs_mut().append_pair("key", &inner.api_key);
        let body =
            json!({"location": {"latitude": point.latitude(), "longitude": point.longitude()}});
        inner.http.post(url).json(&body).timeout(inner.timeout)
    }

    /// `GET {weather_url}?key=…&location.latitude=…&location.longitude=…&unitsSystem=METRIC`.
    fn weather_request(&self, point: GridPoint) -> reqwest::RequestBuilder {
        let inner = &*self.inner;
        let mut url = inner.weather_url.clone();
        url.query_pairs_mut()
            .append_pair("key", &inner.api_key)
            .append_pair("location.latitude", &point.latitude().to_string())
            .append_pair("location.longitude", &point.longitude().to_string())
            .append_pair("unitsSystem", "METRIC");
        inner.http.get(url).timeout(inner.timeout)
    }

    /// Sends `request`, reads a 2xx body and parses it with `parse`, all within the timeout;
    /// reports the call to the observer and logs a failure once, by kind.
    async fn call<T>(
        &self,
        service: &'static str,
        request: reqwest::RequestBuilder,
        parse: fn(&[u8]) -> Result<T, ProviderError>,
    ) -> Result<T, ProviderError> {
        let started = Instant::now();
        let attempt = async {
            let body = send_and_read(request).await?;
            parse(&body).map_err(CallFailure)
        };
        let result = match tokio::time::timeout(self.inner.timeout, attempt).await {
            Ok(result) => result,
            Err(_elapsed) => Err(CallFailure(ProviderError::Timeout)),
        };
        let outcome = match &result {
            Ok(_) => Outcome::Success,
            Err(CallFailure(ProviderError::Timeout)) => Outcome::Timeout,
            Err(_) => Outcome::Error,
        };
        if let Some(observer) = &self.inner.observer {
            observer(service, outcome, started.elapsed());
        }
        result.map_err(|CallFailure(error)| {
            tracing::warn!(service, reason = %error, "google conditions call failed");
            error
        })
    }
}

impl ConditionsProvider for GoogleConditions {
    async fn current(&self, point: GridPoint) -> Result<Conditions, ProviderError> {
        let (air, weather) = tokio::join!(
            self.call(
                SERVICE_AIR_QUALITY,
                self.air_quality_request(point),
                parse_air_quality
            ),
            self.call(SERVICE_WEATHER, self.weather_request(point), parse_weather),
        );
        // Both must succeed; when both fail, the Air Quality failure is reported.
        let air = air?;
        let weather = weather?;
        Ok(Conditions {
            aqi: air.aqi,
            aqi_category: air.category,
            temperature: weather.temperature,
            condition: weather.condition,
            humidity: weather.humidity,
            dominant_pollutant: air.dominant_pollutant,
            // Else the fetch time, filled in by the service from its clock.
            observed_at: weather.current_time.or(air.date_time),
        })
    }
}

/// Sends the request and collects a 2xx body of at most [`MAX_BODY_BYTES`].
async fn send_and_read(request: reqwest::RequestBuilder) -> Result<Vec<u8>, CallFailure> {
    let mut response = request.send().await.map_err(transport_failure)?;
    let status = response.status();
    if !status.is_success() {
        return Err(CallFailure(ProviderError::UpstreamStatus(status.as_u16())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport_failure)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(CallFailure(ProviderError::BadBody("answer too large")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A transport error as a variant; the error itself (which names the URL, key included) is
/// dropped here.
fn transport_failure(error: reqwest::Error) -> CallFailure {
    CallFailure(if error.is_timeout() {
        ProviderError::Timeout
    } else {
        ProviderError::Network
    })
}

fn absolute_url(text: &str) -> Option<Url> {
    Url::parse(text)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
}
