//! PostgreSQL (with PostGIS) and Redis for development, tests and benchmarks: checked every time,
//! started when local and down, installed with apt-get only when actually missing.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::config::{PgUrl, RedisUrl, redact_url};
use crate::process::{self, is_root, which};
use crate::{Context, Result};

/// apt-get, run at most one `apt-get update` per xtask invocation.
#[derive(Default)]
pub struct Apt {
    updated: bool,
}

impl Apt {
    /// Installs Debian packages; `why` says what is missing. Needs root.
    pub fn install(&mut self, packages: &[&str], why: &str) -> Result<()> {
        let list = packages.join(" ");
        let commands =
            format!("apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y {list}");
        if which("apt-get").is_none() {
            return Err(format!(
                "{why}, and apt-get is not available: install {list} with this system's package manager"
            ));
        }
        if is_root() == Some(false) {
            return Err(format!(
                "{why}; installing needs root. Run:\n    sudo sh -c '{commands}'\nthen run xtask again"
            ));
        }
        println!("    {why}: installing {list} with apt-get");
        if !self.updated {
            process::run(
                Command::new("apt-get")
                    .arg("update")
                    .env("DEBIAN_FRONTEND", "noninteractive"),
            )?;
            self.updated = true;
        }
        process::run(
            Command::new("apt-get")
                .args(["install", "-y"])
                .args(packages)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
    }
}

/// Makes sure PostgreSQL (with PostGIS available) and Redis answer at the given URLs.
pub fn prepare(pg: &PgUrl, redis: &RedisUrl, apt: &mut Apt) -> Result<()> {
    ensure_postgres(pg, apt)?;
    ensure_postgis(pg, apt)?;
    ensure_redis(redis, apt)?;
    Ok(())
}

/// Runs a command that normally needs root; when it fails without root, says what to run.
fn run_as_root(cmd: &mut Command) -> Result<()> {
    process::run(cmd).map_err(|e| {
        if is_root() == Some(false) {
            format!(
                "{e}\nthis usually needs root; run:\n    sudo {}",
                process::display(cmd)
            )
        } else {
            e
        }
    })
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

fn psql(url: &str) -> Command {
    let mut cmd = Command::new("psql");
    // -w: never prompt for a password; -X: ignore ~/.psqlrc; -tA: bare values.
    cmd.args(["-w", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-tA", "-d", url])
        .env("PGCONNECT_TIMEOUT", "5");
    cmd
}

/// Runs one SQL statement with psql; returns its trimmed output.
pub fn psql_query(url: &str, sql: &str) -> Result<String> {
    let output = process::output(psql(url).args(["-c", sql]))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(format!(
            "psql on {} failed for `{sql}`: {}",
            redact_url(url),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Creates the URL's database unless it exists.
pub fn create_database_if_missing(db: &PgUrl) -> Result<()> {
    let name = db.database();
    let exists = psql_query(
        &db.admin_url(),
        &format!(
            "SELECT 1 FROM pg_database WHERE datname = {}",
            quote_literal(name)
        ),
    )?;
    if exists == "1" {
        println!("==> database {name} exists");
        return Ok(());
    }
    println!("==> creating database {name}");
    psql_query(
        &db.admin_url(),
        &format!("CREATE DATABASE {}", quote_ident(name)),
    )?;
    Ok(())
}

/// Drops (disconnecting its sessions) and creates the URL's database.
pub fn recreate_database(db: &PgUrl) -> Result<()> {
    let name = db.database();
    println!("==> recreating database {name}");
    psql_query(
        &db.admin_url(),
        &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(name)),
    )?;
    psql_query(
        &db.admin_url(),
        &format!("CREATE DATABASE {}", quote_ident(name)),
    )?;
    Ok(())
}

enum Probe {
    Ok,
    AuthFailed(String),
    Down(String),
}

fn probe_postgres(pg: &PgUrl) -> Probe {
    match process::output(psql(&pg.admin_url()).args(["-c", "SELECT 1"])) {
        Err(e) => Probe::Down(e),
        Ok(output) if output.status.success() => Probe::Ok,
        Ok(output) => {
            let message = String::from_utf8_lossy(&output.stderr).trim().to_owned();
            let lower = message.to_lowercase();
            if lower.contains("authentication failed")
                || lower.contains("no password supplied")
                || lower.contains("password")
                || (lower.contains("role") && lower.contains("does not exist"))
                || lower.contains("pg_hba.conf")
            {
                Probe::AuthFailed(message)
            } else {
                Probe::Down(message)
            }
        }
    }
}

fn auth_help(pg: &PgUrl, message: &str) -> String {
    format!(
        "PostgreSQL at {address} is running but refused the connection ({message}).\n\
         xtask expects trust authentication for local connections, as on the CI machines. Either \
         put a password in the URL (DATABASE_URL / MEDICO24_TEST_DATABASE_URL, e.g. \
         postgres://postgres:PASSWORD@{address}/postgres) or add these lines at the top of \
         pg_hba.conf and reload PostgreSQL (`pg_ctlcluster --skip-systemctl-redirect <version> <cluster> reload`):\n    \
         host all all 127.0.0.1/32 trust\n    host all all ::1/128 trust",
        address = pg.address(),
    )
}

fn tcp_open(host: &str, port: u16) -> bool {
    let host = if host.is_empty() { "127.0.0.1" } else { host };
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .is_some_and(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok())
}

struct Cluster {
    version: String,
    name: String,
    port: String,
    online: bool,
}

fn list_clusters() -> Result<Vec<Cluster>> {
    let output = process::output(Command::new("pg_lsclusters").arg("--no-header"))?;
    if !output.status.success() {
        return Err(format!(
            "pg_lsclusters failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.as_slice() {
                [version, name, port, status, ..] => Some(Cluster {
                    version: (*version).to_owned(),
                    name: (*name).to_owned(),
                    port: (*port).to_owned(),
                    online: status.starts_with("online"),
                }),
                _ => None,
            }
        })
        .collect())
}

/// After xtask itself installed PostgreSQL: trust loopback connections, like the CI machines.
fn trust_loopback(cluster: &Cluster) -> Result<()> {
    let path = format!(
        "/etc/postgresql/{}/{}/pg_hba.conf",
        cluster.version, cluster.name
    );
    let current = fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    if current.contains("added by cargo xtask") {
        return Ok(());
    }
    println!("    {path}: trusting loopback connections (development/CI machine)");
    let updated = format!(
        "# added by cargo xtask: trust loopback connections (development/CI machine)\n\
         host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n{current}"
    );
    fs::write(&path, updated).with_context(|| format!("writing {path}"))
}

fn ensure_postgres(pg: &PgUrl, apt: &mut Apt) -> Result<()> {
    println!("==> PostgreSQL at {}", pg.address());
    let mut fresh_install = false;
    if which("psql").is_none() {
        if !pg.is_local() || tcp_open(pg.host(), pg.port()) {
            apt.install(&["postgresql-client"], "psql is not installed")?;
        } else {
            apt.install(&["postgresql"], "PostgreSQL is not installed")?;
            fresh_install = true;
        }
    }
    let last_error = match probe_postgres(pg) {
        Probe::Ok => {
            println!("    accepting connections");
            return Ok(());
        }
        Probe::AuthFailed(message) if !fresh_install => return Err(auth_help(pg, &message)),
        Probe::AuthFailed(message) | Probe::Down(message) => message,
    };
    if !pg.is_local() {
        return Err(format!(
            "cannot connect to PostgreSQL at {} ({last_error}); it is not on this machine, so \
             xtask does not start it",
            pg.address()
        ));
    }
    let first_line = last_error.lines().next().unwrap_or_default();
    println!("    not answering ({first_line})");
    if which("pg_lsclusters").is_none() {
        apt.install(&["postgresql"], "PostgreSQL server is not installed")?;
        fresh_install = true;
    }
    let clusters = list_clusters()?;
    if clusters.is_empty() {
        return Err(
            "PostgreSQL is installed but has no cluster: create one with \
             `pg_createcluster --start <version> main` (see `ls /usr/lib/postgresql`)"
                .to_owned(),
        );
    }
    for cluster in &clusters {
        if fresh_install {
            trust_loopback(cluster)?;
        }
        let action = match (cluster.online, fresh_install) {
            (false, _) => "start",
            (true, true) => "reload",
            (true, false) => continue,
        };
        println!(
            "    cluster {} {} (port {}): {action}",
            cluster.version, cluster.name, cluster.port
        );
        run_as_root(Command::new("pg_ctlcluster").args([
            "--skip-systemctl-redirect",
            &cluster.version,
            &cluster.name,
            action,
        ]))?;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match probe_postgres(pg) {
            Probe::Ok => {
                println!("    accepting connections");
                return Ok(());
            }
            Probe::AuthFailed(message) => return Err(auth_help(pg, &message)),
            Probe::Down(message) if Instant::now() >= deadline => {
                let ports: Vec<String> = clusters
                    .iter()
                    .map(|c| format!("{} {} on port {}", c.version, c.name, c.port))
                    .collect();
                return Err(format!(
                    "PostgreSQL at {} did not accept connections within 30 s ({message}); \
                     clusters: {}; see /var/log/postgresql/",
                    pg.address(),
                    ports.join(", ")
                ));
            }
            Probe::Down(_) => sleep(Duration::from_millis(500)),
        }
    }
}

fn postgis_available(pg: &PgUrl) -> Result<bool> {
    let found = psql_query(
        &pg.admin_url(),
        "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'",
    )?;
    Ok(found == "1")
}

fn ensure_postgis(pg: &PgUrl, apt: &mut Apt) -> Result<()> {
    let version_num: u32 = psql_query(&pg.admin_url(), "SHOW server_version_num")?
        .parse()
        .context("reading server_version_num")?;
    let major = version_num / 10000;
    if postgis_available(pg)? {
        println!("==> PostGIS available (PostgreSQL {major})");
        return Ok(());
    }
    let package = format!("postgresql-{major}-postgis-3");
    if !pg.is_local() {
        return Err(format!(
            "PostGIS is not available on the PostgreSQL server at {}: install {package} (or \
             your platform's PostGIS 3 for PostgreSQL {major}) there",
            pg.address()
        ));
    }
    println!("==> PostGIS missing (PostgreSQL {major})");
    apt.install(&[&package], "the postgis extension is not available")?;
    if postgis_available(pg)? {
        println!("    PostGIS available");
        Ok(())
    } else {
        Err(format!(
            "installed {package}, but the server at {} still lists no postgis extension; is it \
             a different PostgreSQL installation than Debian's {major}?",
            pg.address()
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Redis

enum PingError {
    Down(String),
    Auth(String),
}

/// A RESP array of bulk strings.
fn resp(parts: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", parts.len());
    for part in parts {
        out.push_str(&format!("${}\r\n{part}\r\n", part.len()));
    }
    out.into_bytes()
}

fn read_reply_line(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.len() < 1024 {
        if stream.read(&mut byte)? == 0 {
            break;
        }
        if byte[0] == b'\n' {
            break;
        }
        line.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&line).trim_end().to_owned())
}

fn ping_redis(redis: &RedisUrl) -> std::result::Result<(), PingError> {
    let down = |e: std::io::Error| PingError::Down(e.to_string());
    let addr = (redis.host.as_str(), redis.port)
        .to_socket_addrs()
        .map_err(down)?
        .next()
        .ok_or_else(|| PingError::Down(format!("{} does not resolve", redis.host)))?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(down)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(down)?;
    stream
        .set_write_timeout(Some(Duration::from_secs(2)))
        .map_err(down)?;
    if let Some(password) = &redis.password {
        let auth = match &redis.username {
            Some(user) => resp(&["AUTH", user, password]),
            None => resp(&["AUTH", password]),
        };
        stream.write_all(&auth).map_err(down)?;
        let reply = read_reply_line(&mut stream).map_err(down)?;
        if !reply.starts_with("+OK") {
            return Err(PingError::Auth(reply));
        }
    }
    stream.write_all(&resp(&["PING"])).map_err(down)?;
    let reply = read_reply_line(&mut stream).map_err(down)?;
    if reply == "+PONG" {
        Ok(())
    } else if reply.starts_with("-NOAUTH") || reply.starts_with("-WRONGPASS") {
        Err(PingError::Auth(reply))
    } else {
        Err(PingError::Down(format!(
            "unexpected reply to PING: {reply:?}"
        )))
    }
}

fn ensure_redis(redis: &RedisUrl, apt: &mut Apt) -> Result<()> {
    println!("==> Redis at {}", redis.address());
    if redis.tls {
        println!("    rediss:// (TLS): not checked by xtask");
        return Ok(());
    }
    let last_error = match ping_redis(redis) {
        Ok(()) => {
            println!("    answers PING");
            return Ok(());
        }
        Err(PingError::Auth(reply)) => {
            return Err(format!(
                "Redis at {} refused the connection's authentication ({reply}): check the \
                 user and password in the URL (redis://user:password@host:port)",
                redis.address()
            ));
        }
        Err(PingError::Down(message)) => message,
    };
    if !redis.is_local() {
        return Err(format!(
            "cannot reach Redis at {} ({last_error}); it is not on this machine, so xtask does \
             not start it",
            redis.address()
        ));
    }
    println!("    not answering ({last_error})");
    if which("redis-server").is_none() {
        apt.install(&["redis-server"], "redis-server is not installed")?;
        // The package may have started its own server.
        if ping_redis(redis).is_ok() {
            println!("    answers PING");
            return Ok(());
        }
    }
    for dir in ["/var/lib/redis", "/var/log/redis"] {
        if !Path::new(dir).is_dir() {
            fs::create_dir_all(dir).with_context(|| {
                format!("creating {dir} (as root: sudo mkdir -p /var/lib/redis /var/log/redis)")
            })?;
        }
    }
    let port = redis.port.to_string();
    run_as_root(Command::new("redis-server").args([
        "--daemonize",
        "yes",
        "--bind",
        "127.0.0.1",
        "-::1",
        "--port",
        &port,
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        "/var/lib/redis",
        "--logfile",
        "/var/log/redis/ci.log",
    ]))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match ping_redis(redis) {
            Ok(()) => {
                println!("    answers PING");
                return Ok(());
            }
            Err(PingError::Auth(reply)) => {
                return Err(format!("Redis at {} answered {reply}", redis.address()));
            }
            Err(PingError::Down(message)) if Instant::now() >= deadline => {
                return Err(format!(
                    "Redis at {} did not answer within 10 s ({message}); see /var/log/redis/ci.log",
                    redis.address()
                ));
            }
            Err(PingError::Down(_)) => sleep(Duration::from_millis(200)),
        }
    }
}
