//! Data-subject rights end to end: the export holds every category of the caller's data and
//! nothing of anyone else's; erasure leaves no trace of the user in any table, Redis key, log
//! line or metric, survives a worker dying mid-way, and lets the same Google account start
//! afresh; admin reads of others' data are audited.

use std::io::Write;
use std::sync::{Arc, Mutex};

use chrono::{Duration, SecondsFormat, Utc};
use diesel_async::SimpleAsyncConnection;
use medico24_firebase::testing::{fcm_send_path, fcm_sent};
use medico24_identity::PersonalDataStore;
use medico24_kernel::UserId;
use medico24_server::workers::run_once;
use medico24_testkit::{FirebaseKeys, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wiremock::{Mock, matchers};

use crate::fcm::{mount_oauth, with_fcm};
use crate::notifications::{rows, spawn};
use crate::support::{KID, PROJECT, Session, call, login_admin, status_json};

const EXPORT: &str = "/api/v1/users/me/export";
const ERASURE: &str = "/api/v1/users/me/erasure";

/// The personal data one test person leaves behind; every string is unique to the person.
struct Person {
    uid: String,
    email: String,
    name: String,
    phone: String,
    reason: String,
    notes: String,
    contact_phone: String,
    push_token: String,
    session: Session,
    appointments: Vec<String>,
}

impl Person {
    /// The strings that must never appear once the person is erased (or in logs at all).
    fn needles(&self) -> Vec<&str> {
        vec![
            &self.email,
            &self.name,
            &self.phone,
            &self.reason,
            &self.notes,
            &self.contact_phone,
            &self.push_token,
            &self.uid,
        ]
    }
}

/// An app with FCM answering every send, reminders off, and the given extra variables.
async fn app(extra: &[(&str, &str)]) -> TestApp {
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let app = spawn(|vars| {
        with_fcm(vars);
        vars.insert("RATE_LIMIT_EXPORT_PER_MINUTE".into(), "1000".into());
        for (k, v) in extra {
            vars.insert(k, v);
        }
    })
    .await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path(fcm_send_path(PROJECT)))
        .respond_with(fcm_sent(PROJECT, "ok"))
        .mount(&app.firebase.server)
        .await;
    mount_oauth(&app, 1).await;
    app
}

/// Signs in with a Google identity carrying `name`.
async fn sign_in(app: &TestApp, uid: &str, email: &str, name: &str) -> Session {
    let mut claims = FirebaseKeys::standard_claims(PROJECT, uid, email, Utc::now().timestamp());
    claims["name"] = json!(name);
    claims["picture"] = json!(format!("https://photos.example/{uid}.jpg"));
    let token = FirebaseKeys::shared().sign(claims, KID);
    let (status, body) = status_json(
        call(
            app,
            Method::POST,
            "/api/v1/auth/firebase/verify",
            None,
            Some(json!({ "id_token": token })),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    Session {
        id: body["user"]["id"].as_str().unwrap().to_owned(),
        access: body["access_token"].as_str().unwrap().to_owned(),
        refresh: body["refresh_token"].as_str().unwrap().to_owned(),
    }
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    status_json(call(app, method, path, Some(token), body).await).await
}

/// A person with a profile, two appointments (one deleted), a push token, preferences and the
/// notifications their bookings produced (sent through FCM by the worker).
async fn populate(app: &TestApp, tag: &str) -> Person {
    let digits: u32 = tag.bytes().map(u32::from).sum::<u32>() % 90_000 + 10_000;
    let uid = format!("firebase-uid-{tag}-{}", uuid::Uuid::new_v4().simple());
    let email = format!("patient.{tag}@privacy.example");
    let name = format!("Quintessa {tag} Varma");
    let session = sign_in(app, &uid, &email, &name).await;
    let phone = format!("+91 98111 {digits}");
    let (status, body) = send(
        app,
        Method::PATCH,
        "/api/v1/users/me",
        &session.access,
        Some(json!({ "phone": phone })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let reason = format!("Recurring migraine {tag} with aura");
    let notes = format!("Allergic to penicillin {tag}");
    let contact_phone = format!("+91 97222 {digits}");
    let mut appointments = Vec::new();
    for days in [3, 5] {
        let at = (Utc::now() + Duration::days(days)).to_rfc3339_opts(SecondsFormat::Secs, true);
        let (status, body) = send(
            app,
            Method::POST,
            "/api/v1/appointments/",
            &session.access,
            Some(
                json!({"doctor_name": "Dr Mehta", "clinic_name": "Lotus Clinic",
                        "appointment_at": at, "reason": reason, "notes": notes,
                        "contact_phone": contact_phone}),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        appointments.push(body["id"].as_str().unwrap().to_owned());
    }
    let (status, _) = send(
        app,
        Method::DELETE,
        &format!("/api/v1/appointments/{}", appointments[1]),
        &session.access,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let push_token = format!("fcm-token-{tag}-{}", uuid::Uuid::new_v4().simple());
    let (status, body) = send(
        app,
        Method::POST,
        "/api/v1/notifications/register-token",
        &session.access,
        Some(json!({ "fcm_token": push_token, "platform": "android" })),
    )
    .await;
    assert!(status.is_success(), "{body}");
    let (status, body) = send(
        app,
        Method::PATCH,
        "/api/v1/users/me/notification-preferences",
        &session.access,
        Some(json!({ "system_announcements": false })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    run_once(&app.state).await.unwrap();
    Person {
        uid,
        email,
        name,
        phone,
        reason,
        notes,
        contact_phone,
        push_token,
        session,
        appointments,
    }
}

/// Every row of every table of the public schema whose text contains `needle`, as
/// `table: row` lines. The needle is a bound parameter, so the scan itself never writes it into
/// a log line (the driver logs the statements it prepares).
async fn rows_mentioning(app: &TestApp, needle: &str) -> Vec<String> {
    use diesel::QueryableByName;
    use diesel::sql_types::Text;
    use diesel_async::RunQueryDsl;
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = Text)]
        r: String,
    }
    let tables = rows(
        app,
        "SELECT table_name AS t FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    )
    .await;
    let mut conn = app.db.connect().await;
    let mut found = Vec::new();
    for table in tables {
        let table = table["t"].as_str().unwrap().to_owned();
        let matches: Vec<Found> = diesel::sql_query(format!(
            "SELECT t::text AS r FROM \"{table}\" t WHERE strpos(lower(t::text), lower($1)) > 0"
        ))
        .bind::<Text, _>(needle)
        .load(&mut conn)
        .await
        .unwrap();
        found.extend(matches.into_iter().map(|m| format!("{table}: {}", m.r)));
    }
    found
}

/// Every Redis key of the app (with its value as text) that mentions `needle` in its name or
/// value.
async fn redis_mentioning(app: &TestApp, needle: &str) -> Vec<String> {
    let mut conn = app.redis.connection().await;
    let mut found = Vec::new();
    for key in app.redis.keys().await {
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        let value: String = match kind.as_str() {
            "string" => redis::cmd("GET")
                .arg(&key)
                .query_async::<Option<String>>(&mut conn)
                .await
                .unwrap()
                .unwrap_or_default(),
            "hash" => format!(
                "{:?}",
                redis::cmd("HGETALL")
                    .arg(&key)
                    .query_async::<Vec<String>>(&mut conn)
                    .await
                    .unwrap()
            ),
            "set" => format!(
                "{:?}",
                redis::cmd("SMEMBERS")
                    .arg(&key)
                    .query_async::<Vec<String>>(&mut conn)
                    .await
                    .unwrap()
            ),
            "stream" => format!(
                "{:?}",
                redis::cmd("XRANGE")
                    .arg(&key)
                    .arg("-")
                    .arg("+")
                    .query_async::<redis::Value>(&mut conn)
                    .await
                    .unwrap()
            ),
            other => format!("<{other}>"),
        };
        if key.contains(needle) || value.contains(needle) {
            found.push(format!("{key} = {value}"));
        }
    }
    found
}

/// Asserts that no table row and no Redis key or value holds any of `person`'s personal data,
/// and that Redis keeps nothing under the user's id (sessions, cached row, event log).
async fn assert_no_trace_of(app: &TestApp, person: &Person) {
    for needle in person.needles() {
        assert_eq!(
            rows_mentioning(app, needle).await,
            Vec::<String>::new(),
            "{needle}"
        );
        assert_eq!(
            redis_mentioning(app, needle).await,
            Vec::<String>::new(),
            "{needle}"
        );
    }
    assert_eq!(
        redis_mentioning(app, &person.session.id).await,
        Vec::<String>::new(),
        "no session, cached row or event log of the user is left"
    );
}

/// The export of `token` as JSON, with its raw text.
async fn export(app: &TestApp, path: &str, token: &str) -> (Value, String) {
    let response = call(app, Method::GET, path, Some(token), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let text = response.text().await.unwrap();
    let document: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (document, text)
}

#[tokio::test]
async fn the_export_holds_every_category_of_the_callers_data_and_nothing_of_anyone_else() {
    let app = app(&[]).await;
    let admin = login_admin(&app, "privacy-admin", "privacy.admin@example.com").await;
    let asha = populate(&app, "asha").await;
    let ravi = populate(&app, "ravi").await;
    // An admin read of Asha's data shows up in her export.
    let (status, _) = send(
        &app,
        Method::GET,
        &format!("/api/v1/admin/users/{}", asha.session.id),
        &admin.access,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // A long history crosses several export pages (500 rows each).
    app.db
        .execute(&format!(
            "INSERT INTO notifications (user_id, title, body, notification_type) \
             SELECT '{}', 'Bulk ' || i, 'Body ' || i, 'other' FROM generate_series(1, 1234) i",
            asha.session.id
        ))
        .await;

    let (document, text) = export(&app, EXPORT, &asha.session.access).await;
    let served: Value = app.get("/openapi.json").await.json().await.unwrap();
    let schema = &served["components"]["schemas"]["PersonalDataExport"];
    let mut documented: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
    let mut written: Vec<&String> = document.as_object().unwrap().keys().collect();
    documented.sort();
    written.sort();
    assert_eq!(written, documented, "the export has the documented members");
    assert_eq!(
        schema["required"].as_array().unwrap().len(),
        documented.len()
    );
    assert_eq!(document["format"], "medico24.personal-data-export.v1");
    assert_eq!(document["user_id"], asha.session.id);
    let user = &document["profile"]["user"];
    assert_eq!(user["email"], asha.email);
    assert_eq!(user["full_name"], asha.name);
    assert_eq!(user["phone"], asha.phone);
    assert_eq!(user["firebase_uid"], asha.uid);
    assert!(document["profile"]["patient"].is_object(), "{document}");
    assert_eq!(
        document["profile"]["notification_preferences"]["system_announcements"],
        false
    );
    let sessions = document["sessions"].as_array().unwrap();
    assert!(!sessions.is_empty(), "the sign-in session is listed");
    assert!(sessions[0]["created_at"].is_string() && sessions[0]["last_used_at"].is_string());
    let appointments = document["appointments"].as_array().unwrap();
    assert_eq!(
        appointments.len(),
        2,
        "deleted appointments are exported too"
    );
    assert!(appointments.iter().all(|a| a["reason"] == asha.reason
        && a["notes"] == asha.notes
        && a["contact_phone"] == asha.contact_phone));
    assert_eq!(
        appointments
            .iter()
            .filter(|a| !a["deleted_at"].is_null())
            .count(),
        1
    );
    let notifications = document["notifications"].as_array().unwrap();
    let booked = rows(
        &app,
        &format!(
            "SELECT count(*) AS n FROM notifications WHERE user_id = '{}'",
            asha.session.id
        ),
    )
    .await[0]["n"]
        .as_i64()
        .unwrap();
    assert_eq!(
        notifications.len() as i64,
        booked,
        "every notification, across pages"
    );
    assert!(booked > 1234, "the bookings produced notifications too");
    assert!(
        notifications
            .iter()
            .any(|n| n["deliveries"].as_array().is_some_and(|d| !d.is_empty())),
        "deliveries are nested in their notifications"
    );
    let tokens = document["push_tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1);
    let hint = tokens[0]["token_hint"].as_str().unwrap();
    assert!(hint.ends_with(&asha.push_token[asha.push_token.len() - 4..]));
    assert!(!text.contains(&asha.push_token), "push tokens are masked");
    assert!(
        !document["scheduled_messages"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let audit = document["audit_events"].as_array().unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e["action"] == "user.read" && e["actor_user_id"] == admin.id),
        "{audit:?}"
    );
    assert!(
        audit
            .iter()
            .filter(|e| e["actor_user_id"] == admin.id)
            .all(|e| e["ip"].is_null()),
        "another actor's address is not exported"
    );
    for needle in ravi.needles().into_iter().chain([ravi.session.id.as_str()]) {
        assert!(!text.contains(needle), "another user's {needle} leaked");
    }
    assert!(!text.contains(&asha.session.refresh), "no token material");
}

#[tokio::test]
async fn the_admin_export_is_audited_and_its_errors_are_clean() {
    let app = app(&[]).await;
    let admin = login_admin(&app, "privacy-admin", "privacy.admin@example.com").await;
    let asha = populate(&app, "asha").await;
    let path = format!("/api/v1/admin/users/{}/export", asha.session.id);
    let (document, _) = export(&app, &path, &admin.access).await;
    assert_eq!(document["profile"]["user"]["email"], asha.email);
    let (status, body) = send(
        &app,
        Method::GET,
        &format!(
            "/api/v1/admin/audit?subject_id={}&action=user.export.read",
            asha.session.id
        ),
        &admin.access,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total"], 1, "{body}");
    assert_eq!(body["events"][0]["actor_user_id"], admin.id);
    assert_eq!(body["events"][0]["subject_ids"], json!([asha.session.id]));

    let unknown = format!("/api/v1/admin/users/{}/export", uuid::Uuid::new_v4());
    let cases = [
        (
            unknown.as_str(),
            Some(admin.access.as_str()),
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/v1/admin/users/not-a-uuid/export",
            Some(&admin.access),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            path.as_str(),
            Some(asha.session.access.as_str()),
            StatusCode::FORBIDDEN,
        ),
        (path.as_str(), None, StatusCode::UNAUTHORIZED),
        (EXPORT, None, StatusCode::UNAUTHORIZED),
    ];
    for (path, token, expected) in cases {
        let (status, body) = status_json(call(&app, Method::GET, path, token, None).await).await;
        assert_eq!(status, expected, "{path}: {body}");
        assert!(
            body["error"].is_string() && body["request_id"].is_string(),
            "{body}"
        );
    }
}

#[tokio::test]
async fn exports_beyond_the_export_policy_are_429() {
    let app = app(&[("RATE_LIMIT_EXPORT_PER_MINUTE", "1")]).await;
    let asha = populate(&app, "asha").await;
    // A window boundary between the two calls would reset the count; start early in a minute.
    let second = Utc::now().timestamp() % 60;
    if second > 50 {
        tokio::time::sleep(std::time::Duration::from_secs((61 - second) as u64)).await;
    }
    export(&app, EXPORT, &asha.session.access).await;
    let response = call(&app, Method::GET, EXPORT, Some(&asha.session.access), None).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        response.headers()["ratelimit-policy"],
        "\"export\";q=1;w=60"
    );
    let (_, body) = status_json(response).await;
    assert_eq!(body["error"], "rate_limited", "the error envelope: {body}");
}

/// Log lines the service writes, kept in memory.
#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn erasure_leaves_no_trace_in_any_table_key_log_or_metric_and_a_new_login_starts_afresh() {
    // Everything the service logs in this process, at debug level.
    let logs = CapturedLogs::default();
    medico24_server::telemetry::init_with_writer(
        "debug",
        medico24_server::config::LogFormat::Json,
        logs.clone(),
    );
    let app = app(&[("ERASURE_GRACE_HOURS", "0")]).await;
    let admin = login_admin(&app, "privacy-admin", "privacy.admin@example.com").await;
    let asha = populate(&app, "asha").await;
    let ravi = populate(&app, "ravi").await;
    // Admin reads and an export before the erasure, so their traces are checked too.
    for path in [
        "/api/v1/admin/users".to_owned(),
        "/api/v1/admin/appointments".to_owned(),
        format!("/api/v1/notifications/history/{}", asha.session.id),
    ] {
        let (status, body) = send(&app, Method::GET, &path, &admin.access, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    export(&app, EXPORT, &asha.session.access).await;
    let ticket_and_stream_keys = app.redis.keys().await;
    assert!(
        ticket_and_stream_keys
            .iter()
            .any(|k| k.contains(&asha.session.id)),
        "Redis holds keys of the user before the erasure: {ticket_and_stream_keys:?}"
    );

    let before = Utc::now();
    let (status, body) = send(&app, Method::POST, ERASURE, &asha.session.access, None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["status"], "pending");
    assert_eq!(body["user_id"], asha.session.id);
    let due: chrono::DateTime<Utc> = body["due_at"].as_str().unwrap().parse().unwrap();
    assert!(due >= before - Duration::seconds(1) && due <= Utc::now() + Duration::seconds(1));
    // Deactivated at once: the access token and the refresh token stop working.
    let (status, _) = send(
        &app,
        Method::GET,
        "/api/v1/users/me",
        &asha.session.access,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = status_json(
        call(
            &app,
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({ "refresh_token": asha.session.refresh })),
        )
        .await,
    )
    .await;
    assert!(status.is_client_error(), "{status}");

    let tick = run_once(&app.state).await.unwrap();
    assert_eq!(tick.erased, 1);
    assert_eq!(run_once(&app.state).await.unwrap().erased, 0, "erased once");

    assert_no_trace_of(&app, &asha).await;
    // The scan finds what is there: the other user's data is untouched.
    for needle in [&ravi.email, &ravi.reason, &ravi.phone] {
        assert!(!rows_mentioning(&app, needle).await.is_empty(), "{needle}");
    }
    // Appointments stay, pseudonymous, for the clinics' records and the statistics.
    let kept = rows(
        &app,
        &format!(
            "SELECT reason, notes, contact_phone FROM appointments WHERE patient_id = '{}'",
            asha.session.id
        ),
    )
    .await;
    assert_eq!(kept.len(), 2);
    assert!(
        kept.iter()
            .all(|r| r["reason"] == "[erased]" && r["notes"].is_null())
    );
    // Recorded without personal data (the scan above covers the audit table too).
    let (status, body) = send(
        &app,
        Method::GET,
        &format!("/api/v1/admin/audit?subject_id={}", asha.session.id),
        &admin.access,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let actions: Vec<&str> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"user.erasure.request"), "{actions:?}");
    assert!(actions.contains(&"user.erasure.complete"), "{actions:?}");

    // The same Google account signs in to a new, empty account.
    let again = sign_in(&app, &asha.uid, &asha.email, &asha.name).await;
    assert_ne!(again.id, asha.session.id);
    let (document, _) = export(&app, EXPORT, &again.access).await;
    assert_eq!(document["appointments"], json!([]));
    assert_eq!(document["notifications"], json!([]));
    assert_eq!(document["push_tokens"], json!([]));

    // Neither person's personal or medical data reached a log line or a metric.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    let captured = logs.text();
    assert!(
        captured.contains("request_completed"),
        "the capture holds the service's log lines"
    );
    for needle in asha.needles().into_iter().chain(ravi.needles()) {
        let lines: Vec<&str> = captured.lines().filter(|l| l.contains(needle)).collect();
        assert!(lines.is_empty(), "{needle} reached the logs: {lines:#?}");
        assert!(!metrics.contains(needle), "{needle} reached the metrics");
    }
}

#[tokio::test]
async fn an_erasure_interrupted_mid_way_finishes_on_the_next_run() {
    let app = app(&[("ERASURE_GRACE_HOURS", "0")]).await;
    let asha = populate(&app, "asha").await;
    let (status, _) = send(&app, Method::POST, ERASURE, &asha.session.access, None).await;
    assert_eq!(status, StatusCode::ACCEPTED);

    // The worker dies inside the erasure transaction: a lock makes it wait part-way through
    // its statements, and its connection is then terminated.
    let mut locker = app.db.connect().await;
    locker
        .batch_execute("BEGIN; LOCK TABLE notification_preferences IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let state = app.state.clone();
    let worker = tokio::spawn(async move { run_once(&state).await });
    let mut waiting = 0;
    for _ in 0..200 {
        waiting = rows(
            &app,
            "SELECT count(*) AS n FROM pg_stat_activity \
             WHERE wait_event_type = 'Lock' AND query LIKE 'DELETE FROM notification_preferences%'",
        )
        .await[0]["n"]
            .as_i64()
            .unwrap();
        if waiting > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(waiting, 1, "the worker is inside the erasure transaction");
    app.db
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE wait_event_type = 'Lock' AND query LIKE 'DELETE FROM notification_preferences%'",
        )
        .await;
    assert!(worker.await.unwrap().is_err(), "the pass failed");
    locker.batch_execute("COMMIT").await.unwrap();
    // Nothing half done: the transaction's earlier statements were rolled back.
    assert!(!rows_mentioning(&app, &asha.email).await.is_empty());
    assert!(!rows_mentioning(&app, &asha.reason).await.is_empty());
    // The request is still claimed by the dead worker until its lease ends.
    assert_eq!(run_once(&app.state).await.unwrap().erased, 0);
    app.db
        .execute("UPDATE user_erasures SET locked_until = now() - interval '1 second'")
        .await;

    // A second stop, between the records and the cache purge.
    let user = UserId::from_uuid(asha.session.id.parse().unwrap());
    app.state
        .privacy
        .store()
        .erase_records(user, Utc::now())
        .await
        .unwrap();
    assert!(rows_mentioning(&app, &asha.email).await.is_empty());
    let status = rows(&app, "SELECT status FROM user_erasures").await;
    assert_eq!(status[0]["status"], "records_erased");

    assert_eq!(run_once(&app.state).await.unwrap().erased, 1);
    let status = rows(
        &app,
        "SELECT status, erased_at IS NOT NULL AS done FROM user_erasures",
    )
    .await;
    assert_eq!(status[0]["status"], "erased");
    assert_eq!(status[0]["done"], true);
    assert_no_trace_of(&app, &asha).await;
}

#[tokio::test]
async fn admins_request_and_cancel_erasures_and_every_refusal_is_a_clean_4xx() {
    let app = app(&[("ERASURE_GRACE_HOURS", "0")]).await;
    let admin = login_admin(&app, "privacy-admin", "privacy.admin@example.com").await;
    let asha = populate(&app, "asha").await;
    let ravi = populate(&app, "ravi").await;
    let path = |user: &str| format!("/api/v1/admin/users/{user}/erasure");

    // Requested, then cancelled before the worker ran: nothing is erased, the account stays
    // deactivated.
    let (status, body) = send(
        &app,
        Method::POST,
        &path(&asha.session.id),
        &admin.access,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (again, body2) = send(
        &app,
        Method::POST,
        &path(&asha.session.id),
        &admin.access,
        None,
    )
    .await;
    assert_eq!(again, StatusCode::ACCEPTED);
    assert_eq!(
        body2["due_at"], body["due_at"],
        "asking twice keeps the schedule"
    );
    let (status, _) = send(
        &app,
        Method::GET,
        "/api/v1/users/me",
        &asha.session.access,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "deactivated at once");
    let (status, _) = send(
        &app,
        Method::DELETE,
        &path(&asha.session.id),
        &admin.access,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(run_once(&app.state).await.unwrap().erased, 0);
    assert!(!rows_mentioning(&app, &asha.email).await.is_empty());

    // Requested and run: a second request or a cancellation is refused.
    let (status, _) = send(
        &app,
        Method::POST,
        &path(&ravi.session.id),
        &admin.access,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(run_once(&app.state).await.unwrap().erased, 1);
    let unknown = uuid::Uuid::new_v4().to_string();
    let cases = [
        (
            Method::POST,
            path(&ravi.session.id),
            Some(admin.access.as_str()),
            StatusCode::CONFLICT,
        ),
        (
            Method::DELETE,
            path(&ravi.session.id),
            Some(&admin.access),
            StatusCode::CONFLICT,
        ),
        (
            Method::DELETE,
            path(&asha.session.id),
            Some(&admin.access),
            StatusCode::CONFLICT,
        ),
        (
            Method::POST,
            path(&unknown),
            Some(&admin.access),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::DELETE,
            path(&unknown),
            Some(&admin.access),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            path("nope"),
            Some(&admin.access),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::DELETE,
            path("nope"),
            Some(&admin.access),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            path(&asha.session.id),
            Some(&ravi.session.access),
            StatusCode::FORBIDDEN,
        ),
        (
            Method::POST,
            path(&asha.session.id),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        (
            Method::DELETE,
            path(&asha.session.id),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        (
            Method::POST,
            ERASURE.to_owned(),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        (
            Method::POST,
            ERASURE.to_owned(),
            Some(&asha.session.access),
            StatusCode::FORBIDDEN,
        ),
    ];
    for (method, path, token, expected) in cases {
        let (status, body) =
            status_json(call(&app, method.clone(), &path, token, None).await).await;
        assert_eq!(status, expected, "{method} {path}: {body}");
        assert!(
            body["error"].is_string() && body["path"] == path,
            "the error envelope: {body}"
        );
    }
    let (_, audit) = send(
        &app,
        Method::GET,
        &format!(
            "/api/v1/admin/audit?subject_id={}&action=user.erasure.cancel",
            asha.session.id
        ),
        &admin.access,
        None,
    )
    .await;
    assert_eq!(audit["total"], 1, "{audit}");
}

#[tokio::test]
async fn every_admin_read_of_another_users_data_is_audited_once_per_request() {
    let app = app(&[]).await;
    let admin = login_admin(&app, "privacy-admin", "privacy.admin@example.com").await;
    let asha = populate(&app, "asha").await;
    let ravi = populate(&app, "ravi").await;
    let notification = rows(
        &app,
        &format!(
            "SELECT id::text AS id FROM notifications WHERE user_id = '{}' LIMIT 1",
            asha.session.id
        ),
    )
    .await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Own reads are not recorded.
    for path in [
        "/api/v1/notifications/history".to_owned(),
        format!("/api/v1/appointments/{}", asha.appointments[0]),
        format!("/api/v1/notifications/{notification}"),
    ] {
        let (status, body) = send(&app, Method::GET, &path, &asha.session.access, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let reads = [
        ("/api/v1/admin/users".to_owned(), "user.list.read", true),
        (
            format!("/api/v1/admin/users/{}", asha.session.id),
            "user.read",
            false,
        ),
        (
            "/api/v1/admin/appointments".to_owned(),
            "appointment.list.read",
            true,
        ),
        (
            format!("/api/v1/appointments/{}", asha.appointments[0]),
            "appointment.read",
            false,
        ),
        (
            format!("/api/v1/notifications/history/{}", asha.session.id),
            "notification.list.read",
            false,
        ),
        (
            format!("/api/v1/notifications/{notification}"),
            "notification.read",
            false,
        ),
        (
            "/api/v1/admin/notifications/logs".to_owned(),
            "notification.list.read",
            true,
        ),
        (
            format!("/api/v1/admin/users/{}/export", asha.session.id),
            "user.export.read",
            false,
        ),
    ];
    for (path, action, lists_both) in &reads {
        let response = call(&app, Method::GET, path, Some(&admin.access), None).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let (status, body) = send(
            &app,
            Method::GET,
            &format!(
                "/api/v1/admin/audit?actor_user_id={}&action={action}",
                admin.id
            ),
            &admin.access,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let newest = &body["events"][0];
        assert!(action.ends_with(".read"));
        let subjects: Vec<&str> = newest["subject_ids"]
            .as_array()
            .unwrap_or_else(|| panic!("{path}: {body}"))
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        assert!(
            subjects.contains(&asha.session.id.as_str()),
            "{path}: {newest}"
        );
        assert!(
            !subjects.contains(&admin.id.as_str()),
            "the reader is not a subject"
        );
        assert_eq!(
            subjects.contains(&ravi.session.id.as_str()),
            *lists_both,
            "{path}: a list read names every user on its page, a detail read its one subject"
        );
        let mut sorted = subjects.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), subjects.len(), "each subject once");
    }
    let (_, body) = send(
        &app,
        Method::GET,
        &format!(
            "/api/v1/admin/audit?subject_id={}&page_size=100",
            asha.session.id
        ),
        &admin.access,
        None,
    )
    .await;
    let read_events: Vec<&Value> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().ends_with(".read"))
        .collect();
    // The audit listings themselves are not reads of personal fields.
    assert_eq!(read_events.len(), reads.len(), "{body}");
    assert!(read_events.iter().all(|e| e["actor_user_id"] == admin.id));
}

#[tokio::test]
async fn with_redis_down_export_and_erasure_answer_503_and_the_erasure_finishes_once_it_returns() {
    let (proxy, redis_url) =
        medico24_testkit::FaultProxy::for_url(&medico24_testkit::test_redis_url(), 6379).await;
    let app = app(&[
        ("REDIS_URL", redis_url.as_str()),
        ("REDIS_TIMEOUT_MS", "200"),
        ("ERASURE_GRACE_HOURS", "0"),
    ])
    .await;
    let admin = login_admin(&app, "privacy-admin", "privacy.admin@example.com").await;
    let asha = populate(&app, "asha").await;
    let user = UserId::from_uuid(asha.session.id.parse().unwrap());

    proxy.cut().await;
    let (status, body) =
        status_json(call(&app, Method::GET, EXPORT, Some(&asha.session.access), None).await).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let (status, body) = send(&app, Method::POST, ERASURE, &asha.session.access, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    // The deactivation is committed: with the cache unreachable, the database says so.
    let (status, _) = send(
        &app,
        Method::GET,
        "/api/v1/users/me",
        &asha.session.access,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The worker erases the records, then cannot purge: the request stays unfinished.
    assert!(run_once(&app.state).await.is_err());
    let status = rows(&app, "SELECT status FROM user_erasures").await;
    assert_eq!(status[0]["status"], "records_erased");

    proxy.restore();
    let path = format!("/api/v1/admin/users/{}/erasure", asha.session.id);
    let (status, body) = send(&app, Method::POST, &path, &admin.access, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "being erased: {body}");
    app.db
        .execute("UPDATE user_erasures SET locked_until = now() - interval '1 second'")
        .await;
    assert_eq!(run_once(&app.state).await.unwrap().erased, 1);
    assert!(app.state.privacy.sessions(user).await.unwrap().is_empty());
    assert_no_trace_of(&app, &asha).await;
}

#[tokio::test]
async fn an_export_whose_database_goes_away_mid_stream_is_cut_off_never_a_complete_document() {
    let db = medico24_testkit::TestDb::new().await;
    let (proxy, database_url) = medico24_testkit::FaultProxy::for_url(db.url(), 5432).await;
    let app = medico24_testkit::spawn_app_with_db(db, |vars| {
        vars.insert("DATABASE_URL".into(), database_url);
        vars.insert("DATABASE_POOL_TIMEOUT_SECONDS".into(), "1".into());
        vars.insert("RATE_LIMIT_AUTH_PER_MINUTE".into(), "100000".into());
    })
    .await;
    crate::support::mount_certs(&app).await;
    let asha = sign_in(&app, "uid-cut-export", "cut.export@example.com", "Asha Cut").await;
    // Far more than the socket buffers hold, so the server is still reading pages when the
    // database goes away.
    app.db
        .execute(&format!(
            "INSERT INTO notifications (user_id, title, body, notification_type) \
             SELECT '{}', 'Bulk ' || i, repeat('x', 400), 'other' FROM generate_series(1, 40000) i",
            asha.id
        ))
        .await;
    let mut response = call(&app, Method::GET, EXPORT, Some(&asha.access), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut received = response.chunk().await.unwrap().unwrap().to_vec();
    proxy.cut().await;
    let mut failed = false;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(failed, "the connection is cut, not closed as if complete");
    assert!(
        serde_json::from_slice::<Value>(&received).is_err(),
        "a cut-off export never parses as a document"
    );
}
