-- Demo users and appointments (`medico24 seed`): run after demo_seed.sql, which creates the
-- doctors and clinics the appointments point at. Sizes come from the settings
-- `medico24.seed_users` (default 50) and `medico24.seed_appointments` (default 200).
--
-- Users are `demo-user-<n>@medico24.dev` with Firebase uid `dev-` + the first 24 hex digits of
-- sha256(lower(email)): exactly what `medico24 dev-token --email demo-user-1@medico24.dev` mints,
-- so a developer can log in as a seeded patient. User 1 is an admin, users 2–3 doctors, the rest
-- patients. Appointments are spread over the doctors in 30-minute slots that never overlap, so
-- the exclusion constraint holds. Running it twice adds nothing.

BEGIN;

CREATE TEMP TABLE people_params ON COMMIT DROP AS
SELECT coalesce(nullif(btrim(current_setting('medico24.seed_users', true)), ''), '50')::int AS users,
       coalesce(nullif(btrim(current_setting('medico24.seed_appointments', true)), ''), '200')::int AS appointments,
       NOT EXISTS (SELECT 1 FROM users WHERE email LIKE 'demo-user-%@medico24.dev') AS fresh;

INSERT INTO users (id, firebase_uid, email, email_verified, auth_provider, full_name, given_name, family_name,
                   role, is_active, is_onboarded, created_at, updated_at)
SELECT md5('demo-user-' || u.i)::uuid,
       'dev-' || left(encode(sha256(convert_to('demo-user-' || u.i || '@medico24.dev', 'UTF8')), 'hex'), 24),
       'demo-user-' || u.i || '@medico24.dev',
       true, 'google',
       'Demo User ' || u.i, 'Demo', 'User ' || u.i,
       CASE WHEN u.i = 1 THEN 'admin' WHEN u.i <= 3 THEN 'doctor' ELSE 'patient' END,
       u.i % 25 <> 0,
       u.i % 4 <> 0,
       timestamptz '2025-01-01 00:00Z' + u.i * interval '7 hours',
       timestamptz '2025-01-01 00:00Z' + u.i * interval '7 hours'
  FROM people_params p
 CROSS JOIN generate_series(1, p.users) AS u(i)
 WHERE p.fresh;

INSERT INTO patients (user_id)
SELECT id FROM users WHERE email LIKE 'demo-user-%@medico24.dev' AND role = 'patient'
ON CONFLICT (user_id) DO NOTHING;
INSERT INTO admins (user_id)
SELECT id FROM users WHERE email LIKE 'demo-user-%@medico24.dev' AND role = 'admin'
ON CONFLICT (user_id) DO NOTHING;

-- Slot k of doctor d: one doctor per appointment in turn, 30 minutes per slot, so no two
-- appointments of a doctor overlap.
WITH docs AS (
    SELECT id, full_name, row_number() OVER (ORDER BY id) - 1 AS idx, count(*) OVER () AS n FROM doctors
), patients_list AS (
    SELECT id, row_number() OVER (ORDER BY id) - 1 AS idx, count(*) OVER () AS n
      FROM users WHERE email LIKE 'demo-user-%@medico24.dev' AND role = 'patient' AND is_active
)
INSERT INTO appointments (id, patient_id, doctor_id, clinic_id, doctor_name, clinic_name, appointment_at,
                          appointment_end_at, reason, contact_phone, status, notes, source, created_at, updated_at,
                          cancelled_at)
SELECT md5('demo-appointment-' || a.i)::uuid,
       p.id,
       d.id,
       dc.clinic_id,
       d.full_name,
       c.name,
       timestamptz '2026-01-05 03:30Z' + (a.i / d.n) * interval '30 minutes',
       timestamptz '2026-01-05 03:30Z' + (a.i / d.n) * interval '30 minutes' + interval '20 minutes',
       (ARRAY['Routine checkup', 'Follow-up visit', 'Fever and cough', 'Back pain', 'Skin rash', 'Blood pressure review'])[1 + a.i % 6],
       '+91 98' || lpad((a.i % 100000000)::text, 8, '0'),
       (ARRAY['scheduled', 'confirmed', 'completed', 'cancelled', 'scheduled', 'no_show', 'rescheduled'])[1 + a.i % 7],
       NULL,
       (ARRAY['patient_app', 'patient_app', 'patient_app', 'api'])[1 + a.i % 4],
       timestamptz '2025-12-01 00:00Z' + (a.i % 1000) * interval '37 minutes',
       timestamptz '2025-12-01 00:00Z' + (a.i % 1000) * interval '37 minutes',
       CASE WHEN a.i % 7 = 3 THEN timestamptz '2025-12-02 00:00Z' END
  FROM people_params pp
 CROSS JOIN generate_series(0, pp.appointments - 1) AS a(i)
  JOIN docs d ON d.idx = a.i % d.n
  JOIN patients_list p ON p.idx = a.i % p.n
  LEFT JOIN LATERAL (SELECT clinic_id FROM doctor_clinics WHERE doctor_id = d.id AND is_primary LIMIT 1) dc ON true
  LEFT JOIN clinics c ON c.id = dc.clinic_id
 WHERE pp.fresh;

ANALYZE users, appointments;

COMMIT;
