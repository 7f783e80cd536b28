"""Kubernetes manifests for kube-prometheus-stack, generated from ``monitoring/``.

``python -m hero_foundry.monitoring.kubernetes`` writes ``deploy/kubernetes/``; ``--check`` writes
nothing and exits 1 listing every file that differs from what the sources give (a stale
manifest, a missing one, or one whose source is gone). Nothing in a manifest is copied by hand:

- ``values-kube-prometheus-stack.yaml``: the chart's values (chart version :data:`CHART_VERSION`):
  an HA Prometheus pair, a 3-replica Alertmanager cluster reading our configuration Secret,
  Grafana's dashboard sidecar and datasources, selectors matching the labels below.
- ``manifests/prometheusrules/<file>.yaml``: one ``PrometheusRule`` per
  ``monitoring/prometheus/rules/*.yml``, its ``groups`` those of the file, unchanged.
- ``manifests/alertmanager-config.yaml``: a ``Secret`` with ``alertmanager.yaml`` (the paths of
  ``monitoring/alertmanager/alertmanager.yml`` moved to where the operator mounts things) and every
  ``templates/*.tmpl`` as a key.
- ``manifests/dashboards/<file>.yaml``: one ``ConfigMap`` per
  ``monitoring/grafana/dashboards/*.json`` with the label Grafana's sidecar watches.
- ``manifests/servicemonitors.yaml``, ``api.yaml``, ``web.yaml``, ``exporters.yaml``: the scrape
  targets with the job names of ``monitoring/prometheus/prometheus.yml``, the api, the web tier
  and the two exporters.

Every object Prometheus must select carries ``release: <release name>``, the label the chart puts
on its own ServiceMonitors and rules; the values select exactly that label.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# -- What is deployed, and where ------------------------------------------------------------
CHART = "kube-prometheus-stack"
#: Pinned chart version (Prometheus Operator v0.88). docs/operations.md installs exactly this one.
CHART_VERSION = "81.4.5"
CHART_REPOSITORY = "prometheus-community"
#: Helm release name: the chart labels its objects ``release: <this>`` and we do the same.
RELEASE = "monitoring"
MONITORING_NAMESPACE = "monitoring"
APP_NAMESPACE = "hero-foundry"
SELECTOR_LABELS = {"release": RELEASE}
EXTERNAL_LABELS = {"project": "hero-foundry", "environment": "production"}
PROMETHEUS_REPLICAS = 2
ALERTMANAGER_REPLICAS = 3
#: Grafana's dashboard sidecar loads every ConfigMap with this label (the chart's default).
DASHBOARD_LABEL = ("grafana_dashboard", "1")
#: Grafana image: the schema the dashboards are generated for (grafana-foundation-sdk 11.6).
GRAFANA_IMAGE_TAG = "11.6.1"  # as deploy/compose.yaml
#: Built by deploy/Dockerfile (entrypoint ``hero-foundry``, user 10001; the api and the web tier
#: with the front end's bundle); push it where the cluster pulls from and set the image
#: (kustomize ``images:``) to that name.
APP_IMAGE = "hero-foundry-api:0.1.0"
APP_UID = 10001
#: Where deploy/Dockerfile puts the built bundle that ``hero-foundry web`` serves.
WEB_DIST_DIR = "/app/web/dist"
WEB_PORT = 3000
#: The exporters' images: those of deploy/compose.yaml.
POSTGRES_EXPORTER_IMAGE = "quay.io/prometheuscommunity/postgres-exporter:v0.16.0"
REDIS_EXPORTER_IMAGE = "oliver006/redis_exporter:v1.66.0-alpine"
#: Where Grafana finds Elasticsearch in the cluster (the log pipeline is not part of these
#: manifests; see docs/operations.md).
ELASTICSEARCH_URL = "http://elasticsearch.logging.svc:9200"

# -- Secrets (created from files by the operator of the cluster, never generated) ------------
METRICS_TOKEN_SECRET = "hero-foundry-metrics-token"
METRICS_TOKEN_KEY = "metrics_token"
APP_SECRET = "hero-foundry-app"  # keys database_url, redis_url, roll_signing_key
EXPORTERS_SECRET = "hero-foundry-exporters"  # keys postgres_dsn, redis_addr, redis_password
GRAFANA_ADMIN_SECRET = "hero-foundry-grafana-admin"  # keys admin-user, admin-password
ALERTMANAGER_CONFIG_SECRET = "hero-foundry-alertmanager-config"
ALERTMANAGER_SECRETS = "hero-foundry-alertmanager-secrets"
#: The operator mounts the config Secret's keys here (templates included) ...
ALERTMANAGER_CONFIG_DIR = "/etc/alertmanager/config"
#: ... and each Secret of ``alertmanagerSpec.secrets`` at /etc/alertmanager/secrets/<name>/.
ALERTMANAGER_SECRETS_DIR = f"/etc/alertmanager/secrets/{ALERTMANAGER_SECRETS}"
APP_SECRETS_DIR = "/run/secrets/hero-foundry"

# -- Files ----------------------------------------------------------------------------------
OUTPUT = Path("deploy/kubernetes")
MANIFESTS = OUTPUT / "manifests"
VALUES = OUTPUT / "values-kube-prometheus-stack.yaml"
RULES_DIR = Path("monitoring/prometheus/rules")
ALERTMANAGER_DIR = Path("monitoring/alertmanager")
DASHBOARDS_DIR = Path("monitoring/grafana/dashboards")

COMMAND = "python -m hero_foundry.monitoring.kubernetes"
GENERATOR = "src/hero_foundry/monitoring/kubernetes.py"
PART_OF = {"app.kubernetes.io/part-of": "hero-foundry"}


@dataclass(frozen=True)
class ScrapeJob:
    """One scrape job of prometheus.yml, as a ServiceMonitor selecting a Service."""

    job: str  # the job label the rules and dashboards select
    component: str  # app.kubernetes.io/component of its Service
    port: str  # the Service port's name
    interval: str
    bearer: bool  # /metrics needs the metrics token


#: The Service-backed jobs (node-exporter, prometheus and alertmanager come with the chart).
SCRAPE_JOBS = (
    ScrapeJob("fastapi-backend", "api", "http", "10s", bearer=True),
    # The web tier (frontend-1:3000 under Compose): manifests/web.yaml.
    ScrapeJob("react-frontend", "web", "http", "10s", bearer=True),
    ScrapeJob("postgresql", "postgres-exporter", "metrics", "30s", bearer=False),
    ScrapeJob("redis", "redis-exporter", "metrics", "30s", bearer=False),
)


def job_relabeling(job: str) -> dict[str, Any]:
    """The job label is the job name of prometheus.yml, not the Service's name."""
    return {"action": "replace", "targetLabel": "job", "replacement": job}


#: The operator sets the target label ``endpoint`` to the scraped port's name. Scraped series
#: that have their own ``endpoint`` (http_requests_total: the route template) would collide with
#: it and be stored as ``exported_endpoint``; dropping the target label keeps ours as it is.
DROP_ENDPOINT = {"action": "labeldrop", "regex": "endpoint"}


def job_relabelings(job: str) -> list[dict[str, Any]]:
    """Target relabelings of our ServiceMonitors (applied after the operator's own ones)."""
    return [job_relabeling(job), dict(DROP_ENDPOINT)]


# -- YAML -----------------------------------------------------------------------------------
class _Dumper(yaml.SafeDumper):
    """Block style, lists indented under their key, multi-line strings as literal blocks."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:  # spell out shared values, no &id001 anchors
        return True


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _represent_str)


def dump(document: Any) -> str:
    return yaml.dump(
        document,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=10_000,
    )


def _documents(header: str, *documents: Mapping[str, Any]) -> str:
    return header + "---\n".join(dump(d) for d in documents)


def _header(*sources: str) -> str:
    lines = [f"# Generated by `{COMMAND}`: do not edit."]
    lines += [f"# Source: {source}" for source in sources]
    return "\n".join(lines) + "\n"


def k8s_name(stem: str) -> str:
    """A DNS-1123 name from a file name's stem."""
    name = re.sub(r"[^a-z0-9-]+", "-", stem.lower()).strip("-")
    if not name or len(name) > 63:
        raise ValueError(f"cannot make a Kubernetes name of {stem!r}")
    return name


def _metadata(name: str, namespace: str, labels: Mapping[str, str] | None = None) -> dict:
    return {"name": name, "namespace": namespace, "labels": {**PART_OF, **(labels or {})}}


# -- Rules ----------------------------------------------------------------------------------
def prometheus_rule(source: Path, relative: Path) -> dict[str, Any]:
    content = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    groups = content.get("groups")
    if not isinstance(groups, list) or not groups:
        raise ValueError(f"{relative}: no rule groups")
    stem = source.stem if source.stem.startswith("hero-foundry") else f"hero-foundry-{source.stem}"
    metadata = _metadata(k8s_name(stem), MONITORING_NAMESPACE, SELECTOR_LABELS)
    metadata["annotations"] = {"hero-foundry.io/source": relative.as_posix()}
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": metadata,
        "spec": {"groups": groups},
    }


# -- Alertmanager ---------------------------------------------------------------------------
def in_cluster_path(path: str, where: str) -> str:
    """Where a path of alertmanager.yml (relative to its directory) is inside the pod."""
    if path.startswith("secrets/") and path.count("/") == 1:
        return f"{ALERTMANAGER_SECRETS_DIR}/{path.removeprefix('secrets/')}"
    if path.startswith("templates/") and path.count("/") == 1:
        return f"{ALERTMANAGER_CONFIG_DIR}/{path.removeprefix('templates/')}"
    if path.startswith("/"):
        return path
    raise ValueError(f"{where}: {path!r} is neither secrets/<file> nor templates/<file>")


def _relocate(node: Any, where: str, secret_files: set[str]) -> Any:
    """A copy of the configuration with each ``*_file`` path and each ``templates`` entry
    moved to its in-cluster location; ``secret_files`` collects the secret files named."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            here = f"{where}.{key}"
            if key == "templates" and isinstance(value, list):
                out[key] = [in_cluster_path(v, here) for v in value]
            elif isinstance(key, str) and key.endswith("_file") and isinstance(value, str):
                out[key] = in_cluster_path(value, here)
                if value.startswith("secrets/"):
                    secret_files.add(value.removeprefix("secrets/"))
            else:
                out[key] = _relocate(value, here, secret_files)
        return out
    if isinstance(node, list):
        return [_relocate(v, f"{where}[{i}]", secret_files) for i, v in enumerate(node)]
    return node


def alertmanager_secret(root: Path) -> tuple[dict[str, Any], list[str]]:
    """The configuration Secret, and the secret files the configuration reads."""
    config_path = root / ALERTMANAGER_DIR / "alertmanager.yml"
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    secret_files: set[str] = set()
    relocated = _relocate(config, "alertmanager.yml", secret_files)
    data = {"alertmanager.yaml": dump(relocated)}
    for template in sorted((root / ALERTMANAGER_DIR / "templates").glob("*.tmpl")):
        data[template.name] = template.read_text(encoding="utf-8")
    metadata = _metadata(ALERTMANAGER_CONFIG_SECRET, MONITORING_NAMESPACE)
    metadata["annotations"] = {"hero-foundry.io/source": ALERTMANAGER_DIR.as_posix()}
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": "Opaque",
        "stringData": data,
    }
    return secret, sorted(secret_files)


# -- Dashboards -----------------------------------------------------------------------------
def dashboard_configmap(source: Path, relative: Path) -> dict[str, Any]:
    text = source.read_text(encoding="utf-8")
    json.loads(text)  # refuse a broken dashboard here rather than in Grafana's log
    metadata = _metadata(
        k8s_name(f"grafana-dashboard-{source.stem}"),
        MONITORING_NAMESPACE,
        {DASHBOARD_LABEL[0]: DASHBOARD_LABEL[1]},
    )
    metadata["annotations"] = {"hero-foundry.io/source": relative.as_posix()}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
        "data": {source.name: text},
    }


# -- Scrape targets -------------------------------------------------------------------------
def _app_labels(component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": "hero-foundry", "app.kubernetes.io/component": component}


def service_monitor(job: ScrapeJob) -> dict[str, Any]:
    endpoint: dict[str, Any] = {
        "port": job.port,
        "path": "/metrics",
        "interval": job.interval,
    }
    if job.bearer:
        endpoint["authorization"] = {
            "type": "Bearer",
            "credentials": {"name": METRICS_TOKEN_SECRET, "key": METRICS_TOKEN_KEY},
        }
    endpoint["relabelings"] = job_relabelings(job.job)
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": _metadata(job.job, APP_NAMESPACE, SELECTOR_LABELS),
        "spec": {
            "selector": {"matchLabels": _app_labels(job.component)},
            "namespaceSelector": {"matchNames": [APP_NAMESPACE]},
            "endpoints": [endpoint],
        },
    }


def _service(name: str, component: str, port_name: str, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(name, APP_NAMESPACE, _app_labels(component)),
        "spec": {
            "selector": _app_labels(component),
            "ports": [{"name": port_name, "port": port, "targetPort": port_name}],
        },
    }


def _deployment(
    name: str, component: str, replicas: int, container: dict[str, Any], **pod: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(name, APP_NAMESPACE, _app_labels(component)),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": _app_labels(component)},
            "template": {
                "metadata": {"labels": {**PART_OF, **_app_labels(component)}},
                "spec": {"containers": [container], **pod},
            },
        },
    }


def _secret_env(name: str, secret: str, key: str, optional: bool = False) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": secret, "key": key}
    if optional:
        ref["optional"] = True
    return {"name": name, "valueFrom": {"secretKeyRef": ref}}


def api_manifests() -> list[dict[str, Any]]:
    """The api: 2 replicas x 2 workers, secrets as files (``HERO_FOUNDRY_*_FILE``)."""

    def env(name: str, value: str) -> dict[str, str]:
        return {"name": f"HERO_FOUNDRY_{name}", "value": value}

    def probe(path: str) -> dict[str, Any]:
        return {"httpGet": {"path": path, "port": "http"}, "periodSeconds": 10}

    container = {
        "name": "api",
        "image": APP_IMAGE,
        "args": ["serve"],
        "ports": [{"name": "http", "containerPort": 8000}],
        "env": [
            env("ENVIRONMENT", "production"),
            env("HOST", "0.0.0.0"),
            env("PORT", "8000"),
            env("WORKERS", "2"),
            env("DATA_DIR", "/var/lib/hero-foundry"),
            env("LOG_DIR", ""),  # ECS JSON on stdout only: the cluster collects it
            env("DATABASE_URL_FILE", f"{APP_SECRETS_DIR}/database_url"),
            env("REDIS_URL_FILE", f"{APP_SECRETS_DIR}/redis_url"),
            env("METRICS_TOKEN_FILE", f"{APP_SECRETS_DIR}/{METRICS_TOKEN_KEY}"),
            # Signs the server's dice in exports; without it the api refuses to start.
            env("ROLL_SIGNING_KEY_FILE", f"{APP_SECRETS_DIR}/roll_signing_key"),
        ],
        "livenessProbe": probe("/healthz"),
        "readinessProbe": probe("/readyz"),
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False},
        "volumeMounts": [
            {"name": "secrets", "mountPath": APP_SECRETS_DIR, "readOnly": True},
            {"name": "data", "mountPath": "/var/lib/hero-foundry"},
        ],
    }
    # The schema first: every new pod runs the migrations up to its own version. Two pods
    # starting together may race; the loser's init container fails, is restarted and finds
    # the schema up to date.
    migrate = {
        "name": "migrate",
        "image": APP_IMAGE,
        "args": ["db", "upgrade"],
        "env": container["env"],
        "securityContext": container["securityContext"],
        "volumeMounts": container["volumeMounts"],
    }
    volumes = [
        {
            "name": "secrets",
            "projected": {
                "sources": [
                    {"secret": {"name": APP_SECRET}},
                    {"secret": {"name": METRICS_TOKEN_SECRET}},
                ]
            },
        },
        {"name": "data", "emptyDir": {}},
    ]
    return [
        _deployment(
            "hero-foundry-api",
            "api",
            2,
            container,
            securityContext={
                "runAsNonRoot": True,
                "runAsUser": APP_UID,
                "runAsGroup": APP_UID,
                "fsGroup": APP_UID,
            },
            initContainers=[migrate],
            volumes=volumes,
        ),
        _service("hero-foundry-api", "api", "http", 8000),
    ]


def web_manifests() -> list[dict[str, Any]]:
    """The web tier: the api's image running ``hero-foundry web`` on the bundle it carries,
    ``/api/*`` forwarded to the api's Service, ``/metrics`` behind the same token as the api's."""

    def env(name: str, value: str) -> dict[str, str]:
        return {"name": f"HERO_FOUNDRY_{name}", "value": value}

    def probe(path: str) -> dict[str, Any]:
        return {"httpGet": {"path": path, "port": "http"}, "periodSeconds": 10}

    container = {
        "name": "web",
        "image": APP_IMAGE,
        "args": [
            "web",
            "--host",
            "0.0.0.0",
            "--port",
            str(WEB_PORT),
            "--api-url",
            f"http://hero-foundry-api.{APP_NAMESPACE}.svc:8000",
            "--dist",
            WEB_DIST_DIR,
        ],
        "ports": [{"name": "http", "containerPort": WEB_PORT}],
        "env": [
            env("ENVIRONMENT", "production"),
            env("DATA_DIR", "/var/lib/hero-foundry"),
            env("LOG_DIR", ""),  # ECS JSON on stdout only: the cluster collects it
            env("METRICS_TOKEN_FILE", f"{APP_SECRETS_DIR}/{METRICS_TOKEN_KEY}"),
        ],
        "livenessProbe": probe("/healthz"),
        # /readyz: the bundle is there and the api answers.
        "readinessProbe": probe("/readyz"),
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False},
        "volumeMounts": [
            {"name": "secrets", "mountPath": APP_SECRETS_DIR, "readOnly": True},
            {"name": "data", "mountPath": "/var/lib/hero-foundry"},
        ],
    }
    volumes = [
        {
            "name": "secrets",
            "projected": {"sources": [{"secret": {"name": METRICS_TOKEN_SECRET}}]},
        },
        {"name": "data", "emptyDir": {}},
    ]
    return [
        _deployment(
            "hero-foundry-web",
            "web",
            2,
            container,
            securityContext={
                "runAsNonRoot": True,
                "runAsUser": APP_UID,
                "runAsGroup": APP_UID,
                "fsGroup": APP_UID,
            },
            volumes=volumes,
        ),
        _service("hero-foundry-web", "web", "http", WEB_PORT),
    ]


def exporter_manifests() -> list[dict[str, Any]]:
    """postgres_exporter and redis_exporter, pointed at the servers by a Secret."""
    postgres = {
        "name": "postgres-exporter",
        "image": POSTGRES_EXPORTER_IMAGE,
        "ports": [{"name": "metrics", "containerPort": 9187}],
        "env": [_secret_env("DATA_SOURCE_NAME", EXPORTERS_SECRET, "postgres_dsn")],
        "readinessProbe": {"httpGet": {"path": "/", "port": "metrics"}},
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
    }
    redis = {
        "name": "redis-exporter",
        "image": REDIS_EXPORTER_IMAGE,
        "ports": [{"name": "metrics", "containerPort": 9121}],
        "env": [
            _secret_env("REDIS_ADDR", EXPORTERS_SECRET, "redis_addr"),
            _secret_env("REDIS_PASSWORD", EXPORTERS_SECRET, "redis_password", optional=True),
        ],
        "readinessProbe": {"httpGet": {"path": "/", "port": "metrics"}},
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
    }
    return [
        _deployment("postgres-exporter", "postgres-exporter", 1, postgres),
        _service("postgres-exporter", "postgres-exporter", "metrics", 9187),
        _deployment("redis-exporter", "redis-exporter", 1, redis),
        _service("redis-exporter", "redis-exporter", "metrics", 9121),
    ]


# -- Chart values ---------------------------------------------------------------------------
def chart_values(alertmanager_secret_files: Iterable[str]) -> str:
    """The chart's values, each section with the reason for it."""
    sections: list[tuple[str, dict[str, Any]]] = [
        (
            "Our rules (manifests/prometheusrules/) replace these default groups: the chart's\n"
            "select the chart's job names, which the relabelings below change to ours\n"
            '(job="prometheus", job="alertmanager"), so they would never fire; ours carry\n'
            'runbooks and the severity/service labels Alertmanager routes on. "general" is the\n'
            "chart's Watchdog/TargetDown: ours are Watchdog and TargetMissing.",
            {
                "defaultRules": {
                    "rules": {"alertmanager": False, "prometheus": False, "general": False}
                }
            },
        ),
        (
            "An Alertmanager cluster of 3 reading our configuration Secret\n"
            f"({ALERTMANAGER_CONFIG_SECRET}, manifests/alertmanager-config.yaml:\n"
            f"alertmanager.yaml and the templates, mounted at {ALERTMANAGER_CONFIG_DIR}/);\n"
            "the chart creates no configuration of its own.\n"
            f"{ALERTMANAGER_SECRETS} holds the receivers' secrets\n"
            f"(keys: {', '.join(alertmanager_secret_files) or 'none'}), mounted at\n"
            f"{ALERTMANAGER_SECRETS_DIR}/.",
            {
                "alertmanager": {
                    "serviceMonitor": {"relabelings": [job_relabeling("alertmanager")]},
                    "alertmanagerSpec": {
                        "replicas": ALERTMANAGER_REPLICAS,
                        "useExistingSecret": True,
                        "configSecret": ALERTMANAGER_CONFIG_SECRET,
                        "secrets": [ALERTMANAGER_SECRETS],
                        "podAntiAffinity": "soft",
                    },
                }
            },
        ),
        (
            "An HA pair: both replicas scrape everything and evaluate every rule; the operator\n"
            "labels them prometheus_replica and drops that label from the alerts, so Alertmanager\n"
            "deduplicates them. Each keeps 31 days (as Compose) on its own volume: the SLO\n"
            "dashboard's 30-day figures need them, and a restart must not wipe them.\n"
            "Rules and ServiceMonitors are selected by the chart's release label in every\n"
            "namespace, ours and the chart's alike.",
            {
                "prometheus": {
                    "serviceMonitor": {"relabelings": [job_relabeling("prometheus")]},
                    "prometheusSpec": {
                        "replicas": PROMETHEUS_REPLICAS,
                        "podAntiAffinity": "soft",
                        "scrapeInterval": "15s",
                        "evaluationInterval": "15s",
                        "retention": "31d",
                        "storageSpec": {
                            "volumeClaimTemplate": {
                                "spec": {
                                    "accessModes": ["ReadWriteOnce"],
                                    "resources": {"requests": {"storage": "50Gi"}},
                                }
                            }
                        },
                        "externalLabels": dict(EXTERNAL_LABELS),
                        "ruleSelectorNilUsesHelmValues": False,
                        "ruleSelector": {"matchLabels": dict(SELECTOR_LABELS)},
                        "ruleNamespaceSelector": {},
                        "serviceMonitorSelectorNilUsesHelmValues": False,
                        "serviceMonitorSelector": {"matchLabels": dict(SELECTOR_LABELS)},
                        "serviceMonitorNamespaceSelector": {},
                    },
                }
            },
        ),
        (
            "Grafana comes with the chart: no separate install, no API import. The sidecar loads\n"
            f'every ConfigMap labelled {DASHBOARD_LABEL[0]}="{DASHBOARD_LABEL[1]}" '
            "(manifests/dashboards/); the datasources\n"
            "have the uids the dashboards use. Elasticsearch is yours to run (see\n"
            "docs/operations.md). The admin password comes from a Secret, not the chart's default.",
            {
                "grafana": {
                    "image": {"tag": GRAFANA_IMAGE_TAG},
                    "admin": {
                        "existingSecret": GRAFANA_ADMIN_SECRET,
                        "userKey": "admin-user",
                        "passwordKey": "admin-password",
                    },
                    "sidecar": {
                        "dashboards": {
                            "enabled": True,
                            "label": DASHBOARD_LABEL[0],
                            "labelValue": DASHBOARD_LABEL[1],
                            "searchNamespace": "ALL",
                        },
                        "datasources": {
                            "enabled": True,
                            "defaultDatasourceEnabled": True,
                            "uid": "prometheus",
                            # As Compose's datasource: the longest scrape interval, so that
                            # $__rate_interval spans four scrapes of every job.
                            "defaultDatasourceScrapeInterval": "30s",
                            "alertmanager": {"enabled": True, "uid": "alertmanager"},
                        },
                    },
                    "additionalDataSources": [
                        {
                            "name": "Elasticsearch",
                            "uid": "elasticsearch",
                            "type": "elasticsearch",
                            "access": "proxy",
                            "url": ELASTICSEARCH_URL,
                            "jsonData": {
                                "index": "hero-foundry-logs-*",
                                "timeField": "@timestamp",
                            },
                        }
                    ],
                }
            },
        ),
        (
            "The control plane of a managed cluster (EKS, GKE, AKS) cannot be scraped: these\n"
            "targets would be down for good and ServiceDown (up == 0, any job) would page for\n"
            "them. Turn them on where you run the control plane yourself (their rules follow).",
            {
                component: {"enabled": False}
                for component in ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy")
            },
        ),
        (
            "node-exporter is the chart's DaemonSet; its ServiceMonitor already sets\n"
            'job="node-exporter", the job name our rules and dashboards use; every 30s, as in\n'
            "prometheus.yml.",
            {
                "nodeExporter": {"enabled": True},
                "prometheus-node-exporter": {"prometheus": {"monitor": {"interval": "30s"}}},
            },
        ),
    ]
    out = [
        f"# Values for the {CHART} Helm chart, version {CHART_VERSION} (pinned):",
        f"#   helm install {RELEASE} {CHART_REPOSITORY}/{CHART} --version {CHART_VERSION} \\",
        f"#     --namespace {MONITORING_NAMESPACE} -f {VALUES.as_posix()}",
        f"# Generated by `{COMMAND}`: do not edit. See docs/operations.md.",
    ]
    for comment, section in sections:
        out.append("")
        out += [f"# {line}" if line else "#" for line in comment.splitlines()]
        out.append(dump(section).rstrip("\n"))
    return "\n".join(out) + "\n"


# -- Everything -----------------------------------------------------------------------------
def render_all(repo_root: Path) -> dict[Path, str]:
    """Every generated file (path relative to ``repo_root``) and its text."""
    root = Path(repo_root)
    files: dict[Path, str] = {}
    resources: list[str] = []

    def add(name: str, text: str) -> None:
        files[MANIFESTS / name] = text
        resources.append(name)

    add(
        "namespace.yaml",
        _documents(
            _header(GENERATOR),
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": APP_NAMESPACE}},
        ),
    )
    add("api.yaml", _documents(_header(GENERATOR), *api_manifests()))
    add("web.yaml", _documents(_header(GENERATOR), *web_manifests()))
    add("exporters.yaml", _documents(_header(GENERATOR), *exporter_manifests()))
    add(
        "servicemonitors.yaml",
        _documents(
            _header(GENERATOR, "the scrape jobs of monitoring/prometheus/prometheus.yml"),
            *(service_monitor(job) for job in SCRAPE_JOBS),
        ),
    )
    for source in sorted((root / RULES_DIR).glob("*.yml")):
        relative = source.relative_to(root)
        rule = prometheus_rule(source, relative)
        add(
            f"prometheusrules/{rule['metadata']['name']}.yaml",
            _documents(_header(relative.as_posix()), rule),
        )
    secret_files: list[str] = []
    if (root / ALERTMANAGER_DIR / "alertmanager.yml").is_file():
        secret, secret_files = alertmanager_secret(root)
        add(
            "alertmanager-config.yaml",
            _documents(_header(f"{ALERTMANAGER_DIR.as_posix()}/"), secret),
        )
    for source in sorted((root / DASHBOARDS_DIR).glob("*.json")):
        relative = source.relative_to(root)
        configmap = dashboard_configmap(source, relative)
        add(
            f"dashboards/{configmap['metadata']['name']}.yaml",
            _documents(_header(relative.as_posix()), configmap),
        )
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": list(resources),
    }
    files[MANIFESTS / "kustomization.yaml"] = _header(GENERATOR) + dump(kustomization)
    files[VALUES] = chart_values(secret_files)
    return files


def _on_disk(root: Path) -> set[Path]:
    """The files under MANIFESTS, which belong to the generator (anything else in OUTPUT, a
    README say, is left alone)."""
    return {p.relative_to(root) for p in (root / MANIFESTS).rglob("*") if p.is_file()}


def check(repo_root: Path) -> list[str]:
    """Files that are stale: differing from the sources, missing, or left from a removed source."""
    root = Path(repo_root)
    expected = render_all(root)
    stale = []
    for path, text in expected.items():
        target = root / path
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            stale.append(path.as_posix())
    stale += [p.as_posix() for p in _on_disk(root) - set(expected)]
    return sorted(stale)


def write(repo_root: Path) -> list[str]:
    """Write every generated file; remove generated files whose source is gone."""
    root = Path(repo_root)
    expected = render_all(root)
    changed = check(root)
    for path in _on_disk(root) - set(expected):
        (root / path).unlink()
    for path, text in expected.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
    return changed


def _repo_root() -> Path:
    """The checkout this module lives in (src/hero_foundry/monitoring/kubernetes.py)."""
    return Path(__file__).resolve().parents[3]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=COMMAND, description="Generate deploy/kubernetes/ from monitoring/."
    )
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    parser.add_argument("--root", type=Path, default=_repo_root(), help="repository root")
    args = parser.parse_args(argv)
    if args.check:
        stale = check(args.root)
        for path in stale:
            print(f"stale: {path}")
        if stale:
            print(f"{len(stale)} stale file(s): run `{COMMAND}`", file=sys.stderr)
            return 1
        print(f"{OUTPUT.as_posix()}/ is up to date")
        return 0
    changed = write(args.root)
    for path in changed:
        print(f"wrote: {path}")
    print(f"{OUTPUT.as_posix()}/: {len(changed)} file(s) changed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
