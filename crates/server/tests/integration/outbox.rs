//! The outbox worker, the recovery sweep and queued broadcasts end to end: events
//! inserted exactly as the appointments adapter writes them, a worker dying mid-run, a queued
//! broadcast to 5,000 users interrupted and resumed, the background loops, and the PostgreSQL
//! repository against the domain's contract checks.

use std::collections::HashMap;
use std::time::Duration;

use medico24_firebase::testing::{fcm_send_path, fcm_sent};
use medico24_kernel::UserId;
use medico24_notifications::testing::contract;
use medico24_notifications::{NotificationRepository, OUTBOX_CLAIM};
use medico24_postgres::PgNotificationRepository;
use medico24_server::workers::run_once;
use medico24_testkit::{TestApp, TestDb};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wiremock::{Mock, matchers};

use crate::fcm::{fcm_requests, mount_oauth, with_fcm};
use crate::notifications::{BROADCAST, insert_token, insert_user, post, rows, spawn};
use crate::support::{call, login, login_admin, status_json};

const PROJECT: &str = "medico24-test";

/// Every FCM message succeeds.
async fn mount_fcm_ok(app: &TestApp) {
    Mock::given(matchers::method("POST"))
        .and(matchers::path(fcm_send_path(PROJECT)))
        .respond_with(fcm_sent(PROJECT, "ok"))
        .mount(&app.firebase.server)
        .await;
}

/// Inserts an event the way the appointments adapter does (the rendered push message as payload).
async fn insert_event(app: &TestApp, user: &str, title: &str) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    let payload = json!({
        "title": title,
        "body": "Appointment with Dr Mehta on Jan 01, 03:30 PM IST",
        "notification_type": "appointment_confirmation",
        "priority": "normal",
        "data": {"type": "appointment_created", "appointment_id": "5b0c7a3e-2f0e-4a55-9d39-0d0d3f6d1c11",
                 "screen": "/appointments"},
    });
    app.db
        .execute(&format!(
            "INSERT INTO notification_outbox (id, event_type, user_id, payload) \
             VALUES ('{id}', 'appointment_created', '{user}', '{payload}'::jsonb)"
        ))
        .await;
    id
}

fn repository(app: &TestApp) -> PgNotificationRepository {
    PgNotificationRepository::new(app.state.db.clone())
}

#[tokio::test]
async fn an_outbox_event_yields_one_notification_with_one_delivery_per_active_token() {
    let app = spawn(with_fcm).await;
    mount_oauth(&app, 1).await;
    mount_fcm_ok(&app).await;
    let user = insert_user(&app, "patient").await;
    insert_token(&app, &user, "phone-token-000001", "android").await;
    insert_token(&app, &user, "web-token-000001", "web").await;
    insert_token(&app, &user, "old-token-000001", "ios").await;
    app.db
        .execute("UPDATE push_tokens SET is_active = false WHERE fcm_token = 'old-token-000001'")
        .await;
    let event = insert_event(&app, &user, "Appointment Scheduled").await;

    let tick = run_once(&app.state).await.unwrap();
    assert_eq!((tick.outbox.claimed, tick.outbox.processed), (1, 1));
    let notifications = rows(
        &app,
        "SELECT id::text, user_id::text, title, notification_type, priority, status, data, metadata FROM notifications",
    )
    .await;
    assert_eq!(notifications.len(), 1, "exactly one notification");
    let notification = &notifications[0];
    assert_eq!(notification["user_id"], user.as_str());
    assert_eq!(notification["title"], "Appointment Scheduled");
    assert_eq!(
        notification["notification_type"],
        "appointment_confirmation"
    );
    assert_eq!(notification["status"], "delivered");
    assert_eq!(notification["metadata"], json!({"outbox_id": event}));
    assert_eq!(notification["data"]["screen"], "/appointments");
    let deliveries = rows(&app, "SELECT t.fcm_token FROM notification_deliveries d JOIN push_tokens t ON t.id = d.push_token_id ORDER BY 1").await;
    assert_eq!(
        deliveries,
        vec![
            json!({"fcm_token": "phone-token-000001"}),
            json!({"fcm_token": "web-token-000001"})
        ],
        "one per active token"
    );
    let outbox = rows(&app, "SELECT attempts, processed_at IS NOT NULL AS processed, notification_id::text, locked_until FROM notification_outbox").await;
    assert_eq!(
        outbox,
        vec![
            json!({"attempts": 1, "processed": true, "notification_id": notification["id"], "locked_until": null})
        ]
    );
    assert_eq!(fcm_requests(&app).await.len(), 2);
    assert_eq!(
        run_once(&app.state).await.unwrap().outbox.claimed,
        0,
        "processed once"
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("medico24_notification_outbox_pending 0"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_booking_through_the_api_reaches_the_patients_devices_through_the_outbox() {
    let app = spawn(with_fcm).await;
    mount_oauth(&app, 1).await;
    mount_fcm_ok(&app).await;
    let patient = login(&app, "uid-patient", "patient@example.com").await;
    insert_token(&app, &patient.id, "patient-phone-0001", "android").await;
    let (status, body) = status_json(
        call(
            &app,
            Method::POST,
            "/api/v1/appointments/",
            Some(&patient.access),
            Some(
                json!({"doctor_name": "Dr Mehta", "appointment_at": "2030-01-01T10:00:00Z",
                        "reason": "Check-up", "contact_phone": "+91 98765 43210"}),
            ),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    run_once(&app.state).await.unwrap();
    let notifications = rows(&app, "SELECT title, body, status, data FROM notifications").await;
    assert_eq!(notifications.len(), 1);
    assert_eq!(notifications[0]["title"], "Appointment Scheduled");
    assert_eq!(notifications[0]["status"], "delivered");
    assert_eq!(notifications[0]["data"]["appointment_id"], body["id"]);
    let requests = fcm_requests(&app).await;
    let sent: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(sent["message"]["token"], "patient-phone-0001");
    assert_eq!(sent["message"]["data"]["type"], "appointment_created");
    assert_eq!(sent["message"]["data"]["screen"], "/appointments");
}

#[tokio::test]
async fn events_claimed_by_a_worker_that_died_are_delivered_once_by_the_next_worker() {
    let app = spawn(with_fcm).await;
    mount_oauth(&app, 1).await;
    mount_fcm_ok(&app).await;
    let user = insert_user(&app, "patient").await;
    insert_token(&app, &user, "phone-token-000002", "android").await;
    for i in 0..3 {
        insert_event(&app, &user, &format!("Event {i}")).await;
    }
    // The first worker claims the events and dies before doing anything with them.
    let claimed = repository(&app)
        .claim_outbox(OUTBOX_CLAIM, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    assert_eq!(
        run_once(&app.state).await.unwrap().outbox.claimed,
        0,
        "still leased"
    );
    // Its lease runs out.
    app.db
        .execute("UPDATE notification_outbox SET locked_until = now() - interval '1 second'")
        .await;
    let tick = run_once(&app.state).await.unwrap();
    assert_eq!(tick.outbox.processed, 3);
    let outbox = rows(
        &app,
        "SELECT attempts, processed_at IS NOT NULL AS processed FROM notification_outbox",
    )
    .await;
    assert!(
        outbox
            .iter()
            .all(|row| *row == json!({"attempts": 2, "processed": true})),
        "{outbox:?}"
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) AS n FROM notifications")
            .await,
        3,
        "none lost, none doubled"
    );
    assert_eq!(
        app.db
            .count("SELECT count(DISTINCT notification_id) AS n FROM notification_outbox")
            .await,
        3
    );
    assert_eq!(fcm_requests(&app).await.len(), 3);
}

#[tokio::test]
async fn deliveries_committed_before_a_crash_are_sent_by_the_recovery_sweep() {
    let app = spawn(with_fcm).await;
    mount_oauth(&app, 1).await;
    mount_fcm_ok(&app).await;
    let user = insert_user(&app, "patient").await;
    insert_token(&app, &user, "phone-token-000003", "android").await;
    insert_token(&app, &user, "web-token-000003", "web").await;
    insert_event(&app, &user, "Appointment Scheduled").await;
    // A worker committed the notification and its deliveries, then died before sending.
    let repo = repository(&app);
    let now = chrono::Utc::now();
    let event = repo
        .claim_outbox(OUTBOX_CLAIM, now)
        .await
        .unwrap()
        .remove(0);
    let notification = medico24_notifications::outbox_notification(&event).unwrap();
    repo.complete_outbox_event(event.id, &notification, now)
        .await
        .unwrap()
        .unwrap();
    // Meanwhile the web token was handed to someone else: it must not get this message.
    app.db
        .execute("UPDATE push_tokens SET is_active = false WHERE fcm_token = 'web-token-000003'")
        .await;
    assert_eq!(
        run_once(&app.state).await.unwrap().recovered,
        0,
        "too recent"
    );
    app.db
        .execute("UPDATE notifications SET sent_at = now() - interval '6 minutes'")
        .await;
    assert_eq!(run_once(&app.state).await.unwrap().recovered, 1);
    let deliveries = rows(
        &app,
        "SELECT t.fcm_token, d.delivery_status, d.failure_reason FROM notification_deliveries d \
         JOIN push_tokens t ON t.id = d.push_token_id ORDER BY 1",
    )
    .await;
    assert_eq!(
        deliveries,
        vec![
            json!({"fcm_token": "phone-token-000003", "delivery_status": "sent", "failure_reason": null}),
            json!({"fcm_token": "web-token-000003", "delivery_status": "failed", "failure_reason": "token deactivated"}),
        ]
    );
    let stored = rows(&app, "SELECT status, failure_reason FROM notifications").await;
    assert_eq!(
        stored,
        vec![
            json!({"status": "partially_delivered", "failure_reason": "1 of 2 deliveries failed: token deactivated ×1"})
        ]
    );
    let requests = fcm_requests(&app).await;
    assert_eq!(requests.len(), 1);
    assert_eq!(
        run_once(&app.state).await.unwrap().recovered,
        0,
        "nothing left pending"
    );
}

#[tokio::test]
async fn an_event_whose_transaction_fails_is_retried_later_with_its_error_kept() {
    let app = spawn(|_| {}).await;
    let user = insert_user(&app, "patient").await;
    // A database-side failure for this event only.
    app.db
        .execute(
            "CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF NEW.title = 'boom' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$; \
             CREATE TRIGGER refuse_boom BEFORE INSERT ON notifications FOR EACH ROW EXECUTE FUNCTION refuse_boom();",
        )
        .await;
    insert_event(&app, &user, "boom").await;
    insert_event(&app, &user, "fine").await;
    let tick = run_once(&app.state).await.unwrap();
    assert_eq!((tick.outbox.processed, tick.outbox.retried), (1, 1));
    let failed = rows(
        &app,
        "SELECT attempts, processed_at, locked_until, last_error IS NOT NULL AS has_error, \
                available_at > now() + interval '1 second' AS backed_off \
         FROM notification_outbox WHERE payload->>'title' = 'boom'",
    )
    .await;
    assert_eq!(
        failed,
        vec![
            json!({"attempts": 1, "processed_at": null, "locked_until": null, "has_error": true, "backed_off": true})
        ]
    );
    assert_eq!(
        run_once(&app.state).await.unwrap().outbox.claimed,
        0,
        "not before its backoff"
    );
}

#[tokio::test]
async fn an_event_with_an_unusable_payload_is_given_up_for_an_operator() {
    let app = spawn(|_| {}).await;
    let user = insert_user(&app, "patient").await;
    app.db
        .execute(&format!(
            "INSERT INTO notification_outbox (event_type, user_id, payload) VALUES ('appointment_created', '{user}', '{{\"body\": \"no title\"}}')"
        ))
        .await;
    assert_eq!(run_once(&app.state).await.unwrap().outbox.abandoned, 1);
    let row = rows(
        &app,
        "SELECT attempts, processed_at, last_error FROM notification_outbox",
    )
    .await;
    assert_eq!(
        row,
        vec![json!({"attempts": 10, "processed_at": null, "last_error": "payload has no title"})]
    );
    assert_eq!(run_once(&app.state).await.unwrap().outbox.claimed, 0);
    assert_eq!(
        app.db
            .count("SELECT count(*) AS n FROM notifications")
            .await,
        0
    );
}

#[tokio::test]
async fn the_background_worker_delivers_events_and_stops_cleanly() {
    let app = spawn(|vars: &mut HashMap<String, String>| {
        vars.insert("WORKERS_ENABLED".into(), "true".into());
        vars.insert("OUTBOX_POLL_INTERVAL_MS".into(), "50".into());
    })
    .await;
    let user = insert_user(&app, "patient").await;
    insert_event(&app, &user, "Appointment Scheduled").await;
    // Wait (bounded) for the worker to pick it up; no assertion depends on how long it took.
    let mut processed = 0;
    for _ in 0..200 {
        processed = app
            .db
            .count("SELECT count(*) AS n FROM notification_outbox WHERE processed_at IS NOT NULL")
            .await;
        if processed == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(processed, 1, "the worker processed the event");
    assert_eq!(
        app.db
            .count("SELECT count(*) AS n FROM notifications")
            .await,
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn a_queued_broadcast_to_5000_users_completes_and_resumes_without_resending() {
    let app = spawn(|vars: &mut HashMap<String, String>| {
        with_fcm(vars);
        vars.insert("BROADCAST_SYNC_LIMIT".into(), "10".into());
        vars.insert("FCM_CONCURRENCY".into(), "64".into());
    })
    .await;
    mount_oauth(&app, 1).await;
    mount_fcm_ok(&app).await;
    let admin = login_admin(&app, "uid-admin", "admin@example.com").await;
    app.db
        .execute(
            "INSERT INTO users (firebase_uid, email, role) \
                 SELECT 'bulk-' || g, 'bulk' || g || '@example.com', 'patient' FROM generate_series(1, 5000) g; \
             INSERT INTO push_tokens (user_id, fcm_token, platform) \
                 SELECT u.id, 'tok-' || u.firebase_uid || '-' || p.platform, p.platform \
                 FROM users u CROSS JOIN (VALUES ('android'), ('ios')) AS p(platform) \
                 WHERE u.firebase_uid LIKE 'bulk-%';",
        )
        .await;
    let (status, queued) = post(
        &app,
        BROADCAST,
        &admin.access,
        json!({"title": "Health camp", "body": "Free check-ups on Sunday", "target": "patients"}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    assert_eq!(queued["total_users"], 5000);
    let id = queued["broadcast_id"].as_str().unwrap().to_owned();

    // A worker claims the broadcast, processes one batch and dies.
    let notifications = &app.state.notifications;
    let mut running = notifications.claim_broadcast().await.unwrap().unwrap();
    notifications.advance_broadcast(&mut running).await.unwrap();
    drop(running);
    let (_, halfway) = status_json(
        call(
            &app,
            Method::GET,
            &format!("/api/v1/admin/notifications/broadcasts/{id}"),
            Some(&admin.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        (
            halfway["status"].clone(),
            halfway["processed_users"].clone()
        ),
        (json!("running"), json!(500))
    );
    assert!(
        notifications.claim_broadcast().await.unwrap().is_none(),
        "not stale yet"
    );
    // Ten minutes without progress (the trigger that maintains updated_at is bypassed).
    app.db
        .execute(
            "SET session_replication_role = replica; \
             UPDATE broadcasts SET updated_at = now() - interval '11 minutes'; \
             SET session_replication_role = DEFAULT;",
        )
        .await;
    let tick = run_once(&app.state).await.unwrap();
    assert_eq!(tick.broadcasts, 1, "resumed by the next worker");

    let (_, done) = status_json(
        call(
            &app,
            Method::GET,
            &format!("/api/v1/admin/notifications/broadcasts/{id}"),
            Some(&admin.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["total_users"], 5000);
    assert_eq!(done["processed_users"], 5000);
    assert_eq!(done["success_count"], 10_000);
    assert_eq!(done["failure_count"], 0);

    let requests = fcm_requests(&app).await;
    let mut per_token: HashMap<String, usize> = HashMap::new();
    for request in &requests {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        *per_token
            .entry(body["message"]["token"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(per_token.len(), 10_000, "every device reached");
    assert!(
        per_token.values().all(|n| *n == 1),
        "no device reached twice"
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) AS n FROM notifications")
            .await,
        5000
    );
    assert_eq!(
        app.db
            .count(
                "SELECT count(*) AS n FROM notification_deliveries WHERE delivery_status = 'sent'"
            )
            .await,
        10_000
    );
}

async fn contract_repo() -> (TestDb, PgNotificationRepository) {
    let db = TestDb::new().await;
    let database = db.pool(2);
    (db, PgNotificationRepository::new(database))
}

async fn db_user(db: &TestDb) -> UserId {
    let id = uuid::Uuid::new_v4();
    db.execute(&format!(
        "INSERT INTO users (id, firebase_uid, email) VALUES ('{id}', 'fb-{id}', '{id}@example.com')"
    ))
    .await;
    UserId::from_uuid(id)
}

#[tokio::test]
async fn the_postgres_repository_honours_the_domain_contract() {
    let now = chrono::Utc::now();
    let (db, repo) = contract_repo().await;
    contract::token_ownership(&repo, db_user(&db).await, db_user(&db).await, now).await;
    let (db, repo) = contract_repo().await;
    contract::send_pipeline(&repo, db_user(&db).await, db_user(&db).await, now).await;
    let (db, repo) = contract_repo().await;
    contract::ownership(&repo, db_user(&db).await, db_user(&db).await, now).await;
    let (db, repo) = contract_repo().await;
    contract::recovery(&repo, db_user(&db).await, db_user(&db).await, now).await;
    let (db, repo) = contract_repo().await;
    let user = db_user(&db).await;
    for i in 0..2 {
        db.execute(&format!(
            "INSERT INTO notification_outbox (event_type, user_id, payload, created_at) \
             VALUES ('appointment_created', '{user}', '{{\"title\": \"t\", \"body\": \"b\"}}', now() - interval '{} seconds')",
            10 - i
        ))
        .await;
    }
    contract::outbox(&repo, chrono::Utc::now()).await;
}

#[tokio::test]
async fn concurrent_registrations_of_one_token_leave_exactly_one_active_owner() {
    let (db, repo) = contract_repo().await;
    for round in 0..10 {
        let (a, b) = (db_user(&db).await, db_user(&db).await);
        let token = format!("raced-token-{round}");
        let now = chrono::Utc::now();
        let (first, second) = tokio::join!(
            repo.register_token(a, &token, medico24_notifications::Platform::Android, now),
            repo.register_token(b, &token, medico24_notifications::Platform::Android, now),
        );
        assert!(first.is_ok() && second.is_ok(), "{first:?} {second:?}");
        assert_eq!(
            db.count(&format!(
                "SELECT count(*) AS n FROM push_tokens WHERE fcm_token = '{token}' AND is_active"
            ))
            .await,
            1
        );
    }
}
