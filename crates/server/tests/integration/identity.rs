//! Identity end to end: Firebase login against a fake certificate endpoint, token rotation,
//! logout, the bearer attack table, the user endpoints and admin user management.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use medico24_testkit::{FakeFirebase, FirebaseKeys, spawn_app, spawn_app_with};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::support::{
    KID, admin_list_422, assert_walks_agree, call, claims, id_token, login, login_admin,
    mount_certs, numbered_and_cursor_walks, status_json,
};

const INVALID_TOKEN: &str = "Authentication failed: invalid Firebase ID token";

async fn verify(app: &medico24_testkit::TestApp, token: &str) -> (StatusCode, Value) {
    status_json(
        call(
            app,
            Method::POST,
            "/api/v1/auth/firebase/verify",
            None,
            Some(json!({"id_token": token})),
        )
        .await,
    )
    .await
}

#[tokio::test]
async fn a_valid_id_token_logs_in_and_a_second_login_refreshes_the_profile() {
    let app = spawn_app().await;
    mount_certs(&app).await;
    let (status, body) = verify(&app, &id_token("uid-asha", "asha@example.com")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert!(body["access_token"].is_string() && body["refresh_token"].is_string());
    assert_eq!(body["user"]["email"], "asha@example.com");
    assert_eq!(body["user"]["name"], "Asha Rao");
    assert_eq!(body["user"]["role"], "patient");
    assert_eq!(body["user"]["is_onboarded"], false);
    assert_eq!(body["user"]["is_active"], true);
    assert_eq!(app.db.count("SELECT count(*) AS n FROM users").await, 1);
    assert_eq!(app.db.count("SELECT count(*) AS n FROM patients").await, 1);

    let mut renamed = claims("uid-asha", "asha.new@example.com");
    renamed["name"] = json!("Asha Verma");
    renamed["picture"] = json!("https://img.example/a.png");
    let (status, body) = verify(&app, &FirebaseKeys::shared().sign(renamed, KID)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["name"], "Asha Verma");
    let token = body["access_token"].as_str().unwrap().to_owned();
    let (status, me) =
        status_json(call(&app, Method::GET, "/api/v1/users/me", Some(&token), None).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["email"], "asha.new@example.com");
    assert_eq!(me["full_name"], "Asha Verma");
    assert_eq!(me["given_name"], "Asha");
    assert_eq!(me["family_name"], "Verma");
    assert_eq!(me["photo_url"], "https://img.example/a.png");
    assert_eq!(me["auth_provider"], "google");
    assert!(me["last_login_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        app.db.count("SELECT count(*) AS n FROM users").await,
        1,
        "same firebase uid, same row"
    );
}

#[tokio::test]
async fn rejected_id_tokens_answer_400_with_the_safe_message() {
    let app = spawn_app().await;
    mount_certs(&app).await;
    let keys = FirebaseKeys::shared();
    let now = chrono::Utc::now().timestamp();
    let with = |change: &dyn Fn(&mut Value)| {
        let mut c = claims("uid-x", "x@example.com");
        change(&mut c);
        c
    };
    let tampered = {
        let token = id_token("uid-x", "x@example.com");
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut c = claims("uid-x", "x@example.com");
        c["email"] = json!("admin@example.com");
        parts[1] = URL_SAFE_NO_PAD.encode(c.to_string());
        parts.join(".")
    };
    let cases: Vec<(&str, String)> = vec![
        (
            "expired",
            keys.sign(
                with(&|c| {
                    c["exp"] = json!(now - 60);
                    c["iat"] = json!(now - 3700)
                }),
                KID,
            ),
        ),
        (
            "wrong aud",
            keys.sign(with(&|c| c["aud"] = json!("another-project")), KID),
        ),
        (
            "wrong iss",
            keys.sign(
                with(&|c| c["iss"] = json!("https://securetoken.google.com/another")),
                KID,
            ),
        ),
        (
            "unknown kid",
            keys.sign(claims("uid-x", "x@example.com"), "no-such-kid"),
        ),
        (
            "alg none",
            FirebaseKeys::unsigned(claims("uid-x", "x@example.com")),
        ),
        ("tampered signature", tampered),
        (
            "sub too long",
            keys.sign(with(&|c| c["sub"] = json!("u".repeat(129))), KID),
        ),
        ("garbage", "not-a-jwt".to_owned()),
        ("too long", "a".repeat(16_385)),
    ];
    for (case, token) in cases {
        let (status, body) = verify(&app, &token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}: {body}");
        assert_eq!(body["error"], "bad_request", "{case}");
        assert_eq!(body["detail"], INVALID_TOKEN, "{case}");
    }
    let (status, body) = verify(
        &app,
        &keys.sign(
            with(&|c| {
                c.as_object_mut().unwrap().remove("email");
            }),
            KID,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["detail"],
        "Authentication failed: the Firebase account has no usable email address"
    );
    assert_eq!(app.db.count("SELECT count(*) AS n FROM users").await, 0);
}

#[tokio::test]
async fn an_unreachable_certificate_endpoint_with_nothing_cached_is_503() {
    let app = spawn_app().await;
    Mock::given(method("GET"))
        .and(path(FakeFirebase::CERTS_PATH))
        .respond_with(ResponseTemplate::new(500))
        .mount(&app.firebase.server)
        .await;
    let (status, body) = verify(&app, &id_token("uid-y", "y@example.com")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        body["detail"],
        "Authentication service temporarily unavailable"
    );
}

#[tokio::test]
async fn certificates_are_fetched_once_for_many_logins() {
    let app = spawn_app().await;
    Mock::given(method("GET"))
        .and(path(FakeFirebase::CERTS_PATH))
        .respond_with(FirebaseKeys::shared().certs_response(KID, 3600))
        .expect(1)
        .mount(&app.firebase.server)
        .await;
    let logins = (0..12).map(|i| {
        let app = &app;
        async move {
            verify(
                app,
                &id_token(&format!("uid-{i}"), &format!("u{i}@example.com")),
            )
            .await
            .0
        }
    });
    for status in futures_util::future::join_all(logins).await {
        assert_eq!(status, StatusCode::OK);
    }
    app.firebase.server.verify().await;
}

#[tokio::test]
async fn a_deactivated_account_cannot_log_in() {
    let app = spawn_app().await;
    mount_certs(&app).await;
    let session = login(&app, "uid-d", "d@example.com").await;
    app.db
        .execute(&format!(
            "UPDATE users SET is_active = false WHERE id = '{}'",
            session.id
        ))
        .await;
    let (status, body) = verify(&app, &id_token("uid-d", "d@example.com")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["detail"], "User account is deactivated");
}

async fn refresh(app: &medico24_testkit::TestApp, token: &str) -> (StatusCode, Value) {
    status_json(
        call(
            app,
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": token})),
        )
        .await,
    )
    .await
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_token_kills_the_session() {
    let app = spawn_app().await;
    mount_certs(&app).await;
    let session = login(&app, "uid-r", "r@example.com").await;
    let (status, pair) = refresh(&app, &session.refresh).await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    assert_eq!(pair["token_type"], "bearer");
    let newest = pair["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(newest, session.refresh);
    let (status, _) = status_json(
        call(
            &app,
            Method::GET,
            "/api/v1/users/me",
            pair["access_token"].as_str(),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = refresh(&app, &session.refresh).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "retired token");
    assert_eq!(
        body["detail"],
        "Could not refresh token: Token has been revoked"
    );
    let (status, _) = refresh(&app, &newest).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the whole session is dead"
    );
}

#[tokio::test]
async fn logout_ends_the_session_and_logout_all_ends_every_session() {
    let app = spawn_app().await;
    mount_certs(&app).await;
    let first = login(&app, "uid-l", "l@example.com").await;
    let response = call(
        &app,
        Method::POST,
        "/api/v1/auth/logout",
        None,
        Some(json!({"refresh_token": first.refresh})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        refresh(&app, &first.refresh).await.0,
        StatusCode::UNAUTHORIZED
    );

    let a = login(&app, "uid-l", "l@example.com").await;
    let b = login(&app, "uid-l", "l@example.com").await;
    let response = call(
        &app,
        Method::POST,
        "/api/v1/auth/logout-all",
        Some(&a.access),
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(refresh(&app, &a.refresh).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(&app, &b.refresh).await.0, StatusCode::UNAUTHORIZED);
    // Access tokens stay valid until they expire.
    assert_eq!(
        call(&app, Method::GET, "/api/v1/users/me", Some(&b.access), None)
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn logout_with_garbage_is_204_and_writes_nothing() {
    let app = spawn_app_with(|vars| {
        vars.insert("RATE_LIMIT_AUTH_PER_MINUTE".into(), "1000".into());
    })
    .await;
    let before: Vec<String> = app
        .redis
        .keys()
        .await
        .into_iter()
        .filter(|k| !k.contains(":v2:rl:"))
        .collect();
    let response = call(
        &app,
        Method::POST,
        "/api/v1/auth/logout",
        None,
        Some(json!({"refresh_token": "garbage"})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let after: Vec<String> = app
        .redis
        .keys()
        .await
        .into_iter()
        .filter(|k| !k.contains(":v2:rl:"))
        .collect();
    assert_eq!(before, after);
    let missing = call(
        &app,
        Method::POST,
        "/api/v1/auth/logout",
        None,
        Some(json!({})),
    )
    .await;
    assert_eq!(missing.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

fn hs256(key: &str, claims: Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

#[tokio::test]
async fn every_malformed_or_forged_bearer_is_answered_as_documented() {
    let app = spawn_app().await;
    mount_certs(&app).await;
    let session = login(&app, "uid-a", "a@example.com").await;
    let access_key = app.settings.jwt_secret_key.expose().to_owned();
    let refresh_key = app.settings.jwt_refresh_secret_key.expose().to_owned();
    let now = chrono::Utc::now().timestamp();
    let access_claims =
        |sub: &str, exp: i64| json!({"sub": sub, "type": "access", "iat": now, "exp": exp});
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(access_claims(&session.id, now + 600).to_string())
    );
    let cases: Vec<(&str, Option<String>, StatusCode, &str)> = vec![
        (
            "no header",
            None,
            StatusCode::UNAUTHORIZED,
            "Not authenticated",
        ),
        (
            "alg none",
            Some(none),
            StatusCode::UNAUTHORIZED,
            "Could not validate credentials",
        ),
        (
            "signed with the refresh key",
            Some(hs256(&refresh_key, access_claims(&session.id, now + 600))),
            StatusCode::UNAUTHORIZED,
            "Could not validate credentials",
        ),
        (
            "refresh token as bearer",
            Some(session.refresh.clone()),
            StatusCode::UNAUTHORIZED,
            "Could not validate credentials",
        ),
        (
            "expired beyond leeway",
            Some(hs256(&access_key, access_claims(&session.id, now - 11))),
            StatusCode::UNAUTHORIZED,
            "Could not validate credentials",
        ),
        (
            "sub not a uuid",
            Some(hs256(&access_key, access_claims("not-a-uuid", now + 600))),
            StatusCode::UNAUTHORIZED,
            "Invalid user ID format",
        ),
        (
            "unknown user",
            Some(hs256(
                &access_key,
                access_claims(&uuid::Uuid::new_v4().to_string(), now + 600),
            )),
            StatusCode::UNAUTHORIZED,
            "User not found",
        ),
        (
            "within leeway",
            Some(hs256(&access_key, access_claims(&session.id, now - 5))),
            StatusCode::OK,
            "",
        ),
    ];
    for (case, token, expected, message) in cases {
        let response = call(
            &app,
            Method::GET,
            "/api/v1/users/me",
            token.as_deref(),
            None,
        )
        .await;
        let has_challenge = response.headers().get("www-authenticate").is_some();
        let (status, body) = status_json(response).await;
        assert_eq!(status, expected, "{case}: {body}");
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(body["detail"], message, "{case}");
            assert!(has_challenge, "{case}: 401 carries WWW-Authenticate");
        }
    }
    // Lower-case scheme works.
    let lower = app
        .client
        .get(app.url("/api/v1/users/me"))
        .header("authorization", format!("bearer {}", session.access))
        .send()
        .await
        .unwrap();
    assert_eq!(lower.status(), StatusCode::OK);

    app.db
        .execute(&format!(
            "UPDATE users SET is_active = false WHERE id = '{}'",
            session.id
        ))
        .await;
    app.redis_flush_user(&session.id).await;
    let (status, body) = status_json(
        call(
            &app,
            Method::GET,
            "/api/v1/users/me",
            Some(&session.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["detail"], "User account is deactivated");

    app.db
        .execute(&format!("DELETE FROM users WHERE id = '{}'", session.id))
        .await;
    app.redis_flush_user(&session.id).await;
    let (status, body) = status_json(
        call(
            &app,
            Method::GET,
            "/api/v1/users/me",
            Some(&session.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["detail"], "User not found");
}

#[tokio::test]
async fn public_routes_ignore_a_garbage_bearer() {
    let app = spawn_app().await;
    mount_certs(&app).await;
    let ping = app
        .client
        .get(app.url("/api/v1/ping"))
        .bearer_auth("garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(ping.status(), StatusCode::OK);
    let login = app
        .client
        .post(app.url("/api/v1/auth/firebase/verify"))
        .bearer_auth("expired.garbage.token")
        .json(&json!({"id_token": id_token("uid-p", "p@example.com")}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
}

#[tokio::test]
async fn profile_patch_follows_merge_patch_and_validates_the_phone() {
    let app = spawn_app().await;
    mount_certs(&app).await;
    let s = login(&app, "uid-m", "m@example.com").await;
    let (status, body) = status_json(
        call(
            &app,
            Method::PATCH,
            "/api/v1/users/me",
            Some(&s.access),
            Some(json!({"phone": "+91 98765 43210", "given_name": "Mira", "role": "admin"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["phone"], "+91 98765 43210");
    assert_eq!(body["given_name"], "Mira");
    assert_eq!(body["role"], "patient", "role is not settable");
    assert_eq!(
        body["full_name"], "Asha Rao",
        "absent members are unchanged"
    );

    let (status, body) = status_json(
        call(
            &app,
            Method::PATCH,
            "/api/v1/users/me",
            Some(&s.access),
            Some(json!({"given_name": null})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["given_name"], Value::Null, "null clears");
    assert_eq!(body["phone"], "+91 98765 43210");

    let unchanged_at = body["updated_at"].clone();
    let (status, body) = status_json(
        call(
            &app,
            Method::PATCH,
            "/api/v1/users/me",
            Some(&s.access),
            Some(json!({"email": "x@y.z"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["updated_at"], unchanged_at,
        "no recognised member, no write"
    );

    let (status, body) = status_json(
        call(
            &app,
            Method::PATCH,
            "/api/v1/users/me",
            Some(&s.access),
            Some(json!({"phone": "12ab", "full_name": 5, "photo_url": "x".repeat(2049)})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let locs: Vec<&Value> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["loc"])
        .collect();
    assert_eq!(
        locs,
        vec![
            &json!(["body", "full_name"]),
            &json!(["body", "photo_url"]),
            &json!(["body", "phone"])
        ]
    );
    assert_eq!(body["details"][2]["type"], "value_error");

    let merge = app
        .client
        .patch(app.url("/api/v1/users/me"))
        .bearer_auth(&s.access)
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"family_name":"Rao"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(merge.status(), StatusCode::OK);
    let wrong_type = app
        .client
        .patch(app.url("/api/v1/users/me"))
        .bearer_auth(&s.access)
        .header("content-type", "text/plain")
        .body(r#"{"family_name":"Rao"}"#)
        .send()
        .await
        .unwrap();
    let (status, body) = status_json(wrong_type).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["details"][0]["type"], "content_type");
    for (raw, kind) in [("", "missing"), ("{", "json_invalid"), ("[1]", "dict_type")] {
        let response = app
            .client
            .patch(app.url("/api/v1/users/me"))
            .bearer_auth(&s.access)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        let (status, body) = status_json(response).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{raw}");
        assert_eq!(body["details"][0]["type"], kind, "{raw}");
    }
}

#[tokio::test]
async fn onboarding_profiles_and_self_deactivation() {
    let app = spawn_app().await;
    mount_certs(&app).await;
    let s = login(&app, "uid-o", "o@example.com").await;
    let other = login(&app, "uid-q", "q@example.com").await;
    let onboard = app
        .client
        .post(app.url("/api/v1/users/me/onboard"))
        .bearer_auth(&s.access)
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    let (status, body) = status_json(onboard).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["is_onboarded"], true);

    let (status, profile) = status_json(
        call(
            &app,
            Method::GET,
            &format!("/api/v1/users/{}/profile", s.id),
            Some(&other.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        profile,
        json!({"id": s.id, "full_name": "Asha Rao", "photo_url": profile["photo_url"], "role": "patient", "is_onboarded": true})
    );
    let (status, _) = status_json(
        call(
            &app,
            Method::GET,
            "/api/v1/users/not-a-uuid/profile",
            Some(&other.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = status_json(
        call(
            &app,
            Method::GET,
            "/api/v1/users/not-a-uuid/profile",
            None,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "auth is checked before the path"
    );

    app.db.execute(&format!(
        "INSERT INTO push_tokens (user_id, fcm_token, platform) VALUES ('{}', 'tok-1', 'android')",
        s.id
    ))
    .await;
    let response = app
        .client
        .delete(app.url("/api/v1/users/me"))
        .bearer_auth(&s.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.db
            .count("SELECT count(*) AS n FROM push_tokens WHERE is_active")
            .await,
        0
    );
    assert_eq!(
        call(&app, Method::GET, "/api/v1/users/me", Some(&s.access), None)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        refresh(&app, &s.refresh).await.0,
        StatusCode::FORBIDDEN,
        "refresh answers 403 for a deactivated user"
    );
    let keys = app.redis.keys().await;
    assert_eq!(
        keys.iter().filter(|k| k.contains(":session:")).count(),
        1,
        "only the other user's session is left"
    );
    assert!(
        !keys
            .iter()
            .any(|k| k.ends_with(&format!("v2:auth:{{{}}}:sessions", s.id)))
    );
    assert_eq!(
        verify(&app, &id_token("uid-o", "o@example.com")).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, _) = status_json(
        call(
            &app,
            Method::GET,
            &format!("/api/v1/users/{}/profile", s.id),
            Some(&other.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "inactive users have no public profile"
    );
}

#[tokio::test]
async fn admin_routes_need_an_admin_and_admin_writes_are_audited() {
    let app = spawn_app().await;
    mount_certs(&app).await;
    let patient = login(&app, "uid-p1", "p1@example.com").await;
    let admin = login_admin(&app, "uid-ad", "admin@example.com").await;
    assert_eq!(
        call(&app, Method::GET, "/api/v1/admin/users", None, None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = status_json(
        call(
            &app,
            Method::GET,
            "/api/v1/admin/users",
            Some(&patient.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["detail"], "Admin access required");
    let (status, page) = status_json(
        call(
            &app,
            Method::GET,
            "/api/v1/admin/users?page_size=1",
            Some(&admin.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["total"], 2);
    assert_eq!(page["total_pages"], 2);
    assert_eq!(page["users"].as_array().unwrap().len(), 1);
    assert!(page["users"][0].get("firebase_uid").is_none());
    let (_, page) = status_json(
        call(
            &app,
            Method::GET,
            "/api/v1/admin/users?role=admin&search=ADMIN%40",
            Some(&admin.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(page["total"], 1);
    let (status, _) = status_json(
        call(
            &app,
            Method::GET,
            "/api/v1/admin/users?role=nurse&page_size=101",
            Some(&admin.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let target = format!("/api/v1/admin/users/{}", patient.id);
    let (status, body) = status_json(
        call(
            &app,
            Method::PATCH,
            &target,
            Some(&admin.access),
            Some(json!({"role": "doctor"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["role"], "doctor");
    let (status, body) = status_json(
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
    assert_eq!(body["role"], "doctor", "the user cache was invalidated");

    let me = format!("/api/v1/admin/users/{}", admin.id);
    let (status, body) = status_json(
        call(
            &app,
            Method::PATCH,
            &me,
            Some(&admin.access),
            Some(json!({"role": "patient"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body["detail"],
        "You cannot remove your own admin role or deactivate yourself"
    );
    let (status, _) = status_json(
        call(
            &app,
            Method::PATCH,
            &me,
            Some(&admin.access),
            Some(json!({"is_active": false})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = status_json(
        call(
            &app,
            Method::PATCH,
            &format!("/api/v1/admin/users/{}", uuid::Uuid::new_v4()),
            Some(&admin.access),
            Some(json!({"role": "doctor"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, body) = status_json(
        call(
            &app,
            Method::PATCH,
            &target,
            Some(&admin.access),
            Some(json!({"is_active": false})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["is_active"], false);
    assert_eq!(
        call(
            &app,
            Method::GET,
            "/api/v1/users/me",
            Some(&patient.access),
            None
        )
        .await
        .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        refresh(&app, &patient.refresh).await.0,
        StatusCode::FORBIDDEN
    );

    let (status, audit) = status_json(
        call(
            &app,
            Method::GET,
            "/api/v1/admin/audit?action=user.update",
            Some(&admin.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    assert_eq!(audit["total"], 2);
    let event = &audit["events"][0];
    assert_eq!(event["actor_user_id"], admin.id.as_str());
    assert_eq!(event["actor_type"], "user");
    assert_eq!(event["resource_type"], "user");
    assert_eq!(event["resource_id"], patient.id.as_str());
    assert_eq!(event["details"]["after"]["is_active"], false);
    assert_eq!(event["ip"], "127.0.0.1");
    assert!(
        event["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
}

#[tokio::test]
async fn emulator_mode_accepts_dev_tokens_without_fetching_certificates() {
    let app = spawn_app_with(|vars| {
        vars.insert(
            "FIREBASE_AUTH_EMULATOR_HOST".into(),
            "127.0.0.1:9099".into(),
        );
    })
    .await;
    let token = medico24_server::auth::dev_token::emulator_id_token(
        crate::support::PROJECT,
        "dev-uid-1",
        "dev@example.com",
        Some("Dev User"),
        chrono::Utc::now(),
        chrono::Duration::minutes(5),
    );
    let (status, body) = verify(&app, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["name"], "Dev User");
    let wrong_project = medico24_server::auth::dev_token::emulator_id_token(
        "another-project",
        "dev-uid-1",
        "dev@example.com",
        None,
        chrono::Utc::now(),
        chrono::Duration::minutes(5),
    );
    assert_eq!(
        verify(&app, &wrong_project).await.0,
        StatusCode::BAD_REQUEST,
        "claim checks still apply"
    );
    assert!(
        app.firebase
            .server
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    );
}

/// Runs `medico24 make-admin ARGS` against the test app's database and Redis.
fn make_admin_command(app: &medico24_testkit::TestApp, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_medico24"))
        .arg("make-admin")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("ENVIRONMENT", "test")
        .env("DATABASE_URL", app.db.url())
        .env("REDIS_URL", app.settings.redis.url.expose())
        .env("REDIS_KEY_PREFIX", &app.settings.redis.key_prefix)
        .env("JWT_SECRET_KEY", "test-access-key-0123456789-0123456789")
        .env("LOG_LEVEL", "error")
        .output()
        .unwrap()
}

#[tokio::test]
async fn make_admin_promotes_one_account_and_refuses_an_ambiguous_email() {
    let app = spawn_app().await;
    mount_certs(&app).await;
    let boss = login(&app, "uid-mk", "Boss@Example.com").await;
    let admins = "SELECT count(*) AS n FROM admins";

    // Unknown email, malformed and unknown ids, no account named: refused, nothing changes.
    for args in [
        &["--email", "nobody@example.com"][..],
        &["--email", "%"][..],
        &["--user-id", "not-a-uuid"][..],
        &["--user-id", "00000000-0000-0000-0000-000000000000"][..],
        &[][..],
    ] {
        let output = make_admin_command(&app, args);
        assert!(!output.status.success(), "{args:?} succeeded");
    }
    assert_eq!(app.db.count(admins).await, 0);

    // One account with that email (any case): promoted.
    let output = make_admin_command(&app, &["--email", "boss@example.com"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(app.db.count(admins).await, 1);

    // A second account with the same email (another Firebase uid, unverified): ambiguous.
    let twin = login(&app, "uid-mk-twin", "boss@example.com").await;
    let output = make_admin_command(&app, &["--email", "BOSS@example.com"]);
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains(&boss.id) && said.contains(&twin.id), "{said}");
    assert!(said.contains("--user-id"), "{said}");
    assert_eq!(app.db.count(admins).await, 1, "nobody else was promoted");

    // By id: exactly that account.
    let output = make_admin_command(&app, &["--user-id", &twin.id]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(app.db.count(admins).await, 2);
    assert_eq!(
        app.db
            .count(&format!(
                "SELECT count(*) AS n FROM users WHERE role = 'admin' AND id IN ('{}', '{}')",
                boss.id, twin.id
            ))
            .await,
        2
    );
}

#[tokio::test]
async fn untrusted_text_in_id_token_claims_is_cleaned_at_login_never_a_500() {
    let app = spawn_app_with(|vars| {
        vars.insert("RATE_LIMIT_AUTH_PER_MINUTE".into(), "100000".into());
    })
    .await;
    mount_certs(&app).await;
    let verify = async |claims: Value| {
        let token = FirebaseKeys::shared().sign(claims, KID);
        status_json(
            call(
                &app,
                Method::POST,
                "/api/v1/auth/firebase/verify",
                None,
                Some(json!({ "id_token": token })),
            )
            .await,
        )
        .await
    };
    let hostile = [
        "\u{0}",
        "Asha\u{0}Rao",
        "\u{1b}[31mred\u{7f}",
        "\u{85}\n\t",
        // Long, but within the ID token's size bound (a larger token is refused with 400).
        &"é".repeat(1_000),
    ];
    for (i, text) in hostile.iter().enumerate() {
        for field in ["name", "given_name", "family_name", "picture"] {
            let mut claims = claims(
                &format!("uid-claims-{i}-{field}"),
                &format!("c{i}{field}@example.com"),
            );
            claims[field] = json!(text);
            let (status, body) = verify(claims).await;
            assert_eq!(
                status,
                StatusCode::OK,
                "{field} = {:?}…: {body}",
                text.get(..12)
            );
            for stored in ["full_name", "given_name", "family_name", "photo_url"] {
                if let Some(value) = body["user"][stored].as_str() {
                    assert!(!value.chars().any(char::is_control), "{stored}: {value:?}");
                    assert!(value.chars().count() <= 2048, "{stored} too long");
                }
            }
        }
    }
    // The uid is a stored key: a control character in `sub` makes the token invalid (the
    // documented 400 for an invalid ID token).
    for sub in ["uid\u{0}x", "uid\u{1b}x", "\u{7f}"] {
        let (status, body) = verify(claims(sub, "sub-nul@example.com")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            body["message"],
            "Authentication failed: invalid Firebase ID token"
        );
    }
}

#[tokio::test]
async fn nul_characters_are_refused_with_422_not_500() {
    let app = spawn_app().await;
    mount_certs(&app).await;
    let s = login(&app, "uid-nul", "nul@example.com").await;
    let (status, body) = status_json(
        call(
            &app,
            Method::PATCH,
            "/api/v1/users/me",
            Some(&s.access),
            Some(json!({"full_name": "a\u{0}b"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["details"][0]["loc"], json!(["body", "full_name"]));
    let admin = login_admin(&app, "uid-nul-admin", "nul-admin@example.com").await;
    let (status, _) = status_json(
        call(
            &app,
            Method::GET,
            "/api/v1/admin/users?search=a%00b",
            Some(&admin.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// 47 users besides the admin, three per `created_at` (ties broken by id), a third doctors, a
/// quarter inactive.
const BULK_USERS: &str =
    "INSERT INTO users (firebase_uid, email, full_name, role, is_active, created_at)
     SELECT 'bulk-' || n, 'bulk' || n || '@example.com', 'Bulk User ' || n,
            CASE WHEN n % 3 = 0 THEN 'doctor' ELSE 'patient' END, n % 4 <> 0,
            timestamptz '2024-01-01 00:00:00+00' + (n / 3) * interval '1 hour'
     FROM generate_series(1, 47) AS n";

#[tokio::test]
async fn admin_user_cursors_walk_the_numbered_pages_row_for_row() {
    let app = spawn_app_with(|vars| {
        vars.insert("RATE_LIMIT_PER_MINUTE".into(), "100000".into());
    })
    .await;
    mount_certs(&app).await;
    let admin = login_admin(&app, "uid-cursor-admin", "cursor-admin@example.com").await;
    app.db.execute(BULK_USERS).await;

    let (numbered, walked) =
        numbered_and_cursor_walks(&app, &admin.access, "/api/v1/admin/users", "page_size=5").await;
    assert_eq!(numbered.len(), 10, "48 users in pages of 5");
    let ids = assert_walks_agree(&numbered, &walked, "users");
    assert_eq!(ids.len(), 48);
    let (numbered, walked) = numbered_and_cursor_walks(
        &app,
        &admin.access,
        "/api/v1/admin/users",
        "page_size=3&role=doctor&is_active=true&search=BULK%20user",
    )
    .await;
    let ids = assert_walks_agree(&numbered, &walked, "users");
    // n = 3, 6, …, 45 are doctors; the multiples of 4 among them (12, 24, 36) are inactive.
    assert_eq!(ids.len(), 12);

    // The cursor of page 2 of that listing.
    let cursor = numbered[0]["next_cursor"].as_str().unwrap().to_owned();
    let filters = "page_size=3&role=doctor&is_active=true&search=BULK%20user";
    let users_422 =
        |query: String| admin_list_422(&app, &admin.access, "/api/v1/admin/users", query);
    for garbage in [
        "x",
        "not%20a%20cursor",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        &cursor[..cursor.len() - 2],
        &format!("{cursor}AA"),
        &format!("{cursor}="),
    ] {
        let issue = users_422(format!("{filters}&cursor={garbage}")).await;
        assert_eq!(issue["loc"], json!(["query", "cursor"]), "{garbage}");
        assert_eq!(issue["type"], "value_error", "{garbage}");
        assert_eq!(issue["msg"], "Invalid cursor", "{garbage}");
    }
    let issue = users_422(format!("{filters}&cursor={}", "A".repeat(201))).await;
    assert_eq!(issue["loc"], json!(["query", "cursor"]));
    assert_eq!(issue["type"], "string_too_long");
    // With page: the cursor already names its page.
    for page in ["1", "2"] {
        let issue = users_422(format!("{filters}&cursor={cursor}&page={page}")).await;
        assert_eq!(issue["loc"], json!(["query", "page"]));
        assert_eq!(issue["type"], "value_error");
    }
    // Another filter set or page size: the page numbers would not fit.
    for other in [
        "page_size=3&role=doctor&is_active=true",
        "page_size=3&role=doctor&is_active=false&search=BULK%20user",
        "page_size=4&role=doctor&is_active=true&search=BULK%20user",
        "role=doctor&is_active=true&search=BULK%20user",
    ] {
        let issue = users_422(format!("{other}&cursor={cursor}")).await;
        assert_eq!(issue["loc"], json!(["query", "cursor"]), "{other}");
        assert!(
            issue["msg"]
                .as_str()
                .unwrap()
                .starts_with("The cursor belongs to another query"),
            "{other}: {issue}"
        );
    }
    // The same filters in another spelling and order are the same query.
    let (status, page_two) = status_json(
        call(
            &app,
            Method::GET,
            &format!("/api/v1/admin/users?search=BULK%20user&is_active=1&role=doctor&page_size=3&cursor={cursor}&page="),
            Some(&admin.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page_two}");
    assert_eq!(page_two, numbered[1]);
    // A cursor whose page has meanwhile lost all its rows leads to an empty last page.
    app.db
        .execute("UPDATE users SET is_active = false WHERE firebase_uid LIKE 'bulk-%'")
        .await;
    let (status, empty) = status_json(
        call(
            &app,
            Method::GET,
            &format!("/api/v1/admin/users?{filters}&cursor={cursor}"),
            Some(&admin.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{empty}");
    assert_eq!(empty["users"], json!([]));
    assert_eq!(empty["total"], 0);
    assert_eq!(empty["page"], 2);
    assert!(empty["next_cursor"].is_null());
    // Totals of whole role/state keys come from the maintained counts and follow the change.
    for (query, total) in [
        ("role=doctor&is_active=true", 0),
        ("role=doctor&is_active=false", 15),
        ("is_active=false", 47),
        ("role=admin", 1),
        ("", 48),
    ] {
        let (status, page) = status_json(
            call(
                &app,
                Method::GET,
                &format!("/api/v1/admin/users?{query}"),
                Some(&admin.access),
                None,
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["total"], total, "{query}");
    }
}

#[tokio::test]
async fn the_postgres_user_repository_meets_the_user_repository_contract() {
    let db = medico24_testkit::TestDb::new().await;
    let repo = medico24_postgres::PgUserRepository::new(db.pool(2));
    // In whole microseconds, as PostgreSQL stores instants.
    let now =
        chrono::DateTime::from_timestamp_micros(chrono::Utc::now().timestamp_micros()).unwrap();
    medico24_identity::testing::contract::user_repository(&repo, now).await;
}
