//! Tests of `GoogleConditions` against wiremock servers speaking the Air Quality and Weather
//! protocols: the requests sent, the mapping of answers, failures and timeouts, the observer,
//! and the API key never leaking into errors.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use medico24_environment::{ConditionsProvider, GridPoint, ProviderError};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{CallObserver, GoogleConditions, GoogleConfig, Outcome};

const KEY: &str = "AIza-test-key-do-not-leak";
const AQ_PATH: &str = "/v1/currentConditions:lookup";
const WEATHER_PATH: &str = "/weather/v1/currentConditions:lookup";

fn air_quality_body() -> Value {
    json!({
        "dateTime": "2026-02-15T09:00:00Z",
        "regionCode": "in",
        "indexes": [{"code": "uaqi", "displayName": "Universal AQI", "aqi": 61,
                     "category": "Moderate air quality", "dominantPollutant": "pm25"}]
    })
}

fn weather_body() -> Value {
    json!({
        "currentTime": "2026-02-15T09:05:00.250Z",
        "weatherCondition": {"description": {"text": "Partly cloudy", "languageCode": "en"}},
        "temperature": {"degrees": 29.4, "unit": "CELSIUS"},
        "relativeHumidity": 74
    })
}

type Calls = Arc<Mutex<Vec<(&'static str, Outcome)>>>;

struct Harness {
    server: MockServer,
    provider: GoogleConditions,
    calls: Calls,
}

async fn harness(timeout: Duration) -> Harness {
    let server = MockServer::start().await;
    let calls: Calls = Arc::default();
    let recorded = Arc::clone(&calls);
    let observer: CallObserver = Arc::new(move |service, outcome, _elapsed| {
        recorded.lock().unwrap().push((service, outcome));
    });
    let config = GoogleConfig {
        api_key: KEY.to_owned(),
        air_quality_url: format!("{}{AQ_PATH}", server.uri()),
        weather_url: format!("{}{WEATHER_PATH}", server.uri()),
        timeout,
    };
    let provider = GoogleConditions::new(config, reqwest::Client::new(), Some(observer)).unwrap();
    Harness {
        server,
        provider,
        calls,
    }
}

impl Harness {
    async fn mount_air_quality(&self, response: ResponseTemplate) {
        Mock::given(method("POST"))
            .and(path(AQ_PATH))
            .respond_with(response)
            .mount(&self.server)
            .await;
    }

    async fn mount_weather(&self, response: ResponseTemplate) {
        Mock::given(method("GET"))
            .and(path(WEATHER_PATH))
            .respond_with(response)
            .mount(&self.server)
            .await;
    }

    fn outcomes(&self) -> Vec<(&'static str, Outcome)> {
        let mut calls = self.calls.lock().unwrap().clone();
        calls.sort_by_key(|(service, _)| *service);
        calls
    }
}

fn point() -> GridPoint {
    GridPoint::round(19.0760, -72.8777).unwrap()
}

#[tokio::test]
async fn both_lookups_are_sent_with_the_key_and_the_rounded_point_and_merged() {
    let h = harness(Duration::from_secs(5)).await;
    Mock::given(method("POST"))
        .and(path(AQ_PATH))
        .and(query_param("key", KEY))
        .and(body_json(
            json!({"location": {"latitude": 19.076, "longitude": -72.878}}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(air_quality_body()))
        .expect(1)
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path(WEATHER_PATH))
        .and(query_param("key", KEY))
        .and(query_param("location.latitude", "19.076"))
        .and(query_param("location.longitude", "-72.878"))
        .and(query_param("unitsSystem", "METRIC"))
        .respond_with(ResponseTemplate::new(200).set_body_json(weather_body()))
        .expect(1)
        .mount(&h.server)
        .await;

    let conditions = h.provider.current(point()).await.unwrap();
    assert_eq!(conditions.aqi, 61);
    assert_eq!(conditions.aqi_category, "Moderate air quality");
    assert_eq!(conditions.temperature, 29.4);
    assert_eq!(conditions.condition, "Partly cloudy");
    assert_eq!(conditions.humidity, Some(74.0));
    assert_eq!(conditions.dominant_pollutant.as_deref(), Some("pm25"));
    // The Weather time wins over the Air Quality one.
    assert_eq!(
        conditions.observed_at,
        Some(
            Utc.with_ymd_and_hms(2026, 2, 15, 9, 5, 0).unwrap()
                + chrono::TimeDelta::milliseconds(250)
        )
    );
    assert_eq!(
        h.outcomes(),
        vec![
            ("google_air_quality", Outcome::Success),
            ("google_weather", Outcome::Success)
        ]
    );
}

#[tokio::test]
async fn the_air_quality_time_is_used_when_the_weather_has_none_and_optional_fields_may_be_absent()
{
    let h = harness(Duration::from_secs(5)).await;
    h.mount_air_quality(ResponseTemplate::new(200).set_body_json(json!({
        "dateTime": "2026-02-15T14:30:00+05:30",
        "indexes": [{"aqi": 20, "category": "Good air quality"}]
    })))
    .await;
    h.mount_weather(ResponseTemplate::new(200).set_body_json(json!({
        "weatherCondition": {"description": {"text": "Clear"}},
        "temperature": {"degrees": 18}
    })))
    .await;
    let conditions = h.provider.current(point()).await.unwrap();
    assert_eq!(conditions.humidity, None);
    assert_eq!(conditions.dominant_pollutant, None);
    assert_eq!(conditions.temperature, 18.0);
    assert_eq!(
        conditions.observed_at,
        Utc.with_ymd_and_hms(2026, 2, 15, 9, 0, 0).single()
    );
}

#[tokio::test]
async fn no_time_in_either_answer_leaves_the_observation_time_to_the_service() {
    let h = harness(Duration::from_secs(5)).await;
    h.mount_air_quality(
        ResponseTemplate::new(200)
            .set_body_json(json!({"indexes": [{"aqi": 20, "category": "Good air quality"}]})),
    )
    .await;
    h.mount_weather(ResponseTemplate::new(200).set_body_json(json!({
        "weatherCondition": {"description": {"text": "Clear"}},
        "temperature": {"degrees": 18.5}
    })))
    .await;
    let conditions = h.provider.current(point()).await.unwrap();
    assert_eq!(conditions.observed_at, None);
}

#[tokio::test]
async fn a_missing_required_field_is_an_unusable_answer() {
    let h = harness(Duration::from_secs(5)).await;
    h.mount_air_quality(ResponseTemplate::new(200).set_body_json(air_quality_body()))
        .await;
    h.mount_weather(ResponseTemplate::new(200).set_body_json(json!({
        "weatherCondition": {"description": {"text": "Clear"}}
    })))
    .await;
    let error = h.provider.current(point()).await.unwrap_err();
    assert_eq!(error, ProviderError::BadBody("temperature.degrees missing"));
    assert_eq!(
        h.outcomes(),
        vec![
            ("google_air_quality", Outcome::Success),
            ("google_weather", Outcome::Error)
        ]
    );
}

#[tokio::test]
async fn a_non_2xx_answer_is_an_upstream_status_and_hides_the_body() {
    let h = harness(Duration::from_secs(5)).await;
    h.mount_air_quality(
        ResponseTemplate::new(500).set_body_string(format!("internal error for key={KEY}")),
    )
    .await;
    h.mount_weather(ResponseTemplate::new(200).set_body_json(weather_body()))
        .await;
    let error = h.provider.current(point()).await.unwrap_err();
    assert_eq!(error, ProviderError::UpstreamStatus(500));
    assert!(!format!("{error} {error:?}").contains(KEY));
    assert_eq!(
        h.outcomes(),
        vec![
            ("google_air_quality", Outcome::Error),
            ("google_weather", Outcome::Success)
        ]
    );
}

#[tokio::test]
async fn a_slow_answer_times_out() {
    let h = harness(Duration::from_millis(200)).await;
    h.mount_air_quality(ResponseTemplate::new(200).set_body_json(air_quality_body()))
        .await;
    h.mount_weather(
        ResponseTemplate::new(200)
            .set_body_json(weather_body())
            .set_delay(Duration::from_secs(5)),
    )
    .await;
    let error = h.provider.current(point()).await.unwrap_err();
    assert_eq!(error, ProviderError::Timeout);
    assert!(error.is_unreachable());
    assert_eq!(
        h.outcomes(),
        vec![
            ("google_air_quality", Outcome::Success),
            ("google_weather", Outcome::Timeout)
        ]
    );
}

#[tokio::test]
async fn an_unreachable_provider_is_a_network_failure_without_the_url() {
    // A port nothing listens on: bind one, then free it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let config = GoogleConfig {
        api_key: KEY.to_owned(),
        air_quality_url: format!("http://127.0.0.1:{port}{AQ_PATH}"),
        weather_url: format!("http://127.0.0.1:{port}{WEATHER_PATH}"),
        timeout: Duration::from_secs(5),
    };
    let provider = GoogleConditions::new(config.clone(), reqwest::Client::new(), None).unwrap();
    let error = provider.current(point()).await.unwrap_err();
    assert_eq!(error, ProviderError::Network);
    assert!(!format!("{error} {error:?} {config:?} {provider:?}").contains(KEY));
}

#[test]
fn configured_urls_must_be_absolute_http_urls() {
    let mut config = GoogleConfig::new(KEY);
    config.weather_url = "weather.googleapis.com/v1".to_owned();
    let error = GoogleConditions::new(config, reqwest::Client::new(), None).unwrap_err();
    assert_eq!(
        error.to_string(),
        "GOOGLE_WEATHER_URL is not an absolute http(s) URL"
    );
}
