//! Rate limiting (§4): per-policy fixed windows in Redis, headers, trusted proxies, fail-open.

use medico24_testkit::spawn_app_with;
use reqwest::StatusCode;

use crate::support::status_json;

const HEADERS: [&str; 5] = [
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "ratelimit",
    "ratelimit-policy",
];

#[tokio::test]
async fn the_61st_request_in_a_window_is_429_with_every_header() {
    let app = spawn_app_with(|_| {}).await;
    // A window boundary between requests would reset the count; start early in a minute.
    let second = chrono::Utc::now().timestamp() % 60;
    if second > 50 {
        tokio::time::sleep(std::time::Duration::from_secs((61 - second) as u64)).await;
    }
    for i in 1..=60 {
        let response = app.get("/api/v1/users/me").await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "request {i} is allowed (and unauthenticated)"
        );
        assert_eq!(response.headers()["x-ratelimit-limit"], "60");
        assert_eq!(
            response.headers()["x-ratelimit-remaining"],
            (60 - i).to_string().as_str()
        );
        assert_eq!(
            response.headers()["ratelimit-policy"],
            "\"default\";q=60;w=60"
        );
    }
    let response = app.get("/api/v1/users/me").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    for header in HEADERS {
        assert!(response.headers().contains_key(header), "{header} missing");
    }
    assert_eq!(response.headers()["x-ratelimit-remaining"], "0");
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    let (_, body) = status_json(response).await;
    assert_eq!(body["error"], "rate_limited");
    assert_eq!(
        body["detail"],
        format!("Rate limit exceeded. Retry in {retry_after} seconds.")
    );

    // Other policies and exempt routes are not affected.
    assert_eq!(app.get("/api/v1/health").await.status(), StatusCode::OK);
    assert!(
        !app.get("/api/v1/health")
            .await
            .headers()
            .contains_key("x-ratelimit-limit")
    );
    let auth = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .json(&serde_json::json!({"refresh_token": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(auth.status(), StatusCode::NO_CONTENT);
    assert_eq!(auth.headers()["x-ratelimit-limit"], "20");

    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"medico24_rate_limited_requests_total{policy="default"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn forwarded_for_is_ignored_from_untrusted_peers_and_honoured_from_trusted_ones() {
    let untrusted = spawn_app_with(|vars| {
        vars.insert("RATE_LIMIT_PER_MINUTE".into(), "2".into());
    })
    .await;
    for ip in ["198.51.100.1", "198.51.100.2"] {
        untrusted
            .client
            .get(untrusted.url("/api/v1/users/me"))
            .header("x-forwarded-for", ip)
            .send()
            .await
            .unwrap();
    }
    let third = untrusted
        .client
        .get(untrusted.url("/api/v1/users/me"))
        .header("x-forwarded-for", "198.51.100.3")
        .send()
        .await
        .unwrap();
    assert_eq!(
        third.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "all three share the peer's counter"
    );

    let trusted = spawn_app_with(|vars| {
        vars.insert("RATE_LIMIT_PER_MINUTE".into(), "2".into());
        vars.insert("TRUSTED_PROXIES".into(), "127.0.0.1/32, ::1".into());
    })
    .await;
    for ip in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        let response = trusted
            .client
            .get(trusted.url("/api/v1/users/me"))
            .header("x-forwarded-for", format!("{ip}, 127.0.0.1"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{ip} has its own counter"
        );
    }
}

#[tokio::test]
async fn requests_succeed_without_limit_headers_when_redis_is_down() {
    let app = spawn_app_with(|vars| {
        vars.insert("REDIS_URL".into(), "redis://127.0.0.1:1".into());
        vars.insert("REDIS_TIMEOUT_MS".into(), "200".into());
        vars.insert("RATE_LIMIT_PER_MINUTE".into(), "1".into());
    })
    .await;
    for _ in 0..3 {
        let response = app.get("/api/v1/users/me").await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "allowed although the limit is 1"
        );
        assert!(!response.headers().contains_key("x-ratelimit-limit"));
    }
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("medico24_rate_limiter_errors_total 3"),
        "{metrics}"
    );
}
