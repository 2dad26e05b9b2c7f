-- v2: from the reference schema (revision 014) to the schema of this service.
--
-- Runs in one transaction (Diesel wraps every migration in one): if any step fails, nothing
-- changes. Before touching anything it checks the existing data against the new constraints and,
-- when rows would violate them, aborts with one message that lists the offending ids (at most
-- 100 per kind) and how to find them all; the operator fixes those rows and re-runs.
-- Steps that rewrite data are marked DATA below; see down.sql for which of them are lossy.

CREATE EXTENSION IF NOT EXISTS btree_gist;

-- Busy range of an appointment for the exclusion constraint. `timestamptz + interval` is only
-- STABLE (it depends on TimeZone for day/month intervals); adding 30 minutes does not, so the
-- wrapper may be declared IMMUTABLE. The CASE keeps legacy rows with end <= start indexable.
CREATE OR REPLACE FUNCTION appointment_busy_range(s timestamptz, e timestamptz)
RETURNS tstzrange LANGUAGE sql IMMUTABLE
AS $$ SELECT tstzrange(s, CASE WHEN e > s THEN e ELSE s + interval '30 minutes' END, '[)') $$;

-- ---------------------------------------------------------------------------------------------
-- Preflight: refuse to migrate data that the new constraints would reject.
-- ---------------------------------------------------------------------------------------------
DO $preflight$
DECLARE
    problems text := '';
    n bigint;
    sample text;
BEGIN
    -- users_role_check
    SELECT count(*) INTO n FROM users
     WHERE role NOT IN ('patient', 'doctor', 'pharmacy', 'admin');
    IF n > 0 THEN
        SELECT string_agg(format('%s (role %L)', id, role), ', ') INTO sample
          FROM (SELECT id, role FROM users
                 WHERE role NOT IN ('patient', 'doctor', 'pharmacy', 'admin')
                 ORDER BY id LIMIT 100) s;
        problems := problems || format(E'\n- %s user(s) with a role outside patient, doctor, pharmacy, admin'
            ' (users_role_check): %s', n, sample);
    END IF;

    -- fk_appointments_patient_id -> users(id): every patient_id must name a patients row
    -- (rewritten to its user_id) or already be a users.id.
    SELECT count(*) INTO n FROM appointments a
     WHERE NOT EXISTS (SELECT 1 FROM patients p WHERE p.id = a.patient_id)
       AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = a.patient_id);
    IF n > 0 THEN
        SELECT string_agg(format('%s (patient_id %s)', id, patient_id), ', ') INTO sample
          FROM (SELECT a.id, a.patient_id FROM appointments a
                 WHERE NOT EXISTS (SELECT 1 FROM patients p WHERE p.id = a.patient_id)
                   AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = a.patient_id)
                 ORDER BY a.id LIMIT 100) s;
        problems := problems || format(E'\n- %s appointment(s) whose patient_id matches neither a'
            ' patients.id nor a users.id (fk_appointments_patient_id): %s', n, sample);
    END IF;

    -- appointments_source_check (nulls are backfilled with patient_app)
    SELECT count(*) INTO n FROM appointments
     WHERE source IS NOT NULL AND source NOT IN ('patient_app', 'doctor_app', 'admin_panel', 'api');
    IF n > 0 THEN
        SELECT string_agg(format('%s (source %L)', id, source), ', ') INTO sample
          FROM (SELECT id, source FROM appointments
                 WHERE source IS NOT NULL
                   AND source NOT IN ('patient_app', 'doctor_app', 'admin_panel', 'api')
                 ORDER BY id LIMIT 100) s;
        problems := problems || format(E'\n- %s appointment(s) with a source outside patient_app,'
            ' doctor_app, admin_panel, api (appointments_source_check): %s', n, sample);
    END IF;

    -- appointments_no_overlap
    SELECT count(*) INTO n
      FROM appointments a
      JOIN appointments b ON b.doctor_id = a.doctor_id AND a.id < b.id
     WHERE a.status <> 'cancelled' AND a.deleted_at IS NULL
       AND b.status <> 'cancelled' AND b.deleted_at IS NULL
       AND appointment_busy_range(a.appointment_at, a.appointment_end_at)
           && appointment_busy_range(b.appointment_at, b.appointment_end_at);
    IF n > 0 THEN
        SELECT string_agg(format('%s overlaps %s (doctor %s)', a_id, b_id, doctor_id), ', ')
          INTO sample
          FROM (SELECT a.id AS a_id, b.id AS b_id, a.doctor_id
                  FROM appointments a
                  JOIN appointments b ON b.doctor_id = a.doctor_id AND a.id < b.id
                 WHERE a.status <> 'cancelled' AND a.deleted_at IS NULL
                   AND b.status <> 'cancelled' AND b.deleted_at IS NULL
                   AND appointment_busy_range(a.appointment_at, a.appointment_end_at)
                       && appointment_busy_range(b.appointment_at, b.appointment_end_at)
                 ORDER BY a.doctor_id, a.id, b.id LIMIT 100) s;
        problems := problems || format(E'\n- %s pair(s) of overlapping appointments of the same doctor'
            ' (appointments_no_overlap; busy range [appointment_at, appointment_end_at or +30 min),'
            ' rows with status cancelled or deleted_at set do not count): %s', n, sample);
    END IF;

    -- pharmacy_hours_day_check
    SELECT count(*) INTO n FROM pharmacy_hours WHERE day_of_week NOT BETWEEN 1 AND 7;
    IF n > 0 THEN
        SELECT string_agg(format('%s (day_of_week %s)', id, day_of_week), ', ') INTO sample
          FROM (SELECT id, day_of_week FROM pharmacy_hours WHERE day_of_week NOT BETWEEN 1 AND 7
                 ORDER BY id LIMIT 100) s;
        problems := problems || format(E'\n- %s pharmacy_hours row(s) with day_of_week outside 1..7'
            ' (pharmacy_hours_day_check): %s', n, sample);
    END IF;

    -- clinics_latitude_check / clinics_longitude_check
    SELECT count(*) INTO n FROM clinics
     WHERE latitude NOT BETWEEN -90 AND 90 OR longitude NOT BETWEEN -180 AND 180;
    IF n > 0 THEN
        SELECT string_agg(format('%s (latitude %s, longitude %s)', id, latitude, longitude), ', ')
          INTO sample
          FROM (SELECT id, latitude, longitude FROM clinics
                 WHERE latitude NOT BETWEEN -90 AND 90 OR longitude NOT BETWEEN -180 AND 180
                 ORDER BY id LIMIT 100) s;
        problems := problems || format(E'\n- %s clinic(s) with coordinates out of range'
            ' (clinics_latitude_check, clinics_longitude_check): %s', n, sample);
    END IF;

    IF problems <> '' THEN
        RAISE EXCEPTION USING
            MESSAGE = 'medico24 v2 migration aborted: existing rows violate the new constraints;'
                      ' nothing was changed. Fix (or delete) these rows, then run the migration again:'
                      || problems,
            HINT = 'At most 100 ids are listed per kind; docs/database.md has queries that list all.';
    END IF;
END
$preflight$;

-- ---------------------------------------------------------------------------------------------
-- users: the reference's role triggers go (they made doctor/pharmacy users impossible; the
-- application now creates patients/admins rows itself), roles become a checked enumeration.
-- ---------------------------------------------------------------------------------------------
DROP TRIGGER IF EXISTS trigger_create_user_role ON users;
DROP TRIGGER IF EXISTS trigger_handle_role_change ON users;
DROP FUNCTION IF EXISTS create_user_role_record();
DROP FUNCTION IF EXISTS handle_user_role_change();

ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('patient', 'doctor', 'pharmacy', 'admin'));

-- ---------------------------------------------------------------------------------------------
-- appointments
-- ---------------------------------------------------------------------------------------------
-- DATA: patient_id from patients.id to users.id (preflight guarantees every row resolves).
ALTER TABLE appointments DROP CONSTRAINT IF EXISTS fk_appointments_patient_id;
UPDATE appointments a
   SET patient_id = p.user_id
  FROM patients p
 WHERE p.id = a.patient_id;
ALTER TABLE appointments ADD CONSTRAINT fk_appointments_patient_id
    FOREIGN KEY (patient_id) REFERENCES users (id) ON DELETE CASCADE;

-- DATA: source nulls become patient_app (the reference's default).
UPDATE appointments SET source = 'patient_app' WHERE source IS NULL;
ALTER TABLE appointments ALTER COLUMN source SET DEFAULT 'patient_app';
ALTER TABLE appointments ALTER COLUMN source SET NOT NULL;
ALTER TABLE appointments ADD CONSTRAINT appointments_source_check
    CHECK (source IN ('patient_app', 'doctor_app', 'admin_panel', 'api'));

-- NOT VALID: legacy rows with end <= start stay; every new or updated row is checked.
ALTER TABLE appointments ADD CONSTRAINT appointments_end_after_start
    CHECK (appointment_end_at IS NULL OR appointment_end_at > appointment_at) NOT VALID;

ALTER TABLE appointments ADD CONSTRAINT appointments_no_overlap
    EXCLUDE USING gist (
        doctor_id WITH =,
        appointment_busy_range(appointment_at, appointment_end_at) WITH &&
    ) WHERE (doctor_id IS NOT NULL AND status <> 'cancelled' AND deleted_at IS NULL);

-- ---------------------------------------------------------------------------------------------
-- pharmacies
-- ---------------------------------------------------------------------------------------------
-- DATA: unrated pharmacies get 0.0 / 0 instead of NULL.
UPDATE pharmacies SET rating = 0.0 WHERE rating IS NULL;
UPDATE pharmacies SET rating_count = 0 WHERE rating_count IS NULL;
ALTER TABLE pharmacies ALTER COLUMN rating SET NOT NULL;
ALTER TABLE pharmacies ALTER COLUMN rating_count SET NOT NULL;
ALTER TABLE pharmacies ADD COLUMN timezone text NOT NULL DEFAULT 'Asia/Kolkata';

-- ---------------------------------------------------------------------------------------------
-- pharmacy_locations: at most one location per pharmacy; geo generated from the coordinates.
-- ---------------------------------------------------------------------------------------------
-- DATA (lossy): keep the oldest location of each pharmacy, delete the others.
DO $$
DECLARE n bigint;
BEGIN
    DELETE FROM pharmacy_locations l
     USING (SELECT id, row_number() OVER (PARTITION BY pharmacy_id ORDER BY created_at, id) AS rn
              FROM pharmacy_locations) ranked
     WHERE l.id = ranked.id AND ranked.rn > 1;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        RAISE NOTICE 'v2: deleted % extra pharmacy location(s) (kept the oldest per pharmacy)', n;
    END IF;
END
$$;

DROP INDEX IF EXISTS idx_pharmacy_geo;
ALTER TABLE pharmacy_locations DROP COLUMN geo;
ALTER TABLE pharmacy_locations ADD COLUMN geo geography(Point,4326)
    GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(longitude, latitude), 4326)::geography) STORED;
CREATE INDEX idx_pharmacy_geo ON pharmacy_locations USING gist (geo);
ALTER TABLE pharmacy_locations ADD CONSTRAINT uq_pharmacy_locations_pharmacy_id UNIQUE (pharmacy_id);

-- ---------------------------------------------------------------------------------------------
-- pharmacy_hours
-- ---------------------------------------------------------------------------------------------
ALTER TABLE pharmacy_hours ADD CONSTRAINT pharmacy_hours_day_check
    CHECK (day_of_week BETWEEN 1 AND 7);

-- ---------------------------------------------------------------------------------------------
-- push_tokens: an FCM token is active for at most one user.
-- ---------------------------------------------------------------------------------------------
-- DATA (lossy): of several active rows with the same token keep the most recently used one
-- (last_used_at, then created_at, then id) active and deactivate the others.
DO $$
DECLARE n bigint;
BEGIN
    UPDATE push_tokens t
       SET is_active = false
      FROM (SELECT id,
                   row_number() OVER (PARTITION BY fcm_token
                                      ORDER BY last_used_at DESC NULLS LAST,
                                               created_at DESC, id DESC) AS rn
              FROM push_tokens
             WHERE is_active) ranked
     WHERE t.id = ranked.id AND ranked.rn > 1;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        RAISE NOTICE 'v2: deactivated % push token row(s) whose token is active for another user', n;
    END IF;
END
$$;
CREATE UNIQUE INDEX uq_push_tokens_active_fcm_token ON push_tokens (fcm_token) WHERE is_active;

-- ---------------------------------------------------------------------------------------------
-- doctors: languages_spoken json -> jsonb (indexable containment for the language filter).
-- ---------------------------------------------------------------------------------------------
ALTER TABLE doctors ALTER COLUMN languages_spoken TYPE jsonb USING languages_spoken::jsonb;
CREATE INDEX idx_doctors_languages_spoken ON doctors USING gin (languages_spoken);

-- ---------------------------------------------------------------------------------------------
-- clinics: coordinate checks and a generated geography point for nearby searches.
-- ---------------------------------------------------------------------------------------------
ALTER TABLE clinics ADD CONSTRAINT clinics_latitude_check CHECK (latitude BETWEEN -90 AND 90);
ALTER TABLE clinics ADD CONSTRAINT clinics_longitude_check CHECK (longitude BETWEEN -180 AND 180);
ALTER TABLE clinics ADD COLUMN geo geography(Point,4326) GENERATED ALWAYS AS (
    CASE WHEN latitude IS NOT NULL AND longitude IS NOT NULL
         THEN ST_SetSRID(ST_MakePoint(longitude::float8, latitude::float8), 4326)::geography
    END) STORED;
CREATE INDEX idx_clinics_geo ON clinics USING gist (geo);

-- ---------------------------------------------------------------------------------------------
-- doctor_clinics: the reference already has uq_doctor_clinic_active (revision 010); kept as is.
-- ---------------------------------------------------------------------------------------------
CREATE UNIQUE INDEX IF NOT EXISTS uq_doctor_clinic_active ON doctor_clinics (doctor_id, clinic_id)
    WHERE end_date IS NULL;

-- ---------------------------------------------------------------------------------------------
-- notifications
-- ---------------------------------------------------------------------------------------------
ALTER TABLE notifications DROP CONSTRAINT notifications_status_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_status_check CHECK (status IN (
    'pending', 'sent', 'delivered', 'partially_delivered', 'failed', 'read'));
CREATE INDEX idx_notifications_sent_at ON notifications (sent_at DESC);

-- ---------------------------------------------------------------------------------------------
-- New tables
-- ---------------------------------------------------------------------------------------------
CREATE TABLE audit_events (
    id            uuid        NOT NULL DEFAULT gen_random_uuid(),
    actor_user_id uuid,
    actor_type    text        NOT NULL,
    action        text        NOT NULL,
    resource_type text        NOT NULL,
    resource_id   text,
    request_id    text        NOT NULL,
    ip            inet,
    at            timestamptz NOT NULL DEFAULT now(),
    details       jsonb,
    CONSTRAINT audit_events_pkey PRIMARY KEY (id),
    CONSTRAINT audit_events_actor_user_id_fkey FOREIGN KEY (actor_user_id)
        REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX idx_audit_events_at ON audit_events (at DESC);
CREATE INDEX idx_audit_events_actor_at ON audit_events (actor_user_id, at DESC);
CREATE INDEX idx_audit_events_resource ON audit_events (resource_type, resource_id);
CREATE INDEX idx_audit_events_action ON audit_events (action);

CREATE TABLE notification_outbox (
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    event_type      text        NOT NULL,
    user_id         uuid        NOT NULL,
    payload         jsonb       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    available_at    timestamptz NOT NULL DEFAULT now(),
    attempts        integer     NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    processed_at    timestamptz,
    notification_id uuid,
    last_error      text,
    CONSTRAINT notification_outbox_pkey PRIMARY KEY (id),
    CONSTRAINT notification_outbox_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT notification_outbox_notification_id_fkey FOREIGN KEY (notification_id)
        REFERENCES notifications (id) ON DELETE SET NULL
);
CREATE INDEX idx_notification_outbox_pending ON notification_outbox (available_at)
    WHERE processed_at IS NULL;

CREATE TABLE idempotency_keys (
    user_id         uuid        NOT NULL,
    idem_key        text        NOT NULL,
    request_hash    text        NOT NULL,
    response_status smallint,
    response_body   jsonb,
    resource_id     uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (user_id, idem_key),
    CONSTRAINT idempotency_keys_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX idx_idempotency_keys_expires_at ON idempotency_keys (expires_at);

CREATE TABLE broadcasts (
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    created_by      uuid,
    title           text        NOT NULL,
    body            text        NOT NULL,
    target          text        NOT NULL,
    data            jsonb,
    status          text        NOT NULL DEFAULT 'queued',
    total_users     integer     NOT NULL DEFAULT 0,
    processed_users integer     NOT NULL DEFAULT 0,
    success_count   integer     NOT NULL DEFAULT 0,
    failure_count   integer     NOT NULL DEFAULT 0,
    cursor_user_id  uuid,
    failure_reason  text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    completed_at    timestamptz,
    CONSTRAINT broadcasts_pkey PRIMARY KEY (id),
    CONSTRAINT broadcasts_created_by_fkey FOREIGN KEY (created_by)
        REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT broadcasts_target_check CHECK (target IN (
        'all', 'patients', 'doctors', 'pharmacies', 'admins')),
    CONSTRAINT broadcasts_status_check CHECK (status IN ('queued', 'running', 'completed', 'failed'))
);

-- ---------------------------------------------------------------------------------------------
-- updated_at maintained by the database on every table that has the column. Attached last so
-- the data rewrites above leave updated_at alone.
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE TRIGGER trg_set_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_set_updated_at BEFORE UPDATE ON patients
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_set_updated_at BEFORE UPDATE ON admins
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_set_updated_at BEFORE UPDATE ON pharmacy_staff
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_set_updated_at BEFORE UPDATE ON doctors
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_set_updated_at BEFORE UPDATE ON clinics
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_set_updated_at BEFORE UPDATE ON doctor_clinics
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_set_updated_at BEFORE UPDATE ON appointments
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_set_updated_at BEFORE UPDATE ON pharmacies
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_set_updated_at BEFORE UPDATE ON notifications
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_set_updated_at BEFORE UPDATE ON broadcasts
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
