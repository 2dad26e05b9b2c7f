//! End-to-end flows and fault drills through the local copy of the production topology: HAProxy
//! → three API replicas → PgBouncer (transaction mode) → TLS-only primary with a streaming read
//! replica, and a TLS Redis Cluster (`deploy/topology/`).
//!
//! Ignored in the ordinary run: `cargo xtask topology test` starts the topology and runs them
//! (one at a time: the drills stop and start parts of it).

use std::process::Command;
use std::time::{Duration, Instant};

use diesel::sql_types::BigInt;
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use medico24_postgres::PgConnectOptions;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

struct Topology {
    lb: String,
    script: String,
    direct: String,
    read: String,
    project: String,
    api_ports: Vec<u16>,
    client: reqwest::Client,
}

fn topology() -> Topology {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run these through `cargo xtask topology test`")
        })
    };
    Topology {
        lb: var("MEDICO24_TOPOLOGY_LB_URL"),
        script: var("MEDICO24_TOPOLOGY_SCRIPT"),
        direct: var("MEDICO24_TOPOLOGY_DIRECT_URL"),
        read: var("MEDICO24_TOPOLOGY_READ_URL"),
        project: var("MEDICO24_TOPOLOGY_FIREBASE_PROJECT"),
        api_ports: var("MEDICO24_TOPOLOGY_API_PORTS")
            .split_whitespace()
            .map(|port| port.parse().unwrap())
            .collect(),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .unwrap(),
    }
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

struct Session {
    id: String,
    access: String,
    refresh: String,
}

impl Topology {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.lb)
    }

    /// Runs a subcommand of the topology script (a drill step).
    fn script(&self, args: &[&str]) {
        let status = Command::new("bash")
            .arg(&self.script)
            .args(args)
            .status()
            .unwrap();
        assert!(status.success(), "topology.sh {args:?} failed");
    }

    async fn sql(&self, url: &str) -> AsyncPgConnection {
        PgConnectOptions::parse(url)
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    async fn count(&self, url: &str, sql: &str) -> i64 {
        let mut conn = self.sql(url).await;
        let row: Count = diesel::sql_query(sql).get_result(&mut conn).await.unwrap();
        row.n
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, self.url(path))
            .header("X-Forwarded-For", random_client());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn login(&self, email: &str) -> Session {
        let uid = format!("uid-{}", Uuid::new_v4().simple());
        let token = medico24_server::auth::dev_token::emulator_id_token(
            &self.project,
            &uid,
            email,
            None,
            chrono::Utc::now(),
            chrono::Duration::minutes(10),
        );
        let (status, body) = self
            .call(
                Method::POST,
                "/api/v1/auth/firebase/verify",
                None,
                Some(json!({ "id_token": token })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login: {body}");
        Session {
            id: body["user"]["id"].as_str().unwrap().to_owned(),
            access: body["access_token"].as_str().unwrap().to_owned(),
            refresh: body["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    async fn refresh(&self, session: &mut Session) -> StatusCode {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/v1/auth/refresh",
                None,
                Some(json!({ "refresh_token": session.refresh })),
            )
            .await;
        if status == StatusCode::OK {
            session.access = body["access_token"].as_str().unwrap().to_owned();
            session.refresh = body["refresh_token"].as_str().unwrap().to_owned();
        }
        status
    }

    /// `medico24_db_replica_fallbacks_total{reason}` summed over the replicas' /metrics.
    async fn fallbacks(&self, reason: &str) -> f64 {
        let mut total = 0.0;
        for port in &self.api_ports {
            let Ok(response) = self
                .client
                .get(format!("http://127.0.0.1:{port}/metrics"))
                .send()
                .await
            else {
                continue;
            };
            let text = response.text().await.unwrap_or_default();
            let prefix = format!("medico24_db_replica_fallbacks_total{{reason=\"{reason}\"}} ");
            total += text
                .lines()
                .filter_map(|line| line.strip_prefix(&prefix))
                .filter_map(|value| value.trim().parse::<f64>().ok())
                .sum::<f64>();
        }
        total
    }
}

/// A client address of its own for each request (the benchmarking range, 198.18.0.0/15), so
/// the per-client rate limits, which the replicas share, do not throttle the drills' load;
/// HAProxy appends the real peer, a trusted proxy.
fn random_client() -> String {
    let [a, b, ..] = *Uuid::new_v4().as_bytes();
    format!("198.18.{a}.{b}")
}

const NEARBY: &str =
    "/api/v1/pharmacies/search/nearby?latitude=19.076&longitude=72.8777&radius_km=5";

#[tokio::test]
#[ignore = "needs the topology: cargo xtask topology test"]
async fn topology_a_session_refreshes_on_every_replica_and_logout_ends_it() {
    let t = topology();
    let mut session = t.login("refresh@example.com").await;
    // Round robin over three replicas: six refreshes visit each one twice.
    for round in 0..6 {
        assert_eq!(
            t.refresh(&mut session).await,
            StatusCode::OK,
            "round {round}"
        );
    }
    let (status, _) = t
        .call(Method::GET, "/api/v1/users/me", Some(&session.access), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = t
        .call(
            Method::POST,
            "/api/v1/auth/logout",
            Some(&session.access),
            Some(json!({ "refresh_token": session.refresh })),
        )
        .await;
    assert!(status.is_success(), "logout: {status}");
    assert_eq!(t.refresh(&mut session).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
#[ignore = "needs the topology: cargo xtask topology test"]
async fn topology_thirty_concurrent_bookings_of_one_slot_give_one_appointment_and_one_notification()
{
    let t = topology();
    let doctor = Uuid::new_v4();
    let mut conn = t.sql(&t.direct).await;
    conn.batch_execute(&format!(
        "INSERT INTO doctors (id, email, full_name, license_number, specialization) \
         VALUES ('{doctor}', 'dr-{doctor}@example.com', 'Dr Race', 'LIC-{doctor}', 'Cardiology')"
    ))
    .await
    .unwrap();
    let patient = t.login(&format!("race-{doctor}@example.com")).await;
    let body = json!({
        "doctor_name": "Dr Race",
        "clinic_name": "Race Clinic",
        "appointment_at": "2031-05-01T10:00:00Z",
        "appointment_end_at": null,
        "reason": "Check-up",
        "contact_phone": "+91 98765 43210",
        "notes": null,
        "doctor_id": doctor.to_string(),
        "clinic_id": null,
        "source": null
    });
    let attempts = (0..30).map(|_| {
        t.call(
            Method::POST,
            "/api/v1/appointments/",
            Some(&patient.access),
            Some(body.clone()),
        )
    });
    let statuses: Vec<StatusCode> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(|(status, _)| status)
        .collect();
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let conflicts = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((created, conflicts), (1, 29), "{statuses:?}");

    // Every replica runs the outbox worker; the event is processed exactly once.
    let processed = format!(
        "SELECT count(*) AS n FROM notification_outbox WHERE user_id = '{}' AND processed_at IS NOT NULL",
        patient.id
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while t.count(&t.direct, &processed).await < 1 {
        assert!(
            Instant::now() < deadline,
            "the outbox event was not processed"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(t.count(&t.direct, &processed).await, 1);
    assert_eq!(
        t.count(
            &t.direct,
            &format!(
                "SELECT count(*) AS n FROM notifications WHERE user_id = '{}'",
                patient.id
            )
        )
        .await,
        1
    );
}

#[tokio::test]
#[ignore = "needs the topology: cargo xtask topology test"]
async fn topology_the_rate_limit_is_shared_by_the_replicas() {
    let t = topology();
    // Its own client address (HAProxy appends the real one, a trusted proxy).
    let client_ip = format!("203.0.113.{}", 1 + Uuid::new_v4().as_bytes()[0] % 250);
    for _attempt in 0..2 {
        let minute = chrono::Utc::now().timestamp() / 60;
        let mut statuses = Vec::new();
        for _ in 0..25 {
            let response = t
                .client
                .post(t.url("/api/v1/auth/refresh"))
                .header("X-Forwarded-For", &client_ip)
                .json(&json!({ "refresh_token": "not-a-token" }))
                .send()
                .await
                .unwrap();
            statuses.push(response.status());
        }
        if chrono::Utc::now().timestamp() / 60 != minute {
            continue; // The window turned over mid-way: count again in the new one.
        }
        let limited = statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count();
        // 20 per minute for the auth policy, counted once for all three replicas.
        assert_eq!(limited, 5, "{statuses:?}");
        return;
    }
    panic!("two minute windows turned over during the test");
}

#[tokio::test]
#[ignore = "needs the topology: cargo xtask topology test"]
async fn topology_nearby_searches_are_served_by_the_read_replica() {
    let t = topology();
    let scans = "SELECT coalesce(sum(idx_scan), 0)::int8 AS n FROM pg_stat_user_tables \
                 WHERE relname = 'pharmacy_locations'";
    let fallbacks = async || t.fallbacks("unavailable").await + t.fallbacks("lagging").await;
    // The replicas check the read replica once a second: after a drill that stopped it, reads
    // return to it within a few seconds. Two rounds over the three replicas without a fallback
    // mean all of them read from it again.
    let warm_up = Instant::now() + Duration::from_secs(20);
    loop {
        let before = fallbacks().await;
        for _ in 0..6 {
            t.call(Method::GET, NEARBY, None, None).await;
        }
        if fallbacks().await == before {
            break;
        }
        assert!(
            Instant::now() < warm_up,
            "reads never returned to the replica"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // A search that cannot use the replica is counted as a fallback: none may be, and the
    // replica's own statistics show the searches.
    let replica_before = t.count(&t.read, scans).await;
    let fallbacks_before = fallbacks().await;
    for _ in 0..20 {
        let (status, body) = t.call(Method::GET, NEARBY, None, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(
        fallbacks().await,
        fallbacks_before,
        "a search fell back to the primary"
    );
    // PostgreSQL publishes an idle connection's statistics within about ten seconds.
    let deadline = Instant::now() + Duration::from_secs(25);
    loop {
        let replica = t.count(&t.read, scans).await - replica_before;
        if replica >= 20 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the replica ran {replica} of 20 searches"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// GETs through the balancer from `workers` loops until `stop`; every answer that is not a
/// success, and every transport error, is returned.
async fn load(t: &Topology, workers: usize, run_for: Duration) -> (usize, Vec<String>) {
    let stop = Instant::now() + run_for;
    let loops = (0..workers).map(|worker| async move {
        let mut done = 0;
        let mut errors = Vec::new();
        let paths = [
            NEARBY,
            "/api/v1/pharmacies/?page=1&page_size=5",
            "/api/v1/health",
        ];
        while Instant::now() < stop {
            let path = paths[(done + worker) % paths.len()];
            let request = t
                .client
                .get(t.url(path))
                .header("X-Forwarded-For", random_client());
            match request.send().await {
                Ok(response) if response.status().is_success() => {}
                Ok(response) => errors.push(format!("{path}: {}", response.status())),
                Err(error) => errors.push(format!("{path}: {error}")),
            }
            done += 1;
        }
        (done, errors)
    });
    let results = futures_util::future::join_all(loops).await;
    let total = results.iter().map(|(done, _)| done).sum();
    let errors = results.into_iter().flat_map(|(_, errors)| errors).collect();
    (total, errors)
}

#[tokio::test]
#[ignore = "needs the topology: cargo xtask topology test"]
async fn topology_drill_a_replica_killed_under_load_costs_no_client_error() {
    let t = topology();
    let victim = t.api_ports[1].to_string();
    let (load_result, ()) = tokio::join!(load(&t, 16, Duration::from_secs(8)), async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let script = t.script.clone();
        let victim = victim.clone();
        tokio::task::spawn_blocking(move || {
            let status = Command::new("bash")
                .arg(script)
                .args(["kill-api", &victim])
                .status()
                .unwrap();
            assert!(status.success());
        })
        .await
        .unwrap();
    });
    let (total, errors) = load_result;
    // Bring the replica back for the drills that follow.
    t.script(&["api-up"]);
    assert!(total > 100, "only {total} requests were made");
    assert!(
        errors.is_empty(),
        "{} of {total} failed: {errors:?}",
        errors.len()
    );
}

#[tokio::test]
#[ignore = "needs the topology: cargo xtask topology test"]
async fn topology_drill_a_restarted_redis_node_costs_at_most_clean_503s_and_sessions_survive() {
    let t = topology();
    let mut sessions = Vec::new();
    for i in 0..6 {
        sessions.push(
            t.login(&format!("redis-drill-{i}-{}@example.com", Uuid::new_v4()))
                .await,
        );
    }
    let restart = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let script = t.script.clone();
        tokio::task::spawn_blocking(move || {
            let status = Command::new("bash")
                .arg(script)
                .args(["restart-redis", "57002"])
                .status()
                .unwrap();
            assert!(status.success());
        })
        .await
        .unwrap();
    };
    // Per session, the answers to its refreshes in order; the cached reads apart.
    let traffic = async {
        let mut answers: Vec<Vec<StatusCode>> = vec![Vec::new(); sessions.len()];
        let mut reads = Vec::new();
        let stop = Instant::now() + Duration::from_secs(6);
        while Instant::now() < stop {
            for (session, answers) in sessions.iter_mut().zip(&mut answers) {
                // A session ended by reuse detection (below) is not refreshed again.
                if answers.last() != Some(&StatusCode::UNAUTHORIZED) {
                    answers.push(t.refresh(session).await);
                }
            }
            let (status, _) = t
                .call(
                    Method::GET,
                    "/api/v1/pharmacies/?page=1&page_size=5",
                    None,
                    None,
                )
                .await;
            reads.push(status);
        }
        (answers, reads)
    };
    let ((), (answers, reads)) = tokio::join!(restart, traffic);
    // Reads degrade to the database (caches fail open): always 200.
    assert!(reads.iter().all(|s| *s == StatusCode::OK), "{reads:?}");
    for answers in &answers {
        // Only clean answers. A 503 may come after Redis ran the rotation and before its answer
        // arrived: the client keeps its old token, the next refresh presents it, and reuse
        // detection ends that session (401), as it must for a replayed token. A 401 without a
        // 503 before it would be a session lost by the restart itself.
        assert!(
            answers.iter().all(|s| [
                StatusCode::OK,
                StatusCode::SERVICE_UNAVAILABLE,
                StatusCode::UNAUTHORIZED
            ]
            .contains(s)),
            "{answers:?}"
        );
        if let Some(first_401) = answers.iter().position(|s| *s == StatusCode::UNAUTHORIZED) {
            assert!(
                answers[..first_401].contains(&StatusCode::SERVICE_UNAVAILABLE),
                "a session ended without a lost answer: {answers:?}"
            );
        }
    }
    // The node kept its data (append-only file): every session that was not ended by reuse
    // detection refreshes again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut survivors = 0;
    for (session, answers) in sessions.iter_mut().zip(&answers) {
        if answers.last() == Some(&StatusCode::UNAUTHORIZED) {
            continue;
        }
        let status = t.refresh(session).await;
        assert_eq!(status, StatusCode::OK, "{answers:?}");
        survivors += 1;
    }
    assert!(survivors > 0, "{answers:?}");
}

#[tokio::test]
#[ignore = "needs the topology: cargo xtask topology test"]
async fn topology_drill_a_stopped_read_replica_sends_reads_to_the_primary() {
    let t = topology();
    let before = t.fallbacks("unavailable").await;
    t.script(&["stop-replica"]);
    let mut statuses = Vec::new();
    for _ in 0..30 {
        statuses.push(t.call(Method::GET, NEARBY, None, None).await.0);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = t.fallbacks("unavailable").await;
    t.script(&["start-replica"]);
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert!(
        after > before,
        "no fallback was counted ({before} → {after})"
    );
}

/// Sends `head` on a fresh connection to the load balancer and returns the raw answer.
async fn raw_exchange(t: &Topology, head: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = t.lb.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
#[ignore = "needs the topology: cargo xtask topology test"]
async fn topology_answers_the_http_server_gives_before_the_application_runs_arrive_as_json() {
    let t = topology();
    // The replicas' HTTP server refuses more than 96 headers before any of our code runs, with
    // an empty 431; HAProxy accepts up to 101 and adds X-Forwarded-For, X-Forwarded-Proto and
    // (when absent) X-Request-ID, so 92 to 97 fillers pass HAProxy and fail at the replica.
    // Through the load balancer every such answer is the JSON envelope with the request id,
    // nosniff and no-store.
    for (count, method, request_id) in [
        (92, "GET", Some("probe-92")),
        (95, "POST", None),
        (97, "DELETE", Some("probe-\"quoted\"")),
        (94, "GET", None),
    ] {
        let mut head = format!(
            "{method} /api/v1/appointments/?page=1 HTTP/1.1\r\nHost: lb\r\nConnection: close\r\n"
        );
        if let Some(id) = request_id {
            head.push_str(&format!("X-Request-ID: {id}\r\n"));
        }
        for i in 0..count {
            head.push_str(&format!("X-Filler-{i}: x\r\n"));
        }
        head.push_str("Content-Length: 0\r\n\r\n");
        let answer = raw_exchange(&t, &head).await;
        let (head_part, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        let lower = head_part.to_ascii_lowercase();
        assert!(
            head_part.starts_with("HTTP/1.1 431"),
            "{count} headers: {answer}"
        );
        assert!(lower.contains("content-type: application/json"), "{answer}");
        assert!(
            lower.contains("x-content-type-options: nosniff"),
            "{answer}"
        );
        assert!(lower.contains("cache-control: no-store"), "{answer}");
        let envelope: Value =
            serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"));
        assert_eq!(envelope["error"], "bad_request", "{envelope}");
        assert_eq!(envelope["path"], "/api/v1/appointments/", "{envelope}");
        let id = envelope["request_id"].as_str().unwrap();
        match request_id {
            Some(sent) => assert_eq!(id, sent),
            None => assert_eq!(Uuid::parse_str(id).unwrap().get_version_num(), 4),
        }
        assert!(
            lower.contains(&format!("x-request-id: {}", id.to_ascii_lowercase())),
            "{answer}"
        );
    }
    // The application's own JSON errors pass through untouched.
    let answer = raw_exchange(
        &t,
        "GET /api/v1/no-such-route HTTP/1.1\r\nHost: lb\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    assert!(answer.contains("\"error\":\"not_found\""), "{answer}");
}
