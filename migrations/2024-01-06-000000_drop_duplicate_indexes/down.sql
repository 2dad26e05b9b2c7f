-- Restores the indexes up.sql dropped, under their names and definitions, and removes the ones
-- it created. The unique indexes come back on columns whose unique constraints kept the values
-- unique meanwhile, so rebuilding them cannot fail.

-- users
DROP INDEX IF EXISTS idx_users_search;
DROP INDEX IF EXISTS idx_users_inactive_listing;
DROP INDEX IF EXISTS idx_users_role_listing;
DROP INDEX IF EXISTS idx_users_listing;
-- pg_trgm was created by up.sql; drop it unless something else in this database uses it.
DO $$
BEGIN
    DROP EXTENSION IF EXISTS pg_trgm;
EXCEPTION WHEN dependent_objects_still_exist THEN
    RAISE NOTICE 'down: pg_trgm kept, other objects depend on it';
END
$$;

-- appointments
DROP INDEX IF EXISTS idx_appointments_listing;
CREATE INDEX IF NOT EXISTS ix_appointments_appointment_at ON appointments USING btree (appointment_at);
DROP INDEX IF EXISTS idx_appointments_clinic_listing;
CREATE INDEX IF NOT EXISTS ix_appointments_clinic_id ON appointments USING btree (clinic_id);
DROP INDEX IF EXISTS idx_appointments_status_listing;
CREATE INDEX IF NOT EXISTS ix_appointments_status ON appointments USING btree (status);
DROP INDEX IF EXISTS idx_appointments_doctor_listing;
CREATE INDEX IF NOT EXISTS idx_appointments_doctor_id ON appointments USING btree (doctor_id);
CREATE INDEX IF NOT EXISTS ix_appointments_doctor_id ON appointments USING btree (doctor_id);
CREATE INDEX IF NOT EXISTS idx_appointments_patient_id ON appointments USING btree (patient_id);

-- leading keys of longer indexes
CREATE INDEX IF NOT EXISTS idx_doctor_clinics_clinic_id ON doctor_clinics USING btree (clinic_id);
CREATE INDEX IF NOT EXISTS idx_doctor_clinics_doctor_id ON doctor_clinics USING btree (doctor_id);
CREATE INDEX IF NOT EXISTS idx_notifications_user_id ON notifications USING btree (user_id);
CREATE INDEX IF NOT EXISTS idx_notification_deliveries_notification ON notification_deliveries USING btree (notification_id);
CREATE INDEX IF NOT EXISTS idx_push_tokens_user_id ON push_tokens USING btree (user_id);
CREATE INDEX IF NOT EXISTS idx_pharmacies_active ON pharmacies USING btree (is_active);

-- exact duplicates
CREATE INDEX IF NOT EXISTS idx_locations_pharmacy ON pharmacy_locations USING btree (pharmacy_id);
CREATE UNIQUE INDEX IF NOT EXISTS ix_doctors_license_number ON doctors USING btree (license_number);
CREATE UNIQUE INDEX IF NOT EXISTS ix_pharmacy_staff_user_id ON pharmacy_staff USING btree (user_id);
CREATE UNIQUE INDEX IF NOT EXISTS ix_patients_user_id ON patients USING btree (user_id);
CREATE UNIQUE INDEX IF NOT EXISTS ix_admins_user_id ON admins USING btree (user_id);
