//! `cargo xtask bench`: load-tests the release server with wrk and records the numbers in
//! `docs/benchmarks.md`. To measure another endpoint, add a [`Case`] to [`CASES`].
//!
//! The server runs with `PHARMACY_CACHE_TTL_SECONDS=1`, so a pharmacy detail is cached for one
//! second: the `pharmacy-detail-cached` case (one id over and over) misses at most once a second,
//! and `pharmacy-detail-uncached` (a wrk script cycling through up to 20 000 distinct ids) comes
//! back to an id only after its entry expired, so nearly every request misses. The table shows
//! the cache hit rate each case really had, read from `/metrics`.
//!
//! The server runs with its default pool (20 connections). The database ceiling is pgbench's best
//! of [`pgbench_client_counts`] (four clients per CPU, and 16). On a shared two-core machine
//! throughput drifts by several percent from one minute to the next, so the API's share of the
//! ceiling is measured in rounds that run the nearby case and pgbench one right after the other,
//! and the median is reported.
//! Before every case and every pgbench run the bench waits until the server has finished the
//! background work the previous case left (see [`wait_until_idle`]).
//!
//! After the cases, the booking profile (see [`booking`]) runs `appointment-create` with the
//! background workers off and on, alternating, counting the data tier's work per booking.
//!
//! `--scale` measures how the cost of every case grows with the data instead (see [`scale`]).

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::config::{EnvVars, PgUrl, RedisUrl, isolated_server_env, repo_root, target_dir};
use crate::process::{self, which};
use crate::server::{self, Profile, RunningServer, proc_status_kib};
use crate::services::{self, Apt};
use crate::{Args, Context, Result};

mod booking;
mod ceiling;
mod events;
mod export;
mod progress;
mod report;
mod scale;
mod soak;
mod tier;
mod wrk;

use ceiling::*;
use report::*;
use soak::*;
use wrk::*;

/// One load-test case: a request that wrk repeats.
struct Case {
    /// Short name, used in the table and for the wrk script file.
    name: &'static str,
    /// HTTP method.
    method: &'static str,
    /// Path and query, e.g. `/api/v1/pharmacies?limit=20`.
    path: &'static str,
    /// Request body, if any (sent with every request).
    body: Option<&'static str>,
    /// Extra request headers.
    headers: &'static [(&'static str, &'static str)],
    /// Which seeded pharmacy ids the path uses.
    ids: Ids,
    /// Who sends the request.
    auth: Caller,
}

/// Who a case's requests come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    /// No `Authorization` header.
    Anonymous,
    /// A seeded patient with appointments (`demo-user-4@medico24.dev`).
    Patient,
    /// The seeded admin (`demo-user-1@medico24.dev`).
    Admin,
}

/// How a case's path names pharmacies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ids {
    /// The path is used as is.
    None,
    /// `{pharmacy_id}` is one fixed seeded id, every request.
    One,
    /// `{pharmacy_id}` cycles through many distinct seeded ids (a wrk Lua `request` function).
    Rotate,
}

/// At most this many distinct ids are cycled through by [`Ids::Rotate`].
const ROTATED_IDS: u32 = 20_000;

/// Every case, measured in this order.
const CASES: &[Case] = &[
    Case {
        name: "health",
        method: "GET",
        path: "/api/v1/health",
        body: None,
        headers: &[],
        ids: Ids::None,
        auth: Caller::Anonymous,
    },
    Case {
        name: "ping",
        method: "GET",
        path: "/api/v1/ping",
        body: None,
        headers: &[],
        ids: Ids::None,
        auth: Caller::Anonymous,
    },
    Case {
        name: "pharmacy-nearby-5km",
        method: "GET",
        path: "/api/v1/pharmacies/search/nearby?latitude=19.0760&longitude=72.8777&radius_km=5",
        body: None,
        headers: &[],
        ids: Ids::None,
        auth: Caller::Anonymous,
    },
    Case {
        name: "pharmacy-nearby-10km",
        method: "GET",
        path: "/api/v1/pharmacies/search/nearby?latitude=19.0760&longitude=72.8777&radius_km=10",
        body: None,
        headers: &[],
        ids: Ids::None,
        auth: Caller::Anonymous,
    },
    Case {
        name: "pharmacy-list-cached",
        method: "GET",
        path: "/api/v1/pharmacies?limit=20",
        body: None,
        headers: &[],
        ids: Ids::None,
        auth: Caller::Anonymous,
    },
    Case {
        name: "pharmacy-detail-cached",
        method: "GET",
        path: "/api/v1/pharmacies/{pharmacy_id}",
        body: None,
        headers: &[],
        ids: Ids::One,
        auth: Caller::Anonymous,
    },
    Case {
        name: "pharmacy-detail-uncached",
        method: "GET",
        path: "/api/v1/pharmacies/{pharmacy_id}",
        body: None,
        headers: &[],
        ids: Ids::Rotate,
        auth: Caller::Anonymous,
    },
    Case {
        name: "appointment-list",
        method: "GET",
        path: "/api/v1/appointments/?page=1",
        body: None,
        headers: &[],
        ids: Ids::None,
        auth: Caller::Patient,
    },
    Case {
        name: "appointment-create",
        method: "POST",
        path: "/api/v1/appointments/",
        body: Some(
            r#"{"doctor_name":"Dr Bench","appointment_at":"2031-01-01T10:00:00Z","reason":"Load test","contact_phone":"+91 98765 43210"}"#,
        ),
        headers: &[("Content-Type", "application/json")],
        ids: Ids::None,
        auth: Caller::Patient,
    },
    Case {
        name: "admin-metrics",
        method: "GET",
        path: "/api/v1/admin/metrics",
        body: None,
        headers: &[],
        ids: Ids::None,
        auth: Caller::Admin,
    },
    Case {
        name: "admin-dashboard",
        method: "GET",
        path: "/api/v1/admin/dashboard/stats",
        body: None,
        headers: &[],
        ids: Ids::None,
        auth: Caller::Admin,
    },
];

/// Seeded users and appointments (issue targets: 1,000 users, 50,000 appointments).
const SEED_USERS: &str = "1000";
/// See [`SEED_USERS`].
const SEED_APPOINTMENTS: &str = "50000";

const DATABASE: &str = "medico24_bench";
const DOC: &str = "docs/benchmarks.md";
const BEGIN: &str = "<!-- bench:begin -->";
const SOAK_BEGIN: &str = "<!-- soak:begin -->";
const SOAK_END: &str = "<!-- soak:end -->";
const END: &str = "<!-- bench:end -->";

struct Options {
    /// Minutes of the soak run; 0 runs the cases instead.
    soak_minutes: u32,
    /// Requests per second the soak offers (paced per connection).
    soak_rate: u32,
    pharmacies: u32,
    duration_secs: u32,
    threads: u32,
    connections: u32,
    /// `--only=case,…`: just these cases, printed and not recorded (a quick A/B while working).
    only: Option<Vec<String>>,
}

#[cfg(test)]
impl Options {
    /// The defaults of `cargo xtask bench` without arguments.
    fn default_for_tests() -> Self {
        Self {
            soak_minutes: 0,
            soak_rate: 1000,
            pharmacies: 10_000,
            duration_secs: 10,
            threads: 2,
            connections: 64,
            only: None,
        }
    }
}

/// What wrk reported for one case.
struct Measurement {
    requests_per_sec: f64,
    p50_us: f64,
    p99_us: f64,
    requests: u64,
    /// Non-2xx/3xx responses plus socket errors (connect, read, write, timeout).
    errors: u64,
    /// Server RSS right after the case, in KiB.
    rss_kib: Option<u64>,
    /// Server CPU time (user + system) per request, in milliseconds.
    cpu_ms_per_request: Option<f64>,
    /// Cache hits and lookups of the pharmacy caches during the case (from `/metrics`).
    cache: Option<(u64, u64)>,
}

/// `cargo xtask bench`.
pub fn bench(mut args: Args) -> Result<()> {
    let options = Options {
        soak_minutes: args.number("--soak-minutes")?.unwrap_or(0),
        soak_rate: args.number("--soak-rate")?.unwrap_or(1000),
        pharmacies: args.number("--pharmacies")?.unwrap_or(10_000),
        duration_secs: args.number("--duration")?.unwrap_or(10),
        threads: args.number("--threads")?.unwrap_or(2),
        connections: args.number("--connections")?.unwrap_or(64),
        only: args
            .value("--only")?
            .map(|list| list.split(',').map(str::to_owned).collect()),
    };
    let unknown = options
        .only
        .iter()
        .flatten()
        .find(|n| !CASES.iter().any(|c| c.name == n.as_str()));
    if let Some(unknown) = unknown {
        return Err(format!("--only: no case named {unknown:?}"));
    }
    let data_tier = args.flag("--data-tier");
    let live_events = args.flag("--events");
    let export = args.flag("--export");
    let export_notifications = args.number("--export-notifications")?.unwrap_or(100_000);
    let events_run = events::EventsRun {
        streams: args.number("--streams")?.unwrap_or(1000),
        events: args.number("--event-changes")?.unwrap_or(200),
    };
    let scale = scale::Request::from_args(&mut args)?;
    args.finish()?;
    if options.threads == 0 || options.connections < options.threads || options.duration_secs == 0 {
        return Err("need --threads ≥ 1, --connections ≥ --threads and --duration ≥ 1".to_owned());
    }
    if data_tier {
        if scale.is_some() {
            return Err("--scale and --data-tier do not go together".to_owned());
        }
        return tier::compare(&options);
    }
    if export {
        if scale.is_some() || options.soak_minutes > 0 || live_events {
            return Err("--export runs alone".to_owned());
        }
        return export::run(&options, export_notifications);
    }
    if live_events {
        if scale.is_some() || options.soak_minutes > 0 {
            return Err("--events runs alone (not with --scale or --soak-minutes)".to_owned());
        }
        return events::run(&options, &events_run);
    }
    if let Some(request) = scale {
        if options.soak_minutes > 0 {
            return Err("--scale and --soak-minutes do not go together".to_owned());
        }
        return scale::run(&options, &request);
    }

    let setup = Setup::new(&options, DATABASE, "bench")?;
    let ids = seeded_ids(&setup.db.url())?;
    let mut live = setup.start("server.log")?;
    let pid = live.server.pid();
    let port = live.port;
    let work = &setup.work;
    let idle_rss = proc_status_kib(pid, "VmRSS");
    if options.soak_minutes > 0 {
        let detail = concrete_path(&CASES[5], &ids);
        let section = soak(&options, port, pid, work, &live.patient, &detail);
        live.server.stop();
        let section = section?;
        println!("\n{section}");
        write_section(
            &setup.root.join(DOC),
            &section,
            SOAK_BEGIN,
            SOAK_END,
            "soak",
        )?;
        return Ok(());
    }
    let results = measure_cases(&options, &live, work, &ids)?;
    let peak_rss = proc_status_kib(pid, "VmHWM");
    if options.only.is_some() {
        live.server.stop();
        println!("\n{}", render(&options, &results, idle_rss, peak_rss));
        println!("==> --only: {DOC} left as it is");
        return Ok(());
    }
    // The server stays up, idle, while pgbench runs: the paired runs below alternate the two.
    let ceiling = nearby_against_ceiling(&setup.db.url(), work, &options, port, pid, &ids);
    live.server.stop();
    let booking = booking::profile(&setup, &options, &ids);

    let mut section = render(&options, &results, idle_rss, peak_rss);
    match ceiling {
        Ok(ceiling) => {
            let _ = writeln!(section, "\n{}", ceiling.describe(&options));
        }
        Err(error) => {
            let _ = writeln!(
                section,
                "\nDatabase ceiling: pgbench could not run ({error})."
            );
        }
    }
    match booking {
        Ok(profile) => {
            let _ = writeln!(section, "\n{profile}");
        }
        Err(error) => {
            let _ = writeln!(section, "\nBooking profile: could not run ({error}).");
        }
    }
    println!("\n{section}");
    let doc = setup.root.join(DOC);
    update_doc(&doc, &section)?;
    println!("==> wrote {DOC}");
    warn_about_errors(&results, &work.join("server.log"));
    Ok(())
}

/// A warning for every case that had errors, pointing at the server's log.
fn warn_about_errors(results: &[(&Case, Measurement)], log: &Path) {
    for (case, m) in results {
        if m.errors > 0 {
            println!(
                "warning: {} had {} errors out of {} requests; see {}",
                case.name,
                m.errors,
                m.requests,
                log.display()
            );
        }
    }
}

/// The release server built, and its database recreated, migrated and seeded.
struct Setup {
    root: PathBuf,
    bin: PathBuf,
    /// Working directory: wrk scripts, server logs.
    work: PathBuf,
    db: PgUrl,
    redis: RedisUrl,
}

/// The server running against a [`Setup`]'s database, with sessions of the seeded callers.
struct Live {
    server: RunningServer,
    port: u16,
    /// Access token of the seeded patient (`demo-user-4`).
    patient: String,
    /// Access token of the seeded admin (`demo-user-1`).
    admin: String,
}

impl Setup {
    /// Prepares PostgreSQL, Redis and wrk, builds the release server, recreates `database`,
    /// migrates it and seeds `options.pharmacies` pharmacies, [`SEED_USERS`] users and
    /// [`SEED_APPOINTMENTS`] appointments. Scripts and logs go to `target/<work_dir>`.
    fn new(options: &Options, database: &str, work_dir: &str) -> Result<Self> {
        let root = repo_root();
        let (pg, redis) = crate::tasks::test_services()?;
        let mut apt = Apt::default();
        services::prepare(&pg, &redis, &mut apt)?;
        if which("wrk").is_none() {
            apt.install(&["wrk"], "wrk is not installed")?;
        }
        let bin = server::build(&root, Profile::Release)?;
        let work = target_dir(&root).join(work_dir);
        fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
        let db = pg.with_database(database);
        services::recreate_database(&db)?;
        let setup = Self {
            root,
            bin,
            work,
            db,
            redis,
        };
        let vars = setup.vars(server::free_port()?);
        server::cli(&setup.bin, &setup.work, &vars, &["migrate"])?;
        let mut seed_vars = vars;
        seed_vars.insert("SEED_PHARMACIES".to_owned(), options.pharmacies.to_string());
        seed_vars.insert("SEED_USERS".to_owned(), SEED_USERS.to_owned());
        seed_vars.insert("SEED_APPOINTMENTS".to_owned(), SEED_APPOINTMENTS.to_owned());
        server::cli(&setup.bin, &setup.work, &seed_vars, &["seed"])?;
        Ok(setup)
    }

    /// The server's environment when it listens on `port`.
    fn vars(&self, port: u16) -> EnvVars {
        let mut vars = isolated_server_env(&self.db, &self.redis, port);
        // See the module docs: details are cached for one second.
        vars.insert("PHARMACY_CACHE_TTL_SECONDS".to_owned(), "1".to_owned());
        // A case can send more than 100 000 requests a minute from one address.
        vars.insert("RATE_LIMIT_PER_MINUTE".to_owned(), "1000000000".to_owned());
        vars
    }

    /// Starts the server on a free port (output in `<work>/<log>`), waits until it is healthy
    /// and logs in the seeded patient and admin.
    fn start(&self, log: &str) -> Result<Live> {
        self.start_with(log, &[])
    }

    /// [`Setup::start`] with extra environment variables.
    fn start_with(&self, log: &str, extra: &[(&str, &str)]) -> Result<Live> {
        let port = server::free_port()?;
        let mut vars = self.vars(port);
        for (key, value) in extra {
            vars.insert((*key).to_owned(), (*value).to_owned());
        }
        let mut server = server::spawn(&self.bin, &self.work, &vars, port, &self.work.join(log))?;
        server.wait_healthy(Duration::from_secs(60))?;
        let login = |email: &str| {
            crate::schemathesis::login_token(&self.bin, &self.work, &vars, port, email)
        };
        let patient = login("demo-user-4@medico24.dev")?;
        let admin = login("demo-user-1@medico24.dev")?;
        Ok(Live {
            server,
            port,
            patient,
            admin,
        })
    }
}

/// Runs every case of [`CASES`] in order against the live server.
fn measure_cases(
    options: &Options,
    live: &Live,
    work: &Path,
    ids: &[String],
) -> Result<Vec<(&'static Case, Measurement)>> {
    let pid = live.server.pid();
    let port = live.port;
    let mut results = Vec::new();
    let chosen = CASES.iter().filter(|case| {
        options
            .only
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == case.name))
    });
    for case in chosen {
        wait_until_idle(pid);
        let before = pharmacy_cache_counts(port);
        let token = match case.auth {
            Caller::Anonymous => None,
            Caller::Patient => Some(live.patient.as_str()),
            Caller::Admin => Some(live.admin.as_str()),
        };
        let cpu_before = cpu_ticks(pid);
        let mut measurement = run_case(case, port, options, work, ids, token)?;
        measurement.cpu_ms_per_request = match (cpu_before, cpu_ticks(pid)) {
            (Some(b), Some(a)) if measurement.requests > 0 => Some(
                (a.saturating_sub(b)) as f64 * 1000.0 / clock_ticks() / measurement.requests as f64,
            ),
            _ => None,
        };
        measurement.rss_kib = proc_status_kib(pid, "VmRSS");
        measurement.cache = match (before, pharmacy_cache_counts(port)) {
            (Some(b), Some(a)) if a.1 > b.1 => Some((a.0 - b.0, a.1 - b.1)),
            _ => None,
        };
        results.push((case, measurement));
    }
    Ok(results)
}

/// Runs the Python load script `script`, saved as `<work>/<name>`, with `args`; the last line
/// of its output that starts with `{` (the script's JSON summary).
fn python_summary(work: &Path, name: &str, script: &str, args: &[String]) -> Result<String> {
    let path = work.join(name);
    fs::write(&path, script).with_context(|| format!("writing {}", path.display()))?;
    let output = process::output(Command::new("python3").arg(&path).args(args))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "{name} failed: {}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    stdout
        .lines()
        .rev()
        .find(|line| line.starts_with('{'))
        .map(str::to_owned)
        .ok_or_else(|| format!("{name} printed no summary: {stdout}"))
}

/// Up to [`ROTATED_IDS`] active seeded pharmacy ids, in a scrambled but repeatable order.
fn seeded_ids(database_url: &str) -> Result<Vec<String>> {
    let text = services::psql_query(
        database_url,
        &format!(
            "SELECT id FROM pharmacies WHERE is_active ORDER BY hashtext(id::text), id \
             LIMIT {ROTATED_IDS}"
        ),
    )?;
    let ids: Vec<String> = text.lines().map(str::to_owned).collect();
    if ids.is_empty() {
        return Err("the bench database has no active pharmacies".to_owned());
    }
    Ok(ids)
}

/// `(hits, lookups)` of the `pharmacy` and `pharmacy_list` caches so far, from `/metrics`.
fn pharmacy_cache_counts(port: u16) -> Option<(u64, u64)> {
    let text = server::http_get_text(port, "/metrics").ok()?;
    let mut hits = 0;
    let mut lookups = 0;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("medico24_cache_requests_total{") else {
            continue;
        };
        if !(rest.contains("cache=\"pharmacy\"") || rest.contains("cache=\"pharmacy_list\"")) {
            continue;
        }
        let value: u64 = rest
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0, |v| v as u64);
        if rest.contains("result=\"hit\"") {
            hits += value;
            lookups += value;
        } else if rest.contains("result=\"miss\"") || rest.contains("result=\"error\"") {
            lookups += value;
        }
    }
    Some((hits, lookups))
}

/// The path with `{pharmacy_id}` replaced by the first seeded id.
fn concrete_path(case: &Case, ids: &[String]) -> String {
    match ids.first() {
        Some(id) if case.ids != Ids::None => case.path.replace("{pharmacy_id}", id),
        _ => case.path.to_owned(),
    }
}

fn format_latency(us: f64) -> String {
    if us < 1_000.0 {
        format!("{us:.0} µs")
    } else if us < 1_000_000.0 {
        format!("{:.2} ms", us / 1e3)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

fn format_mib(kib: Option<u64>) -> String {
    kib.map_or_else(
        || "n/a".to_owned(),
        |kib| format!("{:.1} MiB", kib as f64 / 1024.0),
    )
}

fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn first_field(path: &str, prefix: &str) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix(prefix))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).trim().to_owned())
}

fn machine_description() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = first_field("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown CPU".into());
    let memory = first_field("/proc/meminfo", "MemTotal")
        .and_then(|m| m.split_whitespace().next()?.parse::<u64>().ok())
        .map_or_else(
            || "unknown".to_owned(),
            |kib| format!("{:.0} GiB", kib as f64 / 1024.0 / 1024.0),
        );
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".to_owned(), |k| k.trim().to_owned());
    format!("{cpus} CPUs (nproc; {model}), {memory} RAM, Linux {kernel}")
}

/// `wrk debian/4.1.0-3+b2 [epoll]` (wrk prints its version with a non-zero exit status).
fn wrk_version() -> String {
    Command::new("wrk")
        .arg("--version")
        .output()
        .ok()
        .and_then(|output| {
            let text = String::from_utf8_lossy(&output.stdout).into_owned();
            let line = text.lines().next()?;
            let version = line.split(" Copyright").next().unwrap_or(line).trim();
            (!version.is_empty()).then(|| version.to_owned())
        })
        .unwrap_or_else(|| "wrk".to_owned())
}

/// Longest [`wait_until_idle`] waits.
const IDLE_WAIT_LIMIT: Duration = Duration::from_secs(180);

/// Waits until the server has finished the background work a case left behind (the outbox
/// worker sends a notification for every appointment `appointment-create` booked, ~20,000 of
/// them, for a minute or more after the case ends) so that it does not take CPU from the next
/// measurement: until the server spends at most 2 % of a core over one second, or
/// [`IDLE_WAIT_LIMIT`].
fn wait_until_idle(pid: u32) {
    let window = Duration::from_secs(1);
    let budget = (clock_ticks() * 0.02).ceil() as u64;
    let started = std::time::Instant::now();
    while started.elapsed() < IDLE_WAIT_LIMIT {
        let Some(before) = cpu_ticks(pid) else { return };
        std::thread::sleep(window);
        let Some(after) = cpu_ticks(pid) else { return };
        if after.saturating_sub(before) <= budget {
            if started.elapsed() > window * 2 {
                println!(
                    "==> waited {:.0} s for the server's background work to finish",
                    started.elapsed().as_secs_f64()
                );
            }
            return;
        }
    }
    println!("warning: the server was still busy after {IDLE_WAIT_LIMIT:?}; measuring anyway");
}

/// User + system CPU ticks of `pid` so far (`/proc/<pid>/stat` fields 14 and 15).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; fields after its closing parenthesis are plain.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Clock ticks per second (`getconf CLK_TCK`, 100 on Linux).
fn clock_ticks() -> f64 {
    // Asked once: every case and every idle check needs it.
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        command_line("getconf", &["CLK_TCK"])
            .and_then(|t| t.parse::<f64>().ok())
            .unwrap_or(100.0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRK_OUTPUT: &str = "\
Running 10s test @ http://127.0.0.1:8080/api/v1/health
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   635.91us    0.89ms  12.92ms   93.69%
    Req/Sec    56.20k     8.07k   62.00k    86.54%
  Latency Distribution
     50%  250.00us
     75%  491.00us
     90%  700.00us
     99%    5.80ms
  1122795 requests in 10.00s, 228.84MB read
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 12
Requests/sec: 112265.23
Transfer/sec:     22.88MB
";

    #[test]
    fn the_share_of_the_ceiling_is_the_median_of_the_paired_rounds() {
        let ceiling = Ceiling {
            runs: vec![(8, 3300.0), (16, 3000.0)],
            clients: 8,
            pairs: vec![(2100.0, 3000.0), (2000.0, 3200.0), (2400.0, 3300.0)],
        };
        // 70 %, 62.5 %, 72.7 %: the median is 70 %.
        let share = ceiling.median_share().unwrap();
        assert!((share - 70.0).abs() < 1e-9, "{share}");
        let text = ceiling.describe(&Options::default_for_tests());
        assert!(text.contains("runs at best at 3300 tps"), "{text}");
        assert!(text.contains("2000 / 3200 = 62 %"), "{text}");
        assert!(text.contains("**median 70 %**"), "{text}");
        let empty = Ceiling {
            pairs: Vec::new(),
            ..ceiling
        };
        assert_eq!(empty.median_share(), None);
    }

    #[test]
    fn wrk_output_is_parsed() {
        let m = parse_wrk(WRK_OUTPUT).unwrap();
        assert!((m.requests_per_sec - 112_265.23).abs() < 1e-6);
        assert!((m.p50_us - 250.0).abs() < 1e-6);
        assert!((m.p99_us - 5_800.0).abs() < 1e-6);
        assert_eq!(m.requests, 1_122_795);
        assert_eq!(m.errors, 17);
    }

    #[test]
    fn wrk_output_without_latency_is_an_error() {
        assert!(parse_wrk("Requests/sec: 1.0").is_err());
    }

    #[test]
    fn durations_convert_to_microseconds() {
        assert_eq!(parse_duration_us("1.38s"), Some(1_380_000.0));
        assert_eq!(parse_duration_us("2.00m"), Some(120_000_000.0));
        assert_eq!(format_latency(250.0), "250 µs");
        assert_eq!(format_latency(5_800.0), "5.80 ms");
    }

    #[test]
    fn splice_replaces_only_the_marked_section() {
        let doc = format!("# B\n\nintro\n\n{BEGIN}\nold\n{END}\n\n## Notes\nkeep\n");
        let new = splice(Some(&doc), "new\n");
        assert_eq!(
            new,
            format!("# B\n\nintro\n\n{BEGIN}\nnew\n{END}\n\n## Notes\nkeep\n")
        );
        assert!(splice(Some("# B\n"), "x\n").ends_with(&format!("# B\n\n{BEGIN}\nx\n{END}\n")));
        assert!(splice(None, "x\n").starts_with("# Benchmarks"));
    }

    #[test]
    fn the_rotating_script_cycles_through_every_id() {
        let ids = vec!["a".to_owned(), "b".to_owned()];
        let script = rotating_request("/api/v1/pharmacies/{pharmacy_id}/hours", &ids);
        assert!(script.starts_with("local ids = {\n  \"a\",\n  \"b\",\n}\n"));
        assert!(script.contains(r#"wrk.format(nil, "/api/v1/pharmacies/" .. ids[n] .. "/hours")"#));
    }

    #[test]
    fn cpu_ticks_of_this_process_are_readable() {
        assert!(cpu_ticks(std::process::id()).is_some());
        assert!(clock_ticks() > 0.0);
    }

    #[test]
    fn lua_script_sets_method_and_body() {
        let case = Case {
            name: "t",
            method: "POST",
            path: "/x",
            body: Some("{\"a\":\"]]\"}"),
            headers: &[],
            ids: Ids::None,
            auth: Caller::Anonymous,
        };
        assert_eq!(
            lua_script(&case),
            "wrk.method = \"POST\"\nwrk.body = [=[{\"a\":\"]]\"}]=]\n"
        );
    }
}
