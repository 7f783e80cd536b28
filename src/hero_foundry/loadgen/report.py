"""The load run on a terminal: a progress line while it runs, a summary table at the end."""

from __future__ import annotations

from rich import box
from rich.console import Console, Group, RenderableType
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table
from rich.text import Text

from hero_foundry.loadgen.recorder import OperationStats, Summary, Tick, percentile


def clock(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.5))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def latency(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def new_progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[clock]}"),
        TextColumn("{task.fields[stats]}"),
        console=console,
        transient=False,
        refresh_per_second=4,
    )


def tick_fields(tick: Tick) -> dict[str, object]:
    rate = tick.requests / tick.elapsed if tick.elapsed > 0 else 0.0
    errors = f"[red]{tick.errors} errors[/red]" if tick.errors else "0 errors"
    return {
        "completed": min(1.0, tick.elapsed / tick.duration) if tick.duration else 1.0,
        "clock": f"{clock(tick.elapsed)} elapsed, {clock(tick.duration - tick.elapsed)} left",
        "stats": (
            f"{tick.requests} requests ({rate:.1f}/s), {errors}, {tick.in_flight} in flight, "
            f"{tick.sessions} visits"
        ),
    }


def progress_line(tick: Tick) -> str:
    rate = tick.requests / tick.elapsed if tick.elapsed > 0 else 0.0
    return (
        f"loadgen {clock(tick.elapsed)} elapsed, {clock(tick.duration - tick.elapsed)} left: "
        f"{tick.requests} requests ({rate:.1f}/s), {tick.errors} errors, "
        f"{tick.in_flight} in flight, {tick.sessions} visits"
    )


def _counts(counter: dict[str, int]) -> str:
    return ", ".join(f"{kind}×{n}" for kind, n in sorted(counter.items())) or "-"


def summary_table(summary: Summary) -> Table:
    table = Table(
        box=box.SIMPLE_HEAD,
        title=(
            f"hero-foundry loadgen: {summary.base_url}, {summary.users} users, "
            f"{clock(summary.elapsed)} ({summary.requests / max(summary.elapsed, 1e-9):.1f} req/s)"
        ),
        title_justify="left",
        show_footer=True,
    )
    everything = OperationStats()
    for stats in summary.operations.values():
        everything.requests += stats.requests
        everything.ok += stats.ok
        everything.refused.update(stats.refused)
        everything.errors.update(stats.errors)
        everything.latencies.extend(stats.latencies)
    ordered = sorted(everything.latencies)
    table.add_column("Operation", "total", no_wrap=True)
    table.add_column("Requests", str(everything.requests), justify="right")
    table.add_column("OK", str(everything.ok), justify="right")
    table.add_column("Refused", _counts(everything.refused), justify="right")
    table.add_column("Errors", _counts(everything.errors), justify="right")
    table.add_column("p50", latency(percentile(ordered, 0.5)), justify="right")
    table.add_column("p95", latency(percentile(ordered, 0.95)), justify="right")
    for name, stats in sorted(summary.operations.items()):
        q = stats.quantiles()
        table.add_row(
            name,
            str(stats.requests),
            str(stats.ok),
            _counts(stats.refused),
            Text(_counts(stats.errors), style="red" if stats.errors else ""),
            latency(q["p50"]),
            latency(q["p95"]),
        )
    return table


def render(summary: Summary) -> RenderableType:
    """The summary table, what the traffic achieved, and the verdict."""
    parts: list[RenderableType] = [summary_table(summary)]
    if summary.outcomes:
        achieved = ", ".join(
            f"{name.replace('_', ' ')} {n}" for name, n in sorted(summary.outcomes.items())
        )
        parts.append(Text(f"Outcomes: {achieved}"))
    if summary.cancelled:
        parts.append(Text(f"{summary.cancelled} request(s) in flight were abandoned at the stop"))
    for crash in summary.crashes:
        parts.append(Text(f"load generator crash: {crash}", style="red"))
    style = "bold green" if summary.passed else "bold red"
    word = "passed" if summary.passed else "FAILED"
    stopped = " (stopped early)" if summary.stopped_early else ""
    parts.append(Text(f"{word}{stopped}: {summary.verdict()}", style=style))
    return Group(*parts)
