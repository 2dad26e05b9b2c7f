//! The booking profile of `cargo xtask bench`: the `appointment-create` case with the background
//! workers off and on, alternating, to show what one booking costs the data tier (PostgreSQL
//! transactions and Redis commands per request) and what the outbox worker's drain takes from
//! the requests during a burst.

use std::fmt::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

use super::{Caller, Case, Live, Measurement, Options, Setup, run_case, wait_until_idle};
use crate::Result;
use crate::services;

/// Rounds of (workers off, workers on).
const ROUNDS: usize = 2;

/// One run of the create case.
struct Run {
    workers: bool,
    measurement: Measurement,
    /// PostgreSQL transactions (commits + rollbacks) of the bench database per booking, counted
    /// from the server's start (after its logins) to its stop.
    pg_per_request: f64,
    /// Redis commands per booking over the same span.
    redis_per_request: f64,
    /// With workers on: seconds from the end of the burst until the outbox was empty.
    drain_secs: Option<f64>,
}

/// Transactions of the bench database so far (backends report theirs when they end, so read
/// this with the server stopped).
fn pg_transactions(url: &str) -> Result<u64> {
    let text = services::psql_query(
        url,
        "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()",
    )?;
    text.trim()
        .parse()
        .map_err(|_| format!("unexpected pg_stat_database answer: {text}"))
}

/// Commands Redis has processed so far (`INFO stats`).
fn redis_commands(setup: &Setup) -> Result<u64> {
    let mut cmd = Command::new("redis-cli");
    cmd.args(["-u", setup.redis.url(), "INFO", "stats"]);
    let output = crate::process::output(&mut cmd)?;
    let text = String::from_utf8_lossy(&output.stdout);
    parse_commands_processed(&text)
        .ok_or_else(|| "redis-cli INFO stats has no total_commands_processed".to_owned())
}

fn parse_commands_processed(info: &str) -> Option<u64> {
    info.lines()
        .find_map(|line| line.trim().strip_prefix("total_commands_processed:"))
        .and_then(|value| value.trim().parse().ok())
}

/// Unprocessed outbox events that are due (a booking's reminders wait for their time and are
/// not part of the drain).
fn outbox_pending(url: &str) -> Result<u64> {
    let text = services::psql_query(
        url,
        "SELECT count(*) FROM notification_outbox \
         WHERE processed_at IS NULL AND available_at <= now()",
    )?;
    text.trim()
        .parse()
        .map_err(|_| format!("unexpected outbox count: {text}"))
}

fn one_run(
    setup: &Setup,
    options: &Options,
    case: &Case,
    ids: &[String],
    workers: bool,
) -> Result<Run> {
    let url = setup.db.url();
    let mut live: Live = setup.start_with(
        &format!("booking-workers-{workers}.log"),
        &[("WORKERS_ENABLED", if workers { "true" } else { "false" })],
    )?;
    let pid = live.server.pid();
    wait_until_idle(pid);
    let pg_before = pg_transactions(&url)?;
    let redis_before = redis_commands(setup)?;
    let measurement = run_case(
        case,
        live.port,
        options,
        &setup.work,
        ids,
        Some(live.patient.as_str()),
    )?;
    let drain_secs = if workers {
        let started = Instant::now();
        while outbox_pending(&url)? > 0 && started.elapsed() < Duration::from_secs(300) {
            std::thread::sleep(Duration::from_millis(200));
        }
        Some(started.elapsed().as_secs_f64())
    } else {
        None
    };
    live.server.stop();
    // Backends flush their statistics when they end.
    std::thread::sleep(Duration::from_millis(1500));
    let requests = measurement.requests.max(1) as f64;
    let pg_per_request = pg_transactions(&url)?.saturating_sub(pg_before) as f64 / requests;
    let redis_per_request = redis_commands(setup)?.saturating_sub(redis_before) as f64 / requests;
    if !workers {
        // Leave no backlog for the next run to drain.
        services::psql_query(
            &url,
            "UPDATE notification_outbox SET processed_at = now() WHERE processed_at IS NULL",
        )?;
    }
    Ok(Run {
        workers,
        measurement,
        pg_per_request,
        redis_per_request,
        drain_secs,
    })
}

/// Runs the profile and returns its Markdown section.
pub(super) fn profile(setup: &Setup, options: &Options, ids: &[String]) -> Result<String> {
    let case = super::CASES
        .iter()
        .find(|c| c.name == "appointment-create" && c.auth == Caller::Patient)
        .ok_or_else(|| "no appointment-create case".to_owned())?;
    let mut runs = Vec::new();
    for _ in 0..ROUNDS {
        for workers in [false, true] {
            println!(
                "\n==> booking profile: workers {}",
                if workers { "on" } else { "off" }
            );
            runs.push(one_run(setup, options, case, ids, workers)?);
        }
    }
    Ok(render(&runs))
}

fn render(runs: &[Run]) -> String {
    let mut text = String::from(
        "Booking profile (`appointment-create`, the same load, server restarted per run; \
         PostgreSQL transactions and Redis commands counted over the whole run, divided by the \
         bookings; with workers on they include the outbox drain, which ran until the outbox was \
         empty):\n\n\
         | Run | Workers | Req/s | p50 | PG transactions / booking | Redis commands / booking | Outbox drained after |\n\
         |---|---|---:|---:|---:|---:|---:|\n",
    );
    for (i, run) in runs.iter().enumerate() {
        let _ = writeln!(
            text,
            "| {} | {} | {:.0} | {} | {:.2} | {:.2} | {} |",
            i + 1,
            if run.workers { "on" } else { "off" },
            run.measurement.requests_per_sec,
            super::format_latency(run.measurement.p50_us),
            run.pg_per_request,
            run.redis_per_request,
            run.drain_secs
                .map_or_else(|| "—".to_owned(), |s| format!("{s:.1} s"))
        );
    }
    let mean = |workers: bool| {
        let rates: Vec<f64> = runs
            .iter()
            .filter(|r| r.workers == workers)
            .map(|r| r.measurement.requests_per_sec)
            .collect();
        rates.iter().sum::<f64>() / rates.len().max(1) as f64
    };
    let (off, on) = (mean(false), mean(true));
    if off > 0.0 {
        let _ = writeln!(
            text,
            "\nMean throughput: workers off {off:.0} req/s, on {on:.0} req/s: the outbox drain \
             during the burst costs the requests {:.0} %.",
            (1.0 - on / off) * 100.0
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_count_is_read_from_info_stats() {
        let info = "# Stats\r\ntotal_connections_received:12\r\ntotal_commands_processed:4567\r\n";
        assert_eq!(parse_commands_processed(info), Some(4567));
        assert_eq!(parse_commands_processed("# Stats\r\n"), None);
    }
}
