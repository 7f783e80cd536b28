"""Every alert links to the dashboard panel that plots its own signal.

An alert of ``monitoring/prometheus/rules/*.yml`` carries the annotations ``dashboard_uid`` and
``panel_id`` (the Watchdog excepted: it always fires and has nothing to plot); the notification
links to that panel (``/d/<uid>?viewPanel=<id>``). The panel must show what the alert compared
with its threshold, or the on-call engineer opens a graph that disagrees with the page:

- an alert that reads recording rules (``job:http_user_errors:ratio_rate5m > 0.05``): every
  recording rule of its signal is in one of the panel's queries;
- an alert on raw metrics (``pg_up == 0``): the panel reads the first metric of its signal.

The signal is what the alert's value comes from (:func:`promql.signal_metric_names`): the
right operand of ``and`` / ``unless`` is a guard (minimum traffic), not the signal, and is not
required on the panel.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hero_foundry.monitoring.grafana import promql

#: Alerts without a panel: the Watchdog always fires, its test is its absence downstream.
UNLINKED = frozenset({"Watchdog"})


@dataclass(frozen=True)
class Alert:
    name: str
    severity: str
    expr: str
    dashboard_uid: str | None
    panel_id: str | None
    source: str  # rule file name

    @property
    def label(self) -> str:
        return f"{self.source}: {self.name} ({self.severity})"


def _rules(rules_dir: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted(rules_dir.glob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for group in document.get("groups") or []:
            for rule in group.get("rules") or []:
                yield path, rule


def alerts(rules_dir: Path) -> list[Alert]:
    """Every alerting rule of the rule files, with its link annotations."""
    found = []
    for path, rule in _rules(rules_dir):
        if "alert" not in rule:
            continue
        annotations = rule.get("annotations") or {}
        panel_id = annotations.get("panel_id")
        found.append(
            Alert(
                name=rule["alert"],
                severity=str((rule.get("labels") or {}).get("severity", "")),
                expr=str(rule["expr"]),
                dashboard_uid=annotations.get("dashboard_uid"),
                panel_id=None if panel_id is None else str(panel_id),
                source=path.name,
            )
        )
    return found


def recording_rules(rules_dir: Path) -> set[str]:
    """The names the recording rules define (``record:``)."""
    return {str(rule["record"]) for _, rule in _rules(rules_dir) if "record" in rule}


def required_names(alert: Alert, records: set[str]) -> list[str]:
    """The metric names the linked panel must read to plot ``alert``'s signal."""
    signal = promql.signal_metric_names(alert.expr)
    recorded = [name for name in signal if name in records]
    return recorded or signal[:1]


def _panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in items:
        yield panel
        yield from _panels(panel.get("panels") or [])


def panel_metric_names(panel: dict[str, Any]) -> set[str]:
    """Every metric name the panel's Prometheus queries read (Grafana variables substituted)."""
    names: set[str] = set()
    for target in panel.get("targets") or []:
        if target.get("expr"):
            names |= promql.metric_names(promql.to_promql(target["expr"]))
    return names


def problems(rules_dir: Path, models: Mapping[str, dict[str, Any]]) -> list[str]:
    """Every alert whose link is missing, broken, or points at a panel plotting something else.

    ``models``: the dashboards' JSON models (any keys; they are found by their ``uid``).
    """
    by_uid = {model.get("uid"): model for model in models.values()}
    records = recording_rules(rules_dir)
    found: list[str] = []
    for alert in alerts(rules_dir):
        if alert.name in UNLINKED:
            continue
        if not alert.dashboard_uid or not alert.panel_id:
            found.append(f"{alert.label}: no dashboard_uid / panel_id annotation")
            continue
        model = by_uid.get(alert.dashboard_uid)
        if model is None:
            found.append(f"{alert.label}: dashboard_uid {alert.dashboard_uid!r} is no dashboard")
            continue
        panels = [
            p for p in _panels(model.get("panels") or []) if str(p.get("id")) == alert.panel_id
        ]
        if len(panels) != 1:
            found.append(
                f"{alert.label}: panel_id {alert.panel_id} is no panel of {alert.dashboard_uid}"
            )
            continue
        (panel,) = panels
        try:
            required = required_names(alert, records)
            plotted = panel_metric_names(panel)
        except promql.PromQLError as exc:
            found.append(f"{alert.label}: {exc}")
            continue
        missing = [name for name in required if name not in plotted]
        if missing or not required:
            found.append(
                f"{alert.label}: panel {alert.panel_id} {panel.get('title')!r} of "
                f"{alert.dashboard_uid} does not plot {', '.join(missing) or 'any metric'} "
                f"(it reads {', '.join(sorted(plotted)) or 'nothing'})"
            )
    return found
