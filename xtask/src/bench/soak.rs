//! The soak run: a paced load for minutes, sampling the server's memory and descriptors.

use super::*;

/// Sockets (database, Redis, clients) and all descriptors open in `pid`.
pub(super) fn open_descriptors(pid: u32) -> Option<(usize, usize)> {
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
pub(super) fn soak(
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
