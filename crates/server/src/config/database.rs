//! PostgreSQL settings: the pooled, direct and read-replica URLs, the pooler's mode, and how
//! they become pool configurations.

use std::time::Duration;

use medico24_postgres::{DatabaseConfig, PgConnectOptions, PoolerMode, SslMode};

use super::{Reader, Secret};

/// Where and how the service reaches PostgreSQL.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// `DATABASE_URL`: what requests and workers use (a pooler's endpoint in production),
    /// with libpq's `sslmode` and `sslrootcert` options.
    pub url: Secret,
    /// `DATABASE_DIRECT_URL` (addition, optional): a direct, unpooled endpoint of the primary
    /// for `migrate` and `seed`; `DATABASE_URL` when unset.
    pub direct_url: Option<Secret>,
    /// `DATABASE_READ_URL` (addition, optional): a read replica for reads that tolerate a
    /// little lag and are not cached (see `medico24_postgres::replica`); without it every read
    /// goes to `DATABASE_URL`.
    pub read_url: Option<Secret>,
    /// `DATABASE_POOLER` (addition; `none` (default) or `session`, or `transaction`): whether
    /// `DATABASE_URL` leads to a transaction pooler (PgBouncer in transaction mode, Neon's
    /// pooled endpoint).
    pub pooler: PoolerMode,
    /// `DATABASE_PREPARED_STATEMENTS` (addition): reuse prepared statements per connection.
    /// Default on without a pooler, off with a transaction pooler (turn it on only for one that
    /// carries prepared statements over, such as PgBouncer 1.21+ with
    /// `max_prepared_statements`).
    pub prepared_statements: bool,
    /// `DATABASE_READ_MAX_LAG_MS` (addition; default 5000): a replica further behind than this
    /// is not read from.
    pub read_max_lag: Duration,
}

impl DatabaseSettings {
    /// The URL `migrate` and `seed` connect to.
    pub fn migration_url(&self) -> &str {
        self.direct_url.as_ref().unwrap_or(&self.url).expose()
    }

    /// The pool configuration for `url` with `max_connections`; the statement timeout and the
    /// pool timeouts come from `settings`.
    pub fn pool_config(
        &self,
        url: &Secret,
        max_connections: usize,
        wait_timeout: Duration,
        statement_timeout: Option<Duration>,
    ) -> DatabaseConfig {
        DatabaseConfig {
            url: url.expose().to_owned(),
            pooler: self.pooler,
            prepared_statements: self.prepared_statements,
            max_connections,
            wait_timeout,
            connect_timeout: wait_timeout,
            statement_timeout,
        }
    }
}

/// Reads the database settings, recording every problem in `r`.
pub(super) fn read(r: &mut Reader<'_>, require_tls: bool) -> DatabaseSettings {
    let url = r.required("DATABASE_URL");
    let direct_url = r.optional("DATABASE_DIRECT_URL");
    let read_url = r.optional("DATABASE_READ_URL");
    for (name, value) in [
        ("DATABASE_URL", &url),
        ("DATABASE_DIRECT_URL", &direct_url),
        ("DATABASE_READ_URL", &read_url),
    ] {
        if let Some(value) = value {
            check_url(r, name, value, require_tls);
        }
    }
    let pooler = match r
        .text("DATABASE_POOLER", "none")
        .to_ascii_lowercase()
        .as_str()
    {
        "none" | "session" => PoolerMode::Session,
        "transaction" => PoolerMode::Transaction,
        _ => {
            r.problem("DATABASE_POOLER must be none, session or transaction");
            PoolerMode::Session
        }
    };
    let prepared_statements = r.boolean(
        "DATABASE_PREPARED_STATEMENTS",
        pooler == PoolerMode::Session,
    );
    DatabaseSettings {
        url: Secret::new(url.unwrap_or_default()),
        direct_url: direct_url.map(Secret::new),
        read_url: read_url.map(Secret::new),
        pooler,
        prepared_statements,
        read_max_lag: Duration::from_millis(r.number(
            "DATABASE_READ_MAX_LAG_MS",
            5_000,
            0,
            3_600_000,
        )),
    }
}

/// A URL must be readable (scheme, `sslmode`, `sslrootcert`), and with `require_tls`
/// (production) encrypted unless it stays on this host: patient data never crosses a network
/// in clear text.
fn check_url(r: &mut Reader<'_>, name: &str, url: &str, require_tls: bool) {
    let known = ["postgres://", "postgresql://", "postgresql+asyncpg://"];
    if !known.iter().any(|scheme| url.starts_with(scheme)) {
        r.problem(&format!(
            "{name} must start with postgresql:// or postgres://"
        ));
        return;
    }
    match PgConnectOptions::parse(url) {
        Err(e) => r.problem(&format!("{name}: {e}")),
        Ok(options) => {
            let encrypted = matches!(
                options.ssl_mode(),
                SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull
            );
            if require_tls && !encrypted && !options.is_local() {
                r.problem(&format!(
                    "{name}: sslmode={} may send patient data unencrypted; use verify-full (or require)",
                    options.ssl_mode().as_str()
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read_with(pairs: &[(&str, &str)], production: bool) -> (DatabaseSettings, Vec<String>) {
        let vars: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut r = Reader::for_tests(&vars);
        let settings = read(&mut r, production);
        (settings, r.problems)
    }

    #[test]
    fn production_refuses_unencrypted_remote_urls_in_every_database_setting() {
        for name in ["DATABASE_URL", "DATABASE_DIRECT_URL", "DATABASE_READ_URL"] {
            for mode in ["", "?sslmode=disable", "?sslmode=allow", "?sslmode=prefer"] {
                let url = format!("postgres://u:secret@db.example.com/app{mode}");
                let mut pairs = vec![("DATABASE_URL", "postgres://localhost/app")];
                pairs.retain(|(n, _)| *n != name);
                pairs.push((name, &url));
                let (_, problems) = read_with(&pairs, true);
                assert!(
                    problems
                        .iter()
                        .any(|p| p.starts_with(name) && p.contains("unencrypted")),
                    "{name}{mode}: {problems:?}"
                );
                assert!(
                    problems.iter().all(|p| !p.contains("secret")),
                    "{problems:?}"
                );
                // Outside production the same URL is accepted.
                let (_, problems) = read_with(&pairs, false);
                assert!(problems.is_empty(), "{name}{mode}: {problems:?}");
            }
        }
    }

    #[test]
    fn production_accepts_tls_or_a_local_database() {
        for url in [
            "postgres://u@db.example.com/app?sslmode=require",
            "postgres://u@localhost/app",
            "postgres://u@127.0.0.1/app?sslmode=disable",
            "postgres://u@[::1]/app",
        ] {
            let (_, problems) = read_with(&[("DATABASE_URL", url)], true);
            assert!(problems.is_empty(), "{url}: {problems:?}");
        }
    }

    #[test]
    fn invalid_tls_options_are_reported_by_setting_and_option() {
        for (url, needle) in [
            ("postgres://h/db?sslmode=strict", "sslmode `strict`"),
            (
                "postgres://h/db?sslmode=verify-full&sslrootcert=/nonexistent.pem",
                "sslrootcert",
            ),
            (
                "postgres://h/db?sslmode=require&sslrootcert=system",
                "verify-full",
            ),
            ("postgres://h/db?sslcert=/c.pem", "sslcert"),
            ("postgres://h/db?bogus=1", "bogus"),
        ] {
            for name in ["DATABASE_URL", "DATABASE_DIRECT_URL", "DATABASE_READ_URL"] {
                let mut pairs = vec![("DATABASE_URL", "postgres://localhost/app")];
                pairs.retain(|(n, _)| *n != name);
                pairs.push((name, url));
                let (_, problems) = read_with(&pairs, false);
                assert!(
                    problems
                        .iter()
                        .any(|p| p.starts_with(name) && p.contains(needle)),
                    "{name} {url}: {problems:?}"
                );
            }
        }
    }

    #[test]
    fn the_pooler_mode_sets_the_prepared_statement_default() {
        let (settings, problems) = read_with(&[("DATABASE_URL", "postgres://localhost/a")], false);
        assert!(problems.is_empty());
        assert_eq!(settings.pooler, PoolerMode::Session);
        assert!(settings.prepared_statements);
        assert_eq!(settings.migration_url(), "postgres://localhost/a");

        let (settings, problems) = read_with(
            &[
                ("DATABASE_URL", "postgres://localhost/pooled"),
                ("DATABASE_POOLER", "Transaction"),
                ("DATABASE_DIRECT_URL", "postgres://localhost/direct"),
            ],
            false,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(settings.pooler, PoolerMode::Transaction);
        assert!(!settings.prepared_statements);
        assert_eq!(settings.migration_url(), "postgres://localhost/direct");

        let (settings, _) = read_with(
            &[
                ("DATABASE_URL", "postgres://localhost/pooled"),
                ("DATABASE_POOLER", "transaction"),
                ("DATABASE_PREPARED_STATEMENTS", "true"),
            ],
            false,
        );
        assert!(settings.prepared_statements);

        let (_, problems) = read_with(
            &[
                ("DATABASE_URL", "postgres://localhost/a"),
                ("DATABASE_POOLER", "statement"),
            ],
            false,
        );
        assert!(
            problems.iter().any(|p| p.contains("DATABASE_POOLER")),
            "{problems:?}"
        );
    }
}
