"""``hero-foundry drill set|clear|status``: switch fault drills on and off in the drill file.

The running api (with ``HERO_FOUNDRY_DRILLS_ENABLED=true``) picks a change up within a second,
in every worker, without a restart. ``set`` merges into the file; every write replaces the file
atomically (temporary file + rename), so the api never reads half of one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from hero_foundry.drills import state
from hero_foundry.settings import Settings

drill_app = typer.Typer(
    help="Fault drills: inject errors, latency, a failing AI provider or a slow wizard clock "
    "into a running api started with HERO_FOUNDRY_DRILLS_ENABLED=true (never in production). "
    "See docs/drills.md.",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)

FileOption = Annotated[
    Path | None,
    typer.Option(
        "--file",
        help="The drill file [HERO_FOUNDRY_DRILLS_FILE, default <data_dir>/drills.json]",
        show_default=False,
    ),
]

#: What ``clear NAME`` accepts besides the file's names: the options' names.
ALIASES = {
    spec.option.removeprefix("--").replace("-", "_"): name for name, spec in state.SPECS.items()
}


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]{message}[/red]", soft_wrap=True)
    return typer.Exit(2)


def _settings() -> Settings:
    try:
        return Settings()
    except Exception as exc:  # pydantic's ValidationError: shown without a traceback
        raise _fail(f"invalid settings: {exc}") from None


def _path(file: Path | None, settings: Settings) -> Path:
    return file if file is not None else settings.drills_path


def _read(path: Path) -> dict[str, Any]:
    try:
        return state.read_raw(path)
    except state.InvalidDrill as exc:
        raise _fail(f"{exc}\n`hero-foundry drill clear` replaces it with an empty one.") from None


def _write(path: Path, data: dict[str, Any]) -> None:
    try:
        state.write(path, data)
    except OSError as exc:
        raise _fail(f"cannot write {path}: {exc.strerror}") from None


@drill_app.command("set")
def set_(
    error_rate: Annotated[
        float | None,
        typer.Option("--error-rate", help="Share of /api/* requests answered 500, 0 to 1."),
    ] = None,
    latency: Annotated[
        float | None,
        typer.Option("--latency", help="Seconds added before each /api/* request, 0 to 60."),
    ] = None,
    ai_failing: Annotated[
        bool | None,
        typer.Option(
            "--ai-failing/--no-ai-failing",
            help="The AI assistant's provider fails (503, ai_query_failure_total).",
            show_default=False,
        ),
    ] = None,
    wizard_clock_offset: Annotated[
        float | None,
        typer.Option(
            "--wizard-clock-offset",
            help="Seconds added to the creation wizard's measured time, 0 to 86400.",
        ),
    ] = None,
    level_up_clock_offset: Annotated[
        float | None,
        typer.Option(
            "--level-up-clock-offset",
            help="Seconds added to a level-up's measured time, 0 to 86400.",
        ),
    ] = None,
    file: FileOption = None,
) -> None:
    """Switch drills on (or change them); the others stay as they are."""
    settings = _settings()
    if settings.environment == "production":
        raise _fail("drills are refused when environment is production")
    given = {
        "error_rate": error_rate,
        "latency_seconds": latency,
        "ai_failing": ai_failing,
        "wizard_clock_offset_seconds": wizard_clock_offset,
        "level_up_clock_offset_seconds": level_up_clock_offset,
    }
    changes = {name: value for name, value in given.items() if value is not None}
    if not changes:
        raise _fail("nothing to set: give at least one drill option (see --help)")
    for name, value in changes.items():
        try:
            state.check(name, value)
        except state.InvalidDrill as exc:
            option = state.SPECS[name].option
            raise _fail(f"{option}: {exc}") from None
    path = _path(file, settings)
    _write(path, _read(path) | changes)
    _show(path, settings)


@drill_app.command("clear")
def clear(
    name: Annotated[
        str | None,
        typer.Argument(
            help="The drill to switch off (error_rate, latency_seconds, ai_failing, "
            "wizard_clock_offset_seconds, level_up_clock_offset_seconds, or the option's name, "
            "e.g. latency); every drill when omitted.",
            show_default=False,
        ),
    ] = None,
    file: FileOption = None,
) -> None:
    """Switch one drill off, or all of them."""
    settings = _settings()
    path = _path(file, settings)
    if name is None:
        _write(path, {})
    else:
        key = name.replace("-", "_")
        key = ALIASES.get(key, key)
        if key not in state.SPECS:
            raise _fail(f"unknown drill {name!r} (known: {', '.join(state.SPECS)})")
        data = _read(path)
        data.pop(key, None)
        _write(path, data)
    _show(path, settings)


@drill_app.command("status")
def status(file: FileOption = None) -> None:
    """Show the drill file: each drill, its value and what it does."""
    settings = _settings()
    _show(_path(file, settings), settings)


def _show(path: Path, settings: Settings) -> None:
    try:
        drills = state.load(path)
        problem = None
    except state.InvalidDrill as exc:
        drills, problem = state.NO_DRILLS, str(exc)
    table = Table(title=f"Drills in {path}" + ("" if path.exists() else " (no file)"))
    table.add_column("Drill")
    table.add_column("Value", justify="right")
    table.add_column("What it does")
    for name, spec in state.SPECS.items():
        value = getattr(drills, name)
        if spec.kind is bool:
            shown = "[red]on[/red]" if value else "off"
        else:
            shown = f"[red]{value:g}{spec.unit}[/red]" if value else "off"
        table.add_row(name, shown, spec.what)
    out.print(table)
    if problem:
        out.print(f"[red]invalid file, ignored by the api (no fault injected):[/red] {problem}")
    if not settings.drills_enabled:
        out.print(
            "The api applies this file only when started with HERO_FOUNDRY_DRILLS_ENABLED=true "
            "(the local stack does)."
        )
