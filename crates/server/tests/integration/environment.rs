//! Environment conditions end to end against the fake Google servers: configuration,
//! validation, cache hits, stale serving, single flight, the 502/503 split, Redis outages, grid
//! rounding, metrics, and the API key never reaching a response.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use medico24_testkit::{FakeGoogle, TestApp, spawn_app, spawn_app_with};
use redis::AsyncCommands;
use reqwest::StatusCode;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::support::status_json;

const KEY: &str = "AIza-integration-test-key";
const UNAVAILABLE: &str = "Environmental data currently unavailable";

async fn app_with(extra: &[(&str, &str)]) -> TestApp {
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    spawn_app_with(move |vars: &mut HashMap<String, String>| {
        vars.insert("GOOGLE_MAPS_API_KEY".into(), KEY.into());
        vars.extend(extra);
    })
    .await
}

fn air_quality_body() -> Value {
    json!({
        "dateTime": "2026-02-15T09:00:00Z",
        "regionCode": "in",
        "indexes": [{"code": "uaqi", "aqi": 61, "category": "Moderate air quality",
                     "dominantPollutant": "pm25"}]
    })
}

fn weather_body() -> Value {
    json!({
        "currentTime": "2026-02-15T09:05:00Z",
        "weatherCondition": {"description": {"text": "Partly cloudy", "languageCode": "en"}},
        "temperature": {"degrees": 29.4, "unit": "CELSIUS"},
        "relativeHumidity": 74
    })
}

fn expected_fresh() -> Value {
    json!({"aqi": 61, "aqi_category": "Moderate air quality", "temperature": 29.4,
           "condition": "Partly cloudy", "humidity": 74.0, "dominant_pollutant": "pm25",
           "observed_at": "2026-02-15T09:05:00Z", "stale": false})
}

/// Mounts both lookups answering `air`/`weather`, each expected exactly `times` times.
async fn mount_google(app: &TestApp, air: ResponseTemplate, weather: ResponseTemplate, times: u64) {
    Mock::given(method("POST"))
        .and(path(FakeGoogle::AIR_QUALITY_PATH))
        .and(query_param("key", KEY))
        .respond_with(air)
        .expect(times)
        .mount(&app.google.server)
        .await;
    Mock::given(method("GET"))
        .and(path(FakeGoogle::WEATHER_PATH))
        .and(query_param("key", KEY))
        .and(query_param("unitsSystem", "METRIC"))
        .respond_with(weather)
        .expect(times)
        .mount(&app.google.server)
        .await;
}

async fn mount_healthy_google(app: &TestApp, times: u64) {
    mount_google(
        app,
        ResponseTemplate::new(200).set_body_json(air_quality_body()),
        ResponseTemplate::new(200).set_body_json(weather_body()),
        times,
    )
    .await;
}

/// `GET /environment/conditions?{query}`: status, `Warning` header and JSON body. Every answer
/// is checked not to contain the API key.
async fn conditions(app: &TestApp, query: &str) -> (StatusCode, Option<String>, Value) {
    let response = app
        .get(&format!("/api/v1/environment/conditions?{query}"))
        .await;
    let warning = response
        .headers()
        .get("warning")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = status_json(response).await;
    assert!(!body.to_string().contains(KEY), "key leaked: {body}");
    (status, warning, body)
}

/// Writes a cache entry for `lat3:lng3` as another process would have, fetched `age` ago.
async fn write_entry(app: &TestApp, grid: &str, data: Value, age: TimeDelta) {
    let fetched_at = (Utc::now() - age).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let value = json!({"data": data, "fetched_at": fetched_at}).to_string();
    let mut conn = app.redis.connection().await;
    let _: () = conn
        .set_ex(format!("{}v2:env:{grid}", app.redis.prefix()), value, 7200)
        .await
        .unwrap();
}

fn cached_data() -> Value {
    json!({"aqi": 42, "aqi_category": "Good air quality", "temperature": 21.0,
           "condition": "Clear", "humidity": null, "dominant_pollutant": null,
           "observed_at": "2026-02-15T08:00:00Z"})
}

async fn metrics_text(app: &TestApp) -> String {
    app.get("/metrics").await.text().await.unwrap()
}

/// The value of the sample of `series` carrying every label of `labels`, 0 when absent.
fn sample(metrics: &str, series: &str, labels: &[(&str, &str)]) -> f64 {
    metrics
        .lines()
        .filter_map(|line| line.strip_prefix(series)?.strip_prefix('{'))
        .find_map(|rest| {
            let (label_text, value) = rest.split_once("} ")?;
            labels
                .iter()
                .all(|(k, v)| label_text.split(',').any(|l| l == format!("{k}=\"{v}\"")))
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0.0)
}

fn cache_sample(metrics: &str, result: &str) -> f64 {
    sample(
        metrics,
        "medico24_cache_requests_total",
        &[("cache", "environment"), ("result", result)],
    )
}

fn external_calls(metrics: &str, service: &str, outcome: &str) -> f64 {
    sample(
        metrics,
        "medico24_external_request_duration_seconds_count",
        &[("service", service), ("outcome", outcome)],
    )
}

#[tokio::test]
async fn without_an_api_key_the_endpoint_answers_503_before_looking_at_the_query() {
    let app = spawn_app().await;
    for query in ["lat=19.07&lng=72.87", "", "lat=abc"] {
        let (status, _, body) = conditions(&app, query).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{query}: {body}");
        assert_eq!(body["error"], "service_unavailable");
        assert_eq!(body["message"], "environment provider not configured");
    }
}

#[tokio::test]
async fn missing_malformed_and_out_of_range_coordinates_are_422() {
    let app = app_with(&[]).await;
    let (status, _, body) = conditions(&app, "").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["details"],
        json!([
            {"loc": ["query", "lat"], "msg": "Field required", "type": "missing"},
            {"loc": ["query", "lng"], "msg": "Field required", "type": "missing"}
        ])
    );
    let (status, _, body) = conditions(&app, "lat=north&lng=NaN").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["details"][0]["type"], "float_parsing");
    assert_eq!(body["details"][1]["type"], "float_parsing");
    let (status, _, body) = conditions(&app, "lat=-90.5&lng=180.01").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["details"],
        json!([
            {"loc": ["query", "lat"], "msg": "Input should be greater than or equal to -90", "type": "greater_than_equal"},
            {"loc": ["query", "lng"], "msg": "Input should be less than or equal to 180", "type": "less_than_equal"}
        ])
    );
    let (status, _, _) = conditions(&app, "lat=&lng=1e1").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Nothing was asked of Google.
    assert!(
        app.google
            .server
            .received_requests()
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_fresh_entry_is_served_from_the_cache_without_a_second_upstream_call() {
    let app = app_with(&[]).await;
    mount_healthy_google(&app, 1).await;

    let (status, warning, first) = conditions(&app, "lat=19.0760&lng=72.8777").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(warning, None);
    assert_eq!(first, expected_fresh());

    // Public route: a garbage bearer token changes nothing.
    let response = app
        .client
        .get(app.url("/api/v1/environment/conditions?lat=19.07601&lng=72.87751"))
        .bearer_auth("garbage")
        .send()
        .await
        .unwrap();
    let (status, second) = status_json(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second, first);

    app.google.server.verify().await;
    let mut conn = app.redis.connection().await;
    let stored: String = conn
        .get(format!("{}v2:env:19.076:72.878", app.redis.prefix()))
        .await
        .unwrap();
    let stored: Value = serde_json::from_str(&stored).unwrap();
    let mut data = expected_fresh();
    data.as_object_mut().unwrap().remove("stale");
    assert_eq!(stored["data"], data);
    let ttl: i64 = conn
        .ttl(format!("{}v2:env:19.076:72.878", app.redis.prefix()))
        .await
        .unwrap();
    assert!((7_100..=7_200).contains(&ttl), "TTL {ttl}");

    let metrics = metrics_text(&app).await;
    assert_eq!(
        (
            cache_sample(&metrics, "miss"),
            cache_sample(&metrics, "hit")
        ),
        (1.0, 1.0)
    );
    for service in ["google_air_quality", "google_weather"] {
        assert_eq!(
            external_calls(&metrics, service, "success"),
            1.0,
            "{service}"
        );
    }
}

#[tokio::test]
async fn stale_data_is_served_with_a_warning_when_the_provider_fails() {
    let app = app_with(&[]).await;
    write_entry(&app, "12.345:67.890", cached_data(), TimeDelta::minutes(30)).await;
    mount_google(
        &app,
        ResponseTemplate::new(500).set_body_string(format!("boom key={KEY}")),
        ResponseTemplate::new(200).set_body_json(weather_body()),
        1,
    )
    .await;

    let (status, warning, body) = conditions(&app, "lat=12.345&lng=67.89").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(warning.as_deref(), Some("110 - \"Response is Stale\""));
    let mut expected = cached_data();
    expected["stale"] = json!(true);
    assert_eq!(body, expected);
    app.google.server.verify().await;
    let metrics = metrics_text(&app).await;
    assert_eq!(cache_sample(&metrics, "stale"), 1.0);
}

#[tokio::test]
async fn an_entry_older_than_the_stale_period_is_not_served() {
    let app = app_with(&[]).await;
    write_entry(&app, "12.345:67.890", cached_data(), TimeDelta::hours(3)).await;
    mount_google(
        &app,
        ResponseTemplate::new(503),
        ResponseTemplate::new(503),
        1,
    )
    .await;
    let (status, _, body) = conditions(&app, "lat=12.345&lng=67.890").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["message"], UNAVAILABLE);
}

#[tokio::test]
async fn a_hundred_concurrent_requests_for_one_uncached_point_make_one_upstream_call_of_each_kind()
{
    let app = app_with(&[("RATE_LIMIT_ENVIRONMENT_PER_MINUTE", "100000")]).await;
    // The delay keeps the first lookup in flight while the others arrive; requests arriving
    // after it landed read the fresh entry, so exactly one call of each kind holds either way.
    mount_google(
        &app,
        ResponseTemplate::new(200)
            .set_body_json(air_quality_body())
            .set_delay(Duration::from_millis(300)),
        ResponseTemplate::new(200)
            .set_body_json(weather_body())
            .set_delay(Duration::from_millis(300)),
        1,
    )
    .await;

    let mut requests = tokio::task::JoinSet::new();
    for i in 0..100 {
        let client = app.client.clone();
        // Different spellings of the same grid point.
        let url = app.url(&format!(
            "/api/v1/environment/conditions?lat=19.076{}&lng=72.8777",
            i % 4
        ));
        requests.spawn(async move {
            let response = client.get(url).send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        });
    }
    let mut answered = 0;
    while let Some(result) = requests.join_next().await {
        let (status, body) = result.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, expected_fresh());
        answered += 1;
    }
    assert_eq!(answered, 100);
    app.google.server.verify().await;
}

#[tokio::test]
async fn an_upstream_error_with_nothing_cached_is_a_502_and_nothing_is_stored() {
    let app = app_with(&[]).await;
    mount_google(
        &app,
        ResponseTemplate::new(200).set_body_json(air_quality_body()),
        ResponseTemplate::new(500).set_body_string(format!("upstream said key={KEY}")),
        1,
    )
    .await;
    let (status, _, body) = conditions(&app, "lat=28.6139&lng=77.2090").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"], "bad_gateway");
    assert_eq!(body["message"], UNAVAILABLE);
    assert!(
        app.redis
            .keys()
            .await
            .iter()
            .all(|k| !k.contains("v2:env:"))
    );
    let metrics = metrics_text(&app).await;
    assert_eq!(external_calls(&metrics, "google_weather", "error"), 1.0);
}

#[tokio::test]
async fn a_body_missing_a_required_field_is_a_502() {
    let app = app_with(&[]).await;
    mount_google(
        &app,
        ResponseTemplate::new(200).set_body_json(json!({"indexes": [{"aqi": 61}]})),
        ResponseTemplate::new(200).set_body_json(weather_body()),
        1,
    )
    .await;
    let (status, _, body) = conditions(&app, "lat=1&lng=2").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
}

#[tokio::test]
async fn a_provider_timeout_with_nothing_cached_is_a_503() {
    let app = app_with(&[("GOOGLE_TIMEOUT_MS", "200")]).await;
    mount_google(
        &app,
        ResponseTemplate::new(200)
            .set_body_json(air_quality_body())
            .set_delay(Duration::from_secs(3)),
        ResponseTemplate::new(200).set_body_json(weather_body()),
        1,
    )
    .await;
    let (status, _, body) = conditions(&app, "lat=51.5074&lng=-0.1278").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], "service_unavailable");
    assert_eq!(body["message"], UNAVAILABLE);
    let metrics = metrics_text(&app).await;
    assert_eq!(
        external_calls(&metrics, "google_air_quality", "timeout"),
        1.0
    );
}

#[tokio::test]
async fn with_redis_down_the_conditions_still_come_from_google() {
    let app = app_with(&[
        ("REDIS_URL", "redis://127.0.0.1:1"),
        ("REDIS_TIMEOUT_MS", "200"),
    ])
    .await;
    // Nothing can be cached, so each request asks Google.
    mount_healthy_google(&app, 2).await;
    for _ in 0..2 {
        let (status, _, body) = conditions(&app, "lat=19.076&lng=72.878").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, expected_fresh());
    }
    app.google.server.verify().await;
    let metrics = metrics_text(&app).await;
    assert!(cache_sample(&metrics, "error") >= 2.0);
}

#[tokio::test]
async fn coordinates_are_rounded_to_the_grid_and_negative_zero_loses_its_sign() {
    let app = app_with(&[]).await;
    Mock::given(method("GET"))
        .and(path(FakeGoogle::WEATHER_PATH))
        .and(query_param("location.latitude", "0"))
        .and(query_param("location.longitude", "-0.5"))
        .respond_with(ResponseTemplate::new(200).set_body_json(weather_body()))
        .expect(1)
        .mount(&app.google.server)
        .await;
    Mock::given(method("POST"))
        .and(path(FakeGoogle::AIR_QUALITY_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(air_quality_body()))
        .expect(1)
        .mount(&app.google.server)
        .await;

    let (status, _, body) = conditions(&app, "lat=-0.0004&lng=-0.4996").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.google.server.verify().await;
    let air_request = app
        .google
        .server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.method.as_str() == "POST")
        .unwrap();
    let sent: Value = air_request.body_json().unwrap();
    assert_eq!(sent["location"]["latitude"].as_f64(), Some(0.0));
    assert_eq!(sent["location"]["longitude"].as_f64(), Some(-0.5));
    let env_keys: Vec<String> = app
        .redis
        .keys()
        .await
        .into_iter()
        .filter(|k| k.contains("v2:env:"))
        .collect();
    assert_eq!(
        env_keys,
        vec![format!("{}v2:env:0.000:-0.500", app.redis.prefix())]
    );
}
