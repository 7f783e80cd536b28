"""The histograms resolve each alert's threshold: a p95 near the threshold is reported within
10 % of the true p95.

``histogram_quantile`` interpolates linearly inside the bucket holding the quantile, so its error
is bounded by that bucket's width. For every alert on a ``histogram_quantile`` (found in the
rules, not listed here) and its histogram's buckets (from observability/metrics.py), samples of
several shapes whose true p95 lies from 5 % under to 5 % over the threshold are bucketed as
prometheus_client does, the p95 is computed as Prometheus computes it, and compared with the
truth. The Python quantile is checked against promtool's own on one case.
"""

from __future__ import annotations

import bisect
import math
import random
import re
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import yaml
from prometheus_client import Histogram

from hero_foundry.observability import metrics

REPO = Path(__file__).parents[2]
RULES = sorted((REPO / "monitoring" / "prometheus" / "rules").glob("*.yml"))
TOLERANCE = 0.10


def histograms() -> dict[str, Sequence[float]]:
    """Every histogram of the app by name: its finite upper bounds."""
    return {
        value._name: tuple(value._upper_bounds[:-1])
        for value in vars(metrics).values()
        if isinstance(value, Histogram)
    }


def quantile_alerts() -> dict[str, tuple[str, float]]:
    """alert -> (histogram, threshold) for every alert comparing a p95 with a threshold, through
    the recording rule it reads."""
    records: dict[str, str] = {}
    alerts: dict[str, str] = {}
    for path in RULES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "record" in rule:
                    records[rule["record"]] = rule["expr"]
                else:
                    alerts[rule["alert"]] = rule["expr"]
    found = {}
    for alert, expr in alerts.items():
        match = re.search(r"([a-z_:0-9]+) > ([0-9.]+)", expr)
        if not match or match.group(1) not in records:
            continue
        source = records[match.group(1)]
        quantile = re.search(r"histogram_quantile\(0\.95,\s*(.+)\)\s*$", source, re.S)
        if not quantile:
            continue
        inner = quantile.group(1)
        while inner.strip() in records:
            inner = records[inner.strip()]  # a recorded sum of buckets
        histogram = re.search(r"rate\((\w+)_bucket\b", inner).group(1)  # type: ignore[union-attr]
        found[alert] = (histogram, float(match.group(2)))
    return found


def prometheus_quantile(q: float, bounds: Sequence[float], counts: Sequence[int]) -> float:
    """Prometheus' bucketQuantile (promql/quantile.go) over cumulative counts per bound, the
    last one +Inf: linear interpolation inside the bucket where the rank falls (from 0 for the
    first bucket), the last finite bound if it falls into +Inf."""
    total = counts[-1]
    rank = q * total
    index = bisect.bisect_left(counts, rank)
    if index == len(bounds):  # the +Inf bucket
        return bounds[-1]
    start, below = (0.0, 0) if index == 0 else (bounds[index - 1], counts[index - 1])
    return start + (bounds[index] - start) * (rank - below) / (counts[index] - below)


def observe(values: Sequence[float], bounds: Sequence[float]) -> list[int]:
    """Cumulative counts per bound and +Inf, as prometheus_client fills them (value <= bound)."""
    per_bucket = [0] * (len(bounds) + 1)
    for value in values:
        per_bucket[bisect.bisect_left(bounds, value)] += 1
    cumulative, running = [], 0
    for count in per_bucket:
        running += count
        cumulative.append(running)
    return cumulative


def true_p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


#: Sample shapes, each scaled so that its true p95 is a given value. The first is what a fault
#: does: the same delay added to every request (a drill's 3 s, a stuck dependency's timeout).
SHAPES: dict[str, Callable[[random.Random], float]] = {
    "one delay for all": lambda rng: 1.0 + rng.random() / 100,
    "uniform": lambda rng: rng.random(),
    "lognormal": lambda rng: rng.lognormvariate(0, 0.6),
    "exponential tail": lambda rng: rng.expovariate(1.0),
    "fast majority, slow tail": lambda rng: (
        rng.uniform(0.02, 0.1) if rng.random() < 0.9 else rng.uniform(0.6, 1.4)
    ),
}


def samples(shape: str, target_p95: float, n: int = 4000, seed: int = 7) -> list[float]:
    rng = random.Random(seed)
    raw = [SHAPES[shape](rng) for _ in range(n)]
    scale = target_p95 / true_p95(raw)
    return [value * scale for value in raw]


def worst_error(bounds: Sequence[float], threshold: float) -> tuple[float, str]:
    worst, where = 0.0, ""
    for shape in SHAPES:
        for step in range(-5, 6):
            values = samples(shape, threshold * (1 + step / 100))
            truth = true_p95(values)
            reported = prometheus_quantile(0.95, bounds, observe(values, bounds))
            error = abs(reported - truth) / truth
            if error > worst:
                worst, where = error, f"{shape}, true p95 {truth:g}: reported {reported:g}"
    return worst, where


def test_every_p95_alert_is_found() -> None:
    assert quantile_alerts() == {
        "HighResponseTime": ("http_request_duration_seconds", 2.0),
        "CharacterCreationSlow": ("character_creation_duration_seconds", 300.0),
        "LevelUpSlow": ("level_up_duration_seconds", 120.0),
    }


@pytest.mark.parametrize("alert", sorted(quantile_alerts()))
def test_a_p95_near_the_threshold_is_reported_within_10_percent(alert: str) -> None:
    histogram, threshold = quantile_alerts()[alert]
    bounds = histograms()[histogram]
    assert threshold in bounds, "the threshold is a bucket bound: 'over it' is exact"
    worst, where = worst_error(bounds, threshold)
    assert worst <= TOLERANCE, f"{alert}: {worst:.1%} off ({where})"


@pytest.mark.parametrize(
    ("bounds", "threshold"),
    [
        ((0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0), 2.0),  # the api's buckets before
        ((180, 240, 300, 360, 480, 600), 300.0),  # the wizard's before
    ],
)
def test_the_check_fails_with_buckets_20_percent_apart(
    bounds: tuple[float, ...], threshold: float
) -> None:
    worst, _ = worst_error(bounds, threshold)
    assert worst > TOLERANCE


def test_a_3_second_latency_reads_as_3_seconds_not_as_5() -> None:
    """Every request 3.0 s (plus a little): the old buckets (2.5, 5) reported a p95 of 4.875 s."""
    values = [3.0 + i / 10_000 for i in range(100)]
    bounds = histograms()["http_request_duration_seconds"]
    reported = prometheus_quantile(0.95, bounds, observe(values, bounds))
    assert reported <= 4.0
    old = (1.5, 2.0, 2.5, 5.0, 10.0)
    assert prometheus_quantile(0.95, old, observe(values, old)) == pytest.approx(4.875)


def test_the_python_quantile_is_prometheus_own(promtool: str, tmp_path: Path) -> None:
    """promtool evaluates histogram_quantile on the same bucket counts and agrees."""
    bounds = histograms()["character_creation_duration_seconds"]
    counts = observe(samples("lognormal", 310.0), bounds)
    expected = prometheus_quantile(0.95, bounds, counts)
    series = [
        f"  - series: 'character_creation_duration_seconds_bucket{{le=\"{le}\"}}'\n"
        f"    values: '0+{count}x10'"
        for le, count in zip([*(f"{b:.1f}" for b in bounds), "+Inf"], counts, strict=True)
    ]
    (tmp_path / "test.yml").write_text(
        "tests:\n"
        "- interval: 1m\n"
        "  input_series:\n"
        + "\n".join("  " + line for s in series for line in s.splitlines())
        + "\n  promql_expr_test:\n"
        "    - expr: round(histogram_quantile(0.95,"
        " rate(character_creation_duration_seconds_bucket[5m])) * 1000)\n"
        "      eval_time: 10m\n"
        "      exp_samples:\n"
        f"        - value: {round(expected * 1000)}\n"
    )
    result = subprocess.run(
        [promtool, "test", "rules", "test.yml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
