//! Helpers shared by the integration tests: logging in through the real Firebase flow against
//! the fake certificate endpoint, and small request shortcuts.

use medico24_testkit::{FakeFirebase, FirebaseKeys, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// `kid` of the test signing key.
pub const KID: &str = "test-key-1";
/// Project id the test app is configured with.
pub const PROJECT: &str = "medico24-test";

/// Serves the test certificate set on the app's fake Firebase.
pub async fn mount_certs(app: &TestApp) {
    FirebaseKeys::shared()
        .mount_certs(&app.firebase.server, FakeFirebase::CERTS_PATH, KID, 3600)
        .await;
}

/// Claims of a valid ID token for `uid`/`email`.
pub fn claims(uid: &str, email: &str) -> Value {
    FirebaseKeys::standard_claims(PROJECT, uid, email, chrono::Utc::now().timestamp())
}

/// A valid signed ID token.
pub fn id_token(uid: &str, email: &str) -> String {
    FirebaseKeys::shared().sign(claims(uid, email), KID)
}

/// A logged-in user.
pub struct Session {
    /// User id.
    pub id: String,
    /// Access token.
    pub access: String,
    /// Refresh token.
    pub refresh: String,
}

/// Logs in (certificates must be mounted) and returns the session.
pub async fn login(app: &TestApp, uid: &str, email: &str) -> Session {
    let response = app
        .client
        .post(app.url("/api/v1/auth/firebase/verify"))
        .json(&json!({"id_token": id_token(uid, email)}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "login of {email}");
    let body: Value = response.json().await.unwrap();
    Session {
        id: body["user"]["id"].as_str().unwrap().to_owned(),
        access: body["access_token"].as_str().unwrap().to_owned(),
        refresh: body["refresh_token"].as_str().unwrap().to_owned(),
    }
}

/// Logs in and makes the user an admin (before any request caches the row).
pub async fn login_admin(app: &TestApp, uid: &str, email: &str) -> Session {
    let session = login(app, uid, email).await;
    app.db
        .execute(&format!(
            "UPDATE users SET role = 'admin' WHERE id = '{}'",
            session.id
        ))
        .await;
    session
}

/// Sends `method path` with a bearer token and an optional JSON body.
pub async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app.client.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// Status and JSON body (Null for empty bodies).
pub async fn status_json(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let bytes = response.bytes().await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, body)
}
