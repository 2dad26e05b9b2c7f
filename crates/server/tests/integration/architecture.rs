//! The hexagon's arrows, checked against the resolved dependency graph: domain crates never
//! reach infrastructure (directly or transitively) and never depend on each other.

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

use serde_json::Value;

const DOMAIN_CRATES: [&str; 7] = [
    "medico24-kernel",
    "medico24-identity",
    "medico24-appointments",
    "medico24-directory",
    "medico24-pharmacy",
    "medico24-notifications",
    "medico24-environment",
];

const FORBIDDEN: [&str; 12] = [
    "diesel",
    "diesel-async",
    "postgis_diesel",
    "redis",
    "deadpool-redis",
    "reqwest",
    "actix-web",
    "actix-rt",
    "actix-http",
    "tokio",
    "sqlx",
    "hyper",
];

fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    // Only this machine's platform: other targets' crates are neither built nor downloaded.
    let rustc = Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("running rustc -vV");
    let host = String::from_utf8_lossy(&rustc.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: ").map(str::to_owned))
        .expect("host triple");
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--filter-platform",
            &host,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("running cargo metadata");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("cargo metadata JSON")
}

/// Package name → names of its normal (non-dev, non-build) dependencies, transitively.
fn normal_closure(meta: &Value, root: &str) -> BTreeSet<String> {
    let names: HashMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let nodes: HashMap<&str, &Value> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n))
        .collect();
    let root_id = names
        .iter()
        .find(|(_, name)| **name == root)
        .map(|(id, _)| *id)
        .expect("root package");
    let mut seen = BTreeSet::new();
    let mut stack = vec![root_id];
    while let Some(id) = stack.pop() {
        for dep in nodes[id]["deps"].as_array().unwrap() {
            let normal = dep["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kind"].is_null());
            let dep_id = dep["pkg"].as_str().unwrap();
            if normal && seen.insert(names[dep_id].to_owned()) {
                stack.push(dep_id);
            }
        }
    }
    seen
}

#[test]
fn domain_crates_never_reach_infrastructure() {
    let meta = metadata();
    for domain in DOMAIN_CRATES {
        let closure = normal_closure(&meta, domain);
        let bad: Vec<_> = FORBIDDEN.iter().filter(|f| closure.contains(**f)).collect();
        assert!(bad.is_empty(), "{domain} depends on {bad:?}");
    }
}

#[test]
fn domain_crates_do_not_depend_on_each_other() {
    let meta = metadata();
    for domain in DOMAIN_CRATES.iter().skip(1) {
        let closure = normal_closure(&meta, domain);
        let others: Vec<_> = DOMAIN_CRATES[1..]
            .iter()
            .filter(|d| *d != domain && closure.contains(**d))
            .collect();
        assert!(others.is_empty(), "{domain} depends on {others:?}");
    }
}

#[test]
fn adapters_do_not_depend_on_each_other_or_on_the_server() {
    let meta = metadata();
    let adapters = [
        "medico24-postgres",
        "medico24-redis",
        "medico24-firebase",
        "medico24-google",
        "medico24-jwt",
    ];
    for adapter in adapters {
        let closure = normal_closure(&meta, adapter);
        let bad: Vec<_> = adapters
            .iter()
            .chain(["medico24-server"].iter())
            .filter(|a| **a != adapter && closure.contains(**a))
            .collect();
        assert!(bad.is_empty(), "{adapter} depends on {bad:?}");
    }
}
