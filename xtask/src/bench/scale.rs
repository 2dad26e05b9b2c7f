//! `cargo xtask bench --scale`: how the cost of every case grows with the data.
//!
//! 1. The bench database (`medico24_bench_scale`) is seeded like `cargo xtask bench` (10,000
//!    pharmacies, 1,000 users, 50,000 appointments), vacuumed and analysed, and every case of
//!    [`CASES`](super::CASES) is measured: the small pass.
//! 2. The server stops; what the small pass wrote (the appointments `appointment-create` booked
//!    and their notifications) is deleted, so that both passes start from the same rows apart
//!    from the top-up.
//! 3. The same database is topped up to [`FULL_USERS`] users, [`FULL_APPOINTMENTS`] appointments
//!    and [`FULL_PHARMACIES`] pharmacies (times `--scale-factor`) with `INSERT … SELECT
//!    generate_series` in batches, one transaction each, a progress bar on the terminal; then
//!    `VACUUM (ANALYZE)`.
//! 4. The server starts again and every case is measured again: the pass at scale. The table
//!    (p50 small, p50 at scale, their ratio against the target) goes between
//!    [`BEGIN`] and [`END`] in `docs/benchmarks.md`.
//!
//! The rows the top-up adds:
//! - pharmacies: `demo_seed.sql`'s own three statements (pharmacies, one location each, hours),
//!   run over the row numbers after the seeded ones, so the database holds exactly what
//!   `medico24 seed` with 1,000,000 pharmacies would have written (same ids, same 40 Mumbai
//!   neighbourhoods, same hours patterns);
//! - users: `demo-user-<n>` like the seed (so `medico24 dev-token` logs any of them in), 99 %
//!   patients with a `patients` row, the rest doctors and pharmacy staff, 3 % inactive, signed
//!   up over six years with more of them recently;
//! - doctors: [`FULL_DOCTORS`] more, each with a primary clinic among the seeded ones;
//! - appointments: spread over those doctors (two a day each, in 30-minute slots inside two
//!   daily blocks, so `appointments_no_overlap` holds) over about six years up to a year
//!   ahead; statuses follow the date (completed, cancelled, no-show … in the past; scheduled,
//!   confirmed … ahead), booked from an hour to 60 days before, 0.5 % soft-deleted; patients
//!   drawn uniformly from the new users.
//!
//! The admin statistics triggers are statement-level, so each batch adds one set of deltas;
//! after every batch `admin_stats_compact()` (when the schema has it) folds them, as the server
//! would. Appointments are loaded the way `pg_restore` loads a table: the secondary indexes,
//! foreign keys and the exclusion constraint of `appointments` are dropped first and re-created
//! after the last batch, which checks every row against them (measured on this machine: a
//! batch with them in place costs about six times as much).

use std::fmt::Write as _;
use std::fs;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::progress::{Progress, clock, short};
use super::{
    Case, Measurement, Options, Setup, format_latency, machine_description, measure_cases,
    seeded_ids, warn_about_errors, wrk_version,
};
use crate::config::redact_url;
use crate::{Args, Context, Result, process};

/// Users, appointments, pharmacies and added doctors at scale factor 1.
const FULL_USERS: u64 = 1_000_000;
/// See [`FULL_USERS`].
const FULL_APPOINTMENTS: u64 = 5_000_000;
/// See [`FULL_USERS`].
const FULL_PHARMACIES: u64 = 1_000_000;
/// Doctors added for the appointments (about 5,000 appointments each at scale factor 1).
const FULL_DOCTORS: u64 = 1_000;

/// Rows per `INSERT` (one transaction each).
const USER_BATCH: u64 = 100_000;
/// Pharmacies per batch (each also gets a location and up to seven hours rows).
const PHARMACY_BATCH: u64 = 50_000;
/// See [`USER_BATCH`].
const APPOINTMENT_BATCH: u64 = 250_000;

/// Growth targets: the admin counts at most 1.5× from the small data set to the large one,
/// every other case at most 2×.
const ADMIN_TARGET: f64 = 1.5;
/// See [`ADMIN_TARGET`].
const DEFAULT_TARGET: f64 = 2.0;

const DATABASE: &str = "medico24_bench_scale";
const BEGIN: &str = "<!-- bench-scale:start -->";
const END: &str = "<!-- bench-scale:end -->";

/// `demo_seed.sql`, whose pharmacy statements the top-up runs over further row numbers.
const DEMO_SEED: &str = include_str!("../../../crates/adapters/postgres/sql/demo_seed.sql");

/// What `--scale` asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Request {
    /// 1 for the full sizes; smaller to check the code path quickly (`--scale-factor`).
    factor: f64,
}

impl Request {
    /// Whether this is the full-size run (whose table goes to `docs/benchmarks.md`).
    fn is_full(&self) -> bool {
        self.factor >= 1.0
    }

    /// `--scale [--scale-factor F]` (F in (0, 1], default 1); `None` without `--scale`.
    pub(super) fn from_args(args: &mut Args) -> Result<Option<Self>> {
        let scale = args.flag("--scale");
        let factor: Option<f64> = args.number("--scale-factor")?;
        match (scale, factor) {
            (false, None) => Ok(None),
            (false, Some(_)) => Err("--scale-factor needs --scale".to_owned()),
            (true, factor) => {
                let factor = factor.unwrap_or(1.0);
                if factor > 0.0 && factor <= 1.0 {
                    Ok(Some(Self { factor }))
                } else {
                    Err(format!("--scale-factor {factor}: must be in (0, 1]"))
                }
            }
        }
    }
}

/// Row counts of the tables the top-up fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Sizes {
    users: u64,
    appointments: u64,
    pharmacies: u64,
    doctors: u64,
}

impl Sizes {
    /// The sizes at scale factor `factor` (doctors: how many the top-up adds).
    fn target(factor: f64) -> Self {
        let at = |full: u64| ((full as f64 * factor).round() as u64).max(1);
        Self {
            users: at(FULL_USERS),
            appointments: at(FULL_APPOINTMENTS),
            pharmacies: at(FULL_PHARMACIES),
            doctors: at(FULL_DOCTORS),
        }
    }

    /// `1,000 users, 50,000 appointments, 10,000 pharmacies, 40 doctors`.
    fn describe(&self) -> String {
        format!(
            "{} users, {} appointments, {} pharmacies, {} doctors",
            thousands(self.users),
            thousands(self.appointments),
            thousands(self.pharmacies),
            thousands(self.doctors)
        )
    }
}

/// What the top-up adds to a database holding `existing` rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Plan {
    /// Users `demo-user-<user_base + 1>` … `demo-user-<user_base + users>`.
    users: u64,
    user_base: u64,
    /// Patients among the added users (every user whose ordinal is not a multiple of 100).
    patients: u64,
    /// Pharmacies with the seed's row numbers `pharmacy_base + 1` … `pharmacy_base + pharmacies`.
    pharmacies: u64,
    pharmacy_base: u64,
    /// Doctors added (only when appointments are).
    doctors: u64,
    appointments: u64,
    /// Days before and after today the appointments cover.
    past_days: u64,
    future_days: u64,
}

impl Plan {
    /// The rows to add to reach `target`; `user_base` is the highest `demo-user-<n>` there is.
    fn new(existing: Sizes, target: Sizes, user_base: u64) -> Result<Self> {
        let users = target.users.saturating_sub(existing.users);
        let appointments = target.appointments.saturating_sub(existing.appointments);
        let patients = patients_among(users);
        if appointments > 0 && patients == 0 {
            return Err(format!(
                "the top-up would add {appointments} appointments but no patients: the scale \
                 factor is too small for the small data set ({})",
                existing.describe()
            ));
        }
        let doctors = if appointments > 0 { target.doctors } else { 0 };
        let (past_days, future_days) = calendar(appointments, doctors);
        Ok(Self {
            users,
            user_base,
            patients,
            pharmacies: target.pharmacies.saturating_sub(existing.pharmacies),
            pharmacy_base: existing.pharmacies,
            doctors,
            appointments,
            past_days,
            future_days,
        })
    }
}

/// Patients among users with ordinals 1…`users` (every ordinal but the multiples of 100).
fn patients_among(users: u64) -> u64 {
    users - users / 100
}

/// The ordinal (1-based, never a multiple of 100) of patient `j` (0-based) among the added
/// users; the appointments statement computes the same in SQL.
#[cfg(test)]
fn patient_ordinal(j: u64) -> u64 {
    j + j / 99 + 1
}

/// Days before and after today that `appointments` spread over `doctors` cover: two a day per
/// doctor; up to a quarter of the days (at most a year) lie ahead.
fn calendar(appointments: u64, doctors: u64) -> (u64, u64) {
    if appointments == 0 || doctors == 0 {
        return (0, 0);
    }
    let per_doctor = appointments.div_ceil(doctors);
    let days = per_doctor.div_ceil(2);
    let future = (days / 4).min(365);
    (days - future, future)
}

/// The growth target of a case.
fn target_for(case: &str) -> f64 {
    if case.starts_with("admin-") {
        ADMIN_TARGET
    } else {
        DEFAULT_TARGET
    }
}

/// p50 at scale ÷ p50 small.
fn growth(small_us: f64, large_us: f64) -> f64 {
    // wrk reports whole microseconds at best; 1 µs keeps the ratio finite.
    large_us / small_us.max(1.0)
}

/// A phase of the top-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Users,
    Pharmacies,
    /// The added doctors and their clinics, and dropping what appointments defer.
    Doctors,
    Appointments,
    /// Re-creating the indexes and constraints of `appointments`.
    Rebuild,
    Vacuum,
}

impl Step {
    fn name(self) -> &'static str {
        match self {
            Self::Users => "users",
            Self::Pharmacies => "pharmacies (+ locations, hours)",
            Self::Doctors => "doctors (+ primary clinics)",
            Self::Appointments => "appointments",
            Self::Rebuild => "appointments' indexes and constraints",
            Self::Vacuum => "VACUUM (ANALYZE)",
        }
    }

    /// Whether the phase inserts rows at a rate worth showing.
    fn has_rate(self) -> bool {
        matches!(self, Self::Users | Self::Pharmacies | Self::Appointments)
    }
}

/// How long one phase of the top-up took.
struct Phase {
    step: Step,
    rows: u64,
    elapsed: Duration,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64().max(1e-3)
    }
}

/// Runs `--scale`: the small pass, the top-up, the pass at scale, the report.
pub(super) fn run(options: &Options, request: &Request) -> Result<()> {
    let target = Sizes::target(request.factor);
    let setup = Setup::new(options, DATABASE, "bench-scale")?;
    let url = setup.db.url();
    println!("==> VACUUM (ANALYZE) before the small pass");
    psql(&url, "VACUUM (ANALYZE)")?;
    let (small_sizes, user_base) = sizes(&url)?;
    let plan = Plan::new(small_sizes, target, user_base)?;

    println!("\n==> small pass: {}", small_sizes.describe());
    let ids = seeded_ids(&url)?;
    let mut live = setup.start("server-small.log")?;
    let started = psql(&url, "SELECT now()")?;
    let small = measure_cases(options, &live, &setup.work, &ids)?;
    live.server.stop();
    warn_about_errors(&small, &setup.work.join("server-small.log"));

    println!("\n==> deleting what the small pass wrote (since {started})");
    let started = literal(&started);
    psql(
        &url,
        &format!(
            "DELETE FROM notification_outbox WHERE created_at >= {started}; \
             DELETE FROM notifications WHERE created_at >= {started}; \
             DELETE FROM appointments WHERE created_at >= {started};"
        ),
    )?;

    println!(
        "\n==> topping {} up to {} (scale factor {})",
        redact_url(&url),
        target.describe(),
        request.factor
    );
    let phases = top_up(&url, &plan)?;
    let (large_sizes, _) = sizes(&url)?;

    println!("\n==> pass at scale: {}", large_sizes.describe());
    let ids = seeded_ids(&url)?;
    let mut live = setup.start("server-scale.log")?;
    let large = measure_cases(options, &live, &setup.work, &ids)?;
    live.server.stop();
    warn_about_errors(&large, &setup.work.join("server-scale.log"));

    let section = render(
        options,
        request,
        &Report {
            small_sizes,
            large_sizes,
            phases: &phases,
            small: &small,
            large: &large,
        },
    );
    println!("\n{section}");
    if !request.is_full() {
        println!(
            "{}",
            extrapolate(&phases, small_sizes, large_sizes, user_base)?
        );
    }
    let copy = setup.work.join("scale.md");
    fs::write(&copy, &section).with_context(|| format!("writing {}", copy.display()))?;
    if request.is_full() {
        let doc = setup.root.join(super::DOC);
        super::write_section(&doc, &section, BEGIN, END, "cost growth")?;
    } else {
        println!(
            "==> scale factor {} is a check of the code path: {} left as it is; the table is in {}",
            request.factor,
            super::DOC,
            copy.display()
        );
    }
    Ok(())
}

/// The row counts and the highest `demo-user-<n>`.
fn sizes(url: &str) -> Result<(Sizes, u64)> {
    let text = psql(
        url,
        "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM appointments), \
                (SELECT count(*) FROM pharmacies), (SELECT count(*) FROM doctors), \
                (SELECT coalesce(max(substring(email FROM '^demo-user-([0-9]+)@medico24[.]dev$')::bigint), 0) \
                   FROM users)",
    )?;
    let numbers: Vec<u64> = text
        .split('|')
        .map(|n| n.trim().parse::<u64>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| format!("unexpected row counts `{text}`: {e}"))?;
    match numbers[..] {
        [users, appointments, pharmacies, doctors, user_base] => Ok((
            Sizes {
                users,
                appointments,
                pharmacies,
                doctors,
            },
            user_base,
        )),
        _ => Err(format!("unexpected row counts `{text}`")),
    }
}

/// Runs `sql` (one transaction unless it is a single statement that cannot run in one) with
/// psql; returns its trimmed output.
fn psql(url: &str, sql: &str) -> Result<String> {
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
fn psql_command(url: &str, sql: &str) -> Command {
    let mut cmd = Command::new("psql");
    cmd.args(["-w", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-tA", "-d", url])
        .arg("-c")
        .arg(sql)
        .env("PGCONNECT_TIMEOUT", "5")
        .stdin(Stdio::null());
    cmd
}

/// `text` as an SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Every batch runs with these settings (asynchronous commit: a crash could lose the last
/// batches, which for a bench database is fine; no JIT: compiling costs a second per batch).
const BATCH_SETTINGS: &str = "SET synchronous_commit = off; SET jit = off;";

/// Folds the admin statistics deltas the batch added, as the server would within a second.
const COMPACT: &str = "DO $$ BEGIN IF to_regprocedure('admin_stats_compact()') IS NOT NULL \
                       THEN PERFORM admin_stats_compact(); END IF; END $$;";

/// Adds `plan`'s rows with a progress bar per phase; returns each phase's timing.
fn top_up(url: &str, plan: &Plan) -> Result<Vec<Phase>> {
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
fn batches(
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
fn ranges(total: u64, size: u64) -> impl Iterator<Item = (u64, u64)> {
    let size = size.max(1);
    (0..total.div_ceil(size)).map(move |i| (i * size + 1, ((i + 1) * size).min(total)))
}

/// Drops the secondary indexes and the foreign-key, unique and exclusion constraints of
/// `appointments` (their definitions kept in `xtask_scale.deferred`); returns the number of
/// objects dropped.
fn defer_appointment_constraints(url: &str) -> Result<u64> {
    psql(url, DEFER_SQL)?
        .parse::<u64>()
        .map_err(|e| format!("counting the deferred indexes and constraints of appointments: {e}"))
}

/// Re-creates what [`defer_appointment_constraints`] dropped, indexes first, one statement at
/// a time; every row is checked against every constraint.
fn restore(url: &str, count: u64) -> Result<Phase> {
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
fn wait_showing_progress(
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
const INDEX_PROGRESS_SQL: &str = "\
SELECT phase || coalesce(', ' || round(100.0 * blocks_done / nullif(blocks_total, 0)) || ' % of the table', '')
  FROM pg_stat_progress_create_index
 WHERE relid = to_regclass('appointments') AND datname = current_database()";

/// `template` with every `{name}` replaced by its value.
fn fill(template: &str, values: &[(&str, u64)]) -> String {
    values
        .iter()
        .fold(template.to_owned(), |text, (name, value)| {
            text.replace(&format!("{{{name}}}"), &value.to_string())
        })
}

/// The part of `demo_seed.sql` from `start` (included) up to `end` (excluded).
fn seed_part(start: &str, end: &str) -> Result<&'static str> {
    let from = DEMO_SEED
        .find(start)
        .ok_or_else(|| format!("demo_seed.sql no longer contains `{start}`"))?;
    let to = DEMO_SEED[from..]
        .find(end)
        .ok_or_else(|| format!("demo_seed.sql no longer contains `{end}` after `{start}`"))?;
    Ok(&DEMO_SEED[from..from + to])
}

/// `text` with `from` replaced by `to`, which must occur exactly `times` times.
fn replace_exactly(text: &str, from: &str, to: &str, times: usize) -> Result<String> {
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
fn helper_functions_and_lookups() -> Result<String> {
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
fn pharmacy_batch(lo: u64, hi: u64) -> Result<String> {
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
const SETUP_SQL: &str = "\
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
const USERS_SQL: &str = "\
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
const DOCTORS_SQL: &str = "\
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
const DEFER_SQL: &str = "\
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
const APPOINTMENTS_SQL: &str = "\
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

/// Everything the cost growth table is made of.
struct Report<'a> {
    small_sizes: Sizes,
    large_sizes: Sizes,
    phases: &'a [Phase],
    small: &'a [(&'static Case, Measurement)],
    large: &'a [(&'static Case, Measurement)],
}

/// One case in one pass.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Pass {
    p50_us: f64,
    requests_per_sec: f64,
    requests: u64,
    errors: u64,
}

impl From<&Measurement> for Pass {
    fn from(m: &Measurement) -> Self {
        Self {
            p50_us: m.p50_us,
            requests_per_sec: m.requests_per_sec,
            requests: m.requests,
            errors: m.errors,
        }
    }
}

/// One row of the table: a case measured in both passes.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Row {
    name: &'static str,
    small: Pass,
    large: Pass,
    target: f64,
}

impl Row {
    /// p50 at scale ÷ p50 small; `None` when a pass had no answer at all (every request took
    /// longer than the case ran), so there is no p50.
    fn growth(&self) -> Option<f64> {
        (self.small.requests > 0 && self.large.requests > 0)
            .then(|| growth(self.small.p50_us, self.large.p50_us))
    }

    fn within_target(&self) -> bool {
        self.growth().is_some_and(|g| g <= self.target)
    }

    /// The growth and verdict cells.
    fn verdict(&self) -> (String, &'static str) {
        match self.growth() {
            Some(g) if g <= self.target => (format!("{g:.2}×"), "within"),
            Some(g) => (format!("{g:.2}×"), "**over**"),
            None => ("—".to_owned(), "**no answer in time**"),
        }
    }
}

/// The cases measured in both passes, in order.
fn rows(
    small: &[(&'static Case, Measurement)],
    large: &[(&'static Case, Measurement)],
) -> Vec<Row> {
    small
        .iter()
        .filter_map(|(case, s)| {
            let (_, l) = large.iter().find(|(c, _)| c.name == case.name)?;
            Some(Row {
                name: case.name,
                small: s.into(),
                large: l.into(),
                target: target_for(case.name),
            })
        })
        .collect()
}

/// A p50 cell: the latency, or a dash without answers.
fn p50_cell(pass: &Pass) -> String {
    if pass.requests == 0 {
        "—".to_owned()
    } else {
        format_latency(pass.p50_us)
    }
}

/// The markdown section.
fn render(options: &Options, request: &Request, report: &Report<'_>) -> String {
    let command = if request.is_full() {
        "cargo xtask bench --scale".to_owned()
    } else {
        format!(
            "cargo xtask bench --scale --scale-factor {}",
            request.factor
        )
    };
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", super::measured_by(&command));
    let _ = writeln!(out, "- Machine: {}", machine_description());
    let _ = writeln!(
        out,
        "- Small: {}; at scale: {}",
        report.small_sizes.describe(),
        report.large_sizes.describe()
    );
    let total: Duration = report.phases.iter().map(|p| p.elapsed).sum();
    let phases = report
        .phases
        .iter()
        .map(|p| {
            if p.step.has_rate() {
                format!(
                    "{} {} in {} ({} rows/s)",
                    p.step.name(),
                    thousands(p.rows),
                    clock(p.elapsed),
                    short(p.rate())
                )
            } else if p.rows > 0 {
                format!(
                    "{} {} in {}",
                    p.step.name(),
                    thousands(p.rows),
                    clock(p.elapsed)
                )
            } else {
                format!("{} {}", p.step.name(), clock(p.elapsed))
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    let _ = writeln!(out, "- Top-up: {} in all; {phases}", clock(total));
    let _ = writeln!(
        out,
        "- Load: {}, {} threads, {} connections, {} s per case in each pass; the release server \
         restarted between the passes\n",
        wrk_version(),
        options.threads,
        options.connections,
        options.duration_secs
    );
    out.push_str(
        "| Case | p50 small | p50 at scale | Growth | Target | Verdict | Req/s small → at scale | Errors small / at scale |\n\
         |---|---:|---:|---:|---:|---|---:|---:|\n",
    );
    let rows = rows(report.small, report.large);
    for row in &rows {
        let (growth, verdict) = row.verdict();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {growth} | ≤ {}× | {verdict} | {:.0} → {:.0} | {} / {} |",
            row.name,
            p50_cell(&row.small),
            p50_cell(&row.large),
            row.target,
            row.small.requests_per_sec,
            row.large.requests_per_sec,
            row.small.errors,
            row.large.errors
        );
    }
    let within = rows.iter().filter(|r| r.within_target()).count();
    let _ = writeln!(
        out,
        "\nGrowth: p50 at scale ÷ p50 small. {within} of {} cases within target (admin cases \
         ≤ {ADMIN_TARGET}×, the others ≤ {DEFAULT_TARGET}×). A dash: no request finished within \
         the {} s of the case (wrk waits up to 10 s for an answer).",
        rows.len(),
        options.duration_secs
    );
    if let Some(drift) = rows
        .iter()
        .find(|r| r.name == "health")
        .and_then(Row::growth)
    {
        let _ = writeln!(
            out,
            "`health` answers without touching the database: its {drift:.2}× is how much this \
             machine drifted between the passes."
        );
    }
    out
}

/// How long the full top-up would take, estimated from a smaller one: the inserts at their
/// rates, the rest (doctors, index builds, vacuum) in proportion to the rows they go over.
fn extrapolate(phases: &[Phase], small: Sizes, large: Sizes, user_base: u64) -> Result<String> {
    let full_target = Sizes::target(1.0);
    let full = Plan::new(small, full_target, user_base)?;
    // Rows a vacuum reads: a pharmacy comes with a location and about six hours rows.
    let weight = |s: Sizes| (s.users + s.appointments + 8 * s.pharmacies).max(1) as f64;
    let mut total = 0.0;
    let mut parts = Vec::new();
    for phase in phases {
        let secs = phase.elapsed.as_secs_f64();
        let estimate = match phase.step {
            Step::Users => full.users as f64 / phase.rate(),
            Step::Pharmacies => full.pharmacies as f64 / phase.rate(),
            Step::Appointments => full.appointments as f64 / phase.rate(),
            Step::Doctors => secs * full.doctors as f64 / phase.rows.max(1) as f64,
            Step::Rebuild => {
                secs * full_target.appointments as f64 / large.appointments.max(1) as f64
            }
            Step::Vacuum => secs * weight(full_target) / weight(large),
        };
        total += estimate;
        parts.push(format!(
            "{} {}",
            phase.step.name(),
            clock(Duration::from_secs_f64(estimate))
        ));
    }
    Ok(format!(
        "==> at these rates the full top-up ({} users, {} appointments, {} pharmacies more) would \
         take about {}: {}",
        thousands(full.users),
        thousands(full.appointments),
        thousands(full.pharmacies),
        clock(Duration::from_secs_f64(total)),
        parts.join(", ")
    ))
}

/// `1,000,000`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::CASES;

    fn args(list: &[&str]) -> Args {
        Args::new(list.iter().map(|a| (*a).to_owned()).collect())
    }

    #[test]
    fn scale_arguments_are_parsed_and_checked() {
        assert_eq!(Request::from_args(&mut args(&[])).unwrap(), None);
        assert_eq!(
            Request::from_args(&mut args(&["--scale"])).unwrap(),
            Some(Request { factor: 1.0 })
        );
        assert_eq!(
            Request::from_args(&mut args(&["--scale", "--scale-factor", "0.02"])).unwrap(),
            Some(Request { factor: 0.02 })
        );
        assert!(Request::from_args(&mut args(&["--scale-factor", "0.5"])).is_err());
        assert!(Request::from_args(&mut args(&["--scale", "--scale-factor=0"])).is_err());
        assert!(Request::from_args(&mut args(&["--scale", "--scale-factor=2"])).is_err());
        assert!(Request::from_args(&mut args(&["--scale", "--scale-factor=x"])).is_err());
    }

    #[test]
    fn the_targets_scale_with_the_factor() {
        assert_eq!(
            Sizes::target(1.0),
            Sizes {
                users: 1_000_000,
                appointments: 5_000_000,
                pharmacies: 1_000_000,
                doctors: 1_000,
            }
        );
        assert_eq!(
            Sizes::target(0.01),
            Sizes {
                users: 10_000,
                appointments: 50_000,
                pharmacies: 10_000,
                doctors: 10,
            }
        );
    }

    #[test]
    fn the_plan_tops_up_to_the_target() {
        let small = Sizes {
            users: 1_000,
            appointments: 50_000,
            pharmacies: 10_000,
            doctors: 40,
        };
        let plan = Plan::new(small, Sizes::target(1.0), 1_000).unwrap();
        assert_eq!(plan.users, 999_000);
        assert_eq!(plan.user_base, 1_000);
        assert_eq!(plan.patients, 989_010);
        assert_eq!(plan.pharmacies, 990_000);
        assert_eq!(plan.pharmacy_base, 10_000);
        assert_eq!(plan.doctors, 1_000);
        assert_eq!(plan.appointments, 4_950_000);
        // 4,950 per doctor, two a day: 2,475 days, a year of them ahead.
        assert_eq!((plan.past_days, plan.future_days), (2_110, 365));
        // Nothing to add at the small sizes themselves; appointments without patients fail.
        let same = Plan::new(small, small, 1_000).unwrap();
        assert_eq!((same.users, same.appointments, same.pharmacies), (0, 0, 0));
        assert_eq!(same.doctors, 0);
        let no_users = Sizes {
            users: 1_000,
            ..Sizes::target(1.0)
        };
        assert!(Plan::new(small, no_users, 1_000).is_err());
    }

    #[test]
    fn patient_ordinals_skip_the_multiples_of_100_and_stay_in_range() {
        for users in [1, 99, 100, 101, 199, 200, 250, 999_000] {
            let patients = patients_among(users);
            let ordinals: Vec<u64> = (0..patients).map(patient_ordinal).collect();
            // Every ordinal up to `users` that is not a multiple of 100, each once, in order.
            let expected: Vec<u64> = (1..=users).filter(|s| s % 100 != 0).collect();
            assert_eq!(ordinals, expected, "{users}");
        }
    }

    #[test]
    fn the_calendar_puts_at_most_a_year_ahead() {
        assert_eq!(calendar(0, 10), (0, 0));
        assert_eq!(calendar(10, 0), (0, 0));
        // 50,000 over 10 doctors: 5,000 each, 2,500 days, 365 ahead.
        assert_eq!(calendar(50_000, 10), (2_135, 365));
        // Few appointments: a quarter of the days ahead.
        assert_eq!(calendar(800, 100), (3, 1));
    }

    #[test]
    fn targets_and_growth() {
        assert_eq!(target_for("admin-metrics"), 1.5);
        assert_eq!(target_for("admin-dashboard"), 1.5);
        assert_eq!(target_for("appointment-list"), 2.0);
        assert!((growth(1_000.0, 1_500.0) - 1.5).abs() < 1e-12);
        assert!(growth(0.0, 5.0).is_finite());
        for case in CASES {
            assert!(target_for(case.name) >= ADMIN_TARGET);
        }
    }

    #[test]
    fn verdicts_compare_the_growth_with_the_target() {
        let pass = |p50_us, requests| Pass {
            p50_us,
            requests_per_sec: 1.0,
            requests,
            errors: 0,
        };
        let row = |name, small, large| Row {
            name,
            small,
            large,
            target: target_for(name),
        };
        let admin = row("admin-metrics", pass(1_000.0, 10), pass(1_400.0, 10));
        assert_eq!(admin.verdict(), ("1.40×".to_owned(), "within"));
        let admin = row("admin-dashboard", pass(1_000.0, 10), pass(1_600.0, 10));
        assert_eq!(admin.verdict(), ("1.60×".to_owned(), "**over**"));
        assert!(!admin.within_target());
        let list = row("appointment-list", pass(1_000.0, 10), pass(1_600.0, 10));
        assert_eq!(list.verdict(), ("1.60×".to_owned(), "within"));
        assert!(list.within_target());
        // No answer within the case's duration: no p50, never within target.
        let stuck = row("admin-dashboard", pass(900_000.0, 20), pass(0.0, 0));
        assert_eq!(stuck.growth(), None);
        assert_eq!(stuck.verdict(), ("—".to_owned(), "**no answer in time**"));
        assert!(!stuck.within_target());
        assert_eq!(p50_cell(&pass(0.0, 0)), "—");
        assert_eq!(p50_cell(&pass(1_500.0, 3)), "1.50 ms");
    }

    #[test]
    fn the_full_top_up_is_estimated_from_a_small_one() {
        let small = Sizes {
            users: 1_000,
            appointments: 50_000,
            pharmacies: 10_000,
            doctors: 40,
        };
        let large = Sizes {
            users: 20_000,
            appointments: 100_000,
            pharmacies: 20_000,
            doctors: 60,
        };
        let phase = |step, rows, secs| Phase {
            step,
            rows,
            elapsed: Duration::from_secs(secs),
        };
        let phases = [
            // 999,000 users at 19,000 per second: 52.6 s.
            phase(Step::Users, 19_000, 1),
            // 990,000 pharmacies at 10,000 per second: 99 s.
            phase(Step::Pharmacies, 10_000, 1),
            // 1,000 doctors instead of 20: 50 × 1 s.
            phase(Step::Doctors, 20, 1),
            // 4,950,000 appointments at 50,000 per second: 99 s.
            phase(Step::Appointments, 50_000, 1),
            // 5,000,000 appointments instead of 100,000: 50 × 2 s.
            phase(Step::Rebuild, 0, 2),
        ];
        let text = extrapolate(&phases, small, large, 1_000).unwrap();
        assert!(
            text.contains("999,000 users, 4,950,000 appointments, 990,000 pharmacies more"),
            "{text}"
        );
        // 52.6 + 99 + 50 + 99 + 100 = 400.6 s.
        assert!(text.contains("would take about 6m40s"), "{text}");
        assert!(
            text.contains("users 52s, pharmacies (+ locations, hours) 1m39s"),
            "{text}"
        );
    }

    #[test]
    fn batches_cover_every_row_once() {
        assert_eq!(ranges(0, 100).count(), 0);
        assert_eq!(
            ranges(250, 100).collect::<Vec<_>>(),
            [(1, 100), (101, 200), (201, 250)]
        );
        assert_eq!(ranges(200, 100).collect::<Vec<_>>(), [(1, 100), (101, 200)]);
    }

    #[test]
    fn templates_are_filled() {
        assert_eq!(fill("a {lo}–{hi} {lo}", &[("lo", 1), ("hi", 9)]), "a 1–9 1");
        for (template, names) in [
            (SETUP_SQL, &["past_days", "future_days"][..]),
            (USERS_SQL, &["lo", "hi", "base"][..]),
            (DOCTORS_SQL, &["doctors"][..]),
            (
                APPOINTMENTS_SQL,
                &["lo", "hi", "base", "doctors", "patients"][..],
            ),
        ] {
            let values: Vec<(&str, u64)> = names.iter().map(|n| (*n, 7)).collect();
            let filled = fill(template, &values);
            for name in [
                "lo",
                "hi",
                "base",
                "doctors",
                "patients",
                "past_days",
                "future_days",
            ] {
                assert!(
                    !filled.contains(&format!("{{{name}}}")),
                    "{name} left in {filled}"
                );
            }
        }
    }

    #[test]
    fn the_seed_s_pharmacy_statements_run_over_a_range() {
        let sql = pharmacy_batch(10_001, 60_000).unwrap();
        assert_eq!(sql.matches("INSERT INTO").count(), 3);
        assert_eq!(
            sql.matches("FROM generate_series(10001::bigint, 60000::bigint) AS g(i)")
                .count(),
            3
        );
        assert!(!sql.contains("pg_temp") && !sql.contains("seed_params"));
        assert!(sql.trim_end().ends_with(';'));
        let helpers = helper_functions_and_lookups().unwrap();
        for name in ["seed_id", "seed_u"] {
            assert!(helpers.contains(&format!("CREATE FUNCTION xtask_scale.{name}(")));
        }
        for table in ["seed_areas", "seed_chains", "seed_streets", "seed_hours"] {
            assert!(helpers.contains(&format!("CREATE TABLE xtask_scale.{table} ")));
        }
        assert!(!helpers.contains("pg_temp") && !helpers.contains("TEMP"));
    }

    #[test]
    fn numbers_get_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(4_950_000), "4,950,000");
    }
}
