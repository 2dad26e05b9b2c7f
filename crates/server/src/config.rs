//! Typed settings read once at startup from the environment and an optional `.env` file.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use chrono_tz::Tz;

mod database;
mod redis;

pub use database::DatabaseSettings;
pub use redis::RedisSettings;

/// A secret value: never printed by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call only where it is used (signing, comparing, outbound requests).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Deployment environment (`ENVIRONMENT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// Local development.
    Development,
    /// Automated tests.
    Test,
    /// Pre-production.
    Staging,
    /// Production: the strict startup checks apply.
    Production,
}

impl Environment {
    /// The name reported by the health endpoints.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Test => "test",
            Environment::Staging => "staging",
            Environment::Production => "production",
        }
    }
}

/// Log line format (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Pretty,
}

/// An IP network from `TRUSTED_PROXIES` (a single address is a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    addr: IpAddr,
    prefix: u8,
}

impl IpNetwork {
    /// Parses `10.0.0.1`, `10.0.0.0/8`, `::1` or `fd00::/8`.
    pub fn parse(text: &str) -> Option<Self> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (
                addr.parse::<IpAddr>().ok()?,
                Some(prefix.parse::<u8>().ok()?),
            ),
            None => (text.parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Self { addr, prefix })
    }

    /// Whether `ip` lies inside this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Which origins may call the API from a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    /// `*`: any origin, never with credentials.
    Any,
    /// Exactly these origins.
    List(Vec<String>),
}

/// Requests per client IP per minute for each rate-limit policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Policy `default`.
    pub default: u32,
    /// Policy `auth`.
    pub auth: u32,
    /// Policy `admin_send`.
    pub admin_send: u32,
    /// Policy `environment`.
    pub environment: u32,
}

/// Cache lifetimes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheTtls {
    /// `v2:user:{id}`.
    pub user: Duration,
    /// `v2:pharmacy:{id}`.
    pub pharmacy: Duration,
    /// Pharmacy list pages.
    pub pharmacy_list: Duration,
    /// `v2:clinic:{id}`.
    pub clinic: Duration,
    /// `v2:doctor:{id}`.
    pub doctor: Duration,
    /// Environment entries are fresh this long…
    pub env_fresh: Duration,
    /// …and served stale (and kept in Redis) this long.
    pub env_stale: Duration,
}

/// Every setting of the service.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `APP_NAME`.
    pub app_name: String,
    /// `APP_VERSION`.
    pub app_version: String,
    /// `ENVIRONMENT`.
    pub environment: Environment,
    /// `API_V1_PREFIX`, without a trailing slash.
    pub api_prefix: String,
    /// `HOST`.
    pub host: String,
    /// `PORT` (0 picks a free port; tests use it).
    pub port: u16,
    /// `DATABASE_URL`, `DATABASE_DIRECT_URL`, `DATABASE_READ_URL`, `DATABASE_POOLER`, … .
    pub database: DatabaseSettings,
    /// `DATABASE_POOL_SIZE`.
    pub database_pool_size: usize,
    /// `DATABASE_POOL_TIMEOUT_SECONDS`.
    pub database_pool_timeout: Duration,
    /// `DATABASE_STATEMENT_TIMEOUT_MS` (addition; default 15000, 0 = none): PostgreSQL cancels
    /// a statement running longer, and the request answers 503.
    pub database_statement_timeout: Option<Duration>,
    /// `REDIS_URL` (or `REDIS_HOST`/…), `REDIS_POOL_SIZE`, `REDIS_CA_FILE`, `REDIS_CLUSTER`, … .
    pub redis: RedisSettings,
    /// `JWT_SECRET_KEY`.
    pub jwt_secret_key: Secret,
    /// `JWT_REFRESH_SECRET_KEY` (random per process outside production when unset).
    pub jwt_refresh_secret_key: Secret,
    /// `ACCESS_TOKEN_EXPIRE_MINUTES`.
    pub access_token_ttl: Duration,
    /// `REFRESH_TOKEN_EXPIRE_DAYS`.
    pub refresh_token_ttl: Duration,
    /// `FIREBASE_PROJECT_ID`, else the service account's `project_id`.
    pub firebase_project_id: Option<String>,
    /// Service-account JSON from `FIREBASE_CONFIG_JSON` or the file at `FIREBASE_CREDENTIALS_PATH`.
    pub firebase_service_account: Option<Secret>,
    /// `FIREBASE_AUTH_EMULATOR_HOST` (always `None` in production).
    pub firebase_auth_emulator_host: Option<String>,
    /// `FIREBASE_CERTS_URL`.
    pub firebase_certs_url: String,
    /// `FCM_BASE_URL`.
    pub fcm_base_url: String,
    /// `GOOGLE_OAUTH_TOKEN_URL`.
    pub google_oauth_token_url: Option<String>,
    /// `FCM_CONCURRENCY`.
    pub fcm_concurrency: usize,
    /// `FCM_MAX_RETRIES`.
    pub fcm_max_retries: u32,
    /// `FCM_BACKOFF_BASE_MS` (addition; default 1000): the first FCM retry delay; every FCM
    /// retry delay (backoff, `Retry-After`, the 30 s cap) scales with it, so tests can use 1 ms.
    pub fcm_backoff_base: Duration,
    /// `GOOGLE_MAPS_API_KEY` (`None` when empty).
    pub google_maps_api_key: Option<Secret>,
    /// `GOOGLE_AIR_QUALITY_URL`.
    pub google_air_quality_url: String,
    /// `GOOGLE_WEATHER_URL`.
    pub google_weather_url: String,
    /// `GOOGLE_TIMEOUT_MS` (addition; default 10000): bound on each Air Quality / Weather call.
    pub google_timeout: Duration,
    /// `ADMIN_NOTIFICATION_SECRET`.
    pub admin_notification_secret: Secret,
    /// `CORS_ORIGINS`.
    pub cors_origins: CorsOrigins,
    /// `CORS_ALLOW_CREDENTIALS` (always false with `*`).
    pub cors_allow_credentials: bool,
    /// `RATE_LIMIT_*`.
    pub rate_limits: RateLimits,
    /// `TRUSTED_PROXIES`.
    pub trusted_proxies: Vec<IpNetwork>,
    /// `DEFAULT_TIMEZONE`.
    pub default_timezone: Tz,
    /// `BROADCAST_SYNC_LIMIT`.
    pub broadcast_sync_limit: u32,
    /// `OUTBOX_POLL_INTERVAL_MS`.
    pub outbox_poll_interval: Duration,
    /// `WORKERS_ENABLED` (addition; default true): run the outbox worker, the delivery recovery
    /// sweep, the broadcast runner and the idempotency-key purge in this process. Tests that drive
    /// the workers by hand set it to false.
    pub workers_enabled: bool,
    /// Cache TTLs.
    pub cache_ttls: CacheTtls,
    /// `MAX_REQUEST_BODY_BYTES`.
    pub max_request_body_bytes: usize,
    /// `METRICS_TOKEN`.
    pub metrics_token: Option<Secret>,
    /// `LOG_LEVEL`.
    pub log_level: String,
    /// `LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `SHUTDOWN_TIMEOUT_SECONDS` (addition; default 30): how long in-flight requests may drain.
    pub shutdown_timeout: Duration,
    /// `HTTP_WORKERS` (addition; default: one per CPU).
    pub http_workers: Option<usize>,
    /// Warnings to log once telemetry is up (settings are read before logging starts).
    pub warnings: Vec<String>,
}

/// Startup refused: every problem found, each naming its variable (never its value).
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .problems.join("\n  - "))]
pub struct ConfigError {
    /// One line per problem.
    pub problems: Vec<String>,
}

/// Default value of `ADMIN_NOTIFICATION_SECRET` outside production.
pub const DEV_ADMIN_SECRET: &str = "test-admin-secret-for-development-only";

const DEFAULT_CERTS_URL: &str =
    "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com";

impl Settings {
    /// Reads the process environment, then `.env` in the working directory (the environment wins).
    ///
    /// # Errors
    /// [`ConfigError`] listing every missing or invalid variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut vars: HashMap<String, String> = HashMap::new();
        if let Ok(iter) = dotenvy::from_path_iter(".env") {
            for (key, value) in iter.flatten() {
                vars.insert(key, value);
            }
        }
        vars.extend(std::env::vars());
        Self::from_vars(&vars)
    }

    /// Builds settings from a variable map (tests call this directly).
    ///
    /// # Errors
    /// [`ConfigError`] listing every missing or invalid variable.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let mut r = Reader {
            vars,
            problems: Vec::new(),
            warnings: Vec::new(),
        };

        let environment = match r
            .text("ENVIRONMENT", "development")
            .to_ascii_lowercase()
            .as_str()
        {
            "development" | "dev" => Environment::Development,
            "test" | "testing" => Environment::Test,
            "staging" => Environment::Staging,
            "production" | "prod" => Environment::Production,
            _ => {
                r.problem("ENVIRONMENT must be one of development, test, staging, production");
                Environment::Development
            }
        };
        let production = environment == Environment::Production;

        // Production insists on TLS to the data tier unless the operator says, by this setting,
        // that the network in between is private to the service (one host, a private bridge).
        let allow_plaintext = r.boolean("ALLOW_UNENCRYPTED_DATA_TIER", false);
        if production && allow_plaintext {
            r.warnings.push(
                "ALLOW_UNENCRYPTED_DATA_TIER is on: database and Redis URLs without TLS are accepted in production"
                    .to_owned(),
            );
        }
        let require_tls = production && !allow_plaintext;
        let database = database::read(&mut r, require_tls);

        let redis = redis::read(&mut r, require_tls);

        let jwt_secret = r.optional("JWT_SECRET_KEY");
        if jwt_secret.is_none() {
            r.problem("JWT_SECRET_KEY is required");
        }
        let jwt_refresh_secret = r.optional("JWT_REFRESH_SECRET_KEY");
        let algorithm = r.text("JWT_ALGORITHM", "HS256");
        if algorithm != "HS256" {
            r.problem("JWT_ALGORITHM must be HS256 (the only supported algorithm)");
        }
        let jwt_refresh_secret = match jwt_refresh_secret {
            Some(secret) => secret,
            None => {
                if production {
                    r.problem("JWT_REFRESH_SECRET_KEY is required in production");
                } else {
                    r.warnings.push(
                        "JWT_REFRESH_SECRET_KEY is not set: using a random per-process key; refresh tokens die with the process"
                            .to_owned(),
                    );
                }
                random_secret()
            }
        };
        if production {
            if let Some(secret) = &jwt_secret {
                check_production_secret(&mut r, "JWT_SECRET_KEY", secret);
            }
            check_production_secret(&mut r, "JWT_REFRESH_SECRET_KEY", &jwt_refresh_secret);
            if jwt_secret.as_deref() == Some(jwt_refresh_secret.as_str()) {
                r.problem("JWT_SECRET_KEY and JWT_REFRESH_SECRET_KEY must differ");
            }
        }

        let service_account = match r.optional("FIREBASE_CONFIG_JSON") {
            Some(json) => Some(json),
            None => r.optional("FIREBASE_CREDENTIALS_PATH").and_then(|path| {
                std::fs::read_to_string(&path)
                    .map_err(|_| {
                        r.problem("FIREBASE_CREDENTIALS_PATH names a file that cannot be read")
                    })
                    .ok()
            }),
        };
        let service_account_project = service_account.as_deref().and_then(|json| {
            match serde_json::from_str::<serde_json::Value>(json) {
                Ok(value) => value
                    .get("project_id")
                    .and_then(|p| p.as_str())
                    .map(str::to_owned),
                Err(_) => {
                    r.problem("FIREBASE_CONFIG_JSON / FIREBASE_CREDENTIALS_PATH is not valid JSON");
                    None
                }
            }
        });
        let firebase_project_id = r
            .optional("FIREBASE_PROJECT_ID")
            .or(service_account_project);
        if production && firebase_project_id.is_none() {
            r.problem("FIREBASE_PROJECT_ID (or a service account with project_id) is required in production");
        }
        let emulator_host = r.optional("FIREBASE_AUTH_EMULATOR_HOST");
        let firebase_auth_emulator_host = match (emulator_host, production) {
            (Some(_), true) => {
                r.warnings
                    .push("FIREBASE_AUTH_EMULATOR_HOST is ignored in production".to_owned());
                None
            }
            (host, _) => host,
        };

        let admin_secret = match r.optional("ADMIN_NOTIFICATION_SECRET") {
            Some(secret) => {
                if production && (secret.chars().count() < 32 || secret == DEV_ADMIN_SECRET) {
                    r.problem(
                        "ADMIN_NOTIFICATION_SECRET must be at least 32 characters and not the development default in production",
                    );
                }
                secret
            }
            None => {
                if production {
                    r.problem("ADMIN_NOTIFICATION_SECRET is required in production");
                } else {
                    r.warnings.push(
                        "ADMIN_NOTIFICATION_SECRET is not set: using the development default"
                            .to_owned(),
                    );
                }
                DEV_ADMIN_SECRET.to_owned()
            }
        };

        let origins: Vec<String> = r
            .text("CORS_ORIGINS", "http://localhost:3000")
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(str::to_owned)
            .collect();
        let mut cors_allow_credentials = r.boolean("CORS_ALLOW_CREDENTIALS", true);
        let cors_origins = if origins.iter().any(|o| o == "*") {
            if production && cors_allow_credentials {
                r.problem("CORS_ORIGINS contains * while CORS_ALLOW_CREDENTIALS is true");
            }
            cors_allow_credentials = false;
            CorsOrigins::Any
        } else {
            CorsOrigins::List(origins)
        };

        let mut trusted_proxies = Vec::new();
        for entry in r
            .text("TRUSTED_PROXIES", "")
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            match IpNetwork::parse(entry) {
                Some(net) => trusted_proxies.push(net),
                None => r.problem("TRUSTED_PROXIES must be comma-separated IP addresses or CIDRs"),
            }
        }

        let default_timezone = match r.text("DEFAULT_TIMEZONE", "Asia/Kolkata").parse::<Tz>() {
            Ok(tz) => tz,
            Err(_) => {
                r.problem("DEFAULT_TIMEZONE must be an IANA time zone name");
                Tz::Asia__Kolkata
            }
        };

        let log_format = match r.text("LOG_FORMAT", "json").to_ascii_lowercase().as_str() {
            "json" => LogFormat::Json,
            _ => LogFormat::Pretty,
        };

        let api_prefix = r
            .text("API_V1_PREFIX", "/api/v1")
            .trim_end_matches('/')
            .to_owned();
        if !api_prefix.starts_with('/') {
            r.problem("API_V1_PREFIX must start with /");
        }

        let metrics_token = r.optional("METRICS_TOKEN").map(Secret::new);
        let google_maps_api_key = r.optional("GOOGLE_MAPS_API_KEY").map(Secret::new);
        let http_workers = r
            .optional("HTTP_WORKERS")
            .map(|_| r.number("HTTP_WORKERS", 1_usize, 1, 256));

        let settings = Settings {
            app_name: r.text("APP_NAME", "Medico24 API"),
            app_version: r.text("APP_VERSION", env!("CARGO_PKG_VERSION")),
            environment,
            api_prefix,
            host: r.text("HOST", "127.0.0.1"),
            port: r.number("PORT", 8000_u16, 0, u16::MAX),
            database,
            database_pool_size: r.number("DATABASE_POOL_SIZE", 20_usize, 1, 1000),
            database_pool_timeout: Duration::from_secs(r.number(
                "DATABASE_POOL_TIMEOUT_SECONDS",
                5,
                1,
                600,
            )),
            database_statement_timeout: match r.number(
                "DATABASE_STATEMENT_TIMEOUT_MS",
                15_000_u64,
                0,
                3_600_000,
            ) {
                0 => None,
                millis => Some(Duration::from_millis(millis)),
            },
            redis,
            jwt_secret_key: Secret::new(jwt_secret.unwrap_or_default()),
            jwt_refresh_secret_key: Secret::new(jwt_refresh_secret),
            access_token_ttl: Duration::from_secs(
                60 * r.number("ACCESS_TOKEN_EXPIRE_MINUTES", 30, 1, 60 * 24 * 30),
            ),
            refresh_token_ttl: Duration::from_secs(
                86_400 * r.number("REFRESH_TOKEN_EXPIRE_DAYS", 7, 1, 3650),
            ),
            firebase_project_id,
            firebase_service_account: service_account.map(Secret::new),
            firebase_auth_emulator_host,
            firebase_certs_url: r.text("FIREBASE_CERTS_URL", DEFAULT_CERTS_URL),
            fcm_base_url: r
                .text("FCM_BASE_URL", "https://fcm.googleapis.com")
                .trim_end_matches('/')
                .to_owned(),
            google_oauth_token_url: r.optional("GOOGLE_OAUTH_TOKEN_URL"),
            fcm_concurrency: r.number("FCM_CONCURRENCY", 16_usize, 1, 1024),
            fcm_max_retries: r.number("FCM_MAX_RETRIES", 3, 0, 10),
            fcm_backoff_base: Duration::from_millis(r.number(
                "FCM_BACKOFF_BASE_MS",
                1000,
                1,
                60_000,
            )),
            google_maps_api_key,
            google_air_quality_url: r.text(
                "GOOGLE_AIR_QUALITY_URL",
                "https://airquality.googleapis.com/v1/currentConditions:lookup",
            ),
            google_weather_url: r.text(
                "GOOGLE_WEATHER_URL",
                "https://weather.googleapis.com/v1/currentConditions:lookup",
            ),
            google_timeout: Duration::from_millis(r.number(
                "GOOGLE_TIMEOUT_MS",
                10_000,
                1,
                600_000,
            )),
            admin_notification_secret: Secret::new(admin_secret),
            cors_origins,
            cors_allow_credentials,
            rate_limits: RateLimits {
                default: r.number("RATE_LIMIT_PER_MINUTE", 60, 1, u32::MAX),
                auth: r.number("RATE_LIMIT_AUTH_PER_MINUTE", 20, 1, u32::MAX),
                admin_send: r.number("RATE_LIMIT_ADMIN_SEND_PER_MINUTE", 10, 1, u32::MAX),
                environment: r.number("RATE_LIMIT_ENVIRONMENT_PER_MINUTE", 30, 1, u32::MAX),
            },
            trusted_proxies,
            default_timezone,
            broadcast_sync_limit: r.number("BROADCAST_SYNC_LIMIT", 1000, 0, u32::MAX),
            outbox_poll_interval: Duration::from_millis(r.number(
                "OUTBOX_POLL_INTERVAL_MS",
                1000,
                10,
                3_600_000,
            )),
            workers_enabled: r.boolean("WORKERS_ENABLED", true),
            cache_ttls: CacheTtls {
                user: Duration::from_secs(r.number("USER_CACHE_TTL_SECONDS", 1800, 1, u64::MAX)),
                pharmacy: Duration::from_secs(r.number(
                    "PHARMACY_CACHE_TTL_SECONDS",
                    3600,
                    1,
                    u64::MAX,
                )),
                pharmacy_list: Duration::from_secs(r.number(
                    "PHARMACY_LIST_CACHE_TTL_SECONDS",
                    300,
                    1,
                    u64::MAX,
                )),
                clinic: Duration::from_secs(r.number("CLINIC_CACHE_TTL_SECONDS", 900, 1, u64::MAX)),
                doctor: Duration::from_secs(r.number("DOCTOR_CACHE_TTL_SECONDS", 900, 1, u64::MAX)),
                env_fresh: Duration::from_secs(r.number(
                    "ENV_CACHE_FRESH_SECONDS",
                    1200,
                    1,
                    u64::MAX,
                )),
                env_stale: Duration::from_secs(r.number(
                    "ENV_CACHE_STALE_SECONDS",
                    7200,
                    1,
                    u64::MAX,
                )),
            },
            max_request_body_bytes: r.number(
                "MAX_REQUEST_BODY_BYTES",
                1_048_576_usize,
                1024,
                1 << 30,
            ),
            metrics_token,
            log_level: r.text("LOG_LEVEL", "INFO"),
            log_format,
            shutdown_timeout: Duration::from_secs(r.number(
                "SHUTDOWN_TIMEOUT_SECONDS",
                30,
                0,
                3600,
            )),
            http_workers,
            warnings: Vec::new(),
        };
        if settings.cache_ttls.env_fresh > settings.cache_ttls.env_stale {
            r.problem("ENV_CACHE_FRESH_SECONDS must not exceed ENV_CACHE_STALE_SECONDS");
        }

        if r.problems.is_empty() {
            Ok(Settings {
                warnings: r.warnings,
                ..settings
            })
        } else {
            Err(ConfigError {
                problems: r.problems,
            })
        }
    }

    /// Whether `ENVIRONMENT=production`.
    pub fn is_production(&self) -> bool {
        self.environment == Environment::Production
    }
}

fn check_production_secret(r: &mut Reader<'_>, name: &str, value: &str) {
    let lower = value.to_ascii_lowercase();
    let placeholder = ["change-me", "secret", "your-secret-key"].contains(&lower.as_str())
        || lower.contains("change-this");
    if value.len() < 32 || placeholder {
        r.problem(&format!(
            "{name} must be at least 32 bytes and not a placeholder in production"
        ));
    }
}

fn random_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

#[cfg(test)]
impl<'a> Reader<'a> {
    /// A reader over `vars` with nothing reported yet.
    fn for_tests(vars: &'a HashMap<String, String>) -> Self {
        Reader {
            vars,
            problems: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

struct Reader<'a> {
    vars: &'a HashMap<String, String>,
    problems: Vec<String>,
    warnings: Vec<String>,
}

impl Reader<'_> {
    fn problem(&mut self, message: &str) {
        self.problems.push(message.to_owned());
    }

    /// A set, non-empty (after trimming) value.
    fn optional(&self, name: &str) -> Option<String> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    fn required(&mut self, name: &str) -> Option<String> {
        let value = self.optional(name);
        if value.is_none() {
            self.problem(&format!("{name} is required"));
        }
        value
    }

    fn text(&self, name: &str, default: &str) -> String {
        self.optional(name).unwrap_or_else(|| default.to_owned())
    }

    fn boolean(&mut self, name: &str, default: bool) -> bool {
        match self.optional(name).map(|v| v.to_ascii_lowercase()) {
            None => default,
            Some(v) if ["true", "1", "yes", "on"].contains(&v.as_str()) => true,
            Some(v) if ["false", "0", "no", "off"].contains(&v.as_str()) => false,
            Some(_) => {
                self.problem(&format!("{name} must be true or false"));
                default
            }
        }
    }

    fn number<T>(&mut self, name: &str, default: T, min: T, max: T) -> T
    where
        T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
    {
        match self.optional(name) {
            None => default,
            Some(v) => match v.parse::<T>() {
                Ok(n) if n >= min && n <= max => n,
                _ => {
                    self.problem(&format!(
                        "{name} must be a whole number between {min} and {max}"
                    ));
                    default
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn minimal() -> Vec<(&'static str, &'static str)> {
        vec![
            ("DATABASE_URL", "postgres://localhost/db"),
            ("REDIS_URL", "redis://localhost:6379"),
            ("JWT_SECRET_KEY", "k"),
        ]
    }

    #[test]
    fn minimal_configuration_gets_the_spec_defaults() {
        let settings = Settings::from_vars(&vars(&minimal())).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(settings.app_name, "Medico24 API");
        assert_eq!(settings.api_prefix, "/api/v1");
        assert_eq!(settings.port, 8000);
        assert_eq!(settings.database_pool_size, 20);
        assert_eq!(settings.access_token_ttl, Duration::from_secs(1800));
        assert_eq!(settings.refresh_token_ttl, Duration::from_secs(7 * 86_400));
        assert_eq!(
            settings.rate_limits,
            RateLimits {
                default: 60,
                auth: 20,
                admin_send: 10,
                environment: 30
            }
        );
        assert_eq!(
            settings.cors_origins,
            CorsOrigins::List(vec!["http://localhost:3000".to_owned()])
        );
        assert_eq!(settings.max_request_body_bytes, 1_048_576);
        assert_eq!(
            settings.admin_notification_secret.expose(),
            DEV_ADMIN_SECRET
        );
        assert_eq!(settings.default_timezone, Tz::Asia__Kolkata);
        assert!(
            settings
                .warnings
                .iter()
                .any(|w| w.contains("JWT_REFRESH_SECRET_KEY"))
        );
        assert_ne!(settings.jwt_refresh_secret_key.expose(), "");
    }

    #[test]
    fn the_statement_timeout_defaults_to_15_s_and_0_turns_it_off() {
        let settings = Settings::from_vars(&vars(&minimal())).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            settings.database_statement_timeout,
            Some(Duration::from_secs(15))
        );
        let mut pairs = minimal();
        pairs.push(("DATABASE_STATEMENT_TIMEOUT_MS", "0"));
        let settings = Settings::from_vars(&vars(&pairs)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(settings.database_statement_timeout, None);
        for bad in ["-1", "soon", "3600001"] {
            let mut pairs = minimal();
            pairs.push(("DATABASE_STATEMENT_TIMEOUT_MS", bad));
            let problems = Settings::from_vars(&vars(&pairs))
                .err()
                .map(|e| e.problems)
                .unwrap_or_default();
            assert!(
                problems
                    .iter()
                    .any(|p| p.contains("DATABASE_STATEMENT_TIMEOUT_MS")),
                "{bad}: {problems:?}"
            );
        }
    }

    #[test]
    fn every_missing_variable_is_named() {
        let err = Settings::from_vars(&HashMap::new())
            .err()
            .map(|e| e.problems)
            .unwrap_or_default();
        assert!(err.iter().any(|p| p.contains("DATABASE_URL")));
        assert!(err.iter().any(|p| p.contains("REDIS_URL")));
        assert!(err.iter().any(|p| p.contains("JWT_SECRET_KEY")));
    }

    #[test]
    fn invalid_values_are_refused_without_echoing_them() {
        let mut pairs = minimal();
        pairs.extend([
            ("JWT_ALGORITHM", "RS256"),
            ("DEFAULT_TIMEZONE", "Mars/Olympus"),
            ("PORT", "eighty"),
            ("TRUSTED_PROXIES", "10.0.0.0/99"),
            ("FIREBASE_CREDENTIALS_PATH", "/nonexistent/sa.json"),
        ]);
        let problems = Settings::from_vars(&vars(&pairs))
            .err()
            .map(|e| e.problems)
            .unwrap_or_default();
        for name in [
            "JWT_ALGORITHM",
            "DEFAULT_TIMEZONE",
            "PORT",
            "TRUSTED_PROXIES",
            "FIREBASE_CREDENTIALS_PATH",
        ] {
            assert!(
                problems.iter().any(|p| p.contains(name)),
                "{name} not reported: {problems:?}"
            );
        }
        assert!(
            !problems
                .iter()
                .any(|p| p.contains("Mars/Olympus") || p.contains("eighty"))
        );
    }

    #[test]
    fn production_refuses_default_and_weak_secrets() {
        let problems = Settings::from_vars(&vars(&[
            ("ENVIRONMENT", "Production"),
            ("DATABASE_URL", "postgres://localhost/db"),
            ("REDIS_URL", "redis://localhost:6379"),
            ("JWT_SECRET_KEY", "change-me"),
            ("ADMIN_NOTIFICATION_SECRET", DEV_ADMIN_SECRET),
            ("CORS_ORIGINS", "*"),
        ]))
        .err()
        .map(|e| e.problems)
        .unwrap_or_default();
        for name in [
            "JWT_SECRET_KEY must be",
            "JWT_REFRESH_SECRET_KEY is required",
            "ADMIN_NOTIFICATION_SECRET",
            "FIREBASE_PROJECT_ID",
            "CORS_ORIGINS",
        ] {
            assert!(
                problems.iter().any(|p| p.contains(name)),
                "{name} not reported: {problems:?}"
            );
        }
    }

    #[test]
    fn production_accepts_strong_distinct_secrets() {
        let strong_a = "a".repeat(40);
        let strong_b = "b".repeat(40);
        let admin = "c".repeat(40);
        let settings = Settings::from_vars(&vars(&[
            ("ENVIRONMENT", "production"),
            (
                "DATABASE_URL",
                "postgresql+asyncpg://u@h/db?sslmode=require",
            ),
            ("REDIS_URL", "rediss://default:pw@cache:6380"),
            ("JWT_SECRET_KEY", &strong_a),
            ("JWT_REFRESH_SECRET_KEY", &strong_b),
            ("ADMIN_NOTIFICATION_SECRET", &admin),
            ("FIREBASE_PROJECT_ID", "medico24"),
            ("FIREBASE_AUTH_EMULATOR_HOST", "localhost:9099"),
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            settings.redis.url.expose(),
            "rediss://default:pw@cache:6380"
        );
        assert_eq!(settings.firebase_auth_emulator_host, None);
        assert!(
            settings
                .warnings
                .iter()
                .any(|w| w.contains("FIREBASE_AUTH_EMULATOR_HOST"))
        );
    }

    #[test]
    fn an_operator_may_accept_a_plaintext_data_tier_explicitly() {
        let strong = |c: &str| c.repeat(40);
        let (a, b, c) = (strong("a"), strong("b"), strong("c"));
        let settings = Settings::from_vars(&vars(&[
            ("ENVIRONMENT", "production"),
            ("DATABASE_URL", "postgres://u@postgres:5432/db"),
            ("REDIS_URL", "redis://:pw@redis:6379/0"),
            ("ALLOW_UNENCRYPTED_DATA_TIER", "true"),
            ("JWT_SECRET_KEY", &a),
            ("JWT_REFRESH_SECRET_KEY", &b),
            ("ADMIN_NOTIFICATION_SECRET", &c),
            ("FIREBASE_PROJECT_ID", "medico24"),
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            settings
                .warnings
                .iter()
                .any(|w| w.contains("ALLOW_UNENCRYPTED_DATA_TIER"))
        );
    }

    #[test]
    fn same_keys_are_refused_in_production() {
        let key = "k".repeat(40);
        let admin = "c".repeat(40);
        let problems = Settings::from_vars(&vars(&[
            ("ENVIRONMENT", "production"),
            ("DATABASE_URL", "postgres://h/db"),
            ("REDIS_URL", "redis://h"),
            ("JWT_SECRET_KEY", &key),
            ("JWT_REFRESH_SECRET_KEY", &key),
            ("ADMIN_NOTIFICATION_SECRET", &admin),
            ("FIREBASE_PROJECT_ID", "p"),
        ]))
        .err()
        .map(|e| e.problems)
        .unwrap_or_default();
        assert!(problems.iter().any(|p| p.contains("must differ")));
    }

    #[test]
    fn wildcard_cors_never_allows_credentials() {
        let mut pairs = minimal();
        pairs.push(("CORS_ORIGINS", " * , "));
        let settings = Settings::from_vars(&vars(&pairs)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(settings.cors_origins, CorsOrigins::Any);
        assert!(!settings.cors_allow_credentials);
    }

    #[test]
    fn networks_match_addresses() {
        let net = IpNetwork::parse("10.1.0.0/16").unwrap_or_else(|| panic!("parse"));
        assert!(net.contains("10.1.200.3".parse().unwrap_or_else(|_| panic!())));
        assert!(!net.contains("10.2.0.1".parse().unwrap_or_else(|_| panic!())));
        let single = IpNetwork::parse("::1").unwrap_or_else(|| panic!("parse"));
        assert!(single.contains("::1".parse().unwrap_or_else(|_| panic!())));
        assert!(
            IpNetwork::parse("0.0.0.0/0")
                .is_some_and(|n| n.contains("8.8.8.8".parse().unwrap_or_else(|_| panic!())))
        );
    }
}
