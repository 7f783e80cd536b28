"""The metric definitions follow the conventions, and the documentation lists every one."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import Counter, Gauge, Histogram

from hero_foundry.observability import metrics

DOC = Path(__file__).parents[2] / "docs" / "observability.md"
DEFINED = [
    value for value in vars(metrics).values() if isinstance(value, Counter | Gauge | Histogram)
]


def exposed_name(metric: Counter | Gauge | Histogram) -> str:
    return metric._name + ("_total" if isinstance(metric, Counter) else "")


def test_every_metric_has_help_a_unit_and_bounded_label_names() -> None:
    assert len(DEFINED) >= 30
    for metric in DEFINED:
        name = exposed_name(metric)
        assert metric._documentation.strip(), name
        if isinstance(metric, Histogram) and "duration" in name:
            assert name.endswith("_seconds"), name
        if "size" in name:
            assert name.endswith("_bytes"), name
        assert "path" not in metric._labelnames and "user" not in metric._labelnames, name


def test_every_metric_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for metric in DEFINED:
        assert f"`{exposed_name(metric)}`" in text or exposed_name(metric) in text, metric._name
    for name in (metrics.ACTIVE_USERS_NAME, metrics.ACTIVE_SESSIONS_NAME):
        assert f"`{name}`" in text
