//! Typed settings read once at startup from the environment and an optional `.env` file.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use chrono_tz::Tz;

mod auth;
mod cache;
mod database;
mod events;
mod firebase;
mod network;
mod rate_limits;
mod reader;
mod redis;
#[cfg(test)]
mod tests;

pub use auth::DEV_ADMIN_SECRET;
pub use cache::CacheTtls;
pub use database::DatabaseSettings;
pub use events::EventSettings;
pub use network::{CorsOrigins, IpNetwork};
pub use rate_limits::RateLimits;
use reader::Reader;
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
    /// `REMINDER_OFFSETS` (default `24h,1h`; `none` for no reminders): how long before an
    /// active appointment's start its reminders are due.
    pub reminder_offsets: Vec<medico24_appointments::booking::ReminderOffset>,
    /// `ERASURE_GRACE_HOURS` (default 720; `0` = at the worker's next pass): how long an
    /// account waits between its erasure request and its erasure.
    pub erasure_grace: Duration,
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
    /// `EVENTS_*` (additions): the live event streams.
    pub events: EventSettings,
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

        let (jwt_secret, jwt_refresh_secret) = auth::read_jwt_secrets(&mut r, production);

        let firebase = firebase::read(&mut r, production);

        let admin_secret = auth::read_admin_secret(&mut r, production);

        let (cors_origins, cors_allow_credentials) = network::read_cors(&mut r, production);

        let trusted_proxies = network::read_trusted_proxies(&mut r);

        let default_timezone = match r.text("DEFAULT_TIMEZONE", "Asia/Kolkata").parse::<Tz>() {
            Ok(tz) => tz,
            Err(_) => {
                r.problem("DEFAULT_TIMEZONE must be an IANA time zone name");
                Tz::Asia__Kolkata
            }
        };

        let reminder_offsets = match medico24_appointments::booking::parse_offsets(
            &r.text("REMINDER_OFFSETS", "24h,1h"),
        ) {
            Ok(offsets) => offsets,
            Err(error) => {
                // The item is a duration, not a secret: naming it helps the operator.
                r.problem(&format!(
                    "REMINDER_OFFSETS must list durations such as 24h,1h: {error}"
                ));
                Vec::new()
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
            access_token_ttl: match r.optional("ACCESS_TOKEN_EXPIRE_SECONDS") {
                // Addition: seconds win over minutes (short-lived tokens in tests).
                Some(_) => Duration::from_secs(r.number(
                    "ACCESS_TOKEN_EXPIRE_SECONDS",
                    1800,
                    1,
                    60 * 60 * 24 * 30,
                )),
                None => Duration::from_secs(
                    60 * r.number("ACCESS_TOKEN_EXPIRE_MINUTES", 30, 1, 60 * 24 * 30),
                ),
            },
            refresh_token_ttl: Duration::from_secs(
                86_400 * r.number("REFRESH_TOKEN_EXPIRE_DAYS", 7, 1, 3650),
            ),
            firebase_project_id: firebase.project_id,
            firebase_service_account: firebase.service_account.map(Secret::new),
            firebase_auth_emulator_host: firebase.auth_emulator_host,
            firebase_certs_url: r.text("FIREBASE_CERTS_URL", firebase::DEFAULT_CERTS_URL),
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
            rate_limits: rate_limits::read(&mut r),
            trusted_proxies,
            default_timezone,
            reminder_offsets,
            erasure_grace: Duration::from_secs(
                3600 * r.number("ERASURE_GRACE_HOURS", 720_u64, 0, 87_600),
            ),
            broadcast_sync_limit: r.number("BROADCAST_SYNC_LIMIT", 1000, 0, u32::MAX),
            outbox_poll_interval: Duration::from_millis(r.number(
                "OUTBOX_POLL_INTERVAL_MS",
                1000,
                10,
                3_600_000,
            )),
            workers_enabled: r.boolean("WORKERS_ENABLED", true),
            cache_ttls: cache::read(&mut r),
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
            events: events::read(&mut r),
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
