//! Push delivery end to end against a fake FCM HTTP v1 server and a fake Google OAuth2 token
//! endpoint (wiremock on `app.firebase.server`), with the app configured with a service-account
//! JSON over the test RSA key: one token for many sends, exact request bodies, per-token
//! outcomes, retries (with a 1 ms backoff base, so `Retry-After` seconds become milliseconds),
//! invalid-token deactivation and the notification's settled status.

use std::collections::HashMap;

use medico24_firebase::testing::{
    FirebaseKeys, fcm_error, fcm_send_path, fcm_sent, oauth_token_response,
};
use medico24_testkit::{FakeFirebase, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};
use wiremock::{Mock, Request, ResponseTemplate, matchers};

use crate::notifications::{SEND, insert_token, insert_user, post, rows, spawn};
use crate::support::{Session, login_admin};

const PROJECT: &str = "medico24-test";

/// Configures the service account (token URI = the fake's token endpoint) and a 1 ms backoff.
pub fn with_fcm(vars: &mut HashMap<String, String>) {
    let token_url = vars
        .get("GOOGLE_OAUTH_TOKEN_URL")
        .cloned()
        .unwrap_or_default();
    vars.insert(
        "FIREBASE_CONFIG_JSON".into(),
        FirebaseKeys::shared().service_account_json(PROJECT, &token_url),
    );
    vars.insert("FCM_BACKOFF_BASE_MS".into(), "1".into());
}

/// The token endpoint, expected to be called `times` times.
pub async fn mount_oauth(app: &TestApp, times: u64) {
    Mock::given(matchers::method("POST"))
        .and(matchers::path(FakeFirebase::TOKEN_PATH))
        .respond_with(oauth_token_response("ya29.fake-access-token", 3599))
        .expect(times)
        .mount(&app.firebase.server)
        .await;
}

/// Answers messages to `token` with `responses` in order (the last one repeats).
async fn mount_fcm(app: &TestApp, token: &str, responses: Vec<ResponseTemplate>) {
    let count = responses.len();
    for (i, response) in responses.into_iter().enumerate() {
        let mut mock = Mock::given(matchers::method("POST"))
            .and(matchers::path(fcm_send_path(PROJECT)))
            .and(matchers::body_partial_json(
                json!({"message": {"token": token}}),
            ))
            .respond_with(response);
        if i + 1 < count {
            mock = mock.up_to_n_times(1);
        }
        mock.with_priority(u8::try_from(i + 1).unwrap())
            .mount(&app.firebase.server)
            .await;
    }
}

/// FCM requests received so far, by token.
pub async fn fcm_requests(app: &TestApp) -> Vec<Request> {
    app.firebase
        .server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == fcm_send_path(PROJECT))
        .collect()
}

fn token_of(request: &Request) -> String {
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    body["message"]["token"].as_str().unwrap().to_owned()
}

async fn setup() -> (TestApp, Session, String) {
    let app = spawn(with_fcm).await;
    let admin = login_admin(&app, "uid-admin", "admin@example.com").await;
    let user = insert_user(&app, "patient").await;
    (app, admin, user)
}

async fn send(app: &TestApp, admin: &Session, user: &str) -> Value {
    let (status, result) = post(
        app,
        SEND,
        &admin.access,
        json!({"user_id": user, "title": "Appointment Scheduled",
               "body": "Appointment with Dr. Rao on Jan 01, 10:00 AM IST",
               "data": {"type": "appointment_created", "screen": "/appointments"}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{result}");
    result
}

async fn notification(app: &TestApp) -> Value {
    rows(
        app,
        "SELECT status, failure_reason, retry_count, delivered_at IS NOT NULL AS delivered FROM notifications",
    )
    .await
    .remove(0)
}

async fn deliveries(app: &TestApp) -> Vec<Value> {
    rows(
        app,
        "SELECT t.fcm_token, d.delivery_status, d.fcm_message_id, d.failure_reason, t.is_active \
         FROM notification_deliveries d JOIN push_tokens t ON t.id = d.push_token_id ORDER BY t.fcm_token",
    )
    .await
}

#[tokio::test]
async fn one_oauth_token_serves_many_sends_and_bodies_are_exactly_the_spec() {
    let (app, admin, user) = setup().await;
    mount_oauth(&app, 1).await;
    for i in 0..3 {
        insert_token(
            &app,
            &user,
            &format!("device-token-{i}"),
            ["android", "ios", "web"][i],
        )
        .await;
        mount_fcm(
            &app,
            &format!("device-token-{i}"),
            vec![fcm_sent(PROJECT, &format!("m{i}"))],
        )
        .await;
    }
    for _ in 0..4 {
        let result = send(&app, &admin, &user).await;
        assert_eq!(result["message"], "Sent to 3 devices, 0 failed");
    }
    let requests = fcm_requests(&app).await;
    assert_eq!(requests.len(), 12);
    for request in &requests {
        assert_eq!(
            request.headers["authorization"],
            "Bearer ya29.fake-access-token"
        );
        assert_eq!(request.headers["content-type"], "application/json");
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let token = token_of(request);
        assert_eq!(
            body,
            json!({"message": {"token": token,
                "notification": {"title": "Appointment Scheduled",
                                 "body": "Appointment with Dr. Rao on Jan 01, 10:00 AM IST"},
                "data": {"type": "appointment_created", "screen": "/appointments"},
                "android": {"priority": "high",
                            "notification": {"sound": "default", "notification_priority": "PRIORITY_HIGH",
                                             "channel_id": "medico24_notifications"}},
                "apns": {"headers": {"apns-priority": "10"},
                         "payload": {"aps": {"sound": "default", "badge": 1}}}}})
        );
    }
    let statuses = rows(&app, "SELECT DISTINCT status FROM notifications").await;
    assert_eq!(statuses, vec![json!({"status": "delivered"})]);
    let sent = deliveries(&app).await;
    assert!(sent.iter().all(|d| d["delivery_status"] == "sent"));
    assert_eq!(
        sent[0]["fcm_message_id"],
        format!("projects/{PROJECT}/messages/m0")
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("medico24_notifications_sent_total{outcome=\"sent\"} 12"),
        "{metrics}"
    );
    assert!(metrics.contains("medico24_external_request_duration_seconds_count{outcome=\"success\",service=\"google_oauth\"} 1"), "{metrics}");
    assert!(metrics.contains("medico24_external_request_duration_seconds_count{outcome=\"success\",service=\"fcm\"} 12"), "{metrics}");
    // The mock's `.expect(1)` is verified when the server is dropped.
}

#[tokio::test]
async fn an_unregistered_token_is_recorded_invalid_and_deactivated() {
    let (app, admin, user) = setup().await;
    mount_oauth(&app, 1).await;
    insert_token(&app, &user, "gone-token-000001", "android").await;
    mount_fcm(
        &app,
        "gone-token-000001",
        vec![fcm_error(404, "NOT_FOUND", Some("UNREGISTERED"))],
    )
    .await;
    let result = send(&app, &admin, &user).await;
    assert_eq!(
        result,
        json!({"success_count": 0, "failure_count": 1, "message": "Sent to 0 devices, 1 failed"})
    );
    assert_eq!(
        deliveries(&app).await,
        vec![
            json!({"fcm_token": "gone-token-000001", "delivery_status": "invalid_token",
                    "fcm_message_id": null, "failure_reason": "UNREGISTERED", "is_active": false})
        ]
    );
    assert_eq!(
        notification(&app).await,
        json!({"status": "failed", "failure_reason": "All 1 deliveries failed: UNREGISTERED ×1",
               "retry_count": 0, "delivered": false})
    );
    assert_eq!(fcm_requests(&app).await.len(), 1, "never retried");
    let again = send(&app, &admin, &user).await;
    assert_eq!(
        again["message"], "Sent to 0 devices, 0 failed",
        "the token no longer receives"
    );
}

#[tokio::test]
async fn unavailable_then_success_is_retried_and_recorded_sent_with_the_message_id() {
    let (app, admin, user) = setup().await;
    mount_oauth(&app, 1).await;
    insert_token(&app, &user, "flaky-token-000001", "ios").await;
    mount_fcm(
        &app,
        "flaky-token-000001",
        vec![
            fcm_error(503, "UNAVAILABLE", Some("UNAVAILABLE")),
            fcm_sent(PROJECT, "after-retry"),
        ],
    )
    .await;
    let result = send(&app, &admin, &user).await;
    assert_eq!(result["success_count"], 1);
    assert_eq!(fcm_requests(&app).await.len(), 2);
    assert_eq!(
        deliveries(&app).await,
        vec![
            json!({"fcm_token": "flaky-token-000001", "delivery_status": "sent",
                    "fcm_message_id": format!("projects/{PROJECT}/messages/after-retry"),
                    "failure_reason": null, "is_active": true})
        ]
    );
    assert_eq!(
        notification(&app).await,
        json!({"status": "delivered", "failure_reason": null, "retry_count": 1, "delivered": true})
    );
}

#[tokio::test]
async fn quota_exceeded_with_retry_after_is_retried_until_it_succeeds() {
    // The delays themselves (Retry-After honoured when longer than the backoff, in seconds or as
    // an HTTP date, capped at 30 s) are asserted with a recording sleeper in
    // medico24-firebase's `fcm::tests`; here the app runs with a 1 ms base.
    let (app, admin, user) = setup().await;
    mount_oauth(&app, 1).await;
    insert_token(&app, &user, "busy-token-000001", "android").await;
    let quota = || {
        fcm_error(429, "RESOURCE_EXHAUSTED", Some("QUOTA_EXCEEDED"))
            .insert_header("retry-after", "2")
    };
    mount_fcm(
        &app,
        "busy-token-000001",
        vec![quota(), quota(), fcm_sent(PROJECT, "finally")],
    )
    .await;
    let result = send(&app, &admin, &user).await;
    assert_eq!(result["success_count"], 1);
    assert_eq!(
        fcm_requests(&app).await.len(),
        3,
        "two refusals, then success"
    );
    assert_eq!(
        notification(&app).await,
        json!({"status": "delivered", "failure_reason": null, "retry_count": 2, "delivered": true})
    );
}

#[tokio::test]
async fn mixed_outcomes_make_a_partially_delivered_notification_with_a_summary() {
    let (app, admin, user) = setup().await;
    mount_oauth(&app, 1).await;
    insert_token(&app, &user, "a-good-token-00001", "android").await;
    insert_token(&app, &user, "b-gone-token-00001", "ios").await;
    insert_token(&app, &user, "c-down-token-00001", "web").await;
    mount_fcm(&app, "a-good-token-00001", vec![fcm_sent(PROJECT, "ok")]).await;
    mount_fcm(
        &app,
        "b-gone-token-00001",
        vec![fcm_error(404, "NOT_FOUND", Some("UNREGISTERED"))],
    )
    .await;
    mount_fcm(
        &app,
        "c-down-token-00001",
        vec![fcm_error(503, "UNAVAILABLE", Some("UNAVAILABLE"))],
    )
    .await;
    let result = send(&app, &admin, &user).await;
    assert_eq!(
        result,
        json!({"success_count": 1, "failure_count": 2, "message": "Sent to 1 devices, 2 failed"})
    );
    let stored = notification(&app).await;
    assert_eq!(stored["status"], "partially_delivered");
    assert_eq!(stored["delivered"], true);
    assert_eq!(
        stored["retry_count"], 3,
        "FCM_MAX_RETRIES retries of the unavailable device"
    );
    let reason = stored["failure_reason"].as_str().unwrap();
    assert!(
        reason == "2 of 3 deliveries failed: UNREGISTERED ×1, UNAVAILABLE ×1"
            || reason == "2 of 3 deliveries failed: UNAVAILABLE ×1, UNREGISTERED ×1",
        "{reason}"
    );
    let down = deliveries(&app).await.remove(2);
    assert_eq!(down["delivery_status"], "failed");
    assert_eq!(
        down["failure_reason"],
        "UNAVAILABLE: UNAVAILABLE from the fake"
    );
    assert_eq!(
        down["is_active"], true,
        "only rejected tokens are deactivated"
    );
}

#[tokio::test]
async fn when_every_device_fails_the_notification_is_failed_with_each_code_counted() {
    let (app, admin, user) = setup().await;
    mount_oauth(&app, 1).await;
    insert_token(&app, &user, "a-gone-token-00001", "android").await;
    insert_token(&app, &user, "b-down-token-00001", "web").await;
    app.db
        .execute("UPDATE push_tokens SET created_at = now() - interval '1 minute' WHERE fcm_token = 'a-gone-token-00001'")
        .await;
    mount_fcm(
        &app,
        "a-gone-token-00001",
        vec![fcm_error(404, "NOT_FOUND", Some("UNREGISTERED"))],
    )
    .await;
    mount_fcm(
        &app,
        "b-down-token-00001",
        vec![fcm_error(503, "UNAVAILABLE", Some("UNAVAILABLE"))],
    )
    .await;
    send(&app, &admin, &user).await;
    let stored = notification(&app).await;
    assert_eq!(stored["status"], "failed");
    assert_eq!(
        stored["failure_reason"], "All 2 deliveries failed: UNREGISTERED ×1, UNAVAILABLE ×1",
        "codes in token order (oldest token first)"
    );
}

#[tokio::test]
async fn an_unusable_service_account_leaves_sending_disabled() {
    let app = spawn(|vars| {
        vars.insert(
            "FIREBASE_CONFIG_JSON".into(),
            json!({"type": "service_account", "project_id": PROJECT}).to_string(),
        );
    })
    .await;
    assert!(!app.state.notifications.push_enabled());
    let admin = login_admin(&app, "uid-admin", "admin@example.com").await;
    let user = insert_user(&app, "patient").await;
    insert_token(&app, &user, "some-token-000001", "android").await;
    let result = send(&app, &admin, &user).await;
    assert_eq!(result["failure_count"], 1);
    assert_eq!(
        notification(&app).await["failure_reason"],
        "push provider not configured"
    );
}
