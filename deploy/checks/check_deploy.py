#!/usr/bin/env python3
"""Structural checks of the deployment bundle in deploy/ (run by `cargo xtask ops`).

Needs PyYAML (xtask installs it into target/ops-venv). What promtool, a Compose CLI and
kustomize cannot see is checked here: the Compose profiles and their services, the api's
start-up order, that every ${VARIABLE} has an entry in .env.example and that its secrets are
placeholders production refuses, the Grafana provisioning paths, and the Kubernetes
manifests' probes, shutdown timing, security settings and selectors.

Usage: check_deploy.py [--root REPO_ROOT] [--k8s-rendered FILE]
  --k8s-rendered  output of `kubectl kustomize deploy/k8s`, checked as well when given
Exits 1 and lists every problem when a check fails.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

PROFILES = {
    "app": {"api", "migrate", "postgres", "redis"},
    "monitoring": {"prometheus", "grafana"},
    "logging": {"elasticsearch", "kibana", "filebeat"},
    "exporters": {"postgres-exporter", "redis-exporter", "node-exporter", "cadvisor"},
}
# Read by Compose itself, not interpolated in the file.
COMPOSE_BUILTINS = {"COMPOSE_PROJECT_NAME", "COMPOSE_PROFILES"}
# Manifests that kustomization.yaml deliberately does not list (see its header).
K8S_UNLISTED = {"secret.example.yaml", "servicemonitor.yaml"}
SCRAPE_JOBS = {
    "medico24-api",
    "prometheus",
    "postgres-exporter",
    "redis-exporter",
    "node-exporter",
    "cadvisor",
}


class Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.passed = 0

    def check(self, ok: bool, what: str) -> bool:
        if ok:
            self.passed += 1
        else:
            self.problems.append(what)
        return ok


def load_yaml(path: Path):
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def load_all_yaml(path: Path) -> list:
    with path.open(encoding="utf-8") as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


def parse_duration_seconds(value: str) -> float:
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", str(value)):
        total += float(number) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    return total


def config_variables(readme: Path) -> set[str]:
    """Every `UPPER_CASE` name in the README's configuration table (the service's settings)."""
    text = readme.read_text(encoding="utf-8")
    start = text.index("## Configuration")
    end = text.index("\n## ", start + 1)
    return set(re.findall(r"`([A-Z][A-Z0-9_]+)`", text[start:end]))


def check_compose(c: Checker, deploy: Path, settings: set[str]) -> None:
    compose = load_yaml(deploy / "docker-compose.yml")
    services: dict = compose.get("services", {})
    for profile, expected in PROFILES.items():
        members = {name for name, svc in services.items() if profile in (svc.get("profiles") or [])}
        c.check(members == expected, f"compose profile {profile!r} has {sorted(members)}, expected {sorted(expected)}")
    for name, svc in services.items():
        profiles = svc.get("profiles") or []
        c.check("all" in profiles, f"compose service {name} is not in profile 'all'")
        c.check(bool(svc.get("image")), f"compose service {name} has no image")

    api, migrate = services.get("api", {}), services.get("migrate", {})
    c.check(services.get("postgres", {}).get("image") == "postgis/postgis:15-3.4", "postgres image is not postgis/postgis:15-3.4")
    c.check(services.get("redis", {}).get("image") == "redis:7", "redis image is not redis:7")
    for name, svc in (("api", api), ("migrate", migrate)):
        build = svc.get("build") or {}
        c.check(build.get("dockerfile") == "deploy/Dockerfile", f"{name} is not built from deploy/Dockerfile")
        c.check((deploy / build.get("context", ".") / "deploy" / "Dockerfile").is_file(), f"{name}: build context does not hold deploy/Dockerfile")
    c.check(migrate.get("command") == ["migrate"], "migrate service does not run `medico24 migrate`")
    c.check(api.get("image") == migrate.get("image"), "api and migrate use different images")
    depends = api.get("depends_on") or {}
    expected_conditions = {
        "migrate": "service_completed_successfully",
        "postgres": "service_healthy",
        "redis": "service_healthy",
    }
    for dep, condition in expected_conditions.items():
        got = (depends.get(dep) or {}).get("condition") if isinstance(depends, dict) else None
        c.check(got == condition, f"api depends_on {dep}: condition {got!r}, expected {condition!r}")
    migrate_dep = (migrate.get("depends_on") or {}).get("postgres", {})
    c.check(migrate_dep.get("condition") == "service_healthy", "migrate does not wait for a healthy postgres")
    env = api.get("environment") or {}
    c.check(env.get("HOST") == "0.0.0.0", "api HOST is not 0.0.0.0")
    c.check(env.get("LOG_FORMAT") == "json", "api LOG_FORMAT is not json (Filebeat decodes JSON lines)")
    for key in env:
        c.check(key in settings, f"api environment {key} is not a setting listed in README's Configuration")
    grace = parse_duration_seconds(api.get("stop_grace_period", "0s"))
    c.check(grace > 30, f"api stop_grace_period {grace}s does not exceed SHUTDOWN_TIMEOUT_SECONDS (30)")
    health = " ".join(api.get("healthcheck", {}).get("test", []))
    c.check("/api/v1/health" in health, "api healthcheck does not call /api/v1/health*")
    c.check((api.get("labels") or {}).get("co.medico24.logs") == "json", "api lacks the label Filebeat selects (co.medico24.logs=json)")

    # Every bind-mounted host path below deploy/ exists (defaults of ${VAR:-default} included).
    for name, svc in services.items():
        for volume in svc.get("volumes") or []:
            source = str(volume).split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            match = re.fullmatch(r"\$\{[A-Z0-9_]+:-([^}]*)\}", source)
            if match:
                source = match.group(1)
            if source.startswith("./"):
                c.check((deploy / source).exists(), f"{name}: mounted path {source} does not exist in deploy/")

    text = (deploy / "docker-compose.yml").read_text(encoding="utf-8")
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))
    env_example = parse_env_file(deploy / ".env.example")
    for var in sorted(used - env_example.keys()):
        c.problems.append(f"docker-compose.yml uses ${{{var}}} but .env.example does not list it")
    for var in sorted(env_example.keys() - used - COMPOSE_BUILTINS):
        c.problems.append(f".env.example lists {var}, which docker-compose.yml does not use")
    c.passed += 1

    # Placeholders that production start-up refuses.
    for key in ("JWT_SECRET_KEY", "JWT_REFRESH_SECRET_KEY"):
        c.check("change-this" in env_example.get(key, ""), f".env.example {key} is not a change-this placeholder")
    c.check(len(env_example.get("ADMIN_NOTIFICATION_SECRET", "x" * 32)) < 32, ".env.example ADMIN_NOTIFICATION_SECRET is not refused in production (>= 32 chars)")
    c.check(env_example.get("ENVIRONMENT") == "production", ".env.example ENVIRONMENT is not production")
    for key, value in env_example.items():
        if "PASSWORD" in key:
            c.check("change-this" in value, f".env.example {key} is not a change-this placeholder")

    # Filebeat decodes the API's JSON lines from its container's stdout.
    filebeat = (deploy / "filebeat" / "filebeat.yml").read_text(encoding="utf-8")
    load_yaml(deploy / "filebeat" / "filebeat.yml")
    c.check("decode_json_fields" in filebeat and "type: container" in filebeat, "filebeat.yml lacks a container input with decode_json_fields")
    c.check("co_medico24_logs" in filebeat, "filebeat.yml does not select the api container by its label")


def parse_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def check_prometheus(c: Checker, deploy: Path) -> None:
    prom_dir = deploy / "prometheus"
    config = load_yaml(prom_dir / "prometheus.yml")
    for rule_file in config.get("rule_files", []):
        c.check((prom_dir / rule_file).is_file(), f"prometheus.yml rule file {rule_file} does not exist")
    jobs = {job["job_name"]: job for job in config.get("scrape_configs", [])}
    c.check(set(jobs) == SCRAPE_JOBS, f"scrape jobs are {sorted(jobs)}, expected {sorted(SCRAPE_JOBS)}")
    api = jobs.get("medico24-api", {})
    c.check(api.get("metrics_path") == "/metrics", "medico24-api job does not scrape /metrics")
    credentials = (api.get("authorization") or {}).get("credentials_file")
    c.check(bool(credentials) and (prom_dir / credentials).is_file(), "medico24-api job has no existing bearer credentials_file")
    rules = [rule for name in ("recording.yml", "alerts.yml") for group in load_yaml(prom_dir / "rules" / name)["groups"] for rule in group["rules"]]
    for rule in rules:
        if "alert" in rule:
            name = rule["alert"]
            c.check(rule.get("labels", {}).get("severity") in {"page", "ticket"}, f"alert {name}: severity is not page or ticket")
            for key in ("summary", "description", "runbook_url"):
                c.check(bool(rule.get("annotations", {}).get(key)), f"alert {name}: annotation {key} missing")


def check_grafana(c: Checker, deploy: Path, compose: dict) -> None:
    grafana = deploy / "grafana"
    datasources = load_yaml(grafana / "provisioning" / "datasources" / "prometheus.yml")["datasources"]
    c.check([d.get("uid") for d in datasources] == ["prometheus"], "Grafana datasource uid is not 'prometheus'")
    c.check(datasources[0].get("url") == "http://prometheus:9090", "Grafana datasource does not point at the prometheus service")
    providers = load_yaml(grafana / "provisioning" / "dashboards" / "dashboards.yml")["providers"]
    path = providers[0]["options"]["path"]
    mounts = compose["services"]["grafana"]["volumes"]
    c.check(f"./grafana/dashboards:{path}:ro" in mounts, f"dashboard provider path {path} is not where Compose mounts deploy/grafana/dashboards")
    c.check(len(list((grafana / "dashboards").glob("*.json"))) >= 5, "fewer than five dashboards")


def check_k8s(c: Checker, deploy: Path, settings: set[str], rendered: Path | None) -> None:
    k8s = deploy / "k8s"
    kustomization = load_yaml(k8s / "kustomization.yaml")
    listed = set(kustomization.get("resources", []))
    present = {p.name for p in k8s.glob("*.yaml")} - {"kustomization.yaml"}
    c.check(listed == present - K8S_UNLISTED, f"kustomization resources {sorted(listed)} != manifests {sorted(present - K8S_UNLISTED)}")
    docs = [doc for name in sorted(present) for doc in load_all_yaml(k8s / name)]
    if rendered is not None:
        rendered_docs = load_all_yaml(rendered)
        kinds = sorted(d["kind"] for d in rendered_docs)
        expected = ["ConfigMap", "Deployment", "HorizontalPodAutoscaler", "Job", "PodDisruptionBudget", "Service"]
        c.check(kinds == expected, f"kustomize renders {kinds}, expected {expected}")
        for d in rendered_docs:
            c.check("namespace" not in d["metadata"], f"{d['kind']} {d['metadata']['name']} sets a namespace")
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    (config,) = by_kind["ConfigMap"]
    (secret,) = by_kind["Secret"]
    (deployment,) = by_kind["Deployment"]
    (job,) = by_kind["Job"]
    for d in docs:
        c.check("namespace" not in d["metadata"], f"{d['kind']} {d['metadata']['name']} sets a namespace")
    for key in list(config["data"]) + list(secret["stringData"]):
        c.check(key in settings, f"k8s setting {key} is not listed in README's Configuration")
    overlap = set(config["data"]) & set(secret["stringData"])
    c.check(not overlap, f"ConfigMap and Secret both set {sorted(overlap)}")
    for key in ("JWT_SECRET_KEY", "JWT_REFRESH_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ADMIN_NOTIFICATION_SECRET"):
        c.check(key in secret["stringData"], f"Secret template lacks {key}")
        c.check(key not in config["data"], f"ConfigMap carries the secret {key}")

    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    c.check(spec.get("replicas") == 2, "Deployment replicas is not 2")
    c.check(container["readinessProbe"]["httpGet"]["path"] == "/api/v1/health/ready", "readiness probe is not /api/v1/health/ready")
    c.check(container["livenessProbe"]["httpGet"]["path"] == "/api/v1/health", "liveness probe is not /api/v1/health")
    c.check(container["startupProbe"]["httpGet"]["path"] == "/api/v1/health", "startup probe is not /api/v1/health")
    c.check({"cpu", "memory"} <= set(container["resources"]["requests"]), "container lacks cpu/memory requests")
    c.check("memory" in container["resources"]["limits"], "container lacks a memory limit")
    shutdown = int(config["data"]["SHUTDOWN_TIMEOUT_SECONDS"])
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    sleep = int(pre_stop[1]) if pre_stop[0] == "sleep" else 0
    grace = pod["terminationGracePeriodSeconds"]
    c.check(grace > shutdown + sleep, f"terminationGracePeriodSeconds {grace} <= SHUTDOWN_TIMEOUT_SECONDS {shutdown} + preStop {sleep}")
    for kind, spec_pod in (("Deployment", pod), ("Job", job["spec"]["template"]["spec"])):
        (ctr,) = spec_pod["containers"]
        c.check(spec_pod["securityContext"].get("runAsNonRoot") is True, f"{kind} does not set runAsNonRoot")
        c.check(ctr["securityContext"].get("readOnlyRootFilesystem") is True, f"{kind} root filesystem is writable")
        refs = {(next(iter(e)), next(iter(e.values()))["name"]) for e in ctr["envFrom"]}
        expected_refs = {("configMapRef", config["metadata"]["name"]), ("secretRef", secret["metadata"]["name"])}
        c.check(refs == expected_refs, f"{kind} envFrom {sorted(refs)} != {sorted(expected_refs)}")
    c.check(job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"], "migration Job does not run `medico24 migrate`")
    c.check(container["args"] == ["serve"], "Deployment does not run `medico24 serve`")

    pod_labels = spec["template"]["metadata"]["labels"]
    selectors = {
        "Deployment": spec["selector"]["matchLabels"],
        "Service": by_kind["Service"][0]["spec"]["selector"],
        "PodDisruptionBudget": by_kind["PodDisruptionBudget"][0]["spec"]["selector"]["matchLabels"],
        "ServiceMonitor": by_kind["ServiceMonitor"][0]["spec"]["selector"]["matchLabels"],
    }
    for kind, selector in selectors.items():
        target = by_kind["Service"][0]["metadata"]["labels"] if kind == "ServiceMonitor" else pod_labels
        c.check(all(target.get(k) == v for k, v in selector.items()), f"{kind} selector {selector} does not match")
    pdb = by_kind["PodDisruptionBudget"][0]["spec"]
    c.check(pdb.get("minAvailable") == 1, "PodDisruptionBudget minAvailable is not 1")
    hpa = by_kind["HorizontalPodAutoscaler"][0]["spec"]
    c.check(hpa["scaleTargetRef"]["name"] == deployment["metadata"]["name"], "HPA does not target the Deployment")
    cpu = [m for m in hpa["metrics"] if m["resource"]["name"] == "cpu"]
    c.check(bool(cpu) and cpu[0]["resource"]["target"]["averageUtilization"] == 70, "HPA does not target 70% CPU")
    c.check(hpa["minReplicas"] >= pdb["minAvailable"] + 1, "HPA minReplicas leaves no room for the PDB")


def check_dockerfile(c: Checker, deploy: Path) -> None:
    text = (deploy / "Dockerfile").read_text(encoding="utf-8")
    c.check("EXPOSE 8000" in text, "Dockerfile does not EXPOSE 8000")
    c.check("HOST=0.0.0.0" in text, "Dockerfile does not set HOST=0.0.0.0")
    c.check(re.search(r"^HEALTHCHECK .*\n?.*?/api/v1/health", text, re.M) is not None, "Dockerfile HEALTHCHECK does not call /api/v1/health")
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    c.check(bool(users) and not users[-1].startswith(("root", "0")), "Dockerfile does not switch to a non-root USER")
    c.check("--bin medico24" in text and "--package medico24-server" in text, "Dockerfile does not build medico24 from medico24-server")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2])
    parser.add_argument("--k8s-rendered", type=Path)
    args = parser.parse_args()
    deploy = args.root / "deploy"
    settings = config_variables(args.root / "README.md")
    c = Checker()
    sections = [
        ("docker-compose.yml and .env.example", lambda: check_compose(c, deploy, settings)),
        ("prometheus.yml and rules", lambda: check_prometheus(c, deploy)),
        ("Grafana provisioning", lambda: check_grafana(c, deploy, load_yaml(deploy / "docker-compose.yml"))),
        ("Kubernetes manifests", lambda: check_k8s(c, deploy, settings, args.k8s_rendered)),
        ("Dockerfile", lambda: check_dockerfile(c, deploy)),
    ]
    for title, run in sections:
        before = len(c.problems)
        try:
            run()
        except (KeyError, IndexError, TypeError, ValueError, yaml.YAMLError, OSError) as error:
            c.problems.append(f"{title}: could not be checked: {type(error).__name__}: {error}")
        status = "ok" if len(c.problems) == before else f"{len(c.problems) - before} problem(s)"
        print(f"    {title}: {status}")
    if c.problems:
        print("\ndeploy/ structural check FAILED:")
        for problem in c.problems:
            print(f"  - {problem}")
        return 1
    print(f"    {c.passed} structural checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
