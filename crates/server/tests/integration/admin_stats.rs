//! Admin statistics end to end: every number of `/admin/metrics` and
//! `/admin/dashboard/stats` checked against seeded data whose counts are known by construction
//! (and cross-checked with the test's own SQL), the chart's dates and weekday names, the live
//! status lines, and the admin-only access rules.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Days, TimeDelta, Utc};
use medico24_testkit::{TestApp, spawn_app, spawn_app_with};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Session, call, login, login_admin, mount_certs, status_json};

const METRICS: &str = "/api/v1/admin/metrics";
const DASHBOARD: &str = "/api/v1/admin/dashboard/stats";

/// The counts depend on the UTC day; a run that would straddle midnight waits for it instead.
async fn away_from_midnight() {
    let now = Utc::now();
    let midnight = (now.date_naive() + Days::new(1))
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    let left = midnight - now;
    if left < TimeDelta::minutes(2) {
        tokio::time::sleep((left + TimeDelta::seconds(1)).to_std().unwrap()).await;
    }
}

fn ts(at: DateTime<Utc>) -> String {
    format!("'{}'::timestamptz", at.to_rfc3339())
}

fn today_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc()
}

async fn get(app: &TestApp, path: &str, session: Option<&Session>) -> (StatusCode, Value) {
    status_json(
        call(
            app,
            Method::GET,
            path,
            session.map(|s| s.access.as_str()),
            None,
        )
        .await,
    )
    .await
}

/// What was seeded, by construction.
struct Seeded {
    /// UTC midnight of the seeding day.
    today: DateTime<Utc>,
}

/// Users, appointments, pharmacies, notifications, push tokens and deliveries around "now".
///
/// With the two logged-in users (an admin and `patient`), the expected figures are:
/// users 8 (active 6; patient 3, doctor 2, pharmacy 2, admin 1; 3 created over 30 days ago);
/// appointments 8 non-deleted (scheduled 3, confirmed 1, rescheduled 1, cancelled 1,
/// completed 1, no_show 1), 3 non-cancelled today; pharmacies 5 (verified 3, active 4), 3
/// created in the last 7 days; notifications sent today 2, this week 3, this month 4; the
/// deliveries of the last 24 h: 6 of 7 successful.
async fn seed(app: &TestApp, patient: &Session) -> Seeded {
    let now = Utc::now();
    let d = today_start(now);
    let day = TimeDelta::days(1);
    let hour = TimeDelta::hours(1);
    let p = &patient.id;

    app.db
        .execute(&format!(
            "INSERT INTO users (firebase_uid, email, role, is_active, created_at) VALUES
             ('old-1', 'old1@example.com', 'patient', true, {}),
             ('old-2', 'old2@example.com', 'doctor', false, {}),
             ('old-3', 'old3@example.com', 'pharmacy', true, {}),
             ('new-1', 'new1@example.com', 'doctor', true, {}),
             ('new-2', 'new2@example.com', 'patient', false, {}),
             ('new-3', 'new3@example.com', 'pharmacy', true, {});",
            ts(now - day * 40),
            ts(now - day * 40),
            ts(now - day * 31),
            ts(now - day * 2),
            ts(now - day),
            ts(now - day * 29),
        ))
        .await;

    // (status, appointment_at, created_at, deleted)
    let appointments = [
        ("scheduled", d + hour * 12, d + hour, false),
        ("scheduled", d + hour * 36, d - day + hour, false),
        ("confirmed", d + hour * 12, d - day + hour * 2, false),
        ("rescheduled", d - hour * 12, d - day * 2 + hour, false),
        ("cancelled", d + hour * 12, d - day * 3 + hour, false),
        ("completed", d - hour * 36, d - day * 6 + hour, false),
        ("no_show", d - hour * 60, d - day * 7 + hour, false),
        ("confirmed", d + hour * 12, d - day * 6 + hour * 23, true),
        ("scheduled", d + hour * 13, d + hour * 2, false),
    ];
    let rows: Vec<String> = appointments
        .iter()
        .map(|(status, at, created, deleted)| {
            format!(
                "('{p}', 'Dr. Rao', {}, 'Checkup', '+911234567890', '{status}', {}, {})",
                ts(*at),
                ts(*created),
                if *deleted { ts(now) } else { "NULL".to_owned() }
            )
        })
        .collect();
    app.db
        .execute(&format!(
            "INSERT INTO appointments (patient_id, doctor_name, appointment_at, reason, contact_phone, status, created_at, deleted_at) VALUES {};",
            rows.join(", ")
        ))
        .await;

    app.db
        .execute(&format!(
            "INSERT INTO pharmacies (name, is_verified, is_active, created_at) VALUES
             ('P1', true, true, {}),
             ('P2', true, false, {}),
             ('P3', false, true, {}),
             ('P4', false, true, {}),
             ('P5', true, true, {});",
            ts(now - day * 30),
            ts(d - day * 2 + hour * 5),
            ts(d + TimeDelta::minutes(1)),
            ts(d - day * 6 + hour),
            ts(d - day * 8),
        ))
        .await;

    let n: Vec<uuid::Uuid> = (0..6).map(|_| uuid::Uuid::new_v4()).collect();
    let t: Vec<uuid::Uuid> = (0..4).map(|_| uuid::Uuid::new_v4()).collect();
    app.db
        .execute(&format!(
            "INSERT INTO notifications (id, user_id, title, body, notification_type, status, sent_at) VALUES
             ('{}', '{p}', 't', 'b', 'other', 'sent', {}),
             ('{}', '{p}', 't', 'b', 'other', 'sent', {}),
             ('{}', '{p}', 't', 'b', 'other', 'sent', {}),
             ('{}', '{p}', 't', 'b', 'other', 'sent', {}),
             ('{}', '{p}', 't', 'b', 'other', 'sent', {}),
             ('{}', '{p}', 't', 'b', 'other', 'pending', NULL);
             INSERT INTO push_tokens (id, user_id, fcm_token, platform) VALUES
             ('{}', '{p}', 'tok-1', 'android'), ('{}', '{p}', 'tok-2', 'ios'),
             ('{}', '{p}', 'tok-3', 'web'), ('{}', '{p}', 'tok-4', 'android');
             INSERT INTO notification_deliveries (notification_id, push_token_id, delivery_status) VALUES
             ('{n0}', '{t0}', 'sent'), ('{n0}', '{t1}', 'delivered'), ('{n0}', '{t2}', 'delivered'),
             ('{n0}', '{t3}', 'failed'),
             ('{n1}', '{t0}', 'sent'), ('{n1}', '{t1}', 'sent'), ('{n1}', '{t2}', 'delivered'),
             ('{n2}', '{t0}', 'failed'), ('{n2}', '{t1}', 'invalid_token');",
            n[0],
            ts(d),
            n[1],
            ts(now),
            n[2],
            ts(now - day * 3),
            n[3],
            ts(now - day * 20),
            n[4],
            ts(now - day * 40),
            n[5],
            t[0],
            t[1],
            t[2],
            t[3],
            n0 = n[0],
            n1 = n[1],
            n2 = n[2],
            t0 = t[0],
            t1 = t[1],
            t2 = t[2],
            t3 = t[3],
        ))
        .await;
    Seeded { today: d }
}

async fn admin_and_patient(app: &TestApp) -> (Session, Session) {
    mount_certs(app).await;
    let admin = login_admin(app, "uid-admin", "admin@example.com").await;
    let patient = login(app, "uid-patient", "patient@example.com").await;
    (admin, patient)
}

#[tokio::test]
async fn both_endpoints_are_for_admins_only() {
    let app = spawn_app().await;
    let (admin, patient) = admin_and_patient(&app).await;
    for path in [METRICS, DASHBOARD] {
        let (status, body) = get(&app, path, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
        let (status, body) = get(&app, path, Some(&patient)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert_eq!(body["message"], "Admin access required");
        let (status, body) = get(&app, path, Some(&admin)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
}

#[tokio::test]
async fn metrics_count_every_category_over_seeded_data() {
    away_from_midnight().await;
    let app = spawn_app().await;
    let (admin, patient) = admin_and_patient(&app).await;
    seed(&app, &patient).await;

    let (status, body) = get(&app, METRICS, Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({
            "users": {"total": 8, "active": 6,
                      "by_role": {"patient": 3, "doctor": 2, "pharmacy": 2, "admin": 1}},
            "appointments": {"total": 8, "pending": 3, "confirmed": 1,
                "by_status": {"scheduled": 3, "confirmed": 1, "rescheduled": 1, "cancelled": 1,
                              "completed": 1, "no_show": 1}},
            "pharmacies": {"total": 5, "verified": 3, "active": 4},
            "notifications": {"sent_today": 2, "sent_this_week": 3, "sent_this_month": 4}
        })
    );

    // The same figures by the test's own queries.
    let db = &app.db;
    assert_eq!(
        body["users"]["active"],
        db.count("SELECT count(*) AS n FROM users WHERE is_active")
            .await
    );
    assert_eq!(
        body["appointments"]["total"],
        db.count("SELECT count(*) AS n FROM appointments WHERE deleted_at IS NULL")
            .await
    );
    assert_eq!(
        body["appointments"]["by_status"]["confirmed"],
        db.count(
            "SELECT count(*) AS n FROM appointments WHERE deleted_at IS NULL AND status = 'confirmed'"
        )
        .await
    );
    assert_eq!(
        body["notifications"]["sent_this_week"],
        db.count(
            "SELECT count(*) AS n FROM notifications WHERE sent_at >= now() - interval '7 days'"
        )
        .await
    );
    assert_eq!(
        body["notifications"]["sent_today"],
        db.count(
            "SELECT count(*) AS n FROM notifications WHERE sent_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
        )
        .await
    );
}

#[tokio::test]
async fn the_dashboard_reports_cards_a_seven_day_chart_and_live_status() {
    away_from_midnight().await;
    let app = spawn_app().await;
    let (admin, patient) = admin_and_patient(&app).await;
    let seeded = seed(&app, &patient).await;

    let (status, body) = get(&app, DASHBOARD, Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["stats"],
        json!({
            // (8 − 3) / 3 × 100 = 166.67
            "total_users": {"value": 8, "change": "+166.7%", "description": "from last month"},
            "appointments": {"value": 8, "change": "+3", "description": "active today"},
            "verified_pharmacies": {"value": 3, "change": "+3", "description": "new this week"},
            // 6 of 7 deliveries of today's notifications: 85.71 %
            "notifications_sent": {"value": 2, "change": "85.7%", "description": "delivery rate"}
        })
    );

    // Oldest first: today − 6 … today.
    let appointments_by_age = [1, 0, 0, 1, 1, 2, 2];
    let pharmacies_by_age = [1, 0, 0, 0, 1, 0, 1];
    let expected_chart: Vec<Value> = (0..7)
        .map(|i| {
            let date = (seeded.today - TimeDelta::days(6 - i)).date_naive();
            json!({
                "name": date.weekday().to_string(),
                "date": date.format("%Y-%m-%d").to_string(),
                "appointments": appointments_by_age[i as usize],
                "pharmacies": pharmacies_by_age[i as usize],
            })
        })
        .collect();
    assert_eq!(body["chart_data"], Value::Array(expected_chart));
    let names: Vec<&str> = body["chart_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].contains(n))
    );
    assert_eq!(
        body["chart_data"][6]["date"],
        Utc::now().date_naive().format("%Y-%m-%d").to_string()
    );
    assert_eq!(
        body["chart_data"][6]["appointments"],
        app.db
            .count(
                "SELECT count(*) AS n FROM appointments WHERE deleted_at IS NULL
                 AND (created_at AT TIME ZONE 'UTC')::date = (now() AT TIME ZONE 'UTC')::date"
            )
            .await
    );

    let activity = body["recent_activity"].as_array().unwrap();
    assert_eq!(activity.len(), 4);
    assert!(activity.iter().all(|a| a["time"] == "Now"));
    let titles: Vec<&str> = activity
        .iter()
        .map(|a| a["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        [
            "Main API Online",
            "PostGIS Database",
            "Redis Cache",
            "Firebase Cloud Messaging"
        ]
    );
    assert_eq!(activity[0]["status"], "online");
    let uptime = activity[0]["description"].as_str().unwrap();
    let parts: Vec<&str> = uptime.strip_prefix("Uptime ").unwrap().split(' ').collect();
    assert_eq!(parts.len(), 3, "{uptime}");
    for (part, unit) in parts.iter().zip(['d', 'h', 'm']) {
        let digits = part.strip_suffix(unit).unwrap();
        assert!(digits.parse::<u64>().is_ok(), "{uptime}");
    }
    for database_or_redis in &activity[1..3] {
        assert_eq!(database_or_redis["status"], "online");
        let latency = database_or_redis["description"].as_str().unwrap();
        let ms = latency
            .strip_prefix("Latency ")
            .and_then(|l| l.strip_suffix(" ms"))
            .unwrap();
        assert!(ms.parse::<f64>().is_ok(), "{latency}");
    }
    // No service account in the test settings.
    assert_eq!(activity[3]["status"], "offline");
    assert_eq!(activity[3]["description"], "Push provider not configured");
}

#[tokio::test]
async fn an_empty_platform_has_zero_counts_no_growth_and_a_full_delivery_rate() {
    let app = spawn_app_with(|vars: &mut HashMap<String, String>| {
        vars.insert(
            "FIREBASE_CONFIG_JSON".into(),
            medico24_testkit::FirebaseKeys::shared()
                .service_account_json("medico24-test", "http://127.0.0.1:1/token"),
        );
    })
    .await;
    mount_certs(&app).await;
    let admin = login_admin(&app, "uid-admin", "admin@example.com").await;

    let (status, body) = get(&app, METRICS, Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({
            "users": {"total": 1, "active": 1,
                      "by_role": {"patient": 0, "doctor": 0, "pharmacy": 0, "admin": 1}},
            "appointments": {"total": 0, "pending": 0, "confirmed": 0,
                "by_status": {"scheduled": 0, "confirmed": 0, "rescheduled": 0, "cancelled": 0,
                              "completed": 0, "no_show": 0}},
            "pharmacies": {"total": 0, "verified": 0, "active": 0},
            "notifications": {"sent_today": 0, "sent_this_week": 0, "sent_this_month": 0}
        })
    );

    let (status, body) = get(&app, DASHBOARD, Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["stats"]["total_users"]["change"], "+0.0%");
    assert_eq!(body["stats"]["appointments"]["change"], "+0");
    assert_eq!(body["stats"]["verified_pharmacies"]["change"], "+0");
    assert_eq!(body["stats"]["notifications_sent"]["value"], 0);
    assert_eq!(body["stats"]["notifications_sent"]["change"], "100.0%");
    let chart = body["chart_data"].as_array().unwrap();
    assert_eq!(chart.len(), 7);
    assert!(
        chart
            .iter()
            .all(|d| d["appointments"] == 0 && d["pharmacies"] == 0)
    );
    let push = &body["recent_activity"][3];
    assert_eq!(push["status"], "online");
    assert_eq!(push["description"], "Delivery rate 100.0% in the last 24h");
}

#[tokio::test]
async fn a_delivery_rate_below_95_percent_turns_push_status_to_warning() {
    let app = spawn_app_with(|vars: &mut HashMap<String, String>| {
        vars.insert(
            "FIREBASE_CONFIG_JSON".into(),
            medico24_testkit::FirebaseKeys::shared()
                .service_account_json("medico24-test", "http://127.0.0.1:1/token"),
        );
    })
    .await;
    let (admin, patient) = admin_and_patient(&app).await;
    seed(&app, &patient).await;
    let (status, body) = get(&app, DASHBOARD, Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let push = &body["recent_activity"][3];
    assert_eq!(push["status"], "warning");
    assert_eq!(push["description"], "Delivery rate 85.7% in the last 24h");
}

/// A small deterministic generator (xorshift), so a failing workload can be replayed.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len() as u64) as usize]
    }

    /// An instant to the microsecond: half the time within `days` days either side of `now`,
    /// half the time within 90 minutes of a window edge (24 hours, 7 and 30 days back, the
    /// day's and the chart's first midnight), so rows fall on both sides of every edge and
    /// inside the hours the edges cut.
    fn instant(&mut self, now: DateTime<Utc>, days: i64) -> String {
        if self.below(2) == 0 {
            let span = days * 86_400_000_000;
            let offset = self.below((2 * span) as u64) as i64 - span;
            return ts(now + TimeDelta::microseconds(offset));
        }
        let today = today_start(now);
        let edges = [
            now - TimeDelta::hours(24),
            now - TimeDelta::days(7),
            now - TimeDelta::days(30),
            today,
            today + TimeDelta::days(1),
            today - TimeDelta::days(6),
        ];
        let edge = edges[self.below(edges.len() as u64) as usize];
        let span: i64 = 90 * 60_000_000;
        let offset = self.below((2 * span) as u64) as i64 - span;
        ts(edge + TimeDelta::microseconds(offset))
    }
}

/// One writer's random statements over rows only it touches (tagged with `w<worker>-`), so
/// the writers never wait on each other's rows, only meet in the statistics.
async fn random_writes(app: &TestApp, patient: &str, worker: u64, steps: usize) {
    let mut dice = Dice(0x9E37_79B9_7F4A_7C15 ^ (worker + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let now = Utc::now();
    let tag = format!("w{worker}-");
    let roles = ["patient", "doctor", "pharmacy", "admin"];
    let statuses = [
        "scheduled",
        "confirmed",
        "rescheduled",
        "cancelled",
        "completed",
        "no_show",
    ];
    for step in 0..steps {
        let sql = match dice.below(12) {
            0 => {
                let rows: Vec<String> = (0..1 + dice.below(5))
                    .map(|i| {
                        format!(
                            "('{tag}{step}-{i}', '{tag}{step}-{i}@example.com', '{}', {}, {})",
                            dice.pick(&roles),
                            dice.below(2) == 0,
                            dice.instant(now, 35)
                        )
                    })
                    .collect();
                format!(
                    "INSERT INTO users (firebase_uid, email, role, is_active, created_at) VALUES {}",
                    rows.join(", ")
                )
            }
            1 => format!(
                "UPDATE users SET role = '{}', is_active = NOT is_active WHERE firebase_uid LIKE '{tag}{}%'",
                dice.pick(&roles),
                dice.below(steps as u64)
            ),
            2 => format!(
                "DELETE FROM users WHERE firebase_uid LIKE '{tag}{}-%'",
                dice.below(steps as u64)
            ),
            3 | 4 => {
                let rows: Vec<String> = (0..1 + dice.below(4))
                    .map(|_| {
                        format!(
                            "('{patient}', 'Dr. {tag}', {}, 'Checkup', '+911234567890', '{}', {})",
                            dice.instant(now, 3),
                            dice.pick(&statuses),
                            dice.instant(now, 10)
                        )
                    })
                    .collect();
                format!(
                    "INSERT INTO appointments (patient_id, doctor_name, appointment_at, reason, contact_phone, status, created_at) VALUES {}",
                    rows.join(", ")
                )
            }
            5 => format!(
                "UPDATE appointments SET status = '{}' WHERE doctor_name = 'Dr. {tag}' AND id IN (SELECT id FROM appointments WHERE doctor_name = 'Dr. {tag}' ORDER BY id LIMIT {})",
                dice.pick(&statuses),
                1 + dice.below(3)
            ),
            6 => format!(
                "UPDATE appointments SET deleted_at = CASE WHEN deleted_at IS NULL THEN now() END, appointment_at = {} WHERE id = (SELECT id FROM appointments WHERE doctor_name = 'Dr. {tag}' ORDER BY md5(id::text || '{step}') LIMIT 1)",
                dice.instant(now, 2)
            ),
            7 => format!(
                "DELETE FROM appointments WHERE id = (SELECT id FROM appointments WHERE doctor_name = 'Dr. {tag}' ORDER BY md5(id::text || '{step}') LIMIT 1)"
            ),
            8 => format!(
                "INSERT INTO pharmacies (name, is_verified, is_active, created_at) VALUES ('{tag}{step}', {}, {}, {})",
                dice.below(2) == 0,
                dice.below(2) == 0,
                dice.instant(now, 10)
            ),
            9 => format!(
                "UPDATE pharmacies SET is_verified = NOT is_verified, created_at = {} WHERE name LIKE '{tag}{}%'; DELETE FROM pharmacies WHERE name = '{tag}{}'",
                dice.instant(now, 10),
                dice.below(steps as u64),
                dice.below(steps as u64)
            ),
            10 => {
                let sent = if dice.below(4) == 0 {
                    "NULL".to_owned()
                } else {
                    dice.instant(now, 35)
                };
                format!(
                    "INSERT INTO notifications (user_id, title, body, notification_type, status, sent_at) VALUES ('{patient}', '{tag}{step}', 'b', 'other', 'sent', {sent})"
                )
            }
            _ => format!(
                "UPDATE notifications SET sent_at = {} WHERE title LIKE '{tag}{}%'; DELETE FROM notifications WHERE title = '{tag}{}'",
                dice.instant(now, 35),
                dice.below(steps as u64),
                dice.below(steps as u64)
            ),
        };
        app.db.execute(&sql).await;
    }
}

#[tokio::test]
async fn maintained_counts_equal_a_full_recount_after_a_random_concurrent_workload() {
    let app = spawn_app_with(|vars| {
        vars.insert("RATE_LIMIT_PER_MINUTE".into(), "100000".into());
    })
    .await;
    let (admin, patient) = admin_and_patient(&app).await;
    seed(&app, &patient).await;
    let stats = &app.state.admin_stats;

    for round in 0..3u64 {
        // Six writers of random statements, API bookings and cancellations, and folds, all at
        // once.
        let writers = (0..6).map(|w| random_writes(&app, &patient.id, round * 10 + w, 40));
        let bookings = async {
            for i in 0..12 {
                let at = Utc::now()
                    + TimeDelta::days(1 + i64::from(i))
                    + TimeDelta::minutes(7 * i64::from(i));
                let body = json!({
                    "doctor_name": "Dr. API",
                    "appointment_at": at.to_rfc3339(),
                    "reason": "Follow-up",
                    "contact_phone": "+911234567890"
                });
                let (status, created) = status_json(
                    call(
                        &app,
                        Method::POST,
                        "/api/v1/appointments/",
                        Some(&patient.access),
                        Some(body),
                    )
                    .await,
                )
                .await;
                assert_eq!(status, StatusCode::CREATED, "{created}");
                if i % 3 == 0 {
                    let path = format!("/api/v1/appointments/{}", created["id"].as_str().unwrap());
                    let (status, _) = status_json(
                        call(&app, Method::DELETE, &path, Some(&patient.access), None).await,
                    )
                    .await;
                    assert!(status.is_success(), "{status}");
                }
            }
        };
        let folds = async {
            for _ in 0..20 {
                stats.compact().await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        };
        futures_util::future::join3(futures_util::future::join_all(writers), bookings, folds).await;

        // With deltas pending and after folding them; at windows placed anywhere (edges inside
        // hours, days and weeks of the random instants).
        for fold in [false, true] {
            if fold {
                stats.compact().await.unwrap();
                assert_eq!(
                    app.db
                        .count("SELECT count(*) AS n FROM admin_stat_deltas")
                        .await,
                    0,
                    "a fold with no writer running leaves nothing pending"
                );
            }
            let now = Utc::now();
            for shift in [
                TimeDelta::zero(),
                TimeDelta::minutes(-17),
                TimeDelta::hours(-5) - TimeDelta::seconds(3),
                TimeDelta::days(2) + TimeDelta::minutes(31),
                TimeDelta::days(-9) + TimeDelta::microseconds(1),
            ] {
                let check = stats.check(now + shift).await.unwrap();
                assert!(
                    check.agrees(),
                    "round {round}, folded {fold}, shift {shift}:\nmaintained {:?}\nrecounted {:?}",
                    check.maintained,
                    check.recounted
                );
            }
        }
    }
    // What the endpoints answer is the maintained state.
    let (status, metrics) = get(&app, METRICS, Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    let recounted = stats.recount_metrics(Utc::now()).await.unwrap();
    assert_eq!(metrics["users"]["total"], recounted.users.total);
    assert_eq!(
        metrics["appointments"]["total"],
        recounted.appointments.total
    );
    assert_eq!(metrics["pharmacies"]["total"], recounted.pharmacies.total);

    // TRUNCATE fires no DELETE trigger; its own trigger empties the table's counts.
    app.db.execute("TRUNCATE pharmacies CASCADE").await;
    let check = stats.check(Utc::now()).await.unwrap();
    assert!(check.agrees(), "{check:?}");
    assert_eq!(check.maintained.0.pharmacies.total, 0);
}

#[tokio::test]
async fn writes_that_bypass_the_triggers_are_found_by_the_check_and_repaired_by_a_rebuild() {
    let app = spawn_app().await;
    let stats = &app.state.admin_stats;
    app.db
        .execute(
            "SET session_replication_role = replica;
             INSERT INTO pharmacies (name, is_verified, is_active) VALUES ('Imported', true, true);
             SET session_replication_role = origin;",
        )
        .await;
    let check = stats.check(Utc::now()).await.unwrap();
    assert!(!check.agrees());
    assert_eq!(
        check.recounted.0.pharmacies.total - check.maintained.0.pharmacies.total,
        1
    );
    stats.rebuild().await.unwrap();
    let check = stats.check(Utc::now()).await.unwrap();
    assert!(check.agrees(), "{check:?}");
    assert_eq!(check.maintained.0.pharmacies.verified, 1);
}
