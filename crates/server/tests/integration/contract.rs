//! The Flutter client's contract: strict mirrors of the models it parses, checked against
//! real responses of every route it calls. Required keys must be present and non-null, nullable
//! keys must be present, numbers are JSON numbers, enums are the exact strings, datetimes carry
//! `Z`.

use medico24_testkit::{TestApp, spawn_app_with};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::support::{call, id_token, login, mount_certs, status_json};

/// Deserializes `value` into the mirror `T` after checking that every key in `keys` is present
/// (nullable keys must be present with `null`, not absent).
fn strict<T: DeserializeOwned>(value: &Value, keys: &[&str]) -> T {
    let object = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"));
    for key in keys {
        assert!(object.contains_key(*key), "key {key} missing in {value}");
    }
    serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{e}: {value}"))
}

/// A datetime the client reads as UTC: RFC 3339 with `Z`.
fn utc(text: &str) {
    assert!(text.ends_with('Z'), "{text} has no Z");
    assert!(
        chrono::DateTime::parse_from_rfc3339(text).is_ok(),
        "{text} is not RFC 3339"
    );
}

#[derive(Deserialize)]
struct LoginUserMirror {
    id: String,
    email: String,
    name: String,
    picture: Option<String>,
    is_active: bool,
    role: String,
    is_onboarded: bool,
}

#[derive(Deserialize)]
struct LoginMirror {
    access_token: String,
    refresh_token: String,
    token_type: String,
    user: LoginUserMirror,
}

#[derive(Deserialize)]
struct TokenPairMirror {
    access_token: String,
    refresh_token: String,
    token_type: String,
}

#[derive(Deserialize)]
struct UserMirror {
    id: String,
    firebase_uid: String,
    email: String,
    auth_provider: String,
    role: String,
    email_verified: bool,
    is_active: bool,
    is_onboarded: bool,
    created_at: String,
    updated_at: String,
    full_name: Option<String>,
    phone: Option<String>,
    last_login_at: Option<String>,
}

const USER_KEYS: [&str; 16] = [
    "email",
    "full_name",
    "given_name",
    "family_name",
    "photo_url",
    "phone",
    "id",
    "firebase_uid",
    "email_verified",
    "auth_provider",
    "role",
    "is_active",
    "is_onboarded",
    "created_at",
    "updated_at",
    "last_login_at",
];

#[derive(Deserialize)]
struct AppointmentMirror {
    id: String,
    patient_id: String,
    doctor_name: String,
    reason: String,
    contact_phone: String,
    appointment_at: String,
    created_at: String,
    updated_at: String,
    status: String,
    source: String,
    appointment_end_at: Option<String>,
    clinic_name: Option<String>,
    notes: Option<String>,
    doctor_id: Option<String>,
    clinic_id: Option<String>,
    cancelled_at: Option<String>,
    deleted_at: Option<String>,
}

const APPOINTMENT_KEYS: [&str; 17] = [
    "doctor_name",
    "clinic_name",
    "appointment_at",
    "appointment_end_at",
    "reason",
    "contact_phone",
    "notes",
    "id",
    "patient_id",
    "doctor_id",
    "clinic_id",
    "status",
    "source",
    "created_at",
    "updated_at",
    "cancelled_at",
    "deleted_at",
];

#[derive(Deserialize)]
struct AppointmentPageMirror {
    items: Vec<Value>,
    total: u64,
    page: u64,
    page_size: u64,
}

fn check_appointment(value: &Value) -> AppointmentMirror {
    let a: AppointmentMirror = strict(value, &APPOINTMENT_KEYS);
    for datetime in [&a.appointment_at, &a.created_at, &a.updated_at] {
        utc(datetime);
    }
    for datetime in [&a.appointment_end_at, &a.cancelled_at, &a.deleted_at]
        .into_iter()
        .flatten()
    {
        utc(datetime);
    }
    assert!(
        [
            "scheduled",
            "confirmed",
            "rescheduled",
            "cancelled",
            "completed",
            "no_show"
        ]
        .contains(&a.status.as_str())
    );
    assert!(["patient_app", "doctor_app", "admin_panel", "api"].contains(&a.source.as_str()));
    assert!(uuid::Uuid::parse_str(&a.id).is_ok() && uuid::Uuid::parse_str(&a.patient_id).is_ok());
    assert!(!a.doctor_name.is_empty() && !a.reason.is_empty() && !a.contact_phone.is_empty());
    let _ = (&a.clinic_name, &a.notes, &a.doctor_id, &a.clinic_id);
    a
}

#[derive(Deserialize)]
struct ErrorMirror {
    detail: String,
    error: String,
    message: String,
}

async fn app() -> TestApp {
    let app = spawn_app_with(|vars| {
        vars.insert("RATE_LIMIT_PER_MINUTE".into(), "100000".into());
    })
    .await;
    mount_certs(&app).await;
    app
}

#[tokio::test]
async fn login_refresh_and_profile_parse_with_the_client_models() {
    let app = app().await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/firebase/verify"))
        .bearer_auth("stale.garbage.token")
        .json(&json!({"id_token": id_token("uid-flutter", "flutter@example.com")}))
        .send()
        .await
        .unwrap();
    let (status, body) = status_json(response).await;
    assert_eq!(status, StatusCode::OK, "a stale bearer never breaks login");
    let login: LoginMirror = strict(
        &body,
        &["access_token", "refresh_token", "token_type", "user"],
    );
    assert_eq!(login.token_type, "bearer");
    assert!(!login.access_token.is_empty() && !login.refresh_token.is_empty());
    let _: LoginUserMirror = strict(
        &body["user"],
        &[
            "id",
            "email",
            "name",
            "picture",
            "is_active",
            "role",
            "is_onboarded",
        ],
    );
    assert!(uuid::Uuid::parse_str(&login.user.id).is_ok());
    let _ = (
        &login.user.email,
        &login.user.name,
        &login.user.picture,
        login.user.is_active,
        &login.user.role,
        login.user.is_onboarded,
    );

    let (status, pair) = status_json(
        call(
            &app,
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": login.refresh_token})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let pair: TokenPairMirror = strict(&pair, &["access_token", "refresh_token", "token_type"]);
    assert_eq!(pair.token_type, "bearer");
    let _ = &pair.refresh_token;

    for (method, path, body) in [
        (Method::GET, "/api/v1/users/me", None),
        // The client sends all five keys, nulls included.
        (
            Method::PATCH,
            "/api/v1/users/me",
            Some(
                json!({"full_name": "Flutter User", "given_name": null, "family_name": null, "photo_url": null, "phone": "+91 98765 43210"}),
            ),
        ),
        (Method::POST, "/api/v1/users/me/onboard", None),
    ] {
        let (status, user) =
            status_json(call(&app, method.clone(), path, Some(&pair.access_token), body).await)
                .await;
        assert_eq!(status, StatusCode::OK, "{method} {path}");
        let user: UserMirror = strict(&user, &USER_KEYS);
        utc(&user.created_at);
        utc(&user.updated_at);
        if let Some(last) = &user.last_login_at {
            utc(last);
        }
        assert_eq!(user.auth_provider, "google");
        let _ = (
            &user.id,
            &user.firebase_uid,
            &user.email,
            &user.role,
            user.email_verified,
            user.is_active,
            user.is_onboarded,
            &user.full_name,
            &user.phone,
        );
    }
}

#[tokio::test]
async fn appointment_responses_parse_with_the_client_models() {
    let app = app().await;
    let s = login(&app, "uid-flutter2", "flutter2@example.com").await;
    let body = json!({
        "doctor_name": "Dr Rao", "clinic_name": null, "appointment_at": "2033-05-01T10:00:00", "appointment_end_at": null,
        "reason": "Checkup", "contact_phone": "9876543210", "notes": null, "doctor_id": null, "clinic_id": null, "source": null
    });
    let (status, created) = status_json(
        call(
            &app,
            Method::POST,
            "/api/v1/appointments/",
            Some(&s.access),
            Some(body.clone()),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let created = check_appointment(&created);
    assert_eq!(created.source, "patient_app");
    let path = format!("/api/v1/appointments/{}", created.id);
    let (_, fetched) =
        status_json(call(&app, Method::GET, &path, Some(&s.access), None).await).await;
    check_appointment(&fetched);
    let mut update = body.clone();
    update["notes"] = json!("bring reports");
    let (status, updated) =
        status_json(call(&app, Method::PUT, &path, Some(&s.access), Some(update)).await).await;
    assert_eq!(status, StatusCode::OK);
    check_appointment(&updated);
    let (_, patched) = status_json(
        call(
            &app,
            Method::PATCH,
            &format!("{path}/status"),
            Some(&s.access),
            Some(json!({"status": "confirmed", "notes": null})),
        )
        .await,
    )
    .await;
    check_appointment(&patched);
    let (status, page) = status_json(
        call(
            &app,
            Method::GET,
            "/api/v1/appointments/?page=1&page_size=100",
            Some(&s.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let page: AppointmentPageMirror = strict(&page, &["items", "total", "page", "page_size"]);
    assert_eq!((page.total, page.page, page.page_size), (1, 1, 100));
    for item in &page.items {
        check_appointment(item);
    }
}

#[tokio::test]
async fn errors_are_json_objects_with_a_detail_and_401_means_reauthenticate() {
    let app = app().await;
    for (method, path) in [
        (Method::GET, "/api/v1/users/me"),
        (Method::GET, "/api/v1/appointments/"),
        (Method::POST, "/api/v1/notifications/register-token"),
    ] {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .bearer_auth("expired.or.garbage")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path}: the client re-verifies only on 401"
        );
        assert_eq!(response.headers()["content-type"], "application/json");
        let error: ErrorMirror = response.json().await.unwrap();
        assert!(!error.detail.is_empty());
        assert_eq!(error.error, "unauthorized");
        assert_eq!(error.message, error.detail);
    }
    let (status, body) = status_json(
        call(
            &app,
            Method::POST,
            "/api/v1/auth/firebase/verify",
            None,
            Some(json!({"id_token": "not-a-token"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "login failures are 400");
    let _: ErrorMirror = strict(&body, &["detail", "error", "message"]);
}

#[derive(Deserialize)]
struct HoursMirror {
    day_of_week: i64,
    open_time: String,
    close_time: String,
    is_closed: bool,
}

#[derive(Deserialize)]
struct LocationMirror {
    latitude: f64,
    longitude: f64,
    country: String,
    address_line: String,
    city: String,
}

#[derive(Deserialize)]
struct PharmacyMirror {
    id: String,
    name: String,
    rating: f64,
    rating_count: i64,
    is_verified: bool,
    is_active: bool,
    supports_delivery: bool,
    supports_pickup: bool,
    hours: Vec<Value>,
    location: Option<Value>,
    created_at: String,
    updated_at: String,
}

const PHARMACY_KEYS: [&str; 16] = [
    "name",
    "description",
    "phone",
    "email",
    "supports_delivery",
    "supports_pickup",
    "id",
    "is_verified",
    "is_active",
    "rating",
    "rating_count",
    "timezone",
    "created_at",
    "updated_at",
    "location",
    "hours",
];

fn check_time(text: &str) {
    assert!(
        chrono::NaiveTime::parse_from_str(text, "%H:%M:%S").is_ok() && text.len() == 8,
        "{text} is not HH:MM:SS"
    );
}

fn check_pharmacy(value: &Value, geo: bool) {
    let p: PharmacyMirror = strict(value, &PHARMACY_KEYS);
    utc(&p.created_at);
    utc(&p.updated_at);
    assert!(uuid::Uuid::parse_str(&p.id).is_ok() && !p.name.is_empty());
    assert!((0.0..=5.0).contains(&p.rating) && p.rating_count >= 0);
    let _ = (
        p.is_verified,
        p.is_active,
        p.supports_delivery,
        p.supports_pickup,
    );
    for hours in &p.hours {
        let h: HoursMirror = strict(
            hours,
            &[
                "day_of_week",
                "open_time",
                "close_time",
                "is_closed",
                "id",
                "pharmacy_id",
            ],
        );
        assert!((1..=7).contains(&h.day_of_week));
        check_time(&h.open_time);
        check_time(&h.close_time);
        let _ = h.is_closed;
    }
    if let Some(location) = &p.location {
        let l: LocationMirror = strict(
            location,
            &[
                "address_line",
                "city",
                "state",
                "country",
                "pincode",
                "latitude",
                "longitude",
                "id",
                "pharmacy_id",
                "created_at",
            ],
        );
        assert!((-90.0..=90.0).contains(&l.latitude) && (-180.0..=180.0).contains(&l.longitude));
        assert!(!l.country.is_empty() && !l.address_line.is_empty() && !l.city.is_empty());
    }
    if value.get("distance_km").is_some() {
        assert_eq!(
            value["distance_km"].is_number(),
            geo,
            "distance_km is a number exactly on geo searches: {value}"
        );
    }
}

#[tokio::test]
async fn pharmacy_lists_and_details_parse_with_the_client_models() {
    let app = app().await;
    medico24_postgres::seed_demo_data(
        app.db.url(),
        medico24_postgres::SeedSize {
            pharmacies: 40,
            users: 0,
            appointments: 0,
        },
    )
    .await
    .unwrap();
    let (status, list) = status_json(
        call(
            &app,
            Method::GET,
            "/api/v1/pharmacies?limit=100",
            Some("stale.bearer.token"),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "public routes ignore a stale bearer"
    );
    let items = list.as_array().expect("a bare JSON array");
    assert!(!items.is_empty());
    for item in items {
        check_pharmacy(item, false);
    }
    let (status, nearby) = status_json(
        call(&app, Method::GET, "/api/v1/pharmacies/search/nearby?latitude=19.0760&longitude=72.8777&radius_km=10.0&limit=100", None, None).await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let nearby = nearby.as_array().expect("a bare JSON array");
    assert!(!nearby.is_empty());
    for item in nearby {
        check_pharmacy(item, true);
    }
    let id = items[0]["id"].as_str().unwrap();
    let (status, detail) = status_json(
        call(
            &app,
            Method::GET,
            &format!("/api/v1/pharmacies/{id}"),
            None,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    check_pharmacy(&detail, false);
}

#[tokio::test]
async fn push_token_registration_answers_201_with_an_object() {
    let app = app().await;
    let s = login(&app, "uid-flutter3", "flutter3@example.com").await;
    let (status, token) = status_json(
        call(
            &app,
            Method::POST,
            "/api/v1/notifications/register-token",
            Some(&s.access),
            Some(json!({"fcm_token": "fcm-abc", "platform": "android"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(token.is_object());
    assert_eq!(token["fcm_token"], "fcm-abc");
    assert_eq!(token["is_active"], true);
    // JSON body on DELETE, platform optional.
    let response = app
        .client
        .delete(app.url("/api/v1/notifications/deactivate-token"))
        .bearer_auth(&s.access)
        .json(&json!({"fcm_token": "fcm-abc"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}
