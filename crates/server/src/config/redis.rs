//! Redis settings: the URL (or its parts), TLS and cluster mode, pool size and timeout, and how
//! they become the pool configuration.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use medico24_redis::RedisConfig;

use super::{Reader, Secret};

/// Where and how the service reaches Redis.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `REDIS_URL`, or built from `REDIS_HOST`/`REDIS_PORT`/`REDIS_USERNAME`/`REDIS_PASSWORD`
    /// (always `redis://`: TLS needs `REDIS_URL` with `rediss://`).
    pub url: Secret,
    /// `REDIS_POOL_SIZE` (addition; default 32).
    pub pool_size: usize,
    /// `REDIS_TIMEOUT_MS` (addition; default 1000): bounds every Redis call.
    pub timeout: Duration,
    /// `REDIS_KEY_PREFIX` (addition; default empty): namespace in a shared Redis.
    pub key_prefix: String,
    /// `REDIS_CA_FILE` (addition, optional): PEM CA certificates that sign the Redis server's
    /// certificate (`rediss://`); the platform's roots when unset.
    pub tls_ca_file: Option<PathBuf>,
    /// `REDIS_CLUSTER` (addition; default false): speak the Redis Cluster protocol (not for a
    /// Redis Cloud-style proxy endpoint, which is one server to the client).
    pub cluster: bool,
}

impl RedisSettings {
    /// The pool configuration with `max_connections`.
    pub fn pool_config(&self, max_connections: usize) -> RedisConfig {
        RedisConfig {
            url: self.url.expose().to_owned(),
            tls_ca_file: self.tls_ca_file.clone(),
            cluster: self.cluster,
            max_connections,
            timeout: self.timeout,
            key_prefix: self.key_prefix.clone(),
            idle_check_after: RedisConfig::IDLE_CHECK_AFTER,
        }
    }
}

/// Reads the Redis settings, recording every problem in `r`. With `require_tls` (production),
/// a `redis://` URL to another host is refused: sessions would cross a network in clear text.
pub(super) fn read(r: &mut Reader<'_>, require_tls: bool) -> RedisSettings {
    let url = match r.optional("REDIS_URL") {
        Some(url) => {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                r.problem("REDIS_URL must start with redis:// or rediss://");
            }
            Some(url)
        }
        None => match (r.optional("REDIS_HOST"), r.optional("REDIS_PORT")) {
            (Some(host), Some(port)) => {
                if port.parse::<u16>().is_err() {
                    r.problem("REDIS_PORT must be a port number");
                }
                let user = r.text("REDIS_USERNAME", "default");
                let password = r.optional("REDIS_PASSWORD");
                Some(match password {
                    Some(password) => format!("redis://{user}:{password}@{host}:{port}"),
                    None => format!("redis://{host}:{port}"),
                })
            }
            _ => {
                r.problem("REDIS_URL (or REDIS_HOST and REDIS_PORT) is required");
                None
            }
        },
    };
    if require_tls
        && let Some(url) = &url
        && url.starts_with("redis://")
        && !is_local(url)
    {
        r.problem("REDIS_URL: redis:// sends session data unencrypted; use rediss://");
    }
    RedisSettings {
        url: Secret::new(url.unwrap_or_default()),
        pool_size: r.number("REDIS_POOL_SIZE", 32_usize, 1, 1000),
        timeout: Duration::from_millis(r.number("REDIS_TIMEOUT_MS", 1000, 10, 60_000)),
        key_prefix: r.text("REDIS_KEY_PREFIX", ""),
        tls_ca_file: r.optional("REDIS_CA_FILE").map(PathBuf::from),
        cluster: r.boolean("REDIS_CLUSTER", false),
    }
}

/// Whether a `redis://` URL's host is this machine.
fn is_local(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = match host_port.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn problems(pairs: &[(&str, &str)], require_tls: bool) -> Vec<String> {
        let vars: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut r = Reader::for_tests(&vars);
        read(&mut r, require_tls);
        r.problems
    }

    #[test]
    fn plain_redis_to_another_host_is_refused_when_tls_is_required() {
        for (url, refused) in [
            ("redis://:pw@cache.example.com:6379", true),
            ("redis://cache:6379/0", true),
            ("rediss://:pw@cache.example.com:6380", false),
            ("redis://localhost:6379", false),
            ("redis://:pw@127.0.0.1:6379", false),
            ("redis://[::1]:6379", false),
        ] {
            let found = problems(&[("REDIS_URL", url)], true);
            assert_eq!(
                found.iter().any(|p| p.starts_with("REDIS_URL")),
                refused,
                "{url}: {found:?}"
            );
            assert!(found.iter().all(|p| !p.contains("pw@")), "{found:?}");
            assert!(problems(&[("REDIS_URL", url)], false).is_empty(), "{url}");
        }
        // The host/port form builds a redis:// URL, refused the same way.
        let found = problems(&[("REDIS_HOST", "cache"), ("REDIS_PORT", "6379")], true);
        assert!(
            found.iter().any(|p| p.starts_with("REDIS_URL")),
            "{found:?}"
        );
    }
}
