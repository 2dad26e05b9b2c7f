//! The live-events bench (`cargo xtask bench --events`): many Server-Sent Events streams held
//! open on the release server while appointments change, measuring the events delivered per
//! second, how late they arrive, and the server's memory with the streams open.
//!
//! The client is `events_load.py` (standard library only): it spreads the streams over several
//! seeded patients (at most `EVENTS_MAX_STREAMS_PER_USER`, raised to 100 here, per user), books
//! one appointment per patient, and changes them in turn; each change is one
//! `appointment.updated` event to every stream of its patient.

use super::*;

const EVENTS_BEGIN: &str = "<!-- events:begin -->";
const EVENTS_END: &str = "<!-- events:end -->";
const LOAD_SCRIPT: &str = include_str!("events_load.py");
/// Streams per patient (the per-user cap the bench server runs with).
const STREAMS_PER_USER: u32 = 100;

/// Streams and events of one run.
pub(super) struct EventsRun {
    /// Streams held open in all.
    pub streams: u32,
    /// Appointment changes made (each one event to `STREAMS_PER_USER` streams).
    pub events: u32,
}

/// Runs the events bench and writes its section of the benchmarks page.
pub(super) fn run(options: &Options, run: &EventsRun) -> Result<()> {
    let users = run.streams.div_ceil(STREAMS_PER_USER).max(1);
    if users > 200 {
        return Err("--streams: at most 20000 (200 seeded patients of 100 streams)".to_owned());
    }
    let setup = Setup::new(options, "medico24_bench_events", "bench-events")?;
    let streams = users * STREAMS_PER_USER;
    let max_streams = (streams + 100).to_string();
    let live = setup.start_with(
        "events.log",
        &[
            ("EVENTS_MAX_STREAMS_PER_USER", "100"),
            ("EVENTS_MAX_STREAMS", max_streams.as_str()),
            ("RATE_LIMIT_AUTH_PER_MINUTE", "1000000"),
        ],
    )?;
    let result = measure(&setup, &live, users, run);
    let mut server = live.server;
    server.stop();
    let section = render(&result?, users)?;
    println!("\n{section}");
    write_section(
        &setup.root.join(DOC),
        &section,
        EVENTS_BEGIN,
        EVENTS_END,
        "live events",
    )
}

/// Logs in `users` seeded patients and runs the load script against the live server; its JSON
/// summary.
fn measure(setup: &Setup, live: &Live, users: u32, run: &EventsRun) -> Result<String> {
    let vars = setup.vars(live.port);
    let mut tokens = Vec::new();
    // Seeded users 1–3 are the admin and staff accounts; patients follow.
    for n in 0..users {
        let email = format!("demo-user-{}@medico24.dev", 10 + n);
        tokens.push(crate::schemathesis::login_token(
            &setup.bin,
            &setup.work,
            &vars,
            live.port,
            &email,
        )?);
    }
    println!(
        "==> {} streams over {users} patients, {} appointment changes",
        users * STREAMS_PER_USER,
        run.events
    );
    let mut args = vec![
        live.port.to_string(),
        live.server.pid().to_string(),
        STREAMS_PER_USER.to_string(),
        run.events.to_string(),
    ];
    args.extend(tokens);
    python_summary(&setup.work, "events_load.py", LOAD_SCRIPT, &args)
}

/// A number member of the summary as text (`—` when missing or null).
fn member(summary: &str, name: &str) -> String {
    let key = format!("\"{name}\": ");
    summary
        .find(&key)
        .map(|at| &summary[at + key.len()..])
        .and_then(|rest| rest.split([',', '}']).next())
        .map(str::trim)
        .filter(|value| *value != "null")
        .map_or_else(|| "—".to_owned(), str::to_owned)
}

/// KiB as MiB with one decimal.
fn mib(kib: &str) -> String {
    kib.parse::<f64>()
        .map_or_else(|_| "—".to_owned(), |k| format!("{:.1}", k / 1024.0))
}

/// The markdown section of one run.
fn render(summary: &str, users: u32) -> Result<String> {
    let get = |name: &str| member(summary, name);
    if get("streams") == "—" {
        return Err(format!("unreadable summary: {summary}"));
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Live events (`cargo xtask bench --events`): {} Server-Sent Events streams of {users} \
         patients ({STREAMS_PER_USER} each) open on the release server; each patient's \
         appointment changed in turn, one `appointment.updated` event to every stream of that \
         patient per change. Client and server share the machine's two cores.\n",
        get("streams")
    );
    let _ = writeln!(out, "| measure | value |\n|---|---:|");
    let rows = [
        ("streams open", get("streams")),
        ("seconds to open them", get("open_secs")),
        ("appointment changes", get("events")),
        ("failed changes", get("change_failures")),
        (
            "events delivered / expected",
            format!("{} / {}", get("delivered"), get("expected")),
        ),
        ("events delivered per second", get("delivered_per_sec")),
        ("delivery delay p50 (ms)", get("delay_p50_ms")),
        ("delivery delay p99 (ms)", get("delay_p99_ms")),
        ("server RSS idle (MiB)", mib(&get("idle_rss_kib"))),
        (
            "server RSS with the streams open (MiB)",
            mib(&get("open_rss_kib")),
        ),
        (
            "server RSS after the events (MiB)",
            mib(&get("peak_rss_kib")),
        ),
    ];
    for (name, value) in rows {
        let _ = writeln!(out, "| {name} | {value} |");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_members_are_read_and_rendered() {
        let summary = r#"{"users": 10, "streams": 1000, "open_secs": 1.5, "events": 200, "change_failures": 0, "delivered": 20000, "expected": 20000, "elapsed_secs": 4.0, "delivered_per_sec": 5000.0, "delay_p50_ms": 12.5, "delay_p99_ms": null, "idle_rss_kib": 20480, "open_rss_kib": 40960, "peak_rss_kib": 41984}"#;
        assert_eq!(member(summary, "streams"), "1000");
        assert_eq!(member(summary, "delay_p99_ms"), "—");
        assert_eq!(member(summary, "missing"), "—");
        let section = render(summary, 10).unwrap();
        assert!(section.contains("| events delivered / expected | 20000 / 20000 |"));
        assert!(section.contains("| server RSS with the streams open (MiB) | 40.0 |"));
        assert!(render("{}", 1).is_err());
    }
}
