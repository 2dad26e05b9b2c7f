//! The top-up to production size: psql runs, batched `INSERT … SELECT generate_series`
//! statements with a progress bar, and the restore of the appointments' indexes and constraints.

use super::*;

/// Runs `sql` (one transaction unless it is a single statement that cannot run in one) with
/// psql; returns its trimmed output.
pub(super) fn psql(url: &str, sql: &str) -> Result<String> {
    let output = process::output(&mut psql_command(url, sql))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        let first_line = sql.lines().next().unwrap_or_default();
        Err(format!(
            "psql on {} failed for `{first_line}`…: {}",
            redact_url(url),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// psql running `sql` on `url`: no password prompt, no `~/.psqlrc`, bare values, stop at the
/// first error.
pub(super) fn psql_command(url: &str, sql: &str) -> Command {
    let mut cmd = Command::new("psql");
    cmd.args(["-w", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-tA", "-d", url])
        .arg("-c")
        .arg(sql)
        .env("PGCONNECT_TIMEOUT", "5")
        .stdin(Stdio::null());
    cmd
}

/// `text` as an SQL string literal.
pub(super) fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Every batch runs with these settings (asynchronous commit: a crash could lose the last
/// batches, which for a bench database is fine; no JIT: compiling costs a second per batch).
pub(super) const BATCH_SETTINGS: &str = "SET synchronous_commit = off; SET jit = off;";

/// Folds the admin statistics deltas the batch added, as the server would within a second.
pub(super) const COMPACT: &str = "DO $$ BEGIN IF to_regprocedure('admin_stats_compact()') IS NOT NULL \
                       THEN PERFORM admin_stats_compact(); END IF; END $$;";

/// Adds `plan`'s rows with a progress bar per phase; returns each phase's timing.
pub(super) fn top_up(url: &str, plan: &Plan) -> Result<Vec<Phase>> {
    psql(
        url,
        &fill(
            SETUP_SQL,
            &[
                ("past_days", plan.past_days),
                ("future_days", plan.future_days),
            ],
        ),
    )?;
    psql(url, &helper_functions_and_lookups()?)?;
    let mut phases = Vec::new();

    if plan.users > 0 {
        phases.push(batches(Step::Users, plan.users, USER_BATCH, |lo, hi| {
            psql(
                url,
                &format!(
                    "{BATCH_SETTINGS}\n{}\n{COMPACT}",
                    fill(
                        USERS_SQL,
                        &[("lo", lo), ("hi", hi), ("base", plan.user_base)]
                    )
                ),
            )
            .map(drop)
        })?);
    }
    if plan.pharmacies > 0 {
        let base = plan.pharmacy_base;
        phases.push(batches(
            Step::Pharmacies,
            plan.pharmacies,
            PHARMACY_BATCH,
            |lo, hi| {
                let sql = pharmacy_batch(base + lo, base + hi)?;
                psql(url, &format!("{BATCH_SETTINGS}\n{sql}\n{COMPACT}")).map(drop)
            },
        )?);
    }
    if plan.appointments > 0 {
        let started = Instant::now();
        psql(url, &fill(DOCTORS_SQL, &[("doctors", plan.doctors)]))?;
        let deferred = defer_appointment_constraints(url)?;
        phases.push(Phase {
            step: Step::Doctors,
            rows: plan.doctors,
            elapsed: started.elapsed(),
        });
        phases.push(batches(
            Step::Appointments,
            plan.appointments,
            APPOINTMENT_BATCH,
            |lo, hi| {
                let sql = fill(
                    APPOINTMENTS_SQL,
                    &[
                        ("lo", lo - 1),
                        ("hi", hi - 1),
                        ("base", plan.user_base),
                        ("doctors", plan.doctors),
                        ("patients", plan.patients),
                    ],
                );
                psql(url, &format!("{BATCH_SETTINGS}\n{sql}\n{COMPACT}")).map(drop)
            },
        )?);
        phases.push(restore(url, deferred)?);
    }

    psql(url, "DROP SCHEMA xtask_scale CASCADE")?;
    let started = Instant::now();
    println!("==> VACUUM (ANALYZE)");
    psql(url, "VACUUM (ANALYZE)")?;
    phases.push(Phase {
        step: Step::Vacuum,
        rows: 0,
        elapsed: started.elapsed(),
    });
    Ok(phases)
}

/// Runs `batch(lo, hi)` for 1-based ordinals `lo..=hi` covering `1..=total` in steps of `size`,
/// drawing the progress bar after each.
pub(super) fn batches(
    step: Step,
    total: u64,
    size: u64,
    mut batch: impl FnMut(u64, u64) -> Result<()>,
) -> Result<Phase> {
    let mut progress = Progress::start(step.name(), Some("rows"), total);
    for (lo, hi) in ranges(total, size) {
        batch(lo, hi).with_context(|| format!("{} {lo}–{hi}", step.name()))?;
        progress.advance(hi - lo + 1);
    }
    Ok(Phase {
        step,
        rows: total,
        elapsed: progress.finish(),
    })
}

/// `1..=total` cut into ranges of at most `size`.
pub(super) fn ranges(total: u64, size: u64) -> impl Iterator<Item = (u64, u64)> {
    let size = size.max(1);
    (0..total.div_ceil(size)).map(move |i| (i * size + 1, ((i + 1) * size).min(total)))
}

/// Drops the secondary indexes and the foreign-key, unique and exclusion constraints of
/// `appointments` (their definitions kept in `xtask_scale.deferred`); returns the number of
/// objects dropped.
pub(super) fn defer_appointment_constraints(url: &str) -> Result<u64> {
    psql(url, DEFER_SQL)?
        .parse::<u64>()
        .map_err(|e| format!("counting the deferred indexes and constraints of appointments: {e}"))
}

/// Re-creates what [`defer_appointment_constraints`] dropped, indexes first, one statement at
/// a time; every row is checked against every constraint.
pub(super) fn restore(url: &str, count: u64) -> Result<Phase> {
    let list = psql(
        url,
        "SELECT name FROM xtask_scale.deferred ORDER BY ord, name",
    )?;
    let names: Vec<&str> = list.lines().filter(|l| !l.is_empty()).collect();
    if names.len() as u64 != count {
        return Err(format!(
            "{count} indexes and constraints were deferred but {} are listed",
            names.len()
        ));
    }
    let mut progress = Progress::start(Step::Rebuild.name(), None, count);
    for name in names {
        let ddl = psql(
            url,
            &format!(
                "SELECT ddl FROM xtask_scale.deferred WHERE name = {}",
                literal(name)
            ),
        )?;
        let sql = format!("SET maintenance_work_mem = '256MB'; SET jit = off; {ddl}");
        let started = Instant::now();
        let child = psql_command(url, &sql)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting psql to re-create {name}"))?;
        let output = wait_showing_progress(child, url, name, &mut progress)?;
        if !output.status.success() {
            return Err(format!(
                "re-creating {name} failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        progress.note(format!("{name} {}", clock(started.elapsed())), false);
        progress.advance(1);
    }
    Ok(Phase {
        step: Step::Rebuild,
        rows: 0,
        elapsed: progress.finish(),
    })
}

/// Waits for `child` (building `name`), redrawing the note every two seconds with the time so
/// far and PostgreSQL's own progress of an index build; in a log, a line every 30 s.
pub(super) fn wait_showing_progress(
    mut child: Child,
    url: &str,
    name: &str,
    progress: &mut Progress,
) -> Result<Output> {
    let started = Instant::now();
    let mut drawn = Instant::now();
    let mut logged = Instant::now();
    loop {
        if child
            .try_wait()
            .with_context(|| format!("waiting for psql to re-create {name}"))?
            .is_some()
        {
            return child
                .wait_with_output()
                .with_context(|| format!("reading psql's output for {name}"));
        }
        std::thread::sleep(Duration::from_millis(50));
        if drawn.elapsed() < Duration::from_secs(2) {
            continue;
        }
        drawn = Instant::now();
        let log = logged.elapsed() >= Duration::from_secs(30);
        if log {
            logged = Instant::now();
        }
        // Best effort: the view has a row only while an index is being built.
        let detail = psql(url, INDEX_PROGRESS_SQL).unwrap_or_default();
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(" ({detail})")
        };
        progress.note(
            format!("building {name} {}{detail}", clock(started.elapsed())),
            log,
        );
    }
}

/// The phase of the index build on `appointments` in progress, and how far its table scan is.
pub(super) const INDEX_PROGRESS_SQL: &str = "\
SELECT phase || coalesce(', ' || round(100.0 * blocks_done / nullif(blocks_total, 0)) || ' % of the table', '')
  FROM pg_stat_progress_create_index
 WHERE relid = to_regclass('appointments') AND datname = current_database()";

/// `template` with every `{name}` replaced by its value.
pub(super) fn fill(template: &str, values: &[(&str, u64)]) -> String {
    values
        .iter()
        .fold(template.to_owned(), |text, (name, value)| {
            text.replace(&format!("{{{name}}}"), &value.to_string())
        })
}

/// The part of `demo_seed.sql` from `start` (included) up to `end` (excluded).
pub(super) fn seed_part(start: &str, end: &str) -> Result<&'static str> {
    let from = DEMO_SEED
        .find(start)
        .ok_or_else(|| format!("demo_seed.sql no longer contains `{start}`"))?;
    let to = DEMO_SEED[from..]
        .find(end)
        .ok_or_else(|| format!("demo_seed.sql no longer contains `{end}` after `{start}`"))?;
    Ok(&DEMO_SEED[from..from + to])
}

/// `text` with `from` replaced by `to`, which must occur exactly `times` times.
pub(super) fn replace_exactly(text: &str, from: &str, to: &str, times: usize) -> Result<String> {
    let found = text.matches(from).count();
    if found == times {
        Ok(text.replace(from, to))
    } else {
        Err(format!(
            "demo_seed.sql changed: expected `{from}` {times} times in its pharmacy statements, found {found}"
        ))
    }
}

/// The seed's id and random-number functions and its lookup tables (areas, chains, streets,
/// hours patterns), as permanent objects in schema `xtask_scale`.
pub(super) fn helper_functions_and_lookups() -> Result<String> {
    let functions = seed_part("CREATE FUNCTION pg_temp.seed_id", "-- 40 Mumbai")?;
    let lookups = seed_part("CREATE TEMP TABLE seed_areas", "-- Real row counts")?;
    let lookups = lookups
        .replace("CREATE TEMP TABLE seed_", "CREATE TABLE xtask_scale.seed_")
        .replace("INSERT INTO seed_", "INSERT INTO xtask_scale.seed_")
        .replace("ON COMMIT DROP", "");
    Ok(format!(
        "{}\n{lookups}\nANALYZE xtask_scale.seed_areas, xtask_scale.seed_chains, \
         xtask_scale.seed_streets, xtask_scale.seed_hours;",
        functions.replace("pg_temp.", "xtask_scale.")
    ))
}

/// `demo_seed.sql`'s pharmacy, location and hours statements over the seed's row numbers
/// `lo..=hi`.
pub(super) fn pharmacy_batch(lo: u64, hi: u64) -> Result<String> {
    let part = seed_part("INSERT INTO pharmacies (", "-- 20 clinics")?;
    let part = &part[..part.rfind(';').map_or(0, |i| i + 1)];
    let part = replace_exactly(
        part,
        "FROM seed_params sp\n CROSS JOIN LATERAL generate_series(1, sp.n_pharmacies) AS g(i)",
        &format!("FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)"),
        3,
    )?;
    let part = replace_exactly(&part, "\n WHERE sp.do_pharmacies;", ";", 3)?;
    let part = part
        .replace("pg_temp.", "xtask_scale.")
        .replace("JOIN seed_", "JOIN xtask_scale.seed_");
    if part.contains("seed_params") || part.contains("sp.") {
        return Err(
            "demo_seed.sql changed: its pharmacy statements read more of seed_params".into(),
        );
    }
    Ok(part)
}

/// Schema `xtask_scale` for the top-up's helpers: `params` holds the instant all batches
/// count from (so that every batch places appointments on the same calendar).
pub(super) const SETUP_SQL: &str = "\
DROP SCHEMA IF EXISTS xtask_scale CASCADE;
CREATE SCHEMA xtask_scale;
CREATE TABLE xtask_scale.params AS
SELECT now() AS now,
       date_trunc('day', now(), 'UTC') - {past_days} * interval '1 day' AS first_day,
       {future_days} AS future_days;";

/// Users `demo-user-<base + lo>` … `demo-user-<base + hi>`, and a `patients` row for each
/// patient. Ordinal `s` (1-based within the top-up) decides the role: a multiple of 100 is a
/// doctor, or a pharmacy's staff when `s / 100 % 4 = 3`; every other one is a patient.
/// Signed up over six years, more of them recently (the square root of a uniform number).
pub(super) const USERS_SQL: &str = "\
WITH added AS (
    INSERT INTO users (id, firebase_uid, email, email_verified, auth_provider, full_name, given_name,
                       family_name, phone, role, is_active, is_onboarded, created_at, updated_at,
                       last_login_at)
    SELECT md5('demo-user-' || k.n)::uuid,
           'dev-' || left(encode(sha256(convert_to('demo-user-' || k.n || '@medico24.dev', 'UTF8')), 'hex'), 24),
           'demo-user-' || k.n || '@medico24.dev',
           xtask_scale.seed_u(k.n, 1) < 0.92,
           'google',
           'Demo User ' || k.n, 'Demo', 'User ' || k.n,
           '+91 9' || lpad((k.n * 7919 % 1000000000)::text, 9, '0'),
           CASE WHEN g.s % 100 <> 0 THEN 'patient' WHEN g.s / 100 % 4 = 3 THEN 'pharmacy' ELSE 'doctor' END,
           xtask_scale.seed_u(k.n, 2) >= 0.03,
           xtask_scale.seed_u(k.n, 3) < 0.85,
           c.at,
           c.at + xtask_scale.seed_u(k.n, 4) * (p.now - c.at),
           CASE WHEN xtask_scale.seed_u(k.n, 5) < 0.8 THEN c.at + xtask_scale.seed_u(k.n, 6) * (p.now - c.at) END
      FROM generate_series({lo}::bigint, {hi}::bigint) AS g(s)
     CROSS JOIN xtask_scale.params p
     CROSS JOIN LATERAL (SELECT {base}::bigint + g.s AS n) k
     CROSS JOIN LATERAL (SELECT p.now - (1 - sqrt(xtask_scale.seed_u(k.n, 7))) * interval '2190 days' AS at) c
    RETURNING id, role, created_at
)
INSERT INTO patients (user_id, created_at, updated_at)
SELECT id, created_at, created_at FROM added WHERE role = 'patient';";

/// `{doctors}` doctors, each with a primary clinic (the active seeded clinics in turn), and
/// `xtask_scale.doctors` listing them by index for the appointments.
pub(super) const DOCTORS_SQL: &str = "\
CREATE TABLE xtask_scale.doctors AS
SELECT d.i AS idx,
       xtask_scale.seed_id('scale-doctor', d.i) AS id,
       xtask_scale.seed_id('scale-doctor-clinic', d.i) AS doctor_clinic_id,
       (ARRAY['Aarav', 'Priya', 'Rohan', 'Ananya', 'Vikram', 'Sneha', 'Arjun', 'Kavya', 'Rahul', 'Meera',
              'Siddharth', 'Pooja', 'Aditya', 'Neha', 'Karan', 'Isha', 'Nikhil', 'Riya', 'Farhan', 'Lakshmi'])[1 + d.i % 20]
           || ' ' || (ARRAY['Sharma', 'Patel', 'Iyer', 'Deshmukh', 'Kulkarni', 'Mehta', 'Nair', 'Joshi', 'Shaikh',
                            'Banerjee', 'Reddy', 'Gupta', 'Pillai', 'Desai', 'Kapoor', 'Rao', 'Chatterjee'])[1 + (d.i / 20) % 17]
           AS name,
       c.id AS clinic_id,
       c.name AS clinic_name
  FROM generate_series(0, {doctors} - 1) AS d(i)
  JOIN (SELECT id, name, (row_number() OVER (ORDER BY id) - 1)::int AS k, count(*) OVER ()::int AS n
          FROM clinics WHERE is_active) c ON c.k = d.i % c.n;
DO $$ BEGIN
    IF (SELECT count(*) FROM xtask_scale.doctors) <> {doctors} THEN
        RAISE EXCEPTION 'the database has no active clinic for the added doctors';
    END IF;
END $$;
ALTER TABLE xtask_scale.doctors ADD PRIMARY KEY (idx);
INSERT INTO doctors (id, email, full_name, phone, license_number, specialization, qualification,
                     experience_years, consultation_fee, consultation_duration_minutes, bio,
                     languages_spoken, medical_council_registration, is_verified, verified_at,
                     rating, rating_count, total_consultations, created_at, updated_at)
SELECT d.id,
       'scale.doctor.' || d.idx || '@doctors.medico24.example',
       d.name,
       '+91 97' || lpad((d.idx * 7919 % 100000000)::text, 8, '0'),
       'MMC-S-' || lpad(d.idx::text, 7, '0'),
       s.name, s.qualification,
       1 + d.idx * 7 % 35,
       (300 + (d.idx * 97 % 12) * 100)::numeric(10,2),
       30,
       d.name || ' consults at ' || d.clinic_name || '.',
       '[\"English\", \"Hindi\"]'::jsonb,
       'MMC/S/' || d.idx,
       d.idx % 4 <> 0,
       CASE WHEN d.idx % 4 <> 0 THEN p.first_day - interval '30 days' END,
       round((3.5 + (d.idx * 13 % 15) / 10.0)::numeric, 2),
       5 + d.idx % 400,
       40 + d.idx % 3000,
       p.first_day - interval '60 days',
       p.first_day - interval '60 days'
  FROM xtask_scale.doctors d
 CROSS JOIN xtask_scale.params p
  JOIN (VALUES (0, 'General Physician', 'MBBS, MD (Medicine)'), (1, 'Cardiology', 'MBBS, MD, DM (Cardiology)'),
               (2, 'Dermatology', 'MBBS, MD (Dermatology)'), (3, 'Pediatrics', 'MBBS, MD (Pediatrics)'),
               (4, 'Orthopedics', 'MBBS, MS (Orthopaedics)'), (5, 'Gynecology', 'MBBS, MS (Obstetrics & Gynaecology)'),
               (6, 'ENT', 'MBBS, MS (ENT)'), (7, 'Ophthalmology', 'MBBS, MS (Ophthalmology)'),
               (8, 'Psychiatry', 'MBBS, MD (Psychiatry)'), (9, 'Neurology', 'MBBS, MD, DM (Neurology)'),
               (10, 'Dentistry', 'BDS, MDS'), (11, 'Endocrinology', 'MBBS, MD, DM (Endocrinology)'))
       AS s(k, name, qualification) ON s.k = d.idx % 12;
INSERT INTO doctor_clinics (id, doctor_id, clinic_id, is_primary, start_date, consultation_fee,
                            consultation_duration_minutes, department, designation, available_days,
                            available_time_slots, status, created_at, updated_at)
SELECT d.doctor_clinic_id, d.id, d.clinic_id, true, p.first_day - interval '60 days',
       (300 + (d.idx * 97 % 12) * 100)::numeric(10,2), 30, 'Outpatient', 'Consultant',
       '[\"Monday\", \"Tuesday\", \"Wednesday\", \"Thursday\", \"Friday\", \"Saturday\", \"Sunday\"]'::json,
       '[{\"start\": \"09:00\", \"end\": \"14:00\"}, {\"start\": \"14:00\", \"end\": \"19:00\"}]'::json,
       'active', p.first_day - interval '60 days', p.first_day - interval '60 days'
  FROM xtask_scale.doctors d CROSS JOIN xtask_scale.params p;
ANALYZE xtask_scale.doctors;";

/// Records and drops the secondary indexes and the foreign-key, unique and exclusion
/// constraints of `appointments` (the primary key stays); prints how many.
pub(super) const DEFER_SQL: &str = "\
CREATE TABLE xtask_scale.deferred (ord int NOT NULL, name text PRIMARY KEY, ddl text NOT NULL, drop text NOT NULL);
INSERT INTO xtask_scale.deferred
SELECT 1, i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid),
       format('DROP INDEX %s', i.indexrelid::regclass)
  FROM pg_index i
 WHERE i.indrelid = 'appointments'::regclass AND NOT i.indisprimary
   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid);
INSERT INTO xtask_scale.deferred
SELECT CASE c.contype WHEN 'f' THEN 3 ELSE 2 END, c.conname,
       format('ALTER TABLE appointments ADD CONSTRAINT %I %s', c.conname, pg_get_constraintdef(c.oid)),
       format('ALTER TABLE appointments DROP CONSTRAINT %I', c.conname)
  FROM pg_constraint c
 WHERE c.conrelid = 'appointments'::regclass AND c.contype IN ('f', 'u', 'x');
DO $$ DECLARE r record; BEGIN
    FOR r IN SELECT drop FROM xtask_scale.deferred ORDER BY ord DESC LOOP EXECUTE r.drop; END LOOP;
END $$;
SELECT count(*) FROM xtask_scale.deferred;";

/// Appointments `lo..=hi` (0-based ordinal `a` within the top-up): doctor `a % doctors`, that
/// doctor's appointment `k = a / doctors` on day `k / 2` from `first_day`, in the morning
/// (03:30–08:30 UTC, 09:00–14:00 IST) or afternoon block (08:30–13:30 UTC) by `k % 2`, at one of
/// its ten half-hour slots; at most 30 minutes long, so no two of a doctor overlap. The patient is
/// the added user with patient ordinal `floor(u · patients)`.
pub(super) const APPOINTMENTS_SQL: &str = "\
INSERT INTO appointments (id, patient_id, doctor_id, clinic_id, doctor_clinic_id, doctor_name,
                          clinic_name, appointment_at, appointment_end_at, reason, contact_phone,
                          status, notes, source, created_at, updated_at, cancelled_at, deleted_at)
SELECT xtask_scale.seed_id('scale-appointment', g.a),
       md5('demo-user-' || ({base}::bigint + pt.s))::uuid,
       d.id, d.clinic_id, d.doctor_clinic_id, d.name, d.clinic_name,
       t.at,
       CASE WHEN xtask_scale.seed_u(g.a, 2) < 0.7 THEN t.at + interval '20 minutes' END,
       (ARRAY['Routine checkup', 'Follow-up visit', 'Fever and cough', 'Back pain', 'Skin rash',
              'Blood pressure review', 'Diabetes review', 'Vaccination', 'Headache', 'Lab results'])
           [1 + floor(xtask_scale.seed_u(g.a, 3) * 10)::int],
       '+91 9' || lpad((({base}::bigint + pt.s) * 7919 % 1000000000)::text, 9, '0'),
       st.status,
       CASE WHEN xtask_scale.seed_u(g.a, 4) < 0.15 THEN 'Bring previous reports' END,
       (ARRAY['patient_app', 'patient_app', 'patient_app', 'patient_app', 'patient_app', 'patient_app',
              'patient_app', 'patient_app', 'doctor_app', 'admin_panel', 'api', 'patient_app'])
           [1 + floor(xtask_scale.seed_u(g.a, 5) * 12)::int],
       c.created_at,
       CASE WHEN st.status IN ('completed', 'no_show') THEN least(t.at + interval '2 hours', p.now)
            WHEN st.status = 'cancelled' THEN c.cancelled_at
            ELSE c.created_at END,
       CASE WHEN st.status = 'cancelled' THEN c.cancelled_at END,
       CASE WHEN xtask_scale.seed_u(g.a, 6) < 0.005 THEN least(t.at + interval '1 day', p.now) END
  FROM generate_series({lo}::bigint, {hi}::bigint) AS g(a)
 CROSS JOIN xtask_scale.params p
  JOIN xtask_scale.doctors d ON d.idx = g.a % {doctors}
 CROSS JOIN LATERAL (SELECT floor(xtask_scale.seed_u(g.a, 1) * {patients})::bigint AS j) pj
 CROSS JOIN LATERAL (SELECT pj.j + pj.j / 99 + 1 AS s) pt
 CROSS JOIN LATERAL (SELECT p.first_day
                            + (g.a / {doctors} / 2) * interval '1 day'
                            + interval '3 hours 30 minutes'
                            + (g.a / {doctors} % 2) * interval '5 hours'
                            + floor(xtask_scale.seed_u(g.a, 7) * 10) * interval '30 minutes' AS at) t
 CROSS JOIN LATERAL (SELECT xtask_scale.seed_u(g.a, 8) AS r) sr
 CROSS JOIN LATERAL (SELECT CASE WHEN t.at < p.now THEN
                                     CASE WHEN sr.r < 0.70 THEN 'completed' WHEN sr.r < 0.82 THEN 'cancelled'
                                          WHEN sr.r < 0.90 THEN 'no_show' WHEN sr.r < 0.93 THEN 'rescheduled'
                                          WHEN sr.r < 0.97 THEN 'scheduled' ELSE 'confirmed' END
                                 ELSE
                                     CASE WHEN sr.r < 0.55 THEN 'scheduled' WHEN sr.r < 0.85 THEN 'confirmed'
                                          WHEN sr.r < 0.95 THEN 'cancelled' ELSE 'rescheduled' END
                            END AS status) st
 CROSS JOIN LATERAL (SELECT least(t.at - interval '1 hour'
                                       - xtask_scale.seed_u(g.a, 9) ^ 2 * interval '60 days',
                                  p.now - xtask_scale.seed_u(g.a, 10) * interval '3 days') AS created_at) c0
 CROSS JOIN LATERAL (SELECT c0.created_at,
                            c0.created_at + xtask_scale.seed_u(g.a, 11)
                                            * (least(t.at, p.now) - c0.created_at) AS cancelled_at) c;";
