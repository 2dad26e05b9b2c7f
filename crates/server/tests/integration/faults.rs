//! Fault tests: Redis and PostgreSQL go away in the
//! middle of a stream of concurrent requests and come back, and the outbox worker meets a failing
//! FCM and a lost database, for one app only. The app reaches the shared services (and its fake
//! FCM) through [`FaultProxy`]s that the test cuts, stalls and restores, so nothing is stopped for
//! the other tests running in parallel. No timing is asserted; waits are bounded polls.

use std::cell::Cell;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use medico24_firebase::testing::{
    FirebaseKeys, fcm_error, fcm_send_path, fcm_sent, oauth_token_response,
};
use medico24_server::workers::run_once;
use medico24_testkit::{
    FakeFirebase, FaultProxy, TestApp, TestDb, spawn_app_with, spawn_app_with_db,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, ResponseTemplate, matchers};

use crate::support::{Session, call, id_token, login, login_admin, mount_certs, status_json};

/// Requests in each load run.
const REQUESTS: usize = 200;
/// Requests in flight at once.
const CONCURRENCY: usize = 8;
/// Upper bound of every poll for recovery.
const RECOVERY: Duration = Duration::from_secs(10);

const DOCTOR: &str = "00000000-0000-0000-0000-0000000000d1";
const CLINIC: &str = "00000000-0000-0000-0000-0000000000c1";

/// Where the dependency stood when a request started or ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Up,
    Cut,
    Restored,
}

/// What one request of a load run saw.
#[derive(Debug)]
struct Outcome {
    label: &'static str,
    started: Phase,
    ended: Phase,
    status: StatusCode,
    /// Whether the rate-limit headers were present.
    limited: bool,
    body: Value,
}

impl Outcome {
    /// Sent after the cut completed and answered before the restore began.
    fn wholly_during_cut(&self) -> bool {
        self.started == Phase::Cut && self.ended == Phase::Cut
    }

    /// Sent after the dependency was back (and, where a hook polls, seen back).
    fn after_restore(&self) -> bool {
        self.started == Phase::Restored
    }
}

/// Status, rate-limit header presence and JSON body of a response.
async fn reply(
    label: &'static str,
    response: reqwest::Response,
) -> (&'static str, StatusCode, bool, Value) {
    let limited = response.headers().contains_key("x-ratelimit-limit");
    let (status, body) = status_json(response).await;
    (label, status, limited, body)
}

/// Sends `total` requests built by `request`, [`CONCURRENCY`] at a time. After `cut_after`
/// answers the proxy is cut; after `restore_after` answers `while_cut` runs, the proxy is
/// restored and `after_restore` runs (e.g. a poll until the app sees the dependency again).
async fn load_across_cut<F, Fut>(
    proxy: &FaultProxy,
    total: usize,
    (cut_after, restore_after): (usize, usize),
    request: F,
    while_cut: impl AsyncFnOnce(),
    after_restore: impl AsyncFnOnce(),
) -> Vec<Outcome>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = (&'static str, StatusCode, bool, Value)>,
{
    let phase = Cell::new(Phase::Up);
    let mut while_cut = Some(while_cut);
    let mut after_restore = Some(after_restore);
    let mut answers = futures_util::stream::iter(0..total)
        .map(|i| {
            let started = phase.get();
            let sent = request(i);
            async move { (started, sent.await) }
        })
        .buffer_unordered(CONCURRENCY);
    let mut outcomes = Vec::with_capacity(total);
    while let Some((started, (label, status, limited, body))) = answers.next().await {
        outcomes.push(Outcome {
            label,
            started,
            ended: phase.get(),
            status,
            limited,
            body,
        });
        if outcomes.len() == cut_after {
            proxy.cut().await;
            phase.set(Phase::Cut);
        }
        if outcomes.len() == restore_after {
            if let Some(checks) = while_cut.take() {
                checks().await;
            }
            proxy.restore();
            if let Some(wait) = after_restore.take() {
                wait().await;
            }
            phase.set(Phase::Restored);
        }
    }
    assert_eq!(
        phase.get(),
        Phase::Restored,
        "the run covered the cut and the restore"
    );
    outcomes
}

/// Whether this build serves `method template`.
fn served(method: &str, template: &str) -> bool {
    medico24_server::http::api_routes("/api/v1")
        .catalog()
        .entries
        .iter()
        .any(|route| route.method == method && route.template == template)
}

/// Polls `path` until `accept` holds for its answer, at most [`RECOVERY`].
async fn poll_until(app: &TestApp, path: &str, accept: impl Fn(StatusCode, &Value) -> bool) {
    let deadline = tokio::time::Instant::now() + RECOVERY;
    loop {
        let (status, body) = status_json(app.get(path).await).await;
        if accept(status, &body) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} still answers {status} {body} {RECOVERY:?} after the restore"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn metric_count(app: &TestApp, cache: &str, result: &str) -> u64 {
    app.state
        .metrics
        .cache_requests
        .with_label_values(&[cache, result])
        .get()
}

fn assert_unavailable(status: StatusCode, body: &Value, message: &str, what: &str) {
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{what}: {body}");
    assert_eq!(body["error"], "service_unavailable", "{what}: {body}");
    assert_eq!(body["detail"], message, "{what}: {body}");
}

async fn post_refresh(app: &TestApp, refresh: &str) -> (StatusCode, Value) {
    status_json(
        call(
            app,
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await,
    )
    .await
}

async fn with_directory(app: &TestApp) {
    app.db
        .execute(&format!(
            "INSERT INTO doctors (id, email, full_name, license_number, specialization) VALUES ('{DOCTOR}', 'dr@example.com', 'Dr Mehta', 'LIC-1', 'Cardiology');
             INSERT INTO clinics (id, name, slug, address, latitude, longitude) VALUES ('{CLINIC}', 'Heart Care', 'heart-care', 'Mumbai', 19.07, 72.87);"
        ))
        .await;
}

/// The Redis proxy and an app whose `REDIS_URL` goes through it (key prefix unchanged).
async fn app_behind_redis_proxy() -> (FaultProxy, TestApp) {
    let (proxy, redis_url) = FaultProxy::for_url(&medico24_testkit::test_redis_url(), 6379).await;
    let app = spawn_app_with(|vars| {
        vars.insert("REDIS_URL".into(), redis_url);
        vars.insert("REDIS_TIMEOUT_MS".into(), "200".into());
        vars.insert("DATABASE_POOL_TIMEOUT_SECONDS".into(), "1".into());
        vars.insert("RATE_LIMIT_PER_MINUTE".into(), "100000".into());
    })
    .await;
    (proxy, app)
}

/// One kind of read of the Redis load run.
struct Read {
    label: &'static str,
    path: String,
    /// Sent with the patient's access token.
    bearer: bool,
    /// The Redis cache in front of it (its `medico24_cache_requests_total` label), if any.
    cache: Option<&'static str>,
}

impl Read {
    fn new(label: &'static str, path: String, bearer: bool, cache: Option<&'static str>) -> Self {
        Self {
            label,
            path,
            bearer,
            cache,
        }
    }
}

/// The reads this build serves (the user cache always; pharmacies, clinics and doctors when
/// their routes are registered), with the data they read.
async fn cached_reads(app: &TestApp) -> Vec<Read> {
    let mut reads = vec![Read::new(
        "users/me",
        "/api/v1/users/me".to_owned(),
        true,
        Some("user"),
    )];
    if served("GET", "/api/v1/pharmacies") && served("POST", "/api/v1/pharmacies") {
        let admin = login_admin(app, "uid-fault-admin", "fault-admin@example.com").await;
        let (status, created) = status_json(
            call(
                app,
                Method::POST,
                "/api/v1/pharmacies",
                Some(&admin.access),
                Some(json!({
                    "name": "Fault Tolerant Pharmacy",
                    "location": {"address_line": "1 Hill Road", "city": "Mumbai", "latitude": 19.07, "longitude": 72.87},
                })),
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        reads.push(Read::new(
            "pharmacies",
            "/api/v1/pharmacies".to_owned(),
            false,
            Some("pharmacy_list"),
        ));
        if served("GET", "/api/v1/pharmacies/{pharmacy_id}") {
            let id = created["id"].as_str().unwrap();
            reads.push(Read::new(
                "pharmacy",
                format!("/api/v1/pharmacies/{id}"),
                false,
                Some("pharmacy"),
            ));
        }
    }
    let clinic = served("GET", "/api/v1/clinics/{clinic_id}");
    let doctor = served("GET", "/api/v1/doctors/{doctor_id}");
    if clinic || doctor {
        with_directory(app).await;
    }
    if served("GET", "/api/v1/clinics/") {
        // No cache in front of the clinic list: it reads the database either way.
        reads.push(Read::new(
            "clinics",
            "/api/v1/clinics/".to_owned(),
            false,
            None,
        ));
    }
    if clinic {
        reads.push(Read::new(
            "clinic",
            format!("/api/v1/clinics/{CLINIC}"),
            false,
            Some("clinic"),
        ));
    }
    if doctor {
        reads.push(Read::new(
            "doctor",
            format!("/api/v1/doctors/{DOCTOR}"),
            false,
            Some("doctor"),
        ));
    }
    reads
}

#[tokio::test]
async fn redis_cut_under_load_fails_open_for_reads_and_closed_for_sessions() {
    let (proxy, app) = app_behind_redis_proxy().await;
    mount_certs(&app).await;
    let patient = login(&app, "uid-fault-pat", "fault-pat@example.com").await;
    let reads = cached_reads(&app).await;
    // Baselines with Redis up (the second read of each is served by its cache where one exists).
    let mut baselines = Vec::new();
    for Read {
        label,
        path,
        bearer,
        ..
    } in &reads
    {
        for _ in 0..2 {
            let token = bearer.then_some(patient.access.as_str());
            let response = call(&app, Method::GET, path, token, None).await;
            let (_, status, limited, body) = reply(label, response).await;
            assert_eq!(status, StatusCode::OK, "{label}: {body}");
            assert!(
                limited,
                "{label} carries the rate-limit headers while Redis is up"
            );
            baselines.push((*label, body));
        }
    }
    let baseline = |label: &str| {
        baselines
            .iter()
            .find(|(l, _)| *l == label)
            .map(|(_, body)| body.clone())
            .unwrap()
    };
    let limiter_errors_before = app.state.metrics.rate_limiter_errors.get();
    let cache_errors_before: Vec<u64> = reads
        .iter()
        .map(|read| {
            read.cache
                .map_or(0, |cache| metric_count(&app, cache, "error"))
        })
        .collect();

    let outcomes = load_across_cut(
        &proxy,
        REQUESTS,
        (50, 150),
        |i| {
            let read = &reads[i % reads.len()];
            let label = read.label;
            let request = app.client.get(app.url(&read.path));
            let request = if read.bearer {
                request.bearer_auth(&patient.access)
            } else {
                request
            };
            async move { reply(label, request.send().await.unwrap()).await }
        },
        async || {
            assert!(
                app.state.metrics.rate_limiter_errors.get() > limiter_errors_before,
                "medico24_rate_limiter_errors_total rises while Redis is cut"
            );
            for (read, before) in reads.iter().zip(&cache_errors_before) {
                if let Some(cache) = read.cache {
                    assert!(
                        metric_count(&app, cache, "error") > *before,
                        "{}: errors of the {cache} cache are counted (it fails open)",
                        read.label
                    );
                }
            }
            let metrics = app.get("/metrics").await.text().await.unwrap();
            assert!(
                metrics.contains("medico24_rate_limiter_errors_total "),
                "{metrics}"
            );

            let (status, health) = status_json(app.get("/api/v1/health/detailed").await).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(health["status"], "degraded", "{health}");
            assert_eq!(health["redis"], "unhealthy", "{health}");
            assert_eq!(health["database"], "healthy", "{health}");
            let (status, ready) = status_json(app.get("/api/v1/health/ready").await).await;
            assert_eq!(
                status,
                StatusCode::OK,
                "Redis does not affect readiness: {ready}"
            );
            assert_eq!(ready["redis"], "unhealthy");

            let (status, body) = post_refresh(&app, &patient.refresh).await;
            assert_unavailable(status, &body, "Session store unavailable", "refresh");
            let (status, body) = status_json(
                call(
                    &app,
                    Method::POST,
                    "/api/v1/auth/logout",
                    None,
                    Some(json!({"refresh_token": patient.refresh})),
                )
                .await,
            )
            .await;
            assert_unavailable(status, &body, "Session store unavailable", "logout");
            let (status, body) = status_json(
                call(
                    &app,
                    Method::POST,
                    "/api/v1/auth/logout-all",
                    Some(&patient.access),
                    None,
                )
                .await,
            )
            .await;
            assert_unavailable(status, &body, "Session store unavailable", "logout-all");
            let (status, body) = status_json(
                call(
                    &app,
                    Method::POST,
                    "/api/v1/auth/firebase/verify",
                    None,
                    Some(json!({"id_token": id_token("uid-fault-pat", "fault-pat@example.com")})),
                )
                .await,
            )
            .await;
            assert_unavailable(status, &body, "Session store unavailable", "login");

            let (status, me) = status_json(
                call(
                    &app,
                    Method::GET,
                    "/api/v1/users/me",
                    Some(&patient.access),
                    None,
                )
                .await,
            )
            .await;
            assert_eq!(status, StatusCode::OK, "access tokens keep working: {me}");
            assert!(
                proxy.refused() > 0,
                "the app did try to reach Redis while cut"
            );
        },
        async || {
            poll_until(&app, "/api/v1/health/detailed", |_, body| {
                body["status"] == "healthy"
            })
            .await;
        },
    )
    .await;

    for outcome in &outcomes {
        assert_eq!(
            outcome.status,
            StatusCode::OK,
            "{}: {}",
            outcome.label,
            outcome.body
        );
        assert_eq!(
            outcome.body,
            baseline(outcome.label),
            "{}: same body from cache or database",
            outcome.label
        );
        if outcome.wholly_during_cut() {
            assert!(
                !outcome.limited,
                "{}: no rate-limit headers while Redis is cut",
                outcome.label
            );
        }
        if outcome.after_restore() || (outcome.started == Phase::Up && outcome.ended == Phase::Up) {
            assert!(
                outcome.limited,
                "{}: rate-limit headers while Redis is up",
                outcome.label
            );
        }
    }
    let during = outcomes.iter().filter(|o| o.wholly_during_cut()).count();
    assert!(
        during >= 50,
        "only {during} requests ran wholly during the cut"
    );
    assert!(
        outcomes.iter().any(Outcome::after_restore),
        "requests ran after the restore"
    );

    // Sessions work again: the session untouched by the failed rotation, and a fresh login.
    let (status, rotated) = post_refresh(&app, &patient.refresh).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the failed refresh consumed nothing: {rotated}"
    );
    let fresh = login(&app, "uid-fault-pat", "fault-pat@example.com").await;
    let (status, pair) = post_refresh(&app, &fresh.refresh).await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    let (status, _) = status_json(
        call(
            &app,
            Method::POST,
            "/api/v1/auth/logout",
            None,
            Some(json!({"refresh_token": pair["refresh_token"]})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = post_refresh(&app, pair["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the logout reached Redis");
    let response = call(
        &app,
        Method::GET,
        "/api/v1/users/me",
        Some(&fresh.access),
        None,
    )
    .await;
    assert!(
        response.headers().contains_key("x-ratelimit-limit"),
        "headers are back"
    );
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_redis_black_hole_is_bounded_by_the_redis_timeout() {
    let (proxy, app) = app_behind_redis_proxy().await;
    mount_certs(&app).await;
    let patient = login(&app, "uid-hole-pat", "hole-pat@example.com").await;
    let (status, expected) = status_json(
        call(
            &app,
            Method::GET,
            "/api/v1/users/me",
            Some(&patient.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    proxy.stall();
    let answers = futures_util::stream::iter(0..16)
        .map(|_| async {
            let response = call(
                &app,
                Method::GET,
                "/api/v1/users/me",
                Some(&patient.access),
                None,
            )
            .await;
            reply("users/me", response).await
        })
        .buffer_unordered(4)
        .collect::<Vec<_>>();
    // A generous bound so a hang fails the test instead of blocking the run.
    let answers = tokio::time::timeout(Duration::from_secs(60), answers)
        .await
        .expect("every request answers although Redis never does");
    for (_, status, limited, body) in answers {
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, expected);
        assert!(
            !limited,
            "no rate-limit headers without an answer from Redis"
        );
    }
    let (status, body) = tokio::time::timeout(
        Duration::from_secs(30),
        post_refresh(&app, &patient.refresh),
    )
    .await
    .expect("refresh answers although Redis never does");
    assert_unavailable(status, &body, "Session store unavailable", "refresh");

    proxy.restore();
    poll_until(&app, "/api/v1/health/detailed", |_, body| {
        body["status"] == "healthy"
    })
    .await;
    let response = call(
        &app,
        Method::GET,
        "/api/v1/users/me",
        Some(&patient.access),
        None,
    )
    .await;
    assert!(response.headers().contains_key("x-ratelimit-limit"));
}

fn booking(at: DateTime<Utc>) -> Value {
    json!({
        "doctor_name": "Dr Mehta",
        "clinic_name": "Heart Care",
        "appointment_at": at.to_rfc3339(),
        "reason": "Chest pain follow-up",
        "contact_phone": "+91 98765 43210",
        "doctor_id": DOCTOR,
        "clinic_id": CLINIC,
    })
}

/// Appointments without exactly one outbox event, plus events without their appointment.
async fn unpaired_rows(app: &TestApp) -> (i64, i64) {
    let appointments = app
        .db
        .count(
            "SELECT count(*) AS n FROM appointments a WHERE (SELECT count(*) FROM notification_outbox o \
             WHERE o.payload->'data'->>'appointment_id' = a.id::text) <> 1",
        )
        .await;
    let events = app
        .db
        .count(
            "SELECT count(*) AS n FROM notification_outbox o WHERE NOT EXISTS (SELECT 1 FROM appointments a \
             WHERE a.id::text = o.payload->'data'->>'appointment_id')",
        )
        .await;
    (appointments, events)
}

#[tokio::test]
async fn postgres_cut_under_load_is_503_then_recovers_without_partial_writes() {
    let db = TestDb::new().await;
    let (proxy, database_url) = FaultProxy::for_url(db.url(), 5432).await;
    let app = spawn_app_with_db(db, |vars| {
        vars.insert("DATABASE_URL".into(), database_url);
        vars.insert("DATABASE_POOL_TIMEOUT_SECONDS".into(), "1".into());
        vars.insert("REDIS_TIMEOUT_MS".into(), "200".into());
        vars.insert("RATE_LIMIT_PER_MINUTE".into(), "100000".into());
    })
    .await;
    mount_certs(&app).await;
    with_directory(&app).await;
    let patient: Session = login(&app, "uid-pg-pat", "pg-pat@example.com").await;
    // Fills the user cache, so authentication itself does not need the database.
    let (status, _) = status_json(
        call(
            &app,
            Method::GET,
            "/api/v1/users/me",
            Some(&patient.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let first_slot: DateTime<Utc> = "2030-01-01T10:00:00Z".parse().unwrap();

    let outcomes = load_across_cut(
        &proxy,
        REQUESTS,
        (50, 150),
        |i| {
            let request = if i % 2 == 0 {
                let at = first_slot + chrono::Duration::hours(i64::try_from(i).unwrap());
                (
                    "book",
                    app.client
                        .post(app.url("/api/v1/appointments/"))
                        .json(&booking(at)),
                )
            } else {
                (
                    "list",
                    app.client.get(app.url("/api/v1/appointments/?page_size=5")),
                )
            };
            let (label, request) = request;
            let request = request.bearer_auth(&patient.access);
            async move { reply(label, request.send().await.unwrap()).await }
        },
        async || {
            let (status, health) = status_json(app.get("/api/v1/health").await).await;
            assert_eq!(
                status,
                StatusCode::OK,
                "liveness does not depend on the database: {health}"
            );
            let (status, ready) = status_json(app.get("/api/v1/health/ready").await).await;
            assert_unavailable(status, &ready, "Database unavailable", "ready");
            assert_eq!(ready["path"], "/api/v1/health/ready");
            let (status, detailed) = status_json(app.get("/api/v1/health/detailed").await).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(detailed["status"], "degraded", "{detailed}");
            assert_eq!(detailed["database"], "unhealthy", "{detailed}");
            assert_eq!(detailed["redis"], "healthy", "{detailed}");
            let (status, me) = status_json(
                call(
                    &app,
                    Method::GET,
                    "/api/v1/users/me",
                    Some(&patient.access),
                    None,
                )
                .await,
            )
            .await;
            assert_eq!(status, StatusCode::OK, "served by the user cache: {me}");
            assert!(
                proxy.refused() > 0,
                "the app did try to reach PostgreSQL while cut"
            );
        },
        async || {
            poll_until(&app, "/api/v1/health/ready", |status, _| {
                status == StatusCode::OK
            })
            .await;
        },
    )
    .await;

    // Every answer is checked before failing, so one run shows every kind of violation.
    let mut created = Vec::new();
    let mut violations = Vec::new();
    for outcome in &outcomes {
        let seen = format!(
            "{} (sent {:?}, answered {:?}) answered {} {}",
            outcome.label, outcome.started, outcome.ended, outcome.status, outcome.body
        );
        match outcome.status.as_u16() {
            200 | 201 => {
                if outcome.wholly_during_cut() {
                    violations.push(format!("{seen}: success while the database was cut"));
                }
                if outcome.status == StatusCode::CREATED {
                    created.push(outcome.body["id"].as_str().unwrap().to_owned());
                }
            }
            503 => {
                if outcome.body["error"] != "service_unavailable" {
                    violations.push(format!("{seen}: 503 without the service_unavailable code"));
                }
                if outcome.after_restore() {
                    violations.push(format!("{seen}: 503 after the pool recovered"));
                }
            }
            _ => violations.push(format!("{seen}: only 2xx or 503 are acceptable")),
        }
    }
    let during = outcomes.iter().filter(|o| o.wholly_during_cut()).count();
    assert!(
        during >= 50,
        "only {during} requests ran wholly during the cut"
    );
    assert!(
        outcomes
            .iter()
            .any(|o| o.after_restore() && o.label == "book" && o.status == StatusCode::CREATED),
        "bookings succeed again on the same app"
    );

    // No partial writes: every appointment has exactly one outbox event and vice versa, and every
    // 201 is in the table (a 503 whose commit landed before the connection died may add rows).
    assert_eq!(unpaired_rows(&app).await, (0, 0));
    let rows = app.db.count("SELECT count(*) AS n FROM appointments").await;
    let events = app
        .db
        .count("SELECT count(*) AS n FROM notification_outbox")
        .await;
    assert_eq!(rows, events);
    assert!(usize::try_from(rows).unwrap() >= created.len());
    for id in &created {
        let found = app
            .db
            .count(&format!(
                "SELECT count(*) AS n FROM appointments WHERE id = '{id}'"
            ))
            .await;
        assert_eq!(found, 1, "created appointment {id} is stored");
    }
    assert!(
        violations.is_empty(),
        "{} of {} answers broke the 2xx-or-503 rule:\n{}",
        violations.len(),
        outcomes.len(),
        violations.join("\n")
    );
}

/// The root cause of 500s on requests in flight when PostgreSQL goes away: the error a query
/// gets on a connection the server side closed must be classified as a connection failure
/// (→ `PortError::Unavailable` → 503), like a failed checkout is.
#[tokio::test]
async fn a_query_on_a_dropped_connection_is_a_connection_error() {
    use diesel::sql_types::Integer;
    use diesel_async::RunQueryDsl;
    use medico24_postgres::{Database, DatabaseConfig};

    let db = TestDb::new().await;
    let (proxy, url) = FaultProxy::for_url(db.url(), 5432).await;
    let database = Database::connect_lazy(&DatabaseConfig {
        url,
        pooler: medico24_postgres::PoolerMode::Session,
        prepared_statements: true,
        max_connections: 1,
        wait_timeout: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(1),
        statement_timeout: None,
    })
    .unwrap();
    let mut conn = database.conn().await.unwrap();
    proxy.cut().await;
    let error = diesel::select(diesel::dsl::sql::<Integer>("1"))
        .get_result::<i32>(&mut conn)
        .await
        .unwrap_err();
    assert!(
        medico24_postgres::errors::is_unavailable(&error),
        "a dropped connection gives {error:?}, which is not classified as a connection error (→ 500 instead of 503)"
    );
}

/// The two devices of the outbox test's patient.
const DEVICES: [&str; 2] = ["fault-phone-000001", "fault-web-0000001"];

/// Answers FCM messages to `token` with `failures` in order, then with success forever.
async fn fcm_fails_then_succeeds(fcm: &MockServer, token: &str, failures: Vec<ResponseTemplate>) {
    let to_token = || {
        Mock::given(matchers::method("POST"))
            .and(matchers::path(fcm_send_path(PUSH_PROJECT)))
            .and(matchers::body_partial_json(
                json!({"message": {"token": token}}),
            ))
    };
    for (i, failure) in failures.into_iter().enumerate() {
        to_token()
            .respond_with(failure)
            .up_to_n_times(1)
            .with_priority(u8::try_from(i + 1).unwrap())
            .mount(fcm)
            .await;
    }
    to_token()
        .respond_with(fcm_sent(PUSH_PROJECT, token))
        .with_priority(100)
        .mount(fcm)
        .await;
}

/// Books one appointment `hours` after the first slot.
async fn book_at(app: &TestApp, patient: &Session, hours: i64) -> String {
    let first_slot: DateTime<Utc> = "2030-01-01T10:00:00Z".parse().unwrap();
    let (status, body) = status_json(
        call(
            app,
            Method::POST,
            "/api/v1/appointments/",
            Some(&patient.access),
            Some(booking(first_slot + chrono::Duration::hours(hours))),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// Deliveries of the notifications of `appointments`, by status.
async fn deliveries_of(app: &TestApp, appointments: &[String], status: &str) -> i64 {
    let ids = appointments
        .iter()
        .map(|id| format!("'{id}'"))
        .collect::<Vec<_>>()
        .join(",");
    app.db
        .count(&format!(
            "SELECT count(*) AS n FROM notification_deliveries d JOIN notifications n ON n.id = d.notification_id \
             WHERE n.data->>'appointment_id' IN ({ids}) AND d.delivery_status = '{status}'"
        ))
        .await
}

/// FCM requests received so far.
async fn fcm_sends(fcm: &MockServer) -> usize {
    fcm.received_requests().await.unwrap_or_default().len()
}

const PUSH_PROJECT: &str = "medico24-test";

#[tokio::test]
async fn no_outbox_event_is_lost_when_fcm_or_postgres_fail() {
    let db = TestDb::new().await;
    let (db_proxy, database_url) = FaultProxy::for_url(db.url(), 5432).await;
    let fcm = MockServer::start().await;
    let (fcm_proxy, fcm_url) = FaultProxy::for_url(&fcm.uri(), 80).await;
    let app = spawn_app_with_db(db, |vars| {
        let token_url = vars["GOOGLE_OAUTH_TOKEN_URL"].clone();
        vars.insert(
            "FIREBASE_CONFIG_JSON".into(),
            FirebaseKeys::shared().service_account_json(PUSH_PROJECT, &token_url),
        );
        vars.insert("FCM_BASE_URL".into(), fcm_url);
        vars.insert("FCM_MAX_RETRIES".into(), "3".into());
        vars.insert("FCM_BACKOFF_BASE_MS".into(), "1".into());
        vars.insert("WORKERS_ENABLED".into(), "false".into());
        vars.insert("DATABASE_URL".into(), database_url);
        vars.insert("DATABASE_POOL_TIMEOUT_SECONDS".into(), "1".into());
        vars.insert("RATE_LIMIT_PER_MINUTE".into(), "100000".into());
    })
    .await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path(FakeFirebase::TOKEN_PATH))
        .respond_with(oauth_token_response("ya29.fault-token", 3599))
        .mount(&app.firebase.server)
        .await;
    mount_certs(&app).await;
    with_directory(&app).await;
    let patient = login(&app, "uid-outbox-pat", "outbox-pat@example.com").await;
    for (token, platform) in DEVICES.iter().zip(["android", "web"]) {
        app.db
            .execute(&format!(
                "INSERT INTO push_tokens (user_id, fcm_token, platform) VALUES ('{}', '{token}', '{platform}')",
                patient.id
            ))
            .await;
    }

    // 1. FCM answers 503 and 500 for a while (three failures per device, within the three
    //    retries of every message), then 200: every delivery ends `sent`.
    for token in DEVICES {
        fcm_fails_then_succeeds(
            &fcm,
            token,
            vec![
                fcm_error(503, "UNAVAILABLE", None),
                fcm_error(500, "INTERNAL", None),
                ResponseTemplate::new(503),
            ],
        )
        .await;
    }
    let mut flaky = Vec::new();
    for hours in 0..4 {
        flaky.push(book_at(&app, &patient, hours).await);
    }
    let tick = run_once(&app.state).await.unwrap();
    assert_eq!((tick.outbox.claimed, tick.outbox.processed), (4, 4));
    assert_eq!(
        deliveries_of(&app, &flaky, "sent").await,
        8,
        "every delivery sent after retries"
    );
    assert_eq!(
        fcm_sends(&fcm).await,
        8 + 6,
        "eight messages and six retried failures"
    );

    // 2. PostgreSQL down while the worker runs: the pass fails and the event stays queued.
    let queued = vec![book_at(&app, &patient, 10).await];
    db_proxy.cut().await;
    assert!(run_once(&app.state).await.is_err(), "the pass cannot claim");
    db_proxy.restore();
    poll_until(&app, "/api/v1/health/ready", |status, _| {
        status == StatusCode::OK
    })
    .await;
    let tick = run_once(&app.state).await.unwrap();
    assert_eq!((tick.outbox.claimed, tick.outbox.processed), (1, 1));
    assert_eq!(deliveries_of(&app, &queued, "sent").await, 2);

    // 3. The worker loses PostgreSQL between the commit of the deliveries and the record of
    //    their outcome (FCM is held until the database is gone): the deliveries stay `pending`
    //    and the recovery sweep sends them once they are five minutes old.
    let stranded = vec![
        book_at(&app, &patient, 20).await,
        book_at(&app, &patient, 21).await,
    ];
    fcm_proxy.cut().await; // drops the app's idle keep-alive connections to FCM
    fcm_proxy.stall();
    let held_before = fcm_proxy.connections();
    let state = app.state.clone();
    let pass = tokio::spawn(async move { run_once(&state).await.map(|tick| tick.outbox) });
    let deadline = tokio::time::Instant::now() + RECOVERY;
    while fcm_proxy.connections() == held_before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker never called FCM"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    db_proxy.cut().await;
    fcm_proxy.restore();
    let outcome = tokio::time::timeout(Duration::from_secs(60), pass)
        .await
        .expect("the pass ends")
        .expect("the pass does not panic");
    if let Ok(report) = outcome {
        assert_eq!(
            (report.claimed, report.processed),
            (2, 2),
            "committed before the cut"
        );
    }
    db_proxy.restore();
    poll_until(&app, "/api/v1/health/ready", |status, _| {
        status == StatusCode::OK
    })
    .await;
    assert_eq!(
        deliveries_of(&app, &stranded, "pending").await,
        4,
        "outcomes could not be recorded"
    );
    let tick = run_once(&app.state).await.unwrap();
    assert_eq!(tick.recovered, 0, "too recent for the sweep");
    app.db
        .execute(
            "UPDATE notifications SET sent_at = now() - interval '6 minutes' WHERE status = 'sent'",
        )
        .await;
    let tick = run_once(&app.state).await.unwrap();
    assert_eq!(tick.recovered, 2, "both stranded notifications resumed");
    assert_eq!(deliveries_of(&app, &stranded, "sent").await, 4);
    assert_eq!(
        fcm_sends(&fcm).await,
        14 + 2 + 4 + 4,
        "at least once: the stranded messages reached FCM before the cut and again after the sweep"
    );

    // Nothing lost: one processed event per booking, one notification per event, one delivery
    // per device, none left pending or failed.
    let booked = flaky.len() + queued.len() + stranded.len();
    let count = |sql: &'static str| app.db.count(sql);
    assert_eq!(
        count("SELECT count(*) AS n FROM appointments").await,
        i64::try_from(booked).unwrap()
    );
    assert_eq!(
        count("SELECT count(*) AS n FROM notification_outbox WHERE processed_at IS NOT NULL AND notification_id IS NOT NULL").await,
        i64::try_from(booked).unwrap()
    );
    assert_eq!(unpaired_rows(&app).await, (0, 0));
    assert_eq!(
        count("SELECT count(*) AS n FROM notifications n JOIN notification_outbox o ON o.notification_id = n.id").await,
        i64::try_from(booked).unwrap()
    );
    assert_eq!(
        count("SELECT count(*) AS n FROM notification_deliveries WHERE delivery_status = 'sent'")
            .await,
        i64::try_from(booked * DEVICES.len()).unwrap()
    );
    assert_eq!(
        count("SELECT count(*) AS n FROM notification_deliveries").await,
        i64::try_from(booked * DEVICES.len()).unwrap()
    );
    assert_eq!(
        count("SELECT count(*) AS n FROM notifications WHERE status <> 'delivered'").await,
        0
    );
}

#[tokio::test]
async fn a_statement_running_past_the_statement_timeout_answers_503_and_the_pool_recovers() {
    use diesel_async::SimpleAsyncConnection;
    let app = spawn_app_with(|vars| {
        vars.insert("DATABASE_STATEMENT_TIMEOUT_MS".into(), "300".into());
    })
    .await;
    // The open-now listing is never cached, so every request reaches PostgreSQL.
    let path = "/api/v1/pharmacies?open_now=true";
    let (status, body) = status_json(app.get(path).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Another session holds a lock the listing must wait for: the wait counts towards the
    // statement's time, so PostgreSQL cancels it after 300 ms.
    let mut locker = app.db.connect().await;
    locker
        .batch_execute("BEGIN; LOCK TABLE pharmacies IN ACCESS EXCLUSIVE MODE;")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let (status, body) = status_json(app.get(path).await).await;
    let waited = started.elapsed();
    assert_unavailable(
        status,
        &body,
        "Service temporarily unavailable",
        "locked listing",
    );
    assert!(
        waited < Duration::from_secs(5),
        "cancelled by the statement timeout, not the pool: {waited:?}"
    );
    locker.batch_execute("ROLLBACK").await.unwrap();

    // The same pooled connections serve the next requests.
    for _ in 0..5 {
        let (status, body) = status_json(app.get(path).await).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pooled_connection_outlives_the_runtime_that_asked_for_it() {
    // During a graceful shutdown the HTTP workers' runtimes stop before the background workers;
    // a connection opened on one of them must keep working wherever it is in use.
    use diesel::sql_types::Integer;
    use diesel_async::RunQueryDsl;

    let db = TestDb::new().await;
    let database = db.pool(1);
    let (opened_tx, opened_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let opener = database.clone();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // The pool's only connection is opened from this runtime.
        runtime.block_on(opener.ping()).unwrap();
        opened_tx.send(()).unwrap();
        let _ = stop_rx.recv();
        drop(runtime);
    });
    opened_rx.await.unwrap();
    let mut conn = database.conn().await.unwrap();
    stop_tx.send(()).unwrap();
    tokio::task::spawn_blocking(move || thread.join().unwrap())
        .await
        .unwrap();

    let one = diesel::select(diesel::dsl::sql::<Integer>("1"))
        .get_result::<i32>(&mut conn)
        .await
        .expect("the connection still answers after the runtime that opened it stopped");
    assert_eq!(one, 1);
    assert_eq!(database.status().max, 1);
}
