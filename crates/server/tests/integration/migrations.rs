//! The embedded migrations build the whole schema and revert cleanly.

use medico24_testkit::TestDb;

/// Tables the migrated schema must have.
const TABLES: [&str; 16] = [
    "users",
    "patients",
    "admins",
    "pharmacy_staff",
    "doctors",
    "clinics",
    "doctor_clinics",
    "appointments",
    "pharmacies",
    "pharmacy_locations",
    "pharmacy_hours",
    "push_tokens",
    "notifications",
    "notification_deliveries",
    "audit_events",
    "notification_outbox",
];

/// Named constraints the schema must carry (clients and operators refer to them by name).
const CONSTRAINTS: [&str; 14] = [
    "users_role_check",
    "appointments_status_check",
    "appointments_source_check",
    "appointments_end_after_start",
    "appointments_no_overlap",
    "fk_appointments_patient_id",
    "clinics_status_check",
    "clinics_latitude_check",
    "clinics_longitude_check",
    "doctor_clinics_status_check",
    "push_tokens_platform_check",
    "notifications_status_check",
    "pharmacy_hours_day_check",
    "broadcasts_target_check",
];

/// Named indexes the schema must carry.
const INDEXES: [&str; 12] = [
    "idx_pharmacies_listing",
    "idx_notifications_logs_order",
    "ix_users_firebase_uid",
    "ix_users_email",
    "ix_doctors_email",
    "idx_doctors_languages_spoken",
    "idx_clinics_slug",
    "idx_clinics_geo",
    "idx_pharmacy_geo",
    "uq_doctor_clinic_active",
    "uq_push_tokens_active_fcm_token",
    "idx_notifications_sent_at",
];

async fn assert_end_schema(db: &TestDb) {
    for table in TABLES
        .iter()
        .chain(["idempotency_keys", "broadcasts"].iter())
    {
        let n = db
            .count(&format!(
                "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'public' AND table_name = '{table}'"
            ))
            .await;
        assert_eq!(n, 1, "table {table} missing");
    }
    for constraint in CONSTRAINTS {
        let n = db
            .count(&format!(
                "SELECT count(*) AS n FROM pg_constraint WHERE conname = '{constraint}'"
            ))
            .await;
        assert_eq!(n, 1, "constraint {constraint} missing");
    }
    for index in INDEXES {
        let n = db
            .count(&format!(
                "SELECT count(*) AS n FROM pg_indexes WHERE indexname = '{index}'"
            ))
            .await;
        assert_eq!(n, 1, "index {index} missing");
    }
    let triggers = db
        .count("SELECT count(*) AS n FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE '%updated_at%'")
        .await;
    assert!(triggers >= 10, "set_updated_at triggers: {triggers}");
    let role_triggers = db
        .count("SELECT count(*) AS n FROM pg_trigger WHERE tgname IN ('trigger_create_user_role', 'trigger_handle_role_change')")
        .await;
    assert_eq!(role_triggers, 0, "reference role triggers must be dropped");
    let generated = db
        .count(
            "SELECT count(*) AS n FROM information_schema.columns WHERE column_name = 'geo' \
             AND table_name IN ('clinics', 'pharmacy_locations') AND is_generated = 'ALWAYS'",
        )
        .await;
    assert_eq!(generated, 2, "geo columns must be generated");
}

async fn public_table_count(db: &TestDb) -> i64 {
    db.count(
        "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'public' \
         AND table_type = 'BASE TABLE' AND table_name NOT IN ('spatial_ref_sys', '__diesel_schema_migrations')",
    )
    .await
}

#[tokio::test]
async fn migrations_go_up_down_and_up_again() {
    let db = TestDb::empty().await;
    let applied = medico24_postgres::run_migrations(db.url())
        .await
        .expect("first up");
    assert_eq!(applied.len(), 9, "{applied:?}");
    assert_end_schema(&db).await;

    let reverted = medico24_postgres::revert_all_migrations(db.url())
        .await
        .expect("down");
    assert_eq!(reverted.len(), 9);
    assert_eq!(
        public_table_count(&db).await,
        0,
        "tables left after reverting everything"
    );

    medico24_postgres::run_migrations(db.url())
        .await
        .expect("second up");
    assert_end_schema(&db).await;
    let again = medico24_postgres::run_migrations(db.url())
        .await
        .expect("no-op up");
    assert!(again.is_empty());
}

#[tokio::test]
async fn the_schema_rejects_double_booking_of_a_doctor() {
    let db = TestDb::new().await;
    db.execute(
        "INSERT INTO users (id, firebase_uid, email) VALUES ('00000000-0000-0000-0000-000000000001', 'uid-1', 'p@example.com');
         INSERT INTO doctors (id, email, full_name) VALUES ('00000000-0000-0000-0000-0000000000d1', 'd@example.com', 'Dr A');
         INSERT INTO appointments (patient_id, doctor_id, doctor_name, appointment_at, reason, contact_phone)
         VALUES ('00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-0000000000d1', 'Dr A',
                 '2030-01-01T10:00:00Z', 'checkup', '9876543210');",
    )
    .await;
    let mut conn = db.connect().await;
    use diesel_async::SimpleAsyncConnection;
    let overlapping = conn
        .batch_execute(
            "INSERT INTO appointments (patient_id, doctor_id, doctor_name, appointment_at, reason, contact_phone)
             VALUES ('00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-0000000000d1', 'Dr A',
                     '2030-01-01T10:15:00Z', 'second', '9876543210')",
        )
        .await;
    let message = overlapping
        .expect_err("overlap must be refused")
        .to_string();
    assert!(message.contains("appointments_no_overlap"), "{message}");
    // Back to back (the default slot is 30 minutes, half-open) is fine.
    conn.batch_execute(
        "INSERT INTO appointments (patient_id, doctor_id, doctor_name, appointment_at, reason, contact_phone)
         VALUES ('00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-0000000000d1', 'Dr A',
                 '2030-01-01T10:30:00Z', 'third', '9876543210')",
    )
    .await
    .expect("adjacent slot");
}

#[tokio::test]
async fn pharmacy_locations_get_a_generated_geography() {
    let db = TestDb::new().await;
    db.execute(
        "INSERT INTO pharmacies (id, name) VALUES ('00000000-0000-0000-0000-0000000000a1', 'P');
         INSERT INTO pharmacy_locations (pharmacy_id, address_line, city, latitude, longitude)
         VALUES ('00000000-0000-0000-0000-0000000000a1', 'Street 1', 'Mumbai', 19.076, 72.8777);",
    )
    .await;
    let within = db
        .count(
            "SELECT count(*) AS n FROM pharmacy_locations WHERE ST_DWithin(geo, \
             ST_SetSRID(ST_MakePoint(72.8777, 19.076), 4326)::geography, 1, false)",
        )
        .await;
    assert_eq!(within, 1);
}

#[tokio::test]
async fn demo_data_loads_once_and_seeded_users_can_log_in_with_dev_tokens() {
    let db = TestDb::new().await;
    let size = medico24_postgres::SeedSize {
        pharmacies: 50,
        users: 30,
        appointments: 400,
    };
    medico24_postgres::seed_demo_data(db.url(), size)
        .await
        .expect("seed");
    medico24_postgres::seed_demo_data(db.url(), size)
        .await
        .expect("second seed adds nothing");
    assert_eq!(db.count("SELECT count(*) AS n FROM pharmacies").await, 50);
    assert_eq!(db.count("SELECT count(*) AS n FROM users").await, 30);
    assert_eq!(
        db.count("SELECT count(*) AS n FROM appointments").await,
        400
    );
    assert!(db.count("SELECT count(*) AS n FROM doctors").await > 0);
    assert!(db.count("SELECT count(*) AS n FROM doctor_clinics").await > 0);
    let uid = medico24_server::auth::dev_token::uid_for_email("demo-user-1@medico24.dev");
    let admins = db
        .count(&format!(
            "SELECT count(*) AS n FROM users WHERE firebase_uid = '{uid}' AND role = 'admin'"
        ))
        .await;
    assert_eq!(
        admins, 1,
        "dev-token --email demo-user-1@medico24.dev logs in as the seeded admin"
    );
}

#[tokio::test]
async fn every_instant_and_date_column_refuses_years_outside_0001_to_9999() {
    let db = TestDb::new().await;
    let unchecked = db
        .count(
            "SELECT count(*) AS n FROM information_schema.columns c
               JOIN information_schema.tables t USING (table_schema, table_name)
              WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
                AND c.data_type IN ('timestamp with time zone', 'date')
                AND NOT EXISTS (SELECT 1 FROM pg_constraint con
                                 WHERE con.conname = c.table_name || '_' || c.column_name || '_in_range'
                                   AND con.contype = 'c')",
        )
        .await;
    assert_eq!(unchecked, 0, "a datetime column without its range check");
    let mut conn = db.connect().await;
    use diesel_async::SimpleAsyncConnection;
    conn.batch_execute(
        "INSERT INTO users (id, firebase_uid, email) VALUES ('00000000-0000-0000-0000-000000000001', 'uid-1', 'p@example.com');
         INSERT INTO patients (user_id) VALUES ('00000000-0000-0000-0000-000000000001');",
    )
    .await
    .expect("a user in range");
    let cases = [
        ("users", "last_login_at", "'10000-01-01T00:00:00Z'"),
        ("users", "last_login_at", "'9999-12-31T23:00:00-01:00'"),
        ("users", "last_login_at", "'0001-01-01T00:30:00+01:00'"),
        ("users", "created_at", "'0001-12-31T00:00:00Z BC'"),
        ("users", "created_at", "'294276-12-31T00:00:00Z'"),
        ("patients", "date_of_birth", "'10000-01-01'"),
        ("patients", "date_of_birth", "'0010-01-01 BC'"),
    ];
    for (table, column, value) in cases {
        let refused = conn
            .batch_execute(&format!("UPDATE {table} SET {column} = {value}"))
            .await
            .expect_err("out of range must be refused")
            .to_string();
        assert!(
            refused.contains(&format!("{table}_{column}_in_range")),
            "{table}.{column} = {value}: {refused}"
        );
    }
    for (table, column, value) in [
        ("users", "last_login_at", "'9999-12-31T23:59:59.999999Z'"),
        ("users", "last_login_at", "'0001-01-01T00:00:00Z'"),
        ("patients", "date_of_birth", "'9999-12-31'"),
        ("patients", "date_of_birth", "'0001-01-01'"),
    ] {
        conn.batch_execute(&format!("UPDATE {table} SET {column} = {value}"))
            .await
            .unwrap_or_else(|e| panic!("{table}.{column} = {value}: {e}"));
    }
}
