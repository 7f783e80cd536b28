"""Where the metrics a dashboard reads come from, found out rather than listed by hand.

- the service: every metric prometheus_client's default registry holds once
  ``hero_foundry.observability.metrics`` is imported (with the names a scrape shows:
  ``_total``, ``_created``, ``_bucket``, ``_count``, ``_sum``), the process and platform
  collectors, and the two gauges ``/metrics`` computes at scrape time (active users / sessions);
- the recording rules of ``monitoring/prometheus/rules/*.yml`` (their ``record:`` names);
- Prometheus' own series that no /metrics page shows (``up``, ``scrape_*``, ``ALERTS``);
- the exporters, Prometheus and Alertmanager: the real binaries, started on free loopback ports
  and scraped once (:func:`scrape_live`), so a name the installed version does not expose is
  caught. node_exporter, postgres_exporter and redis_exporter need PostgreSQL and Redis to
  answer, or they only expose their own health.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from hero_foundry.processes import free_port, stop

#: Series Prometheus writes itself for every target and alert (never on a /metrics page).
PROMETHEUS_SYNTHETIC = frozenset(
    {
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
        "ALERTS",
        "ALERTS_FOR_STATE",
    }
)

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
}


def app_metric_names() -> set[str]:
    """Every series name the service's ``/metrics`` can show."""
    from prometheus_client import REGISTRY

    from hero_foundry.observability import metrics

    names = {metrics.ACTIVE_USERS_NAME, metrics.ACTIVE_SESSIONS_NAME}
    for family in REGISTRY.collect():
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


def recording_rule_names(rules_dir: Path) -> set[str]:
    """The ``record:`` names of every rule file in ``rules_dir``."""
    names: set[str] = set()
    for path in sorted(rules_dir.glob("*.yml")) + sorted(rules_dir.glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for group in document.get("groups") or []:
            for rule in group.get("rules") or []:
                if "record" in rule:
                    names.add(rule["record"])
    return names


_SERIES_NAME = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?=[{\s])")


def exposition_names(text: str) -> set[str]:
    """The series names of a Prometheus text exposition, exactly as written.

    (prometheus_client's parser is not used: it renames a counter sample written without
    ``_total``, such as postgres_exporter's ``pg_stat_database_xact_commit``, to ``..._total``,
    a name Prometheus never stores.)
    """
    names = set()
    for line in text.splitlines():
        match = _SERIES_NAME.match(line)
        if match:
            names.add(match.group(1))
    return names


# -- The real binaries ----------------------------------------------------------------------
POSTGRES_DSN = os.environ.get(
    "HERO_FOUNDRY_EXPORTER_POSTGRES_DSN",
    "postgresql://postgres@127.0.0.1:5432/postgres?sslmode=disable",
)
REDIS_ADDR = os.environ.get("HERO_FOUNDRY_EXPORTER_REDIS_ADDR", "redis://127.0.0.1:6379")


@dataclass(frozen=True)
class Binary:
    """A program serving metrics: how to start it on ``port``, and when its page is complete."""

    job: str  # the scrape job that scrapes it in production
    candidates: tuple[str, ...]  # executable names, first found wins
    args: Callable[[int, Path, dict[str, int]], list[str]]
    env: dict[str, str] = field(default_factory=dict)
    #: The page is complete (e.g. the exporter reached its database); else it is incomplete.
    ready: Callable[[str], bool] = lambda text: True
    hint: str = ""

    def executable(self) -> str | None:
        for candidate in self.candidates:
            found = shutil.which(candidate)
            if found:
                return found
        return None


def _prometheus_args(port: int, workdir: Path, ports: dict[str, int]) -> list[str]:
    config = workdir / "prometheus.yml"
    alertmanager = ports.get("alertmanager")
    alerting = (
        f"alerting:\n  alertmanagers:\n    - static_configs: "
        f'[{{targets: ["127.0.0.1:{alertmanager}"]}}]\n'
        if alertmanager
        else ""
    )
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "rule_files: [rules.yml]\n" + alerting + "scrape_configs:\n"
        f'  - {{job_name: prometheus, static_configs: [{{targets: ["127.0.0.1:{port}"]}}]}}\n'
    )
    # One rule group, so the per-group rule metrics exist.
    (workdir / "rules.yml").write_text(
        "groups:\n  - name: probe\n    rules:\n      - {record: probe, expr: vector(1)}\n"
    )
    return [
        f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]


def _alertmanager_args(port: int, workdir: Path, ports: dict[str, int]) -> list[str]:
    config = workdir / "alertmanager.yml"
    config.write_text('route: {receiver: "null"}\nreceivers: [{name: "null"}]\n')
    return [
        f"--config.file={config}",
        f"--storage.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]


def _has_sample(name: str, value: str = "") -> Callable[[str], bool]:
    def ready(text: str) -> bool:
        return any(
            line.startswith(name) and (not value or line.rstrip().endswith(" " + value))
            for line in text.splitlines()
        )

    return ready


BINARIES: tuple[Binary, ...] = (
    Binary(
        "node-exporter",
        ("prometheus-node-exporter", "node_exporter"),
        lambda port, _w, _p: ["--no-collector.systemd", f"--web.listen-address=127.0.0.1:{port}"],
        ready=_has_sample("node_cpu_seconds_total"),
        hint="apt-get install prometheus-node-exporter",
    ),
    Binary(
        "postgresql",
        ("prometheus-postgres-exporter", "postgres_exporter"),
        lambda port, _w, _p: [f"--web.listen-address=127.0.0.1:{port}"],
        env={"DATA_SOURCE_NAME": POSTGRES_DSN},
        ready=_has_sample("pg_up", "1"),
        hint="apt-get install prometheus-postgres-exporter, and PostgreSQL on 127.0.0.1:5432",
    ),
    Binary(
        "redis",
        ("prometheus-redis-exporter", "redis_exporter"),
        lambda port, _w, _p: [
            f"--redis.addr={REDIS_ADDR}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        ready=_has_sample("redis_up", "1"),
        hint="apt-get install prometheus-redis-exporter, and Redis on 127.0.0.1:6379",
    ),
    Binary(
        "alertmanager",
        ("prometheus-alertmanager", "alertmanager"),
        _alertmanager_args,
        ready=_has_sample("alertmanager_notifications_failed_total"),
        hint="apt-get install prometheus-alertmanager",
    ),
    Binary(
        "prometheus",
        ("prometheus",),
        _prometheus_args,
        # Per-Alertmanager series appear once the notifier has discovered it (about 5 s).
        ready=_has_sample("prometheus_notifications_errors_total"),
        hint="apt-get install prometheus",
    ),
)


@dataclass
class Scraped:
    """What the real binaries served: names per job, and the jobs that could not be scraped
    completely (with why)."""

    names: dict[str, set[str]] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)

    def all_names(self) -> set[str]:
        return set().union(*self.names.values()) if self.names else set()


@contextlib.contextmanager
def _running(
    binary: Binary, executable: str, port: int, workdir: Path, ports: dict[str, int]
) -> Iterator[subprocess.Popen[bytes]]:
    workdir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [executable, *binary.args(port, workdir, ports)],
        env={**os.environ, **binary.env},
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "stderr.log").open("wb"),
    )
    try:
        yield process
    finally:
        stop(process)


def scrape_live(jobs: tuple[str, ...] | None = None, *, timeout: float = 20.0) -> Scraped:
    """Start the real exporters, Prometheus and Alertmanager on free loopback ports, scrape each
    once its page is complete, stop them all. Binaries that are not installed, or that do not
    produce a complete page within ``timeout`` seconds, are reported in ``missing``."""
    selected = [b for b in BINARIES if jobs is None or b.job in jobs]
    result = Scraped()
    with (
        tempfile.TemporaryDirectory(prefix="hero-foundry-exporters-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        ports: dict[str, int] = {}
        started: list[tuple[Binary, int, subprocess.Popen[bytes]]] = []
        for binary in selected:
            executable = binary.executable()
            if executable is None:
                result.missing[binary.job] = (
                    f"{binary.candidates[0]} is not installed ({binary.hint})"
                )
                continue
            ports[binary.job] = port = free_port()
            process = stack.enter_context(
                _running(binary, executable, port, Path(tmp) / binary.job, ports)
            )
            started.append((binary, port, process))

        deadline = time.monotonic() + timeout
        pending = list(started)
        last: dict[str, str] = {}
        with httpx.Client(timeout=5.0) as client:
            while pending and time.monotonic() < deadline:
                for item in list(pending):
                    binary, port, process = item
                    if process.poll() is not None:
                        log = (Path(tmp) / binary.job / "stderr.log").read_text(errors="replace")
                        result.missing[binary.job] = (
                            f"{binary.candidates[0]} exited with {process.returncode}: "
                            f"{log.strip().splitlines()[-1:] or ''}"
                        )
                        pending.remove(item)
                        continue
                    try:
                        text = client.get(f"http://127.0.0.1:{port}/metrics").text
                    except httpx.HTTPError:
                        continue
                    last[binary.job] = text
                    if binary.ready(text):
                        result.names[binary.job] = exposition_names(text)
                        pending.remove(item)
                if pending:
                    time.sleep(0.25)
        for binary, _port, _process in pending:
            result.missing[binary.job] = (
                f"{binary.candidates[0]} served no complete page within {timeout:g} s "
                f"({binary.hint})"
            )
    return result


@dataclass
class Known:
    """Every metric name a dashboard may read, by source, and what could not be verified."""

    by_source: dict[str, set[str]]
    unverified: dict[str, str]

    def source_of(self, name: str) -> str | None:
        for source, names in self.by_source.items():
            if name in names:
                return source
        return None


def known_metrics(repo_root: Path, *, live: bool = True) -> Known:
    """The metric names of every source; with ``live``, the real binaries are scraped."""
    by_source = {
        "app": app_metric_names(),
        "recording rules": recording_rule_names(repo_root / "monitoring" / "prometheus" / "rules"),
        "prometheus (synthetic series)": set(PROMETHEUS_SYNTHETIC),
    }
    unverified: dict[str, str] = {}
    if live:
        scraped = scrape_live()
        for job, names in scraped.names.items():
            by_source[job] = names
        unverified.update(scraped.missing)
    return Known(by_source, unverified)
