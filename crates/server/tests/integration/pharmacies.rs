//! Pharmacies end to end: representations and key order, auth, 404s and
//! 422s, the nearby search against a brute-force computation, the radius edge, "open now" in
//! SQL against the Rust rule, the caches (hits, invalidation by every write, Redis down) and
//! the audit trail; plus the repository contract on PostgreSQL.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use diesel::QueryableByName;
use diesel::sql_types::{Bool, Float8, Text};
use medico24_identity::TokenSigner;
use medico24_jwt::JwtTokens;
use medico24_kernel::{AuditStamp, PharmacyId, UserId};
use medico24_pharmacy::testing::contract;
use medico24_pharmacy::{
    Coordinates, DayOfWeek, HoursInput, NearbyQuery, NewLocation, NewPharmacy, PharmacyFilter,
    PharmacyRepository, RadiusKm, WeekHours, Window, is_open_now,
};
use medico24_postgres::PgPharmacyRepository;
use medico24_testkit::{TestApp, TestDb, spawn_app_with};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{call, login, login_admin, mount_certs, status_json};

const BASE: &str = "/api/v1/pharmacies";
/// Mumbai reference point of the demo data.
const MUMBAI: (f64, f64) = (19.0760, 72.8777);

/// An app whose rate limit does not get in the way of tests that send many requests.
async fn app() -> TestApp {
    spawn_app_with(|vars| {
        vars.insert("RATE_LIMIT_PER_MINUTE".to_owned(), "1000000".to_owned());
    })
    .await
}

/// An app and an admin's access token.
async fn app_with_admin() -> (TestApp, String) {
    let app = app().await;
    mount_certs(&app).await;
    let admin = login_admin(&app, "uid-pharm-admin", "pharm-admin@example.com")
        .await
        .access;
    (app, admin)
}

fn create_body(name: &str, lat: f64, lng: f64) -> Value {
    json!({
        "name": name,
        "location": {
            "address_line": "12 Hill Road, Bandra",
            "city": "Mumbai",
            "latitude": lat,
            "longitude": lng,
        },
        "hours": [
            {"day_of_week": 3, "open_time": "09:00", "close_time": "21:00"},
            {"day_of_week": 1, "open_time": "20:00:00", "close_time": "02:00", "is_closed": null},
            {"day_of_week": 7, "open_time": "10:00", "close_time": "10:00", "is_closed": true},
        ],
    })
}

async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, body) =
        status_json(call(app, Method::POST, BASE, Some(token), Some(body)).await).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

async fn get(app: &TestApp, path: &str) -> (StatusCode, Value) {
    status_json(app.get(path).await).await
}

async fn get_text(app: &TestApp, path: &str) -> (StatusCode, String) {
    let response = app.get(path).await;
    let status = response.status();
    (status, response.text().await.unwrap())
}

/// The keys of the outermost JSON object of `text`, in the order written.
fn top_level_keys(text: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut depth = 0;
    let mut in_string = false;
    let mut escaped = false;
    let mut current = String::new();
    let mut expecting_key = false;
    for c in text.chars() {
        if in_string {
            if escaped {
                escaped = false;
                current.push(c);
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
                if depth == 1 && expecting_key {
                    keys.push(std::mem::take(&mut current));
                    expecting_key = false;
                }
                current.clear();
            } else {
                current.push(c);
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' | '[' => {
                depth += 1;
                expecting_key = depth == 1 && c == '{';
            }
            '}' | ']' => depth -= 1,
            ',' => expecting_key = depth == 1,
            _ => {}
        }
    }
    keys
}

const DETAIL_KEYS: [&str; 16] = [
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

fn is_hms(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|s| s.len() == 8 && NaiveTime::parse_from_str(s, "%H:%M:%S").is_ok())
}

/// The shape rules the Flutter client relies on, which every pharmacy representation obeys.
fn assert_pharmacy_shape(p: &Value, geo: bool) {
    assert!(p["rating"].is_f64(), "rating is a number: {p}");
    assert!(
        p["rating_count"].is_i64(),
        "rating_count is an integer: {p}"
    );
    let hours = p["hours"].as_array().expect("hours is always an array");
    let days: Vec<i64> = hours
        .iter()
        .map(|h| h["day_of_week"].as_i64().unwrap())
        .collect();
    assert!(days.iter().all(|d| (1..=7).contains(d)), "{days:?}");
    assert!(
        days.windows(2).all(|w| w[0] < w[1]),
        "ordered by day: {days:?}"
    );
    for h in hours {
        assert!(is_hms(&h["open_time"]) && is_hms(&h["close_time"]), "{h}");
        assert!(h["is_closed"].is_boolean());
    }
    if let Some(location) = p["location"].as_object() {
        assert!(location["latitude"].is_f64() && location["longitude"].is_f64());
        assert!(location["country"].is_string());
    }
    for key in ["created_at", "updated_at"] {
        assert!(p[key].as_str().unwrap().ends_with('Z'), "{key}: {p}");
    }
    if geo {
        assert!(
            p["distance_km"].is_f64(),
            "distance_km is a number on geo searches"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Representations
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn creating_a_pharmacy_answers_201_with_the_detail_in_the_spec_shape() {
    let (app, admin) = app_with_admin().await;
    let response = call(
        &app,
        Method::POST,
        BASE,
        Some(&admin),
        Some(create_body("Apollo Bandra", 19.06, 72.83)),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let text = response.text().await.unwrap();
    assert_eq!(top_level_keys(&text), DETAIL_KEYS);
    assert!(text.contains(r#""rating":0.0,"rating_count":0,"#), "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_pharmacy_shape(&body, false);
    assert_eq!(body["is_verified"], false);
    assert_eq!(body["is_active"], true);
    assert_eq!(body["supports_delivery"], false);
    assert_eq!(body["supports_pickup"], true);
    assert_eq!(body["timezone"], "Asia/Kolkata");
    assert_eq!(body["description"], Value::Null);
    let location = &body["location"];
    assert_eq!(location["country"], "India", "country defaults to India");
    assert_eq!(location["state"], Value::Null);
    assert_eq!(location["latitude"], 19.06);
    assert_eq!(location["pharmacy_id"], body["id"]);
    let location_text = serde_json::to_string(location).unwrap();
    assert!(location_text.contains(r#""longitude":72.83"#));
    let hours = body["hours"].as_array().unwrap();
    assert_eq!(
        hours
            .iter()
            .map(|h| (
                h["day_of_week"].as_i64().unwrap(),
                h["open_time"].as_str().unwrap(),
                h["close_time"].as_str().unwrap(),
                h["is_closed"].as_bool().unwrap()
            ))
            .collect::<Vec<_>>(),
        vec![
            (1, "20:00:00", "02:00:00", false),
            (3, "09:00:00", "21:00:00", false),
            (7, "10:00:00", "10:00:00", true)
        ]
    );
    let id = body["id"].as_str().unwrap();
    let (status, detail) = get(&app, &format!("{BASE}/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail, body, "the detail reads back what create answered");
    assert_eq!(
        app.db
            .count(&format!(
                "SELECT count(*) AS n FROM audit_events WHERE action = 'pharmacy.create' \
                 AND resource_type = 'pharmacy' AND resource_id = '{id}' AND actor_type = 'user'"
            ))
            .await,
        1
    );
}

#[tokio::test]
async fn the_listing_is_a_bare_array_ordered_by_rating_with_null_distances() {
    let (app, admin) = app_with_admin().await;
    let mut ids = Vec::new();
    for (name, rating) in [("Low", "2.5"), ("High", "4.5"), ("Mid", "3.1")] {
        let body = create(&app, &admin, create_body(name, 19.1, 72.85)).await;
        let id = body["id"].as_str().unwrap().to_owned();
        app.db
            .execute(&format!(
                "UPDATE pharmacies SET rating = {rating}, rating_count = 7 WHERE id = '{id}'"
            ))
            .await;
        ids.push(id);
    }
    let (status, text) = get_text(&app, BASE).await;
    assert_eq!(status, StatusCode::OK);
    let list: Value = serde_json::from_str(&text).unwrap();
    let items = list.as_array().expect("a bare JSON array");
    assert_eq!(
        items
            .iter()
            .map(|i| i["name"].as_str().unwrap())
            .collect::<Vec<_>>(),
        vec!["High", "Mid", "Low"]
    );
    assert_eq!(items[0]["rating"], 4.5);
    assert_eq!(
        items[1]["rating"], 3.1,
        "numeric(2,1) comes out as the nearest f64"
    );
    for item in items {
        assert_pharmacy_shape(item, false);
        assert_eq!(item["distance_km"], Value::Null);
    }
    let first_item = &text[1..text.find("},{\"name\"").map_or(text.len() - 1, |i| i + 1)];
    let mut expected: Vec<&str> = DETAIL_KEYS.to_vec();
    expected.push("distance_km");
    assert_eq!(top_level_keys(first_item), expected);

    // Only one coordinate: still the plain listing. The other slash form is served directly.
    let (status, same) = get(&app, &format!("{BASE}/?latitude=19.1")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(same, list);
    let (status, page) = get(&app, &format!("{BASE}?skip=1&limit=1")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page.as_array().unwrap().len(), 1);
    assert_eq!(page[0]["name"], "Mid");
    let (_, none) = get(&app, &format!("{BASE}?is_active=false")).await;
    assert_eq!(none, json!([]));
}

#[tokio::test]
async fn geo_searches_return_distances_and_static_segments_beat_ids() {
    let (app, admin) = app_with_admin().await;
    create(&app, &admin, create_body("Near", MUMBAI.0 + 0.01, MUMBAI.1)).await;
    create(&app, &admin, create_body("Far", MUMBAI.0 + 0.05, MUMBAI.1)).await;
    let query = format!(
        "latitude={}&longitude={}&radius_km=10.0",
        MUMBAI.0, MUMBAI.1
    );
    for path in [
        format!("{BASE}/search/nearby?{query}"),
        format!("{BASE}?{query}"),
    ] {
        let (status, body) = get(&app, &path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        let items = body.as_array().unwrap();
        assert_eq!(
            items
                .iter()
                .map(|i| i["name"].as_str().unwrap())
                .collect::<Vec<_>>(),
            vec!["Near", "Far"]
        );
        for item in items {
            assert_pharmacy_shape(item, true);
        }
        let near = items[0]["distance_km"].as_f64().unwrap();
        assert!((near - 1.112).abs() < 0.01, "{near}");
    }
    let (status, body) = get(
        &app,
        &format!(
            "{BASE}/search/nearby?latitude={}&longitude={}&radius_km=2",
            MUMBAI.0, MUMBAI.1
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body.as_array().unwrap().len(),
        1,
        "the radius bounds the search"
    );
}

// ---------------------------------------------------------------------------------------------
// Auth, 404, 422
// ---------------------------------------------------------------------------------------------

fn write_routes(id: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (
            Method::POST,
            BASE.to_owned(),
            Some(create_body("X", 19.0, 72.8)),
        ),
        (
            Method::PATCH,
            format!("{BASE}/{id}"),
            Some(json!({"name": "Y"})),
        ),
        (Method::DELETE, format!("{BASE}/{id}"), None),
        (
            Method::PATCH,
            format!("{BASE}/{id}/location"),
            Some(json!({"city": "Pune"})),
        ),
        (
            Method::POST,
            format!("{BASE}/{id}/hours"),
            Some(json!({"day_of_week": 2, "open_time": "09:00", "close_time": "17:00"})),
        ),
        (Method::DELETE, format!("{BASE}/{id}/hours/3"), None),
        (
            Method::PATCH,
            format!("/api/v1/admin/pharmacies/{id}/verify"),
            None,
        ),
    ]
}

#[tokio::test]
async fn anonymous_writes_are_401_and_patient_writes_are_403() {
    let (app, admin) = app_with_admin().await;
    let patient = login(&app, "uid-pharm-patient", "patient@example.com")
        .await
        .access;
    let created = create(&app, &admin, create_body("A", 19.0, 72.8)).await;
    let id = created["id"].as_str().unwrap();
    for (method, path, body) in write_routes(id) {
        let (status, error) =
            status_json(call(&app, method.clone(), &path, None, body.clone()).await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {error}");
        let (status, error) =
            status_json(call(&app, method.clone(), &path, Some(&patient), body).await).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}");
        assert_eq!(error["message"], "Admin access required");
    }
    // Parse failures come after the role check.
    let (status, _) = status_json(
        call(
            &app,
            Method::DELETE,
            &format!("{BASE}/not-a-uuid/hours/9"),
            Some(&patient),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, detail) = get(&app, &format!("{BASE}/{id}")).await;
    assert_eq!(detail["name"], "A", "nothing was changed");
}

#[tokio::test]
async fn public_reads_ignore_any_authorization_header() {
    let (app, admin) = app_with_admin().await;
    let created = create(&app, &admin, create_body("A", 19.0, 72.8)).await;
    let id = created["id"].as_str().unwrap();
    for path in [
        BASE.to_owned(),
        format!("{BASE}/{id}"),
        format!("{BASE}/{id}/hours"),
        format!("{BASE}/search/nearby?latitude=19&longitude=72.8"),
    ] {
        let response = app
            .client
            .get(app.url(&path))
            .header("Authorization", "Bearer expired.garbage.token")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn unknown_pharmacies_and_hours_answer_404_with_the_spec_messages() {
    let (app, admin) = app_with_admin().await;
    let missing = uuid::Uuid::new_v4();
    let mut routes = write_routes(&missing.to_string());
    routes.remove(0);
    routes.push((Method::GET, format!("{BASE}/{missing}"), None));
    routes.push((Method::GET, format!("{BASE}/{missing}/hours"), None));
    for (method, path, body) in routes {
        let (status, error) =
            status_json(call(&app, method.clone(), &path, Some(&admin), body).await).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(error["message"], "Pharmacy not found", "{method} {path}");
        assert_eq!(error["error"], "not_found");
    }
    let created = create(&app, &admin, create_body("A", 19.0, 72.8)).await;
    let id = created["id"].as_str().unwrap();
    let (status, error) = status_json(
        call(
            &app,
            Method::DELETE,
            &format!("{BASE}/{id}/hours/2"),
            Some(&admin),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["message"], "Pharmacy hours not found");
}

fn issues(body: &Value) -> Vec<(Value, String)> {
    body["details"]
        .as_array()
        .unwrap_or_else(|| panic!("422 details: {body}"))
        .iter()
        .map(|d| (d["loc"].clone(), d["type"].as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test]
async fn invalid_bodies_answer_422_with_every_issue_located() {
    let (app, admin) = app_with_admin().await;
    let mut body = create_body("A", 19.0, 72.8);
    body["email"] = json!("not-an-email");
    body["timezone"] = json!("Mars/Olympus");
    body["name"] = json!("");
    body["location"]["latitude"] = json!(90.5);
    body["location"]["city"] = json!(7);
    body["hours"] = json!([
        {"day_of_week": 1, "open_time": "09:00", "close_time": "25:00"},
        {"day_of_week": 1, "open_time": "09:00", "close_time": "10:00"},
        {"day_of_week": 0, "open_time": "09:00", "close_time": "10:00"},
        {"day_of_week": 8, "open_time": "9am", "close_time": "10:00"},
        "monday",
    ]);
    let (status, error) =
        status_json(call(&app, Method::POST, BASE, Some(&admin), Some(body)).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(
        issues(&error),
        vec![
            (json!(["body", "name"]), "string_too_short".to_owned()),
            (json!(["body", "email"]), "value_error".to_owned()),
            (json!(["body", "timezone"]), "value_error".to_owned()),
            (
                json!(["body", "location", "city"]),
                "string_type".to_owned()
            ),
            (
                json!(["body", "location", "latitude"]),
                "less_than_equal".to_owned()
            ),
            (
                json!(["body", "hours", 0, "close_time"]),
                "time_parsing".to_owned()
            ),
            (
                json!(["body", "hours", 1, "day_of_week"]),
                "value_error".to_owned()
            ),
            (
                json!(["body", "hours", 2, "day_of_week"]),
                "greater_than_equal".to_owned()
            ),
            (
                json!(["body", "hours", 3, "day_of_week"]),
                "less_than_equal".to_owned()
            ),
            (
                json!(["body", "hours", 3, "open_time"]),
                "time_parsing".to_owned()
            ),
            (json!(["body", "hours", 4]), "dict_type".to_owned()),
        ]
    );
    let (status, error) = status_json(
        call(
            &app,
            Method::POST,
            BASE,
            Some(&admin),
            Some(json!({"name": "A"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        issues(&error),
        vec![(json!(["body", "location"]), "missing".to_owned())]
    );
    let mut eight = create_body("A", 19.0, 72.8);
    eight["hours"] = json!(
        (1..=8)
            .map(|d| json!({"day_of_week": d, "open_time": "09:00", "close_time": "10:00"}))
            .collect::<Vec<_>>()
    );
    let (status, error) =
        status_json(call(&app, Method::POST, BASE, Some(&admin), Some(eight)).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        issues(&error),
        vec![(json!(["body", "hours"]), "too_long".to_owned())]
    );
    let mut nul = create_body("A\u{0}B", 19.0, 72.8);
    nul["description"] = json!("ok");
    let (status, _) =
        status_json(call(&app, Method::POST, BASE, Some(&admin), Some(nul)).await).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "NUL never reaches PostgreSQL"
    );

    let created = create(&app, &admin, create_body("A", 19.0, 72.8)).await;
    let id = created["id"].as_str().unwrap();
    let cases = [
        (
            Method::PATCH,
            format!("{BASE}/{id}"),
            json!({"email": "nope", "timezone": "Nowhere/City", "is_active": "yes"}),
            vec![
                (json!(["body", "email"]), "value_error"),
                (json!(["body", "is_active"]), "bool_type"),
                (json!(["body", "timezone"]), "value_error"),
            ],
        ),
        (
            Method::PATCH,
            format!("{BASE}/{id}/location"),
            json!({"longitude": -181, "address_line": ""}),
            vec![
                (json!(["body", "address_line"]), "string_too_short"),
                (json!(["body", "longitude"]), "greater_than_equal"),
            ],
        ),
        (
            Method::POST,
            format!("{BASE}/{id}/hours"),
            json!({"day_of_week": 0, "open_time": "24:00"}),
            vec![
                (json!(["body", "day_of_week"]), "greater_than_equal"),
                (json!(["body", "open_time"]), "time_parsing"),
                (json!(["body", "close_time"]), "missing"),
            ],
        ),
    ];
    for (method, path, body, expected) in cases {
        let (status, error) =
            status_json(call(&app, method.clone(), &path, Some(&admin), Some(body)).await).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{method} {path}");
        let expected: Vec<(Value, String)> = expected
            .into_iter()
            .map(|(l, t)| (l, t.to_owned()))
            .collect();
        assert_eq!(issues(&error), expected, "{method} {path}");
    }
}

#[tokio::test]
async fn invalid_queries_and_path_parameters_answer_422() {
    let (app, admin) = app_with_admin().await;
    let nearby = format!("{BASE}/search/nearby");
    let cases: Vec<(String, Vec<(Value, &str)>)> = vec![
        (
            format!("{nearby}?latitude=91&longitude=abc"),
            vec![
                (json!(["query", "latitude"]), "less_than_equal"),
                (json!(["query", "longitude"]), "float_parsing"),
            ],
        ),
        (
            format!("{nearby}?longitude=72"),
            vec![(json!(["query", "latitude"]), "missing")],
        ),
        (
            format!("{nearby}?latitude=19&longitude=72&radius_km=0"),
            vec![(json!(["query", "radius_km"]), "greater_than")],
        ),
        (
            format!("{nearby}?latitude=19&longitude=72&radius_km=100.5"),
            vec![(json!(["query", "radius_km"]), "less_than_equal")],
        ),
        (
            format!("{nearby}?latitude=NaN&longitude=72"),
            vec![(json!(["query", "latitude"]), "float_parsing")],
        ),
        (
            format!("{BASE}?limit=101&skip=-1"),
            vec![
                (json!(["query", "skip"]), "greater_than_equal"),
                (json!(["query", "limit"]), "less_than_equal"),
            ],
        ),
        (
            format!("{BASE}?limit=0&open_now=maybe"),
            vec![
                (json!(["query", "limit"]), "greater_than_equal"),
                (json!(["query", "open_now"]), "bool_parsing"),
            ],
        ),
        (
            format!("{BASE}?latitude=-90.5&longitude=10&radius_km=-1"),
            vec![
                (json!(["query", "latitude"]), "greater_than_equal"),
                (json!(["query", "radius_km"]), "greater_than"),
            ],
        ),
        (
            format!("{BASE}/not-a-uuid"),
            vec![(json!(["path", "pharmacy_id"]), "uuid_parsing")],
        ),
    ];
    for (path, expected) in cases {
        let (status, error) = get(&app, &path).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {error}");
        let expected: Vec<(Value, String)> = expected
            .into_iter()
            .map(|(l, t)| (l, t.to_owned()))
            .collect();
        assert_eq!(issues(&error), expected, "{path}");
    }
    let (status, ok) = get(&app, &format!("{BASE}?limit=100.0&skip=0")).await;
    assert_eq!(status, StatusCode::OK, "{ok}");

    let created = create(&app, &admin, create_body("A", 19.0, 72.8)).await;
    let id = created["id"].as_str().unwrap();
    for (day, kind) in [
        ("0", "greater_than_equal"),
        ("8", "less_than_equal"),
        ("x", "int_parsing"),
    ] {
        let (status, error) = status_json(
            call(
                &app,
                Method::DELETE,
                &format!("{BASE}/{id}/hours/{day}"),
                Some(&admin),
                None,
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            issues(&error),
            vec![(json!(["path", "day_of_week"]), kind.to_owned())]
        );
    }
    let (status, error) = status_json(
        call(
            &app,
            Method::PATCH,
            &format!("/api/v1/admin/pharmacies/{id}/verify?is_verified=perhaps"),
            Some(&admin),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        issues(&error),
        vec![(json!(["query", "is_verified"]), "bool_parsing".to_owned())]
    );
}

// ---------------------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn writes_change_what_they_say_and_each_is_audited() {
    let (app, admin) = app_with_admin().await;
    let created = create(&app, &admin, create_body("A", 19.0, 72.8)).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let before = created["updated_at"].as_str().unwrap().to_owned();
    let send = |method: Method, path: String, body: Option<Value>| {
        let app = &app;
        let admin = &admin;
        async move { status_json(call(app, method, &path, Some(admin), body).await).await }
    };

    let (status, same) = send(
        Method::PATCH,
        format!("{BASE}/{id}"),
        Some(json!({"unknown": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        same, created,
        "no recognised member: the current detail, nothing written"
    );

    let (status, updated) = send(
        Method::PATCH,
        format!("{BASE}/{id}"),
        Some(
            json!({"name": "B", "description": null, "supports_delivery": true,
                    "is_active": false, "timezone": "America/New_York", "email": "b@example.com"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(
        (
            &updated["name"],
            &updated["supports_delivery"],
            &updated["is_active"],
            &updated["timezone"],
            &updated["email"]
        ),
        (
            &json!("B"),
            &json!(true),
            &json!(false),
            &json!("America/New_York"),
            &json!("b@example.com")
        )
    );
    assert!(updated["updated_at"].as_str().unwrap() > before.as_str());

    let (status, moved) = send(
        Method::PATCH,
        format!("{BASE}/{id}/location"),
        Some(json!({"city": "Pune", "latitude": 18.52, "state": null})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(moved["location"]["city"], "Pune");
    assert_eq!(moved["location"]["latitude"], 18.52);
    assert_eq!(moved["location"]["longitude"], 72.8);
    assert_eq!(
        app.db
            .count(&format!(
                "SELECT count(*) AS n FROM pharmacy_locations WHERE pharmacy_id = '{id}' \
                 AND geo = ST_SetSRID(ST_MakePoint(72.8, 18.52), 4326)::geography"
            ))
            .await,
        1,
        "geo follows the coordinates"
    );

    let hours = json!({"day_of_week": 5, "open_time": "08:00", "close_time": "08:00"});
    let (status, first) = send(Method::POST, format!("{BASE}/{id}/hours"), Some(hours)).await;
    assert_eq!(status, StatusCode::CREATED);
    let replaced = json!({"day_of_week": 5, "open_time": "07:30:59.9", "close_time": "22:00", "is_closed": true});
    let (status, second) = send(Method::POST, format!("{BASE}/{id}/hours"), Some(replaced)).await;
    assert_eq!(status, StatusCode::CREATED, "201 when replaced too");
    assert_eq!(second["id"], first["id"], "the upsert keeps the row");
    assert_eq!(second["open_time"], "07:30:59", "the fraction is dropped");
    assert_eq!(second["is_closed"], true);
    let (_, list) = get(&app, &format!("{BASE}/{id}/hours")).await;
    assert_eq!(
        list.as_array()
            .unwrap()
            .iter()
            .map(|h| h["day_of_week"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        vec![1, 3, 5, 7]
    );
    let (status, _) = send(Method::DELETE, format!("{BASE}/{id}/hours/5"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let verify = format!("/api/v1/admin/pharmacies/{id}/verify");
    let (status, toggled) = send(Method::PATCH, verify.clone(), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(top_level_keys(&toggled.to_string()).len(), 5);
    assert_eq!(toggled["is_verified"], true, "absent flag toggles");
    let (_, toggled) = send(Method::PATCH, verify.clone(), None).await;
    assert_eq!(toggled["is_verified"], false);
    let (_, set) = send(Method::PATCH, format!("{verify}?is_verified=true"), None).await;
    assert_eq!(set["is_verified"], true);
    let (_, set) = send(Method::PATCH, format!("{verify}?is_verified=true"), None).await;
    assert_eq!(set["is_verified"], true, "given flag sets");
    assert_eq!(set["name"], "B");
    assert_eq!(set["is_active"], false);

    let (status, _) = send(Method::DELETE, format!("{BASE}/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for table in ["pharmacy_locations", "pharmacy_hours"] {
        assert_eq!(
            app.db
                .count(&format!(
                    "SELECT count(*) AS n FROM {table} WHERE pharmacy_id = '{id}'"
                ))
                .await,
            0,
            "{table} rows cascade"
        );
    }
    let db = &app.db;
    let audited = |action: &str| {
        let sql = format!(
            "SELECT count(*) AS n FROM audit_events WHERE action = '{action}' \
             AND resource_id = '{id}' AND actor_user_id IS NOT NULL AND request_id <> ''"
        );
        async move { db.count(&sql).await }
    };
    for (action, expected) in [
        ("pharmacy.create", 1),
        ("pharmacy.update", 1),
        ("pharmacy.location.update", 1),
        ("pharmacy.hours.upsert", 2),
        ("pharmacy.hours.delete", 1),
        ("pharmacy.verify", 4),
        ("pharmacy.delete", 1),
    ] {
        assert_eq!(audited(action).await, expected, "{action}");
    }
    assert_eq!(
        app.db
            .count(&format!(
                "SELECT count(*) AS n FROM audit_events WHERE action = 'pharmacy.verify' \
                 AND resource_id = '{id}' AND details = '{{\"before\": {{\"is_verified\": false}}, \"after\": {{\"is_verified\": true}}}}'::jsonb"
            ))
            .await,
        2
    );
}

#[tokio::test]
async fn a_pharmacy_without_a_location_answers_its_detail_with_a_null_location() {
    let (app, admin) = app_with_admin().await;
    let created = create(&app, &admin, create_body("A", 19.0, 72.8)).await;
    let id = created["id"].as_str().unwrap();
    app.db
        .execute(&format!(
            "DELETE FROM pharmacy_locations WHERE pharmacy_id = '{id}'"
        ))
        .await;
    let (status, body) = status_json(
        call(
            &app,
            Method::PATCH,
            &format!("{BASE}/{id}/location"),
            Some(&admin),
            Some(json!({"city": "Pune"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["location"], Value::Null);
    assert_eq!(
        app.db
            .count(
                "SELECT count(*) AS n FROM audit_events WHERE action = 'pharmacy.location.update'"
            )
            .await,
        0,
        "nothing written, nothing audited"
    );
}

// ---------------------------------------------------------------------------------------------
// Caches
// ---------------------------------------------------------------------------------------------

fn cache_count(app: &TestApp, cache: &str, result: &str) -> u64 {
    app.state
        .metrics
        .cache_requests
        .with_label_values(&[cache, result])
        .get()
}

#[tokio::test]
async fn the_detail_is_served_from_redis_on_the_second_read() {
    let (app, admin) = app_with_admin().await;
    let created = create(&app, &admin, create_body("Cached", 19.0, 72.8)).await;
    let id = created["id"].as_str().unwrap();
    let path = format!("{BASE}/{id}");
    let hits = cache_count(&app, "pharmacy", "hit");
    let (_, first) = get_text(&app, &path).await;
    assert_eq!(
        cache_count(&app, "pharmacy", "hit"),
        hits,
        "the first read misses"
    );
    app.db
        .execute(&format!(
            "UPDATE pharmacies SET name = 'Changed behind the app' WHERE id = '{id}'"
        ))
        .await;
    let (status, second) = get_text(&app, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second, first, "served byte for byte from Redis");
    assert_eq!(cache_count(&app, "pharmacy", "hit"), hits + 1);
    assert!(
        app.redis
            .keys()
            .await
            .contains(&format!("{}v2:pharmacy:{id}", app.redis.prefix()))
    );

    let (_, list) = get_text(&app, BASE).await;
    let list_hits = cache_count(&app, "pharmacy_list", "hit");
    app.db.execute("UPDATE pharmacies SET rating = 5.0").await;
    let (_, again) = get_text(&app, BASE).await;
    assert_eq!(again, list, "the listing page is cached as well");
    assert_eq!(cache_count(&app, "pharmacy_list", "hit"), list_hits + 1);
    let (_, open_now) = get_text(&app, &format!("{BASE}?open_now=true")).await;
    assert_eq!(
        cache_count(&app, "pharmacy_list", "hit"),
        list_hits + 1,
        "open_now listings are never cached ({open_now})"
    );
}

#[tokio::test]
async fn every_write_kind_invalidates_the_detail_and_the_listings() {
    let (app, admin) = app_with_admin().await;
    let created = create(&app, &admin, create_body("A", 19.0, 72.8)).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let detail_path = format!("{BASE}/{id}");
    let list_path = format!("{BASE}?limit=50");
    let warm = || async {
        let (_, detail) = get(&app, &detail_path).await;
        let (_, detail_again) = get(&app, &detail_path).await;
        assert_eq!(detail, detail_again);
        let (_, list) = get(&app, &list_path).await;
        let (_, list_again) = get(&app, &list_path).await;
        assert_eq!(list, list_again);
    };
    let listed = |list: &Value| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == json!(id))
            .cloned()
    };

    type Check = Box<dyn Fn(&Value, &Value)>;
    let writes: Vec<(&str, Method, String, Option<Value>, Check)> = vec![
        (
            "PATCH",
            Method::PATCH,
            detail_path.clone(),
            Some(json!({"name": "Renamed"})),
            Box::new(move |detail, item| {
                assert_eq!(detail["name"], "Renamed");
                assert_eq!(item["name"], "Renamed");
            }),
        ),
        (
            "location",
            Method::PATCH,
            format!("{detail_path}/location"),
            Some(json!({"city": "Thane"})),
            Box::new(|detail, item| {
                assert_eq!(detail["location"]["city"], "Thane");
                assert_eq!(item["location"]["city"], "Thane");
            }),
        ),
        (
            "hours upsert",
            Method::POST,
            format!("{detail_path}/hours"),
            Some(json!({"day_of_week": 4, "open_time": "06:00", "close_time": "07:00"})),
            Box::new(|detail, item| {
                assert_eq!(detail["hours"].as_array().unwrap().len(), 4);
                assert_eq!(item["hours"].as_array().unwrap().len(), 4);
            }),
        ),
        (
            "hours delete",
            Method::DELETE,
            format!("{detail_path}/hours/4"),
            None,
            Box::new(|detail, item| {
                assert_eq!(detail["hours"].as_array().unwrap().len(), 3);
                assert_eq!(item["hours"].as_array().unwrap().len(), 3);
            }),
        ),
        (
            "verify",
            Method::PATCH,
            format!("/api/v1/admin/pharmacies/{id}/verify"),
            None,
            Box::new(|detail, item| {
                assert_eq!(detail["is_verified"], true);
                assert_eq!(item["is_verified"], true);
            }),
        ),
    ];
    for (name, method, path, body, check) in writes {
        warm().await;
        let (status, answer) =
            status_json(call(&app, method, &path, Some(&admin), body).await).await;
        assert!(status.is_success(), "{name}: {status} {answer}");
        let (_, detail) = get(&app, &detail_path).await;
        let (_, list) = get(&app, &list_path).await;
        let item = listed(&list).unwrap_or_else(|| panic!("{name}: still listed"));
        check(&detail, &item);
    }

    warm().await;
    let newcomer = create(&app, &admin, create_body("Newcomer", 19.0, 72.8)).await;
    let (_, list) = get(&app, &list_path).await;
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == newcomer["id"]),
        "create supersedes cached listings"
    );

    warm().await;
    let (status, _) =
        status_json(call(&app, Method::DELETE, &detail_path, Some(&admin), None).await).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = get(&app, &detail_path).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "DELETE drops the cached detail"
    );
    let (_, list) = get(&app, &list_path).await;
    assert!(listed(&list).is_none(), "DELETE supersedes cached listings");
}

/// An admin user inserted directly and an access token minted with the app's key, for when
/// login (which needs Redis for the session) is impossible.
async fn minted_admin_token(app: &TestApp) -> String {
    let id = UserId::new_v7();
    app.db
        .execute(&format!(
            "INSERT INTO users (id, firebase_uid, email, role) \
             VALUES ('{id}', 'uid-minted-{id}', 'minted@example.com', 'admin')"
        ))
        .await;
    let settings = &app.settings;
    JwtTokens::new(
        settings.jwt_secret_key.expose(),
        settings.jwt_refresh_secret_key.expose(),
        settings.access_token_ttl,
        settings.refresh_token_ttl,
    )
    .issue_access(id, Utc::now())
}

#[tokio::test]
async fn with_redis_down_the_pharmacy_endpoints_answer_from_the_database() {
    let app = spawn_app_with(|vars| {
        vars.insert("REDIS_URL".to_owned(), "redis://127.0.0.1:1".to_owned());
        vars.insert("REDIS_TIMEOUT_MS".to_owned(), "200".to_owned());
    })
    .await;
    let admin = minted_admin_token(&app).await;
    let created = create(&app, &admin, create_body("Offline", MUMBAI.0, MUMBAI.1)).await;
    let id = created["id"].as_str().unwrap();
    let errors = cache_count(&app, "pharmacy", "error");
    for _ in 0..2 {
        let (status, detail) = get(&app, &format!("{BASE}/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(detail, created);
    }
    assert!(
        cache_count(&app, "pharmacy", "error") > errors,
        "counted as errors"
    );
    let (status, list) = get(&app, BASE).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (status, nearby) = get(
        &app,
        &format!(
            "{BASE}/search/nearby?latitude={}&longitude={}",
            MUMBAI.0, MUMBAI.1
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(nearby[0]["distance_km"], 0.0);
    let (status, updated) = status_json(
        call(
            &app,
            Method::PATCH,
            &format!("{BASE}/{id}"),
            Some(&admin),
            Some(json!({"name": "Still works"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(updated["name"], "Still works");
    let (_, detail) = get(&app, &format!("{BASE}/{id}")).await;
    assert_eq!(detail["name"], "Still works");
}

// ---------------------------------------------------------------------------------------------
// Nearby search properties
// ---------------------------------------------------------------------------------------------

#[derive(Debug, QueryableByName)]
struct Candidate {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Bool)]
    is_active: bool,
    #[diesel(sql_type = Bool)]
    is_verified: bool,
    #[diesel(sql_type = Bool)]
    supports_delivery: bool,
    #[diesel(sql_type = Bool)]
    supports_pickup: bool,
    #[diesel(sql_type = Float8)]
    distance_m: f64,
}

/// Every located pharmacy with its `ST_Distance(…, false)` to the point, in no order.
async fn all_distances(app: &TestApp, lat: f64, lng: f64) -> Vec<Candidate> {
    use diesel_async::RunQueryDsl;
    let mut conn = app.db.connect().await;
    diesel::sql_query(
        "SELECT p.id::text AS id, p.is_active, p.is_verified, p.supports_delivery, \
                p.supports_pickup, \
                ST_Distance(l.geo, ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography, false) AS distance_m \
           FROM pharmacies p JOIN pharmacy_locations l ON l.pharmacy_id = p.id",
    )
    .bind::<Float8, _>(lng)
    .bind::<Float8, _>(lat)
    .load(&mut conn)
    .await
    .unwrap()
}

fn flag(rng: &mut StdRng) -> Option<bool> {
    match rng.random_range(0..3) {
        0 => None,
        1 => Some(true),
        _ => Some(false),
    }
}

fn query_flag(name: &str, value: Option<bool>) -> String {
    value.map_or_else(String::new, |v| format!("&{name}={v}"))
}

#[tokio::test]
async fn nearby_results_equal_a_brute_force_distance_ordering_for_random_searches() {
    let app = app().await;
    let mut rng = StdRng::seed_from_u64(0x5eed_2026);
    // 400 pharmacies within ~30 km of Mumbai; every tenth shares the previous one's position
    // (exact distance ties, broken by id); every twentieth has no location.
    let mut pharmacies = Vec::new();
    let mut locations = Vec::new();
    let mut position = MUMBAI;
    for i in 0..400 {
        let id = uuid::Builder::from_random_bytes(rng.random()).into_uuid();
        if i % 10 != 9 {
            position = (
                MUMBAI.0 + rng.random_range(-0.27..0.27),
                MUMBAI.1 + rng.random_range(-0.27..0.27),
            );
        }
        pharmacies.push(format!(
            "('{id}', 'P{i}', {}, {}, {}, {}, {}, 'Asia/Kolkata')",
            rng.random_bool(0.6),
            rng.random_bool(0.85),
            rng.random_bool(0.5),
            rng.random_bool(0.8),
            f64::from(rng.random_range(0..=50_u32)) / 10.0,
        ));
        if i % 20 != 19 {
            locations.push(format!(
                "('{id}', 'Shop {i}', 'Mumbai', {}, {})",
                position.0, position.1
            ));
        }
    }
    app.db
        .execute(&format!(
            "INSERT INTO pharmacies (id, name, is_verified, is_active, supports_delivery, \
             supports_pickup, rating, timezone) VALUES {};\
             INSERT INTO pharmacy_locations (pharmacy_id, address_line, city, latitude, longitude) \
             VALUES {};",
            pharmacies.join(","),
            locations.join(",")
        ))
        .await;

    let mut non_empty = 0;
    for case in 0..50 {
        let lat = MUMBAI.0 + rng.random_range(-0.3..0.3);
        let lng = MUMBAI.1 + rng.random_range(-0.3..0.3);
        let radius_km: f64 = match case % 5 {
            0 => 100.0,
            1 => rng.random_range(0.05..2.0),
            _ => rng.random_range(1.0..25.0),
        };
        let is_active = if rng.random_bool(0.8) {
            None
        } else {
            Some(false)
        };
        let (verified, delivery, pickup) = (flag(&mut rng), flag(&mut rng), flag(&mut rng));
        let skip = if rng.random_bool(0.3) {
            rng.random_range(0..30)
        } else {
            0
        };
        let limit = rng.random_range(1..=100);
        let filters = format!(
            "{}{}{}{}",
            query_flag("is_active", is_active),
            query_flag("is_verified", verified),
            query_flag("supports_delivery", delivery),
            query_flag("supports_pickup", pickup)
        );
        let base = format!(
            "{BASE}/search/nearby?latitude={lat}&longitude={lng}&radius_km={radius_km}{filters}"
        );

        let mut expected: Vec<Candidate> = all_distances(&app, lat, lng)
            .await
            .into_iter()
            .filter(|c| {
                c.distance_m <= radius_km * 1000.0
                    && c.is_active == is_active.unwrap_or(true)
                    && verified.is_none_or(|v| c.is_verified == v)
                    && delivery.is_none_or(|v| c.supports_delivery == v)
                    && pickup.is_none_or(|v| c.supports_pickup == v)
            })
            .collect();
        expected.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m).then(a.id.cmp(&b.id)));
        let all_expected: Vec<String> = expected.iter().map(|c| c.id.clone()).collect();
        let distances: HashMap<String, f64> = expected
            .iter()
            .map(|c| (c.id.clone(), c.distance_m))
            .collect();

        let (status, page) = get(&app, &format!("{base}&skip={skip}&limit={limit}")).await;
        assert_eq!(status, StatusCode::OK, "case {case}: {page}");
        let got: Vec<String> = page
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect();
        let wanted: Vec<String> = all_expected
            .iter()
            .skip(skip)
            .take(limit)
            .cloned()
            .collect();
        assert_eq!(got, wanted, "case {case}: {base}&skip={skip}&limit={limit}");
        for item in page.as_array().unwrap() {
            let id = item["id"].as_str().unwrap();
            let reported = item["distance_km"].as_f64().unwrap() * 1000.0;
            assert!(
                (reported - distances[id]).abs() < 1.0,
                "case {case}: distance_km of {id} is {reported} m, ST_Distance {} m",
                distances[id]
            );
        }
        if !got.is_empty() {
            non_empty += 1;
        }

        // Paging is stable: pages of `size` concatenated equal one big page.
        if case % 3 == 0 {
            let size = rng.random_range(1..=7);
            let mut concatenated = Vec::new();
            for page_no in 0..(100 / size) {
                let (_, page) = get(
                    &app,
                    &format!("{base}&skip={}&limit={size}", page_no * size),
                )
                .await;
                let ids: Vec<String> = page
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["id"].as_str().unwrap().to_owned())
                    .collect();
                let done = ids.len() < size;
                concatenated.extend(ids);
                if done {
                    break;
                }
            }
            let (_, big) = get(
                &app,
                &format!("{base}&skip=0&limit={}", (100 / size) * size),
            )
            .await;
            let big: Vec<String> = big
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(concatenated, big, "case {case}: pages of {size}");
        }
    }
    assert!(
        non_empty >= 30,
        "the cases exercise real results ({non_empty} non-empty)"
    );
}

#[tokio::test]
async fn pharmacies_at_the_same_distance_are_paged_in_id_order() {
    let app = app().await;
    let mut rng = StdRng::seed_from_u64(7);
    // 5 nearer, 25 sharing one spot (inserted in descending id order, so neither insertion
    // nor index order is id order), 5 farther.
    let mut ids: Vec<uuid::Uuid> = (0..25)
        .map(|_| uuid::Builder::from_random_bytes(rng.random()).into_uuid())
        .collect();
    ids.sort();
    let mut rows: Vec<(uuid::Uuid, f64)> = ids.iter().rev().map(|id| (*id, 0.02)).collect();
    for i in 0..5 {
        rows.push((uuid::Uuid::new_v4(), 0.001 * f64::from(i + 1)));
        rows.push((uuid::Uuid::new_v4(), 0.03 + 0.001 * f64::from(i)));
    }
    let pharmacies: Vec<String> = rows
        .iter()
        .map(|(id, _)| format!("('{id}', 'Tie', 'Asia/Kolkata')"))
        .collect();
    let locations: Vec<String> = rows
        .iter()
        .map(|(id, dlat)| {
            format!(
                "('{id}', 'Mall', 'Mumbai', {}, {})",
                MUMBAI.0 + dlat,
                MUMBAI.1
            )
        })
        .collect();
    app.db
        .execute(&format!(
            "INSERT INTO pharmacies (id, name, timezone) VALUES {};\
             INSERT INTO pharmacy_locations (pharmacy_id, address_line, city, latitude, longitude) VALUES {};",
            pharmacies.join(","),
            locations.join(",")
        ))
        .await;
    let base = format!(
        "{BASE}/search/nearby?latitude={}&longitude={}&radius_km=50",
        MUMBAI.0, MUMBAI.1
    );
    let (_, all) = get(&app, &format!("{base}&limit=100")).await;
    let all: Vec<String> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(all.len(), 35);
    let tied: Vec<String> = all[5..30].to_vec();
    let expected: Vec<String> = ids.iter().map(ToString::to_string).collect();
    assert_eq!(tied, expected, "equal distances are ordered by id");
    for size in [1, 2, 3, 4, 7] {
        let mut paged = Vec::new();
        for page in 0..=(35 / size) {
            let (_, items) = get(&app, &format!("{base}&skip={}&limit={size}", page * size)).await;
            paged.extend(
                items
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["id"].as_str().unwrap().to_owned()),
            );
        }
        assert_eq!(paged, all, "pages of {size}");
    }
}

#[derive(QueryableByName)]
struct Exact {
    #[diesel(sql_type = Float8)]
    metres: f64,
    #[diesel(sql_type = Bool)]
    within: bool,
}

#[tokio::test]
async fn a_pharmacy_exactly_at_the_radius_edge_is_included() {
    use diesel_async::RunQueryDsl;
    let (app, admin) = app_with_admin().await;
    let center = (19.2, 72.9);
    let mut found = None;
    // Find a position whose exact sphere distance d (the `<->` value, which ST_DWithin
    // compares) is k × 1000 for some f64 k, so that radius_km = k gives exactly d metres.
    for attempt in 0..200 {
        let (lat, lng) = (
            center.0 + 0.0123 + f64::from(attempt) * 1e-7,
            center.1 + 0.0045,
        );
        let mut conn = app.db.connect().await;
        let exact: Exact = diesel::sql_query(
            "SELECT (a <-> b) AS metres, true AS within FROM \
             (SELECT ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography AS a, \
                     ST_SetSRID(ST_MakePoint($3, $4), 4326)::geography AS b) s",
        )
        .bind::<Float8, _>(lng)
        .bind::<Float8, _>(lat)
        .bind::<Float8, _>(center.1)
        .bind::<Float8, _>(center.0)
        .get_result(&mut conn)
        .await
        .unwrap();
        let d = exact.metres;
        let k = d / 1000.0;
        if let Some(k) = [k, k.next_up(), k.next_down()]
            .into_iter()
            .find(|k| k * 1000.0 == d)
        {
            found = Some((lat, lng, d, k));
            break;
        }
    }
    let (lat, lng, d, radius_km) = found.expect("a position with an exactly representable radius");
    let body = create(&app, &admin, create_body("Edge", lat, lng)).await;
    let id = body["id"].as_str().unwrap();

    // The database agrees that the point is exactly at d and within d.
    let mut conn = app.db.connect().await;
    let check: Exact = diesel::sql_query(
        "SELECT (l.geo <-> ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography) AS metres, \
                ST_DWithin(l.geo, ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography, $3, false) AS within \
           FROM pharmacy_locations l WHERE l.pharmacy_id = $4::uuid",
    )
    .bind::<Float8, _>(center.1)
    .bind::<Float8, _>(center.0)
    .bind::<Float8, _>(radius_km * 1000.0)
    .bind::<Text, _>(id)
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(check.metres, d);
    assert!(check.within);

    let search = |km: f64| {
        format!(
            "{BASE}/search/nearby?latitude={}&longitude={}&radius_km={km}",
            center.0, center.1
        )
    };
    let (_, at_edge) = get(&app, &search(radius_km)).await;
    assert_eq!(
        at_edge.as_array().unwrap().len(),
        1,
        "distance == radius is inside (radius_km={radius_km}, d={d} m)"
    );
    let below = radius_km.next_down();
    assert!(below * 1000.0 < d);
    let (_, just_inside) = get(&app, &search(below)).await;
    assert_eq!(
        just_inside,
        json!([]),
        "one ulp less excludes it (radius_km={below})"
    );
}

#[tokio::test]
async fn each_nearby_item_carries_the_same_location_and_hours_as_its_detail() {
    let (app, admin) = app_with_admin().await;
    let with_hours = create(&app, &admin, create_body("With hours", 19.10, 72.88)).await;
    let mut bare = create_body("No hours", 19.11, 72.88);
    bare["hours"] = json!([]);
    let without_hours = create(&app, &admin, bare).await;

    let (status, page) = get(
        &app,
        &format!("{BASE}/search/nearby?latitude=19.1&longitude=72.88&radius_km=5"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let items = page.as_array().unwrap();
    assert_eq!(items.len(), 2, "{page}");
    for (item, created) in items.iter().zip([&with_hours, &without_hours]) {
        let id = created["id"].as_str().unwrap();
        let (_, detail) = get(&app, &format!("{BASE}/{id}")).await;
        let mut item = item.clone();
        let distance = item.as_object_mut().unwrap().remove("distance_km").unwrap();
        assert!(distance.as_f64().unwrap() >= 0.0);
        assert_eq!(
            item, detail,
            "the nearby item of {id} is its detail plus a distance"
        );
    }
    assert_eq!(items[0]["hours"].as_array().unwrap().len(), 3);
    let days: Vec<i64> = items[0]["hours"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["day_of_week"].as_i64().unwrap())
        .collect();
    assert_eq!(days, [1, 3, 7], "hours in weekday order");
    assert_eq!(items[1]["hours"], json!([]));
}

#[tokio::test]
async fn a_search_next_to_a_pole_answers_in_distance_order() {
    // PostGIS's geography KNN scan can fail here ("index returned tuples in wrong order");
    // the adapter then orders by the computed distance. Found by schemathesis.
    let (app, admin) = app_with_admin().await;
    let at_pole = create(&app, &admin, create_body("South pole", -90.0, 0.0)).await;
    let near = create(&app, &admin, create_body("Near the pole", -89.9, 45.0)).await;
    create(&app, &admin, create_body("Far away", -89.0, 10.0)).await;

    let (status, page) = get(
        &app,
        &format!("{BASE}/search/nearby?latitude=-89.99999999999999&longitude=0&radius_km=50"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let ids: Vec<&str> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            at_pole["id"].as_str().unwrap(),
            near["id"].as_str().unwrap()
        ],
        "{page}"
    );
    let distances: Vec<f64> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["distance_km"].as_f64().unwrap())
        .collect();
    assert!(distances[0] < 0.001 && distances[1] > 10.0, "{distances:?}");
}

// ---------------------------------------------------------------------------------------------
// Open now
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_open_now_filter_keeps_only_pharmacies_open_now() {
    let (app, admin) = app_with_admin().await;
    let mut always = create_body("Always open", MUMBAI.0, MUMBAI.1);
    always["hours"] = json!(
        (1..=7)
            .map(|d| json!({"day_of_week": d, "open_time": "00:00", "close_time": "00:00"}))
            .collect::<Vec<_>>()
    );
    always["timezone"] = json!("America/New_York");
    let always = create(&app, &admin, always).await;
    let mut never = create_body("No hours", MUMBAI.0, MUMBAI.1 + 0.001);
    never["hours"] = json!([]);
    create(&app, &admin, never).await;
    let mut closed = create_body("Closed every day", MUMBAI.0, MUMBAI.1 + 0.002);
    closed["hours"] = json!((1..=7).map(|d| json!({"day_of_week": d, "open_time": "00:00", "close_time": "00:00", "is_closed": true})).collect::<Vec<_>>());
    create(&app, &admin, closed).await;

    for path in [
        format!("{BASE}?open_now=true"),
        format!(
            "{BASE}/search/nearby?latitude={}&longitude={}&open_now=1",
            MUMBAI.0, MUMBAI.1
        ),
    ] {
        let (status, body) = get(&app, &path).await;
        assert_eq!(status, StatusCode::OK);
        let ids: Vec<&Value> = body.as_array().unwrap().iter().map(|i| &i["id"]).collect();
        assert_eq!(ids, vec![&always["id"]], "{path}");
    }
    let (_, all) = get(&app, &format!("{BASE}?open_now=false")).await;
    assert_eq!(
        all.as_array().unwrap().len(),
        3,
        "open_now=false filters nothing"
    );
}

/// The pharmacies of the open-now grid: every zone × a random week of hours.
fn grid_pharmacies(rng: &mut StdRng) -> Vec<NewPharmacy> {
    let zones = [
        Tz::Asia__Kolkata,
        Tz::America__New_York,
        Tz::UTC,
        Tz::Australia__Lord_Howe,
    ];
    let quarter = |rng: &mut StdRng| {
        NaiveTime::from_hms_opt(rng.random_range(0..24), rng.random_range(0..4) * 15, 0).unwrap()
    };
    let mut list = Vec::new();
    for (index, zone) in zones.iter().cycle().take(48).enumerate() {
        let mut hours = Vec::new();
        for day in 1..=7 {
            let open = quarter(rng);
            let pattern = rng.random_range(0..10);
            let (close, is_closed) = match pattern {
                0..=2 => continue,          // no row: closed
                3 => (quarter(rng), true),  // explicitly closed
                4 => (open, false),         // all day
                _ => (quarter(rng), false), // daytime or past midnight
            };
            hours.push(HoursInput {
                day_of_week: DayOfWeek::new(day).unwrap(),
                open_time: open,
                close_time: close,
                is_closed,
            });
        }
        list.push(NewPharmacy {
            name: format!("Grid {index}"),
            description: None,
            phone: None,
            email: None,
            supports_delivery: false,
            supports_pickup: true,
            timezone: *zone,
            location: NewLocation {
                address_line: "Grid".to_owned(),
                city: "Grid".to_owned(),
                state: None,
                country: "India".to_owned(),
                pincode: None,
                coordinates: Coordinates::new(10.0, 10.0).unwrap(),
            },
            hours: WeekHours::new(hours).unwrap(),
        });
    }
    list
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test]
async fn the_sql_open_now_rule_agrees_with_the_rust_rule_on_a_grid_of_instants() {
    let db = TestDb::new().await;
    let database = db.pool(2);
    let repo = PgPharmacyRepository::new(database);
    let stamp = AuditStamp::admin_secret("grid", None);
    let mut rng = StdRng::seed_from_u64(20_260_308);
    let mut stored = Vec::new();
    for new in grid_pharmacies(&mut rng) {
        let created = repo
            .create(PharmacyId::new_v7(), &new, &stamp, Utc::now())
            .await
            .unwrap();
        stored.push((created, new.timezone));
    }

    // Every 20 minutes across the New York (and Lord Howe) DST changes of March and November
    // 2026 and a Kolkata week boundary, plus random instants and every opening and closing
    // boundary (±1 s) of the stored hours on the DST Sunday.
    let mut instants: BTreeSet<DateTime<Utc>> = BTreeSet::new();
    for (start, hours) in [
        ("2026-03-06T00:00:00Z", 96),
        ("2026-10-31T12:00:00Z", 48),
        ("2026-04-04T00:00:00Z", 48),
    ] {
        let start = utc(start);
        for step in 0..(hours * 3) {
            instants.insert(start + chrono::Duration::minutes(20 * step));
        }
    }
    for _ in 0..60 {
        instants.insert(
            Utc.timestamp_opt(rng.random_range(1_767_225_600..1_798_761_600_i64), 0)
                .unwrap(),
        );
    }
    for (pharmacy, zone) in &stored {
        for h in &pharmacy.hours {
            for time in [h.open_time, h.close_time] {
                // The boundary on the Sunday of the March DST change, and on its weekday.
                let date =
                    chrono::NaiveDate::from_ymd_opt(2026, 3, 1 + u32::from(h.day_of_week.get()))
                        .unwrap();
                if let Some(local) = zone.from_local_datetime(&date.and_time(time)).earliest() {
                    let at = local.with_timezone(&Utc);
                    for delta in [-1, 0, 1] {
                        instants.insert(at + chrono::Duration::seconds(delta));
                    }
                }
            }
        }
    }

    let filter = PharmacyFilter {
        open_now: true,
        ..PharmacyFilter::default()
    };
    let window = Window::new(0, 100).unwrap();
    let mut open_somewhere = 0;
    for instant in &instants {
        let sql: BTreeSet<PharmacyId> = repo
            .list(&filter, window, *instant)
            .await
            .unwrap()
            .into_iter()
            .map(|item| item.pharmacy.id)
            .collect();
        let rust: BTreeSet<PharmacyId> = stored
            .iter()
            .filter(|(p, zone)| is_open_now(&p.hours, *zone, *instant))
            .map(|(p, _)| p.id)
            .collect();
        if sql != rust {
            let differing: Vec<String> = sql
                .symmetric_difference(&rust)
                .map(|id| {
                    let (p, zone) = stored.iter().find(|(p, _)| p.id == *id).unwrap();
                    format!(
                        "{} in {zone} (local {}): sql={} rust={} hours={:?}",
                        p.name,
                        instant.with_timezone(zone),
                        sql.contains(id),
                        rust.contains(id),
                        p.hours
                            .iter()
                            .map(|h| (
                                h.day_of_week.get(),
                                h.open_time.to_string(),
                                h.close_time.to_string(),
                                h.is_closed
                            ))
                            .collect::<Vec<_>>()
                    )
                })
                .collect();
            panic!(
                "SQL and Rust disagree at {instant}:\n{}",
                differing.join("\n")
            );
        }
        open_somewhere += usize::from(!sql.is_empty());
    }
    assert!(instants.len() > 900, "{} instants", instants.len());
    assert!(
        open_somewhere > instants.len() / 2,
        "the grid sees open pharmacies"
    );
}

// ---------------------------------------------------------------------------------------------
// Repository contract
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_postgres_repository_meets_the_pharmacy_repository_contract() {
    let db = TestDb::new().await;
    let database = db.pool(2);
    let repo = PgPharmacyRepository::new(database);
    // An hour ago, in whole microseconds: the updated_at trigger stamps the real (later) time.
    let now = Utc::now() - chrono::Duration::hours(1);
    let now = DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap();
    contract::pharmacy_repository(&repo, now).await;
    assert_eq!(
        db.count("SELECT count(*) AS n FROM audit_events WHERE resource_type = 'pharmacy'")
            .await,
        11,
        "every successful write was audited once"
    );
}

#[tokio::test]
async fn the_nearby_statement_is_prepared_once_per_connection_and_reused() {
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Prepared {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let db = TestDb::new().await;
    // One connection, so every search and the final check share it.
    let database = db.pool(1);
    let repo = PgPharmacyRepository::new(database.clone());
    let stamp = AuditStamp::admin_secret("prepared", None);
    let mut rng = StdRng::seed_from_u64(7);
    for new in grid_pharmacies(&mut rng).into_iter().take(5) {
        repo.create(PharmacyId::new_v7(), &new, &stamp, Utc::now())
            .await
            .unwrap();
    }
    let search = |lat: f64, lng: f64, verified: Option<bool>| NearbyQuery {
        center: Coordinates::new(lat, lng).unwrap(),
        radius: RadiusKm::new(100.0).unwrap(),
        filter: PharmacyFilter {
            is_verified: verified,
            ..PharmacyFilter::default()
        },
        window: Window::new(0, 20).unwrap(),
    };
    // Different values, same filters: one statement. Another filter set: a second one.
    for (lat, lng) in [(19.07, 72.87), (28.61, 77.2), (40.7, -74.0), (-33.9, 151.2)] {
        repo.nearby(&search(lat, lng, None), Utc::now())
            .await
            .unwrap();
    }
    repo.nearby(&search(19.07, 72.87, Some(true)), Utc::now())
        .await
        .unwrap();

    let mut conn = database.conn().await.unwrap();
    let prepared: Prepared = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_prepared_statements \
         WHERE statement LIKE '%AS knn_m%' AND statement NOT LIKE '%pg_prepared_statements%'",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(prepared.n, 2, "one prepared statement per filter set");
}
