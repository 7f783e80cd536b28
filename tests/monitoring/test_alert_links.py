"""Every alert links to the dashboard panel that plots its own signal.

For every alert of ``monitoring/prometheus/rules/*.yml`` but the Watchdog: its ``dashboard_uid``
names a committed dashboard, its ``panel_id`` is a panel of it, and that panel's queries read the
recording rules of the alert's signal (or, for an alert on raw metrics, its first metric). The
checker is ``hero_foundry.monitoring.grafana.alert_links``; below, it also fails on broken links.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from hero_foundry.monitoring.grafana import alert_links, promql
from tests.conftest import unavailable

ROOT = Path(__file__).parents[2]
DASHBOARDS = ROOT / "monitoring" / "grafana" / "dashboards"
RULES = ROOT / "monitoring" / "prometheus" / "rules"


@pytest.fixture(scope="module", autouse=True)
def parser() -> None:
    try:
        promql._parser()
    except RuntimeError as exc:
        unavailable("promql-parser", exc)


def committed() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def panel_by_id(models: dict[str, dict[str, Any]], uid: str, panel_id: int) -> dict[str, Any]:
    (model,) = [m for m in models.values() if m["uid"] == uid]
    (found,) = [p for p in model["panels"] if p.get("id") == panel_id]
    return found


# -- The committed rules and dashboards ------------------------------------------------------


def test_every_alert_links_to_a_panel_plotting_its_signal() -> None:
    assert alert_links.problems(RULES, committed()) == []


def test_every_alert_but_the_watchdog_has_a_link() -> None:
    alerts = alert_links.alerts(RULES)
    linked = [a for a in alerts if a.name not in alert_links.UNLINKED]
    assert len(linked) >= 20
    assert all(a.dashboard_uid and a.panel_id for a in linked)
    assert {a.name for a in alerts} - {a.name for a in linked} == {"Watchdog"}


@pytest.mark.parametrize(
    ("alert", "uid", "panel_id", "signal"),
    [
        ("HighErrorRate", "hero-foundry-overview", "101", ["job:http_user_errors:ratio_rate5m"]),
        (
            "HighResponseTime",
            "hero-foundry-overview",
            "102",
            ["job:http_user_request_duration_seconds:p95_rate5m"],
        ),
        ("ServiceDown", "hero-foundry-overview", "103", ["up"]),
        (
            "AIServiceDown",
            "hero-foundry-performance",
            "203",
            ["job:ai_query_failures:ratio_rate5m"],
        ),
        (
            "DiskSpaceLow",
            "hero-foundry-infrastructure",
            "403",
            ["instance_mountpoint:node_filesystem_avail:percent"],
        ),
        ("DependencyRecentlyDown", "hero-foundry-infrastructure", "404", ["pg_up"]),
        (
            "PrometheusNotificationsFailing",
            "hero-foundry-infrastructure",
            "408",
            ["prometheus_notifications_errors_total"],
        ),
        ("TargetMissing", "hero-foundry-infrastructure", "406", ["up"]),
    ],
)
def test_what_each_panel_must_plot(alert: str, uid: str, panel_id: str, signal: list[str]) -> None:
    """The signal of a guarded alert is its value, not its guard: HighErrorRate's panel plots the
    error ratio, not the minimum traffic (job:http_user_requests:rate5m) it also requires."""
    records = alert_links.recording_rules(RULES)
    (found,) = [a for a in alert_links.alerts(RULES) if a.name == alert]
    assert (found.dashboard_uid, found.panel_id) == (uid, panel_id)
    assert alert_links.required_names(found, records) == signal


def test_a_burn_rate_alert_needs_every_long_window_of_its_page_on_its_panel() -> None:
    records = alert_links.recording_rules(RULES)
    page = [
        a
        for a in alert_links.alerts(RULES)
        if a.name == "ApiErrorBudgetBurn" and a.severity == "critical"
    ]
    assert len(page) == 1
    required = set(alert_links.required_names(page[0], records))
    assert {
        "job:slo_availability_errors:ratio_rate1h",
        "job:slo_availability_errors:ratio_rate6h",
        "job:slo_availability:objective",
    } <= required


# -- The signal of an expression -------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("a > 0.05 and on (job) b >= 0.1", ["a"]),  # b: the guard
        ("(a / on (job) (1 - o)) > 14.4 and (s / on (job) (1 - o)) > 14.4", ["a", "o"]),
        ("(a > 1 and b) or (c > 2 unless d)", ["a", "c"]),
        ("0.2 < x", ["x"]),
        ("x > bool 1", ["x"]),
        ("(e + d) / (s + d) > 0.01", ["e", "d", "s"]),
        ('absent(up{job="a"}) or absent(up{job="b"})', ["up"]),
        ("max_over_time(m[5m]) == 0", ["m"]),
        ("x > y", ["x"]),  # filtered by y: the value is x's
    ],
)
def test_the_signal_is_what_the_value_comes_from(expr: str, names: list[str]) -> None:
    assert promql.signal_metric_names(expr) == names


# -- The checker fails on broken links -------------------------------------------------------


def test_a_panel_plotting_something_else_is_reported() -> None:
    models = committed()
    panel = panel_by_id(models, "hero-foundry-overview", 101)
    panel["targets"][0]["expr"] = 'sum by (job) (rate(http_requests_total{job=~"$job"}[5m]))'
    problems = alert_links.problems(RULES, models)
    assert len(problems) == 1
    assert "HighErrorRate (critical)" in problems[0]
    assert "does not plot job:http_user_errors:ratio_rate5m" in problems[0]


def test_a_panel_plotting_the_raw_metric_of_another_alert_is_reported() -> None:
    models = committed()
    panel = panel_by_id(models, "hero-foundry-infrastructure", 404)
    panel["targets"][0]["expr"] = 'redis_up{job="redis"}'
    problems = alert_links.problems(RULES, models)
    assert {p.split(": ")[1] for p in problems} == {
        "PostgreSQLDown (critical)",
        "DependencyRecentlyDown (info)",
    }
    assert all("does not plot pg_up" in p for p in problems)


def test_a_burn_rate_panel_missing_a_window_is_reported() -> None:
    models = committed()
    panel = panel_by_id(models, "hero-foundry-slo", 301)
    panel["targets"] = [t for t in panel["targets"] if "ratio_rate6h" not in t["expr"]]
    problems = alert_links.problems(RULES, models)
    # The page's long windows are 1h and 6h; the ticket's 1d and 3d (6h is its short window).
    assert len(problems) == 1
    assert "ApiErrorBudgetBurn (critical)" in problems[0]
    assert "does not plot job:slo_availability_errors:ratio_rate6h" in problems[0]


def test_a_missing_panel_or_dashboard_is_reported() -> None:
    models = committed()
    (infrastructure,) = [m for m in models.values() if m["uid"] == "hero-foundry-infrastructure"]
    infrastructure["panels"] = [p for p in infrastructure["panels"] if p.get("id") != 410]
    del models["hero-foundry-performance.json"]
    problems = alert_links.problems(RULES, models)
    assert any(
        "PrometheusNotConnectedToAlertmanagers" in p
        and "panel_id 410 is no panel of hero-foundry-infrastructure" in p
        for p in problems
    )
    for alert in ("CharacterCreationSlow", "LevelUpSlow", "AIServiceDown"):
        assert any(
            alert in p and "dashboard_uid 'hero-foundry-performance' is no dashboard" in p
            for p in problems
        ), alert


def test_an_alert_without_its_link_is_reported(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    path = rules / "hero-foundry-alerts.yml"
    document = yaml.safe_load(path.read_text())
    (rule,) = [
        r for g in document["groups"] for r in g["rules"] if r.get("alert") == "HighCPUUsage"
    ]
    del rule["annotations"]["panel_id"]
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    assert alert_links.problems(rules, committed()) == [
        "hero-foundry-alerts.yml: HighCPUUsage (warning): no dashboard_uid / panel_id annotation"
    ]
