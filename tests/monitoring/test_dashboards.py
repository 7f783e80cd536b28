"""The Grafana dashboards: generated JSON up to date, the customer's dashboards with their panels
and their defects fixed, datasources provisioned, every query valid PromQL for Prometheus itself,
and every metric a query reads produced by something real (the app, a recording rule, the
exporters, Prometheus or Alertmanager, started here and scraped)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from hero_foundry.monitoring import dashboards
from hero_foundry.monitoring.grafana import common, promql, slo, sources
from hero_foundry.monitoring.grafana.sources import Known
from tests.conftest import unavailable

ROOT = Path(__file__).parents[2]
DASHBOARDS = ROOT / "monitoring" / "grafana" / "dashboards"
PROVISIONING = ROOT / "monitoring" / "grafana" / "provisioning"
RULES = ROOT / "monitoring" / "prometheus" / "rules"

OVERVIEW = "hero-foundry-overview.json"
PERFORMANCE = "hero-foundry-performance.json"
SLO = "hero-foundry-slo.json"
INFRASTRUCTURE = "hero-foundry-infrastructure.json"


def committed() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def panels(model: dict[str, Any]) -> list[dict[str, Any]]:
    return list(dashboards._panels(model["panels"]))


def panel(model: dict[str, Any], title: str) -> dict[str, Any]:
    found = [p for p in panels(model) if p.get("title") == title]
    assert len(found) == 1, f"{title!r}: {len(found)} panels"
    return found[0]


def every_key(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node) | set().union(*(every_key(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(every_key(v) for v in node))
    return set()


@pytest.fixture(scope="module")
def parser() -> None:
    """promql-parser reads the queries' syntax trees (metric names, checks)."""
    try:
        promql._parser()
    except RuntimeError as exc:
        unavailable("promql-parser", exc)


def all_queries() -> list[promql.Query]:
    return [q for name, model in committed().items() for q in promql.queries(name, model)]


# -- Generated, committed, up to date -------------------------------------------------------


def test_committed_json_is_exactly_what_the_code_renders() -> None:
    rendered = dashboards.render_all()
    assert sorted(rendered) == sorted(p.name for p in DASHBOARDS.glob("*.json"))
    for name, text in rendered.items():
        assert (DASHBOARDS / name).read_text() == text, (
            f"{name} is stale: run python -m hero_foundry.monitoring.dashboards"
        )
    assert dashboards.stale_files(ROOT) == []


def test_rendering_is_deterministic_and_sorted() -> None:
    first, second = dashboards.render_all(), dashboards.render_all()
    assert first == second
    for text in first.values():
        model = json.loads(text)
        assert text == json.dumps(model, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        ids = [p["id"] for p in panels(model)]
        assert len(set(ids)) == len(ids), model["uid"]
        # Panels an alert links to keep fixed ids (101, 102 ...); the others are 1, 2, ...
        automatic = [i for i in ids if i < 100]
        assert automatic == list(range(1, len(automatic) + 1)), model["uid"]
        assert {i for i in ids if i >= 100} == set(ALERT_PANELS[model["uid"]])


#: The panels the alerts link to (their dashboard_uid and panel_id annotations): fixed ids.
ALERT_PANELS = {
    "hero-foundry-overview": {
        101: "Error ratio (user requests)",
        102: "Response Time",
        103: "System Health Overview",
        104: "Failed logins (share)",
    },
    "hero-foundry-performance": {
        201: "Character Creation Performance",
        202: "Level-up Performance",
        203: "AI failure ratio",
    },
    "hero-foundry-slo": {
        301: "Availability burn rate by window",
        302: "Latency burn rate by window",
    },
    "hero-foundry-infrastructure": {
        401: "CPU usage",
        402: "Memory usage",
        403: "Disk space free",
        404: "PostgreSQL up",
        405: "Redis up",
        406: "Targets up by job",
        407: "Rule evaluation failures",
        408: "Notifications failing",
        409: "Configuration reloads",
        410: "Alertmanagers discovered",
    },
}


def test_the_panels_alerts_link_to_have_their_fixed_ids() -> None:
    for model in committed().values():
        by_id = {p["id"]: p for p in panels(model)}
        for panel_id, title in ALERT_PANELS[model["uid"]].items():
            assert by_id[panel_id]["title"] == title, (model["uid"], panel_id)
    # The error ratio and the AI failure ratio are graphs: the threshold line is drawn on them.
    assert panel(committed()[OVERVIEW], "Error ratio (user requests)")["type"] == "timeseries"
    assert panel(committed()[PERFORMANCE], "AI failure ratio")["type"] == "timeseries"


def test_two_panels_with_one_fixed_id_are_refused() -> None:
    from grafana_foundation_sdk.builders import dashboard as db
    from grafana_foundation_sdk.builders import timeseries

    twice = (
        db.Dashboard("x")
        .uid("x")
        .with_panel(timeseries.Panel().title("a").id(101))
        .with_panel(timeseries.Panel().title("b").id(101))
    )
    with pytest.raises(ValueError, match=r"panel ids used twice: \[101\]"):
        dashboards.to_model(twice)


def test_a_changed_missing_or_leftover_file_is_reported(tmp_path: Path) -> None:
    copy = tmp_path / dashboards.DASHBOARDS_DIR
    shutil.copytree(DASHBOARDS, copy)
    edited = copy / OVERVIEW
    edited.write_text(edited.read_text().replace("Request Rate", "Request rate", 1))
    (copy / SLO).unlink()
    (copy / "old-dashboard.json").write_text("{}")
    problems = dashboards.stale_files(tmp_path)
    assert len(problems) == 3
    assert any(OVERVIEW in p and "stale" in p for p in problems)
    assert any(SLO in p and "missing" in p for p in problems)
    assert any("old-dashboard.json" in p for p in problems)


@pytest.mark.usefixtures("parser")
def test_check_command_exits_non_zero_listing_stale_files(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "monitoring" / "grafana", tmp_path / "monitoring" / "grafana")
    command = [sys.executable, "-m", "hero_foundry.monitoring.dashboards", "--check", "--offline"]
    good = subprocess.run(
        [*command, "--root", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert good.returncode == 0, good.stderr
    stale = tmp_path / dashboards.DASHBOARDS_DIR / PERFORMANCE
    stale.write_text(stale.read_text().replace('"min": 0', '"min": 1', 1))
    bad = subprocess.run(
        [*command, "--root", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert bad.returncode == 1
    assert PERFORMANCE in bad.stderr and "stale" in bad.stderr
    # Without --check the command rewrites the file, and the check passes again.
    subprocess.run(
        [sys.executable, "-m", "hero_foundry.monitoring.dashboards", "--root", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert dashboards.stale_files(tmp_path) == []


# -- The customer's dashboards, fixed -------------------------------------------------------


def test_dashboards_have_the_contract_uids_and_titles() -> None:
    titles = {m["uid"]: m["title"] for m in committed().values()}
    assert titles == {
        "hero-foundry-overview": "The Hero Foundry - Production Overview",
        "hero-foundry-performance": "Performance & User Experience",
        "hero-foundry-slo": "SLOs & error budget",
        "hero-foundry-infrastructure": "Infrastructure - PostgreSQL, Redis and nodes",
    }
    for name, model in committed().items():
        assert name == f"{model['uid']}.json"


@pytest.mark.parametrize(
    ("dashboard", "title", "kind", "legends"),
    [
        (OVERVIEW, "System Health Overview", "stat", ["{{job}} - {{instance}}"]),
        (OVERVIEW, "Request Rate", "timeseries", ["{{method}} {{endpoint}}"]),
        (OVERVIEW, "Response Time", "timeseries", ["95th percentile", "50th percentile"]),
        (
            OVERVIEW,
            "Business Metrics",
            "stat",
            ["Characters Created/Hour", "Level-ups/Hour", "AI Queries/Hour"],
        ),
        (
            PERFORMANCE,
            "Character Creation Performance",
            "timeseries",
            ["95th percentile - Creation Time", "50th percentile"],
        ),
        (
            PERFORMANCE,
            "Level-up Performance",
            "timeseries",
            ["95th percentile - Level-up Time", "50th percentile"],
        ),
        (PERFORMANCE, "Active Users", "gauge", ["Active Users"]),
    ],
)
def test_every_seed_panel_is_there(
    dashboard: str, title: str, kind: str, legends: list[str]
) -> None:
    found = panel(committed()[dashboard], title)
    assert found["type"] == kind
    assert [t["legendFormat"] for t in found["targets"]] == legends


def test_no_graph_panel_and_no_pre_schema_keys() -> None:
    for name, model in committed().items():
        assert "graph" not in {p["type"] for p in panels(model)}, name
        # The customer's yAxis / panel-level thresholds / maxValue are not dashboard schema.
        assert not {"yAxis", "maxValue"} & every_key(model), name
        for p in panels(model):
            assert "thresholds" not in p, (name, p["title"])


def test_a_graph_panel_is_reported() -> None:
    model = committed()[OVERVIEW]
    model["panels"].append({"type": "graph", "title": "Old", "targets": []})
    problems = dashboards.structure_problems(OVERVIEW, model, {"prometheus", "elasticsearch"})
    assert problems == [f"{OVERVIEW}: panel 'Old' is a removed 'graph' panel"]


def steps(p: dict[str, Any]) -> list[tuple[str, float | None]]:
    defaults = p["fieldConfig"]["defaults"]
    assert defaults["thresholds"]["mode"] == "absolute"
    return [(s["color"], s["value"]) for s in defaults["thresholds"]["steps"]]


def test_thresholds_are_ranges_in_field_defaults_with_units() -> None:
    perf, overview = committed()[PERFORMANCE], committed()[OVERVIEW]
    creation = panel(perf, "Character Creation Performance")
    assert steps(creation) == [("green", None), ("yellow", 240), ("red", 300)]
    assert creation["fieldConfig"]["defaults"]["unit"] == "s"
    level_up = panel(perf, "Level-up Performance")
    assert steps(level_up) == [("green", None), ("yellow", 90), ("red", 120)]
    users = panel(perf, "Active Users")["fieldConfig"]["defaults"]
    assert (users["min"], users["max"]) == (0, 1000)
    assert steps(panel(perf, "Active Users")) == [("green", None), ("yellow", 500), ("red", 800)]
    response = panel(overview, "Response Time")
    assert steps(response) == [("green", None), ("yellow", 1.5), ("red", 2)]
    assert response["fieldConfig"]["defaults"]["custom"]["axisLabel"] == "Response time (seconds)"
    assert steps(panel(overview, "System Health Overview")) == [("red", None), ("green", 1)]
    for name, model in committed().items():
        for p in panels(model):
            if p["type"] not in {"row", "logs"}:
                assert p["fieldConfig"]["defaults"]["unit"], (name, p["title"])


def test_queries_are_aggregated_windowed_and_per_hour_where_the_seed_said_hour() -> None:
    business = panel(committed()[OVERVIEW], "Business Metrics")
    for target in business["targets"]:
        assert target["expr"].startswith("sum(increase("), target["expr"]
        assert target["expr"].endswith("[1h]))")
    rate_ranges = re.compile(r"\brate\([^\[]*\[([^\]]+)\]")
    increase_ranges = re.compile(r"\bincrease\([^\[]*\[([^\]]+)\]")
    for query in all_queries():
        expr = query.expr
        if not query.where.startswith("annotation"):  # an annotation's window: a marker's length
            assert "[5m]" not in expr, (query.where, expr)  # $__rate_interval, not a fixed 5m
        assert set(rate_ranges.findall(expr)) <= {"$__rate_interval"}, (query.where, expr)
        assert set(increase_ranges.findall(expr)) <= {"1h"}, (query.where, expr)
        # Quantiles over every instance need the buckets summed, keeping le.
        for inner in re.findall(r"histogram_quantile\([\d.]+, (.{12})", expr):
            assert inner.startswith("sum by (le"), (query.where, expr)


@pytest.mark.usefixtures("parser")
def test_app_panels_filter_by_the_job_and_instance_variables() -> None:
    for name in (OVERVIEW, PERFORMANCE):
        model = committed()[name]
        variables = {v["name"]: v for v in model["templating"]["list"]}
        assert set(variables) == {"job", "instance"}
        for variable in variables.values():
            assert variable["type"] == "query"
            assert variable["datasource"] == {"type": "prometheus", "uid": "prometheus"}
            assert variable["query"].startswith("label_values(")
            assert variable["includeAll"] and variable["allValue"] == ".+"
        # The panels an alert links to plot its signal as the recording rule computes it: per
        # job, over every instance (the Instance variable cannot apply to a recording rule).
        alert_panels = set(ALERT_PANELS[model["uid"]].values())
        records = sources.recording_rule_names(RULES)
        for query in promql.queries(name, model):
            if not query.where.startswith("panel"):
                continue
            names = promql.metric_names(query.promql)
            title = query.where.split("'")[1]
            if any(n.startswith("job:") for n in names & records):  # rules by job
                assert 'job=~"$job"' in query.expr, query.where
            if names & sources.app_metric_names():
                if title in alert_panels:
                    assert '{job=~"$job"}' in query.expr, query.where
                else:
                    assert 'job=~"$job", instance=~"$instance"' in query.expr, query.where


def test_every_panel_and_target_names_its_datasource_by_uid() -> None:
    for name, model in committed().items():
        for p in panels(model):
            if p["type"] == "row":
                continue
            assert p["datasource"]["uid"] in {"prometheus", "elasticsearch"}, (name, p["title"])
            for target in p["targets"]:
                assert target["datasource"] == p["datasource"], (name, p["title"])


def test_dashboards_link_to_each_other() -> None:
    for name, model in committed().items():
        assert "hero-foundry" in model["tags"], name
        assert any(
            link["type"] == "dashboards" and link["tags"] == ["hero-foundry"]
            for link in model["links"]
        ), name


def test_the_added_panels_an_operator_expects_are_there() -> None:
    titles = {name: {p["title"] for p in panels(m)} for name, m in committed().items()}
    assert {
        "Error ratio (5xx)",
        "Error ratio (user requests)",
        "Requests in flight",
        "Token cache hit ratio",
        "Recent errors (logs)",
    } <= titles[OVERVIEW]
    assert {
        "Database query time p95 by operation",
        "Response size p95 by route",
        "AI queries: answered and failed",
        "AI answer time",
        "Exports by format per hour",
        "Edits and rule lookups per hour",
        "Active users and sessions",
        "Page views by page per hour",
        "Web Vitals p75",
        "Front-end wizard time",
        "Wizard step durations p75",
        "JavaScript errors per hour",
        "Telemetry rejected",
    } <= titles[PERFORMANCE]
    assert {"CPU usage", "Memory usage", "Disk space free", "Network traffic"} <= titles[
        INFRASTRUCTURE
    ]
    assert {
        "PostgreSQL up",
        "Redis up",
        "Rule evaluation failures",
        "Notifications failing",
        "Configuration reloads",
        "Alertmanagers discovered",
    } <= titles[INFRASTRUCTURE]


def test_slo_dashboard_reads_every_window_of_the_contract_recording_rules() -> None:
    text = (DASHBOARDS / SLO).read_text()
    for window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d"):
        assert f"job:slo_availability_errors:ratio_rate{window}" in text
        assert f"job:slo_latency_slow:ratio_rate{window}" in text
    assert "job:slo_availability:objective" in text and "job:slo_latency:objective" in text
    assert slo.WINDOWS == ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
    # The 30-day figures are ratios of sums of the recording rules the alerts read, never an
    # average of 5-minute ratios (NaN after a quiet 5 minutes: tests/monitoring/test_slo_panels.py).
    assert "avg_over_time" not in text
    remaining = panel(committed()[SLO], "Availability error budget remaining (30d)")
    assert remaining["targets"][0]["expr"].startswith(
        '1 - (sum_over_time(job:http_user_errors:rate5m{job="$job"}[30d]) / '
        '(sum_over_time(job:http_user_requests:rate5m{job="$job"}[30d]) > 0))'
    )
    latency = panel(committed()[SLO], "Latency SLI (30d)")["targets"][0]["expr"]
    assert latency == (
        '1 - sum_over_time(job:http_latency_slow:rate5m{job="$job"}[30d]) / '
        '(sum_over_time(job:http_latency_requests:rate5m{job="$job"}[30d]) > 0)'
    )


def rules_of(path_glob: str = "*.yml") -> list[dict[str, Any]]:
    return [
        rule
        for path in sorted(RULES.glob(path_glob))
        for group in (yaml.safe_load(path.read_text()) or {}).get("groups", [])
        for rule in group.get("rules", [])
    ]


@pytest.mark.usefixtures("parser")
def test_disk_panel_and_disk_space_low_read_the_one_filesystem_filter() -> None:
    """The disk panel and DiskSpaceLow read the same recording rule, the one place that leaves
    out the filesystems nobody can act on (tmpfs, overlay ...): no panel repeats the filter."""
    (alert,) = [rule for rule in rules_of() if rule.get("alert") == "DiskSpaceLow"]
    (record,) = [
        rule
        for rule in rules_of()
        if rule.get("record") == "instance_mountpoint:node_filesystem_avail:percent"
    ]
    assert promql.metric_names(alert["expr"]) == {
        "instance_mountpoint:node_filesystem_avail:percent"
    }
    assert 'fstype!~"tmpfs|' in record["expr"] and "overlay" in record["expr"]
    disk = panel(committed()[INFRASTRUCTURE], "Disk space free")["targets"][0]["expr"]
    assert promql.metric_names(promql.to_promql(disk)) == {
        "instance_mountpoint:node_filesystem_avail:percent"
    }
    for query in all_queries():
        assert "fstype" not in query.expr, query.where


# -- Panels and alerts read the same signals ------------------------------------------------

#: Panels about every request the api answered, machine traffic included: their descriptions
#: must say so. Every other panel counting requests uses the recording rules' user-request filter.
ALL_TRAFFIC = {"Request Rate": "All requests", "Responses by status": "All responses"}
HTTP_METRICS = {
    "http_requests_total",
    "http_request_duration_seconds_bucket",
    "http_request_duration_seconds_count",
    "http_request_duration_seconds_sum",
}


def selectors(expr: str) -> list[tuple[str, frozenset[tuple[str, str, str]]]]:
    """(metric, matchers) of every selector of the http metrics, job and instance left out
    (the dashboards' variables, the rules' aggregation)."""
    parser = promql._parser()
    found = []

    def visit(node: Any) -> bool:
        if isinstance(node, parser.VectorSelector) and node.name in HTTP_METRICS:
            matchers = frozenset(
                (m.name, str(m.op), m.value)
                for m in node.matchers.matchers
                if m.name not in {"job", "instance", "le"}
            )
            family = "http_requests_total" if node.name == "http_requests_total" else "histogram"
            found.append((family, matchers))
        return True

    parser.walk(promql.parse(expr), visit)
    return found


@pytest.fixture(scope="module")
def user_request_selectors(parser: None) -> set[tuple[str, frozenset[tuple[str, str, str]]]]:
    """The selectors of the recording rules that define user requests and their errors."""
    groups = [
        group
        for path in sorted(RULES.glob("*.yml"))
        for group in (yaml.safe_load(path.read_text()) or {}).get("groups", [])
        if group["name"] == "hero-foundry-user-requests"
    ]
    assert groups, "no group hero-foundry-user-requests in the recording rules"
    found = {s for group in groups for rule in group["rules"] for s in selectors(rule["expr"])}
    assert len({matchers for family, matchers in found if family == "http_requests_total"}) == 3
    return found


def test_panels_count_user_requests_with_the_recording_rules_filter(
    user_request_selectors: set[tuple[str, frozenset[tuple[str, str, str]]]],
) -> None:
    """Every panel query that counts requests from the raw counters selects them exactly as the
    recording rules do (no scrapes, no probes; as an error, not the assistant's 503), except the
    panels about all traffic, which say so."""
    checked = 0
    for name, model in committed().items():
        for p in panels(model):
            for target in p.get("targets") or []:
                if "expr" not in target:
                    continue
                found = selectors(promql.to_promql(target["expr"]))
                if not found:
                    continue
                if p["title"] in ALL_TRAFFIC:
                    assert p["description"].startswith(ALL_TRAFFIC[p["title"]]), p["title"]
                    assert "machine traffic included" in p["description"], p["title"]
                    continue
                for selector in found:
                    assert selector in user_request_selectors, (name, p["title"], selector)
                checked += 1
    assert checked >= 1  # the error ratio by route


def test_the_user_request_filter_is_that_of_the_recording_rules(
    user_request_selectors: set[tuple[str, frozenset[tuple[str, str, str]]]],
) -> None:
    for matchers in (common.USER_REQUESTS, *common.USER_ERRORS):
        (selector,) = selectors(f"http_requests_total{{{matchers}}}")
        assert selector in user_request_selectors, matchers


def test_a_panel_counting_every_request_as_user_requests_is_caught(
    user_request_selectors: set[tuple[str, frozenset[tuple[str, str, str]]]],
) -> None:
    unfiltered = 'sum(rate(http_requests_total{job=~".+", status=~"5.."}[5m]))'
    assistant_503_counted = (
        'sum(rate(http_requests_total{status=~"5..", endpoint!~"/metrics|/healthz|/readyz"}[5m]))'
    )
    for expr in (unfiltered, assistant_503_counted):
        assert not set(selectors(expr)) <= user_request_selectors, expr


#: Raw re-computations of an alert's signal that a panel must not make: it reads the recording
#: rule the alert reads instead (job:http_user_*, job:*_duration_seconds:p95_rate5m,
#: job:ai_query_failures:ratio_rate5m, instance:node_*).
RECOMPUTED = {
    "p95 of the request histogram": r"histogram_quantile\(0\.95, [^)]*http_request_duration",
    "p95 of the creation time": r"histogram_quantile\(0\.95, [^)]*character_creation_duration",
    "p95 of the level-up time": r"histogram_quantile\(0\.95, [^)]*level_up_duration",
    "AI failure share": r"ai_query_failure_total[^/]*/",
    "CPU utilisation": r"rate\(node_cpu_seconds_total",
    "memory utilisation": r"node_memory_MemAvailable_bytes",
    "free disk space": r"node_filesystem_avail_bytes",
    "5xx share": r'status=~"5\.\."',
}


def test_no_panel_recomputes_an_alert_signal_from_raw_series() -> None:
    for query in all_queries():
        if query.where.startswith("panel 'Error ratio by route'"):
            continue  # per route: no recording rule has that breakdown; the rules' filter
        for what, pattern in RECOMPUTED.items():
            assert not re.search(pattern, query.expr), (what, query.where, query.expr)


# -- Annotations: what changed ---------------------------------------------------------------


def test_every_dashboard_marks_alerts_drills_deploys_and_reloads() -> None:
    for name, model in committed().items():
        found = {a["name"]: a for a in model["annotations"]["list"]}
        assert list(found) == [
            "Annotations & Alerts",
            "Firing alerts",
            "Drills",
            "Deploys",
            "Configuration reloads",
        ], name
        for annotation in list(found.values())[1:]:
            assert annotation["datasource"] == {"type": "prometheus", "uid": "prometheus"}
            assert annotation["enable"] is True and annotation["hide"] is False
            assert annotation["titleFormat"] and annotation["textFormat"], annotation["name"]
        assert found["Drills"]["expr"] == "max by (drill) (drill_active) > 0"
        assert found["Drills"]["titleFormat"] == "Drill: {{drill}}"
        assert found["Deploys"]["expr"] == (
            "max by (version, commit) (hero_foundry_build_info)"
            " unless max by (version, commit) (hero_foundry_build_info offset 5m)"
        )
        assert "{{version}}" in found["Deploys"]["titleFormat"]
        assert "{{commit}}" in found["Deploys"]["textFormat"]
        reloads = found["Configuration reloads"]["expr"]
        assert "changes(prometheus_config_last_reload_success_timestamp_seconds[5m]) > 0" in reloads
        assert "changes(alertmanager_config_last_reload_success_timestamp_seconds[5m]) > 0" in (
            reloads
        )
        assert found["Firing alerts"]["titleFormat"] == "{{alertname}} ({{severity}})"


def test_change_annotations_mark_the_moment_of_the_change(promtool: str, tmp_path: Path) -> None:
    """promtool evaluates the annotation queries: a deploy marks the 5 minutes after the new
    version appears (not a restart of the same one), a drill its whole duration, a reload the
    5 minutes after it."""
    model = committed()[OVERVIEW]
    expr = {a["name"]: a["expr"] for a in model["annotations"]["list"] if a.get("expr")}
    build = 'hero_foundry_build_info{job="fastapi-backend", instance="backend-1:8000"'
    series = [
        # 1.0.0 for 30 minutes, a restart (no sample for 2 minutes), 1.1.0 from minute 60.
        (f'{build}, version="1.0.0", commit="aaa"}}', "1x29 _x2 1x27"),
        (f'{build}, version="1.1.0", commit="bbb"}}', "_x60 1x60"),
        (
            'drill_active{job="fastapi-backend", instance="backend-1:8000", drill="error_rate"}',
            "0x69 1x9 0x40",
        ),
        (
            'prometheus_config_last_reload_success_timestamp_seconds{job="prometheus", '
            'instance="localhost:9090"}',
            "1000x89 6400x30",
        ),
    ]
    cases = [
        (expr["Deploys"], "32m", []),  # the restart of 1.0.0 is no deploy
        (expr["Deploys"], "62m", [('{commit="bbb", version="1.1.0"}', 1)]),
        (expr["Deploys"], "66m", []),
        (expr["Drills"], "75m", [('{drill="error_rate"}', 1)]),
        (expr["Drills"], "85m", []),
        (
            expr["Configuration reloads"],
            "92m",
            [('{instance="localhost:9090", job="prometheus"}', 1)],
        ),
        (expr["Configuration reloads"], "100m", []),
    ]
    document = {
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series],
                "promql_expr_test": [
                    {
                        "expr": e,
                        "eval_time": t,
                        "exp_samples": [{"labels": lb, "value": v} for lb, v in samples],
                    }
                    for e, t, samples in cases
                ],
            }
        ],
    }
    path = tmp_path / "annotations_test.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    result = subprocess.run(
        [promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- Provisioning ---------------------------------------------------------------------------


def test_datasources_are_provisioned_with_the_uids_the_dashboards_use() -> None:
    document = yaml.safe_load((PROVISIONING / "datasources" / "datasources.yml").read_text())
    assert document["apiVersion"] == 1
    by_uid = {d["uid"]: d for d in document["datasources"]}
    assert by_uid["prometheus"]["type"] == "prometheus"
    assert by_uid["prometheus"]["url"] == "http://prometheus:9090"
    assert by_uid["prometheus"]["isDefault"] is True
    assert by_uid["alertmanager"]["type"] == "alertmanager"
    assert by_uid["alertmanager"]["url"] == "http://alertmanager:9093"
    assert by_uid["alertmanager"]["jsonData"]["implementation"] == "prometheus"
    elastic = by_uid["elasticsearch"]
    # TLS, verified against the log stack's CA, like Logstash and Kibana.
    assert (elastic["type"], elastic["url"]) == ("elasticsearch", "https://elasticsearch:9200")
    assert elastic["jsonData"]["tlsAuthWithCACert"] is True
    assert elastic["secureJsonData"]["tlsCACert"].startswith("$__file{")
    assert elastic["jsonData"]["index"] == "hero-foundry-logs-*"
    assert elastic["jsonData"]["timeField"] == "@timestamp"
    # Credentials come from Grafana's environment, never from the file.
    assert elastic["basicAuthUser"].startswith("$")
    assert elastic["secureJsonData"]["basicAuthPassword"].startswith("$")
    used = set().union(*(dashboards.datasource_uids(m) for m in committed().values()))
    assert used <= set(by_uid)
    assert used >= {"prometheus", "elasticsearch"}


def test_an_unprovisioned_datasource_uid_is_reported() -> None:
    model = committed()[OVERVIEW]
    problems = dashboards.structure_problems(OVERVIEW, model, {"prometheus"})
    assert problems == [
        f"{OVERVIEW}: datasource uid 'elasticsearch' is not provisioned "
        f"({dashboards.DATASOURCES_FILE})"
    ]


def test_dashboard_provider_reads_the_compose_mount() -> None:
    document = yaml.safe_load((PROVISIONING / "dashboards" / "dashboards.yml").read_text())
    (provider,) = document["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    assert provider["allowUiUpdates"] is False


# -- PromQL ---------------------------------------------------------------------------------


def promtool_check(promtool: str, tmp_path: Path, exprs: list[str]) -> subprocess.CompletedProcess:
    rules = [{"record": f"dashboard:query_{i}", "expr": e} for i, e in enumerate(exprs)]
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    return subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )


def test_every_query_parses_with_prometheus_own_parser(promtool: str, tmp_path: Path) -> None:
    """Each query, variables substituted, becomes a recording rule promtool must accept."""
    queries = all_queries()
    assert len(queries) > 100
    result = promtool_check(promtool, tmp_path, [q.promql for q in queries])
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(queries)} rules found" in result.stdout


def test_promtool_rejects_a_broken_query(promtool: str, tmp_path: Path) -> None:
    broken = promql.to_promql(
        'sum by (job) (rate(http_requests_total{job=~"$job"}[$__rate_interval])'
    )
    result = promtool_check(promtool, tmp_path, ["up", broken])
    assert result.returncode != 0
    assert "dashboard:query_1" in result.stdout + result.stderr or "parse" in result.stderr


@pytest.mark.parametrize(
    ("expr", "promql_text"),
    [
        ("rate(x[$__rate_interval])", "rate(x[5m])"),
        ('x{job=~"$job", instance=~"${instance}"}', 'x{job=~".+", instance=~".+"}'),
        ('x{job=~"${job:regex}"}', 'x{job=~".+"}'),
        ('x{job=~"[[job]]"}', 'x{job=~".+"}'),
        ("increase(x[$__range])", "increase(x[1h])"),
        (
            'label_values(http_requests_total{job=~"$job"}, instance)',
            'http_requests_total{job=~".+"}',
        ),
        ("label_values(job)", "up"),
    ],
)
def test_grafana_variables_are_substituted(expr: str, promql_text: str) -> None:
    assert promql.to_promql(expr) == promql_text


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'sum by (job, status) (rate(http_requests_total{status=~"5..", job="x"}[5m]))',
            {"http_requests_total"},
        ),
        (
            "histogram_quantile(0.95, sum by (le) (rate(a_bucket[5m]))) > on (job) group_left "
            "(instance) b",
            {"a_bucket", "b"},
        ),
        ('label_replace(up, "dst", "$1", "src", "(.*)")', {"up"}),
        ('{__name__="node_load1", instance="rate"}', {"node_load1"}),
        (
            "avg_over_time(job:slo_x:ratio_rate5m[30d]) / (1 - job:slo:objective)",
            {
                "job:slo_x:ratio_rate5m",
                "job:slo:objective",
            },
        ),
        (
            "max_over_time(count without (cpu) (c)[5m:1m] offset 1h) + vector(1) * scalar(d)",
            {
                "c",
                "d",
            },
        ),
        ('sum(x{le="2.0"}) by (job) or absent(y) unless on () vector(time())', {"x", "y"}),
    ],
)
@pytest.mark.usefixtures("parser")
def test_metric_names_come_from_selectors_only(expr: str, names: set[str]) -> None:
    assert promql.metric_names(expr) == names


@pytest.mark.usefixtures("parser")
def test_metric_names_refuses_broken_queries_and_name_patterns() -> None:
    with pytest.raises(promql.PromQLError, match="does not parse"):
        promql.metric_names("sum(rate(x[5m])")
    with pytest.raises(promql.PromQLError, match="does not parse"):
        promql.metric_names(promql.substitute("x[$job]"))  # a variable outside a matcher
    with pytest.raises(promql.PromQLError, match="pattern"):
        promql.metric_names('{__name__=~"node_.*"}')


def test_every_query_is_found_panels_variables_and_annotations() -> None:
    where = {q.where.split(" ")[0] for q in all_queries()}
    assert where == {"panel", "variable", "annotation"}
    # Elasticsearch's Lucene query is not PromQL and is not collected as such.
    assert not [q for q in all_queries() if "log.level" in q.expr]


# -- Every metric is produced by something --------------------------------------------------


def test_app_metric_names_include_series_suffixes_collectors_and_scrape_time_gauges() -> None:
    names = sources.app_metric_names()
    assert {
        "http_requests_total",
        "http_requests_created",
        "http_request_duration_seconds_bucket",
        "http_request_duration_seconds_count",
        "http_request_duration_seconds_sum",
        "active_users_current",
        "active_sessions_current",
        "process_cpu_seconds_total",
        "python_info",
    } <= names
    assert "http_requests" not in names and "http_request_duration_seconds" not in names


def test_exposition_names_are_kept_as_written() -> None:
    text = (
        "# TYPE pg_stat_database_xact_commit counter\n"
        'pg_stat_database_xact_commit{datname="x"} 3\n'
        "node_load1 0.5\n"
    )
    assert sources.exposition_names(text) == {"pg_stat_database_xact_commit", "node_load1"}


@pytest.fixture(scope="module")
def scraped() -> sources.Scraped:
    """The real node, postgres and redis exporters, Prometheus and Alertmanager, started on free
    loopback ports, scraped once, and stopped."""
    result = sources.scrape_live()
    if result.missing:
        unavailable("exporters", "; ".join(f"{job}: {why}" for job, why in result.missing.items()))
    return result


@pytest.fixture(scope="module")
def known(parser: None, scraped: sources.Scraped) -> Known:
    return Known(
        {
            "app": sources.app_metric_names(),
            "recording rules": sources.recording_rule_names(RULES),
            "prometheus (synthetic series)": set(sources.PROMETHEUS_SYNTHETIC),
            **scraped.names,
        },
        {},
    )


def test_every_metric_a_query_reads_is_produced(known: Known) -> None:
    problems = [
        problem
        for name, model in committed().items()
        for problem in dashboards.query_problems(name, model, known)
    ]
    assert problems == []


def test_exporter_metrics_come_from_the_exporter_of_their_job(known: Known) -> None:
    expected = {"node_": "node-exporter", "pg_": "postgresql", "redis_": "redis"}
    seen: set[str] = set()
    for query in all_queries():
        for metric in promql.metric_names(query.promql):
            for prefix, job in expected.items():
                if metric.startswith(prefix):
                    assert metric in known.by_source[job], (metric, job)
                    seen.add(job)
    assert seen == set(expected.values())


def test_slo_and_cache_queries_read_recording_rules(known: Known) -> None:
    recorded = {
        metric
        for query in all_queries()
        for metric in promql.metric_names(query.promql)
        if known.source_of(metric) == "recording rules"
    }
    assert {
        "cache_hit_ratio",
        "job:http_requests:rate5m",
        "job:slo_availability:objective",
        "job:slo_latency:objective",
        *(f"job:slo_availability_errors:ratio_rate{w}" for w in slo.WINDOWS),
        *(f"job:slo_latency_slow:ratio_rate{w}" for w in slo.WINDOWS),
    } <= recorded


def test_a_metric_nothing_produces_is_reported(known: Known) -> None:
    model = committed()[OVERVIEW]
    model["panels"][1]["targets"][0]["expr"] = 'sum(rate(http_request_totl{job=~"$job"}[5m]))'
    problems = dashboards.query_problems(OVERVIEW, model, known)
    assert len(problems) == 1
    assert "http_request_totl is produced by nothing we know" in problems[0]


def test_check_reports_nothing_for_the_committed_dashboards(known: Known) -> None:
    assert dashboards.check(ROOT, known=known) == []


# -- The figures the panels compute ---------------------------------------------------------

API = 'job="fastapi-backend", method="GET", endpoint="/api/characters"'


def target(dashboard: str, title: str, legend: str) -> str:
    """A panel query as Prometheus receives it with $job = fastapi-backend and every instance."""
    (found,) = [
        t for t in panel(committed()[dashboard], title)["targets"] if t["legendFormat"] == legend
    ]
    return promql.to_promql(found["expr"], {"job": "fastapi-backend", "instance": ".+"})


def test_panels_compute_the_right_figures_on_known_series(promtool: str, tmp_path: Path) -> None:
    """promtool evaluates panel queries, with the repository's recording rules, on two hours of
    synthetic traffic: 0.05 % errors, 1 % of requests slower than 2 s, a character a minute,
    42 active users reported by both replicas."""
    cases = [
        # 5 errors in 10 000 requests a minute: 0.05 %, not the customer's "each 5xx series /
        # itself".
        (target(OVERVIEW, "Error ratio (5xx)", "{{job}}"), '{job="fastapi-backend"}', 0.0005),
        # One character a minute is 60 an hour (the customer's rate() said 0.0167).
        (target(OVERVIEW, "Business Metrics", "Characters Created/Hour"), "{}", 60),
        # Both replicas report the same shared figure: the panel shows it once, not twice.
        (target(PERFORMANCE, "Active Users", "Active Users"), "{}", 42),
        # 0.05 % errors against a 99.9 % objective burn the budget at half speed...
        (
            target(SLO, "Availability burn rate by window", "1h"),
            '{job="fastapi-backend"}',
            0.5,
        ),
        # ...so half of it remains.
        (
            target(SLO, "Availability error budget remaining (30d)", "remaining"),
            '{job="fastapi-backend"}',
            0.5,
        ),
        # 1 % slower than 2 s against a 99 % objective: burn rate 1.
        (target(SLO, "Latency burn rate by window", "6h"), '{job="fastapi-backend"}', 1),
    ]
    series = [
        (f'http_requests_total{{{API}, instance="backend-1:8000", status="200"}}', "0+9995x120"),
        (f'http_requests_total{{{API}, instance="backend-1:8000", status="500"}}', "0+5x120"),
        (
            f'http_request_duration_seconds_bucket{{{API}, instance="backend-1:8000", le="2.0"}}',
            "0+9900x120",
        ),
        (
            f'http_request_duration_seconds_bucket{{{API}, instance="backend-1:8000", le="+Inf"}}',
            "0+10000x120",
        ),
        (
            f'http_request_duration_seconds_count{{{API}, instance="backend-1:8000"}}',
            "0+10000x120",
        ),
        ('characters_created_total{job="fastapi-backend", instance="backend-1:8000"}', "0+1x120"),
        ('active_users_current{job="fastapi-backend", instance="backend-1:8000"}', "42x120"),
        ('active_users_current{job="fastapi-backend", instance="backend-2:8000"}', "42x120"),
    ]
    document = {
        "rule_files": [str(p) for p in sorted(RULES.glob("*.yml"))],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series],
                "promql_expr_test": [
                    {
                        # Rounded to 1e-4: 0.0005 / (1 - 0.999) is 0.49999999999999944 in floats.
                        "expr": f"round({expr}, 0.0001)",
                        "eval_time": "2h",
                        "exp_samples": [{"labels": labels, "value": value}],
                    }
                    for expr, labels, value in cases
                ],
            }
        ],
    }
    path = tmp_path / "dashboard_figures_test.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    result = subprocess.run(
        [promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr

    # The same check fails on a wrong figure: the customer's per-second "per hour".
    document["tests"][0]["promql_expr_test"] = [
        {
            "expr": 'sum(rate(characters_created_total{job="fastapi-backend"}[1h]))',
            "eval_time": "2h",
            "exp_samples": [{"labels": "{}", "value": 60}],
        }
    ]
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    wrong = subprocess.run(
        [promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=120
    )
    assert wrong.returncode != 0
