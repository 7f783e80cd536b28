"""Time to notify: the theoretical minimum of an alert's path from fault to notification, read
from a Prometheus and an Alertmanager configuration (the generated fast ones, or the
repository's production files), and the table/JSON of the measured figures.

The minimum of one alert is

    scrape interval of the job that sees the fault
    + the rule's ``for``
    + the rule group's evaluation interval
    + ``group_wait`` of the Alertmanager route the alert takes

(the fault is seen at the next scrape at worst one interval later, the rule needs ``for`` of
consecutive true evaluations, the evaluation that fires it comes at most one interval after the
sample, and Alertmanager holds a new group for ``group_wait``). Rate windows, Prometheus' resend
delay and the notification's own delivery are not part of it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hero_foundry.stack.config import parse_duration


def seconds(duration: str) -> float:
    return parse_duration(duration) / 1000.0


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# -- Prometheus -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    alert: str
    group: str
    interval: float  # the group's evaluation interval
    for_: float
    labels: dict[str, str]
    annotations: dict[str, str]


def rules(rule_files: Iterable[Path], global_eval: float) -> dict[str, list[Rule]]:
    """Every alerting rule of the files by name (a name may have several rules)."""
    found: dict[str, list[Rule]] = {}
    for path in rule_files:
        for group in (load(path) or {}).get("groups") or []:
            interval = seconds(group["interval"]) if group.get("interval") else global_eval
            for rule in group.get("rules") or []:
                if "alert" not in rule:
                    continue
                found.setdefault(rule["alert"], []).append(
                    Rule(
                        rule["alert"],
                        group["name"],
                        interval,
                        seconds(rule["for"]) if rule.get("for") else 0.0,
                        dict(rule.get("labels") or {}),
                        dict(rule.get("annotations") or {}),
                    )
                )
    return found


def scrape_interval(config: Mapping[str, Any], job: str | None) -> float:
    """The job's scrape interval (0 for an alert that reads no scraped series)."""
    if job is None:
        return 0.0
    default = (config.get("global") or {}).get("scrape_interval", "1m")
    for scrape in config.get("scrape_configs") or []:
        if scrape.get("job_name") == job:
            return seconds(scrape.get("scrape_interval", default))
    raise KeyError(f"no scrape job {job!r} in the Prometheus configuration")


def evaluation_interval(config: Mapping[str, Any]) -> float:
    return seconds((config.get("global") or {}).get("evaluation_interval", "1m"))


_TEMPLATE_LABEL = re.compile(r"\{\{\s*\$labels\.(\w+)\s*\}\}")


def render(text: str, labels: Mapping[str, str]) -> str:
    """``{{ $labels.job }}`` in a rule's label or annotation replaced by the label's value."""
    return _TEMPLATE_LABEL.sub(lambda m: labels.get(m.group(1), ""), text)


# -- Alertmanager routes --------------------------------------------------------------------------
_MATCHER = re.compile(r'^\s*(\w+)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$')
_INHERITED = ("receiver", "group_wait", "group_interval", "repeat_interval")
#: Alertmanager's defaults for a route that sets nothing.
_DEFAULTS = {"group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h"}


def _matches(route: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    conditions: list[tuple[str, str, str]] = []
    for text in route.get("matchers") or []:
        match = _MATCHER.match(text)
        if match is None:
            raise ValueError(f"matcher not understood: {text!r}")
        conditions.append(match.groups())  # type: ignore[arg-type]
    conditions += [(k, "=", str(v)) for k, v in (route.get("match") or {}).items()]
    conditions += [(k, "=~", str(v)) for k, v in (route.get("match_re") or {}).items()]
    for name, op, value in conditions:
        actual = labels.get(name, "")
        ok = {
            "=": actual == value,
            "!=": actual != value,
            "=~": re.fullmatch(value, actual) is not None,
            "!~": re.fullmatch(value, actual) is None,
        }[op]
        if not ok:
            return False
    return True


def routes(config: Mapping[str, Any], labels: Mapping[str, str]) -> list[dict[str, str]]:
    """The routes an alert with ``labels`` takes (Alertmanager's tree walk: the first matching
    child, and the following ones while ``continue`` is set; a route without a matching child is
    the one that notifies), each with its inherited receiver and timings."""

    def walk(route: Mapping[str, Any], inherited: dict[str, str]) -> list[dict[str, str]]:
        settings = {**inherited, **{k: str(route[k]) for k in _INHERITED if k in route}}
        found: list[dict[str, str]] = []
        for child in route.get("routes") or []:
            if _matches(child, labels):
                found += walk(child, settings)
                if not child.get("continue", False):
                    break
        return found or [settings]

    return walk(config["route"], dict(_DEFAULTS))


# -- One alert's minimum --------------------------------------------------------------------------
@dataclass(frozen=True)
class Minimum:
    """The theoretical minimum of one alert through one configuration, in seconds."""

    scrape_interval: float
    for_: float
    evaluation_interval: float
    group_wait: float
    receivers: list[str]

    @property
    def total(self) -> float:
        return self.scrape_interval + self.for_ + self.evaluation_interval + self.group_wait

    def formula(self) -> str:
        return (
            f"{_num(self.scrape_interval)} + {_num(self.for_)} + {_num(self.evaluation_interval)}"
            f" + {_num(self.group_wait)} = {_num(self.total)} s"
        )


def _num(value: float) -> str:
    return f"{value:g}"


@dataclass
class Configuration:
    """A Prometheus configuration, its rule files and an Alertmanager configuration."""

    prometheus: dict[str, Any]
    rules: dict[str, list[Rule]]
    alertmanager: dict[str, Any]

    @classmethod
    def read(
        cls, prometheus_file: Path, rule_files: Iterable[Path], alertmanager_file: Path
    ) -> Configuration:
        prometheus = load(prometheus_file)
        return cls(
            prometheus,
            rules(rule_files, evaluation_interval(prometheus)),
            load(alertmanager_file),
        )

    @classmethod
    def production(cls, root: Path) -> Configuration:
        """The repository's own monitoring/ files."""
        prometheus_dir = root / "monitoring" / "prometheus"
        config = load(prometheus_dir / "prometheus.yml")
        files = sorted(p for g in config.get("rule_files") or [] for p in prometheus_dir.glob(g))
        return cls.read(
            prometheus_dir / "prometheus.yml",
            files,
            root / "monitoring" / "alertmanager" / "alertmanager.yml",
        )

    def rule(self, alertname: str) -> Rule:
        found = self.rules.get(alertname) or []
        if len(found) != 1:
            raise KeyError(f"{len(found)} alerting rules named {alertname!r}")
        return found[0]

    def labels(self, alertname: str, job: str | None) -> dict[str, str]:
        """The labels the alert carries in Alertmanager: its name, the rule's labels (templates
        rendered) and the external labels."""
        base = {"alertname": alertname, **({"job": job} if job else {})}
        rule = self.rule(alertname)
        labels = {**base, **{k: render(v, base) for k, v in rule.labels.items()}}
        external = (self.prometheus.get("global") or {}).get("external_labels") or {}
        return {**{k: str(v) for k, v in external.items()}, **labels}

    def summary(self, alertname: str, job: str | None) -> str:
        return render(
            self.rule(alertname).annotations.get("summary", ""), self.labels(alertname, job)
        )

    def receivers(self, alertname: str, job: str | None) -> list[str]:
        return [r["receiver"] for r in routes(self.alertmanager, self.labels(alertname, job))]

    def minimum(self, alertname: str, job: str | None) -> Minimum:
        rule = self.rule(alertname)
        taken = routes(self.alertmanager, self.labels(alertname, job))
        return Minimum(
            scrape_interval=scrape_interval(self.prometheus, job),
            for_=rule.for_,
            evaluation_interval=rule.interval,
            group_wait=min(seconds(r["group_wait"]) for r in taken),
            receivers=[r["receiver"] for r in taken],
        )


# -- Results --------------------------------------------------------------------------------------
@dataclass
class Result:
    """One drill's measured time to notify (fast mode) and its minima."""

    drill: str
    alert: str
    receivers: list[str]
    fault_at: str
    #: Seconds from the fault to the first notification of the alert, and to each receiver's.
    measured: float
    per_receiver: dict[str, float]
    fast_minimum: dict[str, Any]
    production_minimum: dict[str, Any]
    #: Seconds from the fault's removal to the last receiver's "resolved" (None: not measured).
    resolved_after: float | None = None
    #: Seconds from the fault until Prometheus had the alert pending (its ``activeAt``) and
    #: firing (Alertmanager's ``startsAt``, which Prometheus sets when the alert fires).
    pending_after: float | None = None
    firing_after: float | None = None
    #: What people got (hero_foundry.stack.incidents.DrillOutcome): pages, page triggers, time
    #: to page, false resolves, flaps, resolves after the fix.
    outcome: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def row(self) -> list[str]:
        def num(value: float | None) -> str:
            return "-" if value is None else f"{value:.1f}"

        return [
            self.drill,
            self.alert,
            ", ".join(self.receivers),
            num(self.measured),
            f"{self.fast_minimum['total']:g}",
            f"{num(self.pending_after)} / {num(self.firing_after)}",
            num(self.resolved_after),
            f"{self.production_minimum['total']:g}",
            *self._outcome(num),
        ]

    def _outcome(self, num: Any) -> list[str]:
        if self.outcome is None:
            return ["-"] * 4
        pages = f"{self.outcome['pages']} ({self.outcome['page_triggers']} triggers)"
        return [
            pages,
            num(self.outcome["time_to_page"]),
            str(self.outcome["false_resolves"]),
            str(self.outcome["flaps"]),
        ]


def minimum_dict(minimum: Minimum) -> dict[str, Any]:
    return {**asdict(minimum), "total": minimum.total, "formula": minimum.formula()}


HEADER = [
    "drill",
    "alert",
    "receivers",
    "fast: measured s",
    "fast: minimum s",
    "pending / firing after s",
    "resolved after s",
    "production: minimum s",
    "pages",
    "time to page s",
    "false resolves",
    "flaps",
]


def table(results: Iterable[Result]) -> str:
    """A plain-text table (pytest's terminal summary, docs)."""
    rows = [HEADER, *(r.row() for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def write_json(path: Path, results: Iterable[Result], **extra: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {**extra, "drills": [asdict(r) for r in results]}
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path
