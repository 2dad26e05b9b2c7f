//! Live events (`GET /api/v1/events`, Server-Sent Events) against real PostgreSQL and Redis:
//! appointment changes and notifications reach their user's stream and nobody else's, resuming
//! with `Last-Event-ID`, single-use tickets, caps, the stream's end on token expiry,
//! deactivation and shutdown, and delivery across two app instances.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use medico24_testkit::{TestApp, spawn_app_with};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{call, login, login_admin, mount_certs, status_json};

const EVENTS: &str = "/api/v1/events";
const TICKET: &str = "/api/v1/events/ticket";

/// One SSE event as read off the wire.
#[derive(Debug)]
pub(crate) struct Event {
    pub(crate) id: String,
    pub(crate) event: String,
    pub(crate) data: Value,
}

/// What a stream produced next.
#[derive(Debug)]
pub(crate) enum Next {
    Event(Event),
    Retry(String),
    Ended,
    Quiet,
}

/// An open stream, read incrementally.
pub(crate) struct Sse {
    response: reqwest::Response,
    buffer: String,
}

impl Sse {
    pub(crate) async fn open(
        app: &TestApp,
        query: &str,
        token: Option<&str>,
        last_id: Option<&str>,
    ) -> Sse {
        let response = open(app, query, token, last_id).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Sse {
            response,
            buffer: String::new(),
        }
    }

    /// The next event or `retry:` frame, skipping comments; `Quiet` when nothing came within
    /// `within`, `Ended` when the server closed the stream.
    pub(crate) async fn next(&mut self, within: Duration) -> Next {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let mut event = Event {
                    id: String::new(),
                    event: String::new(),
                    data: Value::Null,
                };
                let mut retry = None;
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        event.id = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        event.event = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        event.data = serde_json::from_str(v).unwrap();
                    } else if let Some(v) = line.strip_prefix("retry: ") {
                        retry = Some(v.to_owned());
                    }
                }
                if let Some(retry) = retry {
                    return Next::Retry(retry);
                }
                if !event.event.is_empty() {
                    return Next::Event(event);
                }
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return Next::Quiet,
                Ok(Ok(Some(chunk))) => self.buffer.push_str(std::str::from_utf8(&chunk).unwrap()),
                Ok(Ok(None) | Err(_)) => return Next::Ended,
            }
        }
    }

    async fn event(&mut self, within: Duration) -> Event {
        match self.next(within).await {
            Next::Event(event) => event,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    /// Waits for the server to close the stream (events before are a failure).
    async fn ends_within(&mut self, within: Duration) {
        match self.next(within).await {
            Next::Ended => {}
            other => panic!("expected the stream to end, got {other:?}"),
        }
    }
}

async fn open(
    app: &TestApp,
    query: &str,
    token: Option<&str>,
    last_id: Option<&str>,
) -> reqwest::Response {
    let mut request = app.client.get(app.url(&format!("{EVENTS}{query}")));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(id) = last_id {
        request = request.header("Last-Event-ID", id);
    }
    request.send().await.unwrap()
}

fn base(vars: &mut HashMap<String, String>) {
    vars.insert("RATE_LIMIT_PER_MINUTE".into(), "100000".into());
    vars.insert("RATE_LIMIT_AUTH_PER_MINUTE".into(), "100000".into());
    vars.insert("RATE_LIMIT_ADMIN_SEND_PER_MINUTE".into(), "100000".into());
    vars.insert("EVENTS_HEARTBEAT_MS".into(), "200".into());
}

async fn spawn(customize: impl FnOnce(&mut HashMap<String, String>)) -> TestApp {
    let app = spawn_app_with(|vars| {
        base(vars);
        customize(vars);
    })
    .await;
    mount_certs(&app).await;
    app
}

/// Books an appointment for `token` and returns its id.
pub(crate) async fn book(app: &TestApp, token: &str, hour: u32) -> String {
    let (status, body) = status_json(
        call(
            app,
            Method::POST,
            "/api/v1/appointments/",
            Some(token),
            Some(json!({
                "doctor_name": "Dr Mehta",
                "appointment_at": format!("2030-01-01T{hour:02}:00:00Z"),
                "reason": "Checkup",
                "contact_phone": "+91 98765 43210",
            })),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

pub(crate) async fn set_status(app: &TestApp, token: &str, id: &str, status: &str) {
    let (code, body) = status_json(
        call(
            app,
            Method::PATCH,
            &format!("/api/v1/appointments/{id}/status"),
            Some(token),
            Some(json!({"status": status})),
        )
        .await,
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{body}");
}

const SOON: Duration = Duration::from_secs(5);
/// Several heartbeats of the test apps (200 ms): long enough for a stray event to show.
const QUIET: Duration = Duration::from_millis(800);

#[tokio::test]
async fn an_admin_status_change_reaches_the_patients_stream_and_no_other() {
    let app = spawn(|_| {}).await;
    let patient = login(&app, "uid-ev-pat", "ev-pat@example.com").await;
    let other = login(&app, "uid-ev-other", "ev-other@example.com").await;
    let admin = login_admin(&app, "uid-ev-adm", "ev-adm@example.com").await;
    let id = book(&app, &patient.access, 10).await;

    let mut mine = Sse::open(&app, "", Some(&patient.access), None).await;
    let mut theirs = Sse::open(&app, "", Some(&other.access), None).await;
    set_status(&app, &admin.access, &id, "confirmed").await;

    let event = mine.event(SOON).await;
    assert_eq!(event.event, "appointment.updated");
    assert_eq!(
        event.data,
        json!({
            "appointment_id": id,
            "status": "confirmed",
            "appointment_at": "2030-01-01T10:00:00Z",
            "changed": ["status"],
        })
    );
    assert!(!event.id.is_empty());
    assert!(matches!(theirs.next(QUIET).await, Next::Quiet));
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("medico24_event_streams_open 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_notification_sent_to_the_user_arrives_as_it_is_listed_in_the_history() {
    let app = spawn(|_| {}).await;
    let patient = login(&app, "uid-ev-n", "ev-n@example.com").await;
    let admin = login_admin(&app, "uid-ev-nadm", "ev-nadm@example.com").await;
    let mut stream = Sse::open(&app, "", Some(&patient.access), None).await;
    let (status, body) = status_json(
        call(
            &app,
            Method::POST,
            "/api/v1/notifications/send",
            Some(&admin.access),
            Some(json!({"user_id": patient.id, "title": "Hi", "body": "There"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let event = stream.event(SOON).await;
    assert_eq!(event.event, "notification.created");
    let (_, history) = status_json(
        call(
            &app,
            Method::GET,
            "/api/v1/notifications/history",
            Some(&patient.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(event.data, history["notifications"][0]);
}

#[tokio::test]
async fn resuming_with_the_last_event_id_replays_exactly_the_missed_events() {
    let app = spawn(|_| {}).await;
    let patient = login(&app, "uid-ev-r", "ev-r@example.com").await;
    let admin = login_admin(&app, "uid-ev-radm", "ev-radm@example.com").await;
    let id = book(&app, &patient.access, 11).await;

    let mut stream = Sse::open(&app, "", Some(&patient.access), None).await;
    set_status(&app, &admin.access, &id, "confirmed").await;
    let first = stream.event(SOON).await;
    drop(stream);

    // Missed while away.
    set_status(&app, &admin.access, &id, "completed").await;
    let second_booking = book(&app, &patient.access, 12).await;
    set_status(&app, &patient.access, &second_booking, "cancelled").await;

    for (query, header) in [
        (String::new(), Some(first.id.as_str())),
        (format!("?last_event_id={}", first.id), None),
    ] {
        let mut resumed = Sse::open(&app, &query, Some(&patient.access), header).await;
        let a = resumed.event(SOON).await;
        let b = resumed.event(SOON).await;
        assert_eq!(a.data["appointment_id"], json!(id));
        assert_eq!(a.data["status"], "completed");
        assert_eq!(b.data["appointment_id"], json!(second_booking));
        assert_eq!(b.data["status"], "cancelled");
        assert!(
            first.id < a.id && a.id < b.id,
            "{} {} {}",
            first.id,
            a.id,
            b.id
        );
        assert!(matches!(resumed.next(QUIET).await, Next::Quiet));
    }

    // An id that is not an event id is a 422 naming where it came from.
    let (status, body) =
        status_json(open(&app, "", Some(&patient.access), Some("yesterday")).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["details"][0]["loc"],
        json!(["header", "last-event-id"])
    );
    let (status, body) =
        status_json(open(&app, "?last_event_id=x-1", Some(&patient.access), None).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["details"][0]["loc"], json!(["query", "last_event_id"]));
}

#[tokio::test]
async fn a_ticket_opens_one_stream_once_and_expires() {
    let app = spawn(|vars| {
        vars.insert("EVENTS_TICKET_TTL_SECONDS".into(), "1".into());
    })
    .await;
    let patient = login(&app, "uid-ev-t", "ev-t@example.com").await;

    let (status, body) = status_json(open(&app, "", None, None).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _) = status_json(call(&app, Method::POST, TICKET, None, None).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, ticket) =
        status_json(call(&app, Method::POST, TICKET, Some(&patient.access), None).await).await;
    assert_eq!(status, StatusCode::OK, "{ticket}");
    assert_eq!(ticket["expires_in"], 1);
    let ticket = ticket["ticket"].as_str().unwrap().to_owned();
    assert_eq!(ticket.len(), 64);
    let query = format!("?ticket={ticket}");
    let _stream = Sse::open(&app, &query, None, None).await;
    let (status, body) = status_json(open(&app, &query, None, None).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "second use: {body}");
    assert_eq!(body["detail"], "Invalid or expired ticket");
    let (status, _) = status_json(open(&app, "?ticket=made-up", None, None).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (_, expiring) =
        status_json(call(&app, Method::POST, TICKET, Some(&patient.access), None).await).await;
    // The ticket's time to live is the only thing waited for.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let query = format!("?ticket={}", expiring["ticket"].as_str().unwrap());
    let (status, _) = status_json(open(&app, &query, None, None).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "expired ticket");
}

#[tokio::test]
async fn open_streams_are_capped_per_user_and_per_process() {
    let app = spawn(|vars| {
        vars.insert("EVENTS_MAX_STREAMS_PER_USER".into(), "2".into());
        vars.insert("EVENTS_MAX_STREAMS".into(), "3".into());
    })
    .await;
    let a = login(&app, "uid-ev-ca", "ev-ca@example.com").await;
    let b = login(&app, "uid-ev-cb", "ev-cb@example.com").await;
    let first = Sse::open(&app, "", Some(&a.access), None).await;
    let _second = Sse::open(&app, "", Some(&a.access), None).await;
    let (status, body) = status_json(open(&app, "", Some(&a.access), None).await).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["detail"], "Too many open event streams");
    assert_eq!(body["error"], "rate_limited", "{body}");

    let _third = Sse::open(&app, "", Some(&b.access), None).await;
    let (status, body) = status_json(open(&app, "", Some(&b.access), None).await).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["detail"], "Event streams at capacity");

    // A closed stream frees its place (noticed at its next heartbeat at the latest).
    drop(first);
    let deadline = Instant::now() + SOON;
    loop {
        let response = open(&app, "", Some(&a.access), None).await;
        if response.status() == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "the place was never freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_stream_ends_when_the_access_token_expires() {
    let app = spawn(|vars| {
        vars.insert("ACCESS_TOKEN_EXPIRE_SECONDS".into(), "2".into());
    })
    .await;
    let patient = login(&app, "uid-ev-x", "ev-x@example.com").await;
    let started = Instant::now();
    let mut stream = Sse::open(&app, "", Some(&patient.access), None).await;
    stream.ends_within(Duration::from_secs(5)).await;
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_stream_ends_when_the_user_is_deactivated() {
    let app = spawn(|_| {}).await;
    let patient = login(&app, "uid-ev-d", "ev-d@example.com").await;
    let mut stream = Sse::open(&app, "", Some(&patient.access), None).await;
    let response = call(
        &app,
        Method::DELETE,
        "/api/v1/users/me",
        Some(&patient.access),
        None,
    )
    .await;
    assert!(response.status().is_success(), "{}", response.status());
    stream.ends_within(SOON).await;
}

#[tokio::test]
async fn a_graceful_shutdown_sends_retry_and_closes_the_stream() {
    let app = spawn(|vars| {
        vars.insert("EVENTS_RETRY_MS".into(), "1500".into());
    })
    .await;
    let patient = login(&app, "uid-ev-s", "ev-s@example.com").await;
    let mut stream = Sse::open(&app, "", Some(&patient.access), None).await;
    let stopping = tokio::time::timeout(SOON, app.stop());
    let (stopped, next) = tokio::join!(stopping, stream.next(SOON));
    assert!(stopped.is_ok(), "the server did not stop in time");
    match next {
        Next::Retry(ms) => assert_eq!(ms, "1500"),
        other => panic!("expected retry, got {other:?}"),
    }
    stream.ends_within(SOON).await;
}

#[tokio::test]
async fn an_event_produced_on_one_instance_reaches_a_stream_on_another_within_a_second() {
    let first = spawn(|_| {}).await;
    let database = first.db.url().to_owned();
    let prefix = first.redis.prefix().to_owned();
    let second = spawn(move |vars| {
        vars.insert("DATABASE_URL".into(), database);
        vars.insert("REDIS_KEY_PREFIX".into(), prefix);
        // Heartbeats (the safety net) slower than the bound: only the notice can deliver.
        vars.insert("EVENTS_HEARTBEAT_MS".into(), "30000".into());
    })
    .await;
    let patient = login(&first, "uid-ev-2", "ev-2@example.com").await;
    let admin = login_admin(&first, "uid-ev-2adm", "ev-2adm@example.com").await;
    let id = book(&first, &patient.access, 13).await;
    let mut stream = Sse::open(&second, "", Some(&patient.access), None).await;
    // The second instance's subscription is up once a notice published now reaches it: an
    // update on the first instance, repeated until one arrives (each is a real event).
    let mut statuses = ["confirmed", "completed"].into_iter();
    let mut arrived = None;
    while arrived.is_none() {
        let status = statuses
            .next()
            .expect("the second instance never heard a notice");
        let sent = Instant::now();
        set_status(&first, &admin.access, &id, status).await;
        if let Next::Event(event) = stream.next(Duration::from_secs(1)).await {
            arrived = Some((event, sent.elapsed()));
        }
    }
    let (event, took) = arrived.unwrap();
    assert_eq!(event.event, "appointment.updated");
    assert_eq!(event.data["appointment_id"], json!(id));
    assert!(took < Duration::from_secs(1), "{took:?}");
}
