//! `cargo xtask ops` (also a phase of `cargo xtask test`): checks of the deployment bundle in
//! `deploy/` with the real tools where they run offline.
//!
//! 1. promtool (Debian's `prometheus` package, installed when missing): `check config` on
//!    `deploy/prometheus/prometheus.yml` (with its rule files, file_sd targets and credentials
//!    file), `check rules` on every rules file, `test rules` on the alert unit tests.
//! 2. Compose: `docker compose` (or `docker-compose`, Debian's package installed when neither
//!    exists) parses `deploy/docker-compose.yml` with `.env.example` and every profile; neither
//!    needs a Docker engine for `config`.
//! 3. Kubernetes: `kubectl kustomize deploy/k8s` renders the manifests when kubectl is installed.
//! 4. `deploy/checks/check_deploy.py` (PyYAML in `target/ops-venv`): profiles and services, the
//!    api's start-up order, `.env.example` against the variables used, Grafana provisioning, and
//!    the Kubernetes probes, shutdown timing, security settings and selectors.
//! 5. `deploy/checks/openapi-clients.sh`: Redocly lint of the server's OpenAPI document (0
//!    errors) and a TypeScript client generated from it compiled with `tsc --strict`.
//!
//! Every check that could run is reported; a missing optional tool (kubectl) is named, never
//! skipped silently. Any failure fails the phase.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::config::{process_env, repo_root, target_dir};
use crate::process::{self, is_root, succeeds, which};
use crate::tasks::Outcome;
use crate::{Args, Context, Result};

/// `cargo xtask ops --help`.
pub const HELP: &str = "\
cargo xtask ops

Checks deploy/ (also run by `cargo xtask test` after nextest):
  promtool check config deploy/prometheus/prometheus.yml
  promtool check rules deploy/prometheus/rules/*.yml
  promtool test rules deploy/prometheus/tests/*.test.yml
  docker compose (or docker-compose) config -q on deploy/docker-compose.yml, all profiles
  kubectl kustomize deploy/k8s (when kubectl is installed)
  deploy/checks/check_deploy.py (structure of Compose, .env.example, Grafana, Kubernetes)
  deploy/checks/openapi-clients.sh (Redocly lint, openapi-typescript + tsc --strict; Node.js)
promtool (Debian package prometheus) and docker-compose (Debian package docker-compose, only
when no `docker compose` plugin exists) are installed with apt-get when missing; PyYAML goes
into target/ops-venv.

ENVIRONMENT:
    PYTHON   interpreter for the venv (default python3)
";

const PYYAML: &str = "PyYAML>=6,<7";

/// `cargo xtask ops`.
pub fn ops(args: Args) -> Result<()> {
    args.finish()?;
    let root = repo_root();
    let promtool = ensure_promtool()?;
    match run(&root, &promtool)? {
        Outcome::Passed => Ok(()),
        Outcome::Failed(reason) => Err(reason),
    }
}

/// The `promtool` program, installed from Debian's `prometheus` package when missing. The ops
/// integration test (crates/server/tests/integration/ops.rs) needs it too, so `cargo xtask test`
/// calls this before nextest.
pub fn ensure_promtool() -> Result<PathBuf> {
    if let Some(path) = which("promtool") {
        return Ok(path);
    }
    apt_install(
        "prometheus",
        "promtool is missing (it comes with Debian's prometheus package)",
    )?;
    which("promtool").ok_or_else(|| "installed prometheus, but promtool is not on PATH".to_owned())
}

/// Runs every check; `Err` when a check could not run at all (install, venv).
pub fn run(root: &Path, promtool: &Path) -> Result<Outcome> {
    println!("\n==> ops: deploy/ checks");
    let mut report = Report::default();

    // 1. Prometheus configuration, rules and rule unit tests.
    let version = first_line(Command::new(promtool).arg("--version"));
    let prometheus_dir = root.join("deploy/prometheus");
    report.step(
        format!("promtool check config deploy/prometheus/prometheus.yml ({version})"),
        Command::new(promtool).current_dir(root).args([
            "check",
            "config",
            "deploy/prometheus/prometheus.yml",
        ]),
    );
    let rules = files_with_suffix(root, &prometheus_dir.join("rules"), ".yml")?;
    let tests = files_with_suffix(root, &prometheus_dir.join("tests"), ".test.yml")?;
    for (what, files) in [("rules files", &rules), ("rule unit tests", &tests)] {
        if files.is_empty() {
            report.fail(format!("no {what} found under deploy/prometheus"));
        }
    }
    report.step(
        format!("promtool check rules ({} file(s))", rules.len()),
        Command::new(promtool)
            .current_dir(root)
            .args(["check", "rules"])
            .args(&rules),
    );
    report.step(
        format!("promtool test rules ({} file(s))", tests.len()),
        Command::new(promtool)
            .current_dir(root)
            .args(["test", "rules"])
            .args(&tests),
    );

    // 2. The Compose file, parsed by Compose itself.
    match compose_cli() {
        Ok(cli) => {
            let mut cmd = Command::new(&cli[0]);
            cmd.current_dir(root)
                .args(&cli[1..])
                .args(["-f", "deploy/docker-compose.yml"])
                .args(["--env-file", "deploy/.env.example"])
                .args(["--profile", "all", "config", "-q"]);
            let version = first_line(Command::new(&cli[0]).args(&cli[1..]).arg("version"));
            report.step(
                format!("{} config -q, all profiles ({version})", cli.join(" ")),
                &mut cmd,
            );
        }
        Err(e) => report.fail(format!(
            "no Compose CLI to parse deploy/docker-compose.yml: {e}"
        )),
    }

    // 3. Kubernetes manifests rendered by kustomize (optional tool).
    let ops_dir = target_dir(root).join("ops");
    fs::create_dir_all(&ops_dir).with_context(|| format!("creating {}", ops_dir.display()))?;
    let rendered = ops_dir.join("k8s-rendered.yaml");
    let _ = fs::remove_file(&rendered);
    if which("kubectl").is_some() {
        let mut cmd = Command::new("kubectl");
        cmd.current_dir(root).args(["kustomize", "deploy/k8s"]);
        println!("$ {} > {}", process::display(&cmd), rendered.display());
        let output = process::output(&mut cmd)?;
        if output.status.success() {
            fs::write(&rendered, &output.stdout)
                .with_context(|| format!("writing {}", rendered.display()))?;
            report.pass("kubectl kustomize deploy/k8s".to_owned());
        } else {
            println!("{}", String::from_utf8_lossy(&output.stderr));
            report.fail(format!("kubectl kustomize deploy/k8s ({})", output.status));
        }
    } else {
        report.note(
            "kubectl is not installed: kustomize rendering of deploy/k8s not checked \
             (the manifests are still checked structurally below)"
                .to_owned(),
        );
    }

    // 4. Structural checks (Python + PyYAML).
    let python = ensure_pyyaml(root)?;
    let mut cmd = Command::new(&python);
    cmd.current_dir(root)
        .arg("deploy/checks/check_deploy.py")
        .arg("--root")
        .arg(root);
    if rendered.is_file() {
        cmd.arg("--k8s-rendered").arg(&rendered);
    }
    report.step(
        "deploy/checks/check_deploy.py (Compose profiles, .env.example, Grafana, Kubernetes)"
            .to_owned(),
        &mut cmd,
    );

    // 5. The OpenAPI document as client generators see it (Node.js tools pinned by a lockfile).
    let mut cmd = Command::new("bash");
    cmd.current_dir(root)
        .arg("deploy/checks/openapi-clients.sh");
    report.step(
        "deploy/checks/openapi-clients.sh (Redocly lint: 0 errors; openapi-typescript + tsc --strict)"
            .to_owned(),
        &mut cmd,
    );

    Ok(report.finish())
}

/// What ran, and what failed.
#[derive(Default)]
struct Report {
    lines: Vec<String>,
    failures: Vec<String>,
}

impl Report {
    /// Runs `cmd` (echoed, output shown) and records the result under `what`.
    fn step(&mut self, what: String, cmd: &mut Command) {
        match process::status(cmd) {
            Ok(status) if status.success() => self.pass(what),
            Ok(status) => self.fail(format!("{what} ({status})")),
            Err(e) => self.fail(format!("{what}: {e}")),
        }
    }

    fn pass(&mut self, what: String) {
        self.lines.push(format!("    ok      {what}"));
    }

    fn fail(&mut self, what: String) {
        self.lines.push(format!("    FAILED  {what}"));
        self.failures.push(what);
    }

    fn note(&mut self, what: String) {
        println!("    note: {what}");
        self.lines.push(format!("    note    {what}"));
    }

    fn finish(self) -> Outcome {
        println!("\n==> ops: what was checked");
        for line in &self.lines {
            println!("{line}");
        }
        if self.failures.is_empty() {
            Outcome::Passed
        } else {
            Outcome::Failed(format!("ops: {}", self.failures.join("; ")))
        }
    }
}

/// The first line of a command's output (stdout, else stderr), or `unknown version`.
fn first_line(cmd: &mut Command) -> String {
    process::output(cmd)
        .ok()
        .and_then(|o| {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown version".to_owned())
}

/// Files in `dir` whose names end with `suffix`, as paths relative to the repository root.
fn files_with_suffix(root: &Path, dir: &Path, suffix: &str) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry.context("reading a directory entry")?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if name.is_some_and(|n| n.ends_with(suffix)) {
            files.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
        }
    }
    files.sort();
    Ok(files)
}

/// `docker compose` when the plugin answers, else `docker-compose` (installed from Debian when
/// neither exists). Neither needs a running engine for `config`.
fn compose_cli() -> Result<Vec<String>> {
    if succeeds(Command::new("docker").args(["compose", "version"])) {
        return Ok(vec!["docker".to_owned(), "compose".to_owned()]);
    }
    if which("docker-compose").is_none() {
        apt_install(
            "docker-compose",
            "neither `docker compose` nor `docker-compose` is available",
        )?;
    }
    if succeeds(Command::new("docker-compose").arg("version")) {
        Ok(vec!["docker-compose".to_owned()])
    } else {
        Err("docker-compose does not run".to_owned())
    }
}

/// `apt-get install -y --no-install-recommends PACKAGE`, with one `apt-get update` and a retry
/// only when the first attempt fails (stale or missing package lists).
fn apt_install(package: &str, why: &str) -> Result<()> {
    if which("apt-get").is_none() {
        return Err(format!(
            "{why}, and apt-get is not available: install {package} with this system's package manager"
        ));
    }
    if is_root() == Some(false) {
        return Err(format!(
            "{why}; installing needs root. Run:\n    sudo apt-get install -y --no-install-recommends {package}\nthen run xtask again"
        ));
    }
    println!("    {why}: installing {package} with apt-get");
    let install = || {
        process::run(
            Command::new("apt-get")
                .args(["install", "-y", "--no-install-recommends", package])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
    };
    if install().is_ok() {
        return Ok(());
    }
    process::run(
        Command::new("apt-get")
            .arg("update")
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    install()
}

/// The Python of `target/ops-venv`, with PyYAML importable.
fn ensure_pyyaml(root: &Path) -> Result<PathBuf> {
    let venv = target_dir(root).join("ops-venv");
    let python = venv.join("bin").join("python");
    if !python.is_file() {
        let system_python = process_env("PYTHON").unwrap_or_else(|| "python3".to_owned());
        process::run(Command::new(&system_python).args(["-m", "venv"]).arg(&venv)).map_err(
            |e| {
                format!(
                    "{e}\n(on Debian the venv module comes with `apt-get install -y python3-venv`)"
                )
            },
        )?;
    }
    let importable = || succeeds(Command::new(&python).args(["-c", "import yaml"]));
    if !importable() {
        process::run(Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--quiet",
            PYYAML,
        ]))?;
        if !importable() {
            return Err(format!(
                "installed {PYYAML} into {}, but it does not import",
                venv.display()
            ));
        }
    }
    Ok(python)
}
