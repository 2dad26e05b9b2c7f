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

/// The pages of an admin listing at `path?query` (filters and `page_size`, no `page`): first by
/// number, `page=1` to `total_pages`, then by following `next_cursor` from the first page until
/// it is `null`. Every request must answer 200.
pub async fn numbered_and_cursor_walks(
    app: &TestApp,
    token: &str,
    path: &str,
    query: &str,
) -> (Vec<Value>, Vec<Value>) {
    let get = |url: String| async move {
        let (status, body) =
            status_json(call(app, reqwest::Method::GET, &url, Some(token), None).await).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        body
    };
    let first = get(format!("{path}?{query}")).await;
    let total_pages = first["total_pages"].as_u64().unwrap();
    let mut numbered = vec![first.clone()];
    for page in 2..=total_pages {
        numbered.push(get(format!("{path}?{query}&page={page}")).await);
    }
    let mut walked = vec![first];
    while let Some(cursor) = walked.last().unwrap()["next_cursor"].as_str() {
        assert!(
            walked.len() <= numbered.len(),
            "the cursor walk does not end"
        );
        walked.push(get(format!("{path}?{query}&cursor={cursor}")).await);
    }
    (numbered, walked)
}

/// Checks that a cursor walk (see [`numbered_and_cursor_walks`]) returned the numbered pages:
/// the same rows in the same order, every row once, the same page numbers and totals, and
/// `next_cursor` only where a page follows. Returns the ids in listing order.
pub fn assert_walks_agree(numbered: &[Value], walked: &[Value], items_key: &str) -> Vec<String> {
    let ids = |pages: &[Value]| -> Vec<Vec<String>> {
        pages
            .iter()
            .map(|page| {
                page[items_key]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|item| {
                        // Admin appointments nest the appointment's fields.
                        let id = item["id"].as_str().or(item["appointment"]["id"].as_str());
                        id.unwrap().to_owned()
                    })
                    .collect()
            })
            .collect()
    };
    assert_eq!(
        ids(walked),
        ids(numbered),
        "the same rows on the same pages"
    );
    let all: Vec<String> = ids(numbered).concat();
    let distinct: std::collections::BTreeSet<&String> = all.iter().collect();
    assert_eq!(distinct.len(), all.len(), "every row once");
    let total = numbered[0]["total"].as_u64().unwrap();
    assert_eq!(all.len() as u64, total, "the pages hold every matching row");
    for (index, (number, walk)) in numbered.iter().zip(walked).enumerate() {
        for key in ["page", "page_size", "total", "total_pages"] {
            assert_eq!(walk[key], number[key], "{key} of page {}", index + 1);
        }
        assert_eq!(walk["page"], index + 1);
        let last = index + 1 == numbered.len();
        assert_eq!(
            walk["next_cursor"].is_null(),
            last,
            "next_cursor of page {}",
            index + 1
        );
        assert_eq!(
            number["next_cursor"].is_null(),
            last,
            "next_cursor of numbered page {}",
            index + 1
        );
    }
    all
}

/// Asks an admin listing for `path?query`, expects a 422 error envelope with exactly one issue
/// and returns that issue.
pub async fn admin_list_422(app: &TestApp, token: &str, path: &str, query: String) -> Value {
    let url = format!("{path}?{query}");
    let (status, body) =
        status_json(call(app, reqwest::Method::GET, &url, Some(token), None).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
    assert_eq!(body["error"], "validation_error", "{body}");
    assert_eq!(body["path"], path, "{body}");
    assert!(
        body["request_id"].as_str().is_some_and(|id| !id.is_empty()),
        "{body}"
    );
    let details = body["details"].as_array().unwrap();
    assert_eq!(details.len(), 1, "{url}: {body}");
    details[0].clone()
}
