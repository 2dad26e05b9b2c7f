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

mod report;
mod seed;

use report::*;
use seed::*;

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
