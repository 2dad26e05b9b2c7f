//! Appointment reminders end to end (scheduled with the booking, moved or dropped with its
//! changes, sent once by racing workers, skipped when inactive, started or opted out) and the
//! notification-preference endpoints. Time is controlled through the rows: a reminder is made
//! due by moving its `available_at` back, an appointment started by moving its start.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use medico24_firebase::testing::{fcm_send_path, fcm_sent};
use medico24_server::workers::run_once;
use medico24_testkit::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wiremock::{Mock, matchers};

use crate::fcm::{mount_oauth, with_fcm};
use crate::notifications::{insert_token, rows, spawn};
use crate::support::{Session, call, login, login_admin, status_json};

const PREFS: &str = "/api/v1/users/me/notification-preferences";

/// An app with reminders 24 h and 1 h ahead and a working FCM (a test that sends mounts the
/// token endpoint, expected once).
async fn app() -> TestApp {
    let app = spawn(|vars| {
        with_fcm(vars);
        vars.insert("REMINDER_OFFSETS".into(), "24h,1h".into());
    })
    .await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path(fcm_send_path("medico24-test")))
        .respond_with(fcm_sent("medico24-test", "ok"))
        .mount(&app.firebase.server)
        .await;
    app
}

fn wire(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Books an appointment `ahead` from now; returns its id.
async fn book(app: &TestApp, patient: &Session, ahead: Duration) -> String {
    let (status, body) = status_json(
        call(
            app,
            Method::POST,
            "/api/v1/appointments/",
            Some(&patient.access),
            Some(
                json!({"doctor_name": "Dr Mehta", "clinic_name": "Lotus Clinic",
                        "appointment_at": wire(Utc::now() + ahead),
                        "reason": "Check-up", "contact_phone": "+91 98765 43210"}),
            ),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// The pending reminder rows of `appointment`: offset and seconds from its start to the due time.
async fn pending(app: &TestApp, appointment: &str) -> Vec<(i64, i64)> {
    rows(
        app,
        &format!(
            "SELECT o.reminder_offset_minutes AS off, \
                 round(extract(epoch FROM a.appointment_at - o.available_at))::bigint AS before \
             FROM notification_outbox o JOIN appointments a ON a.id = o.appointment_id \
             WHERE o.appointment_id = '{appointment}' AND o.processed_at IS NULL \
             ORDER BY 1 DESC"
        ),
    )
    .await
    .iter()
    .map(|r| (r["off"].as_i64().unwrap(), r["before"].as_i64().unwrap()))
    .collect()
}

/// Makes every pending reminder of `appointment` due a minute ago.
async fn make_due(app: &TestApp, appointment: &str) {
    app.db
        .execute(&format!(
            "UPDATE notification_outbox SET available_at = now() - interval '1 minute' \
             WHERE appointment_id = '{appointment}' AND processed_at IS NULL"
        ))
        .await;
}

async fn metrics(app: &TestApp) -> String {
    app.get("/metrics").await.text().await.unwrap()
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Value,
) -> (StatusCode, Value) {
    status_json(call(app, method, path, Some(token), Some(body)).await).await
}

#[tokio::test]
async fn a_booking_schedules_only_the_offsets_still_ahead() {
    let app = app().await;
    let patient = login(&app, "uid-r1", "r1@example.com").await;
    let soon = book(&app, &patient, Duration::minutes(30)).await;
    let later = book(&app, &patient, Duration::minutes(90)).await;
    let far = book(&app, &patient, Duration::days(3)).await;
    assert_eq!(
        pending(&app, &soon).await,
        vec![],
        "30 minutes ahead: no reminder"
    );
    assert_eq!(pending(&app, &later).await, vec![(60, 3600)]);
    assert_eq!(pending(&app, &far).await, vec![(1440, 86_400), (60, 3600)]);
    let reminder = &rows(
        &app,
        &format!("SELECT event_type, user_id::text, payload FROM notification_outbox WHERE appointment_id = '{far}' LIMIT 1"),
    )
    .await[0];
    assert_eq!(reminder["event_type"], "appointment_reminder");
    assert_eq!(reminder["user_id"], patient.id.as_str());
    assert_eq!(
        reminder["payload"]["notification_type"],
        "appointment_reminder"
    );
    assert_eq!(reminder["payload"]["data"]["appointment_id"], far.as_str());
    assert_eq!(
        reminder["payload"]["data"]["screen"],
        format!("/appointments/{far}")
    );
    let text = reminder["payload"]["body"].as_str().unwrap();
    assert!(
        text.contains("Dr Mehta") && text.contains("Lotus Clinic") && text.contains("IST"),
        "{text}"
    );
    assert!(
        metrics(&app)
            .await
            .contains("medico24_reminders_scheduled_total 3")
    );
    // A second reminder row for the same appointment and offset is refused by the database.
    let mut conn = app.db.connect().await;
    use diesel_async::SimpleAsyncConnection;
    let refused = conn
        .batch_execute(&format!(
            "INSERT INTO notification_outbox (event_type, user_id, payload, appointment_id, reminder_offset_minutes) \
             VALUES ('appointment_reminder', '{}', '{{}}', '{far}', 60)",
            patient.id
        ))
        .await
        .expect_err("one row per appointment and offset")
        .to_string();
    assert!(
        refused.contains("uq_notification_outbox_reminder"),
        "{refused}"
    );
}

#[tokio::test]
async fn a_reschedule_moves_pending_reminders_and_ending_an_appointment_drops_them() {
    let app = app().await;
    let patient = login(&app, "uid-r2", "r2@example.com").await;
    let admin = login_admin(&app, "uid-r2-admin", "r2-admin@example.com").await;
    let id = book(&app, &patient, Duration::days(3)).await;
    let path = format!("/api/v1/appointments/{id}");

    // Two hours ahead: the 24 h reminder is in the past now, the 1 h one moves.
    let (status, body) = send(
        &app,
        Method::PUT,
        &path,
        &patient.access,
        json!({"appointment_at": wire(Utc::now() + Duration::hours(2))}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(pending(&app, &id).await, vec![(60, 3600)]);
    // The 1 h reminder is sent for the new time, then the appointment moves two days out:
    // both offsets are ahead again and both are armed (the sent one again, for the new time).
    make_due(&app, &id).await;
    run_once(&app.state).await.unwrap();
    assert_eq!(pending(&app, &id).await, vec![]);
    let (status, _) = send(
        &app,
        Method::PUT,
        &path,
        &patient.access,
        json!({"appointment_at": wire(Utc::now() + Duration::days(2))}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(pending(&app, &id).await, vec![(1440, 86_400), (60, 3600)]);
    // A change of the notes leaves them alone; a cancel drops them.
    let (status, _) = send(
        &app,
        Method::PUT,
        &path,
        &patient.access,
        json!({"notes": "bring reports"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(pending(&app, &id).await.len(), 2);
    let (status, body) = send(
        &app,
        Method::PATCH,
        &format!("{path}/status"),
        &patient.access,
        json!({"status": "cancelled"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(pending(&app, &id).await, vec![]);

    for (target, days) in [("completed", 3), ("no_show", 4)] {
        let id = book(&app, &patient, Duration::days(days)).await;
        assert_eq!(pending(&app, &id).await.len(), 2);
        let (status, body) = send(
            &app,
            Method::PATCH,
            &format!("/api/v1/appointments/{id}/status"),
            &admin.access,
            json!({"status": target}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(pending(&app, &id).await, vec![], "{target}");
    }
    let soft = book(&app, &patient, Duration::days(5)).await;
    let response = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/appointments/{soft}"),
        Some(&patient.access),
        None,
    )
    .await;
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(pending(&app, &soft).await, vec![]);
    let hard = book(&app, &patient, Duration::days(6)).await;
    let response = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/appointments/{hard}?hard_delete=true"),
        Some(&admin.access),
        None,
    )
    .await;
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(
        app.db
            .count(&format!(
                "SELECT count(*) AS n FROM notification_outbox WHERE appointment_id = '{hard}'"
            ))
            .await,
        0
    );
}

#[tokio::test]
async fn two_racing_workers_send_each_reminder_exactly_once() {
    let app = app().await;
    let patient = login(&app, "uid-r3", "r3@example.com").await;
    mount_oauth(&app, 1).await;
    insert_token(&app, &patient.id, "racing-phone-000001", "android").await;
    let mut ids = Vec::new();
    for i in 0..15 {
        ids.push(
            book(
                &app,
                &patient,
                Duration::days(2) + Duration::minutes(i * 45),
            )
            .await,
        );
    }
    app.db
        .execute("UPDATE notification_outbox SET available_at = now() - interval '1 minute' WHERE appointment_id IS NOT NULL")
        .await;
    let notifications = &app.state.notifications;
    loop {
        let (a, b) = tokio::join!(
            notifications.process_outbox(),
            notifications.process_outbox()
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        if a.claimed == 0 && b.claimed == 0 {
            break;
        }
    }
    assert_eq!(
        app.db.count("SELECT count(*) AS n FROM notifications WHERE notification_type = 'appointment_reminder'").await,
        30,
        "15 appointments × 2 offsets"
    );
    assert_eq!(
        app.db.count(
            "SELECT count(*) AS n FROM (SELECT DISTINCT o.appointment_id, o.reminder_offset_minutes \
             FROM notification_outbox o JOIN notifications n ON n.id = o.notification_id \
             WHERE o.appointment_id IS NOT NULL) q"
        ).await,
        30
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) AS n FROM notification_outbox WHERE processed_at IS NULL")
            .await,
        0
    );
    let stored = rows(&app, "SELECT body, data FROM notifications WHERE notification_type = 'appointment_reminder' LIMIT 1").await;
    assert!(
        ids.iter()
            .any(|id| stored[0]["data"]["appointment_id"] == id.as_str())
    );
    assert!(
        metrics(&app)
            .await
            .contains("medico24_reminders_sent_total 30")
    );
}

#[tokio::test]
async fn an_opted_out_patient_gets_no_reminder_and_the_skip_is_counted() {
    let app = app().await;
    let patient = login(&app, "uid-r4", "r4@example.com").await;
    let (status, body) = send(
        &app,
        Method::PATCH,
        PREFS,
        &patient.access,
        json!({"appointment_reminders": false, "appointment_updates": false}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = book(&app, &patient, Duration::days(3)).await;
    make_due(&app, &id).await;
    let tick = run_once(&app.state).await.unwrap();
    assert_eq!(
        tick.outbox.skipped, 3,
        "two reminders and the booking message"
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) AS n FROM notifications")
            .await,
        0
    );
    let reasons = rows(&app, "SELECT event_type, skip_reason FROM notification_outbox ORDER BY event_type, reminder_offset_minutes").await;
    assert_eq!(
        reasons,
        vec![
            json!({"event_type": "appointment_created", "skip_reason": "opted_out"}),
            json!({"event_type": "appointment_reminder", "skip_reason": "opted_out"}),
            json!({"event_type": "appointment_reminder", "skip_reason": "opted_out"}),
        ]
    );
    let text = metrics(&app).await;
    assert!(
        text.contains("medico24_reminders_skipped_total{reason=\"opted_out\"} 2"),
        "{text}"
    );
    assert!(text.contains("medico24_reminders_sent_total 0"));
}

#[tokio::test]
async fn an_overdue_reminder_before_the_start_is_sent_and_one_after_the_start_is_skipped() {
    let app = app().await;
    let patient = login(&app, "uid-r5", "r5@example.com").await;
    mount_oauth(&app, 1).await;
    insert_token(&app, &patient.id, "overdue-phone-000001", "android").await;
    let ahead = book(&app, &patient, Duration::days(3)).await;
    let started = book(&app, &patient, Duration::days(4)).await;
    // The service was down: the 1 h reminder of `ahead` came due 50 minutes ago and the
    // appointment starts in 10; `started` began 5 minutes ago with both reminders unsent.
    app.db
        .execute(&format!(
            "UPDATE appointments SET appointment_at = now() + interval '10 minutes' WHERE id = '{ahead}';
             UPDATE notification_outbox SET available_at = now() - interval '50 minutes'
              WHERE appointment_id = '{ahead}' AND reminder_offset_minutes = 60;
             UPDATE appointments SET appointment_at = now() - interval '5 minutes' WHERE id = '{started}';
             UPDATE notification_outbox SET available_at = now() - interval '65 minutes'
              WHERE appointment_id = '{started}';"
        ))
        .await;
    run_once(&app.state).await.unwrap();
    let sent = rows(&app, "SELECT title, body, data, status FROM notifications WHERE notification_type = 'appointment_reminder'").await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["title"], "Appointment Reminder");
    assert_eq!(sent[0]["status"], "delivered");
    assert_eq!(sent[0]["data"]["appointment_id"], ahead.as_str());
    assert_eq!(sent[0]["data"]["type"], "appointment_reminder");
    assert_eq!(
        rows(
            &app,
            &format!(
                "SELECT skip_reason FROM notification_outbox WHERE appointment_id = '{started}'"
            )
        )
        .await,
        vec![
            json!({"skip_reason": "started"}),
            json!({"skip_reason": "started"})
        ]
    );
    assert_eq!(
        pending(&app, &ahead).await.len(),
        1,
        "the 24 h reminder is not due yet"
    );
    let text = metrics(&app).await;
    assert!(text.contains("medico24_reminders_sent_total 1"), "{text}");
    assert!(
        text.contains("medico24_reminders_skipped_total{reason=\"started\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("medico24_reminder_lag_seconds_count 1"),
        "{text}"
    );
    // A cancelled appointment whose reminder was already claimed is skipped as inactive.
    let cancelled = book(&app, &patient, Duration::days(5)).await;
    make_due(&app, &cancelled).await;
    app.db
        .execute(&format!(
            "UPDATE appointments SET status = 'cancelled' WHERE id = '{cancelled}'"
        ))
        .await;
    run_once(&app.state).await.unwrap();
    assert!(
        metrics(&app)
            .await
            .contains("medico24_reminders_skipped_total{reason=\"inactive\"} 2")
    );
}

#[tokio::test]
async fn preferences_default_on_change_in_part_and_refuse_bad_bodies_and_callers() {
    let app = app().await;
    let patient = login(&app, "uid-r6", "r6@example.com").await;
    let all_on = json!({"appointment_reminders": true, "appointment_updates": true, "system_announcements": true});
    let (status, body) =
        status_json(call(&app, Method::GET, PREFS, Some(&patient.access), None).await).await;
    assert_eq!((status, body), (StatusCode::OK, all_on.clone()));
    let (status, body) = send(
        &app,
        Method::PATCH,
        PREFS,
        &patient.access,
        json!({"appointment_reminders": false}),
    )
    .await;
    let expected = json!({"appointment_reminders": false, "appointment_updates": true, "system_announcements": true});
    assert_eq!((status, body), (StatusCode::OK, expected.clone()));
    let (status, body) = send(
        &app,
        Method::PATCH,
        PREFS,
        &patient.access,
        json!({"system_announcements": false}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["appointment_reminders"], false,
        "absent members are unchanged"
    );
    assert_eq!(body["system_announcements"], false);
    let (status, body) = send(&app, Method::PATCH, PREFS, &patient.access, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["system_announcements"], false);
    let (status, body) =
        status_json(call(&app, Method::GET, PREFS, Some(&patient.access), None).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["appointment_reminders"], false);

    let (status, body) = send(
        &app,
        Method::PATCH,
        PREFS,
        &patient.access,
        json!({"appointment_updates": "no", "appointment_reminders": null}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let locations: Vec<Value> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["loc"].clone())
        .collect();
    assert!(
        locations.contains(&json!(["body", "appointment_updates"])),
        "{body}"
    );
    let response = call(
        &app,
        Method::PATCH,
        PREFS,
        Some(&patient.access),
        Some(json!([true])),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);

    for method in [Method::GET, Method::PATCH] {
        let response = call(&app, method.clone(), PREFS, None, Some(json!({}))).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{method}");
    }
    app.db
        .execute(&format!(
            "UPDATE users SET is_active = false WHERE id = '{}'",
            patient.id
        ))
        .await;
    app.redis_flush_user(&patient.id).await;
    for method in [Method::GET, Method::PATCH] {
        let response = call(
            &app,
            method.clone(),
            PREFS,
            Some(&patient.access),
            Some(json!({})),
        )
        .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method}");
    }
}

#[tokio::test]
async fn a_patient_who_turned_system_announcements_off_is_left_out_of_broadcasts() {
    let app = spawn(|_| {}).await;
    let admin = login_admin(&app, "uid-r-admin", "r-admin@example.com").await;
    let kept = login(&app, "uid-r-kept", "r-kept@example.com").await;
    let quiet = login(&app, "uid-r-quiet", "r-quiet@example.com").await;
    let (status, body) = send(
        &app,
        Method::PATCH,
        PREFS,
        &quiet.access,
        json!({"system_announcements": false}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Another preference off does not take anyone out of a broadcast.
    let (status, _) = send(
        &app,
        Method::PATCH,
        PREFS,
        &kept.access,
        json!({"appointment_reminders": false}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, result) = send(
        &app,
        Method::POST,
        "/api/v1/admin/notifications/broadcast",
        &admin.access,
        json!({"title": "Maintenance", "body": "Tonight", "target": "patients"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(result["total_users"], 1, "{result}");
    let recipients = rows(&app, "SELECT user_id::text AS user_id FROM notifications").await;
    assert_eq!(recipients, vec![json!({"user_id": kept.id})]);
}
