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
cargo xtask topology up|down|clean|status|env

  up       builds the release binary, then starts the whole tier: TLS-only PostgreSQL primary
           with a streaming replica, PgBouncer (transaction mode), a TLS Redis Cluster and a
           TLS Redis, three API replicas and HAProxy on 127.0.0.1:58080
  down     stops everything it started (by pid); data stays in $TOPOLOGY_DIR
  clean    down, then removes $TOPOLOGY_DIR
  status   what is up
  env      the settings (export lines) that point the server at the tier
";

fn script(root: &Path) -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg(root.join("deploy/topology/topology.sh"));
    cmd
}

/// `cargo xtask topology …`.
pub fn topology(mut args: Args) -> Result<()> {
    let action = args.passthrough();
    args.finish()?;
    let root = repo_root();
    match action
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["up"] => {
            let bin = server::build(&root, Profile::Release)?;
            process::run(script(&root).arg("up").arg(bin))
        }
        [action @ ("down" | "clean" | "status" | "env")] => process::run(script(&root).arg(action)),
        _ => Err(format!("usage:\n{HELP}")),
    }
}

/// Starts the data tier (certificates, PostgreSQL primary + replica + PgBouncer, Redis) and
/// returns the variables the data-tier tests read (`MEDICO24_TIER_*`).
pub fn start_data_tier(root: &Path) -> Result<Vec<(String, String)>> {
    println!("\n==> data tier (deploy/topology/topology.sh tls db-up redis-up)");
    process::run(script(root).args(["tls", "db-up", "redis-up"]))?;
    let output = process::output(script(root).arg("env"))?;
    if !output.status.success() {
        return Err("topology.sh env failed".to_owned());
    }
    let exported = parse_exports(&String::from_utf8_lossy(&output.stdout));
    let get = |name: &str| {
        exported
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .ok_or_else(|| format!("topology.sh env does not set {name}"))
    };
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
