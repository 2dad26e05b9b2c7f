-- Baseline: the reference implementation's schema at its Alembic revision 014.
--
-- Idempotent on purpose: on an empty database it builds the reference schema; on a database
-- that the reference (FastAPI/Alembic) already brought to revision 014 every statement is a
-- no-op (IF NOT EXISTS, CREATE OR REPLACE of identical functions, triggers re-created with the
-- same definition). The reference's `alembic_version` table is neither created nor touched.
-- Databases at any other reference revision are not supported: upgrade them to 014 with the
-- reference tooling first (docs/database.md).
--
-- Column order, constraint and index names follow what the reference migrations 001..014
-- produce on a real database (including the duplicate `idx_appointments_*` / `ix_appointments_*`
-- and `ix_doctors_license_number` / `doctors_license_number_key` pairs), so a schema diff between
-- a reference database and one built here is empty. Everything the new service changes lives in
-- the next migration (v2).

CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE EXTENSION IF NOT EXISTS postgis;

-- ---------------------------------------------------------------------------------------------
-- users (reference 002)
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS users (
    id             uuid        NOT NULL DEFAULT gen_random_uuid(),
    firebase_uid   text        NOT NULL,
    email          text        NOT NULL,
    email_verified boolean     NOT NULL DEFAULT false,
    auth_provider  text        NOT NULL DEFAULT 'google',
    full_name      text,
    given_name     text,
    family_name    text,
    photo_url      text,
    phone          varchar(20),
    role           text        NOT NULL DEFAULT 'patient',
    is_active      boolean     NOT NULL DEFAULT true,
    is_onboarded   boolean     NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    last_login_at  timestamptz,
    CONSTRAINT users_pkey PRIMARY KEY (id)
);
CREATE UNIQUE INDEX IF NOT EXISTS ix_users_firebase_uid ON users (firebase_uid);
CREATE INDEX IF NOT EXISTS ix_users_email ON users (email);

-- ---------------------------------------------------------------------------------------------
-- pharmacies, pharmacy_locations, pharmacy_hours (reference 003)
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS pharmacies (
    id                uuid         NOT NULL DEFAULT gen_random_uuid(),
    name              text         NOT NULL,
    description       text,
    phone             text,
    email             text,
    is_verified       boolean      NOT NULL DEFAULT false,
    is_active         boolean      NOT NULL DEFAULT true,
    rating            numeric(2,1) DEFAULT 0.0,
    rating_count      integer      DEFAULT 0,
    supports_delivery boolean      NOT NULL DEFAULT false,
    supports_pickup   boolean      NOT NULL DEFAULT true,
    created_at        timestamptz  NOT NULL DEFAULT now(),
    updated_at        timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT pharmacies_pkey PRIMARY KEY (id)
);
CREATE INDEX IF NOT EXISTS idx_pharmacies_active ON pharmacies (is_active);
CREATE INDEX IF NOT EXISTS idx_pharmacies_verified ON pharmacies (is_verified);

-- `geo` is the last column: the reference added it with ALTER TABLE after creating the table.
-- In the reference it is a plain, nullable column that the application filled in.
CREATE TABLE IF NOT EXISTS pharmacy_locations (
    id           uuid             NOT NULL DEFAULT gen_random_uuid(),
    pharmacy_id  uuid             NOT NULL,
    address_line text             NOT NULL,
    city         text             NOT NULL,
    state        text,
    country      text             NOT NULL DEFAULT 'India',
    pincode      text,
    latitude     double precision NOT NULL,
    longitude    double precision NOT NULL,
    created_at   timestamptz      NOT NULL DEFAULT now(),
    geo          geography(Point,4326),
    CONSTRAINT pharmacy_locations_pkey PRIMARY KEY (id),
    CONSTRAINT fk_pharmacy_location FOREIGN KEY (pharmacy_id)
        REFERENCES pharmacies (id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS idx_pharmacy_geo ON pharmacy_locations USING gist (geo);
CREATE INDEX IF NOT EXISTS idx_locations_pharmacy ON pharmacy_locations (pharmacy_id);

CREATE TABLE IF NOT EXISTS pharmacy_hours (
    id          uuid     NOT NULL DEFAULT gen_random_uuid(),
    pharmacy_id uuid     NOT NULL,
    day_of_week smallint NOT NULL,
    open_time   time     NOT NULL,
    close_time  time     NOT NULL,
    is_closed   boolean  NOT NULL DEFAULT false,
    CONSTRAINT pharmacy_hours_pkey PRIMARY KEY (id),
    CONSTRAINT fk_pharmacy_hours FOREIGN KEY (pharmacy_id)
        REFERENCES pharmacies (id) ON DELETE CASCADE,
    CONSTRAINT unique_day_per_pharmacy UNIQUE (pharmacy_id, day_of_week)
);

-- ---------------------------------------------------------------------------------------------
-- push_tokens (reference 004)
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS push_tokens (
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    user_id      uuid        NOT NULL,
    fcm_token    text        NOT NULL,
    platform     varchar(10) NOT NULL,
    is_active    boolean     NOT NULL DEFAULT true,
    last_used_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT push_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT push_tokens_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT push_tokens_platform_check CHECK (platform IN ('android', 'ios', 'web')),
    CONSTRAINT unique_user_fcm_token UNIQUE (user_id, fcm_token)
);
CREATE INDEX IF NOT EXISTS idx_push_tokens_user_id ON push_tokens (user_id);
CREATE INDEX IF NOT EXISTS idx_push_tokens_is_active ON push_tokens (is_active);

-- ---------------------------------------------------------------------------------------------
-- notifications (reference 005)
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS notifications (
    id                uuid        NOT NULL DEFAULT gen_random_uuid(),
    user_id           uuid        NOT NULL,
    title             text        NOT NULL,
    body              text        NOT NULL,
    notification_type varchar(50) NOT NULL,
    priority          varchar(20) NOT NULL DEFAULT 'normal',
    data              jsonb,
    status            varchar(20) NOT NULL DEFAULT 'pending',
    sent_at           timestamptz,
    delivered_at      timestamptz,
    read_at           timestamptz,
    failure_reason    text,
    retry_count       integer     NOT NULL DEFAULT 0,
    max_retries       integer     NOT NULL DEFAULT 3,
    scheduled_for     timestamptz,
    expires_at        timestamptz,
    metadata          jsonb,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT notifications_pkey PRIMARY KEY (id),
    CONSTRAINT notifications_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT notifications_type_check CHECK (notification_type IN (
        'appointment_reminder', 'appointment_confirmation', 'appointment_cancelled',
        'prescription_ready', 'pharmacy_update', 'system_announcement', 'other')),
    CONSTRAINT notifications_priority_check CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    CONSTRAINT notifications_status_check CHECK (status IN (
        'pending', 'sent', 'delivered', 'failed', 'read'))
);
CREATE INDEX IF NOT EXISTS idx_notifications_user_id ON notifications (user_id);
CREATE INDEX IF NOT EXISTS idx_notifications_status ON notifications (status);
CREATE INDEX IF NOT EXISTS idx_notifications_created_at ON notifications (created_at DESC);
CREATE INDEX IF NOT EXISTS idx_notifications_user_status ON notifications (user_id, status);
CREATE INDEX IF NOT EXISTS idx_notifications_type ON notifications (notification_type);
CREATE INDEX IF NOT EXISTS idx_notifications_scheduled ON notifications (scheduled_for)
    WHERE scheduled_for IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_notifications_expires ON notifications (expires_at)
    WHERE expires_at IS NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- notification_deliveries (reference 006)
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS notification_deliveries (
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    notification_id uuid        NOT NULL,
    push_token_id   uuid        NOT NULL,
    fcm_message_id  text,
    delivery_status varchar(20) NOT NULL DEFAULT 'pending',
    delivered_at    timestamptz,
    failure_reason  text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT notification_deliveries_pkey PRIMARY KEY (id),
    CONSTRAINT notification_deliveries_notification_id_fkey FOREIGN KEY (notification_id)
        REFERENCES notifications (id) ON DELETE CASCADE,
    CONSTRAINT notification_deliveries_push_token_id_fkey FOREIGN KEY (push_token_id)
        REFERENCES push_tokens (id) ON DELETE CASCADE,
    CONSTRAINT notification_deliveries_status_check CHECK (delivery_status IN (
        'pending', 'sent', 'delivered', 'failed', 'invalid_token')),
    CONSTRAINT unique_notification_token UNIQUE (notification_id, push_token_id)
);
CREATE INDEX IF NOT EXISTS idx_notification_deliveries_notification
    ON notification_deliveries (notification_id);
CREATE INDEX IF NOT EXISTS idx_notification_deliveries_token
    ON notification_deliveries (push_token_id);
CREATE INDEX IF NOT EXISTS idx_notification_deliveries_status
    ON notification_deliveries (delivery_status);

-- ---------------------------------------------------------------------------------------------
-- patients, doctors, pharmacy_staff, admins (reference 007, doctors as reshaped by 011/013/014)
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS patients (
    id                         uuid         NOT NULL DEFAULT gen_random_uuid(),
    user_id                    uuid         NOT NULL,
    blood_group                varchar(10),
    date_of_birth              date,
    gender                     varchar(20),
    address_line_1             text,
    address_line_2             text,
    city                       varchar(100),
    state                      varchar(100),
    country                    varchar(100),
    pincode                    varchar(20),
    emergency_contact_name     text,
    emergency_contact_phone    varchar(20),
    emergency_contact_relation varchar(50),
    medical_history            json,
    current_medications        json,
    allergies                  json,
    chronic_conditions         json,
    insurance_provider         text,
    insurance_policy_number    varchar(100),
    created_at                 timestamptz  NOT NULL DEFAULT now(),
    updated_at                 timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT patients_pkey PRIMARY KEY (id),
    CONSTRAINT patients_user_id_key UNIQUE (user_id),
    CONSTRAINT patients_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX IF NOT EXISTS ix_patients_user_id ON patients (user_id);

-- Column order is what 007 -> 011 (clinic/availability columns dropped) -> 014 (user_id dropped,
-- email/full_name/phone/profile_picture_url appended) leaves behind.
CREATE TABLE IF NOT EXISTS doctors (
    id                            uuid          NOT NULL DEFAULT gen_random_uuid(),
    license_number                varchar(100),
    specialization                varchar(200),
    sub_specialization            varchar(200),
    qualification                 text,
    experience_years              integer,
    consultation_fee              numeric(10,2),
    bio                           text,
    languages_spoken              json,
    medical_council_registration  varchar(100),
    is_verified                   boolean       NOT NULL DEFAULT false,
    verification_documents        json,
    verified_at                   timestamptz,
    verified_by                   uuid,
    rating                        numeric(3,2),
    rating_count                  integer       NOT NULL DEFAULT 0,
    total_consultations           integer       NOT NULL DEFAULT 0,
    consultation_duration_minutes integer       DEFAULT 30,
    created_at                    timestamptz   NOT NULL DEFAULT now(),
    updated_at                    timestamptz   NOT NULL DEFAULT now(),
    email                         text          NOT NULL,
    full_name                     text          NOT NULL,
    phone                         varchar(20),
    profile_picture_url           text,
    CONSTRAINT doctors_pkey PRIMARY KEY (id),
    CONSTRAINT doctors_license_number_key UNIQUE (license_number)
);
CREATE UNIQUE INDEX IF NOT EXISTS ix_doctors_license_number ON doctors (license_number);
CREATE INDEX IF NOT EXISTS ix_doctors_specialization ON doctors (specialization);
CREATE INDEX IF NOT EXISTS ix_doctors_is_verified ON doctors (is_verified);
CREATE UNIQUE INDEX IF NOT EXISTS ix_doctors_email ON doctors (email);

CREATE TABLE IF NOT EXISTS pharmacy_staff (
    id                 uuid         NOT NULL DEFAULT gen_random_uuid(),
    user_id            uuid         NOT NULL,
    pharmacy_id        uuid         NOT NULL,
    position           varchar(100),
    license_number     varchar(100),
    is_owner           boolean      NOT NULL DEFAULT false,
    is_primary_contact boolean      NOT NULL DEFAULT false,
    employment_type    varchar(50),
    date_joined        date,
    date_left          date,
    permissions        json,
    created_at         timestamptz  NOT NULL DEFAULT now(),
    updated_at         timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT pharmacy_staff_pkey PRIMARY KEY (id),
    CONSTRAINT pharmacy_staff_user_id_key UNIQUE (user_id),
    CONSTRAINT pharmacy_staff_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT pharmacy_staff_pharmacy_id_fkey FOREIGN KEY (pharmacy_id)
        REFERENCES pharmacies (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX IF NOT EXISTS ix_pharmacy_staff_user_id ON pharmacy_staff (user_id);
CREATE INDEX IF NOT EXISTS ix_pharmacy_staff_pharmacy_id ON pharmacy_staff (pharmacy_id);
CREATE INDEX IF NOT EXISTS ix_pharmacy_staff_is_owner ON pharmacy_staff (is_owner);

CREATE TABLE IF NOT EXISTS admins (
    id              uuid         NOT NULL DEFAULT gen_random_uuid(),
    user_id         uuid         NOT NULL,
    department      varchar(100),
    access_level    varchar(50)  NOT NULL DEFAULT 'standard',
    job_title       varchar(100),
    permissions     json,
    allowed_modules json,
    last_login_ip   varchar(45),
    login_count     integer      NOT NULL DEFAULT 0,
    created_at      timestamptz  NOT NULL DEFAULT now(),
    updated_at      timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT admins_pkey PRIMARY KEY (id),
    CONSTRAINT admins_user_id_key UNIQUE (user_id),
    CONSTRAINT admins_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX IF NOT EXISTS ix_admins_user_id ON admins (user_id);
CREATE INDEX IF NOT EXISTS ix_admins_access_level ON admins (access_level);

-- ---------------------------------------------------------------------------------------------
-- Role triggers (reference 008). Same names and behaviour as the reference: on insert, and on a
-- change of `role`, the user gets a row in the table of the (new) role; on a change the row of the
-- old role is deleted first. At revision 014 the `doctor` branch fails (doctors has no user_id any
-- more) and the `pharmacy` branch fails (pharmacy_staff.pharmacy_id is NOT NULL): that is the
-- reference defect which v2 removes by dropping these triggers. plpgsql resolves the statements at
-- run time, so the functions are created without error.
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION create_user_role_record() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.role = 'patient' THEN
        INSERT INTO patients (user_id) VALUES (NEW.id);
    ELSIF NEW.role = 'doctor' THEN
        INSERT INTO doctors (user_id) VALUES (NEW.id);
    ELSIF NEW.role = 'admin' THEN
        INSERT INTO admins (user_id) VALUES (NEW.id);
    ELSIF NEW.role = 'pharmacy' THEN
        INSERT INTO pharmacy_staff (user_id, pharmacy_id) VALUES (NEW.id, NULL);
    END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE FUNCTION handle_user_role_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.role IS DISTINCT FROM NEW.role THEN
        IF OLD.role = 'patient' THEN
            DELETE FROM patients WHERE user_id = OLD.id;
        ELSIF OLD.role = 'doctor' THEN
            DELETE FROM doctors WHERE user_id = OLD.id;
        ELSIF OLD.role = 'pharmacy' THEN
            DELETE FROM pharmacy_staff WHERE user_id = OLD.id;
        ELSIF OLD.role = 'admin' THEN
            DELETE FROM admins WHERE user_id = OLD.id;
        END IF;

        IF NEW.role = 'patient' THEN
            INSERT INTO patients (user_id) VALUES (NEW.id);
        ELSIF NEW.role = 'doctor' THEN
            INSERT INTO doctors (user_id) VALUES (NEW.id);
        ELSIF NEW.role = 'admin' THEN
            INSERT INTO admins (user_id) VALUES (NEW.id);
        ELSIF NEW.role = 'pharmacy' THEN
            INSERT INTO pharmacy_staff (user_id, pharmacy_id) VALUES (NEW.id, NULL);
        END IF;
    END IF;
    RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS trigger_create_user_role ON users;
CREATE TRIGGER trigger_create_user_role
    AFTER INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION create_user_role_record();

DROP TRIGGER IF EXISTS trigger_handle_role_change ON users;
CREATE TRIGGER trigger_handle_role_change
    AFTER UPDATE OF role ON users
    FOR EACH ROW EXECUTE FUNCTION handle_user_role_change();

-- ---------------------------------------------------------------------------------------------
-- clinics (reference 009)
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS clinics (
    id            uuid          NOT NULL DEFAULT gen_random_uuid(),
    name          varchar(255)  NOT NULL,
    slug          varchar(255),
    description   text,
    logo_url      text,
    contacts      json,
    address       text          NOT NULL,
    latitude      numeric(10,8),
    longitude     numeric(11,8),
    opening_hours json,
    rating        numeric(3,2),
    rating_count  integer       NOT NULL DEFAULT 0,
    status        varchar(20)   NOT NULL DEFAULT 'active',
    is_active     boolean       NOT NULL DEFAULT true,
    created_at    timestamptz   NOT NULL DEFAULT now(),
    updated_at    timestamptz   NOT NULL DEFAULT now(),
    deleted_at    timestamptz,
    CONSTRAINT clinics_pkey PRIMARY KEY (id),
    CONSTRAINT clinics_status_check CHECK (status IN (
        'active', 'inactive', 'temporarily_closed', 'permanently_closed'))
);
CREATE INDEX IF NOT EXISTS idx_clinics_name ON clinics (name);
CREATE UNIQUE INDEX IF NOT EXISTS idx_clinics_slug ON clinics (slug);
CREATE INDEX IF NOT EXISTS idx_clinics_status ON clinics (status);
CREATE INDEX IF NOT EXISTS idx_clinics_is_active ON clinics (is_active);

-- ---------------------------------------------------------------------------------------------
-- doctor_clinics (reference 010)
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS doctor_clinics (
    id                            uuid          NOT NULL DEFAULT gen_random_uuid(),
    doctor_id                     uuid          NOT NULL,
    clinic_id                     uuid          NOT NULL,
    is_primary                    boolean       NOT NULL DEFAULT false,
    start_date                    timestamptz   NOT NULL DEFAULT now(),
    end_date                      timestamptz,
    consultation_fee              numeric(10,2),
    consultation_duration_minutes integer,
    department                    varchar(200),
    designation                   varchar(200),
    available_days                json,
    available_time_slots          json,
    appointment_booking_enabled   boolean       NOT NULL DEFAULT true,
    total_appointments            integer       NOT NULL DEFAULT 0,
    completed_appointments        integer       NOT NULL DEFAULT 0,
    rating_at_clinic              numeric(3,2),
    rating_count_at_clinic        integer       NOT NULL DEFAULT 0,
    status                        varchar(20)   NOT NULL DEFAULT 'active',
    created_at                    timestamptz   NOT NULL DEFAULT now(),
    updated_at                    timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT doctor_clinics_pkey PRIMARY KEY (id),
    CONSTRAINT doctor_clinics_doctor_id_fkey FOREIGN KEY (doctor_id)
        REFERENCES doctors (id) ON DELETE CASCADE,
    CONSTRAINT doctor_clinics_clinic_id_fkey FOREIGN KEY (clinic_id)
        REFERENCES clinics (id) ON DELETE CASCADE,
    CONSTRAINT doctor_clinics_status_check CHECK (status IN (
        'active', 'on_leave', 'temporarily_unavailable', 'inactive'))
);
CREATE INDEX IF NOT EXISTS idx_doctor_clinics_doctor_id ON doctor_clinics (doctor_id);
CREATE INDEX IF NOT EXISTS idx_doctor_clinics_clinic_id ON doctor_clinics (clinic_id);
CREATE INDEX IF NOT EXISTS idx_doctor_clinics_status ON doctor_clinics (status);
CREATE INDEX IF NOT EXISTS idx_doctor_clinics_is_primary ON doctor_clinics (is_primary);
CREATE INDEX IF NOT EXISTS idx_doctor_clinics_doctor_status ON doctor_clinics (doctor_id, status);
CREATE INDEX IF NOT EXISTS idx_doctor_clinics_clinic_status ON doctor_clinics (clinic_id, status);
CREATE INDEX IF NOT EXISTS idx_doctor_clinics_active ON doctor_clinics (doctor_id, clinic_id)
    WHERE end_date IS NULL AND status = 'active';
CREATE UNIQUE INDEX IF NOT EXISTS uq_doctor_clinic_active ON doctor_clinics (doctor_id, clinic_id)
    WHERE end_date IS NULL;

-- ---------------------------------------------------------------------------------------------
-- appointments (reference 001, foreign keys and doctor_clinic_id from 012).
-- patient_id references patients(id) here; v2 re-points it at users(id).
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS appointments (
    id                 uuid        NOT NULL DEFAULT gen_random_uuid(),
    patient_id         uuid        NOT NULL,
    doctor_id          uuid,
    clinic_id          uuid,
    clinic_name        text,
    doctor_name        text        NOT NULL,
    appointment_at     timestamptz NOT NULL,
    appointment_end_at timestamptz,
    reason             text        NOT NULL,
    contact_phone      varchar(20) NOT NULL,
    status             text        NOT NULL DEFAULT 'scheduled',
    notes              text,
    source             text        DEFAULT 'patient_app',
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    cancelled_at       timestamptz,
    deleted_at         timestamptz,
    doctor_clinic_id   uuid,
    CONSTRAINT appointments_pkey PRIMARY KEY (id),
    CONSTRAINT appointments_status_check CHECK (status IN (
        'scheduled', 'confirmed', 'rescheduled', 'cancelled', 'completed', 'no_show')),
    CONSTRAINT fk_appointments_patient_id FOREIGN KEY (patient_id)
        REFERENCES patients (id) ON DELETE CASCADE,
    CONSTRAINT fk_appointments_doctor_id FOREIGN KEY (doctor_id)
        REFERENCES doctors (id) ON DELETE SET NULL,
    CONSTRAINT fk_appointments_clinic_id FOREIGN KEY (clinic_id)
        REFERENCES clinics (id) ON DELETE SET NULL,
    CONSTRAINT fk_appointments_doctor_clinic_id FOREIGN KEY (doctor_clinic_id)
        REFERENCES doctor_clinics (id) ON DELETE SET NULL
);
CREATE INDEX IF NOT EXISTS ix_appointments_patient_id ON appointments (patient_id);
CREATE INDEX IF NOT EXISTS ix_appointments_doctor_id ON appointments (doctor_id);
CREATE INDEX IF NOT EXISTS ix_appointments_clinic_id ON appointments (clinic_id);
CREATE INDEX IF NOT EXISTS ix_appointments_status ON appointments (status);
CREATE INDEX IF NOT EXISTS ix_appointments_appointment_at ON appointments (appointment_at);
CREATE INDEX IF NOT EXISTS ix_appointments_deleted_at ON appointments (deleted_at);
CREATE INDEX IF NOT EXISTS idx_appointments_patient_id ON appointments (patient_id);
CREATE INDEX IF NOT EXISTS idx_appointments_doctor_id ON appointments (doctor_id);
