-- Reverts v2: returns the database to the baseline (reference revision 014) schema.
--
-- Schema objects are restored exactly. Data rewrites of up.sql that cannot be undone:
--   * pharmacy locations deleted as duplicates (all but the oldest per pharmacy) are gone;
--   * push tokens deactivated as duplicates stay inactive;
--   * appointments.source and pharmacies.rating / rating_count values that were NULL stay
--     'patient_app' / 0.0 / 0 (indistinguishable from real values);
--   * languages_spoken goes back to json from jsonb, which had normalised whitespace and key order;
--   * notifications with status partially_delivered (new in v2) become delivered;
--   * rows created under v2 in the dropped tables (audit_events, notification_outbox,
--     idempotency_keys, broadcasts) are lost.
-- appointments.patient_id is mapped back from users.id to patients.id; users that have
-- appointments but no patients row (e.g. doctors or admins who booked) get an empty patients row
-- so the reference foreign key holds.

-- updated_at triggers
DROP TRIGGER IF EXISTS trg_set_updated_at ON broadcasts;
DROP TRIGGER IF EXISTS trg_set_updated_at ON notifications;
DROP TRIGGER IF EXISTS trg_set_updated_at ON pharmacies;
DROP TRIGGER IF EXISTS trg_set_updated_at ON appointments;
DROP TRIGGER IF EXISTS trg_set_updated_at ON doctor_clinics;
DROP TRIGGER IF EXISTS trg_set_updated_at ON clinics;
DROP TRIGGER IF EXISTS trg_set_updated_at ON doctors;
DROP TRIGGER IF EXISTS trg_set_updated_at ON pharmacy_staff;
DROP TRIGGER IF EXISTS trg_set_updated_at ON admins;
DROP TRIGGER IF EXISTS trg_set_updated_at ON patients;
DROP TRIGGER IF EXISTS trg_set_updated_at ON users;
DROP FUNCTION IF EXISTS set_updated_at();

-- new tables
DROP TABLE IF EXISTS broadcasts;
DROP TABLE IF EXISTS idempotency_keys;
DROP TABLE IF EXISTS notification_outbox;
DROP TABLE IF EXISTS audit_events;

-- notifications
DROP INDEX IF EXISTS idx_notifications_sent_at;
ALTER TABLE notifications DROP CONSTRAINT notifications_status_check;
UPDATE notifications SET status = 'delivered' WHERE status = 'partially_delivered';
ALTER TABLE notifications ADD CONSTRAINT notifications_status_check CHECK (status IN (
    'pending', 'sent', 'delivered', 'failed', 'read'));

-- doctor_clinics: uq_doctor_clinic_active belongs to the baseline; nothing to undo.

-- clinics
DROP INDEX IF EXISTS idx_clinics_geo;
ALTER TABLE clinics DROP COLUMN geo;
ALTER TABLE clinics DROP CONSTRAINT clinics_longitude_check;
ALTER TABLE clinics DROP CONSTRAINT clinics_latitude_check;

-- doctors
DROP INDEX IF EXISTS idx_doctors_languages_spoken;
ALTER TABLE doctors ALTER COLUMN languages_spoken TYPE json USING languages_spoken::json;

-- push_tokens (deactivated duplicates are not reactivated)
DROP INDEX IF EXISTS uq_push_tokens_active_fcm_token;

-- pharmacy_hours
ALTER TABLE pharmacy_hours DROP CONSTRAINT pharmacy_hours_day_check;

-- pharmacy_locations: geo becomes a plain column again, keeping its values and its position;
-- idx_pharmacy_geo stays valid. Deleted duplicate locations are not restored.
ALTER TABLE pharmacy_locations DROP CONSTRAINT uq_pharmacy_locations_pharmacy_id;
ALTER TABLE pharmacy_locations ALTER COLUMN geo DROP EXPRESSION;

-- pharmacies
ALTER TABLE pharmacies DROP COLUMN timezone;
ALTER TABLE pharmacies ALTER COLUMN rating_count DROP NOT NULL;
ALTER TABLE pharmacies ALTER COLUMN rating DROP NOT NULL;

-- appointments
ALTER TABLE appointments DROP CONSTRAINT appointments_no_overlap;
ALTER TABLE appointments DROP CONSTRAINT appointments_end_after_start;
ALTER TABLE appointments DROP CONSTRAINT appointments_source_check;
ALTER TABLE appointments ALTER COLUMN source DROP NOT NULL;

ALTER TABLE appointments DROP CONSTRAINT fk_appointments_patient_id;
INSERT INTO patients (user_id)
SELECT DISTINCT a.patient_id
  FROM appointments a
 WHERE NOT EXISTS (SELECT 1 FROM patients p WHERE p.user_id = a.patient_id);
UPDATE appointments a
   SET patient_id = p.id
  FROM patients p
 WHERE p.user_id = a.patient_id;
ALTER TABLE appointments ADD CONSTRAINT fk_appointments_patient_id
    FOREIGN KEY (patient_id) REFERENCES patients (id) ON DELETE CASCADE;

DROP FUNCTION IF EXISTS appointment_busy_range(timestamptz, timestamptz);

-- users: role check goes, the reference's role triggers come back (same text as the baseline).
ALTER TABLE users DROP CONSTRAINT users_role_check;

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

-- btree_gist was created by up.sql; drop it unless something else in this database uses it.
DO $$
BEGIN
    DROP EXTENSION IF EXISTS btree_gist;
EXCEPTION WHEN dependent_objects_still_exist THEN
    RAISE NOTICE 'v2 down: btree_gist kept, other objects depend on it';
END
$$;
