"""deploy/kubernetes/ is generated from monitoring/, is up to date, and holds together:
the chart's selectors select our objects, the rules and dashboards are the sources' own, the
Alertmanager Secret is complete, and the ServiceMonitors keep the app's labels."""

from __future__ import annotations

import contextlib
import http.server
import json
import re
import shlex
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from hero_foundry.monitoring import kubernetes as k8s
from hero_foundry.processes import free_port, stop
from tests.conftest import unavailable

ROOT = Path(__file__).parents[2]
RULES = sorted((ROOT / k8s.RULES_DIR).glob("*.yml"))
DASHBOARDS = sorted((ROOT / k8s.DASHBOARDS_DIR).glob("*.json"))
TEMPLATES = sorted((ROOT / k8s.ALERTMANAGER_DIR / "templates").glob("*.tmpl"))
ALERTMANAGER_YML = ROOT / k8s.ALERTMANAGER_DIR / "alertmanager.yml"


def documents(root: Path = ROOT) -> list[dict[str, Any]]:
    """Every Kubernetes object in the generated manifests (the kustomization excepted)."""
    found = []
    for path in sorted((root / k8s.MANIFESTS).rglob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        found += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return found


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in documents() if d["kind"] == kind]


def values() -> dict[str, Any]:
    return yaml.safe_load((ROOT / k8s.VALUES).read_text())


def matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, "only matchLabels selectors are generated"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


# -- Generated files are up to date ----------------------------------------------------------
def test_committed_manifests_are_what_the_sources_give() -> None:
    assert k8s.check(ROOT) == [], f"run `{k8s.COMMAND}` and commit deploy/kubernetes/"


def test_generation_is_deterministic() -> None:
    assert k8s.render_all(ROOT) == k8s.render_all(ROOT)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A throw-away copy of the sources and the generated files."""
    for part in ("monitoring", "deploy/kubernetes"):
        if (ROOT / part).exists():
            shutil.copytree(ROOT / part, tmp_path / part)
    k8s.write(tmp_path)
    assert k8s.check(tmp_path) == []
    return tmp_path


def test_a_changed_rule_makes_its_prometheusrule_stale(copy: Path) -> None:
    source = copy / k8s.RULES_DIR / "hero-foundry-recording.yml"
    source.write_text(source.read_text().replace("[5m]", "[10m]"))
    stale = k8s.check(copy)
    assert stale == [f"{k8s.MANIFESTS.as_posix()}/prometheusrules/hero-foundry-recording.yaml"]
    assert k8s.main(["--check", "--root", str(copy)]) == 1
    k8s.write(copy)
    assert k8s.check(copy) == []
    assert k8s.main(["--check", "--root", str(copy)]) == 0


def test_a_new_dashboard_needs_a_configmap_and_a_removed_one_leaves_none(copy: Path) -> None:
    dashboards = copy / k8s.DASHBOARDS_DIR
    dashboards.mkdir(parents=True, exist_ok=True)
    (dashboards / "drill.json").write_text('{"uid": "drill", "title": "Drill", "panels": []}\n')
    configmap = f"{k8s.MANIFESTS.as_posix()}/dashboards/grafana-dashboard-drill.yaml"
    kustomization = f"{k8s.MANIFESTS.as_posix()}/kustomization.yaml"
    assert k8s.check(copy) == [configmap, kustomization]
    k8s.write(copy)
    assert (copy / configmap).is_file()
    (dashboards / "drill.json").unlink()
    assert k8s.check(copy) == [configmap, kustomization]  # left over: stale too
    k8s.write(copy)
    assert not (copy / configmap).exists()
    assert k8s.check(copy) == []


def test_a_hand_edited_or_hand_added_manifest_is_stale(copy: Path) -> None:
    target = copy / k8s.MANIFESTS / "servicemonitors.yaml"
    target.write_text(target.read_text().replace("interval: 10s", "interval: 1m"))
    (copy / k8s.MANIFESTS / "extra.yaml").write_text("kind: ConfigMap\n")
    (copy / k8s.OUTPUT / "README.md").write_text("Not generated: left alone.\n")
    assert k8s.check(copy) == [
        f"{k8s.MANIFESTS.as_posix()}/extra.yaml",
        f"{k8s.MANIFESTS.as_posix()}/servicemonitors.yaml",
    ]
    k8s.write(copy)
    assert k8s.check(copy) == []
    assert (copy / k8s.OUTPUT / "README.md").is_file()


# -- The sources' own text -------------------------------------------------------------------
@pytest.mark.parametrize("rule_file", RULES, ids=lambda p: p.name)
def test_each_rule_file_is_one_prometheusrule_with_its_groups(rule_file: Path) -> None:
    source = rule_file.relative_to(ROOT).as_posix()
    rules = [
        d
        for d in of_kind("PrometheusRule")
        if d["metadata"]["annotations"]["hero-foundry.io/source"] == source
    ]
    assert len(rules) == 1, source
    assert rules[0]["apiVersion"] == "monitoring.coreos.com/v1"
    assert rules[0]["spec"]["groups"] == yaml.safe_load(rule_file.read_text())["groups"]


def test_there_is_no_prometheusrule_without_a_source_file() -> None:
    sources = {p.relative_to(ROOT).as_posix() for p in RULES}
    for rule in of_kind("PrometheusRule"):
        assert rule["metadata"]["annotations"]["hero-foundry.io/source"] in sources


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda p: p.name)
def test_each_dashboard_is_a_configmap_for_the_sidecar(dashboard: Path) -> None:
    label, value = k8s.DASHBOARD_LABEL
    carrying = [
        d
        for d in of_kind("ConfigMap")
        if d["data"].get(dashboard.name) == dashboard.read_text()
        and d["metadata"]["labels"].get(label) == value
    ]
    assert len(carrying) == 1, dashboard.name


def test_dashboard_configmaps_are_found_by_grafanas_sidecar(tmp_path: Path) -> None:
    """Whatever dashboards exist today: a sample dashboard gets the sidecar's label, in the
    namespace the sidecar searches, and its JSON verbatim."""
    source = tmp_path / k8s.DASHBOARDS_DIR / "sample.json"
    source.parent.mkdir(parents=True)
    text = json.dumps({"uid": "sample", "title": "Sample", "panels": []}, indent=2) + "\n"
    source.write_text(text)
    configmap = k8s.dashboard_configmap(source, source.relative_to(tmp_path))
    sidecar = values()["grafana"]["sidecar"]["dashboards"]
    assert sidecar["enabled"] is True
    assert configmap["metadata"]["labels"][sidecar["label"]] == sidecar["labelValue"]
    assert sidecar["searchNamespace"] == "ALL" or configmap["metadata"]["namespace"] == (
        k8s.MONITORING_NAMESPACE
    )
    assert configmap["data"] == {"sample.json": text}
    source.write_text("{not json")
    with pytest.raises(ValueError):
        k8s.dashboard_configmap(source, source.relative_to(tmp_path))


# -- Alertmanager ----------------------------------------------------------------------------
needs_alertmanager_config = pytest.mark.skipif(
    not ALERTMANAGER_YML.is_file(), reason="monitoring/alertmanager/alertmanager.yml not written"
)


def alertmanager_secret() -> dict[str, Any]:
    secrets = [
        d for d in of_kind("Secret") if d["metadata"]["name"] == k8s.ALERTMANAGER_CONFIG_SECRET
    ]
    assert len(secrets) == 1
    return secrets[0]


def moved_back(node: Any) -> Any:
    """The in-cluster configuration with the mount paths turned back into relative ones."""
    if isinstance(node, dict):
        return {k: moved_back(v) for k, v in node.items()}
    if isinstance(node, list):
        return [moved_back(v) for v in node]
    if isinstance(node, str):
        node = node.replace(k8s.ALERTMANAGER_SECRETS_DIR + "/", "secrets/")
        return node.replace(k8s.ALERTMANAGER_CONFIG_DIR + "/", "templates/")
    return node


@needs_alertmanager_config
def test_alertmanager_secret_carries_the_configuration_and_every_template() -> None:
    secret = alertmanager_secret()
    data = secret["stringData"]
    assert secret["metadata"]["namespace"] == k8s.MONITORING_NAMESPACE
    assert set(data) == {"alertmanager.yaml", *(t.name for t in TEMPLATES)}
    for template in TEMPLATES:
        assert data[template.name] == template.read_text()
    in_cluster = yaml.safe_load(data["alertmanager.yaml"])
    assert moved_back(in_cluster) == yaml.safe_load(ALERTMANAGER_YML.read_text())


@needs_alertmanager_config
def test_alertmanager_paths_point_where_the_operator_mounts_things() -> None:
    in_cluster = yaml.safe_load(alertmanager_secret()["stringData"]["alertmanager.yaml"])
    spec = values()["alertmanager"]["alertmanagerSpec"]
    assert spec["useExistingSecret"] is True
    assert spec["configSecret"] == k8s.ALERTMANAGER_CONFIG_SECRET
    assert in_cluster["templates"] == [f"{k8s.ALERTMANAGER_CONFIG_DIR}/*.tmpl"]
    files = re.findall(r"_file: (\S+)", k8s.dump(in_cluster))
    assert files, "the receivers' secrets are read from files"
    for path in files:
        directory, name = path.rsplit("/", 1)
        assert directory == f"/etc/alertmanager/secrets/{k8s.ALERTMANAGER_SECRETS}", path
        assert k8s.ALERTMANAGER_SECRETS in spec["secrets"]
        assert name in (ROOT / k8s.VALUES).read_text()  # the values list the keys to create


@needs_alertmanager_config
def test_every_template_the_configuration_names_is_in_the_secret() -> None:
    data = alertmanager_secret()["stringData"]
    named = set(re.findall(r'template "([^"]+)"', data["alertmanager.yaml"]))
    defined = set()
    for key, text in data.items():
        if key.endswith(".tmpl"):
            defined |= set(re.findall(r'define "([^"]+)"', text))
    assert named, "the configuration uses templates"
    assert named <= defined


def test_a_path_outside_the_mounted_directories_is_refused() -> None:
    assert k8s.in_cluster_path("secrets/smtp_password", "x").endswith(
        f"{k8s.ALERTMANAGER_SECRETS}/smtp_password"
    )
    with pytest.raises(ValueError, match="neither"):
        k8s.in_cluster_path("../elsewhere/key", "x")


@needs_alertmanager_config
def test_in_cluster_alertmanager_configuration_is_valid(tmp_path: Path) -> None:
    amtool = shutil.which("amtool")
    if amtool is None:
        unavailable("amtool", "install the Debian package prometheus-alertmanager")
    config = tmp_path / "alertmanager.yaml"
    config.write_text(alertmanager_secret()["stringData"]["alertmanager.yaml"])
    result = subprocess.run(
        [amtool, "check-config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- Scrape targets --------------------------------------------------------------------------
def services() -> list[dict[str, Any]]:
    return of_kind("Service")


@pytest.mark.parametrize("job", k8s.SCRAPE_JOBS, ids=lambda j: j.job)
def test_service_monitor_selects_a_service_port_and_sets_the_job(job: k8s.ScrapeJob) -> None:
    (monitor,) = [d for d in of_kind("ServiceMonitor") if d["metadata"]["name"] == job.job]
    spec = monitor["spec"]
    namespaces = spec["namespaceSelector"]["matchNames"]
    selected = [
        s
        for s in services()
        if s["metadata"]["namespace"] in namespaces
        and matches(spec["selector"], s["metadata"]["labels"])
    ]
    (endpoint,) = spec["endpoints"]
    assert len(selected) == 1, f"{job.job} selects {len(selected)} Services"
    assert endpoint["port"] in {p["name"] for p in selected[0]["spec"]["ports"]}
    # ... and that Service selects pods whose container serves that port
    (service,) = selected
    pods = [
        d["spec"]["template"]
        for d in of_kind("Deployment")
        if d["metadata"]["namespace"] == service["metadata"]["namespace"]
        and matches(
            {"matchLabels": service["spec"]["selector"]},
            d["spec"]["template"]["metadata"]["labels"],
        )
    ]
    assert len(pods) == 1, f"{job.job}: {len(pods)} Deployments behind the Service"
    (port,) = [p for p in service["spec"]["ports"] if p["name"] == endpoint["port"]]
    container_ports = {p["name"] for c in pods[0]["spec"]["containers"] for p in c.get("ports", [])}
    assert port["targetPort"] in container_ports
    assert ("authorization" in endpoint) == job.bearer
    assert endpoint["relabelings"][0] == {
        "action": "replace",
        "targetLabel": "job",
        "replacement": job.job,
    }
    assert k8s.DROP_ENDPOINT in endpoint["relabelings"] or endpoint.get("honorLabels") is True


def test_every_scrape_job_of_prometheus_yml_has_its_counterpart() -> None:
    """Same job name, interval, path and token in the cluster as in prometheus.yml (the rules'
    job selectors and TargetMissing's list of jobs depend on it)."""
    config = yaml.safe_load((ROOT / "monitoring/prometheus/prometheus.yml").read_text())
    default_interval = config["global"]["scrape_interval"]
    chart = values()
    ours = {}
    for monitor in of_kind("ServiceMonitor"):
        (endpoint,) = monitor["spec"]["endpoints"]
        ours[endpoint["relabelings"][0]["replacement"]] = endpoint
    assert config["scrape_configs"]
    for job in config["scrape_configs"]:
        name, interval = job["job_name"], job.get("scrape_interval", default_interval)
        if name in ours:
            endpoint = ours[name]
            assert endpoint["interval"] == interval, name
            assert endpoint["path"] == job.get("metrics_path", "/metrics"), name
            assert ("authorization" in endpoint) == ("authorization" in job), name
        elif name in ("prometheus", "alertmanager"):  # the chart's, renamed
            assert k8s.job_relabeling(name) in chart[name]["serviceMonitor"]["relabelings"]
            assert chart["prometheus"]["prometheusSpec"]["scrapeInterval"] == interval, name
        elif name == "node-exporter":  # the chart's, job label node-exporter already
            monitor = chart["prometheus-node-exporter"]["prometheus"]["monitor"]
            assert monitor["interval"] == interval
        else:
            pytest.fail(f"job {name} of prometheus.yml has nothing in the cluster")


@pytest.mark.parametrize(
    ("job", "deployment"),
    [("fastapi-backend", "hero-foundry-api"), ("react-frontend", "hero-foundry-web")],
)
def test_the_scrape_carries_the_metrics_token_the_server_reads(job: str, deployment: str) -> None:
    (monitor,) = [d for d in of_kind("ServiceMonitor") if d["metadata"]["name"] == job]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["authorization"]["type"] == "Bearer"
    credentials = endpoint["authorization"]["credentials"]
    (api,) = [d for d in of_kind("Deployment") if d["metadata"]["name"] == deployment]
    pod = api["spec"]["template"]["spec"]
    assert api["metadata"]["namespace"] == monitor["metadata"]["namespace"]  # same Secret
    projected = [v for v in pod["volumes"] if "projected" in v]
    sources = [s["secret"]["name"] for v in projected for s in v["projected"]["sources"]]
    assert credentials["name"] in sources
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["HERO_FOUNDRY_METRICS_TOKEN_FILE"].endswith("/" + credentials["key"])
    mounts = pod["containers"][0]["volumeMounts"]
    assert any(
        env["HERO_FOUNDRY_METRICS_TOKEN_FILE"].startswith(m["mountPath"] + "/") for m in mounts
    )


def test_the_web_tier_serves_the_images_bundle_and_forwards_to_the_api_service() -> None:
    """The web pods run ``hero-foundry web`` on the bundle deploy/Dockerfile puts in the image,
    listening where their Service and probes point, forwarding to the api's Service."""
    (web,) = [d for d in of_kind("Deployment") if d["metadata"]["name"] == "hero-foundry-web"]
    (container,) = web["spec"]["template"]["spec"]["containers"]
    args = container["args"]

    def option(name: str) -> str:
        return args[args.index(name) + 1]

    assert args[0] == "web" and option("--host") == "0.0.0.0"
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert re.search(rf"^COPY --from=\S+ \S+/dist {re.escape(option('--dist'))}$", dockerfile, re.M)
    (port,) = container["ports"]
    assert port["containerPort"] == int(option("--port"))
    assert container["readinessProbe"]["httpGet"]["port"] == port["name"]
    assert container["image"] == k8s.APP_IMAGE
    api_url = urllib.parse.urlsplit(option("--api-url"))
    name, namespace, *_ = api_url.hostname.split(".")
    (api,) = [
        s
        for s in services()
        if s["metadata"]["name"] == name and s["metadata"]["namespace"] == namespace
    ]
    assert api["metadata"]["labels"]["app.kubernetes.io/component"] == "api"
    assert api_url.port in {p["port"] for p in api["spec"]["ports"]}
    env = {e["name"] for e in container["env"]}
    assert "HERO_FOUNDRY_DATABASE_URL_FILE" not in env, "the web tier has no database"


ROUTE = "/api/characters/{character_id}"


@pytest.fixture
def metrics_server() -> Iterator[str]:
    """An HTTP server exposing one app series with its own ``endpoint`` label."""
    body = (
        "# TYPE http_requests_total counter\n"
        f'http_requests_total{{method="GET",endpoint="{ROUTE}",status="200"}} 7\n'
    ).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def as_prometheus(relabeling: dict[str, Any]) -> dict[str, Any]:
    """A ServiceMonitor RelabelConfig (camelCase) as Prometheus's relabel_config."""
    return {
        re.sub(r"[A-Z]", lambda m: "_" + m.group().lower(), k): v for k, v in relabeling.items()
    }


def query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    url = f"http://{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)["data"]["result"]


def test_the_apps_endpoint_label_survives_the_operators_endpoint_label(
    tmp_path: Path, metrics_server: str
) -> None:
    """A real Prometheus scrapes the same target twice, as the operator configures a
    ServiceMonitor (its target label endpoint=<port name>): with our relabelings the series
    keeps the route template as ``endpoint`` and gets job="fastapi-backend"; without them the
    collision renames ours to ``exported_endpoint`` (the bug they prevent)."""
    binary = shutil.which("prometheus")
    if binary is None:
        unavailable("prometheus", "install the Debian package prometheus")
    (monitor,) = [
        d for d in of_kind("ServiceMonitor") if d["metadata"]["name"] == "fastapi-backend"
    ]
    (endpoint,) = monitor["spec"]["endpoints"]
    operator_sets = {"target_label": "endpoint", "replacement": endpoint["port"]}
    target = {"targets": [metrics_server]}
    config = {
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": "operator-only",
                "static_configs": [target],
                "relabel_configs": [operator_sets],
            },
            {
                "job_name": "servicemonitor",
                "static_configs": [target],
                "relabel_configs": [operator_sets]
                + [as_prometheus(r) for r in endpoint["relabelings"]],
            },
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    address = f"127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address={address}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        series: list[dict[str, Any]] = []
        deadline = time.monotonic() + 60
        while len(series) < 2 and time.monotonic() < deadline:
            assert process.poll() is None, "prometheus exited"
            with contextlib.suppress(OSError):  # not listening yet
                series = query(address, "http_requests_total")
            time.sleep(0.2)
        by_job = {s["metric"]["job"]: s["metric"] for s in series}
        assert set(by_job) == {"operator-only", "fastapi-backend"}, series
        ours = by_job["fastapi-backend"]
        assert ours["endpoint"] == ROUTE
        assert "exported_endpoint" not in ours
        assert by_job["operator-only"]["endpoint"] == endpoint["port"]
        assert by_job["operator-only"]["exported_endpoint"] == ROUTE
    finally:
        stop(process, timeout=30)


# -- The chart's values ----------------------------------------------------------------------
def test_values_pin_the_chart_version_the_docs_install() -> None:
    text = (ROOT / k8s.VALUES).read_text()
    assert re.fullmatch(r"\d+\.\d+\.\d+", k8s.CHART_VERSION)
    assert f"version {k8s.CHART_VERSION} (pinned)" in text
    docs = (ROOT / "docs" / "operations.md").read_text().replace("\\\n", " ")
    installs = re.findall(r"(?m)(?:^|`)helm (?:install|upgrade)\b[^\n`]*", docs)
    assert installs, "docs/operations.md installs the chart"
    for command in installs:
        assert f"--version {k8s.CHART_VERSION}" in command, command
        assert k8s.VALUES.as_posix() in command, command


def docs_commands() -> list[str]:
    """The shell commands of docs/operations.md, continuation lines joined."""
    docs = (ROOT / "docs" / "operations.md").read_text()
    blocks = "\n".join(re.findall(r"```bash\n(.*?)```", docs, re.S))
    lines = blocks.replace("\\\n", " ").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_the_docs_do_not_repeat_the_seeds_broken_set_up() -> None:
    commands = "\n".join(docs_commands())
    assert "kubectl apply" in commands
    for broken in ("deployment/prometheus-server", "grafana/grafana", "/api/dashboards/db"):
        assert broken not in commands, broken


def needed_secrets() -> set[tuple[str, str, str]]:
    """(namespace, Secret, key) that the manifests and values read but nobody generates."""
    needed = set()
    for doc in documents():
        namespace = doc["metadata"].get("namespace", "")
        if doc["kind"] == "ServiceMonitor":
            for endpoint in doc["spec"]["endpoints"]:
                if "authorization" in endpoint:
                    ref = endpoint["authorization"]["credentials"]
                    needed.add((namespace, ref["name"], ref["key"]))
        if doc["kind"] == "Deployment":
            pod = doc["spec"]["template"]["spec"]
            for container in pod["containers"]:
                for env in container.get("env", []):
                    ref = env.get("valueFrom", {}).get("secretKeyRef")
                    if ref:
                        needed.add((namespace, ref["name"], ref["key"]))
                projected = [
                    s["secret"]["name"]
                    for v in pod.get("volumes", [])
                    for s in v.get("projected", {}).get("sources", [])
                ]
                for env in container.get("env", []):  # *_FILE: one of the projected Secrets
                    if env["name"].endswith("_FILE"):
                        key = env["value"].rsplit("/", 1)[1]
                        needed.add((namespace, "|".join(sorted(projected)), key))
    chart = values()
    admin = chart["grafana"]["admin"]
    for key in (admin["userKey"], admin["passwordKey"]):
        needed.add((k8s.MONITORING_NAMESPACE, admin["existingSecret"], key))
    if ALERTMANAGER_YML.is_file():
        config = yaml.safe_load(alertmanager_secret()["stringData"]["alertmanager.yaml"])
        for path in re.findall(r"_file: (\S+)", k8s.dump(config)):
            secret = path.split("/")[-2]
            assert secret in chart["alertmanager"]["alertmanagerSpec"]["secrets"]
            needed.add((k8s.MONITORING_NAMESPACE, secret, path.rsplit("/", 1)[1]))
    return needed


def test_the_docs_create_every_secret_the_manifests_read(tmp_path: Path) -> None:
    """Each `kubectl create secret` of docs/operations.md is run (client-side dry run, on
    placeholder files): together they make every (namespace, Secret, key) the objects read."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        unavailable("kubectl", "install kubectl (or the Debian package kubernetes-client)")
    created: set[tuple[str, str, str]] = set()
    for command in docs_commands():
        if " create secret " not in command:
            continue
        args = shlex.split(command.replace("$SECRETS", str(tmp_path)))
        for arg in args:
            if arg.startswith("--from-file="):
                Path(arg.rsplit("=", 1)[1]).write_text("placeholder\n")
        result = subprocess.run(
            [kubectl, *args[1:], "--dry-run=client", "-o", "yaml"],
            capture_output=True,
            text=True,
            timeout=60,
            env={"KUBECONFIG": str(tmp_path / "no-cluster"), "PATH": "/usr/bin:/bin"},
        )
        assert result.returncode == 0, command + "\n" + result.stderr
        secret = yaml.safe_load(result.stdout)
        for key in secret["data"]:
            created.add((secret["metadata"]["namespace"], secret["metadata"]["name"], key))
    assert created, "docs/operations.md creates the secrets"
    for namespace, names, key in sorted(needed_secrets()):
        assert any((namespace, name, key) in created for name in names.split("|")), (
            f"no documented command creates key {key} of {names} in {namespace}"
        )


def test_prometheus_selects_our_rules_and_service_monitors() -> None:
    spec = values()["prometheus"]["prometheusSpec"]
    assert spec["ruleNamespaceSelector"] == {} and spec["serviceMonitorNamespaceSelector"] == {}
    rules, monitors = of_kind("PrometheusRule"), of_kind("ServiceMonitor")
    assert rules and monitors
    for rule in rules:
        assert matches(spec["ruleSelector"], rule["metadata"]["labels"]), rule["metadata"]
    for monitor in monitors:
        assert matches(spec["serviceMonitorSelector"], monitor["metadata"]["labels"])
    # The chart labels its own rules and ServiceMonitors release=<release>: still selected.
    assert spec["serviceMonitorSelector"]["matchLabels"] == {"release": k8s.RELEASE}
    assert spec["ruleSelector"]["matchLabels"] == {"release": k8s.RELEASE}
    assert not matches(spec["ruleSelector"], {"release": "another-release"})


def test_values_run_ha_prometheus_and_an_alertmanager_cluster() -> None:
    spec = values()["prometheus"]["prometheusSpec"]
    assert spec["replicas"] == 2
    assert spec["externalLabels"] == {"project": "hero-foundry", "environment": "production"}
    assert values()["alertmanager"]["alertmanagerSpec"]["replicas"] == 3


def test_grafana_datasources_have_the_uids_the_dashboards_use() -> None:
    grafana = values()["grafana"]
    uids = {
        grafana["sidecar"]["datasources"]["uid"],
        grafana["sidecar"]["datasources"]["alertmanager"]["uid"],
    }
    uids |= {d["uid"] for d in grafana["additionalDataSources"]}
    assert uids == {"prometheus", "alertmanager", "elasticsearch"}
    used = set()
    for dashboard in DASHBOARDS:
        used |= set(re.findall(r'"uid":\s*"([^"$]+)"', dashboard.read_text()))
    datasource_uids = {u for u in used if u in {"prometheus", "alertmanager", "elasticsearch"}}
    assert datasource_uids <= uids


def test_the_chart_components_get_our_job_names() -> None:
    for component in ("prometheus", "alertmanager"):
        relabelings = values()[component]["serviceMonitor"]["relabelings"]
        assert {"action": "replace", "targetLabel": "job", "replacement": component} in relabelings
    # Their default rules select the chart's job names: replaced by ours.
    disabled = values()["defaultRules"]["rules"]
    assert disabled["prometheus"] is False and disabled["alertmanager"] is False


# -- Structure ---------------------------------------------------------------------------------
#: The fields we use, as the CRDs of Prometheus Operator v0.88 name them (a typo such as
#: ``relabelling`` or ``honourLabels`` is otherwise dropped silently by the API server).
CRD_FIELDS = {
    "ServiceMonitor.spec": {
        "selector",
        "namespaceSelector",
        "endpoints",
        "jobLabel",
        "targetLabels",
    },
    "ServiceMonitor.endpoint": {
        "port",
        "path",
        "interval",
        "scrapeTimeout",
        "scheme",
        "authorization",
        "honorLabels",
        "relabelings",
        "metricRelabelings",
        "tlsConfig",
    },
    "authorization": {"type", "credentials"},
    "credentials": {"name", "key", "optional"},
    "relabeling": {"action", "sourceLabels", "separator", "targetLabel", "regex", "replacement"},
    "PrometheusRule.spec": {"groups"},
    "group": {"name", "interval", "rules", "limit", "partial_response_strategy", "query_offset"},
    "rule": {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"},
}
ACTIONS = {"replace", "keep", "drop", "labeldrop", "labelkeep", "labelmap", "hashmod"}
DNS_1123 = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def fields(where: str, node: dict[str, Any]) -> None:
    assert set(node) <= CRD_FIELDS[where], f"{where}: {set(node) - CRD_FIELDS[where]}"


def test_objects_use_only_the_crd_fields_they_exist_with() -> None:
    for doc in documents():
        assert set(doc) >= {"apiVersion", "kind", "metadata"}
        assert DNS_1123.fullmatch(doc["metadata"]["name"]) and len(doc["metadata"]["name"]) <= 63
        assert all(isinstance(v, str) for v in doc["metadata"].get("labels", {}).values())
        if doc["kind"] == "ServiceMonitor":
            fields("ServiceMonitor.spec", doc["spec"])
            for endpoint in doc["spec"]["endpoints"]:
                fields("ServiceMonitor.endpoint", endpoint)
                if "authorization" in endpoint:
                    fields("authorization", endpoint["authorization"])
                    fields("credentials", endpoint["authorization"]["credentials"])
                for relabeling in endpoint.get("relabelings", []):
                    fields("relabeling", relabeling)
                    assert relabeling["action"] in ACTIONS
        if doc["kind"] == "PrometheusRule":
            fields("PrometheusRule.spec", doc["spec"])
            for group in doc["spec"]["groups"]:
                fields("group", group)
                for rule in group["rules"]:
                    fields("rule", rule)
                    assert ("alert" in rule) != ("record" in rule)
    with pytest.raises(AssertionError):
        fields("relabeling", {"action": "replace", "target_label": "job"})  # snake_case: wrong


def test_core_objects_validate_against_the_kubernetes_schemas() -> None:
    try:
        import kubernetes_validate
    except ImportError as exc:
        unavailable("kubernetes-validate", exc)
    core = [d for d in documents() if not d["apiVersion"].startswith("monitoring.coreos.com")]
    assert {d["kind"] for d in core} >= {"Deployment", "Service", "Secret", "Namespace"}
    for doc in core:
        kubernetes_validate.validate(doc, "1.32.0", strict=True)
    broken = {**core[0], "spec": {"replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.32.0", strict=True)


def test_kustomize_builds_every_manifest() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        unavailable("kubectl", "install kubectl (or the Debian package kubernetes-client)")
    result = subprocess.run(
        [kubectl, "kustomize", str(ROOT / k8s.MANIFESTS)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    built = {(d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(result.stdout) if d}
    assert built == {(d["kind"], d["metadata"]["name"]) for d in documents()}
