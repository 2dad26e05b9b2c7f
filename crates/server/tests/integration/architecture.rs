//! The hexagon's arrows, checked against the resolved dependency graph: domain crates never
//! reach infrastructure (directly or transitively) and never depend on each other. And the HTTP
//! layer's own arrows, read from its sources: its modules import each other without a cycle, no
//! handler module imports another, none names an adapter crate, and handlers reach the OpenAPI
//! module only through the schema modules that import no handler.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
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

// ---------------------------------------------------------------------------------------------
// The HTTP layer's own arrows, read from the sources of `crates/server/src/http/`
// ---------------------------------------------------------------------------------------------

const ADAPTER_CRATES: [&str; 10] = [
    "medico24_postgres",
    "medico24_redis",
    "medico24_firebase",
    "medico24_google",
    "medico24_jwt",
    "medico24-postgres",
    "medico24-redis",
    "medico24-firebase",
    "medico24-google",
    "medico24-jwt",
];

fn http_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http")
}

/// Every `.rs` file under `dir`, at any depth, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("reading a source directory") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The module path of a file below `http` (`["admin"]`, `["error", "kernel"]`, `["input",
/// "tests"]`); empty for `http/mod.rs` itself.
fn module_path(relative: &Path) -> Vec<String> {
    let mut segments: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if segments.last().is_some_and(|s| s == "mod") {
        segments.pop();
    }
    segments
}

/// The code without line comments (doc comments included), so prose never counts as an import.
fn without_comments(text: &str) -> String {
    text.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The names right after a path prefix: `name` or each first segment of `{a, b::c}`.
fn first_segments(rest: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    match rest.strip_prefix('{') {
        Some(group) => {
            let mut depth = 0usize;
            let mut items = vec![String::new()];
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        items.push(String::new());
                        continue;
                    }
                    _ => {}
                }
                if let Some(item) = items.last_mut() {
                    item.push(c);
                }
            }
            items.iter().map(|item| ident(item)).collect()
        }
        None => vec![ident(rest)],
    }
}

/// The sibling modules of `http` that the code of the module at `path` names, through
/// `super::…` paths that climb to `http` or through `crate::http::…` (in `use` lines and in
/// paths written inline alike).
fn http_references(code: &str, path: &[String]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut at = 0;
    while at < code.len() {
        let rest = &code[at..];
        let word_start = at == 0
            || !code[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
        if word_start && rest.starts_with("crate::http::") {
            found.extend(first_segments(&rest["crate::http::".len()..]));
            at += "crate::http::".len();
        } else if word_start && rest.starts_with("super::") {
            let mut climbed = 0;
            let mut after = rest;
            while let Some(next) = after.strip_prefix("super::") {
                climbed += 1;
                after = next;
            }
            // Climbing exactly to `http` names a sibling; fewer stays inside the module.
            if climbed == path.len() {
                found.extend(first_segments(after));
            }
            at += rest.len() - after.len();
        } else {
            at += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    found
}

/// `http` module → the `http` modules it imports (`http/mod.rs`, which only assembles the
/// modules, is left out).
fn http_import_graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = http_dir();
    let files = rust_files(&root);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let path = module_path(file.strip_prefix(&root).expect("a file under http/"));
        if let Some(owner) = path.first() {
            graph.entry(owner.clone()).or_default();
        }
    }
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    for file in &files {
        let path = module_path(file.strip_prefix(&root).expect("a file under http/"));
        let Some(owner) = path.first() else { continue };
        let text = std::fs::read_to_string(file).expect("reading a source file");
        let imports = http_references(&without_comments(&text), &path)
            .into_iter()
            .filter(|name| name != owner && modules.contains(name));
        graph.entry(owner.clone()).or_default().extend(imports);
    }
    graph
}

/// One cycle of `graph`, if it has any (as `a → b → … → a`).
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[start..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, done, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut done, &mut Vec::new()))
}

#[test]
fn the_http_modules_import_each_other_without_a_cycle() {
    let graph = http_import_graph();
    assert!(graph.contains_key("error") && graph["admin"].contains("error"));
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "the modules of http/ import each other in a circle: {}",
            cycle.join(" → ")
        );
    }
}

#[test]
fn no_handler_module_imports_another() {
    let root = http_dir();
    let handlers: BTreeSet<String> = rust_files(&root)
        .iter()
        .filter(|file| {
            std::fs::read_to_string(file)
                .expect("reading a source file")
                .contains("pub fn routes(")
        })
        .filter_map(|file| module_path(file.strip_prefix(&root).ok()?).first().cloned())
        .collect();
    assert!(handlers.contains("clinics") && handlers.contains("admin"));
    for (module, imports) in http_import_graph() {
        let bad: Vec<_> = imports.intersection(&handlers).collect();
        assert!(
            bad.is_empty(),
            "http::{module} imports the handler module(s) {bad:?}; shared helpers belong in \
             their own modules"
        );
    }
}

#[test]
fn no_file_of_the_http_layer_mentions_an_adapter_crate() {
    for file in rust_files(&http_dir()) {
        let text = std::fs::read_to_string(&file).expect("reading a source file");
        let named: Vec<_> = ADAPTER_CRATES
            .iter()
            .filter(|name| text.contains(**name))
            .collect();
        assert!(
            named.is_empty(),
            "{} mentions {named:?}: adapters' errors reach the HTTP layer as port or domain \
             errors",
            file.display()
        );
    }
}

#[test]
fn handlers_reach_the_openapi_module_only_through_its_leaf_schemas() {
    for file in rust_files(&http_dir()) {
        let code = without_comments(&std::fs::read_to_string(&file).expect("reading a file"));
        for (at, _) in code.match_indices("crate::openapi::") {
            let rest = &code[at + "crate::openapi::".len()..];
            let module: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            assert!(
                module == "schemas" || module == "enums",
                "{} names crate::openapi::{} (only `schemas` and `enums` import no handler)",
                file.display(),
                rest.chars().take(40).collect::<String>()
            );
        }
    }
    let openapi = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/openapi");
    for leaf in ["schemas.rs", "enums.rs"] {
        let code = without_comments(
            &std::fs::read_to_string(openapi.join(leaf)).expect("reading an openapi module"),
        );
        for (at, _) in code.match_indices("crate::http::") {
            let rest = &code[at + "crate::http::".len()..];
            assert!(
                rest.starts_with("error::"),
                "openapi/{leaf} names crate::http::{}: it may only use the error envelope",
                rest.chars().take(40).collect::<String>()
            );
        }
    }
}
