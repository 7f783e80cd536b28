"""Render the Grafana dashboards to ``monitoring/grafana/dashboards/*.json`` and check them.

    python -m hero_foundry.monitoring.dashboards            # (re)write the JSON files
    python -m hero_foundry.monitoring.dashboards --check    # exit 1 listing what is wrong

The JSON is committed, so Grafana's file provisioning (and Kubernetes ConfigMaps) read it as is;
it is deterministic (sorted keys, fixed or ordered panel ids, two-space indent, final newline), so a
regenerated file differs from the committed one only when the code changed.

``render_all()`` and ``check()`` are the API the ``hero-foundry monitoring check`` command uses.
``check()`` reports stale or missing files, ``graph`` panels, datasources that the provisioning
does not define, queries that do not parse and metric names nothing produces.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from hero_foundry.monitoring.grafana import infrastructure, overview, performance, promql, slo
from hero_foundry.monitoring.grafana.common import ANNOTATIONS
from hero_foundry.monitoring.grafana.sources import Known, known_metrics

#: Repository-relative locations.
DASHBOARDS_DIR = Path("monitoring/grafana/dashboards")
DATASOURCES_FILE = Path("monitoring/grafana/provisioning/datasources/datasources.yml")

#: File name -> builder. The file name is the dashboard's uid.
BUILDERS: dict[str, Callable[[], db.Dashboard]] = {
    "hero-foundry-overview.json": overview.build,
    "hero-foundry-performance.json": performance.build,
    "hero-foundry-slo.json": slo.build,
    "hero-foundry-infrastructure.json": infrastructure.build,
}

#: Metric-name prefixes of each scraped job, to tell "unknown" from "could not be verified".
JOB_PREFIXES = {
    "node-exporter": "node_",
    "postgresql": "pg_",
    "redis": "redis_",
    "prometheus": "prometheus_",
    "alertmanager": "alertmanager_",
}


def repo_root() -> Path:
    """The repository this package runs from (``src/hero_foundry/monitoring`` -> three up)."""
    return Path(__file__).resolve().parents[3]


def _panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in items:
        yield panel
        yield from _panels(panel.get("panels") or [])


def to_model(builder: db.Dashboard) -> dict[str, Any]:
    """The dashboard's JSON model, with unique panel ids and the built-in "Annotations & Alerts"
    entry Grafana adds to every dashboard it saves.

    A panel an alert links to (its ``dashboard_uid`` and ``panel_id`` annotations) has an
    explicit id, set in its module (``.id(101)``), that never changes; every other panel is
    numbered 1, 2, ... in order, skipping the explicit ids.
    """
    model: dict[str, Any] = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    panels = list(_panels(model.get("panels") or []))
    explicit = [panel["id"] for panel in panels if panel.get("id")]
    duplicates = sorted({i for i in explicit if explicit.count(i) > 1})
    if duplicates:
        raise ValueError(f"{model.get('uid')}: panel ids used twice: {duplicates}")
    used, number = set(explicit), 0
    for panel in panels:
        if not panel.get("id"):
            number += 1
            while number in used:
                number += 1
            panel["id"] = number
    annotations = model.setdefault("annotations", {}).setdefault("list", [])
    annotations.insert(
        0,
        {
            "builtIn": 1,
            "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": True,
            "hide": True,
            "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts",
            "type": "dashboard",
        },
    )
    for annotation in annotations:
        known = ANNOTATIONS.get(annotation.get("name", ""))
        if annotation.get("expr") and known:  # Prometheus annotations: title and text formats
            annotation.setdefault("titleFormat", known.title)
            annotation.setdefault("textFormat", known.text)
            annotation.setdefault("tagKeys", known.tags)
            annotation.setdefault("step", "1m")
    return model


def dumps(model: dict[str, Any]) -> str:
    return json.dumps(model, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_all() -> dict[str, str]:
    """File name -> JSON text of every dashboard, as it must be committed."""
    return {name: dumps(to_model(build())) for name, build in sorted(BUILDERS.items())}


def write(root: Path) -> list[Path]:
    """Write every dashboard under ``root``; remove JSON files no dashboard renders any more.
    Returns the files whose content changed."""
    directory = root / DASHBOARDS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    rendered = render_all()
    changed = []
    for name, text in rendered.items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    for path in sorted(directory.glob("*.json")):
        if path.name not in rendered:
            path.unlink()
            changed.append(path)
    return changed


def stale_files(root: Path) -> list[str]:
    """Problems with the committed files: missing, different from the code, or left over."""
    directory = root / DASHBOARDS_DIR
    rendered = render_all()
    problems = []
    for name, text in rendered.items():
        path = directory / name
        if not path.exists():
            problems.append(f"{DASHBOARDS_DIR / name}: missing (run {_REGENERATE})")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(
                f"{DASHBOARDS_DIR / name}: stale, differs from the code ({_REGENERATE})"
            )
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        if path.name not in rendered:
            problems.append(f"{DASHBOARDS_DIR / path.name}: no dashboard renders it any more")
    return problems


_REGENERATE = "python -m hero_foundry.monitoring.dashboards"


def provisioned_datasource_uids(root: Path) -> set[str]:
    document = yaml.safe_load((root / DATASOURCES_FILE).read_text(encoding="utf-8")) or {}
    return {source["uid"] for source in document.get("datasources") or [] if "uid" in source}


def datasource_uids(model: dict[str, Any]) -> set[str]:
    """Every datasource uid a dashboard refers to (panels, targets, variables, annotations)."""
    uids: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            source = node.get("datasource")
            if isinstance(source, dict) and source.get("uid"):
                uids.add(source["uid"])
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(model)
    return uids - {"-- Grafana --"}


def structure_problems(name: str, model: dict[str, Any], provisioned: set[str]) -> list[str]:
    problems = []
    for panel in _panels(model.get("panels") or []):
        if panel.get("type") == "graph":
            problems.append(f"{name}: panel {panel.get('title')!r} is a removed 'graph' panel")
    for uid in sorted(datasource_uids(model) - provisioned):
        problems.append(f"{name}: datasource uid {uid!r} is not provisioned ({DATASOURCES_FILE})")
    return problems


def query_problems(name: str, model: dict[str, Any], known: Known | None) -> list[str]:
    """Queries that do not parse and, with ``known``, metric names that nothing produces."""
    problems = []
    every_name = set().union(*known.by_source.values()) if known else set()
    for query in promql.queries(name, model):
        try:
            names = promql.metric_names(query.promql)
        except promql.PromQLError as exc:
            problems.append(f"{name}: {query.where}: {exc}: {query.expr}")
            continue
        except RuntimeError as exc:  # no PromQL parser installed: nothing more can be checked
            return [*problems, f"{name}: queries not checked: {exc}"]
        if known is None:
            continue
        for metric in sorted(names - every_name):
            jobs = [job for job, prefix in JOB_PREFIXES.items() if metric.startswith(prefix)]
            reason = next((known.unverified[j] for j in jobs if j in known.unverified), None)
            if reason:
                problems.append(f"{name}: {query.where}: {metric} not verified: {reason}")
            else:
                problems.append(
                    f"{name}: {query.where}: {metric} is produced by nothing we know (the app, "
                    "a recording rule, an exporter, Prometheus or Alertmanager)"
                )
    return problems


def committed_models(root: Path) -> dict[str, dict[str, Any]]:
    directory = root / DASHBOARDS_DIR
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("*.json"))
    }


def check(root: Path | None = None, *, live: bool = True, known: Known | None = None) -> list[str]:
    """Everything wrong with the dashboards, one line each (empty: all good).

    With ``live`` (the default), the real exporters, Prometheus and Alertmanager are started
    on loopback to learn the metric names they expose (see ``grafana.sources``); without, names
    of those sources are not checked. ``known`` replaces that discovery (tests pass their own).
    """
    root = root or repo_root()
    problems = stale_files(root)
    try:
        provisioned = provisioned_datasource_uids(root)
    except (OSError, yaml.YAMLError) as exc:
        problems.append(f"{DATASOURCES_FILE}: {exc}")
        provisioned = set()
    if known is None and live:
        known = known_metrics(root, live=True)
    models = committed_models(root) or {n: json.loads(t) for n, t in render_all().items()}
    for name, model in models.items():
        problems += structure_problems(name, model, provisioned)
        problems += query_problems(name, model, known)
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hero_foundry.monitoring.dashboards",
        description="Render the Grafana dashboards to monitoring/grafana/dashboards/*.json.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 listing stale files, bad queries and unknown metrics",
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="with --check: do not start the exporters, Prometheus and Alertmanager",
    )
    parser.add_argument("--root", type=Path, default=None, help="repository root")
    args = parser.parse_args(argv)
    root = args.root or repo_root()
    if args.check:
        problems = check(root, live=not args.offline)
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"dashboards: {len(problems)} problem(s)" if problems else "dashboards: OK")
        return 1 if problems else 0
    for path in write(root):
        print(f"wrote {path.relative_to(root)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
