-- Demo data set around Mumbai (19.0760 N, 72.8777 E) for development, demos and benchmarks.
--
-- Needs the end schema (both migrations applied). Deterministic: ids and every attribute are
-- derived from the row number through hashint8extended() (nothing uses random()), so two
-- seeded databases hold the same rows. Idempotent per table group:
--   * pharmacies (+ one location each + opening hours) are inserted only if `pharmacies` is empty;
--   * clinics only if `clinics` is empty, doctors only if `doctors` is empty;
--   * doctor_clinics only when both clinics and doctors were inserted by this run.
-- Nothing is truncated. No users or appointments (those come from the API).
--
-- Number of pharmacies: the custom setting medico24.seed_pharmacies (default 500 when unset or
-- empty); one set-based INSERT ... SELECT per table, so 1,000,000 works (see docs/database.md
-- for timings). The file brings its own BEGIN/COMMIT: run it outside an open transaction.
--
-- Usage:
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f crates/adapters/postgres/sql/demo_seed.sql
--   PGOPTIONS='-c medico24.seed_pharmacies=100000' \
--     psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f crates/adapters/postgres/sql/demo_seed.sql
--   or, in one session:  SET medico24.seed_pharmacies = '100000';  \i demo_seed.sql
--   (`psql -c "SET ..." -f file` does not work: -c and -f run in separate sessions.)
-- From Rust: on one connection, `SET medico24.seed_pharmacies = '<n>'`, then batch_execute this file.

BEGIN;

-- ---------------------------------------------------------------------------------------------
-- Parameters, guards and lookup tables (temporary, dropped at COMMIT)
-- ---------------------------------------------------------------------------------------------
CREATE TEMP TABLE seed_params ON COMMIT DROP AS
SELECT coalesce(nullif(btrim(current_setting('medico24.seed_pharmacies', true)), ''), '500')::int
           AS n_pharmacies,
       NOT EXISTS (SELECT 1 FROM pharmacies) AS do_pharmacies,
       NOT EXISTS (SELECT 1 FROM clinics)    AS do_clinics,
       NOT EXISTS (SELECT 1 FROM doctors)    AS do_doctors;

-- Deterministic, time-ordered ids: UUIDv7 layout whose 48-bit "timestamp" is
-- 1 700 000 000 000 + n ms and whose random bits come from hashint8extended(n, hashtext(kind)).
-- Ordered ids keep the primary-key and foreign-key btrees append-only (fast large seeds).
CREATE FUNCTION pg_temp.seed_id(kind text, n bigint) RETURNS uuid
LANGUAGE sql IMMUTABLE
AS $$
    SELECT (lpad(to_hex(1700000000000 + n), 12, '0')
            || '7' || lpad(to_hex(hashint8extended(n, hashtext(kind)) & 4095), 3, '0')
            || '8' || lpad(to_hex((hashint8extended(n, hashtext(kind)) >> 12) & 1152921504606846975), 15, '0')
           )::uuid
$$;

-- Uniform pseudo-random number in [0, 1) from (row number, salt); deterministic across runs.
CREATE FUNCTION pg_temp.seed_u(i bigint, salt bigint) RETURNS double precision
LANGUAGE sql IMMUTABLE
AS $$ SELECT (hashint8extended(i, salt) & 9007199254740991)::double precision / 9007199254740992.0 $$;

-- 40 Mumbai neighbourhoods with an approximate centre and PIN code; all within 23 km of the
-- reference point, and seeded points lie at most 2.5 km from their centre.
CREATE TEMP TABLE seed_areas (idx int PRIMARY KEY, name text, lat float8, lng float8, pincode text)
ON COMMIT DROP;
INSERT INTO seed_areas VALUES
    ( 1, 'Andheri',     19.1197, 72.8468, '400053'), ( 2, 'Bandra',      19.0596, 72.8295, '400050'),
    ( 3, 'Borivali',    19.2307, 72.8567, '400066'), ( 4, 'Chembur',     19.0522, 72.9005, '400071'),
    ( 5, 'Colaba',      18.9067, 72.8147, '400005'), ( 6, 'Dadar',       19.0178, 72.8478, '400014'),
    ( 7, 'Ghatkopar',   19.0860, 72.9090, '400077'), ( 8, 'Goregaon',    19.1663, 72.8526, '400062'),
    ( 9, 'Juhu',        19.1075, 72.8263, '400049'), (10, 'Kandivali',   19.2047, 72.8526, '400067'),
    (11, 'Kurla',       19.0726, 72.8845, '400070'), (12, 'Malad',       19.1874, 72.8484, '400064'),
    (13, 'Matunga',     19.0269, 72.8553, '400019'), (14, 'Mulund',      19.1726, 72.9425, '400080'),
    (15, 'Powai',       19.1176, 72.9060, '400076'), (16, 'Santacruz',   19.0843, 72.8360, '400054'),
    (17, 'Sion',        19.0390, 72.8619, '400022'), (18, 'Vikhroli',    19.1110, 72.9280, '400083'),
    (19, 'Vile Parle',  19.0990, 72.8440, '400057'), (20, 'Worli',       19.0176, 72.8162, '400018'),
    (21, 'Wadala',      19.0163, 72.8650, '400031'), (22, 'Byculla',     18.9790, 72.8330, '400027'),
    (23, 'Parel',       19.0030, 72.8400, '400012'), (24, 'Lower Parel', 18.9950, 72.8300, '400013'),
    (25, 'Mahim',       19.0350, 72.8400, '400016'), (26, 'Khar',        19.0700, 72.8370, '400052'),
    (27, 'Jogeshwari',  19.1350, 72.8490, '400060'), (28, 'Dahisar',     19.2500, 72.8600, '400068'),
    (29, 'Bhandup',     19.1440, 72.9370, '400078'), (30, 'Kalina',      19.0760, 72.8650, '400098'),
    (31, 'Chandivali',  19.1100, 72.9000, '400072'), (32, 'Versova',     19.1310, 72.8150, '400061'),
    (33, 'Marol',       19.1190, 72.8830, '400059'), (34, 'Saki Naka',   19.1030, 72.8880, '400072'),
    (35, 'Kanjurmarg',  19.1290, 72.9310, '400042'), (36, 'Tardeo',      18.9700, 72.8140, '400034'),
    (37, 'Girgaon',     18.9530, 72.8180, '400004'), (38, 'Fort',        18.9340, 72.8360, '400001'),
    (39, 'Mazgaon',     18.9640, 72.8440, '400010'), (40, 'Churchgate',  18.9322, 72.8264, '400020');

CREATE TEMP TABLE seed_chains (idx int PRIMARY KEY, name text, domain text) ON COMMIT DROP;
INSERT INTO seed_chains VALUES
    ( 1, 'Apollo Pharmacy',      'apollopharmacy.example.in'),
    ( 2, 'MedPlus',              'medplus.example.in'),
    ( 3, 'Wellness Forever',     'wellnessforever.example.in'),
    ( 4, 'Noble Chemist',        'noblechemist.example.in'),
    ( 5, 'Guardian Pharmacy',    'guardianpharmacy.example.in'),
    ( 6, 'Sanjivani Medical',    'sanjivanimedical.example.in'),
    ( 7, 'Shree Ganesh Medical', 'shreeganeshmedical.example.in'),
    ( 8, 'Jan Aushadhi Kendra',  'janaushadhi.example.in'),
    ( 9, 'HealthFirst Chemists', 'healthfirst.example.in'),
    (10, 'Lifeline Medicos',     'lifelinemedicos.example.in'),
    (11, 'City Care Pharmacy',   'citycare.example.in'),
    (12, 'Om Sai Chemist',       'omsaichemist.example.in');

CREATE TEMP TABLE seed_streets (idx int PRIMARY KEY, name text) ON COMMIT DROP;
INSERT INTO seed_streets VALUES
    (1, 'Station Road'), (2, 'Link Road'), (3, 'S.V. Road'), (4, 'L.B.S. Marg'), (5, 'Hill Road'),
    (6, 'Linking Road'), (7, 'M.G. Road'), (8, 'Tilak Road'), (9, 'Nehru Road'), (10, 'J.P. Road'),
    (11, 'Ambedkar Road'), (12, 'Market Lane');

-- Opening-hours patterns: (pattern, day_of_week, open, close, is_closed). Days without a row are
-- closed. 1: 24 h (open = close); 2: overnight 20:00-02:00 every day; 3: 09:00-21:00 Mon-Sat,
-- short Sunday; 4: 08:30-22:30 Mon-Sat, Sunday explicitly closed; 5: 10:00-20:00 Mon-Fri, short
-- Saturday, no Sunday row; 6: 07:00-23:00 Mon-Sat and Sunday night 22:00-06:00. Pattern 0 (no
-- rows at all) has no entry.
CREATE TEMP TABLE seed_hours (pattern int, day_of_week smallint, open_time time, close_time time,
                              is_closed boolean) ON COMMIT DROP;
INSERT INTO seed_hours
SELECT p.pattern, d::smallint, p.open_time, p.close_time, p.is_closed
  FROM generate_series(1, 7) AS d
 CROSS JOIN LATERAL (VALUES
    (1, time '00:00', time '00:00', false, true),
    (2, time '20:00', time '02:00', false, true),
    (3, CASE WHEN d = 7 THEN time '10:00' ELSE time '09:00' END,
        CASE WHEN d = 7 THEN time '14:00' ELSE time '21:00' END, false, true),
    (4, time '08:30', time '22:30', d = 7, true),
    (5, time '10:00', CASE WHEN d = 6 THEN time '14:00' ELSE time '20:00' END, false, d <= 6),
    (6, CASE WHEN d = 7 THEN time '22:00' ELSE time '07:00' END,
        CASE WHEN d = 7 THEN time '06:00' ELSE time '23:00' END, false, true)
 ) AS p(pattern, open_time, close_time, is_closed, present)
 WHERE p.present;

-- Real row counts for the planner (small lookup tables are hash-joined, the generated rows
-- stream through in order).
ANALYZE seed_params, seed_areas, seed_chains, seed_streets, seed_hours;

-- ---------------------------------------------------------------------------------------------
-- Pharmacies, their locations and hours. Row i: area (1 + (i-1) % 40), branch number
-- 1 + (i-1) / 40, chain and all other attributes from seed_u(i, salt).
-- ---------------------------------------------------------------------------------------------
INSERT INTO pharmacies (id, name, description, phone, email, is_verified, is_active, rating,
                        rating_count, supports_delivery, supports_pickup, timezone, created_at,
                        updated_at)
SELECT pg_temp.seed_id('pharmacy', g.i),
       c.name || ' ' || a.name || ' ' || (1 + (g.i - 1) / 40),
       CASE WHEN pg_temp.seed_u(g.i, 2) < 0.7
            THEN 'Neighbourhood pharmacy in ' || a.name || ', Mumbai. Prescription and OTC medicines.'
       END,
       '+91 22 ' || lpad((floor(pg_temp.seed_u(g.i, 3) * 10000))::int::text, 4, '0') || ' '
                 || lpad((floor(pg_temp.seed_u(g.i, 4) * 10000))::int::text, 4, '0'),
       CASE WHEN pg_temp.seed_u(g.i, 5) < 0.6 THEN 'store' || g.i || '@' || c.domain END,
       pg_temp.seed_u(g.i, 6) < 0.7,
       pg_temp.seed_u(g.i, 7) < 0.95,
       CASE WHEN pg_temp.seed_u(g.i, 8) < 0.1 THEN 0.0
            ELSE round((1.0 + 4.0 * pg_temp.seed_u(g.i, 9))::numeric, 1) END,
       CASE WHEN pg_temp.seed_u(g.i, 8) < 0.1 THEN 0
            ELSE 1 + floor(pg_temp.seed_u(g.i, 10) ^ 2 * 2000)::int END,
       pg_temp.seed_u(g.i, 11) < 0.5,
       pg_temp.seed_u(g.i, 12) < 0.9,
       'Asia/Kolkata',
       timestamptz '2023-01-01 09:00+05:30' + pg_temp.seed_u(g.i, 13) * interval '700 days',
       timestamptz '2023-01-01 09:00+05:30' + pg_temp.seed_u(g.i, 13) * interval '700 days'
                                            + pg_temp.seed_u(g.i, 14) * interval '30 days'
  FROM seed_params sp
 CROSS JOIN LATERAL generate_series(1, sp.n_pharmacies) AS g(i)
  JOIN seed_areas a ON a.idx = 1 + (g.i - 1) % 40
  JOIN seed_chains c ON c.idx = 1 + floor(pg_temp.seed_u(g.i, 1) * 12)::int
 WHERE sp.do_pharmacies;

-- One location per pharmacy, uniformly within 2.5 km of its area's centre.
INSERT INTO pharmacy_locations (id, pharmacy_id, address_line, city, state, country, pincode,
                                latitude, longitude, created_at)
SELECT pg_temp.seed_id('location', g.i),
       pg_temp.seed_id('pharmacy', g.i),
       'Shop ' || (1 + floor(pg_temp.seed_u(g.i, 20) * 40))::int || ', '
           || (1 + floor(pg_temp.seed_u(g.i, 21) * 300))::int || ' ' || s.name || ', ' || a.name,
       'Mumbai', 'Maharashtra', 'India', a.pincode,
       round((a.lat + r.km * cos(r.theta) / 111.32)::numeric, 6)::float8,
       round((a.lng + r.km * sin(r.theta) / (111.32 * cos(radians(a.lat))))::numeric, 6)::float8,
       timestamptz '2023-01-01 09:00+05:30' + pg_temp.seed_u(g.i, 13) * interval '700 days'
  FROM seed_params sp
 CROSS JOIN LATERAL generate_series(1, sp.n_pharmacies) AS g(i)
  JOIN seed_areas a ON a.idx = 1 + (g.i - 1) % 40
  JOIN seed_streets s ON s.idx = 1 + floor(pg_temp.seed_u(g.i, 22) * 12)::int
 CROSS JOIN LATERAL (SELECT 2.5 * sqrt(pg_temp.seed_u(g.i, 23)) AS km,
                            2 * pi() * pg_temp.seed_u(g.i, 24) AS theta) r
 WHERE sp.do_pharmacies;

-- Hours: pattern by share 8% 24 h, 10% overnight, 42% standard, 20% Sunday closed, 14% weekdays,
-- 3% late, 3% no hours at all.
INSERT INTO pharmacy_hours (id, pharmacy_id, day_of_week, open_time, close_time, is_closed)
SELECT pg_temp.seed_id('hours', g.i * 8 + h.day_of_week),
       pg_temp.seed_id('pharmacy', g.i),
       h.day_of_week, h.open_time, h.close_time, h.is_closed
  FROM seed_params sp
 CROSS JOIN LATERAL generate_series(1, sp.n_pharmacies) AS g(i)
 CROSS JOIN LATERAL (SELECT floor(pg_temp.seed_u(g.i, 30) * 100)::int AS pct) p
  JOIN seed_hours h ON h.pattern = CASE WHEN p.pct < 8 THEN 1
                                        WHEN p.pct < 18 THEN 2
                                        WHEN p.pct < 60 THEN 3
                                        WHEN p.pct < 80 THEN 4
                                        WHEN p.pct < 94 THEN 5
                                        WHEN p.pct < 97 THEN 6
                                        ELSE 0 END
 WHERE sp.do_pharmacies;

-- ---------------------------------------------------------------------------------------------
-- 20 clinics (one temporarily closed, one inactive, a few unrated)
-- ---------------------------------------------------------------------------------------------
INSERT INTO clinics (id, name, slug, description, logo_url, contacts, address, latitude, longitude,
                     opening_hours, rating, rating_count, status, is_active, created_at, updated_at)
SELECT pg_temp.seed_id('clinic', i),
       n.prefix || ' ' || a.name,
       lower(regexp_replace(n.prefix || ' ' || a.name, '[^A-Za-z0-9]+', '-', 'g')),
       n.prefix || ' in ' || a.name || ': outpatient consultations, diagnostics and pharmacy.',
       CASE WHEN i % 2 = 0
            THEN 'https://cdn.medico24.example/clinics/'
                 || lower(regexp_replace(n.prefix || ' ' || a.name, '[^A-Za-z0-9]+', '-', 'g')) || '.png'
       END,
       json_build_object('phone', '+91 22 ' || (2400 + i * 37) || ' ' || (1000 + i * 211),
                         'email', 'frontdesk' || i || '@clinics.medico24.example'),
       (10 + i * 7) || ', ' || s.name || ', ' || a.name || ', Mumbai, Maharashtra ' || a.pincode,
       round((a.lat + 0.004 * cos(i))::numeric, 6),
       round((a.lng + 0.004 * sin(i))::numeric, 6),
       json_build_object('monday', '09:00-20:00', 'tuesday', '09:00-20:00',
                         'wednesday', '09:00-20:00', 'thursday', '09:00-20:00',
                         'friday', '09:00-20:00', 'saturday', '09:00-14:00',
                         'sunday', CASE WHEN i % 3 = 0 THEN '10:00-13:00' ELSE 'closed' END),
       CASE WHEN i % 6 = 0 THEN NULL ELSE round((3.5 + (i * 7 % 15) / 10.0)::numeric, 2) END,
       CASE WHEN i % 6 = 0 THEN 0 ELSE 12 + i * 23 END,
       CASE i WHEN 7 THEN 'temporarily_closed' WHEN 13 THEN 'inactive' ELSE 'active' END,
       i <> 13,
       timestamptz '2023-06-01 10:00+05:30' + i * interval '9 days',
       timestamptz '2023-06-01 10:00+05:30' + i * interval '9 days'
  FROM seed_params sp
 CROSS JOIN generate_series(1, 20) AS i
  JOIN seed_areas a ON a.idx = 1 + ((i - 1) * 2) % 40
  JOIN seed_streets s ON s.idx = 1 + i % 12
  JOIN (VALUES (1, 'Sunrise Multispeciality Clinic'), (2, 'Harmony Family Clinic'),
               (3, 'CarePoint Clinic'), (4, 'Lotus Health Centre'), (5, 'Arogya Polyclinic'),
               (6, 'Prime Care Clinic'), (7, 'Nirmal Diagnostic Centre'), (8, 'Shanti Medical Centre'),
               (9, 'Metro Health Clinic'), (10, 'Kalpavriksha Clinic')) AS n(k, prefix)
    ON n.k = 1 + (i - 1) % 10
 WHERE sp.do_clinics;

-- ---------------------------------------------------------------------------------------------
-- 40 doctors (about half verified)
-- ---------------------------------------------------------------------------------------------
INSERT INTO doctors (id, email, full_name, phone, profile_picture_url, license_number,
                     specialization, sub_specialization, qualification, experience_years,
                     consultation_fee, consultation_duration_minutes, bio, languages_spoken,
                     medical_council_registration, is_verified, verified_at, rating,
                     rating_count, total_consultations, created_at, updated_at)
SELECT pg_temp.seed_id('doctor', i),
       lower(f.first || '.' || l.last) || '.' || i || '@doctors.medico24.example',
       f.first || ' ' || l.last,
       '+91 98' || lpad((20000000 + i * 7919)::text, 8, '0'),
       CASE WHEN i % 2 = 1 THEN 'https://cdn.medico24.example/doctors/' || i || '.jpg' END,
       'MMC-' || (2005 + i % 18) || '-' || lpad((1000 + i * 37)::text, 6, '0'),
       sp_.name,
       CASE WHEN i % 4 = 0 THEN sp_.sub END,
       sp_.qualification,
       2 + (i * 7) % 30,
       (300 + ((i * 97) % 12) * 100)::numeric(10,2),
       CASE i % 3 WHEN 0 THEN 15 WHEN 1 THEN 30 ELSE 20 END,
       f.first || ' ' || l.last || ' is a ' || lower(sp_.name) || ' specialist with '
           || (2 + (i * 7) % 30) || ' years of experience in Mumbai.',
       '["English", "Hindi"]'::jsonb
           || CASE WHEN i % 2 = 0 THEN '["Marathi"]'::jsonb ELSE '[]'::jsonb END
           || CASE WHEN i % 5 = 0 THEN '["Gujarati"]'::jsonb ELSE '[]'::jsonb END
           || CASE WHEN i % 7 = 0 THEN '["Tamil"]'::jsonb ELSE '[]'::jsonb END
           || CASE WHEN i % 9 = 0 THEN '["Bengali"]'::jsonb ELSE '[]'::jsonb END,
       'MMC/' || (2005 + i % 18) || '/' || (10000 + i * 131),
       i % 5 <> 0 AND i % 3 <> 0,
       CASE WHEN i % 5 <> 0 AND i % 3 <> 0
            THEN timestamptz '2024-01-15 11:00+05:30' + i * interval '3 days' END,
       CASE WHEN i % 8 = 0 THEN NULL ELSE round((3.6 + (i * 13 % 14) / 10.0)::numeric, 2) END,
       CASE WHEN i % 8 = 0 THEN 0 ELSE 5 + i * 17 END,
       CASE WHEN i % 8 = 0 THEN 0 ELSE 40 + i * 53 END,
       timestamptz '2023-09-01 10:00+05:30' + i * interval '5 days',
       timestamptz '2023-09-01 10:00+05:30' + i * interval '5 days'
  FROM seed_params sp
 CROSS JOIN generate_series(1, 40) AS i
  JOIN (VALUES (0, 'Aarav'), (1, 'Priya'), (2, 'Rohan'), (3, 'Ananya'), (4, 'Vikram'),
               (5, 'Sneha'), (6, 'Arjun'), (7, 'Kavya'), (8, 'Rahul'), (9, 'Meera'),
               (10, 'Siddharth'), (11, 'Pooja'), (12, 'Aditya'), (13, 'Neha'), (14, 'Karan'),
               (15, 'Isha'), (16, 'Nikhil'), (17, 'Riya'), (18, 'Farhan'), (19, 'Lakshmi'))
       AS f(k, first) ON f.k = i % 20
  JOIN (VALUES (0, 'Sharma'), (1, 'Patel'), (2, 'Iyer'), (3, 'Deshmukh'), (4, 'Kulkarni'),
               (5, 'Mehta'), (6, 'Nair'), (7, 'Joshi'), (8, 'Shaikh'), (9, 'Banerjee'),
               (10, 'Reddy'), (11, 'Gupta'), (12, 'Pillai'), (13, 'Desai'), (14, 'Kapoor'),
               (15, 'Rao'), (16, 'Chatterjee'))
       AS l(k, last) ON l.k = (i * 7) % 17
  JOIN (VALUES (0, 'General Physician', 'Internal Medicine', 'MBBS, MD (Medicine)'),
               (1, 'Cardiology', 'Interventional Cardiology', 'MBBS, MD, DM (Cardiology)'),
               (2, 'Dermatology', 'Cosmetic Dermatology', 'MBBS, MD (Dermatology)'),
               (3, 'Pediatrics', 'Neonatology', 'MBBS, MD (Pediatrics)'),
               (4, 'Orthopedics', 'Sports Medicine', 'MBBS, MS (Orthopaedics)'),
               (5, 'Gynecology', 'Reproductive Medicine', 'MBBS, MS (Obstetrics & Gynaecology)'),
               (6, 'ENT', 'Otology', 'MBBS, MS (ENT)'),
               (7, 'Ophthalmology', 'Retina', 'MBBS, MS (Ophthalmology)'),
               (8, 'Psychiatry', 'Child Psychiatry', 'MBBS, MD (Psychiatry)'),
               (9, 'Neurology', 'Epilepsy', 'MBBS, MD, DM (Neurology)'),
               (10, 'Dentistry', 'Orthodontics', 'BDS, MDS'),
               (11, 'Endocrinology', 'Diabetology', 'MBBS, MD, DM (Endocrinology)'))
       AS sp_(k, name, sub, qualification) ON sp_.k = i % 12
 WHERE sp.do_doctors;

-- ---------------------------------------------------------------------------------------------
-- doctor_clinics: every doctor has one primary clinic; every third doctor also a secondary one.
-- ---------------------------------------------------------------------------------------------
INSERT INTO doctor_clinics (id, doctor_id, clinic_id, is_primary, start_date, consultation_fee,
                            consultation_duration_minutes, department, designation,
                            available_days, available_time_slots, appointment_booking_enabled,
                            total_appointments, completed_appointments, rating_at_clinic,
                            rating_count_at_clinic, status, created_at, updated_at)
SELECT pg_temp.seed_id('doctor_clinic', d.i * 2 + CASE WHEN k.kind = 'primary' THEN 0 ELSE 1 END),
       pg_temp.seed_id('doctor', d.i),
       pg_temp.seed_id('clinic', CASE WHEN k.kind = 'primary' THEN 1 + (d.i - 1) % 20
                                      ELSE 1 + (d.i + 6) % 20 END),
       k.kind = 'primary',
       timestamptz '2024-01-01 09:00+05:30' + d.i * interval '2 days',
       ((300 + ((d.i * 97) % 12) * 100) + CASE WHEN k.kind = 'primary' THEN 0 ELSE 200 END)::numeric(10,2),
       CASE d.i % 3 WHEN 0 THEN 15 WHEN 1 THEN 30 ELSE 20 END,
       CASE WHEN d.i % 12 = 0 THEN 'General Medicine' ELSE 'Outpatient' END,
       CASE WHEN 2 + (d.i * 7) % 30 >= 15 THEN 'Senior Consultant' ELSE 'Consultant' END,
       CASE WHEN k.kind = 'primary'
            THEN '["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]'::json
            ELSE '["Saturday"]'::json END,
       CASE WHEN k.kind = 'primary'
            THEN '[{"start": "10:00", "end": "13:00"}, {"start": "17:00", "end": "20:00"}]'::json
            ELSE '[{"start": "10:00", "end": "14:00"}]'::json END,
       d.i % 10 <> 0,
       d.i * 11, d.i * 9,
       CASE WHEN d.i % 8 = 0 THEN NULL ELSE round((3.5 + (d.i * 11 % 15) / 10.0)::numeric, 2) END,
       CASE WHEN d.i % 8 = 0 THEN 0 ELSE 3 + d.i * 5 END,
       CASE WHEN d.i = 18 AND k.kind = 'secondary' THEN 'on_leave' ELSE 'active' END,
       timestamptz '2024-01-01 09:00+05:30' + d.i * interval '2 days',
       timestamptz '2024-01-01 09:00+05:30' + d.i * interval '2 days'
  FROM seed_params sp
 CROSS JOIN generate_series(1, 40) AS d(i)
 CROSS JOIN (VALUES ('primary'), ('secondary')) AS k(kind)
 WHERE sp.do_doctors AND sp.do_clinics
   AND (k.kind = 'primary' OR d.i % 3 = 0);

DROP FUNCTION pg_temp.seed_u(bigint, bigint);
DROP FUNCTION pg_temp.seed_id(text, bigint);

ANALYZE pharmacies, pharmacy_locations, pharmacy_hours, clinics, doctors, doctor_clinics;

COMMIT;
