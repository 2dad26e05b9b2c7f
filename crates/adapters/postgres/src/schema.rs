//! Diesel table definitions for the end schema of the migrations; hand-maintained, see docs/database.md.
//!
//! Column order follows the database (`\d <table>`). Types map one to one to the SQL types:
//! `numeric` columns are [`Numeric`](diesel::sql_types::Numeric) (read them cast to `Float8`, or
//! enable diesel's `numeric` feature), `audit_events.ip` is [`Inet`](diesel::sql_types::Inet)
//! (values need diesel's `ipnet-address` feature, or a cast to text), and the generated
//! `geo` columns are `postgis_diesel` geographies that must never be inserted or updated.

diesel::table! {
    users (id) {
        id -> Uuid,
        firebase_uid -> Text,
        email -> Text,
        email_verified -> Bool,
        auth_provider -> Text,
        full_name -> Nullable<Text>,
        given_name -> Nullable<Text>,
        family_name -> Nullable<Text>,
        photo_url -> Nullable<Text>,
        #[max_length = 20]
        phone -> Nullable<Varchar>,
        /// `users_role_check`: patient, doctor, pharmacy, admin.
        role -> Text,
        is_active -> Bool,
        is_onboarded -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        last_login_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    /// Not exposed by the API; one row per patient user, created by the application.
    patients (id) {
        id -> Uuid,
        user_id -> Uuid,
        #[max_length = 10]
        blood_group -> Nullable<Varchar>,
        date_of_birth -> Nullable<Date>,
        #[max_length = 20]
        gender -> Nullable<Varchar>,
        address_line_1 -> Nullable<Text>,
        address_line_2 -> Nullable<Text>,
        #[max_length = 100]
        city -> Nullable<Varchar>,
        #[max_length = 100]
        state -> Nullable<Varchar>,
        #[max_length = 100]
        country -> Nullable<Varchar>,
        #[max_length = 20]
        pincode -> Nullable<Varchar>,
        emergency_contact_name -> Nullable<Text>,
        #[max_length = 20]
        emergency_contact_phone -> Nullable<Varchar>,
        #[max_length = 50]
        emergency_contact_relation -> Nullable<Varchar>,
        medical_history -> Nullable<Json>,
        current_medications -> Nullable<Json>,
        allergies -> Nullable<Json>,
        chronic_conditions -> Nullable<Json>,
        insurance_provider -> Nullable<Text>,
        #[max_length = 100]
        insurance_policy_number -> Nullable<Varchar>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    /// Not exposed by the API; one row per admin user, created by the application.
    admins (id) {
        id -> Uuid,
        user_id -> Uuid,
        #[max_length = 100]
        department -> Nullable<Varchar>,
        #[max_length = 50]
        access_level -> Varchar,
        #[max_length = 100]
        job_title -> Nullable<Varchar>,
        permissions -> Nullable<Json>,
        allowed_modules -> Nullable<Json>,
        #[max_length = 45]
        last_login_ip -> Nullable<Varchar>,
        login_count -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    /// Not exposed by the API.
    pharmacy_staff (id) {
        id -> Uuid,
        user_id -> Uuid,
        pharmacy_id -> Uuid,
        #[max_length = 100]
        position -> Nullable<Varchar>,
        #[max_length = 100]
        license_number -> Nullable<Varchar>,
        is_owner -> Bool,
        is_primary_contact -> Bool,
        #[max_length = 50]
        employment_type -> Nullable<Varchar>,
        date_joined -> Nullable<Date>,
        date_left -> Nullable<Date>,
        permissions -> Nullable<Json>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    doctors (id) {
        id -> Uuid,
        #[max_length = 100]
        license_number -> Nullable<Varchar>,
        #[max_length = 200]
        specialization -> Nullable<Varchar>,
        #[max_length = 200]
        sub_specialization -> Nullable<Varchar>,
        qualification -> Nullable<Text>,
        experience_years -> Nullable<Int4>,
        /// numeric(10,2)
        consultation_fee -> Nullable<Numeric>,
        bio -> Nullable<Text>,
        /// JSON array of strings; GIN index `idx_doctors_languages_spoken` (use `@>`).
        languages_spoken -> Nullable<Jsonb>,
        #[max_length = 100]
        medical_council_registration -> Nullable<Varchar>,
        is_verified -> Bool,
        verification_documents -> Nullable<Json>,
        verified_at -> Nullable<Timestamptz>,
        /// Admin user who verified; no foreign key.
        verified_by -> Nullable<Uuid>,
        /// numeric(3,2)
        rating -> Nullable<Numeric>,
        rating_count -> Int4,
        /// Reported as `total_patients_treated`.
        total_consultations -> Int4,
        consultation_duration_minutes -> Nullable<Int4>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        email -> Text,
        full_name -> Text,
        #[max_length = 20]
        phone -> Nullable<Varchar>,
        profile_picture_url -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    clinics (id) {
        id -> Uuid,
        #[max_length = 255]
        name -> Varchar,
        #[max_length = 255]
        slug -> Nullable<Varchar>,
        description -> Nullable<Text>,
        logo_url -> Nullable<Text>,
        contacts -> Nullable<Json>,
        address -> Text,
        /// numeric(10,8)
        latitude -> Nullable<Numeric>,
        /// numeric(11,8)
        longitude -> Nullable<Numeric>,
        opening_hours -> Nullable<Json>,
        /// numeric(3,2)
        rating -> Nullable<Numeric>,
        rating_count -> Int4,
        #[max_length = 20]
        status -> Varchar,
        is_active -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
        /// GENERATED ALWAYS from latitude/longitude (NULL unless both are set); read-only.
        geo -> Nullable<Geography>,
    }
}

diesel::table! {
    doctor_clinics (id) {
        id -> Uuid,
        doctor_id -> Uuid,
        clinic_id -> Uuid,
        is_primary -> Bool,
        start_date -> Timestamptz,
        end_date -> Nullable<Timestamptz>,
        /// numeric(10,2)
        consultation_fee -> Nullable<Numeric>,
        consultation_duration_minutes -> Nullable<Int4>,
        #[max_length = 200]
        department -> Nullable<Varchar>,
        #[max_length = 200]
        designation -> Nullable<Varchar>,
        available_days -> Nullable<Json>,
        available_time_slots -> Nullable<Json>,
        appointment_booking_enabled -> Bool,
        total_appointments -> Int4,
        completed_appointments -> Int4,
        /// numeric(3,2)
        rating_at_clinic -> Nullable<Numeric>,
        rating_count_at_clinic -> Int4,
        #[max_length = 20]
        status -> Varchar,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    /// Exclusion constraint `appointments_no_overlap` (SQLSTATE 23P01 on double booking).
    appointments (id) {
        id -> Uuid,
        /// References users(id).
        patient_id -> Uuid,
        doctor_id -> Nullable<Uuid>,
        clinic_id -> Nullable<Uuid>,
        clinic_name -> Nullable<Text>,
        doctor_name -> Text,
        appointment_at -> Timestamptz,
        appointment_end_at -> Nullable<Timestamptz>,
        reason -> Text,
        #[max_length = 20]
        contact_phone -> Varchar,
        status -> Text,
        notes -> Nullable<Text>,
        source -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        cancelled_at -> Nullable<Timestamptz>,
        deleted_at -> Nullable<Timestamptz>,
        /// Never written by the API.
        doctor_clinic_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    pharmacies (id) {
        id -> Uuid,
        name -> Text,
        description -> Nullable<Text>,
        phone -> Nullable<Text>,
        email -> Nullable<Text>,
        is_verified -> Bool,
        is_active -> Bool,
        /// numeric(2,1)
        rating -> Numeric,
        rating_count -> Int4,
        supports_delivery -> Bool,
        supports_pickup -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        /// IANA zone name.
        timezone -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    /// At most one row per pharmacy (`uq_pharmacy_locations_pharmacy_id`).
    pharmacy_locations (id) {
        id -> Uuid,
        pharmacy_id -> Uuid,
        address_line -> Text,
        city -> Text,
        state -> Nullable<Text>,
        country -> Text,
        pincode -> Nullable<Text>,
        latitude -> Float8,
        longitude -> Float8,
        created_at -> Timestamptz,
        /// GENERATED ALWAYS from longitude/latitude; read-only (never NULL in practice).
        geo -> Nullable<Geography>,
    }
}

diesel::table! {
    pharmacy_hours (id) {
        id -> Uuid,
        pharmacy_id -> Uuid,
        /// 1 = Monday … 7 = Sunday.
        day_of_week -> Int2,
        open_time -> Time,
        close_time -> Time,
        is_closed -> Bool,
    }
}

diesel::table! {
    push_tokens (id) {
        id -> Uuid,
        user_id -> Uuid,
        fcm_token -> Text,
        #[max_length = 10]
        platform -> Varchar,
        is_active -> Bool,
        last_used_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    notifications (id) {
        id -> Uuid,
        user_id -> Uuid,
        title -> Text,
        body -> Text,
        #[max_length = 50]
        notification_type -> Varchar,
        #[max_length = 20]
        priority -> Varchar,
        data -> Nullable<Jsonb>,
        #[max_length = 20]
        status -> Varchar,
        sent_at -> Nullable<Timestamptz>,
        delivered_at -> Nullable<Timestamptz>,
        read_at -> Nullable<Timestamptz>,
        failure_reason -> Nullable<Text>,
        retry_count -> Int4,
        max_retries -> Int4,
        scheduled_for -> Nullable<Timestamptz>,
        expires_at -> Nullable<Timestamptz>,
        metadata -> Nullable<Jsonb>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    notification_deliveries (id) {
        id -> Uuid,
        notification_id -> Uuid,
        push_token_id -> Uuid,
        fcm_message_id -> Nullable<Text>,
        #[max_length = 20]
        delivery_status -> Varchar,
        delivered_at -> Nullable<Timestamptz>,
        failure_reason -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Uuid,
        actor_user_id -> Nullable<Uuid>,
        /// `user` or `admin_secret`.
        actor_type -> Text,
        action -> Text,
        resource_type -> Text,
        resource_id -> Nullable<Text>,
        request_id -> Text,
        /// Values need diesel's `ipnet-address` feature (`ipnet::IpNet`).
        ip -> Nullable<Inet>,
        at -> Timestamptz,
        details -> Nullable<Jsonb>,
        /// The users whose data the event's action read or changed.
        subject_ids -> Array<Uuid>,
    }
}

diesel::table! {
    notification_outbox (id) {
        id -> Uuid,
        /// `appointment_created`, `appointment_status_changed` or `appointment_reminder`.
        event_type -> Text,
        user_id -> Uuid,
        payload -> Jsonb,
        created_at -> Timestamptz,
        available_at -> Timestamptz,
        attempts -> Int4,
        locked_until -> Nullable<Timestamptz>,
        processed_at -> Nullable<Timestamptz>,
        notification_id -> Nullable<Uuid>,
        last_error -> Nullable<Text>,
        /// The appointment of a reminder (null for other events).
        appointment_id -> Nullable<Uuid>,
        /// Minutes before the appointment's start a reminder is due (null for other events).
        reminder_offset_minutes -> Nullable<Int4>,
        /// Why a processed event sent nothing: `inactive`, `started`, `opted_out`.
        skip_reason -> Nullable<Text>,
    }
}

diesel::table! {
    notification_preferences (user_id) {
        user_id -> Uuid,
        appointment_reminders -> Bool,
        appointment_updates -> Bool,
        system_announcements -> Bool,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    idempotency_keys (user_id, idem_key) {
        user_id -> Uuid,
        idem_key -> Text,
        request_hash -> Text,
        response_status -> Nullable<Int2>,
        response_body -> Nullable<Jsonb>,
        resource_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    broadcasts (id) {
        id -> Uuid,
        created_by -> Nullable<Uuid>,
        title -> Text,
        body -> Text,
        target -> Text,
        data -> Nullable<Jsonb>,
        status -> Text,
        total_users -> Int4,
        processed_users -> Int4,
        success_count -> Int4,
        failure_count -> Int4,
        cursor_user_id -> Nullable<Uuid>,
        failure_reason -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        started_at -> Nullable<Timestamptz>,
        completed_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(patients -> users (user_id));
diesel::joinable!(admins -> users (user_id));
diesel::joinable!(pharmacy_staff -> users (user_id));
diesel::joinable!(pharmacy_staff -> pharmacies (pharmacy_id));
diesel::joinable!(doctor_clinics -> doctors (doctor_id));
diesel::joinable!(doctor_clinics -> clinics (clinic_id));
diesel::joinable!(appointments -> users (patient_id));
diesel::joinable!(appointments -> doctors (doctor_id));
diesel::joinable!(appointments -> clinics (clinic_id));
diesel::joinable!(appointments -> doctor_clinics (doctor_clinic_id));
diesel::joinable!(pharmacy_locations -> pharmacies (pharmacy_id));
diesel::joinable!(pharmacy_hours -> pharmacies (pharmacy_id));
diesel::joinable!(push_tokens -> users (user_id));
diesel::joinable!(notifications -> users (user_id));
diesel::joinable!(notification_deliveries -> notifications (notification_id));
diesel::joinable!(notification_deliveries -> push_tokens (push_token_id));
diesel::joinable!(audit_events -> users (actor_user_id));
diesel::joinable!(notification_outbox -> users (user_id));
diesel::joinable!(notification_outbox -> notifications (notification_id));
diesel::joinable!(notification_preferences -> users (user_id));
diesel::joinable!(idempotency_keys -> users (user_id));
diesel::joinable!(broadcasts -> users (created_by));

diesel::table! {
    /// Erasure requests: pending, records erased, or erased.
    user_erasures (user_id) {
        user_id -> Uuid,
        requested_at -> Timestamptz,
        requested_by -> Nullable<Uuid>,
        due_at -> Timestamptz,
        /// `pending`, `records_erased` or `erased`.
        status -> Text,
        attempts -> Int4,
        locked_until -> Nullable<Timestamptz>,
        erased_at -> Nullable<Timestamptz>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    user_erasures,
    users,
    notification_preferences,
    patients,
    admins,
    pharmacy_staff,
    doctors,
    clinics,
    doctor_clinics,
    appointments,
    pharmacies,
    pharmacy_locations,
    pharmacy_hours,
    push_tokens,
    notifications,
    notification_deliveries,
    audit_events,
    notification_outbox,
    idempotency_keys,
    broadcasts,
);
