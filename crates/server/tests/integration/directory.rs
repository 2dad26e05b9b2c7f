//! The care directory end to end: clinics with generated slugs and soft deletion,
//! doctors with unique licenses/emails, languages and verification, associations both ways,
//! nearby searches checked against PostGIS, the detail caches (hits, invalidation, Redis down),
//! representations and key order, auth and audit on every write, and 422s instead of 500s.

use diesel::QueryableByName;
use diesel::sql_types::{Float8, Text};
use medico24_directory::is_valid_slug;
use medico24_testkit::{TestApp, spawn_app_with};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{login, login_admin, mount_certs};

const CLINICS: &str = "/api/v1/clinics";
const DOCTORS: &str = "/api/v1/doctors";
/// Mumbai reference point of the demo data.
const MUMBAI: (f64, f64) = (19.0760, 72.8777);

/// An app whose rate limit does not get in the way of tests that send many requests.
async fn app() -> TestApp {
    spawn_app_with(|vars| {
        vars.insert("RATE_LIMIT_PER_MINUTE".to_owned(), "1000000".to_owned());
    })
    .await
}

/// An app and the admin's (user id, access token).
async fn app_with_admin() -> (TestApp, String, String) {
    let app = app().await;
    mount_certs(&app).await;
    let admin = login_admin(&app, "uid-dir-admin", "dir-admin@example.com").await;
    (app, admin.id, admin.access)
}

/// Status, JSON body (Null when empty) and the raw text.
async fn send(
    app: &TestApp,
    method: Method,
    path: impl AsRef<str>,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value, String) {
    let mut request = app.client.request(method, app.url(path.as_ref()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    };
    (status, json, text)
}

async fn get(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let (status, body, _) = send(app, Method::GET, path, None, None).await;
    (status, body)
}

async fn create_clinic(app: &TestApp, admin: &str, body: Value) -> Value {
    let (status, created, _) = send(
        app,
        Method::POST,
        &format!("{CLINICS}/"),
        Some(admin),
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

async fn clinic_at(app: &TestApp, admin: &str, name: &str, lat: f64, lng: f64) -> String {
    let body = json!({"name": name, "address": format!("{name}, Mumbai"), "latitude": lat, "longitude": lng});
    create_clinic(app, admin, body).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn doctor_body(name: &str, license: &str, email: &str) -> Value {
    json!({
        "email": email,
        "full_name": name,
        "license_number": license,
        "specialization": "Cardiology",
    })
}

async fn create_doctor(app: &TestApp, admin: &str, body: Value) -> Value {
    let (status, created, _) = send(
        app,
        Method::POST,
        &format!("{DOCTORS}/"),
        Some(admin),
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

async fn doctor(app: &TestApp, admin: &str, name: &str, license: &str) -> String {
    let email = format!("{}@doctors.example", license.to_lowercase());
    create_doctor(app, admin, doctor_body(name, license, &email)).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn associate(app: &TestApp, admin: &str, clinic: &str, doctor: &str, extra: Value) -> Value {
    let mut body = json!({"doctor_id": doctor});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let (status, created, _) = send(
        app,
        Method::POST,
        &format!("{CLINICS}/{clinic}/doctors"),
        Some(admin),
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

async fn verify(app: &TestApp, admin: &str, doctor: &str) {
    let (status, body, _) = send(
        app,
        Method::POST,
        &format!("{DOCTORS}/{doctor}/verify"),
        Some(admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Asserts that each key first appears in `raw` in the given order.
fn assert_key_order(raw: &str, keys: &[&str]) {
    let mut last = 0;
    for key in keys {
        let at = raw
            .find(&format!("\"{key}\":"))
            .unwrap_or_else(|| panic!("{key} missing in {raw}"));
        assert!(at >= last, "{key} out of order in {raw}");
        last = at;
    }
}

fn ids(items: &Value) -> Vec<String> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

#[derive(QueryableByName)]
struct Metres {
    #[diesel(sql_type = Float8)]
    metres: f64,
}

/// `ST_Distance(geo, point, false)` of the stored clinic `id`, in metres.
async fn postgis_metres(app: &TestApp, clinic: &str, lat: f64, lng: f64) -> f64 {
    use diesel_async::RunQueryDsl;
    let mut conn = app.db.connect().await;
    let row: Metres = diesel::sql_query(
        "SELECT ST_Distance(geo, ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography, false) AS metres \
           FROM clinics WHERE id = $3::uuid",
    )
    .bind::<Float8, _>(lng)
    .bind::<Float8, _>(lat)
    .bind::<Text, _>(clinic)
    .get_result(&mut conn)
    .await
    .unwrap();
    row.metres
}

#[derive(QueryableByName)]
struct Edge {
    #[diesel(sql_type = Float8)]
    metres: f64,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    within: bool,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    within_below: bool,
}

/// A search point near `(lat, lng)` at which the stored clinic lies exactly on a representable
/// radius: `(point, radius_km, a radius_km just below)`.
async fn boundary_point(app: &TestApp, clinic: &str, lat: f64, lng: f64) -> ((f64, f64), f64, f64) {
    use diesel_async::RunQueryDsl;
    let mut conn = app.db.connect().await;
    for step in 0..2000_u32 {
        let point = (lat, lng + f64::from(step) * 1e-7);
        let metres: Metres = diesel::sql_query(
            "SELECT geo <-> ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography AS metres \
               FROM clinics WHERE id = $3::uuid",
        )
        .bind::<Float8, _>(point.1)
        .bind::<Float8, _>(point.0)
        .bind::<Text, _>(clinic)
        .get_result(&mut conn)
        .await
        .unwrap();
        let d = metres.metres;
        let km = d / 1000.0;
        let Some(km) = [km, km.next_up(), km.next_down()]
            .into_iter()
            .find(|k| k * 1000.0 == d)
        else {
            continue;
        };
        let mut below = km.next_down();
        while below * 1000.0 >= d {
            below = below.next_down();
        }
        let edge: Edge = diesel::sql_query(
            "SELECT geo <-> p.pt AS metres, \
                    ST_DWithin(geo, p.pt, $3, false) AS within, \
                    ST_DWithin(geo, p.pt, $4, false) AS within_below \
               FROM clinics, (SELECT ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography AS pt) p \
              WHERE id = $5::uuid",
        )
        .bind::<Float8, _>(point.1)
        .bind::<Float8, _>(point.0)
        .bind::<Float8, _>(km * 1000.0)
        .bind::<Float8, _>(below * 1000.0)
        .bind::<Text, _>(clinic)
        .get_result(&mut conn)
        .await
        .unwrap();
        if edge.metres == d && edge.within && !edge.within_below {
            return (point, km, below);
        }
    }
    panic!("no boundary point found");
}

// ---------------------------------------------------------------------------------------------
// Clinics
// ---------------------------------------------------------------------------------------------

const CLINIC_KEYS: [&str; 17] = [
    "name",
    "slug",
    "description",
    "logo_url",
    "contacts",
    "address",
    "latitude",
    "longitude",
    "opening_hours",
    "id",
    "rating",
    "rating_count",
    "status",
    "is_active",
    "created_at",
    "updated_at",
    "deleted_at",
];

#[tokio::test]
async fn a_clinic_is_created_read_updated_partially_and_listed_in_its_exact_representation() {
    let (app, _, admin) = app_with_admin().await;
    let (status, created, raw) = send(
        &app,
        Method::POST,
        &format!("{CLINICS}/"),
        Some(&admin),
        Some(json!({
            "name": "Sunrise Multispeciality Clinic",
            "description": "Outpatient care",
            "logo_url": "https://cdn.example/logo.png",
            "contacts": {"phone": "+91 22 2400 1000"},
            "address": "10 Link Road, Andheri, Mumbai",
            "latitude": 19.123456789,
            "longitude": 72,
            "opening_hours": {"monday": "09:00-20:00"},
            "status": "inactive",
            "is_active": false,
            "rating": 5,
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_key_order(&raw, &CLINIC_KEYS);
    assert_eq!(created.as_object().unwrap().len(), CLINIC_KEYS.len());
    assert_eq!(created["slug"], "sunrise-multispeciality-clinic");
    assert_eq!(
        created["latitude"],
        json!(19.12345679),
        "stored rounded to 8 decimals"
    );
    assert!(
        raw.contains("\"longitude\":72.0"),
        "numbers are JSON numbers: {raw}"
    );
    assert_eq!(created["status"], "active", "status is ignored on create");
    assert_eq!(created["is_active"], true);
    assert_eq!(created["rating"], Value::Null);
    assert_eq!(created["rating_count"], 0);
    assert_eq!(created["deleted_at"], Value::Null);
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));
    let id = created["id"].as_str().unwrap();

    let (status, by_id) = get(&app, &format!("{CLINICS}/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(by_id, created);
    let (status, by_slug) = get(
        &app,
        &format!("{CLINICS}/slug/sunrise-multispeciality-clinic"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(by_slug, created);

    let (status, updated, _) = send(
        &app,
        Method::PUT,
        &format!("{CLINICS}/{id}"),
        Some(&admin),
        Some(json!({"description": "Now with diagnostics", "name": null, "status": "temporarily_closed"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["description"], "Now with diagnostics");
    assert_eq!(
        updated["name"], "Sunrise Multispeciality Clinic",
        "null = unchanged"
    );
    assert_eq!(updated["status"], "temporarily_closed");
    assert_eq!(updated["latitude"], created["latitude"]);

    let (status, unchanged, _) = send(
        &app,
        Method::PUT,
        &format!("{CLINICS}/{id}"),
        Some(&admin),
        Some(json!({"unknown": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(unchanged, updated, "no recognised member: the clinic as is");

    for path in [
        format!("{CLINICS}/"),
        CLINICS.to_owned(),
        format!("{CLINICS}/search"),
    ] {
        let (status, list) = get(&app, &path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let item = &list.as_array().unwrap()[0];
        assert_eq!(item["id"], created["id"]);
        assert_eq!(item["distance_km"], Value::Null);
        assert_eq!(item.as_object().unwrap().len(), 13);
    }
    let (_, closed) = get(&app, &format!("{CLINICS}/?status=temporarily_closed")).await;
    assert_eq!(closed.as_array().unwrap().len(), 1);
    let (_, open) = get(&app, &format!("{CLINICS}/?status=active")).await;
    assert!(open.as_array().unwrap().is_empty());
}

#[tokio::test]
async fn slugs_are_generated_url_safe_and_unique_and_supplied_ones_are_checked() {
    let (app, _, admin) = app_with_admin().await;
    let body = |slug: Value| json!({"name": "Dr. Rao's Clinic (Bandra)", "address": "Bandra", "slug": slug});
    let first = create_clinic(
        &app,
        &admin,
        json!({"name": "Dr. Rao's Clinic (Bandra)", "address": "Bandra"}),
    )
    .await;
    assert_eq!(first["slug"], "dr-rao-s-clinic-bandra");
    let second = create_clinic(&app, &admin, body(Value::Null)).await;
    assert_eq!(second["slug"], "dr-rao-s-clinic-bandra-2");
    let third = create_clinic(&app, &admin, body(json!(""))).await;
    assert_eq!(third["slug"], "dr-rao-s-clinic-bandra-3");

    // A soft-deleted clinic keeps its slug.
    let (status, _, _) = send(
        &app,
        Method::DELETE,
        &format!("{CLINICS}/{}", third["id"].as_str().unwrap()),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let fourth = create_clinic(&app, &admin, body(Value::Null)).await;
    assert_eq!(fourth["slug"], "dr-rao-s-clinic-bandra-4");
    let unicode = create_clinic(
        &app,
        &admin,
        json!({"name": "ক্লিনিক", "address": "Kolkata"}),
    )
    .await;
    assert_eq!(unicode["slug"], "clinic");

    let (status, taken, _) = send(
        &app,
        Method::POST,
        &format!("{CLINICS}/"),
        Some(&admin),
        Some(body(json!("dr-rao-s-clinic-bandra-3"))),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(taken["error"], "bad_request");
    assert_eq!(
        taken["detail"],
        "Clinic with slug 'dr-rao-s-clinic-bandra-3' already exists"
    );

    for bad in [
        "Bad Slug",
        "-lead",
        "trail-",
        "a--b",
        "UPPER",
        "under_score",
    ] {
        let (status, invalid, _) = send(
            &app,
            Method::POST,
            &format!("{CLINICS}/"),
            Some(&admin),
            Some(body(json!(bad))),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(
            invalid["details"][0]["type"], "string_pattern_mismatch",
            "{bad}"
        );
        assert_eq!(invalid["details"][0]["loc"], json!(["body", "slug"]));
    }
    let (status, _, _) = send(
        &app,
        Method::POST,
        &format!("{CLINICS}/"),
        Some(&admin),
        Some(body(json!("x".repeat(256)))),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Updating to a taken slug (deleted clinics included) is refused; to one's own is fine.
    let own = second["id"].as_str().unwrap();
    let (status, refused, _) = send(
        &app,
        Method::PUT,
        &format!("{CLINICS}/{own}"),
        Some(&admin),
        Some(json!({"slug": "dr-rao-s-clinic-bandra-3"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        refused["detail"],
        "Clinic with slug 'dr-rao-s-clinic-bandra-3' already exists"
    );
    let (status, kept, _) = send(
        &app,
        Method::PUT,
        &format!("{CLINICS}/{own}"),
        Some(&admin),
        Some(json!({"slug": "dr-rao-s-clinic-bandra-2"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{kept}");
}

#[tokio::test]
async fn deleting_a_clinic_hides_it_everywhere_and_a_second_delete_is_404() {
    let (app, _, admin) = app_with_admin().await;
    let id = clinic_at(&app, &admin, "Lotus Health Centre", MUMBAI.0, MUMBAI.1).await;
    let (status, _) = get(&app, &format!("{CLINICS}/{id}")).await;
    assert_eq!(status, StatusCode::OK, "cached before the delete");
    let delete = || {
        send(
            &app,
            Method::DELETE,
            format!("{CLINICS}/{id}"),
            Some(&admin),
            None,
        )
    };
    let (status, body, _) = delete().await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(body, Value::Null);
    let (status, body, _) = delete().await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["detail"], "Clinic not found");
    let (status, body) = get(&app, &format!("{CLINICS}/{id}")).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the cached copy was invalidated"
    );
    assert_eq!(body["detail"], "Clinic not found");
    let (status, _) = get(&app, &format!("{CLINICS}/slug/lotus-health-centre")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = get(&app, &format!("{CLINICS}/")).await;
    assert!(list.as_array().unwrap().is_empty());
    let (_, nearby) = get(
        &app,
        &format!(
            "{CLINICS}/nearby?latitude={}&longitude={}",
            MUMBAI.0, MUMBAI.1
        ),
    )
    .await;
    assert!(nearby.as_array().unwrap().is_empty());
    let (status, _, _) = send(
        &app,
        Method::PUT,
        &format!("{CLINICS}/{id}"),
        Some(&admin),
        Some(json!({"name": "Back"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body, _) = send(
        &app,
        Method::DELETE,
        &format!("{CLINICS}/{}", uuid::Uuid::new_v4()),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["detail"], "Clinic not found");
    assert_eq!(
        app.db
            .count("SELECT count(*) AS n FROM clinics WHERE deleted_at IS NOT NULL")
            .await,
        1,
        "soft deletion keeps the row"
    );
}

#[tokio::test]
async fn nearby_clinics_are_ordered_by_postgis_sphere_distance_within_an_inclusive_radius() {
    let (app, _, admin) = app_with_admin().await;
    let spots = [
        ("Far", 19.1197, 72.8468),
        ("Near", 19.0800, 72.8800),
        ("Middle", 19.0596, 72.8295),
        ("Nearest", 19.0765, 72.8780),
    ];
    let mut created = Vec::new();
    for (name, lat, lng) in spots {
        created.push(clinic_at(&app, &admin, name, lat, lng).await);
    }
    let inactive = clinic_at(&app, &admin, "Inactive", 19.0770, 72.8777).await;
    app.db
        .execute(&format!(
            "UPDATE clinics SET is_active = false WHERE id = '{inactive}'"
        ))
        .await;
    create_clinic(
        &app,
        &admin,
        json!({"name": "Nowhere", "address": "Unknown"}),
    )
    .await;

    let (lat, lng) = MUMBAI;
    let (status, found) = get(
        &app,
        &format!("{CLINICS}/nearby?latitude={lat}&longitude={lng}&radius_km=50"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let items = found.as_array().unwrap();
    assert_eq!(
        items.len(),
        4,
        "inactive and unlocated clinics are left out"
    );
    let mut previous = 0.0;
    for item in items {
        let id = item["id"].as_str().unwrap();
        let km = item["distance_km"].as_f64().unwrap();
        let exact = postgis_metres(&app, id, lat, lng).await;
        assert!(
            (km * 1000.0 - exact).abs() < 1.0,
            "{id}: {km} km vs {exact} m"
        );
        assert!(km >= previous, "ordered by distance");
        previous = km;
    }
    assert_eq!(items[0]["id"].as_str(), Some(created[3].as_str()));
    assert_eq!(items[3]["id"].as_str(), Some(created[0].as_str()));

    let (_, all) = get(
        &app,
        &format!("{CLINICS}/nearby?latitude={lat}&longitude={lng}&radius_km=50&is_active=false"),
    )
    .await;
    assert_eq!(ids(&all), vec![inactive.clone()]);

    // The radius is inclusive. Find a search point (near Mumbai) whose distance to the farthest
    // clinic is an f64 number of metres m with m/1000 exactly representable, and at which the
    // database itself says "within m" but not "within the next smaller float": the API must
    // then keep the clinic at radius m/1000 and drop it just below.
    let far = &created[0];
    let (edge_point, edge_km, below_km) = boundary_point(&app, far, lat, lng).await;
    let nearby = |km: f64| {
        format!(
            "{CLINICS}/nearby?latitude={}&longitude={}&radius_km={km}",
            edge_point.0, edge_point.1
        )
    };
    let (_, edge) = get(&app, &nearby(edge_km)).await;
    assert!(
        ids(&edge).contains(far),
        "radius exactly at the distance keeps it: {edge}"
    );
    let (_, short) = get(&app, &nearby(below_km)).await;
    assert!(!ids(&short).contains(far), "just below drops it: {short}");

    let (_, paged) = get(
        &app,
        &format!("{CLINICS}/nearby?latitude={lat}&longitude={lng}&radius_km=50&skip=1&limit=2"),
    )
    .await;
    assert_eq!(ids(&paged), ids(&found)[1..3].to_vec());
}

#[tokio::test]
async fn clinic_listings_filter_by_rating_and_escape_wildcards_in_name_search() {
    let (app, _, admin) = app_with_admin().await;
    let percent = clinic_at(&app, &admin, "100% Care", MUMBAI.0, MUMBAI.1).await;
    let plain = clinic_at(&app, &admin, "1000 Care", MUMBAI.0, MUMBAI.1).await;
    let underscore = clinic_at(&app, &admin, "A_B Clinic", MUMBAI.0, MUMBAI.1).await;
    clinic_at(&app, &admin, "AXB Clinic", MUMBAI.0, MUMBAI.1).await;
    app.db
        .execute(&format!(
            "UPDATE clinics SET rating = 4.50, rating_count = 10 WHERE id = '{plain}'"
        ))
        .await;
    let (_, found) = get(&app, &format!("{CLINICS}/search?name_search=100%25")).await;
    assert_eq!(ids(&found), vec![percent]);
    let (_, found) = get(&app, &format!("{CLINICS}/?name_search=a_b")).await;
    assert_eq!(ids(&found), vec![underscore]);
    let (_, rated) = get(&app, &format!("{CLINICS}/?min_rating=4.5")).await;
    assert_eq!(ids(&rated), vec![plain]);
    assert_eq!(rated[0]["rating"], json!(4.5));
    let (_, page) = get(&app, &format!("{CLINICS}/?skip=1&limit=2")).await;
    assert_eq!(page.as_array().unwrap().len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Doctors
// ---------------------------------------------------------------------------------------------

const DOCTOR_KEYS: [&str; 24] = [
    "email",
    "full_name",
    "phone",
    "profile_picture_url",
    "license_number",
    "specialization",
    "sub_specialization",
    "qualification",
    "experience_years",
    "consultation_fee",
    "consultation_duration_minutes",
    "bio",
    "languages_spoken",
    "medical_council_registration",
    "id",
    "is_verified",
    "verification_documents",
    "verified_at",
    "verified_by",
    "rating",
    "rating_count",
    "total_patients_treated",
    "created_at",
    "updated_at",
];

#[tokio::test]
async fn a_doctor_is_created_unverified_with_defaults_and_duplicates_are_400() {
    let (app, _, admin) = app_with_admin().await;
    let mut body = doctor_body("Asha Rao", "MMC-2020-000123", "asha.rao@doctors.example");
    body["phone"] = json!("+91 98200 12345");
    body["consultation_fee"] = json!(500);
    body["languages_spoken"] = json!(["English", "Marathi"]);
    let (status, created, raw) = send(
        &app,
        Method::POST,
        &format!("{DOCTORS}/"),
        Some(&admin),
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_key_order(&raw, &DOCTOR_KEYS);
    assert_eq!(created.as_object().unwrap().len(), DOCTOR_KEYS.len());
    assert_eq!(created["is_verified"], false);
    assert_eq!(
        created["consultation_duration_minutes"], 30,
        "the default applies"
    );
    assert!(raw.contains("\"consultation_fee\":500.0"), "{raw}");
    assert_eq!(created["languages_spoken"], json!(["English", "Marathi"]));
    assert_eq!(created["total_patients_treated"], 0);
    assert_eq!(created["verified_by"], Value::Null);

    let duplicate = |license: &str, email: &str| {
        send(
            &app,
            Method::POST,
            format!("{DOCTORS}/"),
            Some(&admin),
            Some(doctor_body("Other", license, email)),
        )
    };
    let (status, body, _) = duplicate("MMC-2020-000123", "other@doctors.example").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["detail"],
        "Doctor with license number 'MMC-2020-000123' already exists"
    );
    let (status, body, _) = duplicate("MMC-2020-999999", "asha.rao@doctors.example").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["detail"],
        "Doctor with email 'asha.rao@doctors.example' already exists"
    );
    assert_eq!(app.db.count("SELECT count(*) AS n FROM doctors").await, 1);
}

#[tokio::test]
async fn doctor_bodies_are_validated_field_by_field() {
    let (app, _, admin) = app_with_admin().await;
    let (status, body, _) = send(
        &app,
        Method::POST,
        &format!("{DOCTORS}/"),
        Some(&admin),
        Some(json!({
            "email": "not-an-email",
            "full_name": "",
            "phone": "12ab",
            "license_number": 7,
            "experience_years": 81,
            "consultation_fee": 10.005,
            "consultation_duration_minutes": 10,
            "languages_spoken": ["English", ""],
        })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let found: Vec<(Value, Value)> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["loc"].clone(), d["type"].clone()))
        .collect();
    for (loc, kind) in [
        (json!(["body", "email"]), "value_error"),
        (json!(["body", "full_name"]), "string_too_short"),
        (json!(["body", "phone"]), "value_error"),
        (json!(["body", "license_number"]), "string_type"),
        (json!(["body", "specialization"]), "missing"),
        (json!(["body", "experience_years"]), "less_than_equal"),
        (json!(["body", "consultation_fee"]), "decimal_max_places"),
        (
            json!(["body", "consultation_duration_minutes"]),
            "greater_than_equal",
        ),
        (json!(["body", "languages_spoken", 1]), "string_too_short"),
    ] {
        assert!(
            found.contains(&(loc.clone(), json!(kind))),
            "{loc} {kind} in {body}"
        );
    }
}

#[tokio::test]
async fn the_languages_filter_matches_any_repeated_value_case_sensitively() {
    let (app, _, admin) = app_with_admin().await;
    let speakers = [
        ("Tamil speaker", "L-1", json!(["English", "Tamil"])),
        ("Marathi speaker", "L-2", json!(["Hindi", "Marathi"])),
        ("Hindi speaker", "L-3", json!(["Hindi"])),
        ("No languages", "L-4", Value::Null),
    ];
    let mut created = Vec::new();
    for (name, license, languages) in speakers {
        let mut body = doctor_body(name, license, &format!("{license}@example.com"));
        body["languages_spoken"] = languages;
        created.push(
            create_doctor(&app, &admin, body).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let names = |list: &Value| {
        let mut names: Vec<String> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["full_name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    let (status, both) = get(
        &app,
        &format!("{DOCTORS}/?languages=Tamil&languages=Marathi"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{both}");
    assert_eq!(names(&both), ["Marathi speaker", "Tamil speaker"]);
    let (_, hindi) = get(&app, &format!("{DOCTORS}?languages=Hindi")).await;
    assert_eq!(names(&hindi), ["Hindi speaker", "Marathi speaker"]);
    let (_, lower) = get(&app, &format!("{DOCTORS}/?languages=hindi")).await;
    assert!(lower.as_array().unwrap().is_empty(), "case-sensitive");
    let (_, quoted) = get(&app, &format!("{DOCTORS}/?languages=%22%5D")).await;
    assert!(
        quoted.as_array().unwrap().is_empty(),
        "values are data, not JSON"
    );
    let (_, search) = get(&app, &format!("{DOCTORS}/search?languages=Tamil")).await;
    assert_eq!(
        search.as_array().unwrap().len(),
        4,
        "search ignores languages"
    );
}

#[tokio::test]
async fn doctor_listings_order_by_rating_then_experience_and_escape_wildcards() {
    let (app, _, admin) = app_with_admin().await;
    let mut ids_by_name = Vec::new();
    for (name, license, specialization, years) in [
        ("Low", "S-1", "100% Cardiology", 5),
        ("High", "S-2", "1000 Cardiology", 10),
        ("Unrated", "S-3", "Cardio_logy", 30),
        ("Mid", "S-4", "CardioXlogy", 1),
    ] {
        let mut body = doctor_body(name, license, &format!("{license}@example.com"));
        body["specialization"] = json!(specialization);
        body["experience_years"] = json!(years);
        let created = create_doctor(&app, &admin, body).await;
        ids_by_name.push((name, created["id"].as_str().unwrap().to_owned()));
    }
    app.db
        .execute(
            "UPDATE doctors SET rating = 4.90 WHERE full_name = 'High'; \
             UPDATE doctors SET rating = 3.10 WHERE full_name = 'Low'; \
             UPDATE doctors SET rating = 4.00 WHERE full_name = 'Mid';",
        )
        .await;
    let (_, all) = get(&app, &format!("{DOCTORS}/")).await;
    let order: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["full_name"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["High", "Mid", "Low", "Unrated"]);
    assert_eq!(all[0]["rating"], json!(4.9));
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .all(|d| d["distance_km"].is_null()
                && d["clinic_id"].is_null()
                && d["clinic_name"].is_null())
    );

    let (_, percent) = get(&app, &format!("{DOCTORS}/search?specialization=100%25")).await;
    assert_eq!(percent.as_array().unwrap().len(), 1);
    assert_eq!(percent[0]["full_name"], "Low");
    let (_, underscore) = get(&app, &format!("{DOCTORS}/?specialization=o_l")).await;
    assert_eq!(underscore.as_array().unwrap().len(), 1);
    assert_eq!(underscore[0]["full_name"], "Unrated");
    let (_, experienced) = get(
        &app,
        &format!("{DOCTORS}/?min_experience=5&max_experience=10"),
    )
    .await;
    assert_eq!(experienced.as_array().unwrap().len(), 2);
    let (_, search) = get(&app, &format!("{DOCTORS}/search?max_experience=1")).await;
    assert_eq!(
        search.as_array().unwrap().len(),
        4,
        "search ignores max_experience"
    );
    let (_, rated) = get(&app, &format!("{DOCTORS}/?min_rating=4")).await;
    assert_eq!(rated.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn verification_records_the_calling_admin_and_unverify_clears_it() {
    let (app, admin_id, admin) = app_with_admin().await;
    let id = doctor(&app, &admin, "Vikram Iyer", "V-1").await;
    let (status, verified, _) = send(
        &app,
        Method::POST,
        &format!("{DOCTORS}/{id}/verify?verified_by={}", uuid::Uuid::new_v4()),
        Some(&admin),
        Some(json!({"verification_documents": {"license": "scan.pdf"}, "notes": "ok"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{verified}");
    assert_eq!(verified["is_verified"], true);
    assert_eq!(
        verified["verified_by"],
        json!(admin_id),
        "the caller, not the query"
    );
    assert!(verified["verified_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        verified["verification_documents"],
        json!({"license": "scan.pdf"})
    );

    let (status, again, _) = send(
        &app,
        Method::POST,
        &format!("{DOCTORS}/{id}/verify"),
        Some(&admin),
        Some(json!({"verification_documents": {}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        again["verification_documents"],
        json!({"license": "scan.pdf"}),
        "an empty object does not replace the documents"
    );

    let (status, unverified, _) = send(
        &app,
        Method::POST,
        &format!("{DOCTORS}/{id}/unverify"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(unverified["is_verified"], false);
    assert_eq!(unverified["verified_by"], Value::Null);
    assert_eq!(unverified["verified_at"], Value::Null);
    assert_eq!(
        unverified["verification_documents"],
        json!({"license": "scan.pdf"})
    );

    for action in ["verify", "unverify"] {
        let (status, body, _) = send(
            &app,
            Method::POST,
            &format!("{DOCTORS}/{}/{action}", uuid::Uuid::new_v4()),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["detail"], "Doctor not found");
    }
    assert_eq!(
        app.db
            .count(&format!(
                "SELECT count(*) AS n FROM audit_events WHERE resource_type = 'doctor' \
                 AND resource_id = '{id}' AND actor_user_id = '{admin_id}'"
            ))
            .await,
        4,
        "create, verify twice, unverify"
    );
}

#[tokio::test]
async fn the_doctor_detail_reports_total_consultations_and_its_current_clinics() {
    let (app, _, admin) = app_with_admin().await;
    let id = doctor(&app, &admin, "Meera Nair", "M-1").await;
    app.db
        .execute(&format!(
            "UPDATE doctors SET total_consultations = 42 WHERE id = '{id}'"
        ))
        .await;
    let zeta = clinic_at(&app, &admin, "Zeta Clinic", 19.08, 72.88).await;
    let alpha = clinic_at(&app, &admin, "Alpha Clinic", 19.07, 72.87).await;
    let beta = clinic_at(&app, &admin, "Beta Clinic", 19.06, 72.86).await;
    let deleted = clinic_at(&app, &admin, "Deleted Clinic", 19.05, 72.85).await;
    associate(
        &app,
        &admin,
        &zeta,
        &id,
        json!({"is_primary": true, "consultation_fee": 800.5}),
    )
    .await;
    associate(&app, &admin, &alpha, &id, json!({})).await;
    let ended = associate(&app, &admin, &beta, &id, json!({})).await;
    associate(&app, &admin, &deleted, &id, json!({})).await;
    let (status, _, _) = send(
        &app,
        Method::POST,
        &format!(
            "{CLINICS}/doctor-associations/{}/end",
            ended["id"].as_str().unwrap()
        ),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = send(
        &app,
        Method::DELETE,
        &format!("{CLINICS}/{deleted}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, detail, raw) =
        send(&app, Method::GET, &format!("{DOCTORS}/{id}"), None, None).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    let mut keys = DOCTOR_KEYS.to_vec();
    keys.push("clinics");
    assert_key_order(&raw, &keys);
    assert_eq!(detail["total_patients_treated"], 42);
    let clinics = detail["clinics"].as_array().unwrap();
    let names: Vec<&str> = clinics
        .iter()
        .map(|c| c["clinic_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Zeta Clinic", "Alpha Clinic"],
        "primary first, then by name"
    );
    let first = &clinics[0];
    assert_eq!(first.as_object().unwrap().len(), 24);
    assert_eq!(first["consultation_fee"], json!(800.5));
    assert_eq!(first["clinic_id"], json!(zeta));
    assert_eq!(first["latitude"], json!(19.08));
    assert!(first["start_date"].as_str().unwrap().ends_with('Z'));
    let (status, body) = get(&app, &format!("{DOCTORS}/{}", uuid::Uuid::new_v4())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["detail"], "Doctor not found");
}

#[tokio::test]
async fn doctor_updates_are_partial_and_ignore_contact_fields() {
    let (app, _, admin) = app_with_admin().await;
    let id = doctor(&app, &admin, "Rohan Deshmukh", "R-1").await;
    let (status, updated, _) = send(
        &app,
        Method::PUT,
        &format!("{DOCTORS}/{id}"),
        Some(&admin),
        Some(json!({
            "bio": "Interventional cardiologist",
            "consultation_fee": 1200.25,
            "email": "changed@example.com",
            "license_number": "CHANGED",
            "specialization": null,
        })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["bio"], "Interventional cardiologist");
    assert_eq!(updated["consultation_fee"], json!(1200.25));
    assert_eq!(updated["email"], "r-1@doctors.example");
    assert_eq!(updated["license_number"], "R-1");
    assert_eq!(updated["specialization"], "Cardiology");
    let (status, same, _) = send(
        &app,
        Method::PUT,
        &format!("{DOCTORS}/{id}"),
        Some(&admin),
        Some(json!({"full_name": "ignored"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(same, updated);
    let (status, body, _) = send(
        &app,
        Method::PUT,
        &format!("{DOCTORS}/{}", uuid::Uuid::new_v4()),
        Some(&admin),
        Some(json!({"bio": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["detail"], "Doctor not found");
}

#[tokio::test]
async fn nearby_doctors_come_once_per_clinic_ordered_by_postgis_distance() {
    let (app, _, admin) = app_with_admin().await;
    let (lat, lng) = MUMBAI;
    let near = clinic_at(&app, &admin, "Near", 19.0800, 72.8800).await;
    let middle = clinic_at(&app, &admin, "Middle", 19.0596, 72.8295).await;
    let far = clinic_at(&app, &admin, "Far", 19.1197, 72.8468).await;
    let outside = clinic_at(&app, &admin, "Outside", 19.3000, 72.8777).await;
    let inactive = clinic_at(&app, &admin, "Inactive", 19.0770, 72.8777).await;
    app.db
        .execute(&format!(
            "UPDATE clinics SET is_active = false WHERE id = '{inactive}'"
        ))
        .await;

    let both = doctor(&app, &admin, "Two clinics", "N-1").await;
    let middle_only = doctor(&app, &admin, "Middle only", "N-2").await;
    let unverified = doctor(&app, &admin, "Unverified", "N-3").await;
    let no_booking = doctor(&app, &admin, "No booking", "N-4").await;
    let ended = doctor(&app, &admin, "Ended", "N-5").await;
    for id in [&both, &middle_only, &no_booking, &ended] {
        verify(&app, &admin, id).await;
    }
    associate(&app, &admin, &near, &both, json!({})).await;
    associate(&app, &admin, &far, &both, json!({})).await;
    associate(&app, &admin, &outside, &both, json!({})).await;
    associate(&app, &admin, &inactive, &both, json!({})).await;
    associate(&app, &admin, &middle, &middle_only, json!({})).await;
    associate(&app, &admin, &near, &unverified, json!({})).await;
    associate(
        &app,
        &admin,
        &near,
        &no_booking,
        json!({"appointment_booking_enabled": false}),
    )
    .await;
    let gone = associate(&app, &admin, &near, &ended, json!({})).await;
    let (status, _, _) = send(
        &app,
        Method::POST,
        &format!(
            "{CLINICS}/doctor-associations/{}/end",
            gone["id"].as_str().unwrap()
        ),
        Some(&admin),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let search = |extra: &str| {
        format!("{DOCTORS}/nearby?latitude={lat}&longitude={lng}&radius_km=10{extra}")
    };
    let (status, found) = get(&app, &search("")).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let pairs: Vec<(String, String)> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["id"].as_str().unwrap().to_owned(),
                d["clinic_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        vec![
            (both.clone(), near.clone()),
            (middle_only.clone(), middle.clone()),
            (both.clone(), far.clone()),
        ]
    );
    let mut previous = 0.0;
    for item in found.as_array().unwrap() {
        let km = item["distance_km"].as_f64().unwrap();
        let exact = postgis_metres(&app, item["clinic_id"].as_str().unwrap(), lat, lng).await;
        assert!((km * 1000.0 - exact).abs() < 1.0, "{km} km vs {exact} m");
        assert!(km >= previous);
        previous = km;
        assert!(item["clinic_name"].is_string());
        assert_eq!(item.as_object().unwrap().len(), 16);
    }
    let (_, any) = get(&app, &search("&is_verified=false")).await;
    let doctors: Vec<&str> = any
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(doctors.len(), 4);
    assert!(doctors.contains(&unverified.as_str()));
    let (_, cardiology) = get(&app, &search("&specialization=cardio")).await;
    assert_eq!(cardiology.as_array().unwrap().len(), 3);
    let (_, none) = get(&app, &search("&specialization=derma")).await;
    assert!(none.as_array().unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Associations
// ---------------------------------------------------------------------------------------------

const ASSOCIATION_KEYS: [&str; 20] = [
    "is_primary",
    "consultation_fee",
    "consultation_duration_minutes",
    "department",
    "designation",
    "available_days",
    "available_time_slots",
    "appointment_booking_enabled",
    "id",
    "doctor_id",
    "clinic_id",
    "start_date",
    "end_date",
    "total_appointments",
    "completed_appointments",
    "rating_at_clinic",
    "rating_count_at_clinic",
    "status",
    "created_at",
    "updated_at",
];

#[tokio::test]
async fn associations_are_created_once_per_open_pair_with_specific_errors() {
    let (app, _, admin) = app_with_admin().await;
    let clinic = clinic_at(&app, &admin, "Harmony Family Clinic", 19.05, 72.83).await;
    let doc = doctor(&app, &admin, "Priya Patel", "P-1").await;
    let path = format!("{CLINICS}/{clinic}/doctors");
    let post = |path: String, body: Value| send(&app, Method::POST, path, Some(&admin), Some(body));

    let (status, body, _) = post(
        path.clone(),
        json!({"doctor_id": doc, "clinic_id": uuid::Uuid::new_v4()}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["detail"],
        "Clinic ID in URL does not match request body"
    );
    let (status, body, _) = post(
        format!("{CLINICS}/{}/doctors", uuid::Uuid::new_v4()),
        json!({"doctor_id": doc}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["detail"], "Clinic not found");
    let (status, body, _) = post(path.clone(), json!({"doctor_id": uuid::Uuid::new_v4()})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["detail"], "Doctor not found");

    let (status, created, raw) = post(
        path.clone(),
        json!({
            "doctor_id": doc,
            "clinic_id": clinic,
            "is_primary": true,
            "consultation_fee": 650,
            "consultation_duration_minutes": 20,
            "department": "Outpatient",
            "available_days": ["Monday", "Friday"],
            "available_time_slots": [{"start": "10:00", "end": "13:00"}],
        }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_key_order(&raw, &ASSOCIATION_KEYS);
    assert_eq!(created.as_object().unwrap().len(), ASSOCIATION_KEYS.len());
    assert!(raw.contains("\"consultation_fee\":650.0"), "{raw}");
    assert_eq!(created["status"], "active");
    assert_eq!(created["end_date"], Value::Null);
    assert_eq!(created["appointment_booking_enabled"], true);
    assert_eq!(created["available_days"], json!(["Monday", "Friday"]));
    assert_eq!(created["rating_at_clinic"], Value::Null);

    let (status, body, _) = post(path.clone(), json!({"doctor_id": doc})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["detail"],
        "Doctor is already associated with this clinic"
    );

    // A deleted clinic takes no associations.
    let other = doctor(&app, &admin, "Arjun Shaikh", "P-2").await;
    let (status, _, _) = send(
        &app,
        Method::DELETE,
        &format!("{CLINICS}/{clinic}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body, _) = post(path.clone(), json!({"doctor_id": other})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["detail"], "Clinic not found");
    assert_eq!(
        app.db
            .count("SELECT count(*) AS n FROM audit_events WHERE action = 'doctor_clinic.create'")
            .await,
        1
    );
}

#[tokio::test]
async fn associations_are_listed_both_ways_updated_ended_and_removed() {
    let (app, _, admin) = app_with_admin().await;
    let clinic = clinic_at(&app, &admin, "Arogya Polyclinic", 19.07, 72.88).await;
    let second = clinic_at(&app, &admin, "Beta Polyclinic", 19.08, 72.89).await;
    let zara = doctor(&app, &admin, "Zara Khan", "Z-1").await;
    let anil = doctor(&app, &admin, "Anil Kapoor", "A-1").await;
    let primary = associate(&app, &admin, &clinic, &zara, json!({"is_primary": true})).await;
    let other = associate(&app, &admin, &clinic, &anil, json!({})).await;
    associate(
        &app,
        &admin,
        &second,
        &anil,
        json!({"consultation_fee": 300}),
    )
    .await;

    let (status, doctors) = get(&app, &format!("{CLINICS}/{clinic}/doctors")).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = doctors
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["doctor_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Zara Khan", "Anil Kapoor"], "primary first");
    assert_eq!(doctors[0].as_object().unwrap().len(), 15);
    assert_eq!(doctors[0]["license_number"], "Z-1");
    let (_, clinics) = get(&app, &format!("{CLINICS}/doctors/{anil}/clinics")).await;
    let names: Vec<&str> = clinics
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["clinic_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Arogya Polyclinic", "Beta Polyclinic"]);
    assert_eq!(clinics[1]["consultation_fee"], json!(300.0));
    assert_eq!(clinics[0].as_object().unwrap().len(), 11);
    assert_eq!(clinics[0]["clinic_latitude"], json!(19.07));

    // Update: partial; an empty body object returns the association unchanged.
    let other_id = other["id"].as_str().unwrap();
    let update = |body: Value| {
        send(
            &app,
            Method::PUT,
            format!("{CLINICS}/doctor-associations/{other_id}"),
            Some(&admin),
            Some(body),
        )
    };
    let (status, same, _) = update(json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(same, other);
    let (status, updated, _) =
        update(json!({"status": "on_leave", "designation": "Consultant"})).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["status"], "on_leave");
    assert_eq!(updated["designation"], "Consultant");
    // Every status of the enumeration can be stored, the longest included (the reference
    // column was varchar(20), too short for `temporarily_unavailable`).
    for status_name in ["temporarily_unavailable", "inactive", "active", "on_leave"] {
        let (status, updated, _) = update(json!({"status": status_name})).await;
        assert_eq!(status, StatusCode::OK, "{status_name}: {updated}");
        assert_eq!(updated["status"], status_name);
    }
    let (_, active) = get(&app, &format!("{CLINICS}/{clinic}/doctors")).await;
    assert_eq!(
        active.as_array().unwrap().len(),
        1,
        "active_only defaults to true"
    );
    let (_, all) = get(
        &app,
        &format!("{CLINICS}/{clinic}/doctors?active_only=false"),
    )
    .await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    let (status, body, _) = send(
        &app,
        Method::PUT,
        &format!("{CLINICS}/doctor-associations/{}", uuid::Uuid::new_v4()),
        Some(&admin),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["detail"], "Doctor-clinic association not found");

    // End: before the start is 422; a Unix timestamp is accepted; ending again overwrites.
    let primary_id = primary["id"].as_str().unwrap();
    let end = |body: Option<Value>| {
        send(
            &app,
            Method::POST,
            format!("{CLINICS}/doctor-associations/{primary_id}/end"),
            Some(&admin),
            body,
        )
    };
    let (status, body, _) = end(Some(json!({"end_date": "2000-01-01T00:00:00Z"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["details"][0]["loc"], json!(["body", "end_date"]));
    let future = chrono::Utc::now().timestamp() + 86_400;
    let (status, ended, _) = end(Some(json!({"end_date": future}))).await;
    assert_eq!(status, StatusCode::OK, "{ended}");
    assert_eq!(ended["status"], "inactive");
    let expected = chrono::DateTime::from_timestamp(future, 0).unwrap();
    assert_eq!(
        ended["end_date"],
        json!(expected.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    );
    let (status, again, _) = end(None).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(
        again["end_date"], ended["end_date"],
        "ending again overwrites"
    );
    let (status, body, _) = send(
        &app,
        Method::POST,
        &format!("{CLINICS}/doctor-associations/{}/end", uuid::Uuid::new_v4()),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["detail"], "Doctor-clinic association not found");

    // Remove the pair: ends the open association; then there is none.
    let remove = || {
        send(
            &app,
            Method::DELETE,
            format!("{CLINICS}/{second}/doctors/{anil}"),
            Some(&admin),
            None,
        )
    };
    let (status, _, _) = remove().await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body, _) = remove().await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body["detail"],
        "No active association found for this doctor and clinic"
    );
    let (_, left) = get(
        &app,
        &format!("{CLINICS}/doctors/{anil}/clinics?active_only=false"),
    )
    .await;
    let second_row = left
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["clinic_id"] == json!(second))
        .unwrap();
    assert_eq!(second_row["status"], "inactive");

    // Deleted clinics disappear from both listings; unknown ids list nothing.
    let (status, _, _) = send(
        &app,
        Method::DELETE,
        &format!("{CLINICS}/{clinic}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, gone) = get(
        &app,
        &format!("{CLINICS}/{clinic}/doctors?active_only=false"),
    )
    .await;
    assert!(gone.as_array().unwrap().is_empty());
    let (_, gone) = get(
        &app,
        &format!("{CLINICS}/doctors/{anil}/clinics?active_only=0"),
    )
    .await;
    assert_eq!(
        gone.as_array().unwrap().len(),
        1,
        "only the live clinic remains"
    );
    let (status, unknown) = get(
        &app,
        &format!("{CLINICS}/doctors/{}/clinics", uuid::Uuid::new_v4()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(unknown.as_array().unwrap().is_empty());

    let actions = app
        .db
        .count(
            "SELECT count(DISTINCT action) AS n FROM audit_events \
             WHERE action IN ('doctor_clinic.create', 'doctor_clinic.update', 'doctor_clinic.end', \
                              'doctor_clinic.remove', 'clinic.delete')",
        )
        .await;
    assert_eq!(actions, 5);
}

// ---------------------------------------------------------------------------------------------
// Caches
// ---------------------------------------------------------------------------------------------

async fn redis_get(app: &TestApp, key: &str) -> Option<String> {
    use redis::AsyncCommands;
    let mut conn = app.redis.connection().await;
    conn.get(format!("{}{key}", app.redis.prefix()))
        .await
        .unwrap()
}

async fn redis_ttl(app: &TestApp, key: &str) -> i64 {
    use redis::AsyncCommands;
    let mut conn = app.redis.connection().await;
    conn.ttl(format!("{}{key}", app.redis.prefix()))
        .await
        .unwrap()
}

async fn redis_set(app: &TestApp, key: &str, value: &str) {
    use redis::AsyncCommands;
    let mut conn = app.redis.connection().await;
    let () = conn
        .set(format!("{}{key}", app.redis.prefix()), value)
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unreadable_cached_value_is_a_miss_and_is_replaced() {
    let (app, _, admin) = app_with_admin().await;
    let clinic = clinic_at(&app, &admin, "Shanti Medical Centre", 19.1, 72.9).await;
    let doc = doctor(&app, &admin, "Neha Desai", "ND-1").await;
    redis_set(&app, &format!("v2:clinic:{clinic}"), "{not json").await;
    redis_set(&app, &format!("v2:doctor:{doc}"), "[]").await;
    let (status, body) = get(&app, &format!("{CLINICS}/{clinic}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["name"], "Shanti Medical Centre");
    let (status, body) = get(&app, &format!("{DOCTORS}/{doc}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["full_name"], "Neha Desai");
    let cached: Value = serde_json::from_str(
        &redis_get(&app, &format!("v2:clinic:{clinic}"))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(cached["id"], json!(clinic), "the read wrote a fresh copy");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("medico24_cache_requests_total{cache=\"doctor\",result=\"error\"} 1"));
}

#[tokio::test]
async fn clinic_and_doctor_details_are_cached_until_a_write_through_the_api() {
    let (app, _, admin) = app_with_admin().await;
    let clinic = clinic_at(&app, &admin, "Prime Care Clinic", 19.1, 72.9).await;
    let doc = doctor(&app, &admin, "Kavya Joshi", "K-1").await;

    let (_, first) = get(&app, &format!("{CLINICS}/{clinic}")).await;
    let (_, second) = get(&app, &format!("{CLINICS}/{clinic}")).await;
    assert_eq!(first, second);
    let cached: Value = serde_json::from_str(
        &redis_get(&app, &format!("v2:clinic:{clinic}"))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(cached, first, "the cache holds the Clinic representation");
    let ttl = redis_ttl(&app, &format!("v2:clinic:{clinic}")).await;
    assert!(
        (1..=900).contains(&ttl),
        "CLINIC_CACHE_TTL_SECONDS applies: {ttl}"
    );
    app.db
        .execute(&format!(
            "UPDATE clinics SET name = 'Renamed behind the back' WHERE id = '{clinic}'"
        ))
        .await;
    let (_, stale) = get(&app, &format!("{CLINICS}/{clinic}")).await;
    assert_eq!(stale["name"], "Prime Care Clinic", "served from the cache");
    let (status, _, _) = send(
        &app,
        Method::PUT,
        &format!("{CLINICS}/{clinic}"),
        Some(&admin),
        Some(json!({"description": "fresh"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, fresh) = get(&app, &format!("{CLINICS}/{clinic}")).await;
    assert_eq!(fresh["name"], "Renamed behind the back");
    assert_eq!(fresh["description"], "fresh");

    let (_, first) = get(&app, &format!("{DOCTORS}/{doc}")).await;
    let cached: Value =
        serde_json::from_str(&redis_get(&app, &format!("v2:doctor:{doc}")).await.unwrap()).unwrap();
    let mut without_clinics = first.clone();
    without_clinics.as_object_mut().unwrap().remove("clinics");
    assert_eq!(cached, without_clinics, "the cache holds the Doctor JSON");
    app.db
        .execute(&format!(
            "UPDATE doctors SET bio = 'behind the back' WHERE id = '{doc}'"
        ))
        .await;
    let (_, stale) = get(&app, &format!("{DOCTORS}/{doc}")).await;
    assert_eq!(stale["bio"], Value::Null);
    // Clinics are read live even while the doctor is cached.
    associate(&app, &admin, &clinic, &doc, json!({})).await;
    let (_, live) = get(&app, &format!("{DOCTORS}/{doc}")).await;
    assert_eq!(live["clinics"].as_array().unwrap().len(), 1);
    verify(&app, &admin, &doc).await;
    let (_, fresh) = get(&app, &format!("{DOCTORS}/{doc}")).await;
    assert_eq!(fresh["bio"], "behind the back");
    assert_eq!(fresh["is_verified"], true);

    let metrics = app.get("/metrics").await.text().await.unwrap();
    for series in [
        "medico24_cache_requests_total{cache=\"clinic\",result=\"hit\"}",
        "medico24_cache_requests_total{cache=\"clinic\",result=\"miss\"}",
        "medico24_cache_requests_total{cache=\"doctor\",result=\"hit\"}",
    ] {
        assert!(metrics.contains(series), "{series}");
    }
}

#[tokio::test]
async fn directory_reads_still_answer_when_redis_is_down() {
    let app = spawn_app_with(|vars| {
        vars.insert("REDIS_URL".into(), "redis://127.0.0.1:1".into());
        vars.insert("REDIS_TIMEOUT_MS".into(), "200".into());
    })
    .await;
    let clinic = uuid::Uuid::new_v4();
    let doc = uuid::Uuid::new_v4();
    app.db
        .execute(&format!(
            "INSERT INTO clinics (id, name, slug, address, latitude, longitude) \
               VALUES ('{clinic}', 'Offline Clinic', 'offline-clinic', 'Somewhere', 19.076, 72.8777); \
             INSERT INTO doctors (id, email, full_name, license_number, specialization, is_verified, \
                                  languages_spoken, consultation_fee) \
               VALUES ('{doc}', 'o@example.com', 'Offline Doctor', 'O-1', 'ENT', true, '[\"Hindi\"]', 450.00); \
             INSERT INTO doctor_clinics (doctor_id, clinic_id, consultation_fee) \
               VALUES ('{doc}', '{clinic}', 500.50);"
        ))
        .await;
    for _ in 0..2 {
        let (status, body) = get(&app, &format!("{CLINICS}/{clinic}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["latitude"], json!(19.076));
        let (status, body) = get(&app, &format!("{DOCTORS}/{doc}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["consultation_fee"], json!(450.0));
        assert_eq!(body["clinics"][0]["consultation_fee"], json!(500.5));
    }
    let (status, near) = get(
        &app,
        &format!(
            "{DOCTORS}/nearby?latitude={}&longitude={}",
            MUMBAI.0, MUMBAI.1
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(near[0]["distance_km"], json!(0.0));
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("medico24_cache_requests_total{cache=\"clinic\",result=\"error\"}"));
}

// ---------------------------------------------------------------------------------------------
// Auth, audit, validation, routing
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_write_needs_an_admin_and_reads_ignore_authorization() {
    let app = app().await;
    mount_certs(&app).await;
    let patient = login(&app, "uid-dir-patient", "patient@example.com")
        .await
        .access;
    let id = uuid::Uuid::new_v4();
    let writes = [
        (Method::POST, format!("{CLINICS}/")),
        (Method::POST, CLINICS.to_owned()),
        (Method::PUT, format!("{CLINICS}/{id}")),
        (Method::DELETE, format!("{CLINICS}/{id}")),
        (Method::POST, format!("{CLINICS}/{id}/doctors")),
        (Method::PUT, format!("{CLINICS}/doctor-associations/{id}")),
        (
            Method::POST,
            format!("{CLINICS}/doctor-associations/{id}/end"),
        ),
        (Method::DELETE, format!("{CLINICS}/{id}/doctors/{id}")),
        (Method::POST, format!("{DOCTORS}/")),
        (Method::PUT, format!("{DOCTORS}/{id}")),
        (Method::POST, format!("{DOCTORS}/{id}/verify")),
        (Method::POST, format!("{DOCTORS}/{id}/unverify")),
        // A malformed id is reported only after authentication.
        (Method::PUT, format!("{CLINICS}/not-a-uuid")),
        (Method::POST, format!("{DOCTORS}/not-a-uuid/verify")),
    ];
    for (method, path) in &writes {
        let (status, body, _) = send(&app, method.clone(), path, None, Some(json!({}))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
        let (status, body, _) =
            send(&app, method.clone(), path, Some(&patient), Some(json!({}))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}");
        assert_eq!(body["detail"], "Admin access required");
    }
    let reads = [
        format!("{CLINICS}/"),
        format!("{CLINICS}/search"),
        format!("{CLINICS}/nearby?latitude=19&longitude=72"),
        format!("{CLINICS}/{id}/doctors"),
        format!("{CLINICS}/doctors/{id}/clinics"),
        format!("{DOCTORS}/"),
        format!("{DOCTORS}/search"),
        format!("{DOCTORS}/nearby?latitude=19&longitude=72"),
    ];
    for path in &reads {
        let response = app
            .client
            .get(app.url(path))
            .header("Authorization", "Bearer garbage")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    assert_eq!(
        app.db.count("SELECT count(*) AS n FROM audit_events").await,
        0
    );
}

#[tokio::test]
async fn bad_input_is_422_with_the_spec_types_never_500() {
    let (app, _, admin) = app_with_admin().await;
    let clinic = clinic_at(&app, &admin, "Valid", 19.0, 72.0).await;
    let doc = doctor(&app, &admin, "Valid Doctor", "X-1").await;
    let post = |path: String, body: Value| send(&app, Method::POST, path, Some(&admin), Some(body));
    let check = |body: &Value, loc: Value, kind: &str| {
        let details = body["details"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"));
        assert!(
            details.iter().any(|d| d["loc"] == loc && d["type"] == kind),
            "{loc} {kind} in {body}"
        );
    };

    let (status, body, _) = post(
        format!("{CLINICS}/"),
        json!({"name": "X", "address": "Y", "latitude": 90.5, "longitude": -181, "contacts": [1], "status": "closed"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    check(&body, json!(["body", "latitude"]), "less_than_equal");
    check(&body, json!(["body", "longitude"]), "greater_than_equal");
    check(&body, json!(["body", "contacts"]), "dict_type");
    let (status, body, _) = send(
        &app,
        Method::PUT,
        &format!("{CLINICS}/{clinic}"),
        Some(&admin),
        Some(json!({"status": "closed", "latitude": "19"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    check(&body, json!(["body", "status"]), "enum");
    check(&body, json!(["body", "latitude"]), "float_type");

    let association = format!("{CLINICS}/{clinic}/doctors");
    let (status, body, _) = post(
        association.clone(),
        json!({
            "doctor_id": doc,
            "consultation_fee": 100.123,
            "consultation_duration_minutes": 181,
            "available_days": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Extra"],
            "available_time_slots": ["10:00"],
            "department": "d".repeat(201),
        }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    check(
        &body,
        json!(["body", "consultation_fee"]),
        "decimal_max_places",
    );
    check(
        &body,
        json!(["body", "consultation_duration_minutes"]),
        "less_than_equal",
    );
    check(&body, json!(["body", "available_days"]), "too_long");
    check(
        &body,
        json!(["body", "available_time_slots", 0]),
        "dict_type",
    );
    check(&body, json!(["body", "department"]), "string_too_long");
    let (status, body, _) = post(
        association.clone(),
        json!({"doctor_id": "nope", "consultation_fee": -1}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    check(&body, json!(["body", "doctor_id"]), "uuid_parsing");
    check(
        &body,
        json!(["body", "consultation_fee"]),
        "greater_than_equal",
    );
    let (status, body, _) = post(
        association.clone(),
        json!({"consultation_fee": 100_000_000}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    check(&body, json!(["body", "doctor_id"]), "missing");
    check(
        &body,
        json!(["body", "consultation_fee"]),
        "less_than_equal",
    );
    let created = associate(
        &app,
        &admin,
        &clinic,
        &doc,
        json!({"consultation_fee": 99_999_999.99}),
    )
    .await;
    assert_eq!(created["consultation_fee"], json!(99_999_999.99));
    let (status, body, _) = send(
        &app,
        Method::PUT,
        &format!(
            "{CLINICS}/doctor-associations/{}",
            created["id"].as_str().unwrap()
        ),
        Some(&admin),
        Some(json!({"status": "retired", "consultation_duration_minutes": 4})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    check(&body, json!(["body", "status"]), "enum");
    check(
        &body,
        json!(["body", "consultation_duration_minutes"]),
        "greater_than_equal",
    );
    let (status, body, _) = post(
        format!(
            "{CLINICS}/doctor-associations/{}/end",
            created["id"].as_str().unwrap()
        ),
        json!({"end_date": "yesterday"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    check(&body, json!(["body", "end_date"]), "datetime_parsing");

    for (path, loc, kind) in [
        (format!("{CLINICS}/?limit=101"), "limit", "less_than_equal"),
        (format!("{CLINICS}/?limit=0"), "limit", "greater_than_equal"),
        (format!("{CLINICS}/?skip=-1"), "skip", "greater_than_equal"),
        (format!("{CLINICS}/?status=closed"), "status", "enum"),
        (
            format!("{CLINICS}/?is_active=maybe"),
            "is_active",
            "bool_parsing",
        ),
        (
            format!("{CLINICS}/search?min_rating=6"),
            "min_rating",
            "less_than_equal",
        ),
        (
            format!("{CLINICS}/?name_search={}", "n".repeat(201)),
            "name_search",
            "string_too_long",
        ),
        (
            format!("{CLINICS}/nearby?longitude=72"),
            "latitude",
            "missing",
        ),
        (
            format!("{CLINICS}/nearby?latitude=91&longitude=72"),
            "latitude",
            "less_than_equal",
        ),
        (
            format!("{CLINICS}/nearby?latitude=19&longitude=72&radius_km=0"),
            "radius_km",
            "greater_than",
        ),
        (
            format!("{CLINICS}/nearby?latitude=19&longitude=72&radius_km=101"),
            "radius_km",
            "less_than_equal",
        ),
        (
            format!("{CLINICS}/nearby?latitude=NaN&longitude=72"),
            "latitude",
            "float_parsing",
        ),
        (format!("{DOCTORS}/?limit=101"), "limit", "less_than_equal"),
        (
            format!("{DOCTORS}/?min_experience=-1"),
            "min_experience",
            "greater_than_equal",
        ),
        (
            format!("{DOCTORS}/?max_experience=ten"),
            "max_experience",
            "int_parsing",
        ),
        (
            format!("{DOCTORS}/search?is_verified=perhaps"),
            "is_verified",
            "bool_parsing",
        ),
        (
            format!("{DOCTORS}/nearby?latitude=19&longitude=181"),
            "longitude",
            "less_than_equal",
        ),
        (
            format!("{CLINICS}/{clinic}/doctors?active_only=sometimes"),
            "active_only",
            "bool_parsing",
        ),
    ] {
        let (status, body) = get(&app, &path).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {body}");
        check(&body, json!(["query", loc]), kind);
    }
    for (path, name) in [
        (format!("{CLINICS}/not-a-uuid"), "clinic_id"),
        (format!("{CLINICS}/not-a-uuid/doctors"), "clinic_id"),
        (format!("{CLINICS}/doctors/not-a-uuid/clinics"), "doctor_id"),
        (format!("{DOCTORS}/not-a-uuid"), "doctor_id"),
    ] {
        let (status, body) = get(&app, &path).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        check(&body, json!(["path", name]), "uuid_parsing");
    }
    let (status, body, _) = send(
        &app,
        Method::DELETE,
        &format!("{CLINICS}/{clinic}/doctors/nope"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    check(&body, json!(["path", "doctor_id"]), "uuid_parsing");
    let (status, body, _) = send(
        &app,
        Method::POST,
        &format!("{DOCTORS}/"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    check(&body, json!(["body"]), "missing");
}

#[tokio::test]
async fn literal_segments_beat_ids_and_both_slash_forms_are_served() {
    let (app, _, admin) = app_with_admin().await;
    clinic_at(&app, &admin, "Metro Health Clinic", MUMBAI.0, MUMBAI.1).await;
    for path in [
        format!("{CLINICS}/search"),
        format!("{CLINICS}/search/"),
        format!("{CLINICS}/nearby?latitude=19.076&longitude=72.8777"),
        format!("{CLINICS}/slug/metro-health-clinic"),
        format!("{CLINICS}/doctors/{}/clinics", uuid::Uuid::new_v4()),
        format!("{DOCTORS}/search"),
        format!("{DOCTORS}/nearby/?latitude=19&longitude=72"),
        DOCTORS.to_owned(),
        CLINICS.to_owned(),
    ] {
        let (status, body) = get(&app, &path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let response = app
        .client
        .patch(app.url(&format!("{CLINICS}/{}", uuid::Uuid::new_v4())))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "DELETE, GET, PUT");
    let (status, created, _) = send(
        &app,
        Method::POST,
        DOCTORS,
        Some(&admin),
        Some(doctor_body("No slash", "NS-1", "ns@example.com")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
}

#[tokio::test]
async fn the_demo_seed_matches_the_directory_representations() {
    let app = app().await;
    let size = medico24_postgres::SeedSize {
        pharmacies: 1,
        users: 3,
        appointments: 0,
    };
    medico24_postgres::seed_demo_data(app.db.url(), size)
        .await
        .expect("seed");
    let (status, clinics) = get(&app, &format!("{CLINICS}/?limit=100&is_active=true")).await;
    assert_eq!(status, StatusCode::OK);
    let clinics = clinics.as_array().unwrap();
    assert_eq!(clinics.len(), 19, "one seeded clinic is inactive");
    for clinic in clinics {
        assert!(is_valid_slug(clinic["slug"].as_str().unwrap()), "{clinic}");
        let (status, by_slug) = get(
            &app,
            &format!("{CLINICS}/slug/{}", clinic["slug"].as_str().unwrap()),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(by_slug["id"], clinic["id"]);
    }
    let (status, doctors) = get(&app, &format!("{DOCTORS}/?limit=100")).await;
    assert_eq!(status, StatusCode::OK);
    let doctors = doctors.as_array().unwrap();
    assert_eq!(doctors.len(), 40);
    for listed in doctors.iter().take(5) {
        let (status, detail) = get(
            &app,
            &format!("{DOCTORS}/{}", listed["id"].as_str().unwrap()),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{detail}");
        assert!(detail["languages_spoken"].is_array());
        assert!(detail["consultation_fee"].is_f64());
    }
    let (_, marathi) = get(&app, &format!("{DOCTORS}/?languages=Marathi&limit=100")).await;
    assert_eq!(marathi.as_array().unwrap().len(), 20);
    let (_, near) = get(
        &app,
        &format!(
            "{DOCTORS}/nearby?latitude={}&longitude={}&radius_km=30&limit=100",
            MUMBAI.0, MUMBAI.1
        ),
    )
    .await;
    assert!(!near.as_array().unwrap().is_empty());
    let (_, near_clinics) = get(
        &app,
        &format!(
            "{CLINICS}/nearby?latitude={}&longitude={}&radius_km=30&limit=100",
            MUMBAI.0, MUMBAI.1
        ),
    )
    .await;
    assert_eq!(near_clinics.as_array().unwrap().len(), 19);
}

#[tokio::test]
async fn the_postgres_repository_meets_the_directory_repository_contract() {
    use medico24_directory::testing::contract;
    use medico24_postgres::PgDirectoryRepository;
    let db = medico24_testkit::TestDb::new().await;
    let database = db.pool(2);
    let repo = PgDirectoryRepository::new(database);
    let now = chrono::Utc::now() - chrono::Duration::hours(1);
    let now = chrono::DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap();
    contract::directory_repository(&repo, now).await;
    assert_eq!(
        db.count(
            "SELECT count(*) AS n FROM audit_events \
             WHERE resource_type IN ('clinic', 'doctor', 'doctor_clinic')"
        )
        .await,
        i64::try_from(contract::AUDITED_WRITES).unwrap(),
        "every successful write was audited once"
    );
}

#[tokio::test]
async fn nul_characters_are_422_or_404_instead_of_database_errors() {
    let (app, _, admin) = app_with_admin().await;
    for path in [
        format!("{CLINICS}/?name_search=a%00b"),
        format!("{DOCTORS}/?languages=Hindi&languages=%00"),
        format!("{DOCTORS}/search?specialization=%00"),
        format!("{DOCTORS}/nearby?latitude=19&longitude=72&specialization=%00"),
    ] {
        let (status, body) = get(&app, &path).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {body}");
        assert_eq!(body["details"][0]["type"], "value_error");
    }
    let (status, _) = get(&app, &format!("{DOCTORS}/search?languages=%00")).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "ignored parameters are not looked at"
    );
    let (status, _) = get(&app, &format!("{CLINICS}/slug/a%00b")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body, _) = send(
        &app,
        Method::POST,
        format!("{CLINICS}/"),
        Some(&admin),
        Some(json!({"name": "a\u{0}b", "address": "x", "contacts": {"k": ["ok", "\u{0}"]}})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let locs: Vec<&Value> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["loc"])
        .collect();
    assert!(locs.contains(&&json!(["body", "name"])), "{body}");
    assert!(
        locs.contains(&&json!(["body", "contacts", "k", 1])),
        "{body}"
    );
    assert_eq!(app.db.count("SELECT count(*) AS n FROM clinics").await, 0);
}

#[tokio::test]
async fn concurrent_associations_of_one_pair_create_one_and_refuse_the_rest_never_5xx() {
    let (app, _, admin) = app_with_admin().await;
    for round in 0..6 {
        let clinic = clinic_at(&app, &admin, &format!("Race Clinic {round}"), 19.05, 72.83).await;
        let doc = doctor(
            &app,
            &admin,
            &format!("Race Doctor {round}"),
            &format!("R-{round}"),
        )
        .await;
        let path = format!("{CLINICS}/{clinic}/doctors");
        let attempts = (0..10).map(|_| {
            send(
                &app,
                Method::POST,
                path.clone(),
                Some(&admin),
                Some(json!({"doctor_id": doc, "is_primary": true})),
            )
        });
        let statuses: Vec<StatusCode> = futures_util::future::join_all(attempts)
            .await
            .into_iter()
            .map(|(status, _, _)| status)
            .collect();
        let created = statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count();
        let refused = statuses
            .iter()
            .filter(|s| **s == StatusCode::BAD_REQUEST)
            .count();
        assert_eq!((created, refused), (1, 9), "round {round}: {statuses:?}");
    }
}

/// `leaf` wrapped alternately in arrays and objects until it is `levels` deep.
fn nested(levels: usize, leaf: Value) -> Value {
    (0..levels).fold(leaf, |inner, level| {
        if level % 2 == 0 {
            json!([inner])
        } else {
            json!({"k": inner})
        }
    })
}

#[tokio::test]
async fn free_form_members_at_the_bounds_stay_readable_in_the_directory_and_the_audit_listing() {
    let (app, _, admin) = app_with_admin().await;
    // Numbers at the ends of what JSON readers take: the largest and smallest doubles, a
    // subnormal, and an integer beyond 64 bits (read as the nearest double).
    let extremes = json!([
        1.797_693_134_862_315_7e308,
        -1.797_693_134_862_315_7e308,
        5e-324,
        1.234_567_890_123_456_8e22
    ]);
    // The body object is level 1 and the member level 2: 30 more levels reach the bound of 32.
    let deepest = nested(30, extremes.clone());
    let too_deep = nested(31, extremes.clone());
    let clinic =
        json!({"name": "Bounds Clinic", "address": "Mumbai", "latitude": 19.0, "longitude": 72.8});
    let doctor = doctor_body("Dr. Bounds", "B-32", "bounds@doctors.example");
    let audit_count = || async { app.db.count("SELECT count(*) AS n FROM audit_events").await };

    // One past the bound: refused before anything is stored or audited, on every audited write
    // that takes free-form JSON.
    let before = audit_count().await;
    let clinic_id = create_clinic(&app, &admin, clinic.clone()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let doctor_id = create_doctor(&app, &admin, doctor.clone()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Every audited write that takes free-form JSON, then the doctor writes (whose bodies have
    // no free-form member, but pass the same gate).
    let writes = [
        (
            Method::POST,
            format!("{CLINICS}/"),
            clinic.clone(),
            "contacts",
        ),
        (
            Method::POST,
            format!("{CLINICS}/"),
            clinic.clone(),
            "opening_hours",
        ),
        (
            Method::PUT,
            format!("{CLINICS}/{clinic_id}"),
            json!({}),
            "contacts",
        ),
        (
            Method::PUT,
            format!("{CLINICS}/{clinic_id}"),
            json!({}),
            "opening_hours",
        ),
        (
            Method::POST,
            format!("{DOCTORS}/{doctor_id}/verify"),
            json!({}),
            "verification_documents",
        ),
        (Method::POST, format!("{DOCTORS}/"), doctor.clone(), "bio"),
        (
            Method::PUT,
            format!("{DOCTORS}/{doctor_id}"),
            json!({}),
            "bio",
        ),
    ];
    let created_audits = audit_count().await;
    assert_eq!(created_audits, before + 2);
    for (method, path, base, member) in &writes {
        let mut body = base.clone();
        body[*member] = too_deep.clone();
        let (status, answer, _) = send(&app, method.clone(), path, Some(&admin), Some(body)).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{method} {path} {member}: {answer}"
        );
        assert_eq!(answer["details"][0]["type"], "json_invalid", "{answer}");
        assert_eq!(
            answer["details"][0]["msg"],
            "JSON nested deeper than 32 levels"
        );
    }
    assert_eq!(
        audit_count().await,
        created_audits,
        "nothing refused was audited"
    );

    // At the bound: stored, audited, and read back unchanged, also through the audit listing.
    let stored = &writes[..5];
    let mut written = 0;
    for (method, path, base, member) in stored {
        let mut body = base.clone();
        if *path == format!("{CLINICS}/") {
            // Every clinic create needs its own name.
            written += 1;
            body["name"] = json!(format!("Bounds Clinic {written}"));
        }
        body[*member] = deepest.clone();
        let (status, answer, _) = send(&app, method.clone(), path, Some(&admin), Some(body)).await;
        assert!(
            status.is_success(),
            "{method} {path} {member}: {status} {answer}"
        );
        if *member == "verification_documents" {
            // Documents are not part of the doctor representation: read them where they are kept.
            let sql = format!(
                "SELECT count(*) AS n FROM doctors WHERE verification_documents::jsonb = '{deepest}'::jsonb"
            );
            assert_eq!(app.db.count(&sql).await, 1);
        } else {
            assert_eq!(answer[*member], deepest, "{method} {path} {member}");
        }
    }
    let (status, audit, _) = send(
        &app,
        Method::GET,
        "/api/v1/admin/audit?page_size=100",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let events = audit["events"].as_array().unwrap();
    assert_eq!(
        events.len(),
        (created_audits - before) as usize + stored.len()
    );
    let mut carrying = 0;
    for event in events {
        assert_ne!(event["details"], "unreadable", "{event}");
        let details = event["details"].to_string();
        if details.contains(&extremes.to_string()) {
            carrying += 1;
        }
    }
    assert_eq!(
        carrying, 4,
        "every clinic write's audit entry carries the values as sent"
    );
}
