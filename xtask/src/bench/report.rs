//! The benchmarks page: rendering a run's table and writing marked sections of
//! docs/benchmarks.md.

use super::*;

pub(super) fn render(
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
pub(super) fn update_doc(path: &Path, section: &str) -> Result<()> {
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
pub(super) fn splice(existing: Option<&str>, section: &str) -> String {
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

/// "Measured by `<command>` on <date>, commit <hash>." (with a note when the tree has changes).
pub(super) fn measured_by(command: &str) -> String {
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
pub(super) fn write_section(
    doc: &Path,
    section: &str,
    begin: &str,
    end: &str,
    what: &str,
) -> Result<()> {
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

/// `text` with `section` between `begin` and `end` (appended when the markers are missing).
pub(super) fn splice_between(text: &str, section: &str, begin: &str, end: &str) -> String {
    let block = format!("{begin}\n{section}{end}");
    match (text.find(begin), text.find(end)) {
        (Some(b), Some(e)) if b < e => format!("{}{block}{}", &text[..b], &text[e + end.len()..]),
        _ => format!("{}\n\n{block}\n", text.trim_end()),
    }
}
