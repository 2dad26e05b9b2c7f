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
mod progress;
mod scale;
mod tier;

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

fn run_case(
    case: &Case,
    port: u16,
    options: &Options,
    work: &Path,
    ids: &[String],
    token: Option<&str>,
) -> Result<Measurement> {
    let path = concrete_path(case, ids);
    println!("\n==> {} {} {}", case.name, case.method, case.path);
    let mut cmd = Command::new("wrk");
    cmd.arg(format!("--threads={}", options.threads))
        .arg(format!("--connections={}", options.connections))
        .arg(format!("--duration={}s", options.duration_secs))
        // wrk's default 2 s timeout would count a slow answer as an error instead of measuring it.
        .arg("--timeout=10s")
        .arg("--latency");
    for (name, value) in case.headers {
        cmd.arg("--header").arg(format!("{name}: {value}"));
    }
    if let Some(token) = token {
        cmd.arg("--header")
            .arg(format!("Authorization: Bearer {token}"));
    }
    if case.method != "GET" || case.body.is_some() || case.ids == Ids::Rotate {
        let script = work.join(format!("{}.lua", case.name));
        let mut text = lua_script(case);
        if case.ids == Ids::Rotate {
            text.push_str(&rotating_request(case.path, ids));
        }
        fs::write(&script, text).with_context(|| format!("writing {}", script.display()))?;
        cmd.arg("--script").arg(&script);
    }
    cmd.arg(format!("http://127.0.0.1:{port}{path}"));
    let shown = process::display(&cmd);
    // The session token stays out of the output.
    let shown = match token {
        Some(token) => shown.replace(token, "***"),
        None => shown,
    };
    println!("$ {shown}");
    let output = process::output(&mut cmd)?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    if !output.status.success() {
        return Err(format!(
            "wrk failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    parse_wrk(&stdout)
}

/// A wrk Lua script that sets the method and body (headers go on the command line).
fn lua_script(case: &Case) -> String {
    let mut script = format!("wrk.method = \"{}\"\n", case.method);
    if let Some(body) = case.body {
        // A Lua long string needs a level of `=` that does not occur in the body.
        let mut level = String::new();
        while body.contains(&format!("]{level}]")) {
            level.push('=');
        }
        script.push_str(&format!("wrk.body = [{level}[{body}]{level}]\n"));
    }
    script
}

/// A wrk `request` function that sends `path` with `{pharmacy_id}` replaced by each of `ids`
/// in turn (each wrk thread has its own counter, starting at a different offset).
fn rotating_request(path: &str, ids: &[String]) -> String {
    let (before, after) = path.split_once("{pharmacy_id}").unwrap_or((path, ""));
    let mut script = String::from("local ids = {\n");
    for id in ids {
        let _ = writeln!(script, "  \"{id}\",");
    }
    let _ = write!(
        script,
        "}}\nlocal n = math.random(#ids)\n\
         request = function()\n  n = n % #ids + 1\n  \
         return wrk.format(nil, \"{before}\" .. ids[n] .. \"{after}\")\nend\n"
    );
    script
}

/// `250.00us`, `5.80ms`, `1.20s`, `2.00m` → microseconds.
fn parse_duration_us(text: &str) -> Option<f64> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1e6)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60e6)
    } else {
        (text, 1.0)
    };
    number.trim().parse::<f64>().ok().map(|n| n * scale)
}

fn parse_wrk(output: &str) -> Result<Measurement> {
    let mut requests_per_sec = None;
    let mut p50_us = None;
    let mut p99_us = None;
    let mut requests = None;
    let mut errors = 0;
    for line in output.lines().map(str::trim) {
        if let Some(value) = line.strip_prefix("Requests/sec:") {
            requests_per_sec = value.trim().parse::<f64>().ok();
        } else if let Some(value) = line.strip_prefix("50%") {
            p50_us = parse_duration_us(value);
        } else if let Some(value) = line.strip_prefix("99%") {
            p99_us = parse_duration_us(value);
        } else if let Some(value) = line.strip_prefix("Socket errors:") {
            // connect 0, read 0, write 0, timeout 0
            errors += value
                .split(',')
                .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                .sum::<u64>();
        } else if let Some(value) = line.strip_prefix("Non-2xx or 3xx responses:") {
            errors += value.trim().parse::<u64>().unwrap_or(0);
        } else if line.contains(" requests in ") {
            requests = line
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok());
        }
    }
    let missing = |what: &str| format!("could not find {what} in wrk's output");
    Ok(Measurement {
        requests_per_sec: requests_per_sec.ok_or_else(|| missing("Requests/sec"))?,
        p50_us: p50_us.ok_or_else(|| missing("the 50% latency"))?,
        p99_us: p99_us.ok_or_else(|| missing("the 99% latency"))?,
        requests: requests.ok_or_else(|| missing("the request count"))?,
        errors,
        rss_kib: None,
        cpu_ms_per_request: None,
        cache: None,
    })
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

fn render(
    options: &Options,
    results: &[(&Case, Measurement)],
    idle_rss: Option<u64>,
    peak_rss: Option<u64>,
) -> String {
    let wrk_version = wrk_version();

    let mut out = String::new();
    let _ = writeln!(out, "{}\n", measured_by("cargo xtask bench"));
    let _ = writeln!(out, "- Machine: {}", machine_description());
    let _ = writeln!(
        out,
        "- Server: release build, `ENVIRONMENT=test`, `LOG_LEVEL=warn`, rate limits raised; \
         database `{DATABASE}` seeded with {} pharmacies; PostgreSQL and Redis on the same machine",
        options.pharmacies
    );
    let _ = writeln!(
        out,
        "- Load: {wrk_version}, {} threads, {} connections, {} s per case (10 s request timeout), on the same machine\n",
        options.threads, options.connections, options.duration_secs
    );
    out.push_str(
        "| Case | Request | Req/s | p50 | p99 | Requests | Errors | Cache hits | Server RSS after | CPU ms/req |\n",
    );
    out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (case, m) in results {
        let cache = m.cache.map_or_else(
            || "—".to_owned(),
            |(hits, lookups)| format!("{:.1} %", hits as f64 * 100.0 / lookups.max(1) as f64),
        );
        let _ = writeln!(
            out,
            "| {} | `{} {}` | {:.0} | {} | {} | {} | {} | {cache} | {} | {} |",
            case.name,
            case.method,
            case.path,
            m.requests_per_sec,
            format_latency(m.p50_us),
            format_latency(m.p99_us),
            m.requests,
            m.errors,
            format_mib(m.rss_kib),
            m.cpu_ms_per_request
                .map_or_else(|| "n/a".to_owned(), |ms| format!("{ms:.3}"))
        );
    }
    let _ = writeln!(
        out,
        "\nServer RSS when idle before the load: {}; peak (VmHWM): {}. Errors are non-2xx/3xx \
         responses plus socket errors. Cache hits: share of the pharmacy cache lookups during the \
         case that hit (`medico24_cache_requests_total`); the detail TTL is 1 s in this run, so \
         `pharmacy-detail-uncached` (cycling through up to {ROTATED_IDS} ids) measures database \
         reads and `pharmacy-detail-cached` (one id) Redis reads.",
        format_mib(idle_rss),
        format_mib(peak_rss)
    );
    out
}

/// Replaces the text between the markers, appending the section (or creating the file) if needed.
fn update_doc(path: &Path, section: &str) -> Result<()> {
    let existing = match fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("reading {}: {e}", path.display())),
    };
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    fs::write(path, splice(existing.as_deref(), section))
        .with_context(|| format!("writing {}", path.display()))
}

/// The document with `section` between the markers.
fn splice(existing: Option<&str>, section: &str) -> String {
    let block = format!("{BEGIN}\n{section}{END}");
    let Some(text) = existing else {
        return format!(
            "# Benchmarks\n\nEndpoint throughput and latency of the running server, measured with \
             wrk by `cargo xtask bench`. The section between the markers is rewritten by every \
             run; the cases are listed in `xtask/src/bench.rs`.\n\n{block}\n"
        );
    };
    match (text.find(BEGIN), text.find(END)) {
        (Some(begin), Some(end)) if begin < end => {
            let (before, _) = text.split_at(begin);
            let (_, after) = text.split_at(end + END.len());
            format!("{before}{block}{after}")
        }
        _ => format!("{}\n\n{block}\n", text.trim_end()),
    }
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

/// Alternate rounds of the nearby 5 km case and its pgbench ceiling.
const PAIRED_ROUNDS: usize = 5;

/// The nearby 5 km case against the database ceiling.
struct Ceiling {
    /// `(clients, tps)` of each pgbench client count tried.
    runs: Vec<(usize, f64)>,
    /// The client count with the best tps, used in the paired rounds.
    clients: usize,
    /// `(API req/s, pgbench tps)` of each round, measured one right after the other so that both
    /// see the shared machine in the same state.
    pairs: Vec<(f64, f64)>,
}

impl Ceiling {
    /// The API's share of the ceiling: the median over the paired rounds, in percent.
    fn median_share(&self) -> Option<f64> {
        let mut shares: Vec<f64> = self
            .pairs
            .iter()
            .map(|(rps, tps)| share(*rps, *tps))
            .collect();
        shares.sort_by(f64::total_cmp);
        shares.get(shares.len() / 2).copied()
    }

    /// The paragraph under the table.
    fn describe(&self, options: &Options) -> String {
        let best = self.runs.iter().map(|(_, tps)| *tps).fold(0.0, f64::max);
        let each = self
            .runs
            .iter()
            .map(|(clients, tps)| format!("{clients} clients {tps:.0} tps"))
            .collect::<Vec<_>>()
            .join(", ");
        let rounds = self
            .pairs
            .iter()
            .map(|(rps, tps)| format!("{rps:.0} / {tps:.0} = {:.0} %", share(*rps, *tps)))
            .collect::<Vec<_>>()
            .join("; ");
        let median = self
            .median_share()
            .map_or_else(String::new, |share| format!(" — **median {share:.0} %**"));
        format!(
            "Database ceiling: the nearby 5 km statement alone through pgbench (prepared, {} s per run; {each}) runs at best at {best:.0} tps. \
             Nearby 5 km against it, the API and pgbench ({} clients) run one after the other, {} rounds (API req/s / pgbench tps): {rounds}{median}.",
            options.duration_secs,
            self.clients,
            self.pairs.len(),
        )
    }
}

/// The API's req/s as a percentage of pgbench's tps.
fn share(requests_per_sec: f64, tps: f64) -> f64 {
    requests_per_sec * 100.0 / tps.max(1.0)
}

/// Finds the best pgbench client count for the nearby statement, then measures the API's
/// nearby 5 km case and pgbench alternately ([`PAIRED_ROUNDS`] rounds). The server must be up
/// and otherwise idle.
fn nearby_against_ceiling(
    database_url: &str,
    work: &Path,
    options: &Options,
    port: u16,
    pid: u32,
    ids: &[String],
) -> Result<Ceiling> {
    wait_until_idle(pid);
    let script = write_nearby_script(work)?;
    let runs = pgbench_nearby(&script, database_url, options)?;
    let clients = runs
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(16, |(clients, _)| *clients);
    let nearby = CASES
        .iter()
        .find(|c| c.name == "pharmacy-nearby-5km")
        .ok_or("the nearby 5 km case is missing")?;
    let mut pairs = Vec::with_capacity(PAIRED_ROUNDS);
    for _ in 0..PAIRED_ROUNDS {
        wait_until_idle(pid);
        let api = run_case(nearby, port, options, work, ids, None)?;
        wait_until_idle(pid);
        let tps = pgbench_run(&script, database_url, options, clients)?;
        pairs.push((api.requests_per_sec, tps));
    }
    Ok(Ceiling {
        runs,
        clients,
        pairs,
    })
}

/// The nearby 5 km statement the API runs for the first page (`NearbyStatement` in
/// `crates/adapters/postgres/src/pharmacies/nearby.rs`: the index-ordered KNN scan over
/// `idx_pharmacy_geo` with each row's location, `limit + 1` rows, and the hours of each as
/// arrays), through pgbench as the server sends it: a prepared statement with every value a bind
/// parameter (`-M prepared`, pgbench's `:variables`): the database's own ceiling for that
/// endpoint on this machine. Writes the pgbench script and returns its path.
fn write_nearby_script(work: &Path) -> Result<std::path::PathBuf> {
    if which("pgbench").is_none() {
        return Err("pgbench is not installed".to_owned());
    }
    let script = work.join("nearby.sql");
    let point = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography";
    fs::write(
        &script,
        format!(
            "\\set lon 72.8777\n\\set lat 19.0760\n\\set radius 5000\n\\set active 1\n\\set fetch 21\n\
             SELECT c.*, hours.* FROM (\n\
             SELECT p.id, p.name, p.description, p.phone, p.email, p.is_verified, p.is_active,\n\
               p.rating::float8 AS rating, p.rating_count, p.supports_delivery, p.supports_pickup,\n\
               p.timezone, p.created_at, p.updated_at, l.id AS location_id,\n\
               l.address_line AS location_address_line, l.city AS location_city,\n\
               l.state AS location_state, l.country AS location_country,\n\
               l.pincode AS location_pincode, l.latitude AS location_latitude,\n\
               l.longitude AS location_longitude, l.created_at AS location_created_at,\n\
               (l.geo <-> {point}) AS knn_m,\n\
               ST_Distance(l.geo, {point}, false) / 1000.0 AS distance_km\n\
             FROM pharmacy_locations l JOIN pharmacies p ON p.id = l.pharmacy_id\n\
             WHERE l.geo && _ST_Expand({point}, :radius)\n\
               AND _ST_DWithin(l.geo, {point}, :radius, false) AND p.is_active = (:active = 1)\n\
             ORDER BY l.geo <-> {point} LIMIT :fetch) c\n\
             LEFT JOIN LATERAL (SELECT array_agg(h.id) AS hour_ids,\n\
               array_agg(h.day_of_week) AS hour_days, array_agg(h.open_time) AS hour_opens,\n\
               array_agg(h.close_time) AS hour_closes, array_agg(h.is_closed) AS hour_closed\n\
             FROM pharmacy_hours h WHERE h.pharmacy_id = c.id) hours ON true;\n"
        ),
    )
    .with_context(|| format!("writing {}", script.display()))?;
    Ok(script)
}

/// pgbench over `script` with each of [`pgbench_client_counts`]: `(clients, tps)` each.
fn pgbench_nearby(
    script: &Path,
    database_url: &str,
    options: &Options,
) -> Result<Vec<(usize, f64)>> {
    pgbench_client_counts()
        .into_iter()
        .map(|clients| {
            Ok((
                clients,
                pgbench_run(script, database_url, options, clients)?,
            ))
        })
        .collect()
}

/// tps of one pgbench run of `script` with `clients` clients.
fn pgbench_run(
    script: &Path,
    database_url: &str,
    options: &Options,
    clients: usize,
) -> Result<f64> {
    let clients = clients.to_string();
    let output = process::output(
        Command::new("pgbench")
            .args([
                "-n",
                "-M",
                "prepared",
                "-c",
                &clients,
                "-j",
                "2",
                "-T",
                &options.duration_secs.to_string(),
                "-f",
            ])
            .arg(script)
            .arg(database_url),
    )?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|line| line.trim().strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
        .ok_or_else(|| {
            format!(
                "no tps in pgbench output: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )
        })
}

/// The pgbench client counts the ceiling is the best of: four per CPU, and 16.
fn pgbench_client_counts() -> Vec<usize> {
    let per_cpu = 4 * std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let mut counts = vec![per_cpu, 16];
    counts.dedup();
    counts
}

/// `text` with `section` between `begin` and `end` (appended when the markers are missing).
/// "Measured by `<command>` on <date>, commit <hash>." (with a note when the tree has changes).
fn measured_by(command: &str) -> String {
    let date = command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
        .unwrap_or_else(|| "unknown date".to_owned());
    let commit = command_line("git", &["rev-parse", "--short", "HEAD"])
        .map_or_else(|| "(none yet)".to_owned(), |c| format!("`{c}`"));
    let dirty = command_line("git", &["status", "--porcelain"]).is_some();
    let changes = if dirty {
        " (with uncommitted changes)"
    } else {
        ""
    };
    format!("Measured by `{command}` on {date}, commit {commit}{changes}.")
}

/// Replaces the text between `begin` and `end` in the benchmarks page `doc` (created when
/// missing) with `section`, and says so.
fn write_section(doc: &Path, section: &str, begin: &str, end: &str, what: &str) -> Result<()> {
    let existing = fs::read_to_string(doc).ok();
    let text = splice_between(
        existing.as_deref().unwrap_or("# Benchmarks\n"),
        section,
        begin,
        end,
    );
    fs::write(doc, text).with_context(|| format!("writing {}", doc.display()))?;
    println!("==> wrote the {what} section of {DOC}");
    Ok(())
}

fn splice_between(text: &str, section: &str, begin: &str, end: &str) -> String {
    let block = format!("{begin}\n{section}{end}");
    match (text.find(begin), text.find(end)) {
        (Some(b), Some(e)) if b < e => format!("{}{block}{}", &text[..b], &text[e + end.len()..]),
        _ => format!("{}\n\n{block}\n", text.trim_end()),
    }
}

/// Sockets (database, Redis, clients) and all descriptors open in `pid`.
fn open_descriptors(pid: u32) -> Option<(usize, usize)> {
    let entries = fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    let mut sockets = 0;
    let mut total = 0;
    for entry in entries.flatten() {
        total += 1;
        if fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"))
        {
            sockets += 1;
        }
    }
    Some((sockets, total))
}

/// Runs a fixed request mix for `--soak-minutes` with a fixed number of connections, sampling
/// the server's RSS and open descriptors every 30 s; returns the markdown section.
fn soak(
    options: &Options,
    port: u16,
    pid: u32,
    work: &Path,
    token: &str,
    detail: &str,
) -> Result<String> {
    let script = work.join("soak.lua");
    let mix = [
        "/api/v1/health",
        "/api/v1/pharmacies/search/nearby?latitude=19.0760&longitude=72.8777&radius_km=5",
        detail,
        "/api/v1/appointments/?page=1",
        "/api/v1/pharmacies?limit=20",
        "/api/v1/users/me",
    ];
    let minutes = options.soak_minutes;
    // A fixed rate well below the maximum: the soak looks for drift, not for the limit. wrk has
    // no rate option, so each connection waits `delay()` before its next request; the offered
    // rate is connections / (delay + latency), at most `--soak-rate`.
    let connections = options.connections.min(16);
    let rate = options.soak_rate.max(1);
    let delay_ms = (f64::from(connections) * 1000.0 / f64::from(rate)).max(0.0);
    let mut lua = String::from("local paths = {\n");
    for path in mix {
        let _ = writeln!(lua, "  \"{path}\",");
    }
    let _ = write!(
        lua,
        "}}\nlocal n = 0\nrequest = function()\n  n = n % #paths + 1\n  return wrk.format(nil, paths[n])\nend\n\
         delay = function()\n  return {delay_ms:.0}\nend\n"
    );
    fs::write(&script, lua).with_context(|| format!("writing {}", script.display()))?;
    let mut cmd = Command::new("wrk");
    cmd.arg(format!("--threads={}", options.threads))
        .arg(format!("--connections={connections}"))
        .arg(format!("--duration={}s", minutes * 60))
        .arg("--latency")
        .arg("--header")
        .arg(format!("Authorization: Bearer {token}"))
        .arg("--script")
        .arg(&script)
        .arg(format!("http://127.0.0.1:{port}/"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    println!(
        "\n==> soak: {minutes} min, {connections} connections paced to {rate} req/s, {} paths in turn",
        mix.len()
    );
    let child = cmd.spawn().context("starting wrk")?;
    let started = std::time::Instant::now();
    let mut samples = Vec::new();
    let total = Duration::from_secs(u64::from(minutes) * 60);
    while started.elapsed() < total {
        std::thread::sleep(Duration::from_secs(30).min(total.saturating_sub(started.elapsed())));
        let rss = proc_status_kib(pid, "VmRSS");
        let fds = open_descriptors(pid);
        println!(
            "    t={:>4}s rss={} fds={fds:?}",
            started.elapsed().as_secs(),
            format_mib(rss)
        );
        samples.push((started.elapsed().as_secs(), rss, fds));
    }
    let output = child.wait_with_output().context("waiting for wrk")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let m = parse_wrk(&stdout)?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Soak on {}: {minutes} min, {connections} connections each waiting {delay_ms:.0} ms between \
         requests (a fixed offered rate of at most {rate} req/s), {} paths in turn (health, nearby \
         5 km, pharmacy detail, appointment list, pharmacy list, users/me), release build, {} \
         pharmacies.\n",
        command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default(),
        mix.len(),
        options.pharmacies
    );
    let _ = writeln!(
        out,
        "Result: {} requests, {:.0} req/s, p50 {}, p99 {}, **{} errors**.\n",
        m.requests,
        m.requests_per_sec,
        format_latency(m.p50_us),
        format_latency(m.p99_us),
        m.errors
    );
    out.push_str(
        "| t (s) | Server RSS | Open sockets | Open descriptors |\n|---:|---:|---:|---:|\n",
    );
    for (t, rss, fds) in &samples {
        let (sockets, total) = fds.map_or(("n/a".to_owned(), "n/a".to_owned()), |(s, t)| {
            (s.to_string(), t.to_string())
        });
        let _ = writeln!(out, "| {t} | {} | {sockets} | {total} |", format_mib(*rss));
    }
    if let (Some(first), Some(last)) = (samples.get(1), samples.last()) {
        let growth = match (first.1, last.1) {
            (Some(a), Some(b)) => format!("{:+.1} MiB", (b as f64 - a as f64) / 1024.0),
            _ => "n/a".to_owned(),
        };
        let _ = writeln!(
            out,
            "\nRSS change from the second sample to the last: {growth}."
        );
    }
    Ok(out)
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
