//! The export bench (`cargo xtask bench --export`): one patient with a long history (many
//! notifications, each with a push delivery) exports everything stored about them from the
//! release server, measuring the time, the document's size and the server's memory. The export
//! streams page by page, so the server's memory must stay far below the document's size.
//!
//! The client is `export_load.py` (standard library only): it reads the answer while sampling
//! the server's resident memory every 5 ms, then parses the document and counts its rows.

use super::*;

const EXPORT_BEGIN: &str = "<!-- export:begin -->";
const EXPORT_END: &str = "<!-- export:end -->";
const LOAD_SCRIPT: &str = include_str!("export_load.py");
/// The seeded patient whose history is made long.
const PATIENT: &str = "demo-user-4@medico24.dev";

/// Runs the export bench with `notifications` notifications and writes its section.
pub(super) fn run(options: &Options, notifications: u32) -> Result<()> {
    let setup = Setup::new(options, "medico24_bench_export", "bench-export")?;
    let url = setup.db.url();
    println!("==> giving {PATIENT} {notifications} notifications with one delivery each");
    services::psql_query(
        &url,
        &format!(
            "WITH patient AS (SELECT id FROM users WHERE email = '{PATIENT}'), \
             token AS (INSERT INTO push_tokens (user_id, fcm_token, platform) \
                 SELECT id, 'bench-export-device-token', 'android' FROM patient RETURNING id, user_id), \
             sent AS (INSERT INTO notifications (user_id, title, body, notification_type, status, \
                 data, sent_at) \
                 SELECT patient.id, 'Appointment confirmed ' || i, \
                     'Your appointment with Dr Mehta at Lotus Clinic is confirmed (' || i || ').', \
                     'appointment_confirmation', 'sent', jsonb_build_object('screen', 'appointment'), \
                     now() - make_interval(secs => i) \
                 FROM patient, generate_series(1, {notifications}) i RETURNING id) \
             INSERT INTO notification_deliveries (notification_id, push_token_id, delivery_status, \
                 fcm_message_id, delivered_at) \
             SELECT sent.id, token.id, 'sent', 'projects/p/messages/' || sent.id, now() \
             FROM sent, token"
        ),
    )?;
    services::psql_query(&url, "VACUUM ANALYZE")?;
    let live = setup.start_with("export.log", &[("RATE_LIMIT_EXPORT_PER_MINUTE", "1000")])?;
    let result = measure(&setup, &live);
    let mut server = live.server;
    server.stop();
    let section = render(&result?, notifications)?;
    println!("\n{section}");
    write_section(
        &setup.root.join(DOC),
        &section,
        EXPORT_BEGIN,
        EXPORT_END,
        "export",
    )
}

/// One export through the load script; its JSON summary.
fn measure(setup: &Setup, live: &Live) -> Result<String> {
    let args = [
        live.port.to_string(),
        live.server.pid().to_string(),
        live.patient.clone(),
    ];
    python_summary(&setup.work, "export_load.py", LOAD_SCRIPT, &args)
}

/// A number member of the summary (`None` when missing or not a number).
fn number(summary: &str, name: &str) -> Option<f64> {
    let key = format!("\"{name}\": ");
    summary
        .find(&key)
        .map(|at| &summary[at + key.len()..])
        .and_then(|rest| rest.split([',', '}']).next())
        .and_then(|value| value.trim().parse().ok())
}

/// The markdown section of one run.
fn render(summary: &str, seeded: u32) -> Result<String> {
    let get = |name: &str| {
        number(summary, name).ok_or_else(|| format!("summary without {name}: {summary}"))
    };
    let bytes = get("bytes")?;
    let idle = get("idle_rss_kib")?;
    let peak = get("peak_rss_kib")?;
    let growth_kib = (peak - idle).max(0.0);
    let mib = |kib: f64| format!("{:.1}", kib / 1024.0);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Personal data export (`cargo xtask bench --export`): one patient with {seeded} \
         notifications, each with one push delivery, exports everything stored about them from \
         the release server; the client reads the streamed answer while sampling the server's \
         resident memory every 5 ms. Client and server share the machine's two cores.\n"
    );
    let _ = writeln!(out, "| measure | value |\n|---|---:|");
    let rows = [
        (
            "notifications exported",
            format!("{}", get("notifications")?),
        ),
        ("deliveries exported", format!("{}", get("deliveries")?)),
        ("document size (MiB)", format!("{:.1}", bytes / 1_048_576.0)),
        ("seconds for the whole export", format!("{}", get("secs")?)),
        (
            "first byte after (ms)",
            format!("{}", get("first_byte_ms")?),
        ),
        (
            "notifications per second",
            format!("{}", get("rows_per_sec")?),
        ),
        ("server RSS before (MiB)", mib(idle)),
        ("server RSS peak during the export (MiB)", mib(peak)),
        (
            "RSS growth as a share of the document",
            format!("{:.1} %", 100.0 * growth_kib * 1024.0 / bytes.max(1.0)),
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
    fn the_summary_is_read_and_the_memory_share_computed() {
        let summary = r#"{"bytes": 104857600, "secs": 4.5, "first_byte_ms": 12.0, "notifications": 100000, "deliveries": 100000, "rows_per_sec": 22222.2, "idle_rss_kib": 30720, "peak_rss_kib": 40960}"#;
        let section = render(summary, 100_000).unwrap();
        assert!(
            section.contains("| document size (MiB) | 100.0 |"),
            "{section}"
        );
        assert!(section.contains("| RSS growth as a share of the document | 10.0 % |"));
        assert!(render("{}", 1).is_err());
    }
}
