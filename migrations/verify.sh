#!/usr/bin/env bash
# Reproducible checks of the SQL migrations and the demo seed against a scratch PostgreSQL.
#
# Usage: migrations/verify.sh [BASE_URL]
#   BASE_URL  server URL without a database name; default postgres://postgres@127.0.0.1:5432
#
# Needs psql and pg_dump on PATH, a role allowed to CREATE DATABASE, and PostGIS (postgis,
# pgcrypto, btree_gist) installable on the server. Every case runs in its own database named
# mig_check_<pid>_<case>; all of them are dropped on exit. Migrations are applied the way Diesel
# applies them: each file in one transaction. Exits non-zero at the first failed check.
set -euo pipefail

BASE=${1:-postgres://postgres@127.0.0.1:5432}
BASE=${BASE%/}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BASELINE_UP=$HERE/2024-01-01-000000_baseline/up.sql
BASELINE_DOWN=$HERE/2024-01-01-000000_baseline/down.sql
V2_UP=$HERE/2024-01-02-000000_v2/up.sql
V2_DOWN=$HERE/2024-01-02-000000_v2/down.sql
SEED=$HERE/../crates/adapters/postgres/sql/demo_seed.sql
PREFIX=mig_check_$$
export PGOPTIONS='-c client_min_messages=warning'
TMP=$(mktemp -d)
CREATED=()

cleanup() {
    local rc=$?
    for db in "${CREATED[@]}"; do
        psql "$BASE/postgres" -X -q -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
    done
    rm -rf "$TMP"
    if [ "$rc" -eq 0 ]; then echo "ALL CHECKS PASSED"; else echo "FAILED (exit $rc)" >&2; fi
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }
ok() { echo "   ok: $*"; }

# newdb NAME: creates a scratch database and sets DB to its URL.
newdb() {
    local name="${PREFIX}_$1"
    psql "$BASE/postgres" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$name\"" >/dev/null
    CREATED+=("$name")
    DB="$BASE/$name"
}
# apply URL FILE: one file, one transaction, stop at the first error.
apply() { psql "$1" -X -q -v ON_ERROR_STOP=1 -1 -f "$2" >/dev/null; }
# q URL SQL: prints the unaligned result.
q() { psql "$1" -X -q -At -v ON_ERROR_STOP=1 -c "$2"; }
# run URL: SQL script on stdin, one transaction.
run() { psql "$1" -X -q -v ON_ERROR_STOP=1 -1 >/dev/null; }
dump() { pg_dump -s --no-owner --no-privileges "$1" | grep -v -E '^\\(un)?restrict '; }
expect_eq() {
    [ "$2" == "$3" ] || fail "$1: expected '$3', got '$2'"
    ok "$1"
}
same_schema() {
    diff -u "$2" "$3" >"$TMP/diff" || { cat "$TMP/diff" >&2; fail "$1"; }
    ok "$1"
}
# expect_apply_fails URL FILE LABEL PATTERN...: the migration must fail and name every pattern.
expect_apply_fails() {
    local url=$1 file=$2 label=$3
    shift 3
    if psql "$url" -X -q -v ON_ERROR_STOP=1 -1 -f "$file" >"$TMP/out" 2>"$TMP/err"; then
        fail "$label: migration succeeded but must fail"
    fi
    for pattern in "$@"; do
        grep -q -- "$pattern" "$TMP/err" || { cat "$TMP/err" >&2; fail "$label: error lacks '$pattern'"; }
    done
    ok "$label"
}
# expect_sqlstate URL STATE LABEL SQL: SQL must fail with SQLSTATE STATE.
expect_sqlstate() {
    local url=$1 state=$2 label=$3 sql=$4 got
    got=$(psql "$url" -X -q -At -v ON_ERROR_STOP=1 <<SQL 2>&1
DO \$t\$
BEGIN
    $sql;
    RAISE EXCEPTION 'NO_ERROR';
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'SQLSTATE=%', SQLSTATE;
END
\$t\$;
SQL
    ) || true
    echo "$got" | grep -q "SQLSTATE=$state" || fail "$label: expected SQLSTATE $state, got: $got"
    ok "$label"
}

# ---------------------------------------------------------------------------------------------
# Checks of the end schema (after v2), by catalog queries.
# ---------------------------------------------------------------------------------------------
check_end_schema() {
    local u=$1
    expect_eq "all 18 tables exist" "$(q "$u" "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'
        AND tablename IN ('users','patients','admins','pharmacy_staff','doctors','clinics','doctor_clinics',
        'appointments','pharmacies','pharmacy_locations','pharmacy_hours','push_tokens','notifications',
        'notification_deliveries','audit_events','notification_outbox','idempotency_keys','broadcasts')")" 18
    for c in users_role_check appointments_source_check appointments_end_after_start appointments_no_overlap \
             fk_appointments_patient_id pharmacy_hours_day_check uq_pharmacy_locations_pharmacy_id \
             clinics_latitude_check clinics_longitude_check notifications_status_check \
             broadcasts_target_check broadcasts_status_check doctors_license_number_key \
             unique_user_fcm_token unique_day_per_pharmacy unique_notification_token; do
        expect_eq "constraint $c" "$(q "$u" "SELECT count(*) FROM pg_constraint WHERE conname = '$c'")" 1
    done
    for i in uq_push_tokens_active_fcm_token uq_doctor_clinic_active idx_clinics_geo idx_pharmacy_geo \
             idx_notifications_sent_at idx_doctors_languages_spoken ix_doctors_email ix_users_firebase_uid \
             idx_audit_events_at idx_audit_events_actor_at idx_audit_events_resource idx_audit_events_action \
             idx_notification_outbox_pending idx_idempotency_keys_expires_at; do
        expect_eq "index $i" "$(q "$u" "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND indexname = '$i'")" 1
    done
    expect_eq "end_after_start is NOT VALID" \
        "$(q "$u" "SELECT convalidated FROM pg_constraint WHERE conname = 'appointments_end_after_start'")" f
    expect_eq "no_overlap is an exclusion constraint" \
        "$(q "$u" "SELECT contype FROM pg_constraint WHERE conname = 'appointments_no_overlap'")" x
    expect_eq "patient_id references users(id) ON DELETE CASCADE" \
        "$(q "$u" "SELECT confrelid::regclass::text || ' ' || confdeltype::text FROM pg_constraint WHERE conname = 'fk_appointments_patient_id'")" "users c"
    expect_eq "appointment_busy_range is IMMUTABLE" \
        "$(q "$u" "SELECT provolatile FROM pg_proc WHERE proname = 'appointment_busy_range'")" i
    expect_eq "notifications_status_check allows partially_delivered" \
        "$(q "$u" "SELECT pg_get_constraintdef(oid) LIKE '%partially_delivered%' FROM pg_constraint WHERE conname = 'notifications_status_check'")" t
    expect_eq "uq_push_tokens_active_fcm_token is unique and partial" \
        "$(q "$u" "SELECT indexdef FROM pg_indexes WHERE indexname = 'uq_push_tokens_active_fcm_token'")" \
        "CREATE UNIQUE INDEX uq_push_tokens_active_fcm_token ON public.push_tokens USING btree (fcm_token) WHERE is_active"
    expect_eq "idx_doctors_languages_spoken is GIN" \
        "$(q "$u" "SELECT indexdef LIKE '%USING gin (languages_spoken)' FROM pg_indexes WHERE indexname = 'idx_doctors_languages_spoken'")" t
    expect_eq "geo columns are generated (pharmacy_locations, clinics)" \
        "$(q "$u" "SELECT string_agg(attrelid::regclass::text || ':' || attgenerated::text, ',' ORDER BY attrelid::regclass::text)
                   FROM pg_attribute WHERE attname = 'geo' AND attrelid IN ('pharmacy_locations'::regclass, 'clinics'::regclass)")" \
        "clinics:s,pharmacy_locations:s"
    expect_eq "column types" \
        "$(q "$u" "SELECT string_agg(table_name || '.' || column_name || ':' || data_type || ':' || is_nullable, ',' ORDER BY table_name, column_name)
                   FROM information_schema.columns WHERE (table_name, column_name) IN
                   (('doctors','languages_spoken'),('pharmacies','rating'),('pharmacies','rating_count'),
                    ('pharmacies','timezone'),('appointments','source'),('audit_events','ip'))")" \
        "appointments.source:text:NO,audit_events.ip:inet:YES,doctors.languages_spoken:jsonb:YES,pharmacies.rating:numeric:NO,pharmacies.rating_count:integer:NO,pharmacies.timezone:text:NO"
    expect_eq "idempotency_keys primary key is (user_id, idem_key)" \
        "$(q "$u" "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'idempotency_keys_pkey'")" \
        "PRIMARY KEY (user_id, idem_key)"
    expect_eq "set_updated_at trigger on exactly the tables with updated_at" \
        "$(q "$u" "SELECT string_agg(event_object_table, ',' ORDER BY event_object_table) FROM information_schema.triggers
                   WHERE trigger_name = 'trg_set_updated_at' AND action_timing = 'BEFORE' AND event_manipulation = 'UPDATE'")" \
        "$(q "$u" "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.columns
                   WHERE table_schema = 'public' AND column_name = 'updated_at'")"
    expect_eq "role triggers and functions are gone" \
        "$(q "$u" "SELECT (SELECT count(*) FROM pg_trigger WHERE tgname IN ('trigger_create_user_role','trigger_handle_role_change'))
                        + (SELECT count(*) FROM pg_proc WHERE proname IN ('create_user_role_record','handle_user_role_change'))")" 0
}

# ---------------------------------------------------------------------------------------------
# The reference's Alembic chain 001..014 replayed as SQL, in its original order (doctors first
# created with user_id and clinic columns, reshaped by 011, 013 and 014), to show that the
# baseline reproduces a real reference database and is a no-op on one.
# ---------------------------------------------------------------------------------------------
reference_replay() {
    cat <<'SQL'
-- 001
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE TABLE appointments (
    id uuid DEFAULT gen_random_uuid() NOT NULL, patient_id uuid NOT NULL, doctor_id uuid, clinic_id uuid,
    clinic_name text, doctor_name text NOT NULL, appointment_at timestamptz NOT NULL,
    appointment_end_at timestamptz, reason text NOT NULL, contact_phone varchar(20) NOT NULL,
    status text DEFAULT 'scheduled' NOT NULL, notes text, source text DEFAULT 'patient_app',
    created_at timestamptz DEFAULT now() NOT NULL, updated_at timestamptz DEFAULT now() NOT NULL,
    cancelled_at timestamptz, deleted_at timestamptz,
    CONSTRAINT appointments_status_check CHECK (status IN ('scheduled', 'confirmed', 'rescheduled', 'cancelled', 'completed', 'no_show')),
    PRIMARY KEY (id));
CREATE INDEX ix_appointments_patient_id ON appointments (patient_id);
CREATE INDEX ix_appointments_doctor_id ON appointments (doctor_id);
CREATE INDEX ix_appointments_clinic_id ON appointments (clinic_id);
CREATE INDEX ix_appointments_status ON appointments (status);
CREATE INDEX ix_appointments_appointment_at ON appointments (appointment_at);
CREATE INDEX ix_appointments_deleted_at ON appointments (deleted_at);
-- 002
CREATE TABLE users (
    id uuid DEFAULT gen_random_uuid() NOT NULL, firebase_uid text NOT NULL, email text NOT NULL,
    email_verified boolean DEFAULT false NOT NULL, auth_provider text DEFAULT 'google' NOT NULL,
    full_name text, given_name text, family_name text, photo_url text, phone varchar(20),
    role text DEFAULT 'patient' NOT NULL, is_active boolean DEFAULT true NOT NULL,
    is_onboarded boolean DEFAULT false NOT NULL, created_at timestamptz DEFAULT now() NOT NULL,
    updated_at timestamptz DEFAULT now() NOT NULL, last_login_at timestamptz, PRIMARY KEY (id));
CREATE UNIQUE INDEX ix_users_firebase_uid ON users (firebase_uid);
CREATE INDEX ix_users_email ON users (email);
-- 003
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE TABLE pharmacies (
    id uuid DEFAULT gen_random_uuid() NOT NULL, name text NOT NULL, description text, phone text,
    email text, is_verified boolean DEFAULT false NOT NULL, is_active boolean DEFAULT true NOT NULL,
    rating numeric(2,1) DEFAULT 0.0, rating_count integer DEFAULT 0,
    supports_delivery boolean DEFAULT false NOT NULL, supports_pickup boolean DEFAULT true NOT NULL,
    created_at timestamptz DEFAULT now() NOT NULL, updated_at timestamptz DEFAULT now() NOT NULL,
    PRIMARY KEY (id));
CREATE INDEX idx_pharmacies_active ON pharmacies (is_active);
CREATE INDEX idx_pharmacies_verified ON pharmacies (is_verified);
CREATE TABLE pharmacy_locations (
    id uuid DEFAULT gen_random_uuid() NOT NULL, pharmacy_id uuid NOT NULL, address_line text NOT NULL,
    city text NOT NULL, state text, country text DEFAULT 'India' NOT NULL, pincode text,
    latitude double precision NOT NULL, longitude double precision NOT NULL,
    created_at timestamptz DEFAULT now() NOT NULL, PRIMARY KEY (id),
    CONSTRAINT fk_pharmacy_location FOREIGN KEY (pharmacy_id) REFERENCES pharmacies (id) ON DELETE CASCADE);
ALTER TABLE pharmacy_locations ADD COLUMN geo GEOGRAPHY(Point, 4326);
UPDATE pharmacy_locations SET geo = ST_MakePoint(longitude, latitude);
CREATE INDEX idx_pharmacy_geo ON pharmacy_locations USING GIST (geo);
CREATE INDEX idx_locations_pharmacy ON pharmacy_locations (pharmacy_id);
CREATE TABLE pharmacy_hours (
    id uuid DEFAULT gen_random_uuid() NOT NULL, pharmacy_id uuid NOT NULL, day_of_week smallint NOT NULL,
    open_time time NOT NULL, close_time time NOT NULL, is_closed boolean DEFAULT false NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT fk_pharmacy_hours FOREIGN KEY (pharmacy_id) REFERENCES pharmacies (id) ON DELETE CASCADE,
    CONSTRAINT unique_day_per_pharmacy UNIQUE (pharmacy_id, day_of_week));
-- 004
CREATE TABLE push_tokens (
    id uuid DEFAULT gen_random_uuid() NOT NULL, user_id uuid NOT NULL, fcm_token text NOT NULL,
    platform varchar(10) NOT NULL, is_active boolean DEFAULT true NOT NULL, last_used_at timestamptz,
    created_at timestamptz DEFAULT now() NOT NULL, PRIMARY KEY (id),
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT push_tokens_platform_check CHECK (platform IN ('android', 'ios', 'web')),
    CONSTRAINT unique_user_fcm_token UNIQUE (user_id, fcm_token));
CREATE INDEX idx_push_tokens_user_id ON push_tokens (user_id);
CREATE INDEX idx_push_tokens_is_active ON push_tokens (is_active);
-- 005
CREATE TABLE notifications (
    id uuid DEFAULT gen_random_uuid() NOT NULL, user_id uuid NOT NULL, title text NOT NULL, body text NOT NULL,
    notification_type varchar(50) NOT NULL, priority varchar(20) DEFAULT 'normal' NOT NULL, data jsonb,
    status varchar(20) DEFAULT 'pending' NOT NULL, sent_at timestamptz, delivered_at timestamptz,
    read_at timestamptz, failure_reason text, retry_count integer DEFAULT 0 NOT NULL,
    max_retries integer DEFAULT 3 NOT NULL, scheduled_for timestamptz, expires_at timestamptz,
    metadata jsonb, created_at timestamptz DEFAULT now() NOT NULL, updated_at timestamptz DEFAULT now() NOT NULL,
    PRIMARY KEY (id), FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT notifications_type_check CHECK (notification_type IN ('appointment_reminder', 'appointment_confirmation', 'appointment_cancelled', 'prescription_ready', 'pharmacy_update', 'system_announcement', 'other')),
    CONSTRAINT notifications_priority_check CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    CONSTRAINT notifications_status_check CHECK (status IN ('pending', 'sent', 'delivered', 'failed', 'read')));
CREATE INDEX idx_notifications_user_id ON notifications (user_id);
CREATE INDEX idx_notifications_status ON notifications (status);
CREATE INDEX idx_notifications_created_at ON notifications (created_at DESC);
CREATE INDEX idx_notifications_user_status ON notifications (user_id, status);
CREATE INDEX idx_notifications_type ON notifications (notification_type);
CREATE INDEX idx_notifications_scheduled ON notifications (scheduled_for) WHERE scheduled_for IS NOT NULL;
CREATE INDEX idx_notifications_expires ON notifications (expires_at) WHERE expires_at IS NOT NULL;
-- 006
CREATE TABLE notification_deliveries (
    id uuid DEFAULT gen_random_uuid() NOT NULL, notification_id uuid NOT NULL, push_token_id uuid NOT NULL,
    fcm_message_id text, delivery_status varchar(20) DEFAULT 'pending' NOT NULL, delivered_at timestamptz,
    failure_reason text, created_at timestamptz DEFAULT now() NOT NULL, PRIMARY KEY (id),
    FOREIGN KEY (notification_id) REFERENCES notifications (id) ON DELETE CASCADE,
    FOREIGN KEY (push_token_id) REFERENCES push_tokens (id) ON DELETE CASCADE,
    CONSTRAINT notification_deliveries_status_check CHECK (delivery_status IN ('pending', 'sent', 'delivered', 'failed', 'invalid_token')),
    CONSTRAINT unique_notification_token UNIQUE (notification_id, push_token_id));
CREATE INDEX idx_notification_deliveries_notification ON notification_deliveries (notification_id);
CREATE INDEX idx_notification_deliveries_token ON notification_deliveries (push_token_id);
CREATE INDEX idx_notification_deliveries_status ON notification_deliveries (delivery_status);
-- 007 (original form: doctors belong to users)
CREATE TABLE patients (
    id uuid DEFAULT gen_random_uuid() NOT NULL, user_id uuid NOT NULL, blood_group varchar(10),
    date_of_birth date, gender varchar(20), address_line_1 text, address_line_2 text, city varchar(100),
    state varchar(100), country varchar(100), pincode varchar(20), emergency_contact_name text,
    emergency_contact_phone varchar(20), emergency_contact_relation varchar(50), medical_history json,
    current_medications json, allergies json, chronic_conditions json, insurance_provider text,
    insurance_policy_number varchar(100), created_at timestamptz DEFAULT now() NOT NULL,
    updated_at timestamptz DEFAULT now() NOT NULL, PRIMARY KEY (id), UNIQUE (user_id),
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE);
CREATE UNIQUE INDEX ix_patients_user_id ON patients (user_id);
CREATE TABLE doctors (
    id uuid DEFAULT gen_random_uuid() NOT NULL, user_id uuid NOT NULL, license_number varchar(100),
    specialization varchar(200), sub_specialization varchar(200), qualification text, experience_years integer,
    consultation_fee numeric(10,2), clinic_name text, clinic_address text, clinic_city varchar(100),
    clinic_phone varchar(20), bio text, languages_spoken json, medical_council_registration varchar(100),
    is_verified boolean DEFAULT false NOT NULL, verification_documents json, verified_at timestamptz,
    verified_by uuid, rating numeric(3,2), rating_count integer DEFAULT 0 NOT NULL,
    total_consultations integer DEFAULT 0 NOT NULL, available_days json, available_time_slots json,
    consultation_duration_minutes integer DEFAULT 30, created_at timestamptz DEFAULT now() NOT NULL,
    updated_at timestamptz DEFAULT now() NOT NULL, PRIMARY KEY (id), UNIQUE (user_id), UNIQUE (license_number),
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE);
CREATE UNIQUE INDEX ix_doctors_user_id ON doctors (user_id);
CREATE UNIQUE INDEX ix_doctors_license_number ON doctors (license_number);
CREATE INDEX ix_doctors_specialization ON doctors (specialization);
CREATE INDEX ix_doctors_is_verified ON doctors (is_verified);
CREATE TABLE pharmacy_staff (
    id uuid DEFAULT gen_random_uuid() NOT NULL, user_id uuid NOT NULL, pharmacy_id uuid NOT NULL,
    position varchar(100), license_number varchar(100), is_owner boolean DEFAULT false NOT NULL,
    is_primary_contact boolean DEFAULT false NOT NULL, employment_type varchar(50), date_joined date,
    date_left date, permissions json, created_at timestamptz DEFAULT now() NOT NULL,
    updated_at timestamptz DEFAULT now() NOT NULL, PRIMARY KEY (id), UNIQUE (user_id),
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    FOREIGN KEY (pharmacy_id) REFERENCES pharmacies (id) ON DELETE CASCADE);
CREATE UNIQUE INDEX ix_pharmacy_staff_user_id ON pharmacy_staff (user_id);
CREATE INDEX ix_pharmacy_staff_pharmacy_id ON pharmacy_staff (pharmacy_id);
CREATE INDEX ix_pharmacy_staff_is_owner ON pharmacy_staff (is_owner);
CREATE TABLE admins (
    id uuid DEFAULT gen_random_uuid() NOT NULL, user_id uuid NOT NULL, department varchar(100),
    access_level varchar(50) DEFAULT 'standard' NOT NULL, job_title varchar(100), permissions json,
    allowed_modules json, last_login_ip varchar(45), login_count integer DEFAULT 0 NOT NULL,
    created_at timestamptz DEFAULT now() NOT NULL, updated_at timestamptz DEFAULT now() NOT NULL,
    PRIMARY KEY (id), UNIQUE (user_id), FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE);
CREATE UNIQUE INDEX ix_admins_user_id ON admins (user_id);
CREATE INDEX ix_admins_access_level ON admins (access_level);
SQL
    # 008: the trigger functions, with the same text as the baseline (so dumps compare equal).
    sed -n '/^CREATE OR REPLACE FUNCTION create_user_role_record/,/^    FOR EACH ROW EXECUTE FUNCTION handle_user_role_change/p' "$BASELINE_UP" \
        | grep -v '^DROP TRIGGER'
    cat <<'SQL'
-- 009
CREATE TABLE clinics (
    id uuid DEFAULT gen_random_uuid() NOT NULL, name varchar(255) NOT NULL, slug varchar(255), description text,
    logo_url text, contacts json, address text NOT NULL, latitude numeric(10,8), longitude numeric(11,8),
    opening_hours json, rating numeric(3,2), rating_count integer DEFAULT 0 NOT NULL,
    status varchar(20) DEFAULT 'active' NOT NULL, is_active boolean DEFAULT true NOT NULL,
    created_at timestamptz DEFAULT now() NOT NULL, updated_at timestamptz DEFAULT now() NOT NULL,
    deleted_at timestamptz, PRIMARY KEY (id),
    CONSTRAINT clinics_status_check CHECK (status IN ('active', 'inactive', 'temporarily_closed', 'permanently_closed')));
CREATE INDEX idx_clinics_name ON clinics (name);
CREATE UNIQUE INDEX idx_clinics_slug ON clinics (slug);
CREATE INDEX idx_clinics_status ON clinics (status);
CREATE INDEX idx_clinics_is_active ON clinics (is_active);
-- 010
CREATE TABLE doctor_clinics (
    id uuid DEFAULT gen_random_uuid() NOT NULL, doctor_id uuid NOT NULL, clinic_id uuid NOT NULL,
    is_primary boolean DEFAULT false NOT NULL, start_date timestamptz DEFAULT now() NOT NULL,
    end_date timestamptz, consultation_fee numeric(10,2), consultation_duration_minutes integer,
    department varchar(200), designation varchar(200), available_days json, available_time_slots json,
    appointment_booking_enabled boolean DEFAULT true NOT NULL, total_appointments integer DEFAULT 0 NOT NULL,
    completed_appointments integer DEFAULT 0 NOT NULL, rating_at_clinic numeric(3,2),
    rating_count_at_clinic integer DEFAULT 0 NOT NULL, status varchar(20) DEFAULT 'active' NOT NULL,
    created_at timestamptz DEFAULT now() NOT NULL, updated_at timestamptz DEFAULT now() NOT NULL,
    PRIMARY KEY (id), FOREIGN KEY (doctor_id) REFERENCES doctors (id) ON DELETE CASCADE,
    FOREIGN KEY (clinic_id) REFERENCES clinics (id) ON DELETE CASCADE,
    CONSTRAINT doctor_clinics_status_check CHECK (status IN ('active', 'on_leave', 'temporarily_unavailable', 'inactive')));
CREATE INDEX idx_doctor_clinics_doctor_id ON doctor_clinics (doctor_id);
CREATE INDEX idx_doctor_clinics_clinic_id ON doctor_clinics (clinic_id);
CREATE INDEX idx_doctor_clinics_status ON doctor_clinics (status);
CREATE INDEX idx_doctor_clinics_is_primary ON doctor_clinics (is_primary);
CREATE INDEX idx_doctor_clinics_doctor_status ON doctor_clinics (doctor_id, status);
CREATE INDEX idx_doctor_clinics_clinic_status ON doctor_clinics (clinic_id, status);
CREATE INDEX idx_doctor_clinics_active ON doctor_clinics (doctor_id, clinic_id) WHERE end_date IS NULL AND status = 'active';
CREATE UNIQUE INDEX uq_doctor_clinic_active ON doctor_clinics (doctor_id, clinic_id) WHERE end_date IS NULL;
-- 011
ALTER TABLE doctors DROP COLUMN clinic_name, DROP COLUMN clinic_address, DROP COLUMN clinic_city,
    DROP COLUMN clinic_phone, DROP COLUMN available_days, DROP COLUMN available_time_slots;
-- 012
ALTER TABLE appointments ADD COLUMN doctor_clinic_id uuid;
ALTER TABLE appointments ADD CONSTRAINT fk_appointments_patient_id FOREIGN KEY (patient_id) REFERENCES patients (id) ON DELETE CASCADE;
ALTER TABLE appointments ADD CONSTRAINT fk_appointments_doctor_id FOREIGN KEY (doctor_id) REFERENCES doctors (id) ON DELETE SET NULL;
ALTER TABLE appointments ADD CONSTRAINT fk_appointments_clinic_id FOREIGN KEY (clinic_id) REFERENCES clinics (id) ON DELETE SET NULL;
ALTER TABLE appointments ADD CONSTRAINT fk_appointments_doctor_clinic_id FOREIGN KEY (doctor_clinic_id) REFERENCES doctor_clinics (id) ON DELETE SET NULL;
CREATE INDEX idx_appointments_patient_id ON appointments (patient_id);
CREATE INDEX idx_appointments_doctor_id ON appointments (doctor_id);
-- 013
ALTER TABLE doctors DROP CONSTRAINT doctors_user_id_fkey;
-- 014
ALTER TABLE doctors ADD COLUMN email text, ADD COLUMN full_name text, ADD COLUMN phone varchar(20),
    ADD COLUMN profile_picture_url text;
CREATE UNIQUE INDEX ix_doctors_email ON doctors (email);
ALTER TABLE doctors ALTER COLUMN email SET NOT NULL, ALTER COLUMN full_name SET NOT NULL;
DROP INDEX ix_doctors_user_id;
ALTER TABLE doctors DROP COLUMN user_id;
SQL
}

# Legacy data as a reference database at revision 014 could hold it.
legacy_data() {
    cat <<'SQL'
-- patients get their patients row from the reference trigger, the admin an admins row
INSERT INTO users (id, firebase_uid, email, role, created_at, updated_at) VALUES
    ('00000000-0000-0000-0000-0000000000a1', 'fb-a1', 'a1@example.com', 'patient', '2024-01-01', '2024-01-01'),
    ('00000000-0000-0000-0000-0000000000a2', 'fb-a2', 'a2@example.com', 'patient', '2024-01-01', '2024-01-01'),
    ('00000000-0000-0000-0000-0000000000a3', 'fb-a3', 'a3@example.com', 'admin',   '2024-01-01', '2024-01-01');
INSERT INTO doctors (id, email, full_name, license_number, languages_spoken, updated_at) VALUES
    ('00000000-0000-0000-0000-0000000000d1', 'd1@example.com', 'Dr One', 'LIC-1', '["English", "Hindi"]'::json, '2024-01-01'),
    ('00000000-0000-0000-0000-0000000000d2', 'd2@example.com', 'Dr Two', 'LIC-2', NULL, '2024-01-01');
-- b1: patient_id is a patients.id (what a reference database holds)
-- b2: legacy row with end <= start; b3 cancelled and b4 deleted, both overlapping b1
INSERT INTO appointments (id, patient_id, doctor_id, doctor_name, appointment_at, appointment_end_at,
                          reason, contact_phone, status, source, deleted_at, created_at, updated_at)
SELECT v.id::uuid, p.id, v.doctor_id::uuid, 'Dr One', v.s::timestamptz, v.e::timestamptz, 'checkup',
       '9876543210', v.status, v.source, v.deleted::timestamptz, '2024-01-01', '2024-01-01'
  FROM (VALUES
    ('00000000-0000-0000-0000-0000000000b1', 'fb-a1', '00000000-0000-0000-0000-0000000000d1',
     '2030-05-01 10:00+05:30', '2030-05-01 10:30+05:30', 'scheduled', NULL, NULL),
    ('00000000-0000-0000-0000-0000000000b2', 'fb-a2', '00000000-0000-0000-0000-0000000000d1',
     '2030-05-01 12:00+05:30', '2030-05-01 11:00+05:30', 'confirmed', 'doctor_app', NULL),
    ('00000000-0000-0000-0000-0000000000b3', 'fb-a2', '00000000-0000-0000-0000-0000000000d1',
     '2030-05-01 10:00+05:30', '2030-05-01 10:30+05:30', 'cancelled', NULL, NULL),
    ('00000000-0000-0000-0000-0000000000b4', 'fb-a2', '00000000-0000-0000-0000-0000000000d1',
     '2030-05-01 10:10+05:30', NULL, 'scheduled', NULL, '2024-02-01')
  ) AS v(id, uid, doctor_id, s, e, status, source, deleted)
  JOIN users u ON u.firebase_uid = v.uid
  JOIN patients p ON p.user_id = u.id;
-- a pharmacy with a NULL rating and two locations
INSERT INTO pharmacies (id, name, rating, rating_count, updated_at) VALUES
    ('00000000-0000-0000-0000-0000000000f1', 'Legacy Pharmacy', NULL, NULL, '2024-01-01');
INSERT INTO pharmacy_locations (id, pharmacy_id, address_line, city, latitude, longitude, created_at, geo) VALUES
    ('00000000-0000-0000-0000-0000000000c1', '00000000-0000-0000-0000-0000000000f1', 'Old Road 1', 'Mumbai',
     19.07, 72.87, '2024-01-01', ST_MakePoint(72.87, 19.07)),
    ('00000000-0000-0000-0000-0000000000c2', '00000000-0000-0000-0000-0000000000f1', 'New Road 2', 'Mumbai',
     19.10, 72.90, '2024-02-01', ST_MakePoint(72.90, 19.10));
-- three users holding the same active FCM token; e2 was used most recently
INSERT INTO push_tokens (id, user_id, fcm_token, platform, last_used_at, created_at) VALUES
    ('00000000-0000-0000-0000-0000000000e1', '00000000-0000-0000-0000-0000000000a1', 'tok-shared', 'android', '2024-03-01', '2024-01-01'),
    ('00000000-0000-0000-0000-0000000000e2', '00000000-0000-0000-0000-0000000000a2', 'tok-shared', 'ios',     '2024-04-01', '2024-01-02'),
    ('00000000-0000-0000-0000-0000000000e3', '00000000-0000-0000-0000-0000000000a3', 'tok-shared', 'web',     NULL,         '2024-05-01'),
    ('00000000-0000-0000-0000-0000000000e4', '00000000-0000-0000-0000-0000000000a1', 'tok-own',    'android', NULL,         '2024-01-01');
SQL
}

A1=00000000-0000-0000-0000-0000000000a1
A2=00000000-0000-0000-0000-0000000000a2
D1=00000000-0000-0000-0000-0000000000d1
D2=00000000-0000-0000-0000-0000000000d2
F1=00000000-0000-0000-0000-0000000000f1

# lit VALUE: SQL literal, NULL when empty.
lit() { if [ -n "$1" ]; then printf "'%s'" "$1"; else printf 'NULL'; fi; }
# appt ID PATIENT DOCTOR START END [STATUS]: an INSERT statement ('' for a NULL doctor or end).
appt() {
    echo "INSERT INTO appointments (id, patient_id, doctor_id, doctor_name, appointment_at, appointment_end_at,
                                    reason, contact_phone, status)
          VALUES ('$1', '$2', $(lit "$3"), 'Dr', '$4', $(lit "$5"), 'r', '9876543210', '${6:-scheduled}')"
}

# =============================================================================================
step "1. empty database: baseline up, v2 up, v2 down, baseline down, then up and up again"
newdb empty; E=$DB
apply "$E" "$BASELINE_UP"; dump "$E" >"$TMP/baseline.sql"
apply "$E" "$V2_UP"; dump "$E" >"$TMP/v2.sql"
check_end_schema "$E"
apply "$E" "$V2_DOWN"; dump "$E" >"$TMP/v2_down.sql"
same_schema "v2 down restores exactly the baseline schema" "$TMP/baseline.sql" "$TMP/v2_down.sql"
expect_eq "btree_gist removed again" "$(q "$E" "SELECT count(*) FROM pg_extension WHERE extname = 'btree_gist'")" 0
apply "$E" "$BASELINE_DOWN"
expect_eq "baseline down leaves no tables, views or sequences" \
    "$(q "$E" "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'public' AND c.relkind IN ('r','p','v','m','S','f')
                 AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                 AND d.objid = c.oid AND d.deptype = 'e')")" 0
expect_eq "baseline down leaves no functions except extension-owned ones" \
    "$(q "$E" "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
               WHERE n.nspname = 'public'
                 AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                                 AND d.objid = p.oid AND d.deptype = 'e')")" 0
apply "$E" "$BASELINE_UP"
apply "$E" "$V2_UP"
dump "$E" >"$TMP/v2_again.sql"
same_schema "up after a full down gives the same end schema" "$TMP/v2.sql" "$TMP/v2_again.sql"

# =============================================================================================
step "2. baseline is idempotent"
newdb twice; T=$DB
apply "$T" "$BASELINE_UP"
apply "$T" "$BASELINE_UP"
dump "$T" >"$TMP/twice.sql"
same_schema "baseline applied twice = baseline applied once" "$TMP/baseline.sql" "$TMP/twice.sql"

# =============================================================================================
step "3. a database built by the reference's migration chain 001..014"
newdb reference; R=$DB
reference_replay | run "$R"
dump "$R" >"$TMP/reference.sql"
same_schema "baseline schema = reference revision 014 schema" "$TMP/baseline.sql" "$TMP/reference.sql"
apply "$R" "$BASELINE_UP"
dump "$R" >"$TMP/reference_after_baseline.sql"
same_schema "baseline is a no-op on a reference database" "$TMP/reference.sql" "$TMP/reference_after_baseline.sql"
apply "$R" "$V2_UP"
dump "$R" >"$TMP/reference_v2.sql"
same_schema "v2 on a reference database gives the end schema" "$TMP/v2.sql" "$TMP/reference_v2.sql"

# =============================================================================================
step "4. legacy data is rewritten by v2"
newdb legacy; L=$DB
apply "$L" "$BASELINE_UP"
legacy_data | run "$L"
expect_eq "reference trigger created patients and admins rows" \
    "$(q "$L" "SELECT (SELECT count(*) FROM patients) || '/' || (SELECT count(*) FROM admins)")" "2/1"
apply "$L" "$V2_UP"
expect_eq "patient_id rewritten from patients.id to users.id" \
    "$(q "$L" "SELECT string_agg(patient_id::text, ',' ORDER BY id) FROM appointments")" "$A1,$A2,$A2,$A2"
expect_eq "source nulls backfilled, other values kept" \
    "$(q "$L" "SELECT string_agg(source, ',' ORDER BY id) FROM appointments")" "patient_app,doctor_app,patient_app,patient_app"
expect_eq "data rewrites did not touch updated_at" \
    "$(q "$L" "SELECT count(*) FROM appointments WHERE updated_at <> '2024-01-01'")" 0
expect_eq "pharmacy rating backfilled, timezone added" \
    "$(q "$L" "SELECT rating || '/' || rating_count || '/' || timezone FROM pharmacies WHERE id = '$F1'")" "0.0/0/Asia/Kolkata"
expect_eq "only the oldest location kept, geo generated" \
    "$(q "$L" "SELECT string_agg(id::text || ' ' || ST_AsText(geo), ',') FROM pharmacy_locations")" \
    "00000000-0000-0000-0000-0000000000c1 POINT(72.87 19.07)"
expect_eq "only the most recently used holder of a shared token stays active" \
    "$(q "$L" "SELECT string_agg(id::text || ':' || is_active, ',' ORDER BY id) FROM push_tokens")" \
    "00000000-0000-0000-0000-0000000000e1:false,00000000-0000-0000-0000-0000000000e2:true,00000000-0000-0000-0000-0000000000e3:false,00000000-0000-0000-0000-0000000000e4:true"
expect_eq "languages_spoken is jsonb and searchable" \
    "$(q "$L" "SELECT string_agg(id::text, ',') FROM doctors WHERE languages_spoken @> '[\"Hindi\"]'")" "$D1"
expect_eq "role triggers gone: a doctor user gets no role row" \
    "$(q "$L" "INSERT INTO users (firebase_uid, email, role) VALUES ('fb-doc', 'doc@example.com', 'doctor');
               SELECT (SELECT count(*) FROM patients) + (SELECT count(*) FROM admins)")" 3

step "5. end schema behaviour (same database)"
expect_sqlstate "$L" 23P01 "double booking of a doctor is rejected (23P01)" \
    "$(appt 00000000-0000-0000-0000-000000000101 $A2 $D1 '2030-05-01 10:15+05:30' '2030-05-01 10:45+05:30')"
q "$L" "$(appt 00000000-0000-0000-0000-000000000102 $A2 $D1 '2030-05-01 10:30+05:30' '2030-05-01 11:00+05:30')" >/dev/null
ok "back-to-back appointment is accepted (ranges are half-open)"
q "$L" "$(appt 00000000-0000-0000-0000-000000000103 $A2 $D1 '2030-05-01 10:00+05:30' '2030-05-01 10:30+05:30' cancelled)" >/dev/null
ok "a cancelled appointment does not conflict"
q "$L" "$(appt 00000000-0000-0000-0000-000000000104 $A2 $D2 '2030-05-01 10:00+05:30' '2030-05-01 10:30+05:30')" >/dev/null
q "$L" "$(appt 00000000-0000-0000-0000-000000000105 $A2 '' '2030-05-01 10:00+05:30' '2030-05-01 10:30+05:30')" >/dev/null
ok "another doctor, or no doctor, at the same time is accepted"
expect_sqlstate "$L" 23P01 "legacy row with end <= start blocks its 30 minutes" \
    "$(appt 00000000-0000-0000-0000-000000000106 $A2 $D1 '2030-05-01 12:15+05:30' '2030-05-01 12:20+05:30')"
q "$L" "$(appt 00000000-0000-0000-0000-000000000107 $A2 $D1 '2030-05-01 12:30+05:30' '2030-05-01 12:45+05:30')" >/dev/null
ok "and nothing after them"
q "$L" "$(appt 00000000-0000-0000-0000-000000000108 $A2 $D1 '2030-05-01 14:00+05:30' '')" >/dev/null
expect_sqlstate "$L" 23P01 "a row without end blocks 30 minutes" \
    "$(appt 00000000-0000-0000-0000-000000000109 $A2 $D1 '2030-05-01 14:29+05:30' '2030-05-01 14:40+05:30')"
expect_sqlstate "$L" 23P01 "moving a row onto another one is rejected" \
    "UPDATE appointments SET appointment_at = '2030-05-01 10:20+05:30', appointment_end_at = '2030-05-01 10:50+05:30'
      WHERE id = '00000000-0000-0000-0000-000000000108'"
q "$L" "UPDATE appointments SET status = 'cancelled' WHERE id = '00000000-0000-0000-0000-000000000108';
        UPDATE appointments SET deleted_at = now() WHERE id = '00000000-0000-0000-0000-000000000107'" >/dev/null
q "$L" "$(appt 00000000-0000-0000-0000-000000000110 $A2 $D1 '2030-05-01 14:00+05:30' '2030-05-01 14:30+05:30');
        $(appt 00000000-0000-0000-0000-000000000111 $A2 $D1 '2030-05-01 12:30+05:30' '2030-05-01 12:45+05:30')" >/dev/null
ok "slots of cancelled and deleted rows can be booked again"
expect_sqlstate "$L" 23514 "new rows must end after they start" \
    "$(appt 00000000-0000-0000-0000-000000000112 $A2 $D2 '2030-06-01 10:00+05:30' '2030-06-01 10:00+05:30')"
expect_sqlstate "$L" 23503 "patient_id must be a user" \
    "$(appt 00000000-0000-0000-0000-000000000113 00000000-0000-0000-0000-000000000999 $D2 '2030-06-01 10:00+05:30' '')"
expect_sqlstate "$L" 23514 "users_role_check" "INSERT INTO users (firebase_uid, email, role) VALUES ('x', 'x@example.com', 'nurse')"
expect_sqlstate "$L" 23514 "appointments_source_check" "UPDATE appointments SET source = 'fax' WHERE id = '00000000-0000-0000-0000-0000000000b1'"
expect_sqlstate "$L" 23514 "pharmacy_hours_day_check" \
    "INSERT INTO pharmacy_hours (pharmacy_id, day_of_week, open_time, close_time) VALUES ('$F1', 0, '09:00', '18:00')"
expect_sqlstate "$L" 23505 "one location per pharmacy" \
    "INSERT INTO pharmacy_locations (pharmacy_id, address_line, city, latitude, longitude) VALUES ('$F1', 'x', 'Mumbai', 1, 1)"
expect_sqlstate "$L" 23505 "an FCM token is active for one user only" \
    "INSERT INTO push_tokens (user_id, fcm_token, platform) VALUES ('$A1', 'tok-shared', 'android')"
q "$L" "INSERT INTO push_tokens (user_id, fcm_token, platform, is_active) VALUES ('$A2', 'tok-own', 'ios', false)" >/dev/null
ok "inactive duplicates of a token are allowed"
expect_sqlstate "$L" 23514 "clinic latitude range" \
    "INSERT INTO clinics (name, address, latitude, longitude) VALUES ('c', 'a', 91, 0)"
expect_eq "clinic geo generated only with both coordinates" \
    "$(q "$L" "INSERT INTO clinics (name, slug, address, latitude, longitude) VALUES ('c1', 'c1', 'a', 19.07600000, 72.87770000), ('c2', 'c2', 'a', 19.1, NULL);
               SELECT string_agg(slug || ':' || coalesce(ST_AsText(geo), 'null'), ',' ORDER BY slug) FROM clinics")" \
    "c1:POINT(72.8777 19.076),c2:null"
expect_eq "set_updated_at bumps updated_at" \
    "$(q "$L" "UPDATE pharmacies SET name = 'Renamed' WHERE id = '$F1';
               SELECT updated_at > '2024-01-02' FROM pharmacies WHERE id = '$F1'")" t
expect_eq "broadcasts checks" \
    "$(q "$L" "INSERT INTO broadcasts (title, body, target) VALUES ('t', 'b', 'patients') RETURNING status")" queued
expect_sqlstate "$L" 23514 "broadcasts_target_check" "INSERT INTO broadcasts (title, body, target) VALUES ('t', 'b', 'everyone')"

step "6. v2 down with data, then v2 up again"
q "$L" "INSERT INTO users (id, firebase_uid, email, role) VALUES ('00000000-0000-0000-0000-0000000000a5', 'fb-a5', 'a5@example.com', 'doctor');
        $(appt 00000000-0000-0000-0000-000000000120 00000000-0000-0000-0000-0000000000a5 $D2 '2030-07-01 10:00+05:30' '')" >/dev/null
apply "$L" "$V2_DOWN"
expect_eq "patient_id mapped back to patients.id for every appointment" \
    "$(q "$L" "SELECT count(*) FROM appointments a JOIN patients p ON p.id = a.patient_id")" \
    "$(q "$L" "SELECT count(*) FROM appointments")"
expect_eq "a patients row was created for the doctor user who booked" \
    "$(q "$L" "SELECT count(*) FROM patients WHERE user_id = '00000000-0000-0000-0000-0000000000a5'")" 1
expect_eq "b1 points at a1's patients row again" \
    "$(q "$L" "SELECT p.user_id FROM appointments a JOIN patients p ON p.id = a.patient_id WHERE a.id = '00000000-0000-0000-0000-0000000000b1'")" "$A1"
apply "$L" "$V2_UP"
expect_eq "v2 up again restores users.id" \
    "$(q "$L" "SELECT patient_id FROM appointments WHERE id = '00000000-0000-0000-0000-000000000120'")" \
    "00000000-0000-0000-0000-0000000000a5"

# =============================================================================================
step "7. v2 refuses data that violates the new constraints, and changes nothing"
newdb overlap; O=$DB
apply "$O" "$BASELINE_UP"
legacy_data | run "$O"
q "$O" "INSERT INTO appointments (id, patient_id, doctor_id, doctor_name, appointment_at, appointment_end_at, reason, contact_phone)
        SELECT '00000000-0000-0000-0000-0000000000b9', patient_id, doctor_id, 'Dr One', '2030-05-01 10:20+05:30', NULL, 'x', '9876543210'
          FROM appointments WHERE id = '00000000-0000-0000-0000-0000000000b1';
        INSERT INTO users (id, firebase_uid, email, role) VALUES ('00000000-0000-0000-0000-0000000000a9', 'fb-a9', 'a9@example.com', 'nurse');
        ALTER TABLE appointments DROP CONSTRAINT fk_appointments_patient_id;
        INSERT INTO appointments (id, patient_id, doctor_name, appointment_at, reason, contact_phone)
        VALUES ('00000000-0000-0000-0000-0000000000b8', '00000000-0000-0000-0000-000000000777', 'Dr', '2030-01-01', 'x', '1234567');
        ALTER TABLE appointments ADD CONSTRAINT fk_appointments_patient_id FOREIGN KEY (patient_id)
            REFERENCES patients (id) ON DELETE CASCADE NOT VALID;" >/dev/null
dump "$O" >"$TMP/overlap_before.sql"
expect_apply_fails "$O" "$V2_UP" "v2 aborts and lists overlapping, orphaned and invalid rows" \
    "medico24 v2 migration aborted" \
    "00000000-0000-0000-0000-0000000000b1 overlaps 00000000-0000-0000-0000-0000000000b9" \
    "00000000-0000-0000-0000-0000000000b8 (patient_id 00000000-0000-0000-0000-000000000777)" \
    "00000000-0000-0000-0000-0000000000a9 (role 'nurse')"
dump "$O" >"$TMP/overlap_after.sql"
same_schema "a failed v2 leaves the schema untouched" "$TMP/overlap_before.sql" "$TMP/overlap_after.sql"
q "$O" "DELETE FROM appointments WHERE id IN ('00000000-0000-0000-0000-0000000000b8', '00000000-0000-0000-0000-0000000000b9');
        DELETE FROM users WHERE role = 'nurse'" >/dev/null
apply "$O" "$V2_UP"
ok "v2 succeeds once the listed rows are resolved"

newdb overlaponly; O2=$DB
apply "$O2" "$BASELINE_UP"
legacy_data | run "$O2"
q "$O2" "UPDATE appointments SET status = 'scheduled' WHERE id = '00000000-0000-0000-0000-0000000000b3'" >/dev/null
expect_apply_fails "$O2" "$V2_UP" "a revived cancelled row is reported as an overlap" \
    "1 pair(s) of overlapping appointments" \
    "00000000-0000-0000-0000-0000000000b1 overlaps 00000000-0000-0000-0000-0000000000b3"

# =============================================================================================
step "8. demo seed"
newdb seed; S=$DB
apply "$S" "$BASELINE_UP"
apply "$S" "$V2_UP"
PGOPTIONS="$PGOPTIONS -c medico24.seed_pharmacies=300" psql "$S" -X -q -v ON_ERROR_STOP=1 -f "$SEED" >/dev/null
PGOPTIONS="$PGOPTIONS -c medico24.seed_pharmacies=300" psql "$S" -X -q -v ON_ERROR_STOP=1 -f "$SEED" >/dev/null
expect_eq "seed counts (pharmacies, locations, clinics, doctors) after two runs" \
    "$(q "$S" "SELECT (SELECT count(*) FROM pharmacies) || '/' || (SELECT count(*) FROM pharmacy_locations) || '/' ||
                      (SELECT count(*) FROM clinics) || '/' || (SELECT count(*) FROM doctors)")" "300/300/20/40"
expect_eq "every doctor has exactly one primary clinic" \
    "$(q "$S" "SELECT count(*) FROM doctors d WHERE (SELECT count(*) FROM doctor_clinics dc WHERE dc.doctor_id = d.id AND dc.is_primary) <> 1")" 0
expect_eq "all seeded pharmacies lie within 25 km of Mumbai" \
    "$(q "$S" "SELECT count(*) FROM pharmacy_locations WHERE NOT ST_DWithin(geo, ST_SetSRID(ST_MakePoint(72.8777, 19.0760), 4326)::geography, 25000)")" 0
expect_eq "hours include 24h, overnight, closed days and missing days" \
    "$(q "$S" "SELECT bool_and(x) FROM (VALUES
        ((SELECT count(*) > 0 FROM pharmacy_hours WHERE open_time = close_time AND NOT is_closed)),
        ((SELECT count(*) > 0 FROM pharmacy_hours WHERE close_time < open_time AND NOT is_closed)),
        ((SELECT count(*) > 0 FROM pharmacy_hours WHERE is_closed)),
        ((SELECT count(*) > 0 FROM pharmacies p WHERE (SELECT count(*) FROM pharmacy_hours h WHERE h.pharmacy_id = p.id) BETWEEN 1 AND 6))
      ) t(x)")" t
psql "$S" -X -q -v ON_ERROR_STOP=1 -f "$SEED" >/dev/null
ok "seed runs without the setting (default count; no-op on a seeded database)"
