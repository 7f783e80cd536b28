"""HTTP overhead of the metrics middleware: the same app with and without instrumentation.

Starts benchmarks/app.py under uvicorn once per variant (1 worker, no access log, loopback, one
port each), warms each up, then loads them with wrk INTERLEAVED: every round runs each variant
once, in an order rotated by one each round, so a slow minute of the machine hits every variant
alike. The route loaded is GET /api/characters/{character_id} with varying ids
(benchmarks/characters.lua). With taskset and 2+ cores the servers are pinned to one core and wrk
to another.

Reports per variant the median over rounds of req/s, p50 and p99 latency, and the ratio of the
throughput to the uninstrumented baseline (a): the median of the rounds' ratios (each round's
runs are seconds apart, so a slow spell of a shared machine cancels out), with a bootstrap 95%
interval, and the ratio of the medians. It also reads the server's CPU time per request from
/proc, and how much CPU other processes took meanwhile. Then it checks each instrumented
variant's /metrics counted every request. Prints tables and writes a JSON file under
benchmarks/results/. Every server is stopped on exit, Ctrl-C included.

    .venv/bin/python benchmarks/http_overhead.py            # full run (about 5 minutes)
    PYTHONPATH=DIR .venv/bin/python benchmarks/http_overhead.py --custom module:Class  # + (e)
    .venv/bin/python benchmarks/http_overhead.py --quick    # smoke run (under a minute)
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import benchlib

VARIANTS = ("none", "ours", "instrumentator", "starlette_exporter")
LABELS = {
    "none": "(a) none",
    "ours": "(b) ours",
    "instrumentator": "(c) instrumentator",
    "starlette_exporter": "(d) starlette_exporter",
    "custom": "(e) custom",
}
#: The request counter of the loaded route in each variant's /metrics: proof that it counted.
_ROUTE = r'"/api/characters/\{character_id\}"'
_OURS = rf"^http_requests_total\{{[^}}]*endpoint={_ROUTE}[^}}]*\}} (\S+)$"
COUNTERS = {
    "ours": _OURS,
    "custom": _OURS,
    "instrumentator": rf"^http_requests_total\{{[^}}]*handler={_ROUTE}[^}}]*\}} (\S+)$",
    "starlette_exporter": rf"^starlette_requests_total\{{[^}}]*path={_ROUTE}[^}}]*\}} (\S+)$",
}
LUA_SCRIPT = benchlib.BENCH_DIR / "characters.lua"
TARGET_RATIO = 0.95
STARTUP_SECONDS = 30.0


@dataclass
class Server:
    variant: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    runs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(port: int, path: str, timeout: float = 5.0) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def pin(cpus: str | None) -> list[str]:
    return ["taskset", "-c", cpus] if cpus else []


def start_server(variant: str, args: argparse.Namespace, log_dir: Path) -> Server:
    port = free_port()
    log = log_dir / f"{variant}.log"
    env = {**os.environ, "BENCH_VARIANT": variant, "PYTHONDONTWRITEBYTECODE": "1"}
    if args.custom:
        env["BENCH_CUSTOM_MIDDLEWARE"] = args.custom
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # single-process metrics, as with one worker
    command = [
        *pin(args.server_cpus),
        sys.executable,
        "-m",
        "uvicorn",
        "app:app",
        "--app-dir",
        str(benchlib.BENCH_DIR),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    with log.open("wb") as out:
        # A session of its own: a Ctrl-C in the terminal reaches us, and we stop the servers.
        process = subprocess.Popen(
            command,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return Server(variant, port, process, log)


def wait_ready(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.variant} exited:\n{server.log.read_text()}")
        with contextlib.suppress(OSError):
            status, _ = http_get(server.port, "/healthz", timeout=1.0)
            if status == 200:
                status, body = http_get(server.port, "/api/characters/42")
                if status != 200 or '"id":42' not in body:
                    raise RuntimeError(f"{server.variant}: unexpected answer {status} {body}")
                return
        time.sleep(0.2)
    raise RuntimeError(f"{server.variant} did not start in {STARTUP_SECONDS:.0f} s")


def stop_servers(servers: list[Server]) -> None:
    for server in servers:
        if server.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for server in servers:
        try:
            server.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def busy_seconds(cpu: str) -> float | None:
    """Busy time (all but idle and iowait) of ``cpu`` ("cpu" for all, "cpu0"...) from /proc/stat."""
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name == cpu:
            ticks = [int(v) for v in values[:8]]
            return (sum(ticks) - ticks[3] - ticks[4]) / CLOCK_TICKS
    return None


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(wrk: str, server: Server, args: argparse.Namespace, seconds: float) -> dict[str, Any]:
    command = [
        *pin(args.client_cpus),
        wrk,
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "5s",
        "-s",
        str(LUA_SCRIPT),
        server.url,
    ]
    core = f"cpu{args.server_cpus}" if args.server_cpus and args.server_cpus.isdigit() else None
    cpu_before = process_cpu_seconds(server.process.pid)
    wrk_before = children_cpu_seconds()
    core_before = busy_seconds(core) if core else None
    all_before = busy_seconds("cpu")
    wall_before = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    wall = time.monotonic() - wall_before
    server_cpu = process_cpu_seconds(server.process.pid) - cpu_before
    wrk_cpu = children_cpu_seconds() - wrk_before
    core_after = busy_seconds(core) if core else None
    all_after = busy_seconds("cpu")
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    for line in done.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            result = json.loads(line.removeprefix("WRK_JSON "))
            result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
            # CPU the server spent per answered request: unlike req/s, it hardly moves when
            # another process takes turns on the server's core.
            result["server_cpu_s"] = server_cpu
            result["server_cpu_us_per_request"] = server_cpu / max(result["requests"], 1) * 1e6
            result["server_cpu_utilization"] = server_cpu / wall
            result["wrk_cpu_s"] = wrk_cpu
            if core_before is not None and core_after is not None:
                # Share of the server's core that other processes used during the run.
                others = (core_after - core_before) - server_cpu
                result["other_load_on_server_core"] = max(0.0, others / wall)
            if all_before is not None and all_after is not None:
                # CPUs' worth of work by processes other than this server and wrk (other tests
                # on a shared machine, say): it slows the server even on another core.
                others = (all_after - all_before) - server_cpu - wrk_cpu
                result["other_load_on_machine"] = max(0.0, others / wall)
            return result
    raise RuntimeError(f"no WRK_JSON line in wrk's output:\n{done.stdout}")


def counted(server: Server) -> float | None:
    """The variant's own count of requests to the loaded route, read from its /metrics."""
    pattern = COUNTERS.get(server.variant)
    if pattern is None:
        return None
    status, body = http_get(server.port, "/metrics")
    if status != 200:
        raise RuntimeError(f"{server.variant}: /metrics answered {status}")
    values = [float(m.group(1)) for m in re.finditer(pattern, body, re.MULTILINE)]
    if not values:
        if server.variant == "custom":  # a candidate may count differently, or not at all
            return None
        raise RuntimeError(f"{server.variant}: the loaded route is missing from /metrics")
    return sum(values)


def bootstrap_median(values: list[float], resamples: int = 2000) -> tuple[float, float]:
    """95% bootstrap interval of the median of ``values`` (seeded, so reruns agree)."""
    rng = random.Random(0)
    medians = sorted(
        statistics.median(rng.choices(values, k=len(values))) for _ in range(resamples)
    )
    return medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]


def summarize(servers: dict[str, Server], rounds: int) -> dict[str, dict[str, Any]]:
    baseline = servers.get("none")
    summary: dict[str, dict[str, Any]] = {}
    base_rps = statistics.median(r["rps"] for r in baseline.runs) if baseline else None
    for variant, server in servers.items():
        rps = [r["rps"] for r in server.runs]
        entry: dict[str, Any] = {
            "label": LABELS[variant],
            "rps_median": statistics.median(rps),
            "rps_min": min(rps),
            "rps_max": max(rps),
            "rps_runs": rps,
            "p50_ms_median": statistics.median(r["latency_us"]["p50"] for r in server.runs) / 1e3,
            "p99_ms_median": statistics.median(r["latency_us"]["p99"] for r in server.runs) / 1e3,
            "cpu_us_per_request_median": statistics.median(
                r["server_cpu_us_per_request"] for r in server.runs
            ),
            "server_cpu_utilization_median": statistics.median(
                r["server_cpu_utilization"] for r in server.runs
            ),
            "other_load_on_server_core_max": max(
                (r.get("other_load_on_server_core", 0.0) for r in server.runs), default=0.0
            ),
            "other_load_on_machine_max": max(
                (r.get("other_load_on_machine", 0.0) for r in server.runs), default=0.0
            ),
            "errors": sum(sum(r["errors"].values()) for r in server.runs),
            "requests": sum(r["requests"] for r in server.runs),
        }
        if baseline and base_rps and variant == "none":
            entry["ratio_to_none"] = entry["ratio_of_medians"] = entry["cpu_ratio"] = 1.0
        elif baseline and base_rps:
            pairs = list(zip(server.runs, baseline.runs, strict=True))
            # The headline ratio: each round's two runs are seconds apart, so a slow minute of
            # the machine cancels out; the median over rounds drops the odd disturbed round.
            ratios = [mine["rps"] / base["rps"] for mine, base in pairs]
            entry["ratio_to_none"] = statistics.median(ratios)
            entry["ratio_to_none_ci95"] = bootstrap_median(ratios)
            entry["ratio_runs"] = ratios
            entry["ratio_of_medians"] = entry["rps_median"] / base_rps
            # Throughput ratio on a core of its own: the inverse ratio of CPU per request.
            cpu_ratios = [
                base["server_cpu_us_per_request"] / mine["server_cpu_us_per_request"]
                for mine, base in pairs
            ]
            entry["cpu_ratio"] = statistics.median(cpu_ratios)
            entry["cpu_ratio_ci95"] = bootstrap_median(cpu_ratios)
        summary[variant] = entry
    return summary


def verdict(summary: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if "ours" not in summary or "none" not in summary:
        return {}
    ours = summary["ours"]
    result: dict[str, Any] = {
        "target_ratio": TARGET_RATIO,
        "ours_ratio": ours["ratio_to_none"],
        "ratio_met": ours["ratio_to_none"] >= TARGET_RATIO,
        "ours_cpu_ratio": ours["cpu_ratio"],
        "cpu_ratio_met": ours["cpu_ratio"] >= TARGET_RATIO,
    }
    for other in ("instrumentator", "starlette_exporter"):
        if other in summary:
            result[f"ahead_of_{other}"] = ours["ratio_to_none"] > summary[other]["ratio_to_none"]
    result["all_met"] = all(v for k, v in result.items() if k.startswith(("ratio_met", "ahead")))
    return result


def interval(bounds: tuple[float, float] | None) -> str:
    return f"{bounds[0]:.2f}-{bounds[1]:.2f}" if bounds else ""


def print_report(
    summary: dict[str, dict[str, Any]], order: list[str], rounds: int, result: dict[str, Any]
) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=120)
    per_round = Table(title="req/s per round (interleaved; the order rotates each round)")
    per_round.add_column("round", justify="right")
    for variant in order:
        per_round.add_column(LABELS[variant], justify="right")
    for number in range(rounds):
        per_round.add_row(
            str(number + 1), *(f"{summary[v]['rps_runs'][number]:,.0f}" for v in order)
        )
    console.print(per_round)

    table = Table(
        title=f"HTTP overhead over {rounds} interleaved rounds: x (a) is the median of the "
        "rounds' ratios, 95% CI by bootstrap; medians x (a) is median req/s / median req/s of (a)"
    )
    columns = (
        "variant",
        "req/s",
        "min-max",
        "x (a)",
        "95% CI",
        "medians x (a)",
        "p50 ms",
        "p99 ms",
    )
    for name in columns:
        table.add_column(name, justify="left" if name == "variant" else "right")
    table.add_column("errors", justify="right")
    for variant in order:
        entry = summary[variant]
        table.add_row(
            entry["label"],
            f"{entry['rps_median']:,.0f}",
            f"{entry['rps_min']:,.0f}-{entry['rps_max']:,.0f}",
            f"{entry.get('ratio_to_none', float('nan')):.3f}",
            interval(entry.get("ratio_to_none_ci95")),
            f"{entry.get('ratio_of_medians', float('nan')):.3f}",
            f"{entry['p50_ms_median']:.2f}",
            f"{entry['p99_ms_median']:.2f}",
            str(entry["errors"]),
        )
    console.print(table)

    cpu = Table(title="Server CPU per request, median of rounds; x (a) by CPU: median of rounds")
    columns = (
        "variant",
        "CPU us/req",
        "x (a) by CPU",
        "95% CI",
        "server CPU use",
        "others: core",
        "machine",
    )
    for name in columns:
        cpu.add_column(name, justify="left" if name == "variant" else "right")
    for variant in order:
        entry = summary[variant]
        cpu.add_row(
            entry["label"],
            f"{entry['cpu_us_per_request_median']:.1f}",
            f"{entry.get('cpu_ratio', float('nan')):.3f}",
            interval(entry.get("cpu_ratio_ci95")),
            f"{entry['server_cpu_utilization_median']:.0%}",
            f"{entry['other_load_on_server_core_max']:.0%}",
            f"{entry['other_load_on_machine_max']:.2f}",
        )
    console.print(cpu)
    if result:
        met = "[green]met[/green]" if result["all_met"] else "[red]NOT met[/red]"
        ahead = "".join(
            f"; {'ahead of' if v else 'NOT ahead of'} {k.removeprefix('ahead_of_')}"
            for k, v in result.items()
            if k.startswith("ahead_of_")
        )
        console.print(
            f"Target {met}: (b) = {result['ours_ratio']:.3f} x (a) in req/s "
            f"({result['ours_cpu_ratio']:.3f} by CPU per request; target >= {TARGET_RATIO})"
            f"{ahead}."
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="interleaved rounds (20)")
    parser.add_argument("--duration", type=float, default=3, help="seconds per run (3)")
    parser.add_argument("--warmup", type=float, default=5, help="warm-up seconds per variant (5)")
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between runs (0.5)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help=f"comma-separated subset of {','.join(VARIANTS)}",
    )
    parser.add_argument(
        "--custom",
        metavar="MODULE:CLASS",
        help="add variant (e): this middleware class (importable via PYTHONPATH) in place of "
        "ours, e.g. a candidate change to MetricsMiddleware",
    )
    parser.add_argument("--quick", action="store_true", help="3 rounds of 2 s: a smoke run")
    parser.add_argument("--no-pin", action="store_true", help="do not pin with taskset")
    parser.add_argument("--server-cpus", default="0", help="taskset CPU list of the servers (0)")
    parser.add_argument("--client-cpus", default="1", help="taskset CPU list of wrk (1)")
    parser.add_argument("--output", type=Path, help="result file (default benchmarks/results/)")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.duration, args.warmup, args.pause = 3, 2, 2, 0.5
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if args.custom:
        if ":" not in args.custom:
            parser.error("--custom takes MODULE:CLASS")
        args.variants.append("custom")
    unknown = set(args.variants) - {*VARIANTS, *(["custom"] if args.custom else [])}
    if unknown or not args.variants:
        parser.error(f"unknown variants {sorted(unknown)}; choose from {', '.join(VARIANTS)}")
    if args.no_pin or not shutil.which("taskset") or (os.cpu_count() or 1) < 2:
        args.server_cpus = args.client_cpus = None
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    benchlib.ensure_python_deps()
    wrk = benchlib.ensure_wrk()
    # SIGTERM and SIGHUP end the run like Ctrl-C does: through the finally that stops servers.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda number, frame: sys.exit(128 + number))

    variants: list[str] = args.variants
    runs = args.rounds * len(variants)
    expected = 5 + len(variants) * args.warmup + runs * (args.duration + args.pause)
    pinning = (
        f"servers on CPU {args.server_cpus}, wrk on CPU {args.client_cpus}"
        if args.server_cpus
        else "no CPU pinning"
    )
    print(
        f"[bench] {len(variants)} variants x {args.rounds} rounds x {args.duration:g} s "
        f"(wrk -t{args.threads} -c{args.connections}), {pinning}; "
        f"expected duration about {expected / 60:.1f} min"
    )
    machine = benchlib.machine_info()
    started = time.monotonic()
    servers: dict[str, Server] = {}
    with tempfile.TemporaryDirectory(prefix="hero-bench-") as tmp:
        try:
            for variant in variants:
                servers[variant] = start_server(variant, args, Path(tmp))
            for server in servers.values():
                wait_ready(server)
            for server in servers.values():
                print(f"[bench] warm-up {server.variant} ({args.warmup:g} s)")
                run_wrk(wrk, server, args, args.warmup)
            for number in range(args.rounds):
                shift = number % len(variants)
                order = variants[shift:] + variants[:shift]
                for variant in order:
                    time.sleep(args.pause)
                    result = run_wrk(wrk, servers[variant], args, args.duration)
                    result["round"] = number + 1
                    servers[variant].runs.append(result)
                    other = result.get("other_load_on_machine")
                    print(
                        f"[bench] round {number + 1}/{args.rounds} {variant:<18} "
                        f"{result['rps']:7,.0f} req/s  p50 {result['latency_us']['p50'] / 1e3:5.2f}"
                        f" ms  p99 {result['latency_us']['p99'] / 1e3:6.2f} ms  "
                        f"{result['server_cpu_us_per_request']:5.1f} CPU us/req"
                        + (f"  others {other:.2f} CPU" if other is not None else "")
                    )
            # Each instrumented variant must have counted every request wrk saw answered
            # (after a moment: a candidate may apply its counts to the metrics in batches).
            time.sleep(1.5)
            counts = {variant: counted(server) for variant, server in servers.items()}
        except KeyboardInterrupt:
            print("\n[bench] interrupted: stopping the servers")
            return 130
        finally:
            stop_servers(list(servers.values()))

    summary = summarize(servers, args.rounds)
    miscounted = []
    for variant, count in counts.items():
        summary[variant]["counted_by_variant"] = count
        if count is not None and count < summary[variant]["requests"]:
            miscounted.append(f"{variant} counted {count:.0f} of {summary[variant]['requests']}")
    result = verdict(summary)
    print_report(summary, variants, args.rounds, result)
    payload = {
        "benchmark": "http_overhead",
        "finished_at": benchlib.now_stamp(),
        "elapsed_seconds": round(time.monotonic() - started, 1),
        "machine": machine,
        "config": {
            "rounds": args.rounds,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "pause_s": args.pause,
            "wrk_threads": args.threads,
            "wrk_connections": args.connections,
            "server_cpus": args.server_cpus,
            "client_cpus": args.client_cpus,
            "route": "GET /api/characters/{character_id} (ids from characters.lua)",
            "uvicorn": "1 worker, --no-access-log, 127.0.0.1, loop and http auto",
            "custom": args.custom,
        },
        "summary": summary,
        "targets": result,
        "runs": {variant: server.runs for variant, server in servers.items()},
    }
    path = benchlib.write_result("http_overhead", payload, args.output)
    print(f"[bench] results written to {benchlib.shown(path)}")
    if miscounted:
        print(f"[bench] ERROR: requests missing from /metrics: {'; '.join(miscounted)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
