-- Reverts the baseline: drops every table, trigger and function it creates.
--
-- WARNING: on a database that came from the reference implementation this deletes all its
-- data (the baseline cannot tell whether it created the tables or found them).
--
-- The extensions pgcrypto and postgis are deliberately left installed: other objects in the
-- database (or the operator) may rely on them, and dropping postgis is slow and needs superuser.
-- Drop them by hand if wanted: DROP EXTENSION postgis; DROP EXTENSION pgcrypto;

DROP TRIGGER IF EXISTS trigger_handle_role_change ON users;
DROP TRIGGER IF EXISTS trigger_create_user_role ON users;

-- Children before parents; CASCADE only removes what still points at a table.
DROP TABLE IF EXISTS appointments CASCADE;
DROP TABLE IF EXISTS doctor_clinics CASCADE;
DROP TABLE IF EXISTS clinics CASCADE;
DROP TABLE IF EXISTS admins CASCADE;
DROP TABLE IF EXISTS pharmacy_staff CASCADE;
DROP TABLE IF EXISTS doctors CASCADE;
DROP TABLE IF EXISTS patients CASCADE;
DROP TABLE IF EXISTS notification_deliveries CASCADE;
DROP TABLE IF EXISTS notifications CASCADE;
DROP TABLE IF EXISTS push_tokens CASCADE;
DROP TABLE IF EXISTS pharmacy_hours CASCADE;
DROP TABLE IF EXISTS pharmacy_locations CASCADE;
DROP TABLE IF EXISTS pharmacies CASCADE;
DROP TABLE IF EXISTS users CASCADE;

DROP FUNCTION IF EXISTS handle_user_role_change();
DROP FUNCTION IF EXISTS create_user_role_record();
