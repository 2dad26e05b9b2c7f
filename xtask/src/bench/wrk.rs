//! One bench case under wrk: the request script, the run, and the parsing of wrk's report.

use super::*;

pub(super) fn run_case(
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
pub(super) fn lua_script(case: &Case) -> String {
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
pub(super) fn rotating_request(path: &str, ids: &[String]) -> String {
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
pub(super) fn parse_duration_us(text: &str) -> Option<f64> {
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

pub(super) fn parse_wrk(output: &str) -> Result<Measurement> {
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
