//! Notifications end to end: push-token ownership, admin sends by
//! bearer and by secret, validation of every body and query, history, detail, read marks,
//! deletion, statistics, admin logs and broadcasts, with their audit rows. Push sending is
//! disabled here (no service account) except where a test configures the fake FCM (`fcm.rs`).

use std::collections::HashMap;

use diesel::QueryableByName;
use diesel::sql_types::Text;
use medico24_testkit::{TestApp, spawn_app_with};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Session, call, login, login_admin, mount_certs, status_json};

pub const SEND: &str = "/api/v1/notifications/send";
pub const ADMIN_SEND: &str = "/api/v1/notifications/admin-send";
const REGISTER: &str = "/api/v1/notifications/register-token";
const DEACTIVATE: &str = "/api/v1/notifications/deactivate-token";
const DEACTIVATE_ALL: &str = "/api/v1/notifications/deactivate-all";
const HISTORY: &str = "/api/v1/notifications/history";
const STATS: &str = "/api/v1/notifications/stats/summary";
const LOGS: &str = "/api/v1/admin/notifications/logs";
pub const BROADCAST: &str = "/api/v1/admin/notifications/broadcast";

/// An app with generous rate limits (these tests send many admin requests from one IP).
pub async fn spawn(customize: impl FnOnce(&mut HashMap<String, String>)) -> TestApp {
    let app = spawn_app_with(|vars| {
        vars.insert("RATE_LIMIT_PER_MINUTE".into(), "100000".into());
        vars.insert("RATE_LIMIT_ADMIN_SEND_PER_MINUTE".into(), "100000".into());
        vars.insert("RATE_LIMIT_AUTH_PER_MINUTE".into(), "100000".into());
        customize(vars);
    })
    .await;
    mount_certs(&app).await;
    app
}

/// Rows of `sql` as JSON objects (via `row_to_json`).
pub async fn rows(app: &TestApp, sql: &str) -> Vec<Value> {
    use diesel_async::RunQueryDsl;
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        j: String,
    }
    let mut conn = app.db.connect().await;
    let rows: Vec<Row> =
        diesel::sql_query(format!("SELECT row_to_json(q)::text AS j FROM ({sql}) q"))
            .load(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.into_iter()
        .map(|r| serde_json::from_str(&r.j).unwrap())
        .collect()
}

/// A user row inserted directly (no login); returns its id.
pub async fn insert_user(app: &TestApp, role: &str) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    app.db
        .execute(&format!(
            "INSERT INTO users (id, firebase_uid, email, role) VALUES ('{id}', 'fb-{id}', '{id}@example.com', '{role}')"
        ))
        .await;
    id
}

/// An active push token of `user` inserted directly.
pub async fn insert_token(app: &TestApp, user: &str, token: &str, platform: &str) {
    app.db
        .execute(&format!(
            "INSERT INTO push_tokens (user_id, fcm_token, platform) VALUES ('{user}', '{token}', '{platform}')"
        ))
        .await;
}

/// `POST path` with a bearer and a JSON body.
pub async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    status_json(call(app, Method::POST, path, Some(token), Some(body)).await).await
}

async fn get(app: &TestApp, path: &str, token: &str) -> (StatusCode, Value) {
    status_json(call(app, Method::GET, path, Some(token), None).await).await
}

async fn secret_send(app: &TestApp, secret: Option<&str>, body: Value) -> (StatusCode, Value) {
    let mut request = app.client.post(app.url(ADMIN_SEND)).json(&body);
    if let Some(secret) = secret {
        request = request.header("X-Admin-Secret", secret);
    }
    status_json(request.send().await.unwrap()).await
}

fn admin_secret(app: &TestApp) -> String {
    app.settings.admin_notification_secret.expose().to_owned()
}

fn issue_types(body: &Value) -> Vec<(Value, String)> {
    body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["loc"].clone(), d["type"].as_str().unwrap().to_owned()))
        .collect()
}

async fn register(
    app: &TestApp,
    session: &Session,
    token: &str,
    platform: &str,
) -> (StatusCode, Value) {
    post(
        app,
        REGISTER,
        &session.access,
        json!({"fcm_token": token, "platform": platform}),
    )
    .await
}

#[tokio::test]
async fn registering_a_token_answers_201_and_re_registering_keeps_the_row() {
    let app = spawn(|_| {}).await;
    let user = login(&app, "uid-reg", "reg@example.com").await;
    let (status, first) = register(&app, &user, "device-token-aaaaaa", "android").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys.len(),
        7,
        "id, user_id, fcm_token, platform, is_active, last_used_at, created_at: {keys:?}"
    );
    assert_eq!(first["user_id"], user.id.as_str());
    assert_eq!(first["fcm_token"], "device-token-aaaaaa");
    assert_eq!(first["platform"], "android");
    assert_eq!(first["is_active"], true);
    assert!(first["last_used_at"].as_str().unwrap().ends_with('Z'));
    assert!(first["created_at"].as_str().unwrap().ends_with('Z'));

    let (status, again) = register(&app, &user, "device-token-aaaaaa", "ios").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(again["id"], first["id"], "same row on re-registration");
    assert_eq!(again["platform"], "ios");

    let (status, newer) = register(&app, &user, "device-token-bbbbbb", "ios").await;
    assert_eq!(status, StatusCode::CREATED);
    let active = rows(
        &app,
        &format!(
            "SELECT fcm_token FROM push_tokens WHERE user_id = '{}' AND is_active",
            user.id
        ),
    )
    .await;
    assert_eq!(
        active,
        vec![json!({"fcm_token": "device-token-bbbbbb"})],
        "one per platform"
    );
    assert_ne!(newer["id"], first["id"]);
}

#[tokio::test]
async fn a_token_registered_by_a_second_user_stops_reaching_the_first() {
    let app = spawn(|_| {}).await;
    let alice = login(&app, "uid-alice", "alice@example.com").await;
    let bob = login(&app, "uid-bob", "bob@example.com").await;
    let admin = login_admin(&app, "uid-admin", "admin@example.com").await;
    assert_eq!(
        register(&app, &alice, "shared-token-123456", "android")
            .await
            .0,
        StatusCode::CREATED
    );
    assert_eq!(
        register(&app, &bob, "shared-token-123456", "android")
            .await
            .0,
        StatusCode::CREATED
    );
    let owners = rows(
        &app,
        "SELECT user_id::text, is_active FROM push_tokens WHERE fcm_token = 'shared-token-123456' ORDER BY is_active",
    )
    .await;
    assert_eq!(
        owners,
        vec![
            json!({"user_id": alice.id, "is_active": false}),
            json!({"user_id": bob.id, "is_active": true}),
        ]
    );
    let (status, result) = post(
        &app,
        SEND,
        &admin.access,
        json!({"user_id": alice.id, "title": "Hi", "body": "There"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(
        result,
        json!({"success_count": 0, "failure_count": 0, "message": "Sent to 0 devices, 0 failed"})
    );
    let (_, result) = post(
        &app,
        SEND,
        &admin.access,
        json!({"user_id": bob.id, "title": "Hi", "body": "There"}),
    )
    .await;
    assert_eq!(
        result["failure_count"], 1,
        "bob's device (sender disabled here)"
    );
}

#[tokio::test]
async fn token_bodies_are_validated() {
    let app = spawn(|_| {}).await;
    let user = login(&app, "uid-v", "v@example.com").await;
    let cases = [
        (
            json!({}),
            vec![
                (json!(["body", "fcm_token"]), "missing"),
                (json!(["body", "platform"]), "missing"),
            ],
        ),
        (
            json!({"fcm_token": "", "platform": "android"}),
            vec![(json!(["body", "fcm_token"]), "string_too_short")],
        ),
        (
            json!({"fcm_token": "x".repeat(4097), "platform": "android"}),
            vec![(json!(["body", "fcm_token"]), "string_too_long")],
        ),
        (
            json!({"fcm_token": "t", "platform": "Android"}),
            vec![(json!(["body", "platform"]), "enum")],
        ),
        (
            json!({"fcm_token": 5, "platform": "web"}),
            vec![(json!(["body", "fcm_token"]), "string_type")],
        ),
    ];
    for (body, expected) in cases {
        let (status, error) = post(&app, REGISTER, &user.access, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let expected: Vec<(Value, String)> = expected
            .into_iter()
            .map(|(l, t)| (l, t.to_owned()))
            .collect();
        assert_eq!(issue_types(&error), expected, "{body}");
    }
    let (status, _) = status_json(
        call(
            &app,
            Method::POST,
            REGISTER,
            None,
            Some(json!({"fcm_token": "t", "platform": "web"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn deactivating_tokens_answers_204_even_for_unknown_tokens() {
    let app = spawn(|_| {}).await;
    let user = login(&app, "uid-d", "d@example.com").await;
    register(&app, &user, "phone-token-111111", "android").await;
    register(&app, &user, "web-token-222222", "web").await;
    let delete = |path: &'static str, body: Option<Value>| {
        let app = &app;
        let token = user.access.clone();
        async move { status_json(call(app, Method::DELETE, path, Some(&token), body).await).await }
    };
    let (status, _) = delete(
        DEACTIVATE,
        Some(json!({"fcm_token": "phone-token-111111", "platform": "nonsense"})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "platform is ignored");
    let (status, _) = delete(DEACTIVATE, Some(json!({"fcm_token": "never-registered"}))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, error) = delete(DEACTIVATE, Some(json!({}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        issue_types(&error),
        vec![(json!(["body", "fcm_token"]), "missing".to_owned())]
    );
    let active = |sql_user: String| {
        let app = &app;
        async move {
            rows(
                app,
                &format!(
                    "SELECT fcm_token FROM push_tokens WHERE user_id = '{sql_user}' AND is_active"
                ),
            )
            .await
        }
    };
    assert_eq!(
        active(user.id.clone()).await,
        vec![json!({"fcm_token": "web-token-222222"})]
    );
    let (status, _) = delete(DEACTIVATE_ALL, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(active(user.id.clone()).await.is_empty());

    let wrong_method = app.get(DEACTIVATE).await;
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.headers()["allow"], "DELETE");
}

#[tokio::test]
async fn only_admins_send_and_every_send_is_audited() {
    let app = spawn(|_| {}).await;
    let patient = login(&app, "uid-p", "p@example.com").await;
    let admin = login_admin(&app, "uid-a", "a@example.com").await;
    let body = json!({"user_id": patient.id, "title": "Hello", "body": "World"});

    let (status, error) = post(&app, SEND, &patient.access, body.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error["detail"], "Only admins can send notifications");
    let (status, _) =
        status_json(call(&app, Method::POST, SEND, None, Some(body.clone())).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, error) = post(&app, SEND, &patient.access, json!({"user_id": "nope"})).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the role is checked before the body: {error}"
    );

    let (status, result) = post(&app, SEND, &admin.access, body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(result["message"], "Sent to 0 devices, 0 failed");
    let audit = rows(
        &app,
        "SELECT actor_user_id::text, actor_type, action, resource_type, resource_id, details FROM audit_events",
    )
    .await;
    let notification = rows(
        &app,
        "SELECT id::text, status, failure_reason FROM notifications",
    )
    .await;
    assert_eq!(
        notification,
        vec![
            json!({"id": notification[0]["id"], "status": "failed", "failure_reason": "No active tokens for user"})
        ]
    );
    assert_eq!(
        audit,
        vec![json!({
            "actor_user_id": admin.id, "actor_type": "user", "action": "notification.send",
            "resource_type": "notification", "resource_id": notification[0]["id"],
            "details": {"user_id": patient.id, "notification_type": "other", "priority": "normal"}
        })]
    );
}

#[tokio::test]
async fn the_admin_secret_sends_and_is_audited_as_admin_secret() {
    let app = spawn(|_| {}).await;
    let user = insert_user(&app, "patient").await;
    let body = json!({"user_id": user, "title": "Hello", "body": "World",
                      "notification_type": "pharmacy_update", "priority": "high", "data": {"screen": "/x"}});
    let (status, error) = secret_send(&app, None, body.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        issue_types(&error),
        vec![(json!(["header", "x-admin-secret"]), "missing".to_owned())]
    );
    let (status, error) = secret_send(&app, Some("wrong"), body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error["detail"], "Invalid admin secret key");
    let (status, result) = secret_send(&app, Some(&admin_secret(&app)), body).await;
    assert_eq!(status, StatusCode::OK, "{result}");
    let audit = rows(&app, "SELECT actor_user_id, actor_type, action, request_id <> '' AS has_request FROM audit_events").await;
    assert_eq!(
        audit,
        vec![
            json!({"actor_user_id": null, "actor_type": "admin_secret", "action": "notification.admin_send", "has_request": true})
        ]
    );
    let stored = rows(
        &app,
        "SELECT notification_type, priority, data FROM notifications",
    )
    .await;
    assert_eq!(
        stored,
        vec![
            json!({"notification_type": "pharmacy_update", "priority": "high", "data": {"screen": "/x"}})
        ]
    );
}

#[tokio::test]
async fn send_bodies_are_validated_including_the_data_key_rules() {
    let app = spawn(|_| {}).await;
    let admin = login_admin(&app, "uid-a", "a@example.com").await;
    let user = insert_user(&app, "patient").await;
    let with = |extra: Value| {
        let mut body = json!({"user_id": user, "title": "t", "body": "b"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let big = "x".repeat(4090);
    let cases: Vec<(Value, Vec<(Value, &str)>)> = vec![
        (
            json!({}),
            vec![
                (json!(["body", "user_id"]), "missing"),
                (json!(["body", "title"]), "missing"),
                (json!(["body", "body"]), "missing"),
            ],
        ),
        (
            with(json!({"user_id": "not-a-uuid"})),
            vec![(json!(["body", "user_id"]), "uuid_parsing")],
        ),
        (
            with(json!({"user_id": 7})),
            vec![(json!(["body", "user_id"]), "uuid_type")],
        ),
        (
            with(json!({"title": ""})),
            vec![(json!(["body", "title"]), "string_too_short")],
        ),
        (
            with(json!({"title": "x".repeat(101)})),
            vec![(json!(["body", "title"]), "string_too_long")],
        ),
        (
            with(json!({"body": "x".repeat(501)})),
            vec![(json!(["body", "body"]), "string_too_long")],
        ),
        (
            with(json!({"notification_type": "spam"})),
            vec![(json!(["body", "notification_type"]), "enum")],
        ),
        (
            with(json!({"priority": "max"})),
            vec![(json!(["body", "priority"]), "enum")],
        ),
        (
            with(json!({"data": [1]})),
            vec![(json!(["body", "data"]), "dict_type")],
        ),
        (
            with(json!({"data": {"n": 1}})),
            vec![(json!(["body", "data", "n"]), "string_type")],
        ),
        (
            with(json!({"data": {"": "x"}})),
            vec![(json!(["body", "data", ""]), "value_error")],
        ),
        (
            with(json!({"data": {"from": "x"}})),
            vec![(json!(["body", "data", "from"]), "value_error")],
        ),
        (
            with(json!({"data": {"notification": "x"}})),
            vec![(json!(["body", "data", "notification"]), "value_error")],
        ),
        (
            with(json!({"data": {"message_type": "x"}})),
            vec![(json!(["body", "data", "message_type"]), "value_error")],
        ),
        (
            with(json!({"data": {"google.c.a.e": "1"}})),
            vec![(json!(["body", "data", "google.c.a.e"]), "value_error")],
        ),
        (
            with(json!({"data": {"gcm.n.e": "1"}})),
            vec![(json!(["body", "data", "gcm.n.e"]), "value_error")],
        ),
        (
            with(json!({"data": {"k": big}})),
            vec![(json!(["body", "data"]), "value_error")],
        ),
        (
            with(json!({"user_id": uuid::Uuid::new_v4().to_string()})),
            vec![(json!(["body", "user_id"]), "value_error")],
        ),
    ];
    for (body, expected) in cases {
        let (status, error) = post(&app, SEND, &admin.access, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {error}");
        let expected: Vec<(Value, String)> = expected
            .into_iter()
            .map(|(l, t)| (l, t.to_owned()))
            .collect();
        assert_eq!(issue_types(&error), expected, "{body}");
    }
    let (_, error) = post(
        &app,
        SEND,
        &admin.access,
        with(json!({"user_id": uuid::Uuid::new_v4().to_string()})),
    )
    .await;
    assert_eq!(error["detail"], "User not found");
    let (status, _) = post(
        &app,
        SEND,
        &admin.access,
        with(json!({"data": {"k": "x".repeat(4000), "screen": "/a", "my_google": "ok"}})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "4096 bytes and keys merely containing google are fine"
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) AS n FROM notifications")
            .await,
        1,
        "nothing written by refused sends"
    );
}

#[tokio::test]
async fn without_credentials_sends_are_recorded_failed_and_nothing_errors() {
    let app = spawn(|_| {}).await;
    let admin = login_admin(&app, "uid-a", "a@example.com").await;
    let user = insert_user(&app, "patient").await;
    insert_token(&app, &user, "phone-token-000001", "android").await;
    insert_token(&app, &user, "web-token-000002", "web").await;
    let (status, result) = post(
        &app,
        SEND,
        &admin.access,
        json!({"user_id": user, "title": "Hello", "body": "World"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        result,
        json!({"success_count": 0, "failure_count": 2, "message": "Sent to 0 devices, 2 failed"})
    );
    let notification = rows(&app, "SELECT status, failure_reason, sent_at IS NOT NULL AS sent, delivered_at FROM notifications").await;
    assert_eq!(
        notification,
        vec![
            json!({"status": "failed", "failure_reason": "push provider not configured", "sent": true, "delivered_at": null})
        ]
    );
    let deliveries = rows(
        &app,
        "SELECT delivery_status, failure_reason FROM notification_deliveries",
    )
    .await;
    assert_eq!(deliveries.len(), 2);
    assert!(deliveries.iter().all(|d| *d
        == json!({"delivery_status": "failed", "failure_reason": "push provider not configured"})));
    assert_eq!(
        app.db
            .count("SELECT count(*) AS n FROM push_tokens WHERE is_active")
            .await,
        2,
        "tokens stay active"
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("medico24_notifications_sent_total{outcome=\"disabled\"} 2"),
        "{metrics}"
    );
}

/// Seeds notifications of `owner` with known statuses, types and times; returns their ids
/// newest first.
async fn seed_history(app: &TestApp, owner: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for (i, (status, kind, priority, sent)) in [
        (
            "delivered",
            "appointment_confirmation",
            "normal",
            "now() - interval '3 hours'",
        ),
        ("failed", "other", "high", "NULL"),
        (
            "partially_delivered",
            "appointment_confirmation",
            "normal",
            "now() - interval '1 hour'",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let id = uuid::Uuid::new_v4().to_string();
        app.db
            .execute(&format!(
                "INSERT INTO notifications (id, user_id, title, body, notification_type, priority, status, sent_at, created_at) \
                 VALUES ('{id}', '{owner}', 't{i}', 'b', '{kind}', '{priority}', '{status}', {sent}, now() - interval '{} minutes')",
                10 - i
            ))
            .await;
        ids.push(id);
    }
    ids.reverse();
    ids
}

#[tokio::test]
async fn history_is_the_callers_own_newest_first_with_filters_and_paging() {
    let app = spawn(|_| {}).await;
    let user = login(&app, "uid-h", "h@example.com").await;
    let other = insert_user(&app, "patient").await;
    let ids = seed_history(&app, &user.id).await;
    seed_history(&app, &other).await;

    let (status, page) = get(&app, HISTORY, &user.access).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        (
            page["total"].clone(),
            page["page"].clone(),
            page["page_size"].clone()
        ),
        (json!(3), json!(1), json!(50))
    );
    let got: Vec<&str> = page["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, ids.iter().map(String::as_str).collect::<Vec<_>>());
    let record = page["notifications"][0].as_object().unwrap();
    let keys: Vec<&str> = record.keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 19, "every NotificationRecord key: {keys:?}");
    assert_eq!(record["retry_count"], 0);
    assert_eq!(record["max_retries"], 3);

    let (_, filtered) = get(&app, &format!("{HISTORY}?status=failed"), &user.access).await;
    assert_eq!(filtered["total"], 1);
    let (_, filtered) = get(
        &app,
        &format!("{HISTORY}?notification_type=appointment_confirmation&page_size=1&page=2"),
        &user.access,
    )
    .await;
    assert_eq!(filtered["total"], 2);
    assert_eq!(filtered["notifications"].as_array().unwrap().len(), 1);
    assert_eq!(filtered["notifications"][0]["id"], ids[2].as_str());

    for (query, loc, kind) in [
        ("status=lost", "status", "enum"),
        ("notification_type=spam", "notification_type", "enum"),
        ("page=0", "page", "greater_than_equal"),
        ("page_size=101", "page_size", "less_than_equal"),
    ] {
        let (status, error) = get(&app, &format!("{HISTORY}?{query}"), &user.access).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(
            issue_types(&error),
            vec![(json!(["query", loc]), kind.to_owned())]
        );
    }
}

#[tokio::test]
async fn another_users_history_is_for_admins_only() {
    let app = spawn(|_| {}).await;
    let patient = login(&app, "uid-p", "p@example.com").await;
    let admin = login_admin(&app, "uid-a", "a@example.com").await;
    seed_history(&app, &patient.id).await;
    let path = format!("{HISTORY}/{}", patient.id);
    let (status, error) = get(&app, &path, &patient.access).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        error["detail"],
        "Only admins can view other users' notifications"
    );
    let (status, error) = get(&app, &format!("{HISTORY}/not-a-uuid"), &patient.access).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the role is checked before the path: {error}"
    );
    let (status, page) = get(&app, &path, &admin.access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["total"], 3);
    let (status, page) = get(
        &app,
        &format!("{HISTORY}/{}", uuid::Uuid::new_v4()),
        &admin.access,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        page,
        json!({"notifications": [], "total": 0, "page": 1, "page_size": 50})
    );
    let (status, error) = get(&app, &format!("{HISTORY}/not-a-uuid"), &admin.access).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        issue_types(&error),
        vec![(json!(["path", "user_id"]), "uuid_parsing".to_owned())]
    );
}

#[tokio::test]
async fn a_notification_is_shown_with_its_deliveries_to_its_owner_and_admins_only() {
    let app = spawn(|_| {}).await;
    let owner = login(&app, "uid-o", "o@example.com").await;
    let stranger = login(&app, "uid-s", "s@example.com").await;
    let admin = login_admin(&app, "uid-a", "a@example.com").await;
    register(&app, &owner, "phone-token-333333", "android").await;
    register(&app, &owner, "web-token-444444", "web").await;
    post(
        &app,
        SEND,
        &admin.access,
        json!({"user_id": owner.id, "title": "t", "body": "b"}),
    )
    .await;
    let id = rows(&app, "SELECT id::text FROM notifications").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.db
        .execute("UPDATE notification_deliveries SET delivery_status = 'sent', failure_reason = NULL, fcm_message_id = 'projects/p/messages/1' \
                  WHERE id = (SELECT id FROM notification_deliveries ORDER BY created_at, id LIMIT 1)")
        .await;
    let path = format!("/api/v1/notifications/{id}");
    let (status, detail) = get(&app, &path, &owner.access).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["notification"]["id"], id.as_str());
    assert_eq!(detail["total_devices"], 2);
    assert_eq!(detail["successful_deliveries"], 1);
    assert_eq!(detail["failed_deliveries"], 1);
    let delivery = detail["deliveries"][0].as_object().unwrap();
    assert_eq!(delivery.len(), 8, "every DeliveryRecord key: {delivery:?}");
    assert_eq!(delivery["notification_id"], id.as_str());
    assert_eq!(get(&app, &path, &admin.access).await.0, StatusCode::OK);
    let (status, error) = get(&app, &path, &stranger.access).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["detail"], "Notification not found");
    assert_eq!(
        get(
            &app,
            &format!("/api/v1/notifications/{}", uuid::Uuid::new_v4()),
            &owner.access
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    let (status, error) = get(&app, "/api/v1/notifications/12345", &owner.access).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        issue_types(&error),
        vec![(
            json!(["path", "notification_id"]),
            "uuid_parsing".to_owned()
        )]
    );
}

#[tokio::test]
async fn only_the_owner_marks_read_and_the_first_read_time_is_kept() {
    let app = spawn(|_| {}).await;
    let owner = login(&app, "uid-o", "o@example.com").await;
    let admin = login_admin(&app, "uid-a", "a@example.com").await;
    let ids = seed_history(&app, &owner.id).await;
    let path = format!("/api/v1/notifications/{}/read", ids[0]);
    let patch = |token: String, path: String| {
        let app = &app;
        async move { status_json(call(app, Method::PATCH, &path, Some(&token), None).await).await }
    };
    let (status, error) = patch(admin.access.clone(), path.clone()).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "admins get no special rights: {error}"
    );
    assert_eq!(
        patch(owner.access.clone(), path.clone()).await.0,
        StatusCode::NO_CONTENT
    );
    let first = rows(
        &app,
        &format!(
            "SELECT status, read_at FROM notifications WHERE id = '{}'",
            ids[0]
        ),
    )
    .await;
    assert_eq!(first[0]["status"], "read");
    assert_eq!(
        patch(owner.access.clone(), path).await.0,
        StatusCode::NO_CONTENT
    );
    let second = rows(
        &app,
        &format!(
            "SELECT status, read_at FROM notifications WHERE id = '{}'",
            ids[0]
        ),
    )
    .await;
    assert_eq!(second, first, "read_at is kept");
    let unknown = format!("/api/v1/notifications/{}/read", uuid::Uuid::new_v4());
    assert_eq!(
        patch(owner.access.clone(), unknown).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn owners_delete_their_own_and_admins_any_with_an_audit_row() {
    let app = spawn(|_| {}).await;
    let owner = login(&app, "uid-o", "o@example.com").await;
    let stranger = login(&app, "uid-s", "s@example.com").await;
    let admin = login_admin(&app, "uid-a", "a@example.com").await;
    let ids = seed_history(&app, &owner.id).await;
    app.db
        .execute(&format!(
            "INSERT INTO push_tokens (id, user_id, fcm_token, platform) VALUES ('00000000-0000-0000-0000-0000000000f1', '{}', 'tok-del-000001', 'web'); \
             INSERT INTO notification_deliveries (notification_id, push_token_id) VALUES ('{}', '00000000-0000-0000-0000-0000000000f1')",
            owner.id, ids[0]
        ))
        .await;
    let delete = |token: String, id: String| {
        let app = &app;
        async move {
            status_json(
                call(
                    app,
                    Method::DELETE,
                    &format!("/api/v1/notifications/{id}"),
                    Some(&token),
                    None,
                )
                .await,
            )
            .await
        }
    };
    assert_eq!(
        delete(stranger.access.clone(), ids[0].clone()).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        delete(admin.access.clone(), ids[0].clone()).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) AS n FROM notification_deliveries")
            .await,
        0,
        "deliveries cascade"
    );
    assert_eq!(
        delete(owner.access.clone(), ids[1].clone()).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        delete(owner.access.clone(), ids[1].clone()).await.0,
        StatusCode::NOT_FOUND
    );
    let audit = rows(
        &app,
        "SELECT actor_user_id::text, action, resource_id, details FROM audit_events",
    )
    .await;
    assert_eq!(
        audit,
        vec![
            json!({"actor_user_id": admin.id, "action": "notification.delete", "resource_id": ids[0], "details": {"user_id": owner.id}})
        ],
        "only the admin's deletion of someone else's notification is audited"
    );
}

#[tokio::test]
async fn statistics_are_aggregated_per_caller_or_for_everyone_for_admins() {
    let app = spawn(|_| {}).await;
    let owner = login(&app, "uid-o", "o@example.com").await;
    let admin = login_admin(&app, "uid-a", "a@example.com").await;
    seed_history(&app, &owner.id).await;
    let other = insert_user(&app, "patient").await;
    seed_history(&app, &other).await;
    app.db
        .execute(&format!(
            "INSERT INTO notifications (user_id, title, body, notification_type, created_at) VALUES ('{}', 'old', 'b', 'other', now() - interval '40 days')",
            owner.id
        ))
        .await;
    let (status, stats) = get(&app, STATS, &owner.access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        stats,
        json!({"total_count": 3,
               "by_status": {"delivered": 1, "failed": 1, "partially_delivered": 1},
               "by_type": {"appointment_confirmation": 2, "other": 1},
               "by_priority": {"high": 1, "normal": 2},
               "days": 30})
    );
    let (_, stats) = get(&app, &format!("{STATS}?days=60"), &owner.access).await;
    assert_eq!(stats["total_count"], 4);
    let (_, stats) = get(&app, STATS, &admin.access).await;
    assert_eq!(stats["total_count"], 6, "admins see everyone's");
    for days in ["0", "366", "x"] {
        let (status, _) = get(&app, &format!("{STATS}?days={days}"), &owner.access).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "days={days}");
    }
}

#[tokio::test]
async fn admin_logs_sort_unsent_last_and_filter_by_user_status_and_dates() {
    let app = spawn(|_| {}).await;
    let patient = login(&app, "uid-p", "p@example.com").await;
    let admin = login_admin(&app, "uid-a", "a@example.com").await;
    let ids = seed_history(&app, &patient.id).await;
    let other = insert_user(&app, "patient").await;
    seed_history(&app, &other).await;
    let (status, error) = get(&app, LOGS, &patient.access).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error["detail"], "Admin access required");

    let (status, page) = get(
        &app,
        &format!("{LOGS}?user_id={}", patient.id),
        &admin.access,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let order: Vec<&str> = page["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    // ids newest-created first: [partially (sent 1 h ago), failed (unsent), delivered (sent 3 h ago)]
    assert_eq!(
        order,
        vec![ids[0].as_str(), ids[2].as_str(), ids[1].as_str()],
        "sent_at DESC NULLS LAST"
    );
    assert_eq!(
        (
            page["total"].clone(),
            page["page_size"].clone(),
            page["total_pages"].clone()
        ),
        (json!(3), json!(20), json!(1))
    );

    let (_, page) = get(
        &app,
        &format!("{LOGS}?status=failed&page_size=1"),
        &admin.access,
    )
    .await;
    assert_eq!(
        (page["total"].clone(), page["total_pages"].clone()),
        (json!(2), json!(2))
    );
    let from = (chrono::Utc::now() - chrono::Duration::minutes(90)).format("%Y-%m-%dT%H:%M:%SZ");
    let (_, page) = get(&app, &format!("{LOGS}?from_date={from}"), &admin.access).await;
    assert_eq!(page["total"], 2, "the two sent an hour ago");
    let (status, error) = get(
        &app,
        &format!("{LOGS}?from_date=yesterday&user_id=x&status=nope"),
        &admin.access,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(issue_types(&error).len(), 3);
}

#[tokio::test]
async fn a_small_broadcast_is_sent_inside_the_request_and_audited() {
    let app = spawn(|_| {}).await;
    let admin = login_admin(&app, "uid-a", "a@example.com").await;
    let patients = [
        insert_user(&app, "patient").await,
        insert_user(&app, "patient").await,
    ];
    let doctor = insert_user(&app, "doctor").await;
    insert_token(&app, &patients[0], "p0-token-000001", "android").await;
    insert_token(&app, &doctor, "doc-token-000001", "android").await;
    let (status, result) = post(
        &app,
        BROADCAST,
        &admin.access,
        json!({"title": "Maintenance", "body": "Tonight", "target": "patients", "data": {"screen": "/news"}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{result}");
    let id = result["broadcast_id"].as_str().unwrap().to_owned();
    assert_eq!(
        result,
        json!({"success_count": 0, "failure_count": 1, "total_users": 2,
               "message": "Broadcast to 2 users: 0 succeeded, 1 failed", "broadcast_id": id})
    );
    let (status, broadcast) = get(
        &app,
        &format!("/api/v1/admin/notifications/broadcasts/{id}"),
        &admin.access,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(broadcast["status"], "completed");
    assert_eq!(broadcast["target"], "patients");
    assert_eq!(broadcast["processed_users"], 2);
    assert_eq!(broadcast["created_by"], admin.id.as_str());
    assert_eq!(broadcast["data"], json!({"screen": "/news"}));
    assert_eq!(
        broadcast.as_object().unwrap().len(),
        15,
        "every Broadcast key"
    );
    let notifications = rows(
        &app,
        "SELECT user_id::text, notification_type, metadata FROM notifications ORDER BY user_id",
    )
    .await;
    assert_eq!(notifications.len(), 2, "patients only");
    assert!(
        notifications
            .iter()
            .all(|n| n["notification_type"] == "system_announcement"
                && n["metadata"] == json!({"broadcast_id": id}))
    );
    let audit = rows(
        &app,
        "SELECT action, resource_type, resource_id, details FROM audit_events",
    )
    .await;
    assert_eq!(
        audit,
        vec![
            json!({"action": "broadcast.create", "resource_type": "broadcast", "resource_id": id,
                    "details": {"target": "patients", "total_users": 2, "status": "running"}})
        ]
    );
}

#[tokio::test]
async fn a_broadcast_larger_than_the_sync_limit_is_queued_with_202() {
    let app = spawn(|vars| {
        vars.insert("BROADCAST_SYNC_LIMIT".into(), "1".into());
    })
    .await;
    let admin = login_admin(&app, "uid-a", "a@example.com").await;
    insert_user(&app, "patient").await;
    let (status, queued) = post(
        &app,
        BROADCAST,
        &admin.access,
        json!({"title": "t", "body": "b", "target": "all"}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    let id = queued["broadcast_id"].as_str().unwrap().to_owned();
    assert_eq!(
        queued,
        json!({"broadcast_id": id, "total_users": 2, "status": "queued"})
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) AS n FROM notifications")
            .await,
        0,
        "nothing sent yet"
    );
    let tick = medico24_server::workers::run_once(&app.state)
        .await
        .unwrap();
    assert_eq!(tick.broadcasts, 1);
    let (_, broadcast) = get(
        &app,
        &format!("/api/v1/admin/notifications/broadcasts/{id}"),
        &admin.access,
    )
    .await;
    assert_eq!(broadcast["status"], "completed");
    assert_eq!(broadcast["processed_users"], 2);
    assert!(broadcast["started_at"].is_string() && broadcast["completed_at"].is_string());
}

#[tokio::test]
async fn broadcast_errors_are_403_404_and_422() {
    let app = spawn(|_| {}).await;
    let patient = login(&app, "uid-p", "p@example.com").await;
    let admin = login_admin(&app, "uid-a", "a@example.com").await;
    let (status, error) = post(&app, BROADCAST, &patient.access, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error["detail"], "Admin access required");
    let (status, error) = post(
        &app,
        BROADCAST,
        &admin.access,
        json!({"title": "t", "body": "b", "target": "everyone", "data": {"from": "x"}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        issue_types(&error),
        vec![
            (json!(["body", "target"]), "enum".to_owned()),
            (json!(["body", "data", "from"]), "value_error".to_owned())
        ]
    );
    let (status, error) = post(&app, BROADCAST, &admin.access, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(issue_types(&error).len(), 3);
    let (status, error) = get(
        &app,
        &format!(
            "/api/v1/admin/notifications/broadcasts/{}",
            uuid::Uuid::new_v4()
        ),
        &admin.access,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["detail"], "Broadcast not found");
    let (status, _) = get(
        &app,
        "/api/v1/admin/notifications/broadcasts/x",
        &admin.access,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = get(
        &app,
        &format!(
            "/api/v1/admin/notifications/broadcasts/{}",
            uuid::Uuid::new_v4()
        ),
        &patient.access,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.db.count("SELECT count(*) AS n FROM broadcasts").await,
        0
    );
}

#[tokio::test]
async fn concurrent_registrations_of_one_token_by_several_users_never_answer_5xx() {
    let app = spawn(|_| {}).await;
    mount_certs(&app).await;
    let mut users = Vec::new();
    for i in 0..4 {
        users.push(
            login(
                &app,
                &format!("uid-race-{i}"),
                &format!("race{i}@example.com"),
            )
            .await,
        );
    }
    for round in 0..10 {
        let token = format!("device-token-race-{round:04}");
        // Every user registers the same device token several times at once.
        let attempts = users.iter().flat_map(|user| {
            let app = &app;
            let token = token.clone();
            (0..3).map(move |_| {
                let token = token.clone();
                async move { register(app, user, &token, "android").await.0 }
            })
        });
        let statuses = futures_util::future::join_all(attempts).await;
        assert!(
            statuses.iter().all(|s| s.is_success()),
            "round {round}: {statuses:?}"
        );
        // One active row for the token, whoever won.
        let active = rows(
            &app,
            &format!(
                "SELECT count(*)::int8 AS n FROM push_tokens WHERE fcm_token = '{token}' AND is_active"
            ),
        )
        .await;
        assert_eq!(active[0]["n"], 1, "round {round}: {active:?}");
    }
}
