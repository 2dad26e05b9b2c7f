//! Settings the tasks share: the repository root, the server's development environment, `.env`,
//! and the PostgreSQL / Redis URLs (parsed just enough to address other databases and hosts).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::Result;

/// Where `cargo xtask run` and `seed` put the application's data by default.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/medico24";
/// The server the tests create their databases on (`MEDICO24_TEST_DATABASE_URL`).
pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// The local Redis.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
/// Port of `cargo xtask run`.
pub const DEFAULT_PORT: u16 = 8000;

/// Development defaults for the server; each is passed only when neither the environment nor
/// `.env` sets the variable.
pub const DEV_DEFAULTS: &[(&str, &str)] = &[
    ("ENVIRONMENT", "development"),
    ("HOST", "127.0.0.1"),
    ("PORT", "8000"),
    ("DATABASE_URL", DEFAULT_DATABASE_URL),
    ("REDIS_URL", DEFAULT_REDIS_URL),
    (
        "JWT_SECRET_KEY",
        "dev-access-key-not-for-production-0123456789",
    ),
    (
        "JWT_REFRESH_SECRET_KEY",
        "dev-refresh-key-not-for-production-0123456789",
    ),
    ("FIREBASE_PROJECT_ID", "medico24-dev"),
    // Emulator mode: tokens minted by `medico24 dev-token` are accepted.
    ("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099"),
    ("LOG_FORMAT", "pretty"),
    ("CORS_ORIGINS", "http://localhost:3000"),
];

/// Rate-limit variables raised for schemathesis and benchmarks, so the limiter never answers 429.
pub const RATE_LIMIT_VARS: &[&str] = &[
    "RATE_LIMIT_PER_MINUTE",
    "RATE_LIMIT_AUTH_PER_MINUTE",
    "RATE_LIMIT_ADMIN_SEND_PER_MINUTE",
    "RATE_LIMIT_ENVIRONMENT_PER_MINUTE",
];

/// Environment variables to set on a child process.
pub type EnvVars = BTreeMap<String, String>;

/// The workspace root (the parent of `xtask/`).
pub fn repo_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Cargo's target directory (`$CARGO_TARGET_DIR`, else `<root>/target`).
pub fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    }
}

/// A non-empty variable of xtask's own process environment.
pub fn process_env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

/// The configuration the server will see: the process environment, then `<root>/.env`.
pub struct Env {
    dotenv: EnvVars,
}

impl Env {
    /// Reads `<root>/.env` if present.
    pub fn load(root: &Path) -> Self {
        let dotenv = std::fs::read_to_string(root.join(".env"))
            .map(|text| parse_dotenv(&text))
            .unwrap_or_default();
        Self { dotenv }
    }

    /// A variable's value as the server would read it (the environment wins over `.env`).
    pub fn get(&self, key: &str) -> Option<String> {
        process_env(key).or_else(|| self.dotenv.get(key).filter(|v| !v.is_empty()).cloned())
    }

    /// The development defaults that neither the environment nor `.env` provides.
    pub fn missing_defaults(&self) -> EnvVars {
        let redis_by_parts = self.get("REDIS_HOST").is_some();
        DEV_DEFAULTS
            .iter()
            .filter(|(key, _)| self.get(key).is_none())
            // REDIS_URL would take precedence over REDIS_HOST/REDIS_PORT: don't shadow them.
            .filter(|(key, _)| !(*key == "REDIS_URL" && redis_by_parts))
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    /// The application database the server will use.
    pub fn database_url(&self) -> String {
        self.get("DATABASE_URL")
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned())
    }

    /// The Redis the server will use (`REDIS_URL`, else `REDIS_HOST`/`REDIS_PORT`, else local).
    pub fn redis_url(&self) -> String {
        if let Some(url) = self.get("REDIS_URL") {
            return url;
        }
        let Some(host) = self.get("REDIS_HOST") else {
            return DEFAULT_REDIS_URL.to_owned();
        };
        let port = self.get("REDIS_PORT").unwrap_or_else(|| "6379".to_owned());
        match self.get("REDIS_PASSWORD") {
            Some(password) => {
                let user = self.get("REDIS_USERNAME").unwrap_or_default();
                format!("redis://{user}:{password}@{host}:{port}")
            }
            None => format!("redis://{host}:{port}"),
        }
    }
}

/// `KEY=VALUE` lines; `#` comments, `export ` prefixes and surrounding quotes are handled.
fn parse_dotenv(text: &str) -> EnvVars {
    let mut vars = EnvVars::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        let value = if let Some(inner) = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
        {
            inner
        } else {
            value.split(" #").next().unwrap_or(value).trim_end()
        };
        vars.insert(key.trim().to_owned(), value.to_owned());
    }
    vars
}

/// The environment of a server that xtask runs for itself (schemathesis, benchmarks): every
/// variable is set explicitly, so the caller's environment cannot change what is measured.
pub fn isolated_server_env(database: &PgUrl, redis: &RedisUrl, port: u16) -> EnvVars {
    let mut vars: EnvVars = DEV_DEFAULTS
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect();
    let overrides = [
        ("ENVIRONMENT", "test".to_owned()),
        ("HOST", "127.0.0.1".to_owned()),
        ("PORT", port.to_string()),
        ("DATABASE_URL", database.url()),
        ("REDIS_URL", redis.url().to_owned()),
        ("LOG_FORMAT", "json".to_owned()),
        ("LOG_LEVEL", "warn".to_owned()),
    ];
    for (key, value) in overrides {
        vars.insert(key.to_owned(), value);
    }
    for key in RATE_LIMIT_VARS {
        vars.insert((*key).to_owned(), "100000".to_owned());
    }
    vars
}

/// Masks the password of a `scheme://user:password@host` URL inside `text`.
pub fn redact_url(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return text.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
        None => text.to_owned(),
    }
}

/// `(userinfo, host, port)` of a URL authority; IPv6 hosts lose their brackets.
fn split_authority(authority: &str) -> (Option<&str>, &str, Option<&str>) {
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((userinfo, host_port)) => (Some(userinfo), host_port),
        None => (None, authority),
    };
    if let Some(bracketed) = host_port.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').unwrap_or((bracketed, ""));
        return (userinfo, host, after.strip_prefix(':'));
    }
    match host_port.rsplit_once(':') {
        Some((host, port)) => (userinfo, host, Some(port)),
        None => (userinfo, host_port, None),
    }
}

fn parse_port(port: Option<&str>, default: u16, url: &str) -> Result<u16> {
    match port {
        None | Some("") => Ok(default),
        Some(port) => port
            .parse()
            .map_err(|_| format!("bad port `{port}` in {}", redact_url(url))),
    }
}

/// Whether xtask may start (and install) a service at this host: only on this machine.
pub fn is_local_host(host: &str) -> bool {
    matches!(host, "" | "127.0.0.1" | "localhost" | "::1")
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match decoded {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A PostgreSQL URL split into server and database, to address other databases on the server.
#[derive(Clone, Debug)]
pub struct PgUrl {
    authority: String,
    database: String,
    query: String,
    host: String,
    port: u16,
}

impl PgUrl {
    /// Accepts `postgres://`, `postgresql://` and `postgresql+asyncpg://` URLs.
    pub fn parse(url: &str) -> Result<Self> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("not a URL: {}", redact_url(url)))?;
        if !scheme.starts_with("postgres") {
            return Err(format!(
                "expected a postgres:// URL, got {}",
                redact_url(url)
            ));
        }
        let (before_query, query) = match rest.split_once('?') {
            Some((before, query)) => (before, format!("?{query}")),
            None => (rest, String::new()),
        };
        let (authority, database) = before_query.split_once('/').unwrap_or((before_query, ""));
        let (_, host, port) = split_authority(authority);
        Ok(Self {
            authority: authority.to_owned(),
            database: if database.is_empty() {
                "postgres".to_owned()
            } else {
                percent_decode(database)
            },
            query,
            host: host.to_owned(),
            port: parse_port(port, 5432, url)?,
        })
    }

    /// The database name.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The same server, another database.
    pub fn with_database(&self, database: &str) -> Self {
        Self {
            database: database.to_owned(),
            ..self.clone()
        }
    }

    /// The URL, normalised to the `postgres://` scheme (which psql understands).
    pub fn url(&self) -> String {
        format!(
            "postgres://{}/{}{}",
            self.authority, self.database, self.query
        )
    }

    /// The server's maintenance database, for `CREATE DATABASE` and server-wide queries.
    pub fn admin_url(&self) -> String {
        self.with_database("postgres").url()
    }

    /// `host:port` for messages.
    pub fn address(&self) -> String {
        let host = if self.host.is_empty() {
            "localhost"
        } else {
            &self.host
        };
        format!("{host}:{}", self.port)
    }

    /// Whether the server is on this machine.
    pub fn is_local(&self) -> bool {
        is_local_host(&self.host)
    }

    /// The host (empty for a Unix socket).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

/// A Redis URL: `redis://[user[:password]@]host[:port][/db]` or `rediss://…` (TLS).
#[derive(Clone, Debug)]
pub struct RedisUrl {
    url: String,
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// ACL user name, if any.
    pub username: Option<String>,
    /// Password, if any.
    pub password: Option<String>,
    /// Whether the URL asks for TLS (`rediss://`).
    pub tls: bool,
}

impl RedisUrl {
    /// Parses the URL.
    pub fn parse(url: &str) -> Result<Self> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("not a URL: {}", redact_url(url)))?;
        let tls = match scheme {
            "redis" => false,
            "rediss" => true,
            _ => {
                return Err(format!("expected a redis:// URL, got {}", redact_url(url)));
            }
        };
        let authority = rest.split(['/', '?']).next().unwrap_or(rest);
        let (userinfo, host, port) = split_authority(authority);
        let (username, password) = match userinfo {
            None => (None, None),
            Some(info) => match info.split_once(':') {
                Some((user, password)) => (
                    Some(percent_decode(user)).filter(|u| !u.is_empty()),
                    Some(percent_decode(password)),
                ),
                None => (Some(percent_decode(info)), None),
            },
        };
        Ok(Self {
            url: url.to_owned(),
            host: if host.is_empty() {
                "127.0.0.1".to_owned()
            } else {
                host.to_owned()
            },
            port: parse_port(port, 6379, url)?,
            username,
            password,
            tls,
        })
    }

    /// The URL as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `host:port` for messages.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Whether the server is on this machine.
    pub fn is_local(&self) -> bool {
        is_local_host(&self.host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_lines_are_parsed() {
        let vars = parse_dotenv(
            "# comment\nexport PORT=9000\nDATABASE_URL=\"postgres://a@b/c\"\nHOST=0.0.0.0 # all\nEMPTY=\n",
        );
        assert_eq!(vars.get("PORT").unwrap(), "9000");
        assert_eq!(vars.get("DATABASE_URL").unwrap(), "postgres://a@b/c");
        assert_eq!(vars.get("HOST").unwrap(), "0.0.0.0");
        assert_eq!(vars.get("EMPTY").unwrap(), "");
    }

    #[test]
    fn postgres_urls_address_other_databases() {
        let url = PgUrl::parse("postgresql+asyncpg://u:p%40ss@db.example:6543/app?sslmode=disable")
            .unwrap();
        assert_eq!(url.database(), "app");
        assert_eq!(url.address(), "db.example:6543");
        assert!(!url.is_local());
        assert_eq!(
            url.with_database("other").url(),
            "postgres://u:p%40ss@db.example:6543/other?sslmode=disable"
        );
        let local = PgUrl::parse("postgres://postgres@127.0.0.1:5432").unwrap();
        assert_eq!(local.database(), "postgres");
        assert!(local.is_local());
        assert_eq!(PgUrl::parse("postgres://[::1]/x").unwrap().port(), 5432);
        assert!(PgUrl::parse("mysql://x/y").is_err());
    }

    #[test]
    fn redis_urls_carry_credentials() {
        let url = RedisUrl::parse("redis://default:s%3Acret@127.0.0.1:6380/2").unwrap();
        assert_eq!(url.address(), "127.0.0.1:6380");
        assert_eq!(url.username.as_deref(), Some("default"));
        assert_eq!(url.password.as_deref(), Some("s:cret"));
        let bare = RedisUrl::parse("redis://:pw@localhost").unwrap();
        assert_eq!(bare.username, None);
        assert_eq!(bare.port, 6379);
        assert!(bare.is_local());
        assert!(RedisUrl::parse("rediss://cache.example:6380").unwrap().tls);
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("--port"), "--port");
    }

    #[test]
    fn isolated_environment_overrides_the_defaults() {
        let db = PgUrl::parse(DEFAULT_TEST_DATABASE_URL)
            .unwrap()
            .with_database("x");
        let redis = RedisUrl::parse(DEFAULT_REDIS_URL).unwrap();
        let vars = isolated_server_env(&db, &redis, 1234);
        assert_eq!(vars["ENVIRONMENT"], "test");
        assert_eq!(vars["PORT"], "1234");
        assert_eq!(vars["DATABASE_URL"], "postgres://postgres@127.0.0.1:5432/x");
        assert_eq!(vars["RATE_LIMIT_ENVIRONMENT_PER_MINUTE"], "100000");
        assert_eq!(
            vars["JWT_SECRET_KEY"],
            "dev-access-key-not-for-production-0123456789"
        );
    }
}
