-- Indexes cost every write of their table: each INSERT adds an entry to every index, and an
-- UPDATE that changes an indexed column adds one to every index. This migration removes the
-- indexes that another index already covers, and gives the two admin listings that read whole
-- tables (users, appointments) indexes in their sort order, so a page reads only its own rows.
--
-- Redundant means: another index of the same table indexes the same keys in the same way (same
-- columns, operator classes, collations, orderings, predicate), or the index is a plain btree
-- whose keys are the leading keys of another btree over every row, which answers every search
-- the shorter one answers. Unique indexes are only dropped when an identical unique constraint
-- stays, so no uniqueness rule is lost and a violation is still reported under a name the code
-- recognises; the indexes the code or the tests name stay. The integration test module
-- schema_indexes checks the migrated schema for both kinds, so a later migration cannot bring
-- one back.
--
-- Every statement uses IF EXISTS / IF NOT EXISTS: on a large production table the new indexes
-- can be built by hand first with CREATE INDEX CONCURRENTLY (same definitions), and this
-- migration then finds them present.

-- ---------------------------------------------------------------------------------------------
-- Exact duplicates: the same index twice under two names.
-- ---------------------------------------------------------------------------------------------

-- (user_id) UNIQUE twice: the constraint's index admins_user_id_key enforces the same rule.
DROP INDEX IF EXISTS ix_admins_user_id;
-- (user_id) UNIQUE twice: patients_user_id_key (constraint) stays.
DROP INDEX IF EXISTS ix_patients_user_id;
-- (user_id) UNIQUE twice: pharmacy_staff_user_id_key (constraint) stays.
DROP INDEX IF EXISTS ix_pharmacy_staff_user_id;
-- (license_number) UNIQUE twice: doctors_license_number_key (constraint) stays; the adapter
-- recognises a duplicate licence by either name.
DROP INDEX IF EXISTS ix_doctors_license_number;
-- (pharmacy_id) plain next to the unique constraint uq_pharmacy_locations_pharmacy_id on the
-- same column, which serves every lookup the plain one served.
DROP INDEX IF EXISTS idx_locations_pharmacy;

-- ---------------------------------------------------------------------------------------------
-- Leading keys of a longer btree index.
-- ---------------------------------------------------------------------------------------------

-- (is_active): the leading key of idx_pharmacies_listing (is_active, rating DESC, created_at
-- DESC, id DESC).
DROP INDEX IF EXISTS idx_pharmacies_active;
-- (user_id): the leading key of the unique constraint unique_user_fcm_token (user_id, fcm_token).
DROP INDEX IF EXISTS idx_push_tokens_user_id;
-- (notification_id): the leading key of unique_notification_token (notification_id,
-- push_token_id).
DROP INDEX IF EXISTS idx_notification_deliveries_notification;
-- (user_id): the leading key of idx_notifications_user_status (user_id, status).
DROP INDEX IF EXISTS idx_notifications_user_id;
-- (doctor_id): the leading key of idx_doctor_clinics_doctor_status (doctor_id, status).
DROP INDEX IF EXISTS idx_doctor_clinics_doctor_id;
-- (clinic_id): the leading key of idx_doctor_clinics_clinic_status (clinic_id, status).
DROP INDEX IF EXISTS idx_doctor_clinics_clinic_id;

-- ---------------------------------------------------------------------------------------------
-- appointments: the listing order (appointment_at DESC, id DESC) behind each filter.
--
-- The admin list and a patient's own list sort by appointment_at DESC, id DESC and hide
-- soft-deleted rows unless asked. A filter whose rows are spread over the whole table (no filter,
-- a date range, a status, a doctor, a clinic) gets a btree that starts with the filter and
-- continues with appointment_at, read backwards: a page is the next entries of one index range
-- (rows sharing one instant are put in id order in memory, a handful at a time), and a cursor
-- page starts inside the range instead of skipping rows. deleted_at is the last key column, so
-- "deleted_at IS NULL" is checked on the index entry and the count behind a page's `total` never
-- reads the table. id is left out of the keys: it would add 16 bytes to every entry, while
-- appointments share instants (slots start on the hour and half hour) and entries with equal keys
-- are stored once with the list of their rows, which only works without it (5M test rows: 33 MB
-- for the plain order and 47 MB for the status one, against 237 MB and 321 MB with id).
--
-- Each replaces the single-column index of its filter, which becomes its leading key; the doctor
-- index was there twice (ix_* and idx_*) from the reference schema. A patient holds a few dozen
-- appointments at most, so the patient filter keeps its plain index (one of the two identical
-- ones) and sorts those rows in memory.
-- ---------------------------------------------------------------------------------------------

-- (patient_id) twice: ix_appointments_patient_id stays.
DROP INDEX IF EXISTS idx_appointments_patient_id;

DROP INDEX IF EXISTS ix_appointments_doctor_id;
DROP INDEX IF EXISTS idx_appointments_doctor_id;
CREATE INDEX IF NOT EXISTS idx_appointments_doctor_listing
    ON appointments (doctor_id, appointment_at, deleted_at);

DROP INDEX IF EXISTS ix_appointments_status;
CREATE INDEX IF NOT EXISTS idx_appointments_status_listing
    ON appointments (status, appointment_at, deleted_at);

DROP INDEX IF EXISTS ix_appointments_clinic_id;
CREATE INDEX IF NOT EXISTS idx_appointments_clinic_listing
    ON appointments (clinic_id, appointment_at, deleted_at);

-- No filter, or only a date range.
DROP INDEX IF EXISTS ix_appointments_appointment_at;
CREATE INDEX IF NOT EXISTS idx_appointments_listing
    ON appointments (appointment_at, deleted_at);

-- ---------------------------------------------------------------------------------------------
-- users: the admin list, ORDER BY created_at DESC, id DESC.
-- ---------------------------------------------------------------------------------------------

-- No filter, or is_active = true (most users are active: the next active rows are near).
CREATE INDEX IF NOT EXISTS idx_users_listing
    ON users (created_at, id);
-- role filter (alone or with is_active).
CREATE INDEX IF NOT EXISTS idx_users_role_listing
    ON users (role, created_at, id);
-- is_active = false: few rows, spread thinly over the whole order; a small partial index holds
-- just them.
CREATE INDEX IF NOT EXISTS idx_users_inactive_listing
    ON users (created_at, id) WHERE NOT is_active;
-- search: a case-insensitive substring of full_name or email (ILIKE '%…%'). A trigram index
-- finds the rows holding the text's three-letter pieces without reading the table; one index
-- over both columns serves the OR (one bitmap per column, combined). pg_trgm ships with
-- PostgreSQL (contrib) and can be created by a database owner.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX IF NOT EXISTS idx_users_search
    ON users USING gin (full_name gin_trgm_ops, email gin_trgm_ops);
