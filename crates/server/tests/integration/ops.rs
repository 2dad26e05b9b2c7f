//! The operations bundle in deploy/: dashboards and Prometheus rules are valid, and every
//! metric they use is exported by the running application or by a listed exporter.
//!
//! PromQL is parsed by promtool (`cargo xtask ops`/`cargo xtask test` install it): the rules
//! files as they are, and every dashboard query as a recording rule of a temporary rules file.
//! Metric names are taken from the expressions by a small tokenizer and compared with the
//! `# TYPE` lines of the app's `/metrics`, the labelled `medico24_*` series that only appear after
//! use, the exporters' prefixes and the names our recording rules define.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use medico24_testkit::spawn_app;
use reqwest::StatusCode;
use serde_json::Value;

/// The `medico24_*` series the service declares, with their types. Labelled families show up in
/// `/metrics` only once used, so these names are accepted as exported; a test checks that each
/// is registered in `crates/server/src/metrics.rs`, so the list cannot drift.
const SPEC_MEDICO24_SERIES: &[(&str, &str)] = &[
    ("medico24_appointments_created_total", "counter"),
    ("medico24_appointment_status_changes_total", "counter"),
    ("medico24_notifications_sent_total", "counter"),
    ("medico24_notification_outbox_pending", "gauge"),
    ("medico24_cache_requests_total", "counter"),
    ("medico24_rate_limited_requests_total", "counter"),
    ("medico24_rate_limiter_errors_total", "counter"),
    ("medico24_external_request_duration_seconds", "histogram"),
    ("medico24_db_pool_connections", "gauge"),
    ("medico24_db_pool_max_connections", "gauge"),
    ("medico24_db_pool_wait_seconds", "histogram"),
];

/// Series of the exporters in deploy/docker-compose.yml (postgres_exporter, redis_exporter,
/// node_exporter, cAdvisor).
const EXPORTER_PREFIXES: &[&str] = &["pg_", "redis_", "node_", "container_", "machine_"];

/// Series Prometheus itself writes for every target.
const PROMETHEUS_SERIES: &[&str] = &["up"];

/// PromQL words that are not metric names: aggregations, set and grouping operators, literals.
const KEYWORDS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
    "and",
    "or",
    "unless",
    "atan2",
    "bool",
    "offset",
    "inf",
    "nan",
];

/// Words after which a parenthesised list of label names follows.
const GROUPING: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

const DATASOURCE_UID: &str = "prometheus";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(relative: &str) -> String {
    let path = repo_root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn files_in(relative_dir: &str, suffix: &str) -> Vec<PathBuf> {
    let dir = repo_root().join(relative_dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *{suffix} in {relative_dir}");
    files
}

fn dashboards() -> Vec<(String, Value)> {
    files_in("deploy/grafana/dashboards", ".json")
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(path).unwrap();
            let json = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{name} is not valid JSON: {e}"));
            (name, json)
        })
        .collect()
}

/// Every panel, including those nested in (collapsed) rows.
fn panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for panel in list.as_array().into_iter().flatten() {
            out.push(panel);
            walk(&panel["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// `(dashboard, panel title, expr)` of every query.
fn dashboard_queries() -> Vec<(String, String, String)> {
    let mut queries = Vec::new();
    for (name, dashboard) in dashboards() {
        for panel in panels(&dashboard) {
            for target in panel["targets"].as_array().into_iter().flatten() {
                let expr = target["expr"].as_str().unwrap_or_default().to_owned();
                let title = panel["title"].as_str().unwrap_or_default().to_owned();
                queries.push((name.clone(), title, expr));
            }
        }
    }
    queries
}

/// A dashboard query as plain PromQL: Grafana's interval variables become durations, template
/// variables (only used inside label matchers) become `.*`.
fn grafana_to_promql(expr: &str) -> String {
    let expr = expr
        .replace("$__rate_interval", "5m")
        .replace("$__interval", "1m")
        .replace("$__range", "1h");
    let mut out = String::with_capacity(expr.len());
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'{') {
            for c in chars.by_ref() {
                if c == '}' {
                    break;
                }
            }
        } else {
            while chars
                .peek()
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
            {
                chars.next();
            }
        }
        out.push_str(".*");
    }
    out
}

/// One rule of a Prometheus rules file.
#[derive(Debug)]
struct Rule {
    /// `record` or `alert`.
    kind: &'static str,
    name: String,
    expr: String,
    /// The rule's own lines (labels, annotations, …).
    body: String,
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The rules of a rules file written in this repository's style: `- record:`/`- alert:` items
/// whose `expr` is a plain one-line scalar or a `|` block. Fails on anything else, so a change
/// of style cannot make rules invisible to these tests.
fn parse_rules(file: &str, text: &str) -> Vec<Rule> {
    let lines: Vec<&str> = text.lines().collect();
    let mut rules = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let trimmed = lines[i].trim_start();
        let kind = if trimmed.starts_with("- record:") {
            "record"
        } else if trimmed.starts_with("- alert:") {
            "alert"
        } else {
            i += 1;
            continue;
        };
        let item_indent = indent(lines[i]);
        let name = trimmed.split_once(':').unwrap().1.trim().to_owned();
        let mut end = i + 1;
        while end < lines.len()
            && (lines[end].trim().is_empty() || indent(lines[end]) > item_indent)
        {
            end += 1;
        }
        let body = &lines[i + 1..end];
        let expr_at = body
            .iter()
            .position(|l| l.trim_start().starts_with("expr:"))
            .unwrap_or_else(|| panic!("{file}: {kind} {name} has no expr"));
        let value = body[expr_at].trim_start()["expr:".len()..].trim();
        let expr = if value.starts_with('|') || value.starts_with('>') {
            let expr_indent = indent(body[expr_at]);
            body[expr_at + 1..]
                .iter()
                .take_while(|l| l.trim().is_empty() || indent(l) > expr_indent)
                .map(|l| l.trim())
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            assert!(
                !value.starts_with('"') && !value.starts_with('\''),
                "{file}: {kind} {name}: write expr unquoted or as a `|` block"
            );
            value.to_owned()
        };
        assert!(!expr.trim().is_empty(), "{file}: {kind} {name}: empty expr");
        rules.push(Rule {
            kind,
            name,
            expr,
            body: body.join("\n"),
        });
        i = end;
    }
    let items = text
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            t.starts_with("- record:") || t.starts_with("- alert:")
        })
        .count();
    assert_eq!(items, rules.len(), "{file}: some rules were not parsed");
    rules
}

fn all_rules() -> Vec<(String, Rule)> {
    files_in("deploy/prometheus/rules", ".yml")
        .into_iter()
        .flat_map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(path).unwrap();
            parse_rules(&name, &text)
                .into_iter()
                .map(move |rule| (name.clone(), rule))
        })
        .collect()
}

/// The metric names an expression selects, or why it is malformed (unbalanced brackets,
/// unterminated strings). Skips strings, label matchers `{…}`, ranges `[…]`, function and
/// aggregation names, keywords, numbers, durations and `by (…)`-style label lists.
fn metric_names(expr: &str) -> Result<BTreeSet<String>, String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut parens = 0_usize;
    let mut label_list_next = false;
    let mut i = 0;
    let skip_string = |start: usize| -> Result<usize, String> {
        let quote = chars[start];
        let mut j = start + 1;
        while j < chars.len() {
            match chars[j] {
                '\\' if quote != '`' => j += 2,
                c if c == quote => return Ok(j + 1),
                _ => j += 1,
            }
        }
        Err(format!("unterminated string at {start}"))
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => i = skip_string(i)?,
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                let mut j = i + 1;
                loop {
                    match chars.get(j) {
                        None => return Err(format!("unclosed {c:?} at {i}")),
                        Some('"' | '\'' | '`') => j = skip_string(j)?,
                        Some(&d) if d == close => break,
                        Some('{' | '[' | '}' | ']') => {
                            return Err(format!("unexpected {:?} inside {c:?} at {j}", chars[j]));
                        }
                        Some(_) => j += 1,
                    }
                }
                i = j + 1;
            }
            '(' if label_list_next => {
                label_list_next = false;
                let close = chars[i..]
                    .iter()
                    .position(|&d| d == ')')
                    .ok_or_else(|| format!("unclosed label list at {i}"))?;
                i += close + 1;
            }
            '(' => {
                parens += 1;
                i += 1;
            }
            ')' => {
                parens = parens
                    .checked_sub(1)
                    .ok_or_else(|| format!("unmatched ')' at {i}"))?;
                i += 1;
            }
            '}' | ']' => return Err(format!("unmatched {c:?} at {i}")),
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            c if c.is_ascii_digit() || c == '.' => {
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let next = chars[i..].iter().find(|c| !c.is_whitespace());
                if GROUPING.contains(&word.as_str()) {
                    label_list_next = next == Some(&'(');
                } else if KEYWORDS.contains(&word.as_str()) || next == Some(&'(') {
                    // An aggregation, keyword or function call.
                } else {
                    names.insert(word);
                }
            }
            _ => i += 1,
        }
    }
    if parens != 0 {
        return Err(format!("{parens} unclosed '('"));
    }
    Ok(names)
}

/// The `promtool` on PATH; the ops tests need it (`cargo xtask ops` installs it).
fn promtool() -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("promtool"))
                .find(|candidate| candidate.is_file())
        })
        .expect(
            "promtool is not on PATH: run `cargo xtask ops` (it installs Debian's prometheus \
             package, which provides promtool)",
        )
}

fn run_promtool(args: &[&str], files: &[PathBuf]) {
    let output = Command::new(promtool())
        .args(args)
        .args(files)
        .output()
        .expect("running promtool");
    assert!(
        output.status.success(),
        "promtool {} failed:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Names of the series in a text exposition, from its `# TYPE` lines.
fn exposed_names(exposition: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in exposition.lines() {
        let mut words = line.split_whitespace();
        if let (Some("#"), Some("TYPE"), Some(name), Some(kind)) =
            (words.next(), words.next(), words.next(), words.next())
        {
            names.extend(series_names(name, kind));
        }
    }
    names
}

/// The series a family of this type exposes.
fn series_names(name: &str, kind: &str) -> Vec<String> {
    let suffixes: &[&str] = match kind {
        "histogram" => &["", "_bucket", "_sum", "_count"],
        "summary" => &["", "_sum", "_count"],
        _ => &[""],
    };
    suffixes.iter().map(|s| format!("{name}{s}")).collect()
}

/// GitHub's anchor of a Markdown heading.
fn github_slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn field<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    body.lines().find_map(|line| {
        line.trim_start()
            .strip_prefix(key)
            .and_then(|rest| rest.strip_prefix(':'))
            .map(|v| v.trim().trim_matches('\''))
            .filter(|v| !v.is_empty())
    })
}

#[test]
fn every_dashboard_parses_declares_a_grafana_10_schema_and_has_a_unique_uid() {
    let dashboards = dashboards();
    let expected: BTreeSet<&str> = [
        "api-performance.json",
        "business.json",
        "cache.json",
        "database.json",
        "infrastructure.json",
    ]
    .into();
    let present: BTreeSet<&str> = dashboards.iter().map(|(n, _)| n.as_str()).collect();
    assert!(present.is_superset(&expected), "dashboards: {present:?}");
    let mut uids = BTreeMap::new();
    for (name, dashboard) in &dashboards {
        let schema = dashboard["schemaVersion"].as_u64().unwrap_or(0);
        assert!(
            schema >= 36,
            "{name}: schemaVersion {schema} is older than Grafana 10"
        );
        let uid = dashboard["uid"].as_str().unwrap_or_default();
        assert!(
            !uid.is_empty() && uid.len() <= 40,
            "{name}: uid {uid:?} is empty or longer than 40 characters"
        );
        if let Some(other) = uids.insert(uid.to_owned(), name.clone()) {
            panic!("{name} and {other} share the uid {uid}");
        }
        assert!(dashboard["title"].as_str().is_some_and(|t| !t.is_empty()));
        let mut ids = BTreeSet::new();
        let mut queries = 0;
        for panel in panels(dashboard) {
            let title = panel["title"].as_str().unwrap_or_default();
            let id = panel["id"].as_u64().expect("panel id");
            assert!(ids.insert(id), "{name}: panel id {id} used twice");
            if panel["type"] == "row" {
                continue;
            }
            assert_eq!(
                panel["datasource"]["uid"], DATASOURCE_UID,
                "{name}/{title}: not the provisioned Prometheus datasource"
            );
            for target in panel["targets"].as_array().expect("targets") {
                assert!(
                    target["refId"].is_string(),
                    "{name}/{title}: target without refId"
                );
                assert!(
                    target["expr"]
                        .as_str()
                        .is_some_and(|e| !e.trim().is_empty()),
                    "{name}/{title}: target without expr"
                );
                queries += 1;
            }
        }
        assert!(queries > 0, "{name} has no queries");
    }
    let provisioning = read("deploy/grafana/provisioning/datasources/prometheus.yml");
    assert!(provisioning.contains(&format!("uid: {DATASOURCE_UID}")));
}

#[test]
fn every_dashboard_query_and_rule_expression_is_promql_that_promtool_accepts() {
    let queries = dashboard_queries();
    let rules = all_rules();
    for (dashboard, title, expr) in &queries {
        metric_names(&grafana_to_promql(expr))
            .unwrap_or_else(|e| panic!("{dashboard}/{title}: {e}: {expr}"));
    }
    for (file, rule) in &rules {
        metric_names(&rule.expr)
            .unwrap_or_else(|e| panic!("{file}: {} {}: {e}", rule.kind, rule.name));
    }

    // The rules files as they are.
    run_promtool(
        &["check", "rules"],
        &files_in("deploy/prometheus/rules", ".yml"),
    );

    // Every dashboard query as a recording rule, so promtool's real PromQL parser sees it.
    let dir = std::env::temp_dir().join(format!("medico24-ops-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut yaml = String::from("groups:\n  - name: dashboards\n    rules:\n");
    for (i, (_, _, expr)) in queries.iter().enumerate() {
        let promql = serde_json::to_string(&grafana_to_promql(expr)).unwrap();
        yaml.push_str(&format!(
            "      - record: dashboard:query_{i}\n        expr: {promql}\n"
        ));
    }
    let file = dir.join("dashboards.rules.yml");
    std::fs::write(&file, yaml).unwrap();
    let output = Command::new(promtool())
        .args(["check", "rules"])
        .arg(file)
        .output()
        .expect("running promtool");
    std::fs::remove_dir_all(dir).unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "promtool rejects a dashboard query (dashboard:query_N is the N-th of {queries:#?}):\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(&format!("SUCCESS: {} rules found", queries.len())),
        "{stdout}"
    );
}

#[tokio::test]
async fn every_metric_in_dashboards_and_rules_is_exported_by_the_app_or_a_listed_exporter() {
    let app = spawn_app().await;
    for (path, status) in [
        ("/", StatusCode::OK),
        ("/api/v1/health", StatusCode::OK),
        ("/api/v1/health/detailed", StatusCode::OK),
        ("/api/v1/health/ready", StatusCode::OK),
        ("/api/v1/ping", StatusCode::OK),
        ("/api/v1/no-such-route", StatusCode::NOT_FOUND),
        ("/metrics", StatusCode::OK),
    ] {
        assert_eq!(app.get(path).await.status(), status, "GET {path}");
    }
    // A request with a body, so that http_request_size_bytes has a series.
    let with_body = app
        .client
        .post(app.url("/api/v1/no-such-route"))
        .json(&serde_json::json!({"probe": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(with_body.status(), StatusCode::NOT_FOUND);
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    let exposition = response.text().await.unwrap();
    let mut exported = exposed_names(&exposition);
    for name in [
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "http_request_duration_highr_seconds_bucket",
        "http_request_size_bytes_sum",
        "http_response_size_bytes_count",
        "http_requests_inprogress",
    ] {
        assert!(
            exported.contains(name),
            "{name} missing from /metrics:\n{exposition}"
        );
    }
    for (name, kind) in SPEC_MEDICO24_SERIES {
        exported.extend(series_names(name, kind));
    }

    let rules = all_rules();
    let recorded: BTreeSet<String> = rules
        .iter()
        .filter(|(_, r)| r.kind == "record")
        .map(|(_, r)| r.name.clone())
        .collect();
    let mut uses: Vec<(String, String)> = Vec::new();
    for (dashboard, title, expr) in dashboard_queries() {
        for name in metric_names(&grafana_to_promql(&expr)).unwrap() {
            uses.push((format!("{dashboard}/{title}"), name));
        }
    }
    for (file, rule) in &rules {
        for name in metric_names(&rule.expr).unwrap() {
            uses.push((format!("{file}/{}", rule.name), name));
        }
    }
    assert!(uses.len() > 100, "too few metric uses found: {uses:?}");

    let unknown: Vec<String> = uses
        .iter()
        .filter(|(_, name)| {
            !exported.contains(name)
                && !recorded.contains(name)
                && !PROMETHEUS_SERIES.contains(&name.as_str())
                && !EXPORTER_PREFIXES.iter().any(|p| name.starts_with(p))
        })
        .map(|(place, name)| format!("{place}: {name}"))
        .collect();
    assert!(
        unknown.is_empty(),
        "metrics that neither /metrics, the series list, the exporters nor the recording rules provide:\n{}",
        unknown.join("\n")
    );
    app.stop().await;
}

#[test]
fn every_spec_series_accepted_by_the_ops_tests_is_registered_in_the_metrics_source() {
    let source = read("crates/server/src/metrics.rs");
    for (name, _) in SPEC_MEDICO24_SERIES {
        assert!(
            source.contains(&format!("\"{name}\"")),
            "{name} is not registered in crates/server/src/metrics.rs"
        );
    }
}

#[test]
fn every_alert_has_a_severity_summary_description_and_a_runbook_section() {
    let runbook = read("docs/operations.md");
    let anchors: BTreeSet<String> = runbook
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| github_slug(l.trim_start_matches('#')))
        .collect();
    let alerts: Vec<Rule> = all_rules()
        .into_iter()
        .map(|(_, r)| r)
        .filter(|r| r.kind == "alert")
        .collect();
    assert!(alerts.len() >= 10, "only {} alerts", alerts.len());
    let mut names = BTreeSet::new();
    for alert in &alerts {
        let name = &alert.name;
        assert!(names.insert(name.clone()), "alert {name} defined twice");
        let severity = field(&alert.body, "severity");
        assert!(
            matches!(severity, Some("page" | "ticket")),
            "{name}: severity {severity:?}"
        );
        for key in ["summary", "description"] {
            assert!(field(&alert.body, key).is_some(), "{name}: no {key}");
        }
        let url = field(&alert.body, "runbook_url").unwrap_or_default();
        let anchor = name.to_lowercase();
        assert_eq!(
            url,
            format!("docs/operations.md#{anchor}"),
            "{name}: runbook_url"
        );
        assert!(
            anchors.contains(&anchor),
            "docs/operations.md has no section `{name}` (anchor #{anchor})"
        );
    }
}

#[test]
fn the_dockerfile_copies_every_workspace_member_manifest_into_its_dependency_layer() {
    let manifest = read("Cargo.toml");
    let start = manifest.find("members = [").expect("workspace members");
    let end = start + manifest[start..].find(']').unwrap();
    let members: Vec<&str> = manifest[start..end].split('"').skip(1).step_by(2).collect();
    assert!(members.contains(&"crates/server"), "{members:?}");
    let dockerfile = read("deploy/Dockerfile");
    for member in members {
        assert!(
            dockerfile.contains(&format!("COPY {member}/Cargo.toml {member}/Cargo.toml")),
            "deploy/Dockerfile does not copy {member}/Cargo.toml before its dependency build"
        );
    }
}

#[test]
fn metric_names_are_extracted_without_functions_keywords_labels_or_grouping_lists() {
    let names = metric_names(
        r#"histogram_quantile(0.99, sum by (handler, le) (rate(http_request_duration_seconds_bucket{job="x",handler=~"/a|b{c}"}[5m])))
           / on (job) group_left (instance) job:http_requests:rate5m offset 1h > bool 1e3
           or absent(up{job="medico24-api"}) unless max without (state) (medico24_db_pool_connections)"#,
    )
    .unwrap();
    let expected: BTreeSet<String> = [
        "http_request_duration_seconds_bucket",
        "job:http_requests:rate5m",
        "up",
        "medico24_db_pool_connections",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(names, expected);
    assert_eq!(
        grafana_to_promql(r#"rate(x{handler=~"$handler",a="${b}"}[$__rate_interval])"#),
        r#"rate(x{handler=~".*",a=".*"}[5m])"#
    );
    for broken in [
        "sum(rate(x[5m])",
        "rate(x[5m]))",
        "x{a=\"b\"",
        "x[5m",
        "x{a=\"b}",
        "x]",
    ] {
        assert!(metric_names(broken).is_err(), "{broken} accepted");
    }
}
