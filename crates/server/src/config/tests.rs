//! Tests of reading the whole configuration from a variable map: defaults, missing and invalid
//! values, and the production checks.

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
            environment: 30,
            export: 2,
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
        let problems = problems_with("DATABASE_STATEMENT_TIMEOUT_MS", bad);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("DATABASE_STATEMENT_TIMEOUT_MS")),
            "{bad}: {problems:?}"
        );
    }
}

/// The problems the minimal settings with `name=value` are refused with (none: accepted).
fn problems_with(name: &'static str, value: &'static str) -> Vec<String> {
    let mut pairs = minimal();
    pairs.push((name, value));
    Settings::from_vars(&vars(&pairs))
        .err()
        .map(|e| e.problems)
        .unwrap_or_default()
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
fn reminder_offsets_default_to_a_day_and_an_hour_and_bad_lists_are_refused() {
    let settings = Settings::from_vars(&vars(&minimal())).unwrap();
    let shown: Vec<String> = settings
        .reminder_offsets
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(shown, ["1d", "1h"]);
    let mut pairs = minimal();
    pairs.push(("REMINDER_OFFSETS", "none"));
    assert!(
        Settings::from_vars(&vars(&pairs))
            .unwrap()
            .reminder_offsets
            .is_empty()
    );
    for bad in ["24x", "0m", "1h,60m", "45d"] {
        let problems = problems_with("REMINDER_OFFSETS", bad);
        assert!(
            problems.iter().any(|p| p.starts_with("REMINDER_OFFSETS")),
            "{bad}: {problems:?}"
        );
    }
}

#[test]
fn erasure_grace_defaults_to_thirty_days_allows_zero_and_refuses_bad_values() {
    let settings = Settings::from_vars(&vars(&minimal())).unwrap();
    assert_eq!(settings.erasure_grace, Duration::from_secs(720 * 3600));
    let mut pairs = minimal();
    pairs.push(("ERASURE_GRACE_HOURS", "0"));
    assert_eq!(
        Settings::from_vars(&vars(&pairs)).unwrap().erasure_grace,
        Duration::ZERO
    );
    for bad in ["-1", "1.5", "87601", "soon"] {
        let problems = problems_with("ERASURE_GRACE_HOURS", bad);
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("ERASURE_GRACE_HOURS")),
            "{bad}: {problems:?}"
        );
    }
}
