//! Platform behaviour shared by every route: envelopes, routing, headers, CORS, health, metrics.

use medico24_testkit::{spawn_app, spawn_app_with};
use reqwest::{Method, StatusCode};
use serde_json::Value;

async fn json(response: reqwest::Response) -> Value {
    response.json::<Value>().await.expect("JSON body")
}

fn assert_envelope(body: &Value, code: &str, message: &str, path: &str) {
    assert_eq!(body["error"], code, "{body}");
    assert_eq!(body["message"], message, "{body}");
    assert_eq!(body["detail"], message, "{body}");
    assert_eq!(body["path"], path, "{body}");
    assert!(
        body["request_id"].as_str().is_some_and(|id| !id.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn root_names_the_service_and_its_docs() {
    let app = spawn_app().await;
    let response = app.get("/").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json(response).await;
    assert_eq!(body["message"], "Welcome to Medico24 API");
    assert_eq!(body["version"], "0.1.0");
    assert_eq!(body["docs"], "/docs");
}

#[tokio::test]
async fn health_and_ping_answer_without_dependencies() {
    let app = spawn_app_with(|vars| {
        vars.insert(
            "DATABASE_URL".into(),
            "postgres://nobody@127.0.0.1:1/none".into(),
        );
        vars.insert("REDIS_URL".into(), "redis://127.0.0.1:1".into());
    })
    .await;
    let health = app.get("/api/v1/health").await;
    assert_eq!(health.status(), StatusCode::OK);
    let body = json(health).await;
    assert_eq!(
        body,
        serde_json::json!({"status": "healthy", "version": "0.1.0", "environment": "test"})
    );
    let ping = app.get("/api/v1/ping").await;
    assert_eq!(json(ping).await, serde_json::json!({"message": "pong"}));
}

#[tokio::test]
async fn detailed_health_reports_both_dependencies_with_latency() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/health/detailed").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json(response).await;
    assert_eq!(body["status"], "healthy", "{body}");
    assert_eq!(body["database"], "healthy");
    assert_eq!(body["redis"], "healthy");
    assert!(
        body["checks"]["database"]["latency_ms"]
            .as_f64()
            .is_some_and(|ms| ms >= 0.0)
    );
    assert!(
        body["checks"]["redis"]["latency_ms"]
            .as_f64()
            .is_some_and(|ms| ms >= 0.0)
    );
    assert_eq!(body["environment"], "test");
}

#[tokio::test]
async fn detailed_health_is_degraded_and_ready_is_503_when_dependencies_are_down() {
    let app = spawn_app_with(|vars| {
        vars.insert(
            "DATABASE_URL".into(),
            "postgres://nobody@127.0.0.1:1/none".into(),
        );
        vars.insert("DATABASE_POOL_TIMEOUT_SECONDS".into(), "1".into());
        vars.insert("REDIS_URL".into(), "redis://127.0.0.1:1".into());
        vars.insert("REDIS_TIMEOUT_MS".into(), "200".into());
    })
    .await;
    let body = json(app.get("/api/v1/health/detailed").await).await;
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["database"], "unhealthy");
    assert_eq!(body["redis"], "unhealthy");
    assert_eq!(body["checks"]["database"]["latency_ms"], Value::Null);
    assert_eq!(body["checks"]["redis"]["latency_ms"], Value::Null);

    let ready = app.get("/api/v1/health/ready").await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_envelope(
        &json(ready).await,
        "service_unavailable",
        "Database unavailable",
        "/api/v1/health/ready",
    );
}

#[tokio::test]
async fn ready_reports_redis_without_depending_on_it() {
    let app = spawn_app_with(|vars| {
        vars.insert("REDIS_URL".into(), "redis://127.0.0.1:1".into());
        vars.insert("REDIS_TIMEOUT_MS".into(), "200".into());
    })
    .await;
    let response = app.get("/api/v1/health/ready").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        json(response).await,
        serde_json::json!({"status": "ready", "database": "healthy", "redis": "unhealthy"})
    );
}

#[tokio::test]
async fn unknown_paths_get_the_404_envelope() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/nope/nothing-here?x=1").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert!(response.headers().contains_key("x-request-id"));
    assert_envelope(
        &json(response).await,
        "not_found",
        "Not Found",
        "/api/v1/nope/nothing-here",
    );
}

#[tokio::test]
async fn wrong_method_gets_405_with_allow() {
    let app = spawn_app().await;
    for method in [
        Method::PATCH,
        Method::POST,
        Method::HEAD,
        Method::OPTIONS,
        Method::DELETE,
    ] {
        let response = app
            .client
            .request(method.clone(), app.url("/api/v1/ping"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method}"
        );
        assert_eq!(response.headers()["allow"], "GET", "{method}");
        assert!(response.headers().contains_key("x-request-id"));
        if method != Method::HEAD {
            assert_envelope(
                &json(response).await,
                "method_not_allowed",
                "Method Not Allowed",
                "/api/v1/ping",
            );
        }
    }
}

#[tokio::test]
async fn the_other_trailing_slash_form_is_served_directly() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/ping/").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json(response).await["message"], "pong");
    let wrong = app
        .client
        .delete(app.url("/api/v1/health/"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_envelope(
        &json(wrong).await,
        "method_not_allowed",
        "Method Not Allowed",
        "/api/v1/health/",
    );
}

#[tokio::test]
async fn bodies_over_the_limit_get_413() {
    let app = spawn_app().await;
    let big = vec![b'x'; 2 * 1024 * 1024];
    let response = app
        .client
        .post(app.url("/api/v1/ping"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(response.headers().contains_key("x-request-id"));
    assert_envelope(
        &json(response).await,
        "payload_too_large",
        "Request body is too large",
        "/api/v1/ping",
    );
}

#[tokio::test]
async fn request_ids_are_echoed_when_well_formed_and_generated_otherwise() {
    let app = spawn_app().await;
    let echoed = app
        .client
        .get(app.url("/api/v1/ping"))
        .header("x-request-id", "client-abc.1:2_3")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "client-abc.1:2_3");

    let replaced = app
        .client
        .get(app.url("/nope"))
        .header("x-request-id", "bad id!")
        .send()
        .await
        .unwrap();
    let generated = replaced.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(generated, "bad id!");
    assert!(uuid::Uuid::parse_str(&generated).is_ok());
    assert_eq!(json(replaced).await["request_id"], generated);
}

#[tokio::test]
async fn every_response_has_process_time_and_nosniff() {
    let app = spawn_app().await;
    for path in ["/", "/api/v1/health", "/nope", "/metrics"] {
        let response = app.get(path).await;
        let process_time = response.headers()["x-process-time"].to_str().unwrap();
        assert!(
            process_time.parse::<f64>().is_ok_and(|s| s >= 0.0),
            "{path}: {process_time}"
        );
        assert_eq!(
            response.headers()["x-content-type-options"],
            "nosniff",
            "{path}"
        );
    }
}

#[tokio::test]
async fn cors_preflight_from_an_allowed_origin_is_answered() {
    let app = spawn_app().await;
    let response = app
        .client
        .request(Method::OPTIONS, app.url("/api/v1/ping"))
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "GET")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let h = response.headers();
    assert_eq!(h["access-control-allow-origin"], "http://localhost:3000");
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert_eq!(
        h["access-control-allow-methods"],
        "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
    );
    assert_eq!(
        h["access-control-allow-headers"],
        "authorization, content-type"
    );
    assert_eq!(h["access-control-max-age"], "600");
    assert_eq!(h["vary"], "Origin");
    assert!(h.contains_key("x-request-id"));
    assert!(response.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn cors_preflight_from_another_origin_is_400_without_allow_headers() {
    let app = spawn_app().await;
    let response = app
        .client
        .request(Method::OPTIONS, app.url("/api/v1/ping"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
    assert_envelope(
        &json(response).await,
        "bad_request",
        "Disallowed CORS origin",
        "/api/v1/ping",
    );
}

#[tokio::test]
async fn cors_headers_are_on_success_and_error_responses_for_allowed_origins_only() {
    let app = spawn_app().await;
    for path in ["/api/v1/ping", "/does-not-exist"] {
        let response = app
            .client
            .get(app.url(path))
            .header("origin", "http://localhost:3000")
            .send()
            .await
            .unwrap();
        let h = response.headers();
        assert_eq!(
            h["access-control-allow-origin"], "http://localhost:3000",
            "{path}"
        );
        assert_eq!(h["access-control-allow-credentials"], "true");
        assert_eq!(h["vary"], "Origin");
        assert!(
            h["access-control-expose-headers"]
                .to_str()
                .unwrap()
                .contains("X-Request-ID")
        );
        assert!(
            h["access-control-expose-headers"]
                .to_str()
                .unwrap()
                .contains("Idempotent-Replayed")
        );
    }
    let other = app
        .client
        .get(app.url("/api/v1/ping"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::OK);
    assert!(!other.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn metrics_are_labelled_by_route_template() {
    let app = spawn_app().await;
    app.get("/api/v1/ping").await;
    app.get("/api/v1/ping/").await;
    app.get("/nowhere/42").await;
    app.get("/docs").await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    assert!(
        text.contains(r#"http_requests_total{handler="/api/v1/ping",method="GET",status="2xx"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"http_requests_total{handler="none",method="GET",status="4xx"} 1"#),
        "{text}"
    );
    assert!(!text.contains("/nowhere/42"));
    assert!(
        !text.contains(r#"handler="/docs""#),
        "docs are not instrumented"
    );
    for series in [
        "http_request_duration_seconds_bucket",
        "http_request_duration_highr_seconds_bucket",
        "http_requests_inprogress",
        "http_response_size_bytes_count",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "medico24_db_pool_max_connections",
        "medico24_db_pool_connections",
        "medico24_rate_limiter_errors_total",
    ] {
        assert!(text.contains(series), "{series} missing");
    }
    assert!(text.contains("# TYPE http_response_size_bytes summary"));
}

/// Every value of a `label="…"` pair in the exposition text.
fn label_values<'a>(text: &'a str, label: &str) -> std::collections::BTreeSet<&'a str> {
    let needle = format!("{label}=\"");
    let mut values = std::collections::BTreeSet::new();
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        for (at, _) in line.match_indices(&needle) {
            if let Some(value) = line[at + needle.len()..].split('"').next() {
                values.insert(value);
            }
        }
    }
    values
}

#[tokio::test]
async fn invented_methods_and_paths_add_no_series_to_metrics() {
    let app = spawn_app().await;
    let send = async |method: &str, path: &str| {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        app.client
            .request(method, app.url(path))
            .send()
            .await
            .unwrap()
            .status()
    };
    // One round of junk sets up every series it will ever need.
    send("BREW", "/zzjunk0").await;
    send("GET", "/api/v1/zzjunk0/x").await;
    let baseline = app.get("/metrics").await.text().await.unwrap().len();
    let routes = [
        "/api/v1/ping",
        "/api/v1/pharmacies/",
        "/zzjunk",
        "/api/v1/users/me",
        "/",
    ];
    for i in 0..300 {
        let method = format!("M{i}ZZ");
        let path = format!(
            "{}{}",
            routes[i % routes.len()],
            if i % 2 == 0 {
                format!("/zz{i}")
            } else {
                String::new()
            }
        );
        let status = send(&method, &path).await;
        assert!(status.is_client_error(), "{method} {path}: {status}");
    }
    let text = app.get("/metrics").await.text().await.unwrap();
    let methods = label_values(&text, "method");
    let closed = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE", "OTHER",
    ];
    assert!(methods.iter().all(|m| closed.contains(m)), "{methods:?}");
    assert!(methods.contains("OTHER"), "{methods:?}");
    let handlers = label_values(&text, "handler");
    assert!(
        handlers.iter().all(|h| !h.contains("zz")),
        "a raw path became a label: {handlers:?}"
    );
    // 300 new methods and paths: only counters moved (allow a few KiB for the method and route
    // combinations the junk reached and for the numbers' widths), not 300 new series.
    assert!(
        text.len() < baseline + 8 * 1024,
        "/metrics grew from {baseline} to {} bytes",
        text.len()
    );
}

#[tokio::test]
async fn metrics_token_protects_metrics_when_set() {
    let app = spawn_app_with(|vars| {
        vars.insert("METRICS_TOKEN".into(), "scrape-me".into());
    })
    .await;
    let anonymous = app.get("/metrics").await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    assert_envelope(
        &json(anonymous).await,
        "unauthorized",
        "Not authenticated",
        "/metrics",
    );
    let wrong = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right = app
        .client
        .get(app.url("/metrics"))
        .header("authorization", "bearer scrape-me")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::OK);
}

#[tokio::test]
async fn graceful_stop_finishes_and_releases_the_port() {
    let app = spawn_app().await;
    assert_eq!(app.get("/api/v1/ping").await.status(), StatusCode::OK);
    app.stop().await;
    let after = app.client.get(app.url("/api/v1/ping")).send().await;
    assert!(after.is_err(), "server still answering after stop");
}
