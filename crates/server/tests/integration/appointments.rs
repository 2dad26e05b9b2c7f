//! Appointments end to end: booking rules, double booking and idempotency under
//! concurrency, the status state machine by role, visibility, deletion, atomicity, lists.

use medico24_testkit::{TestApp, spawn_app, spawn_app_with};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{
    Session, admin_list_422, assert_walks_agree, call, login, login_admin, mount_certs,
    numbered_and_cursor_walks, status_json,
};

const DOCTOR: &str = "00000000-0000-0000-0000-0000000000d1";
const CLINIC: &str = "00000000-0000-0000-0000-0000000000c1";

async fn with_directory(app: &TestApp) {
    app.db
        .execute(&format!(
            "INSERT INTO doctors (id, email, full_name, license_number, specialization) VALUES ('{DOCTOR}', 'dr@example.com', 'Dr Mehta', 'LIC-1', 'Cardiology');
             INSERT INTO clinics (id, name, slug, address, latitude, longitude) VALUES ('{CLINIC}', 'Heart Care', 'heart-care', 'Mumbai', 19.07, 72.87);"
        ))
        .await;
}

fn booking(at: &str) -> Value {
    json!({
        "doctor_name": "Dr Mehta",
        "clinic_name": "Heart Care",
        "appointment_at": at,
        "appointment_end_at": null,
        "reason": "Chest pain follow-up",
        "contact_phone": "+91 98765 43210",
        "notes": null,
        "doctor_id": DOCTOR,
        "clinic_id": CLINIC,
        "source": null
    })
}

async fn setup() -> (TestApp, Session) {
    let app = spawn_app_with(|vars| {
        vars.insert("RATE_LIMIT_PER_MINUTE".into(), "100000".into());
    })
    .await;
    mount_certs(&app).await;
    with_directory(&app).await;
    let patient = login(&app, "uid-pat", "pat@example.com").await;
    (app, patient)
}

async fn book(app: &TestApp, who: &Session, body: Value) -> (StatusCode, Value) {
    status_json(
        call(
            app,
            Method::POST,
            "/api/v1/appointments/",
            Some(&who.access),
            Some(body),
        )
        .await,
    )
    .await
}

#[tokio::test]
async fn booking_returns_the_full_appointment_and_writes_one_outbox_event() {
    let (app, patient) = setup().await;
    let (status, body) = book(&app, &patient, booking("2030-01-01T10:00:00")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
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
    ] {
        assert!(keys.contains(&key), "{key} missing");
    }
    assert_eq!(
        body["appointment_at"], "2030-01-01T10:00:00Z",
        "offset-less input is UTC"
    );
    assert_eq!(
        body["source"], "patient_app",
        "explicit null source defaults"
    );
    assert_eq!(body["status"], "scheduled");
    assert_eq!(body["patient_id"], patient.id.as_str());
    assert_eq!(body["appointment_end_at"], Value::Null);
    assert_eq!(app.db.count("SELECT count(*) AS n FROM notification_outbox WHERE event_type = 'appointment_created'").await, 1);
    let payload = app.db.count(&format!(
        "SELECT count(*) AS n FROM notification_outbox WHERE payload->>'title' = 'Appointment Scheduled' \
         AND payload->>'body' = 'Appointment with Dr Mehta on Jan 01, 03:30 PM IST' \
         AND payload->'data'->>'appointment_id' = '{}' AND user_id = '{}'",
        body["id"].as_str().unwrap(),
        patient.id
    ))
    .await;
    assert_eq!(payload, 1, "rendered in DEFAULT_TIMEZONE");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains(r#"medico24_appointments_created_total{source="patient_app"} 1"#));
}

#[tokio::test]
async fn invalid_bookings_are_422_with_details_and_never_500() {
    let (app, patient) = setup().await;
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"contact_phone": "12ab"}),
            "contact_phone",
            "value_error",
        ),
        (
            json!({"contact_phone": "+ (12) 3"}),
            "contact_phone",
            "value_error",
        ),
        (
            json!({"appointment_end_at": "2030-01-01T09:00:00Z"}),
            "appointment_end_at",
            "value_error",
        ),
        (
            json!({"doctor_id": "00000000-0000-0000-0000-00000000ffff"}),
            "doctor_id",
            "value_error",
        ),
        (
            json!({"clinic_id": "00000000-0000-0000-0000-00000000ffff"}),
            "clinic_id",
            "value_error",
        ),
        (
            json!({"doctor_id": "not-a-uuid"}),
            "doctor_id",
            "uuid_parsing",
        ),
        (
            json!({"appointment_at": "tomorrow"}),
            "appointment_at",
            "datetime_parsing",
        ),
        (
            json!({"doctor_name": ""}),
            "doctor_name",
            "string_too_short",
        ),
        (
            json!({"reason": "x".repeat(501)}),
            "reason",
            "string_too_long",
        ),
        (json!({"source": "fax"}), "source", "enum"),
        (json!({"doctor_name": 5}), "doctor_name", "string_type"),
    ];
    for (change, field, kind) in cases {
        let mut body = booking("2030-01-01T10:00:00Z");
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, answer) = book(&app, &patient, body).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {answer}"
        );
        assert_eq!(
            answer["details"][0]["loc"],
            json!(["body", field]),
            "{field}: {answer}"
        );
        assert_eq!(answer["details"][0]["type"], kind, "{field}");
    }
    let (status, answer) = book(&app, &patient, json!({"reason": "x"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let missing: Vec<&Value> = answer["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["loc"][1])
        .collect();
    assert_eq!(
        missing,
        vec!["doctor_name", "appointment_at", "contact_phone"]
    );
    for query in [
        "from_date=yesterday",
        "page_size=101",
        "page=0",
        "status=done",
        "doctor_id=x",
    ] {
        let (status, answer) = status_json(
            call(
                &app,
                Method::GET,
                &format!("/api/v1/appointments/?{query}"),
                Some(&patient.access),
                None,
            )
            .await,
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {answer}"
        );
        assert_eq!(answer["details"][0]["loc"][0], "query");
    }
    assert_eq!(
        app.db.count("SELECT count(*) AS n FROM appointments").await,
        0
    );
}

#[tokio::test]
async fn privileged_sources_need_a_doctor_or_admin() {
    let (app, patient) = setup().await;
    let mut body = booking("2030-01-01T10:00:00Z");
    body["source"] = json!("admin_panel");
    let (status, answer) = book(&app, &patient, body.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        answer["detail"],
        "Not allowed to create appointments with source 'admin_panel'"
    );
    body["source"] = json!("api");
    assert_eq!(book(&app, &patient, body).await.0, StatusCode::CREATED);
    let admin = login_admin(&app, "uid-adm", "adm@example.com").await;
    let mut body = booking("2030-01-02T10:00:00Z");
    body["source"] = json!("admin_panel");
    assert_eq!(book(&app, &admin, body).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn twenty_concurrent_overlapping_bookings_give_exactly_one_201() {
    let (app, patient) = setup().await;
    let attempts = (0..20).map(|i| {
        let app = &app;
        let patient = &patient;
        async move {
            let at = format!("2030-03-01T10:{:02}:00Z", i);
            book(app, patient, booking(&at)).await.0
        }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count(),
        19,
        "{statuses:?}"
    );
    assert_eq!(
        app.db.count("SELECT count(*) AS n FROM appointments").await,
        1
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) AS n FROM notification_outbox")
            .await,
        1
    );
}

#[tokio::test]
async fn twenty_concurrent_requests_with_one_idempotency_key_create_one_row() {
    let (app, patient) = setup().await;
    let body = booking("2030-04-01T10:00:00Z");
    let attempts = (0..20).map(|_| {
        let app = &app;
        let body = body.clone();
        let token = patient.access.clone();
        async move {
            let response = app
                .client
                .post(app.url("/api/v1/appointments/"))
                .bearer_auth(token)
                .header("idempotency-key", "booking-key-1")
                .json(&body)
                .send()
                .await
                .unwrap();
            let replayed = response.headers().get("idempotent-replayed").is_some();
            let (status, json) = status_json(response).await;
            (status, json["id"].as_str().map(str::to_owned), replayed)
        }
    });
    let results = futures_util::future::join_all(attempts).await;
    assert!(
        results.iter().all(|(s, _, _)| *s == StatusCode::CREATED),
        "{results:?}"
    );
    let first = results[0].1.clone().unwrap();
    assert!(
        results
            .iter()
            .all(|(_, id, _)| id.as_deref() == Some(first.as_str()))
    );
    assert_eq!(
        results.iter().filter(|(_, _, replayed)| *replayed).count(),
        19
    );
    assert_eq!(
        app.db.count("SELECT count(*) AS n FROM appointments").await,
        1
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) AS n FROM notification_outbox")
            .await,
        1,
        "replays notify nobody"
    );

    let mut other = body.clone();
    other["reason"] = json!("Something else");
    let response = app
        .client
        .post(app.url("/api/v1/appointments/"))
        .bearer_auth(&patient.access)
        .header("idempotency-key", "booking-key-1")
        .json(&other)
        .send()
        .await
        .unwrap();
    let (status, answer) = status_json(response).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        answer["detail"],
        "Idempotency-Key was already used with a different request body"
    );
    let response = app
        .client
        .post(app.url("/api/v1/appointments/"))
        .bearer_auth(&patient.access)
        .header("idempotency-key", "é")
        .json(&other)
        .send()
        .await
        .unwrap();
    let (status, answer) = status_json(response).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        answer["details"][0]["loc"],
        json!(["header", "idempotency-key"])
    );
}

async fn appointment_in(app: &TestApp, who: &Session, at: &str) -> String {
    let (status, body) = book(app, who, booking(at)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

async fn force_status(app: &TestApp, id: &str, status: &str) {
    app.db
        .execute(&format!(
            "UPDATE appointments SET status = '{status}' WHERE id = '{id}'"
        ))
        .await;
}

#[tokio::test]
async fn every_status_change_and_role_is_answered_as_the_state_machine_says() {
    let (app, patient) = setup().await;
    let admin = login_admin(&app, "uid-adm2", "adm2@example.com").await;
    let table: [(&str, &[&str]); 6] = [
        (
            "scheduled",
            &[
                "confirmed",
                "rescheduled",
                "cancelled",
                "completed",
                "no_show",
            ],
        ),
        (
            "confirmed",
            &["rescheduled", "cancelled", "completed", "no_show"],
        ),
        (
            "rescheduled",
            &["confirmed", "cancelled", "completed", "no_show"],
        ),
        ("cancelled", &[]),
        ("completed", &[]),
        ("no_show", &[]),
    ];
    let statuses = [
        "scheduled",
        "confirmed",
        "rescheduled",
        "cancelled",
        "completed",
        "no_show",
    ];
    let id = appointment_in(&app, &patient, "2031-01-01T10:00:00Z").await;
    for (from, allowed) in table {
        for to in statuses.iter().filter(|s| **s != from) {
            for (role, who) in [("patient", &patient), ("admin", &admin)] {
                force_status(&app, &id, from).await;
                let path = format!("/api/v1/appointments/{id}/status");
                let (status, body) = status_json(
                    call(
                        &app,
                        Method::PATCH,
                        &path,
                        Some(&who.access),
                        Some(json!({"status": to})),
                    )
                    .await,
                )
                .await;
                let role_ok = role == "admin" || matches!(*to, "confirmed" | "cancelled");
                if !role_ok {
                    assert_eq!(status, StatusCode::FORBIDDEN, "{from}→{to} as {role}");
                    assert_eq!(
                        body["detail"],
                        "Patients may only confirm or cancel appointments"
                    );
                } else if allowed.contains(to) {
                    assert_eq!(status, StatusCode::OK, "{from}→{to} as {role}: {body}");
                    assert_eq!(body["status"], *to);
                    if *to == "cancelled" {
                        assert!(body["cancelled_at"].is_string());
                    }
                } else {
                    assert_eq!(status, StatusCode::CONFLICT, "{from}→{to} as {role}");
                    assert_eq!(body["allowed_statuses"], json!(allowed), "{from}→{to}");
                    let list = if allowed.is_empty() {
                        "none".to_owned()
                    } else {
                        allowed.join(", ")
                    };
                    assert_eq!(
                        body["detail"],
                        format!(
                            "Cannot change appointment status from '{from}' to '{to}'; allowed: {list}"
                        )
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn same_status_applies_only_notes_and_cancelled_at_is_set_once() {
    let (app, patient) = setup().await;
    let id = appointment_in(&app, &patient, "2031-02-01T10:00:00Z").await;
    let path = format!("/api/v1/appointments/{id}/status");
    let (_, body) = status_json(
        call(
            &app,
            Method::PATCH,
            &path,
            Some(&patient.access),
            Some(json!({"status": "scheduled", "notes": "bring reports"})),
        )
        .await,
    )
    .await;
    assert_eq!(body["notes"], "bring reports");
    assert_eq!(
        app.db
            .count("SELECT count(*) AS n FROM notification_outbox")
            .await,
        1,
        "no event without a transition"
    );
    let (_, body) = status_json(
        call(
            &app,
            Method::PATCH,
            &path,
            Some(&patient.access),
            Some(json!({"status": "scheduled", "notes": ""})),
        )
        .await,
    )
    .await;
    assert_eq!(body["notes"], Value::Null, "empty notes clear them");
    let (status, cancelled) = status_json(
        call(
            &app,
            Method::PATCH,
            &path,
            Some(&patient.access),
            Some(json!({"status": "cancelled"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.db.count("SELECT count(*) AS n FROM notification_outbox WHERE event_type = 'appointment_status_changed' AND payload->>'priority' = 'high'").await, 1);
    let (status, again) = status_json(
        call(
            &app,
            Method::PATCH,
            &path,
            Some(&patient.access),
            Some(json!({"status": "cancelled", "notes": "n"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        again["cancelled_at"], cancelled["cancelled_at"],
        "not overwritten on repeat"
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains(
        r#"medico24_appointment_status_changes_total{from="scheduled",to="cancelled"} 1"#
    ));
}

#[tokio::test]
async fn put_merges_validates_the_merged_record_and_follows_the_state_machine() {
    let (app, patient) = setup().await;
    let id = appointment_in(&app, &patient, "2031-03-01T10:00:00Z").await;
    let path = format!("/api/v1/appointments/{id}");
    // The Flutter client sends the full create body with nulls.
    let mut body = booking("2031-03-01T10:00:00Z");
    body["appointment_end_at"] = json!("2031-03-01T10:45:00Z");
    body["reason"] = json!("Updated reason");
    body["source"] = json!("admin_panel");
    let (status, answer) =
        status_json(call(&app, Method::PUT, &path, Some(&patient.access), Some(body)).await).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["reason"], "Updated reason");
    assert_eq!(answer["source"], "patient_app", "source is ignored on PUT");
    let (status, answer) = status_json(
        call(
            &app,
            Method::PUT,
            &path,
            Some(&patient.access),
            Some(json!({"appointment_at": "2031-03-01T11:00:00Z"})),
        )
        .await,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "merged end before start: {answer}"
    );
    assert_eq!(
        answer["details"][0]["loc"],
        json!(["body", "appointment_end_at"])
    );
    let (status, _) = status_json(
        call(
            &app,
            Method::PUT,
            &path,
            Some(&patient.access),
            Some(json!({"status": "completed"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, answer) = status_json(
        call(
            &app,
            Method::PUT,
            &path,
            Some(&patient.access),
            Some(json!({"status": "confirmed"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["status"], "confirmed");
    assert_eq!(app.db.count("SELECT count(*) AS n FROM notification_outbox WHERE event_type = 'appointment_status_changed'").await, 1);
    let before = answer["updated_at"].clone();
    let (_, same) = status_json(
        call(
            &app,
            Method::PUT,
            &path,
            Some(&patient.access),
            Some(json!({"reason": "Updated reason", "notes": null})),
        )
        .await,
    )
    .await;
    assert_eq!(same["updated_at"], before, "no effective change, no write");
}

#[tokio::test]
async fn another_patients_appointment_is_404_and_admins_may_act_on_it() {
    let (app, owner) = setup().await;
    let stranger = login(&app, "uid-str", "str@example.com").await;
    let admin = login_admin(&app, "uid-adm3", "adm3@example.com").await;
    let id = appointment_in(&app, &owner, "2031-04-01T10:00:00Z").await;
    let path = format!("/api/v1/appointments/{id}");
    for (method, p, body) in [
        (Method::GET, path.clone(), None),
        (Method::PUT, path.clone(), Some(json!({"reason": "x"}))),
        (
            Method::PATCH,
            format!("{path}/status"),
            Some(json!({"status": "cancelled"})),
        ),
        (Method::DELETE, path.clone(), None),
    ] {
        let (status, answer) =
            status_json(call(&app, method.clone(), &p, Some(&stranger.access), body).await).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {p}");
        assert_eq!(answer["detail"], "Appointment not found");
    }
    let (status, _) =
        status_json(call(&app, Method::GET, &path, Some(&admin.access), None).await).await;
    assert_eq!(status, StatusCode::OK);
    let (status, answer) = status_json(
        call(
            &app,
            Method::PATCH,
            &format!("{path}/status"),
            Some(&admin.access),
            Some(json!({"status": "completed"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(app.db.count(&format!("SELECT count(*) AS n FROM audit_events WHERE action = 'appointment.status_change' AND resource_id = '{id}'")).await, 1);
    let (status, _) = status_json(
        call(
            &app,
            Method::GET,
            "/api/v1/appointments/not-a-uuid",
            None,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "auth before path parsing");
    let (status, _) = status_json(
        call(
            &app,
            Method::GET,
            "/api/v1/appointments/not-a-uuid",
            Some(&owner.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn deletion_is_soft_for_patients_and_hard_only_for_admins() {
    let (app, patient) = setup().await;
    let admin = login_admin(&app, "uid-adm4", "adm4@example.com").await;
    let id = appointment_in(&app, &patient, "2031-05-01T10:00:00Z").await;
    let path = format!("/api/v1/appointments/{id}");
    let (status, answer) = status_json(
        call(
            &app,
            Method::DELETE,
            &format!("{path}?hard_delete=true"),
            Some(&patient.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(answer["detail"], "Only admins can hard-delete appointments");
    assert_eq!(
        call(&app, Method::DELETE, &path, Some(&patient.access), None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&app, Method::DELETE, &path, Some(&patient.access), None)
            .await
            .status(),
        StatusCode::NOT_FOUND,
        "second soft delete"
    );
    assert_eq!(
        call(&app, Method::GET, &path, Some(&patient.access), None)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    // The freed slot can be booked again.
    appointment_in(&app, &patient, "2031-05-01T10:00:00Z").await;
    assert_eq!(
        call(
            &app,
            Method::DELETE,
            &format!("{path}?hard_delete=true"),
            Some(&admin.access),
            None
        )
        .await
        .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.db
            .count(&format!(
                "SELECT count(*) AS n FROM appointments WHERE id = '{id}'"
            ))
            .await,
        0
    );
    assert_eq!(
        app.db
            .count(
                "SELECT count(*) AS n FROM audit_events WHERE action = 'appointment.hard_delete'"
            )
            .await,
        1
    );
    let (status, _) = status_json(
        call(
            &app,
            Method::DELETE,
            &format!("{path}?hard_delete=maybe"),
            Some(&admin.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_failure_after_the_insert_leaves_neither_appointment_nor_outbox_row() {
    let (app, patient) = setup().await;
    // Inject a failure into the outbox write, which runs after the appointment insert.
    app.db
        .execute(
            "CREATE FUNCTION fail_outbox() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected'; END $$;
             CREATE TRIGGER fail_outbox BEFORE INSERT ON notification_outbox FOR EACH ROW EXECUTE FUNCTION fail_outbox();",
        )
        .await;
    let (status, body) = book(&app, &patient, booking("2031-06-01T10:00:00Z")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["detail"], "An unexpected error occurred");
    assert!(
        !body.to_string().contains("injected"),
        "no internal text leaks"
    );
    assert_eq!(
        app.db.count("SELECT count(*) AS n FROM appointments").await,
        0
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) AS n FROM notification_outbox")
            .await,
        0
    );
    app.db
        .execute("DROP TRIGGER fail_outbox ON notification_outbox")
        .await;
    let (status, _) = book(&app, &patient, booking("2031-06-01T10:00:00Z")).await;
    assert_eq!(status, StatusCode::CREATED, "the slot was never taken");
}

#[tokio::test]
async fn lists_are_paged_filtered_and_scoped_to_the_caller() {
    let (app, patient) = setup().await;
    let other = login(&app, "uid-oth", "oth@example.com").await;
    let admin = login_admin(&app, "uid-adm5", "adm5@example.com").await;
    for day in 1..=5 {
        let mut body = booking(&format!("2032-01-0{day}T10:00:00Z"));
        body["doctor_id"] = json!(null);
        book(&app, &patient, body).await;
    }
    let mut theirs = booking("2032-02-01T10:00:00Z");
    theirs["doctor_id"] = json!(null);
    let (_, their) = book(&app, &other, theirs).await;
    let (status, page) = status_json(
        call(
            &app,
            Method::GET,
            "/api/v1/appointments?page=2&page_size=2",
            Some(&patient.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the other slash form is served directly"
    );
    assert_eq!(page["total"], 5);
    assert_eq!(page["page"], 2);
    assert_eq!(page["page_size"], 2);
    let dates: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["appointment_at"].as_str().unwrap())
        .collect();
    assert_eq!(
        dates,
        vec!["2032-01-03T10:00:00Z", "2032-01-02T10:00:00Z"],
        "newest first"
    );
    let (_, past_end) = status_json(
        call(
            &app,
            Method::GET,
            "/api/v1/appointments/?page=9",
            Some(&patient.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(past_end["items"], json!([]));
    assert_eq!(past_end["total"], 5);
    let (_, ranged) = status_json(
        call(
            &app,
            Method::GET,
            "/api/v1/appointments/?from_date=2032-01-02&to_date=2032-01-04T10:00:00",
            Some(&patient.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(ranged["total"], 3, "inclusive bounds");
    let (_, inverted) = status_json(
        call(
            &app,
            Method::GET,
            "/api/v1/appointments/?from_date=2032-02-01&to_date=2032-01-01",
            Some(&patient.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(inverted["total"], 0);

    let their_id = their["id"].as_str().unwrap();
    call(
        &app,
        Method::DELETE,
        &format!("/api/v1/appointments/{their_id}"),
        Some(&other.access),
        None,
    )
    .await;
    let (status, admin_page) = status_json(
        call(
            &app,
            Method::GET,
            "/api/v1/admin/appointments?page_size=100",
            Some(&admin.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        admin_page["total"], 5,
        "soft-deleted rows excluded by default"
    );
    assert_eq!(admin_page["total_pages"], 1);
    assert!(
        admin_page["appointments"][0]
            .get("doctor_clinic_id")
            .is_some()
    );
    let (_, with_deleted) = status_json(
        call(
            &app,
            Method::GET,
            "/api/v1/admin/appointments?include_deleted=true",
            Some(&admin.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(with_deleted["total"], 6);
    let (_, by_patient) = status_json(
        call(
            &app,
            Method::GET,
            &format!(
                "/api/v1/admin/appointments?patient_id={}&include_deleted=1",
                other.id
            ),
            Some(&admin.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(by_patient["total"], 1);
    assert_eq!(
        call(
            &app,
            Method::GET,
            "/api/v1/admin/appointments",
            Some(&patient.access),
            None
        )
        .await
        .status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn flutter_habits_are_accepted() {
    let app = spawn_app().await;
    mount_certs(&app).await;
    let patient = login(&app, "uid-fl", "fl@example.com").await;
    // No trailing slash, Content-Type on a bodiless DELETE, explicit nulls, float page size.
    let mut body = booking("2032-03-01 09:30");
    body["doctor_id"] = json!(null);
    body["clinic_id"] = json!(null);
    let response = app
        .client
        .post(app.url("/api/v1/appointments"))
        .bearer_auth(&patient.access)
        .json(&body)
        .send()
        .await
        .unwrap();
    let (status, created) = status_json(response).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["appointment_at"], "2032-03-01T09:30:00Z");
    let id = created["id"].as_str().unwrap();
    let (status, _) = status_json(
        call(
            &app,
            Method::GET,
            "/api/v1/appointments/?page_size=100.0",
            Some(&patient.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let response = app
        .client
        .delete(app.url(&format!("/api/v1/appointments/{id}/")))
        .bearer_auth(&patient.access)
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn datetimes_outside_years_0001_to_9999_are_422_never_500() {
    let (app, patient) = setup().await;
    for at in [
        json!("0000-12-31T10:00:00Z"),
        json!("0001-01-01T00:30:00+01:00"),
        json!("9999-12-31T23:30:00-01:00"),
        json!(-1.0e11),
        json!(9.9e11),
        json!(-62_135_596_801.0),
    ] {
        let mut body = booking("2030-01-01T10:00:00");
        body["appointment_at"] = at.clone();
        let (status, response) = book(&app, &patient, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{at}: {response}");
        assert_eq!(
            response["details"][0]["loc"],
            json!(["body", "appointment_at"]),
            "{at}: {response}"
        );
        let mut body = booking("2030-01-01T10:00:00");
        body["appointment_end_at"] = at.clone();
        let (status, response) = book(&app, &patient, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{at}: {response}");
    }
    assert_eq!(
        app.db.count("SELECT count(*) AS n FROM appointments").await,
        0
    );
}

#[tokio::test]
async fn a_row_stored_before_the_range_checks_is_read_back_in_the_output_form() {
    let (app, patient) = setup().await;
    let id = appointment_in(&app, &patient, "2030-01-01T10:00:00Z").await;
    // Rows written before the schema's range checks existed may hold any year PostgreSQL
    // allows; the checks are dropped here to store such a row the way an old import did.
    app.db
        .execute(&format!(
            "ALTER TABLE appointments DROP CONSTRAINT appointments_appointment_at_in_range;
             ALTER TABLE appointments DROP CONSTRAINT appointments_appointment_end_at_in_range;
             ALTER TABLE appointments DROP CONSTRAINT appointments_end_after_start;
             UPDATE appointments SET appointment_at = '0044-03-15T12:00:00Z BC',
                                     appointment_end_at = '12000-01-01T00:00:00Z' WHERE id = '{id}';"
        ))
        .await;
    for path in [
        format!("/api/v1/appointments/{id}"),
        "/api/v1/appointments/".to_owned(),
    ] {
        let (status, body) =
            status_json(call(&app, Method::GET, &path, Some(&patient.access), None).await).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        let record = if body["items"].is_array() {
            &body["items"][0]
        } else {
            &body
        };
        assert_eq!(record["appointment_at"], "0001-01-01T00:00:00Z", "{path}");
        assert_eq!(
            record["appointment_end_at"], "9999-12-31T23:59:59.999999Z",
            "{path}"
        );
    }
}

#[tokio::test]
async fn many_rounds_of_concurrent_overlapping_bookings_never_answer_5xx() {
    let (app, patient) = setup().await;
    let mut statuses = Vec::new();
    for round in 0..15 {
        let attempts = (0..12).map(|i| {
            let app = &app;
            let patient = &patient;
            async move {
                // Overlapping 30-minute slots of one doctor on the round's day.
                let at = format!(
                    "2031-{:02}-{:02}T10:{:02}:00Z",
                    1 + round / 28,
                    1 + round % 28,
                    i * 2
                );
                book(app, patient, booking(&at)).await.0
            }
        });
        let round_statuses = futures_util::future::join_all(attempts).await;
        assert_eq!(
            round_statuses
                .iter()
                .filter(|s| **s == StatusCode::CREATED)
                .count(),
            1,
            "round {round}: {round_statuses:?}"
        );
        statuses.extend(round_statuses);
    }
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn concurrent_reschedules_into_one_slot_give_one_200_and_409s_never_5xx() {
    let (app, patient) = setup().await;
    for round in 0..8 {
        // Eight appointments of the doctor on separate hours, all moved to one slot at once.
        let mut ids = Vec::new();
        for hour in 0..8 {
            let at = format!(
                "2032-{:02}-{:02}T{:02}:00:00Z",
                1 + round / 28,
                1 + round % 28,
                9 + hour
            );
            ids.push(appointment_in(&app, &patient, &at).await);
        }
        let target = format!(
            "2032-{:02}-{:02}T20:{:02}:00Z",
            1 + round / 28,
            1 + round % 28,
            round
        );
        let moves = ids.iter().map(|id| {
            let app = &app;
            let patient = &patient;
            let target = target.clone();
            async move {
                let path = format!("/api/v1/appointments/{id}");
                call(
                    app,
                    Method::PUT,
                    &path,
                    Some(&patient.access),
                    Some(json!({"appointment_at": target})),
                )
                .await
                .status()
            }
        });
        let statuses = futures_util::future::join_all(moves).await;
        let moved = statuses.iter().filter(|s| **s == StatusCode::OK).count();
        let refused = statuses
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count();
        assert_eq!((moved, refused), (1, 7), "round {round}: {statuses:?}");
    }
}

/// One request of the idempotency family: who sends it, with which key, which body.
struct KeyedAttempt {
    patient: usize,
    key: Option<String>,
    body: Value,
}

#[tokio::test]
async fn idempotent_replays_under_many_interleavings_never_answer_5xx_or_store_twice() {
    let (app, first) = setup().await;
    let second = login(&app, "uid-pat-2", "pat2@example.com").await;
    let patients = [&first, &second];
    for round in 0..10u32 {
        let day = format!("2033-{:02}-{:02}", 1 + round / 28, 1 + round % 28);
        let key = format!("replay-key-{round}");
        let slot = booking(&format!("{day}T10:00:00Z"));
        let mut other_body = booking(&format!("{day}T14:00:00Z"));
        other_body["reason"] = json!("Another request under the same key");
        // The same key with the same body (replays), with another body (mismatch), the same
        // key spelled by another patient (keys are per caller), and keyless bookings racing
        // for the same slot.
        let mut attempts = Vec::new();
        for _ in 0..6 {
            attempts.push(KeyedAttempt {
                patient: 0,
                key: Some(key.clone()),
                body: slot.clone(),
            });
        }
        for _ in 0..3 {
            attempts.push(KeyedAttempt {
                patient: 0,
                key: Some(key.clone()),
                body: other_body.clone(),
            });
            attempts.push(KeyedAttempt {
                patient: 1,
                key: Some(key.clone()),
                body: slot.clone(),
            });
            attempts.push(KeyedAttempt {
                patient: 0,
                key: None,
                body: booking(&format!("{day}T10:10:00Z")),
            });
        }
        // A different start order each round (a fixed rotation keeps the test reproducible).
        let shift = (round as usize * 5) % attempts.len();
        attempts.rotate_left(shift);
        let sends = attempts.iter().map(|attempt| {
            let app = &app;
            let token = patients[attempt.patient].access.clone();
            async move {
                let mut request = app
                    .client
                    .post(app.url("/api/v1/appointments/"))
                    .bearer_auth(token)
                    .json(&attempt.body);
                if let Some(key) = &attempt.key {
                    request = request.header("idempotency-key", key);
                }
                let response = request.send().await.unwrap();
                let replayed = response.headers().get("idempotent-replayed").is_some();
                let (status, json) = status_json(response).await;
                (status, json["id"].as_str().map(str::to_owned), replayed)
            }
        });
        let results = futures_util::future::join_all(sends).await;
        assert!(
            results
                .iter()
                .all(|(s, _, _)| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT),
            "round {round}: {results:?}"
        );

        // Every 201 of the first patient's key names one appointment, and only the body that
        // claimed the key first is answered 201 under it.
        let keyed: Vec<_> = attempts
            .iter()
            .zip(&results)
            .filter(|(a, _)| a.patient == 0 && a.key.is_some())
            .collect();
        let created_ids: std::collections::BTreeSet<_> = keyed
            .iter()
            .filter(|(_, (s, _, _))| *s == StatusCode::CREATED)
            .filter_map(|(_, (_, id, _))| id.clone())
            .collect();
        assert!(created_ids.len() <= 1, "round {round}: {created_ids:?}");
        let winning_bodies: std::collections::BTreeSet<_> = keyed
            .iter()
            .filter(|(_, (s, _, _))| *s == StatusCode::CREATED)
            .map(|(a, _)| a.body["appointment_at"].to_string())
            .collect();
        assert!(
            winning_bodies.len() <= 1,
            "round {round}: {winning_bodies:?}"
        );
        let fresh = keyed
            .iter()
            .filter(|(_, (s, _, replayed))| *s == StatusCode::CREATED && !replayed)
            .count();
        assert!(
            fresh <= 1,
            "round {round}: {fresh} first answers under one key"
        );

        // The database agrees: one key row per caller at most, pointing at the answered id;
        // no two live appointments of the doctor overlap; one outbox event per appointment.
        let key_rows = app
            .db
            .count(&format!(
                "SELECT count(*) AS n FROM idempotency_keys WHERE idem_key = '{key}' AND response_status = 201"
            ))
            .await;
        assert!(key_rows <= 2, "round {round}: {key_rows} key rows");
        if let Some(id) = created_ids.iter().next() {
            assert_eq!(
                app.db
                    .count(&format!(
                        "SELECT count(*) AS n FROM idempotency_keys WHERE idem_key = '{key}' AND resource_id = '{id}'"
                    ))
                    .await,
                1,
                "round {round}"
            );
        }
        assert_eq!(
            app.db
                .count(
                    "SELECT count(*) AS n FROM appointments a JOIN appointments b
                       ON a.id < b.id AND a.doctor_id = b.doctor_id
                      AND a.status <> 'cancelled' AND b.status <> 'cancelled'
                      AND a.deleted_at IS NULL AND b.deleted_at IS NULL
                      AND appointment_busy_range(a.appointment_at, a.appointment_end_at)
                       && appointment_busy_range(b.appointment_at, b.appointment_end_at)"
                )
                .await,
            0,
            "round {round}: overlapping appointments stored"
        );
        assert_eq!(
            app.db
                .count("SELECT count(*) AS n FROM notification_outbox")
                .await,
            app.db.count("SELECT count(*) AS n FROM appointments").await,
            "round {round}: one outbox event per stored appointment"
        );
    }
}

#[tokio::test]
async fn admin_appointment_cursors_walk_the_numbered_pages_row_for_row() {
    let (app, patient) = setup().await;
    let admin = login_admin(&app, "uid-cursor-adm", "cursor-adm@example.com").await;
    // 61 rows: four per instant (ties broken by id), the doctor on every fourth (one per
    // instant, so never overlapping), statuses in turn, every seventh soft-deleted, two owners.
    app.db
        .execute(&format!(
            "INSERT INTO appointments (patient_id, doctor_id, clinic_id, doctor_name, appointment_at,
                                       reason, contact_phone, status, deleted_at)
             SELECT CASE WHEN n % 2 = 0 THEN '{patient}'::uuid ELSE '{admin}'::uuid END,
                    CASE WHEN n % 4 = 0 THEN '{DOCTOR}'::uuid END,
                    CASE WHEN n % 3 = 0 THEN '{CLINIC}'::uuid END,
                    'Dr', timestamptz '2032-06-01 09:00:00+00' + (n / 4) * interval '1 hour',
                    'checkup', '9876543210',
                    (ARRAY['scheduled','confirmed','completed','cancelled','no_show','rescheduled'])[1 + n % 6],
                    CASE WHEN n % 7 = 0 THEN timestamptz '2032-01-01 00:00:00+00' END
             FROM generate_series(1, 61) AS n",
            patient = patient.id,
            admin = admin.id,
        ))
        .await;
    let path = "/api/v1/admin/appointments";
    let mut seen = Vec::new();
    for (query, expected) in [
        ("page_size=7".to_owned(), 53),
        ("page_size=7&include_deleted=true".to_owned(), 61),
        ("page_size=4&status=scheduled".to_owned(), 9),
        (
            format!("page_size=3&doctor_id={DOCTOR}&include_deleted=1"),
            15,
        ),
        (format!("page_size=5&patient_id={}", patient.id), 26),
        (
            format!("page_size=2&clinic_id={CLINIC}&status=cancelled"),
            9,
        ),
        (
            "page_size=6&from_date=2032-06-01T11:00:00Z&to_date=2032-06-01T20:00:00".to_owned(),
            35,
        ),
        ("page_size=100".to_owned(), 53),
        ("status=no_show&from_date=2033-01-01".to_owned(), 0),
    ] {
        let (numbered, walked) = numbered_and_cursor_walks(&app, &admin.access, path, &query).await;
        let ids = assert_walks_agree(&numbered, &walked, "appointments");
        assert_eq!(ids.len(), expected, "{query}");
        seen.push((query, numbered));
    }
    // The full walk is in listing order: appointment_at DESC, then id DESC.
    let full = &seen[1].1;
    let keys: Vec<(String, String)> = full
        .iter()
        .flat_map(|page| page["appointments"].as_array().unwrap().clone())
        .map(|a| {
            (
                a["appointment_at"].as_str().unwrap().to_owned(),
                a["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(keys, sorted);

    let cursor = seen[0].1[0]["next_cursor"].as_str().unwrap().to_owned();
    let issue = admin_list_422(
        &app,
        &admin.access,
        path,
        format!("page_size=7&cursor={}", cursor.to_uppercase()),
    )
    .await;
    assert_eq!(issue["loc"], json!(["query", "cursor"]));
    assert_eq!(issue["type"], "value_error");
    let issue = admin_list_422(
        &app,
        &admin.access,
        path,
        format!("page_size=7&include_deleted=true&cursor={cursor}"),
    )
    .await;
    assert!(
        issue["msg"]
            .as_str()
            .unwrap()
            .starts_with("The cursor belongs to another query"),
        "{issue}"
    );
    let issue = admin_list_422(
        &app,
        &admin.access,
        path,
        format!("page_size=7&page=2&cursor={cursor}"),
    )
    .await;
    assert_eq!(issue["loc"], json!(["query", "page"]));
    // A users cursor is not an appointments cursor.
    let (_, users) = status_json(
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
    let users_cursor = users["next_cursor"].as_str().unwrap();
    let issue = admin_list_422(
        &app,
        &admin.access,
        path,
        format!("page_size=1&cursor={users_cursor}"),
    )
    .await;
    assert_eq!(issue["loc"], json!(["query", "cursor"]));
    // Reported with the other failures of the query, in one 422.
    let (status, body) = status_json(
        call(
            &app,
            Method::GET,
            &format!("{path}?status=lost&cursor=zz"),
            Some(&admin.access),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let locs: Vec<&Value> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["loc"])
        .collect();
    assert_eq!(
        locs,
        vec![&json!(["query", "status"]), &json!(["query", "cursor"])],
        "{body}"
    );
}

#[tokio::test]
async fn the_postgres_repository_meets_the_appointment_repository_contract() {
    use medico24_appointments::booking::testing::contract;
    let db = medico24_testkit::TestDb::new().await;
    let fixture = contract::Fixture {
        patient: medico24_kernel::UserId::from_uuid(uuid::Uuid::new_v4()),
        other_patient: medico24_kernel::UserId::from_uuid(uuid::Uuid::new_v4()),
        doctor: uuid::Uuid::new_v4(),
        clinic: uuid::Uuid::new_v4(),
    };
    let (patient, other, doctor, clinic) = (
        fixture.patient.as_uuid(),
        fixture.other_patient.as_uuid(),
        fixture.doctor,
        fixture.clinic,
    );
    db.execute(&format!(
        "INSERT INTO users (id, firebase_uid, email) VALUES ('{patient}', 'fb-{patient}', 'p@example.com'), ('{other}', 'fb-{other}', 'o@example.com');
         INSERT INTO doctors (id, email, full_name, license_number, specialization) VALUES ('{doctor}', 'c@example.com', 'Dr Contract', 'LIC-C', 'Cardiology');
         INSERT INTO clinics (id, name, slug, address, latitude, longitude) VALUES ('{clinic}', 'Contract Clinic', 'contract-clinic', 'Mumbai', 19.07, 72.87);"
    ))
    .await;
    let repo = medico24_postgres::PgAppointmentRepository::new(db.pool(2));
    contract::appointment_repository(&repo, fixture, chrono::Utc::now()).await;
}
