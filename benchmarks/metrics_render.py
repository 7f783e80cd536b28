"""Time to render /metrics with about 2,000 series, the way the service renders it.

The registry is the service's own: the metric objects of ``hero_foundry.observability.metrics``
(prometheus_client's default registry, so the process and platform collectors are in it too),
filled with label sets shaped like production's: ``--routes`` route templates (60 by default),
each with its method and two or three status codes, in the request counter and both HTTP
histograms, plus the business metrics' usual label values. The render is the /metrics route's
(``hero_foundry.observability.exposition``): the ``_Snapshot`` collector in a fresh registry,
encoded as Prometheus text (``generate_latest``) and as OpenMetrics.

Multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, as with several uvicorn workers): two worker
processes fill the same label sets into their own files and stay alive while the parent renders
by merging them, as the route does (dead-worker cleanup included).

    .venv/bin/python benchmarks/metrics_render.py            # 300 renders per case
    .venv/bin/python benchmarks/metrics_render.py --quick    # 30 renders per case
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import benchlib

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
RESOURCES = (
    "characters",
    "drafts",
    "levelups",
    "exports",
    "classes",
    "races",
    "backgrounds",
    "spells",
    "equipment",
    "rules",
)
ACTIONS = ("", "/{item_id}", "/{item_id}/choices", "/{item_id}/sheet", "/{item_id}/spells")
METHODS = ("GET", "POST", "GET", "PUT", "PATCH", "GET", "DELETE")
ERROR_STATUSES = ("404", "422", "401", "409", "403")


def templates(count: int) -> list[str]:
    """``count`` route templates shaped like the service's (``/api/drafts/{item_id}/choices``)."""
    found = []
    suffix = 0
    while len(found) < count:
        for resource in RESOURCES:
            for action in ACTIONS:
                tail = f"/v{suffix}" if suffix else ""
                found.append(f"/api/{resource}{action}{tail}")
        suffix += 1
    return found[:count]


def populate(routes: int) -> None:
    """Fill the service's metrics with the same label sets in every process (deterministic)."""
    from hero_foundry.observability import metrics as m

    for number, template in enumerate(templates(routes)):
        method = METHODS[number % len(METHODS)]
        statuses = ["201" if method == "POST" else "200", ERROR_STATUSES[number % 5]]
        if number % 3 == 0:
            statuses.append("500")
        for status in statuses:
            m.HTTP_REQUESTS.labels(method, template, status).inc(10 + number)
        for step in range(20):
            m.HTTP_DURATION.labels(method, template).observe(0.003 * (step + 1) * (number % 7 + 1))
            m.API_RESPONSE_SIZE.labels(method, template).observe(
                150 * (step + 1) * (number % 5 + 1)
            )
        m.HTTP_IN_FLIGHT.labels(method).inc(0)
    for fmt in m.EXPORT_FORMATS:
        m.EXPORT_OPERATIONS.labels(fmt).inc()
        m.EXPORT_SUCCESS.labels(fmt).inc()
        m.EXPORT_FAILURE.labels(fmt).inc(0)
        m.EXPORT_DURATION.labels(fmt).observe(0.2)
    for kind in m.RULE_LOOKUP_TYPES:
        m.RULE_LOOKUPS.labels(kind).inc()
    for operation in m.DB_OPERATIONS:
        m.DATABASE_QUERY_DURATION.labels(operation).observe(0.002)
    for cache in ("srd", "sessions"):
        m.CACHE_HITS.labels(cache).inc()
        m.CACHE_MISSES.labels(cache).inc()
    m.CHARACTERS_CREATED.inc()
    m.CHARACTER_CREATION_DURATION.observe(200)
    m.LEVEL_UP_DURATION.observe(60)
    m.AI_QUERY_DURATION.observe(1.5)


def render_functions() -> dict[str, Callable[[], bytes]]:
    """The /metrics route's two encodings of its registry (see exposition.py)."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import generate_latest
    from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest

    from hero_foundry.observability.exposition import _Snapshot, clean_dead_workers, multiproc_dir

    def registry() -> CollectorRegistry:
        directory = multiproc_dir()
        if directory is not None:
            clean_dead_workers(directory)
        snapshot = CollectorRegistry(auto_describe=False)
        snapshot.register(_Snapshot({"user": 12, "session": 15}))
        return snapshot

    return {
        "text 0.0.4": lambda: generate_latest(registry()),
        "OpenMetrics": lambda: openmetrics_latest(registry()),
    }


def series(text: bytes) -> tuple[int, int]:
    """Sample lines in a text exposition, and those not ending a name with ``_created``."""
    samples = [line for line in text.decode().splitlines() if line and not line.startswith("#")]
    created = sum(1 for line in samples if line.split("{")[0].split(" ")[0].endswith("_created"))
    return len(samples), len(samples) - created


def measure(render: Callable[[], bytes], iterations: int, warmup: int) -> dict[str, Any]:
    for _ in range(warmup):
        output = render()
    timings = []
    for _ in range(iterations):
        start = time.perf_counter()
        output = render()
        timings.append((time.perf_counter() - start) * 1e3)
    lines, without_created = series(output)
    return {
        "iterations": iterations,
        "median_ms": statistics.median(timings),
        "p99_ms": benchlib.percentile(timings, 0.99),
        "mean_ms": statistics.fmean(timings),
        "min_ms": min(timings),
        "max_ms": max(timings),
        "bytes": len(output),
        "sample_lines": lines,
        "series_without_created": without_created,
    }


def worker(routes: int) -> None:
    """A simulated uvicorn worker: fill this process's files, then stay alive until stdin ends."""
    populate(routes)
    print("ready", flush=True)
    sys.stdin.read()


def multiprocess_cases(
    args: argparse.Namespace, workers: int, directory: Path
) -> dict[str, dict[str, Any]]:
    env = {**os.environ, MULTIPROC_ENV: str(directory)}
    command = [sys.executable, __file__, "--worker", "--routes", str(args.routes)]
    processes = []
    try:
        for _ in range(workers):
            processes.append(
                subprocess.Popen(
                    command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
                )
            )
        for process in processes:
            if process.stdout is None or process.stdout.readline().strip() != "ready":
                raise RuntimeError("a simulated worker failed to start")
        os.environ[MULTIPROC_ENV] = str(directory)
        try:
            return {
                f"{name}, multiprocess ({workers} workers)": measure(
                    render, args.iterations, args.warmup
                )
                for name, render in render_functions().items()
            }
        finally:
            del os.environ[MULTIPROC_ENV]
    finally:
        for process in processes:
            if process.stdin:
                process.stdin.close()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def print_report(cases: dict[str, dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=120)
    table = Table(title="/metrics render time")
    for name in ("case", "series", "bytes", "median ms", "p99 ms", "min ms", "renders"):
        table.add_column(name, justify="left" if name == "case" else "right")
    for name, case in cases.items():
        created = case["sample_lines"] - case["series_without_created"]
        table.add_row(
            name,
            f"{case['series_without_created']:,} (+{created:,} _created)",
            f"{case['bytes']:,}",
            f"{case['median_ms']:.2f}",
            f"{case['p99_ms']:.2f}",
            f"{case['min_ms']:.2f}",
            str(case["iterations"]),
        )
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--routes", type=int, default=60, help="route templates (60)")
    parser.add_argument("--iterations", type=int, default=300, help="timed renders per case")
    parser.add_argument("--warmup", type=int, default=10, help="untimed renders first (10)")
    parser.add_argument("--workers", type=int, default=2, help="simulated workers (2)")
    parser.add_argument("--no-multiprocess", action="store_true", help="skip multiprocess mode")
    parser.add_argument("--quick", action="store_true", help="30 renders per case")
    parser.add_argument("--output", type=Path, help="result file (default benchmarks/results/)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.routes)
        return 0
    if args.quick:
        args.iterations, args.warmup = 30, 3
    if os.environ.get(MULTIPROC_ENV):
        parser.error(f"unset {MULTIPROC_ENV}: this script sets it for its multiprocess case")

    print(
        f"[bench] /metrics render: {args.routes} route templates, {args.iterations} renders per "
        f"case; expected duration about {max(5, args.iterations // 20)} s"
    )
    machine = benchlib.machine_info()
    populate(args.routes)
    cases = {
        f"{name}, one process": measure(render, args.iterations, args.warmup)
        for name, render in render_functions().items()
    }
    if not args.no_multiprocess:
        with tempfile.TemporaryDirectory(prefix="hero-bench-multiproc-") as directory:
            cases.update(multiprocess_cases(args, args.workers, Path(directory)))
    print_report(cases)
    payload = {
        "benchmark": "metrics_render",
        "finished_at": benchlib.now_stamp(),
        "machine": machine,
        "config": {
            "routes": args.routes,
            "iterations": args.iterations,
            "warmup": args.warmup,
            "workers": None if args.no_multiprocess else args.workers,
        },
        "cases": cases,
    }
    path = benchlib.write_result("metrics_render", payload, args.output)
    print(f"[bench] results written to {benchlib.shown(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
