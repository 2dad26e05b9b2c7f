//! The `medico24` binary: building it, running its CLI (`migrate`, `seed`, `openapi`), and
//! spawning `serve` in the background with health polling and a guaranteed stop.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::config::{EnvVars, redact_url, target_dir};
use crate::process;
use crate::{Context, Result};

/// The health endpoint that tells the server is up (always 200 while it serves).
pub const HEALTH_PATH: &str = "/api/v1/health";

/// Cargo build profile.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// `target/debug`.
    Debug,
    /// `target/release` (`--release`).
    Release,
}

impl Profile {
    /// `Release` if the flag was given.
    pub fn from_release_flag(release: bool) -> Self {
        if release { Self::Release } else { Self::Debug }
    }

    fn dir(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Release => "release",
        }
    }
}

/// `cargo` as the one running xtask (`$CARGO`), else from PATH.
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Builds `medico24` and returns its path; `$XTASK_SERVER_BIN` names a prebuilt binary instead.
pub fn build(root: &Path, profile: Profile) -> Result<PathBuf> {
    if let Some(bin) = std::env::var_os("XTASK_SERVER_BIN").filter(|b| !b.is_empty()) {
        let bin = root.join(bin);
        println!(
            "==> using server binary {} (XTASK_SERVER_BIN)",
            bin.display()
        );
        return if bin.is_file() {
            Ok(bin)
        } else {
            Err(format!("XTASK_SERVER_BIN={} is not a file", bin.display()))
        };
    }
    println!("==> building medico24 ({})", profile.dir());
    let mut cmd = cargo();
    cmd.current_dir(root)
        .args(["build", "--package", "medico24-server"]);
    if profile == Profile::Release {
        cmd.arg("--release");
    }
    process::run(&mut cmd)?;
    let bin = target_dir(root)
        .join(profile.dir())
        .join(format!("medico24{}", std::env::consts::EXE_SUFFIX));
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "the build succeeded but {} is missing",
            bin.display()
        ))
    }
}

fn shown_vars(vars: &EnvVars) -> String {
    ["DATABASE_URL", "SEED_PHARMACIES"]
        .iter()
        .filter_map(|key| vars.get(*key).map(|v| format!("{key}={} ", redact_url(v))))
        .collect()
}

/// Runs `medico24 <args>` to completion in `workdir` (where it reads `.env`), with `vars` set.
pub fn cli(bin: &Path, workdir: &Path, vars: &EnvVars, args: &[&str]) -> Result<()> {
    let mut cmd = Command::new(bin);
    cmd.args(args).current_dir(workdir).envs(vars);
    println!("$ {}{}", shown_vars(vars), process::display(&cmd));
    let status = cmd
        .status()
        .with_context(|| format!("could not start {}", bin.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`medico24 {}` failed ({status})", args.join(" ")))
    }
}

/// Replaces this process with `medico24 serve` (Ctrl-C and the exit code are then the
/// server's own); elsewhere than Unix, waits for it and exits with its code.
pub fn exec_serve(bin: &Path, workdir: &Path, vars: &EnvVars) -> Result<()> {
    let mut cmd = Command::new(bin);
    cmd.arg("serve").current_dir(workdir).envs(vars);
    println!("$ {}", process::display(&cmd));
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let error = cmd.exec();
        Err(format!("could not start {}: {error}", bin.display()))
    }
    #[cfg(not(unix))]
    {
        let status = cmd
            .status()
            .with_context(|| format!("could not start {}", bin.display()))?;
        std::process::exit(status.code().unwrap_or(1))
    }
}

/// A free TCP port on 127.0.0.1 (bound to port 0, then released).
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    Ok(listener
        .local_addr()
        .context("reading local address")?
        .port())
}

/// The status code of `GET path` on 127.0.0.1:port, with a plain HTTP/1.1 request.
pub fn http_status(port: u16, path: &str) -> std::io::Result<u16> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\n\
         Connection: close\r\n\r\n"
    )?;
    let mut head = Vec::new();
    let mut chunk = [0u8; 512];
    while !head.contains(&b'\n') && head.len() < 8192 {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
    let head = String::from_utf8_lossy(&head);
    let status_line = head.lines().next().unwrap_or_default();
    status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not an HTTP response: {status_line:?}"),
            )
        })
}

/// The body of `GET path` on 127.0.0.1:port (HTTP/1.1, `Connection: close`, read to the end;
/// a chunked body keeps its chunk-size lines, which callers parsing lines can ignore).
pub fn http_get_text(port: u16, path: &str) -> std::io::Result<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    Ok(text
        .split_once("\r\n\r\n")
        .map_or_else(String::new, |(_, body)| body.to_owned()))
}

/// The last `lines` lines of a file, for error messages.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A `kB` field of /proc/<pid>/status (`VmRSS`, `VmHWM`), in KiB.
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `medico24 serve` running in the background; stopped when dropped (also on errors).
pub struct RunningServer {
    child: Child,
    port: u16,
    log: PathBuf,
    stopped: bool,
}

/// Starts `medico24 serve` in `workdir` with `vars`; its output goes to `log`.
pub fn spawn(
    bin: &Path,
    workdir: &Path,
    vars: &EnvVars,
    port: u16,
    log: &Path,
) -> Result<RunningServer> {
    let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let err = out
        .try_clone()
        .with_context(|| format!("opening {}", log.display()))?;
    let mut cmd = Command::new(bin);
    cmd.arg("serve")
        .current_dir(workdir)
        .envs(vars)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    println!(
        "$ {}   (port {port}, output in {})",
        process::display(&cmd),
        log.display()
    );
    let child = cmd
        .spawn()
        .with_context(|| format!("could not start {}", bin.display()))?;
    Ok(RunningServer {
        child,
        port,
        log: log.to_path_buf(),
        stopped: false,
    })
}

impl RunningServer {
    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's output file.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Polls `GET /api/v1/health` until it answers 200; fails early if the server exits.
    pub fn wait_healthy(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.stopped = true;
                return Err(format!(
                    "the server exited ({status}) before answering {HEALTH_PATH}; last lines of {}:\n{}",
                    self.log.display(),
                    tail(&self.log, 30)
                ));
            }
            let last = match http_status(self.port, HEALTH_PATH) {
                Ok(200) => {
                    println!("    server is up: {HEALTH_PATH} answered 200");
                    return Ok(());
                }
                Ok(code) => format!("HTTP {code}"),
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                return Err(format!(
                    "the server did not answer 200 on {HEALTH_PATH} within {} s (last: {last}); \
                     last lines of {}:\n{}",
                    timeout.as_secs(),
                    self.log.display(),
                    tail(&self.log, 30)
                ));
            }
            sleep(Duration::from_millis(250));
        }
    }

    /// SIGTERM (graceful shutdown), then SIGKILL after 10 s. Idempotent.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let pid = self.child.id();
        println!("==> stopping the server (pid {pid})");
        let terminated = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if terminated {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                sleep(Duration::from_millis(100));
            }
            println!("    no exit 10 s after SIGTERM: killing it");
        }
        // Best effort: the process may have exited in between.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.stop();
    }
}
