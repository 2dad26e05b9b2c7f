//! The local copy of the production tier (`deploy/topology/topology.sh`): started for the tests'
//! data-tier module, and driven by `cargo xtask topology up|down|status|env`.

use std::path::Path;
use std::process::Command;

use crate::config::repo_root;
use crate::process;
use crate::server::Profile;
use crate::{Args, Result, server};

/// `cargo xtask topology --help`.
pub const HELP: &str = "\
cargo xtask topology up|test|down|clean|status|env [--debug]

  up       builds the release binary, then starts the whole tier: TLS-only PostgreSQL primary
           with a streaming replica, PgBouncer (transaction mode), a TLS Redis Cluster and a
           TLS Redis, three API replicas and HAProxy on 127.0.0.1:58080
  test     up, then the end-to-end flows and fault drills through the balancer (the
           `topology::` integration tests, one at a time): login and refresh across replicas,
           30 concurrent bookings of one slot, the shared rate limit, nearby from the replica,
           SIGKILL of a replica under load, a Redis node restart, the read replica stopped
  down     stops everything it started (by pid); data stays in $TOPOLOGY_DIR
  clean    down, then removes $TOPOLOGY_DIR
  status   what is up
  env      the settings (export lines) that point the server at the tier

  --debug  (up, test) run the debug build of the server instead of the release build
Needs root: installs PgBouncer, HAProxy and PostGIS with apt-get when missing, and runs the
servers as the postgres user.
";

fn script(root: &Path) -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg(root.join("deploy/topology/topology.sh"));
    cmd
}

/// `cargo xtask topology …`.
pub fn topology(mut args: Args) -> Result<()> {
    let debug = args.flag("--debug");
    let action = args.action();
    args.finish()?;
    let root = repo_root();
    let profile = if debug {
        Profile::Debug
    } else {
        Profile::Release
    };
    match action.as_deref() {
        Some("up") => {
            let bin = server::build(&root, profile)?;
            process::run(script(&root).arg("up").arg(bin))
        }
        Some("test") => flows_and_drills(&root, profile),
        Some(action @ ("down" | "clean" | "status" | "env")) => {
            process::run(script(&root).arg(action))
        }
        _ => Err(format!("usage:\n{HELP}")),
    }
}

/// Starts the whole topology with the `profile` build of the server, then runs the end-to-end
/// flows and drills through it.
pub fn flows_and_drills(root: &Path, profile: Profile) -> Result<()> {
    let bin = server::build(root, profile)?;
    process::run(script(root).arg("up").arg(bin))?;
    run_flows_and_drills(root)
}

/// The `topology::` integration tests (ignored in the ordinary run), one at a time, against
/// the running topology.
fn run_flows_and_drills(root: &Path) -> Result<()> {
    let exported = exported(root)?;
    let get = |name: &str| lookup(&exported, name);
    println!("\n==> topology flows and drills");
    let mut cmd = server::cargo();
    cmd.current_dir(root)
        .args([
            "nextest",
            "run",
            "--package",
            "medico24-server",
            "--run-ignored",
            "only",
        ])
        .args([
            "--test-threads",
            "1",
            "--no-fail-fast",
            "-E",
            "test(/^topology::/)",
        ])
        .env("MEDICO24_TOPOLOGY_LB_URL", get("TOPOLOGY_LB_URL")?)
        .env("MEDICO24_TOPOLOGY_SCRIPT", get("TOPOLOGY_SCRIPT")?)
        .env("MEDICO24_TOPOLOGY_DIRECT_URL", get("DATABASE_DIRECT_URL")?)
        .env("MEDICO24_TOPOLOGY_READ_URL", get("DATABASE_READ_URL")?)
        .env(
            "MEDICO24_TOPOLOGY_FIREBASE_PROJECT",
            get("FIREBASE_PROJECT_ID")?,
        )
        .env("MEDICO24_TOPOLOGY_API_PORTS", get("TOPOLOGY_API_PORTS")?);
    process::run(&mut cmd)
}

/// What `topology.sh env` exports.
fn exported(root: &Path) -> Result<Vec<(String, String)>> {
    let output = process::output(script(root).arg("env"))?;
    if !output.status.success() {
        return Err("topology.sh env failed".to_owned());
    }
    Ok(parse_exports(&String::from_utf8_lossy(&output.stdout)))
}

fn lookup(exported: &[(String, String)], name: &str) -> Result<String> {
    exported
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.clone())
        .ok_or_else(|| format!("topology.sh env does not set {name}"))
}

/// Starts the data tier (certificates, PostgreSQL primary + replica + PgBouncer, Redis) and
/// returns the variables the data-tier tests read (`MEDICO24_TIER_*`).
pub fn start_data_tier(root: &Path) -> Result<Vec<(String, String)>> {
    println!("\n==> data tier (deploy/topology/topology.sh tls db-up redis-up)");
    process::run(script(root).args(["tls", "db-up", "redis-up"]))?;
    let exported = exported(root)?;
    let get = |name: &str| lookup(&exported, name);
    let tls_dir = format!("{}/tls", get("TOPOLOGY_DIR")?);
    Ok(vec![
        (
            "MEDICO24_TIER_DATABASE_URL".to_owned(),
            get("DATABASE_URL")?,
        ),
        (
            "MEDICO24_TIER_DIRECT_URL".to_owned(),
            get("DATABASE_DIRECT_URL")?,
        ),
        (
            "MEDICO24_TIER_READ_URL".to_owned(),
            get("DATABASE_READ_URL")?,
        ),
        ("MEDICO24_TIER_CA".to_owned(), format!("{tls_dir}/ca.crt")),
        (
            "MEDICO24_TIER_SOCKET_DIR".to_owned(),
            format!("{}/run", get("TOPOLOGY_DIR")?),
        ),
        (
            "MEDICO24_TIER_OTHER_CA".to_owned(),
            get("TOPOLOGY_OTHER_CA")?,
        ),
        (
            "MEDICO24_TIER_REDIS_TLS_URL".to_owned(),
            get("TOPOLOGY_STANDALONE_REDIS_URL")?,
        ),
        (
            "MEDICO24_TIER_REDIS_CLUSTER_URL".to_owned(),
            get("REDIS_URL")?,
        ),
    ])
}

/// `export NAME='value'` lines (values single-quoted, `'\''` for a quote) as pairs.
fn parse_exports(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| line.strip_prefix("export "))
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, quoted)| {
            let value = quoted
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .unwrap_or(quoted)
                .replace("'\\''", "'");
            (name.to_owned(), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_exports;

    #[test]
    fn export_lines_are_unquoted() {
        let pairs = parse_exports("export A='x y'\nexport B='it'\\''s'\nnoise\n");
        assert_eq!(
            pairs,
            vec![
                ("A".to_owned(), "x y".to_owned()),
                ("B".to_owned(), "it's".to_owned())
            ]
        );
    }
}
