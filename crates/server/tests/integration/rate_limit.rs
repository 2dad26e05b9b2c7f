//! Rate limiting: per-policy fixed windows in Redis, headers, trusted proxies, fail-open.

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

/// Sends `METHOD path` as written (no client-side normalisation of dot segments or escapes)
/// with an empty JSON body, and returns the status code.
async fn raw_status(port: u16, method: &str, path: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response);
    text.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line for {path}: {text:?}"))
}

/// Ways of spelling `path` that a client might try: escapes of each letter of each segment,
/// case, duplicate and trailing slashes, dot segments, parameters.
fn spellings(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    for (index, segment) in segments.iter().enumerate() {
        for (at, letter) in segment.char_indices() {
            let mut escaped = segment.to_string();
            escaped.replace_range(
                at..at + letter.len_utf8(),
                &format!("%{:02X}", letter as u32),
            );
            let mut parts = segments.clone();
            parts[index] = &escaped;
            out.push(format!("/{}", parts.join("/")));
            let mut lower = segment.to_string();
            lower.replace_range(
                at..at + letter.len_utf8(),
                &format!("%{:02x}", letter as u32),
            );
            let mut parts = segments.clone();
            parts[index] = &lower;
            out.push(format!("/{}", parts.join("/")));
        }
        let upper = segment.to_uppercase();
        let mut parts = segments.clone();
        parts[index] = &upper;
        out.push(format!("/{}", parts.join("/")));
        let mut parts: Vec<String> = segments.iter().map(|s| (*s).to_owned()).collect();
        parts.insert(index, ".".to_owned());
        out.push(format!("/{}", parts.join("/")));
        let mut parts: Vec<String> = segments.iter().map(|s| (*s).to_owned()).collect();
        parts.insert(index, "x/..".to_owned());
        out.push(format!("/{}", parts.join("/")));
    }
    out.push(format!("{path}/"));
    out.push(format!("/{path}"));
    out.push(path.replacen('/', "//", 2));
    out.push(format!("{path}?x=1"));
    out.push(format!("{path};x=1"));
    out.push(format!("{path}%2F"));
    out
}

#[tokio::test]
async fn a_limited_route_is_limited_under_every_spelling_or_not_reached_at_all() {
    let app = spawn_app_with(|vars| {
        vars.insert("RATE_LIMIT_AUTH_PER_MINUTE".into(), "3".into());
        vars.insert("RATE_LIMIT_ADMIN_SEND_PER_MINUTE".into(), "3".into());
    })
    .await;
    // A window boundary mid-test would reset the counts; start early in a minute.
    let second = chrono::Utc::now().timestamp() % 60;
    if second > 40 {
        tokio::time::sleep(std::time::Duration::from_secs(61 - second as u64)).await;
    }
    for (method, path) in [
        ("POST", "/api/v1/auth/firebase/verify"),
        ("POST", "/api/v1/auth/refresh"),
        ("POST", "/api/v1/auth/logout"),
        ("POST", "/api/v1/notifications/admin-send"),
    ] {
        // Use up the policy's budget with the canonical spelling.
        let mut status = 0;
        for _ in 0..4 {
            status = raw_status(app.port, method, path).await;
        }
        assert_eq!(status, 429, "{method} {path} is not limited at all");
        let mut reached = Vec::new();
        for spelling in spellings(path) {
            let status = raw_status(app.port, method, &spelling).await;
            // Limited (same route, same budget), or no route (404/405) and so no handler.
            if ![429, 404, 405].contains(&status) {
                reached.push(format!("{method} {spelling} → {status}"));
            }
        }
        assert!(
            reached.is_empty(),
            "spellings that reached a handler past the limit:\n{}",
            reached.join("\n")
        );
    }
}
