"""The SLO dashboard's 30-day panels are ratios of sums and never go NaN in quiet periods.

``monitoring/grafana/tests/slo_panels_test.yml`` evaluates the panels' exact queries with promtool
(the repository's recording rules, series with quiet stretches and a gap) against exact figures.
Here: that file holds exactly the queries the generated dashboard sends (so it cannot drift), it
passes, a wrong figure fails it, and on the same series the old form (an average over 30 days of
the 5-minute error share) is NaN, as is the ratio of sums without its guard before any traffic.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from hero_foundry.monitoring.grafana import promql

ROOT = Path(__file__).parents[2]
DASHBOARD = ROOT / "monitoring" / "grafana" / "dashboards" / "hero-foundry-slo.json"
PROMTOOL_FILE = ROOT / "monitoring" / "grafana" / "tests" / "slo_panels_test.yml"
RECORDING_RULES = ROOT / "monitoring" / "prometheus" / "rules" / "hero-foundry-recording.yml"

#: The panels whose figure covers the SLO period (the last two: the budget over time).
PERIOD_PANELS = (
    "Availability SLI (30d)",
    "Availability error budget remaining (30d)",
    "Availability error budget remaining",
    "Latency SLI (30d)",
    "Latency error budget remaining (30d)",
    "Latency error budget remaining",
)
JOB = "fastapi-backend"
#: What the dashboard showed before: the 30-day average of the 5-minute error share.
OLD_FORMS = {
    "Availability SLI (30d)": (
        f'1 - avg_over_time(job:slo_availability_errors:ratio_rate5m{{job="{JOB}"}}[30d])'
    ),
    "Availability error budget remaining (30d)": (
        f'1 - avg_over_time(job:slo_availability_errors:ratio_rate5m{{job="{JOB}"}}[30d])'
        f' / on (job) group_left () (1 - job:slo_availability:objective{{job="{JOB}"}})'
    ),
    "Latency SLI (30d)": (
        f'1 - avg_over_time(job:slo_latency_slow:ratio_rate5m{{job="{JOB}"}}[30d])'
    ),
    "Latency error budget remaining (30d)": (
        f'1 - avg_over_time(job:slo_latency_slow:ratio_rate5m{{job="{JOB}"}}[30d])'
        f' / on (job) group_left () (1 - job:slo_latency:objective{{job="{JOB}"}})'
    ),
}


def panel_queries() -> dict[str, str]:
    """Title -> the panel's query as Prometheus receives it with $job = fastapi-backend."""
    model = json.loads(DASHBOARD.read_text())
    found = {}
    for panel in model["panels"]:
        if panel.get("title") in PERIOD_PANELS:
            (target,) = panel["targets"]
            found[panel["title"]] = promql.to_promql(target["expr"], {"job": JOB})
    assert sorted(found) == sorted(PERIOD_PANELS)
    return found


def document() -> dict[str, Any]:
    return yaml.safe_load(PROMTOOL_FILE.read_text())


def cases() -> list[dict[str, Any]]:
    return [case for test in document()["tests"] for case in test["promql_expr_test"]]


def run(promtool: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=300
    )


def variant(tmp_path: Path, exprs: dict[str, str]) -> Path:
    """The promtool file, each query replaced by ``exprs[query]``, read from ``tmp_path``."""
    changed = document()
    changed["rule_files"] = [str(RECORDING_RULES)]
    for test in changed["tests"]:
        test["promql_expr_test"] = [
            {**case, "expr": exprs[case["expr"]]}
            for case in test["promql_expr_test"]
            if case["expr"] in exprs
        ]
    path = tmp_path / "variant_test.yml"
    path.write_text(yaml.safe_dump(changed, sort_keys=False))
    return path


def got(output: str) -> list[str]:
    """The values promtool reports for failed cases (``got: {labels} value``)."""
    return re.findall(r"^\s*got: (.*)$", output, re.M)


def test_the_promtool_file_evaluates_exactly_the_panel_queries() -> None:
    queries = panel_queries()
    in_file = {case["expr"] for case in cases()}
    assert in_file == set(queries.values())
    # The stat and the graph of the budget remaining are one query.
    for sli in ("Availability", "Latency"):
        period = f"{sli} error budget remaining (30d)"
        assert queries[period] == queries[f"{sli} error budget remaining"]
    # Each query at every moment: before any user request, in a quiet stretch, in the gap, in a
    # quiet stretch after more traffic.
    times: dict[str, set[str]] = {}
    for case in cases():
        times.setdefault(case["expr"], set()).add(case["eval_time"])
    assert {frozenset(t) for t in times.values()} == {frozenset({"20m", "200m", "245m", "470m"})}


def test_the_promtool_series_have_quiet_stretches_and_gaps() -> None:
    (test,) = document()["tests"]
    user = [s for s in test["input_series"] if 'endpoint="/metrics"' not in s["series"]]
    assert all("_x" in s["values"] for s in test["input_series"])  # the api stopped
    # Counters that stop moving after traffic: a non-zero value repeated (``axN``).
    moving = [s for s in user if "+" in s["values"]]
    assert len(moving) >= 6
    assert all(re.search(r"\b[1-9]\d*x\d+\b", s["values"]) for s in moving)
    assert document()["rule_files"] == ["../../prometheus/rules/hero-foundry-recording.yml"]


def test_the_period_panels_are_ratios_of_sums() -> None:
    for title, query in panel_queries().items():
        assert "avg_over_time" not in query, title
        assert query.count("sum_over_time(") == 2, title
        bad, total = re.findall(r"sum_over_time\(([\w:]+)\{", query)
        assert (bad, total) in {
            ("job:http_user_errors:rate5m", "job:http_user_requests:rate5m"),
            ("job:http_latency_slow:rate5m", "job:http_latency_requests:rate5m"),
        }, title


def test_promtool_finds_the_exact_figures(promtool: str) -> None:
    result = run(promtool, PROMTOOL_FILE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_a_wrong_figure_fails(promtool: str, tmp_path: Path) -> None:
    changed = document()
    changed["rule_files"] = [str(RECORDING_RULES)]
    case = changed["tests"][0]["promql_expr_test"][4]  # 200m, availability SLI: 0.9995
    assert case["exp_samples"][0]["value"] == 0.9995
    case["exp_samples"][0]["value"] = 0.9996
    path = tmp_path / "wrong_test.yml"
    path.write_text(yaml.safe_dump(changed, sort_keys=False))
    result = run(promtool, path)
    assert result.returncode != 0
    assert got(result.stdout + result.stderr) == ['{job="fastapi-backend"} 9.995E-01']


def test_the_old_average_of_ratios_is_nan_on_the_same_series(promtool: str, tmp_path: Path) -> None:
    """Every quiet 5 minutes records a 0/0 error share: NaN. Its average over 30 days is NaN
    for 30 days, at every moment the new panels show a figure."""
    queries = panel_queries()
    path = variant(tmp_path, {queries[title]: old for title, old in OLD_FORMS.items()})
    result = run(promtool, path)
    assert result.returncode != 0
    values = got(result.stdout + result.stderr)
    assert len(values) == 4 * len(OLD_FORMS)  # every case failed ...
    assert set(values) == {'{job="fastapi-backend"} NaN'}  # ... with NaN


def test_without_its_guard_the_ratio_of_sums_is_nan_before_any_user_request(
    promtool: str, tmp_path: Path
) -> None:
    """``sum / (sum > 0)``: with no user request in the period there is no figure ("no user
    requests" on the stat), where the bare ratio of sums is 0/0."""
    queries = panel_queries()
    bare = {q: q.replace("[30d]) > 0)", "[30d]))") for q in queries.values()}
    assert all(bare[q] != q for q in bare)
    result = run(promtool, variant(tmp_path, bare))
    assert result.returncode != 0
    values = got(result.stdout + result.stderr)
    # Only the 20m cases fail (4 queries): later the bare form gives the same figures.
    assert values == ['{job="fastapi-backend"} NaN'] * 4
