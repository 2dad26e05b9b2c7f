//! The schemathesis phase of `cargo xtask test`: a live debug server on its own database, fuzzed
//! against its own `/openapi.json`; fails on any 5xx and on responses that break the schema.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::config::{EnvVars, PgUrl, RedisUrl, isolated_server_env, process_env, target_dir};
use crate::process::{self, succeeds};
use crate::server::{self, Profile};
use crate::services;
use crate::tasks::Outcome;
use crate::{Context, Result};

const REQUIREMENT: &str = "schemathesis>=4,<5";
const DATABASE: &str = "medico24_schemathesis";
const SEED_PHARMACIES: &str = "200";
/// Checks of schemathesis 4 (`schemathesis run --help`): server errors and schema conformance.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_headers_conformance,response_schema_conformance";
const DEFAULT_MAX_EXAMPLES: &str = "30";
/// `schemathesis.toml` of the runs.
const STATEFUL_CONFIG: &str = "[phases.stateful]\nmax-steps = 20\n";
// One worker: with two, hypothesis parses lambda sources from threads concurrently and trips
// CPython 3.11's "AST constructor recursion depth mismatch" (an error inside the fuzzer, not the API).
const DEFAULT_WORKERS: &str = "1";

/// Runs the phase. `Err` means it could not run (install, build, startup); `Ok(Failed)` means
/// schemathesis found problems.
pub fn run(root: &Path, pg: &PgUrl, redis: &RedisUrl) -> Result<Outcome> {
    println!("\n==> schemathesis");
    let cli = ensure_installed(root)?;
    let work = target_dir(root).join("schemathesis");
    fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;

    let db = pg.with_database(DATABASE);
    services::recreate_database(&db)?;
    let bin = server::build(root, Profile::Debug)?;
    let port = server::free_port()?;
    let mut vars = isolated_server_env(&db, redis, port);
    // A local stand-in for Google Air Quality and Weather, so the environment endpoint answers
    // 200 instead of 503 "provider not configured" under fuzzing.
    let google = fake_google()?;
    vars.insert(
        "GOOGLE_MAPS_API_KEY".to_owned(),
        "schemathesis-key".to_owned(),
    );
    vars.insert(
        "GOOGLE_AIR_QUALITY_URL".to_owned(),
        format!("http://127.0.0.1:{google}/airquality"),
    );
    vars.insert(
        "GOOGLE_WEATHER_URL".to_owned(),
        format!("http://127.0.0.1:{google}/weather"),
    );
    // The work directory has no .env, so the repository's .env cannot leak into this server.
    server::cli(&bin, &work, &vars, &["migrate"])?;
    let mut seed_vars = vars.clone();
    seed_vars.insert("SEED_PHARMACIES".to_owned(), SEED_PHARMACIES.to_owned());
    server::cli(&bin, &work, &seed_vars, &["seed"])?;

    let mut server = server::spawn(&bin, &work, &vars, port, &work.join("server.log"))?;
    server.wait_healthy(Duration::from_secs(60))?;

    // Authenticated runs: as a patient, then as an admin (tokens minted through the real
    // emulator-mode login), unless the caller supplies a header.
    let mut runs: Vec<(String, Option<String>)> = Vec::new();
    match process_env("SCHEMATHESIS_AUTH_HEADER") {
        Some(header) => runs.push(("custom".to_owned(), Some(header))),
        None => {
            for role in ["patient", "admin"] {
                let email = format!("schemathesis-{role}@example.com");
                let token = login_token(&bin, &work, &vars, port, &email)?;
                if role == "admin" {
                    server::cli(&bin, &work, &vars, &["make-admin", "--email", &email])?;
                }
                runs.push((role.to_owned(), Some(format!("Bearer {token}"))));
            }
        }
    }
    // Longer stateful scenarios than schemathesis's default 6 steps, so create → read → update →
    // delete chains through the document's links are reached.
    let config = work.join("schemathesis.toml");
    fs::write(&config, STATEFUL_CONFIG).with_context(|| format!("writing {}", config.display()))?;
    let mut failures = Vec::new();
    for (label, header) in runs {
        let report_dir = work.join("report").join(&label);
        let mut cmd = Command::new(&cli);
        cmd.current_dir(&work)
            .arg("--config-file")
            .arg(&config)
            .arg("run")
            .arg(format!("http://127.0.0.1:{port}/openapi.json"))
            // Keep requests on this server even if the document lists other `servers`.
            .args(["--origin", &format!("http://127.0.0.1:{port}")])
            .args(["--checks", CHECKS])
            .args([
                "--max-examples",
                &process_env("SCHEMATHESIS_MAX_EXAMPLES")
                    .unwrap_or_else(|| DEFAULT_MAX_EXAMPLES.to_owned()),
            ])
            .args([
                "--workers",
                &process_env("SCHEMATHESIS_WORKERS").unwrap_or_else(|| DEFAULT_WORKERS.to_owned()),
            ])
            .args(["--request-timeout", "10"])
            // Deactivating the caller's own account (directly, or by asking for its erasure)
            // would turn the rest of the run into 403s.
            .args(["--exclude-operation-id", "delete_me"])
            .args(["--exclude-operation-id", "request_my_erasure"])
            // The event stream answers an endless body: every call would run into the request
            // timeout (its errors are covered by the integration tests in `events.rs`).
            .args(["--exclude-operation-id", "event_stream"])
            // A fixed seed makes CI reproducible; SCHEMATHESIS_SEED explores other inputs.
            .args([
                "--seed",
                &process_env("SCHEMATHESIS_SEED").unwrap_or_else(|| "24".to_owned()),
            ])
            .args(["--report", "junit"])
            .arg("--report-dir")
            .arg(&report_dir);
        let mut shown = process::display(&cmd);
        if let Some(header) = header {
            let header = if header.contains(':') {
                header
            } else {
                format!("Authorization: {header}")
            };
            let name = header.split(':').next().unwrap_or_default().to_owned();
            cmd.arg("--header").arg(header);
            shown.push_str(&format!(" --header '{name}: ***'"));
        }
        if let Some(extra) = process_env("SCHEMATHESIS_EXTRA_ARGS") {
            let extra: Vec<&str> = extra.split_whitespace().collect();
            cmd.args(&extra);
            shown.push(' ');
            shown.push_str(&extra.join(" "));
        }
        println!("\n==> schemathesis as {label}\n$ {shown}");
        let status = cmd
            .status()
            .with_context(|| format!("could not start {}", cli.display()))?;
        if !status.success() {
            failures.push(format!("{label} ({status})"));
        }
    }
    let report_dir = work.join("report");
    let status_ok = failures.is_empty();
    let log = server.log().to_path_buf();
    server.stop();

    if status_ok {
        println!(
            "    schemathesis passed (JUnit report in {})",
            report_dir.display()
        );
        Ok(Outcome::Passed)
    } else {
        println!(
            "    schemathesis failed; JUnit report in {}; server output in {}. Its last lines:\n{}",
            report_dir.display(),
            log.display(),
            server::tail(&log, 40)
        );
        Ok(Outcome::Failed(format!(
            "schemathesis: {}",
            failures.join(", ")
        )))
    }
}

/// The `schemathesis` command of `target/schemathesis-venv`, creating the venv and installing
/// schemathesis only when it is not importable yet.
fn ensure_installed(root: &Path) -> Result<PathBuf> {
    let venv = target_dir(root).join("schemathesis-venv");
    let python = venv.join("bin").join("python");
    if !python.is_file() {
        let system_python = process_env("PYTHON").unwrap_or_else(|| "python3".to_owned());
        process::run(Command::new(&system_python).args(["-m", "venv"]).arg(&venv)).map_err(
            |e| {
                format!(
                    "{e}\n(on Debian the venv module comes with `apt-get install -y python3-venv`)"
                )
            },
        )?;
    }
    let importable = || succeeds(Command::new(&python).args(["-c", "import schemathesis"]));
    if importable() {
        println!("    schemathesis is installed in {}", venv.display());
    } else {
        process::run(Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--quiet",
            REQUIREMENT,
        ]))?;
        if !importable() {
            return Err(format!(
                "installed {REQUIREMENT} into {}, but it does not import",
                venv.display()
            ));
        }
    }
    let cli = venv.join("bin").join("schemathesis");
    if cli.is_file() {
        Ok(cli)
    } else {
        Err(format!("{} is missing", cli.display()))
    }
}

/// Logs in through the emulator-mode Firebase flow and returns an access token.
pub fn login_token(
    bin: &Path,
    work: &Path,
    vars: &EnvVars,
    port: u16,
    email: &str,
) -> Result<String> {
    let output = Command::new(bin)
        .current_dir(work)
        .env_clear()
        .envs(vars.iter())
        .envs(std::env::vars().filter(|(k, _)| k == "PATH" || k == "HOME"))
        .args(["dev-token", "--email", email])
        .output()
        .context("running medico24 dev-token")?;
    if !output.status.success() {
        return Err(format!(
            "medico24 dev-token failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    // Log lines may precede the token on stdout; the token is the last line.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let id_token = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .trim()
        .to_owned();
    let body = format!("{{\"id_token\":\"{id_token}\"}}");
    let response = post_json(port, "/api/v1/auth/firebase/verify", &body)?;
    let marker = "\"access_token\":\"";
    let start = response
        .find(marker)
        .map(|i| i + marker.len())
        .ok_or_else(|| {
            format!(
                "login of {email} failed: {}",
                response.lines().next().unwrap_or_default()
            )
        })?;
    let token: String = response[start..]
        .chars()
        .take_while(|c| *c != '"')
        .collect();
    Ok(token)
}

/// `POST path` with a JSON body on 127.0.0.1:port; returns the whole raw response.
fn post_json(port: u16, path: &str, body: &str) -> Result<String> {
    use std::io::{Read, Write};
    let mut stream =
        std::net::TcpStream::connect(("127.0.0.1", port)).context("connecting to the server")?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .context("setting a read timeout")?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .context("sending the login request")?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .context("reading the login response")?;
    Ok(response)
}

/// Serves fixed Google Air Quality / Weather answers on a free local port (a background thread
/// that lives as long as xtask); returns the port.
fn fake_google() -> Result<u16> {
    use std::io::{Read, Write};
    let listener =
        std::net::TcpListener::bind(("127.0.0.1", 0)).context("binding the fake Google server")?;
    let port = listener
        .local_addr()
        .context("reading the fake Google address")?
        .port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            // Read the whole request (head and body) before answering, so closing the socket never
            // discards unread data (which would reset the connection).
            let mut request = Vec::new();
            let mut chunk = [0u8; 4096];
            while let Ok(n) = stream.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                request.extend_from_slice(chunk.get(..n).unwrap_or_default());
                let text = String::from_utf8_lossy(&request).into_owned();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if request.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            let head = String::from_utf8_lossy(&request).into_owned();
            let body = if head.contains("/airquality") {
                r#"{"dateTime":"2026-01-01T00:00:00Z","indexes":[{"aqi":61,"category":"Moderate air quality","dominantPollutant":"pm25"}]}"#
            } else {
                r#"{"currentTime":"2026-01-01T00:00:00Z","temperature":{"degrees":29.4},"weatherCondition":{"description":{"text":"Partly cloudy"}},"relativeHumidity":74}"#
            };
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Ok(port)
}
