"""``hero-foundry loadgen``: the command (the lead wires :func:`loadgen` into ``cli.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hero_foundry.loadgen.options import (
    DEFAULT_BASE_URL,
    Options,
    OptionsError,
    parse_duration,
    parse_mix,
)
from hero_foundry.loadgen.recorder import Summary, Tick

#: Seconds between two progress lines when stderr is not a terminal.
LOG_EVERY = 10.0

# The runner and the report are imported when the command runs: the runner reads the service's
# telemetry allow-lists, whose module imports prometheus_client, which `hero-foundry serve` must
# not have imported before it sets up its multiprocess directory.


def _duration(value: str) -> float:
    try:
        return parse_duration(value)
    except OptionsError as exc:
        raise typer.BadParameter(str(exc)) from None


def loadgen(
    base_url: Annotated[
        str, typer.Option("--base-url", help="The service's URL (loopback unless --allow-remote).")
    ] = DEFAULT_BASE_URL,
    duration: Annotated[
        str, typer.Option(help="How long to run, e.g. 30s, 2m, 1m30s, 1h (hard stop).")
    ] = "2m",
    users: Annotated[int, typer.Option(min=1, max=10_000, help="Virtual users.")] = 20,
    max_rps: Annotated[
        float, typer.Option("--max-rps", min=0.1, help="Requests per second, all users together.")
    ] = 20.0,
    seed: Annotated[
        int | None, typer.Option(help="Random seed: the same decisions for the same answers.")
    ] = None,
    think_time: Annotated[
        float,
        typer.Option(
            "--think-time", min=0.0, help="Scale of the pauses between steps (0: none, 1: human)."
        ),
    ] = 1.0,
    ramp_up: Annotated[
        str,
        typer.Option("--ramp-up", help="Time over which the users start, e.g. 5s (0: at once)."),
    ] = "5s",
    telemetry: Annotated[
        bool, typer.Option("--telemetry/--no-telemetry", help="Browser telemetry batches.")
    ] = True,
    assistant: Annotated[
        bool, typer.Option("--assistant/--no-assistant", help="Questions to the AI assistant.")
    ] = True,
    mix: Annotated[
        str,
        typer.Option(
            help="Activity weights, e.g. 'ask=5,import=0' (create, view, edit, level_up, "
            "lookup, ask, export, import).",
        ),
    ] = "",
    max_error_rate: Annotated[
        float,
        typer.Option(
            "--max-error-rate", min=0.0, max=1.0, help="Exit 1 above this share of errors."
        ),
    ] = 0.05,
    timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds before a request times out.")
    ] = 30.0,
    allow_remote: Annotated[
        bool, typer.Option("--allow-remote", help="Allow a base URL that is not loopback.")
    ] = False,
    json_path: Annotated[
        Path | None,
        typer.Option("--json", help="Also write the summary as JSON to this file.", dir_okay=False),
    ] = None,
) -> None:
    """Drive realistic traffic against the service: virtual users sign up or in, run the
    creation wizard step by step, view, edit, level up, export and import characters, search the
    rules, ask the assistant, and report browser telemetry, with think time between steps.

    Bounded in time (--duration: a hard stop) and in rate (--max-rps: one token bucket for every
    user). Only loopback base URLs unless --allow-remote. Ctrl-C stops early and still prints the
    summary.

    Exit code: 0 when errors (5xx, unexpected 4xx, timeouts, connection failures) stay within
    --max-error-rate of the requests, 1 when they exceed it (or nothing completed), 2 on invalid
    options (a refused URL)."""
    from hero_foundry.loadgen.report import render

    err = Console(stderr=True)
    ramp = 0.0 if ramp_up.strip() in ("0", "0s") else _duration(ramp_up)
    try:
        weights = parse_mix(mix)
    except OptionsError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--mix'") from None
    options = Options(
        base_url=base_url,
        duration=_duration(duration),
        users=users,
        max_rps=max_rps,
        seed=seed,
        think_time=think_time,
        ramp_up=ramp,
        telemetry=telemetry,
        assistant=assistant,
        mix=weights,
        max_error_rate=max_error_rate,
        timeout=timeout,
        allow_remote=allow_remote,
    )
    try:
        options = options.checked()
    except OptionsError as exc:
        err.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from None
    err.print(
        f"loadgen: {options.users} users against {options.base_url} for "
        f"{options.duration:g} s, at most {options.max_rps:g} requests/s"
        + (f", seed {options.seed}" if options.seed is not None else ""),
        soft_wrap=True,
    )
    summary = asyncio.run(_run_with_progress(options, err))
    out = Console(width=None if sys.stdout.isatty() else 120, highlight=False)
    out.print(render(summary))
    if json_path is not None:
        json_path.write_text(json.dumps(summary.as_dict(), indent=2) + "\n", encoding="utf-8")
    if not summary.passed:
        raise typer.Exit(1)


async def _run_with_progress(options: Options, console: Console) -> Summary:
    """Run with a live progress bar on a terminal, or a progress line every
    ``LOG_EVERY`` seconds otherwise (a CI log)."""
    from hero_foundry.loadgen.report import new_progress, progress_line, tick_fields
    from hero_foundry.loadgen.runner import run

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
    try:
        if not console.is_terminal:
            logged = 0.0

            def log_tick(tick: Tick) -> None:
                nonlocal logged
                if tick.elapsed - logged >= LOG_EVERY or tick.elapsed >= tick.duration:
                    logged = tick.elapsed
                    console.print(progress_line(tick), highlight=False, soft_wrap=True)

            return await run(options, on_tick=log_tick, tick_seconds=1.0, stop=stop)
        progress = new_progress(console)
        task = progress.add_task("loadgen", total=1.0, clock="", stats="")

        def on_tick(tick: Tick) -> None:
            progress.update(task, **tick_fields(tick))

        with progress:
            return await run(options, on_tick=on_tick, stop=stop)
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)


def app() -> typer.Typer:
    """A Typer app with only this command (tests; ``python -m hero_foundry.loadgen.cli``)."""
    single = typer.Typer(add_completion=False)
    single.command()(loadgen)
    return single


if __name__ == "__main__":
    app()()
