"""``hero-foundry``: run the service or the whole local stack, manage its database, drive load,
switch drills and check the monitoring stack."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hero_foundry import __version__
from hero_foundry.drills.cli import drill_app
from hero_foundry.loadgen.cli import loadgen as loadgen_command
from hero_foundry.monitoring import check as monitoring_checks
from hero_foundry.settings import Settings
from hero_foundry.stack import cli as stack_cli
from hero_foundry.web.cli import web as web_command

app = typer.Typer(
    help="The Hero Foundry: D&D 5e character service.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
db_app = typer.Typer(help="Database migrations (Alembic).", no_args_is_help=True)
app.add_typer(db_app, name="db")
monitoring_app = typer.Typer(
    help="The monitoring stack as code (monitoring/, deploy/).", no_args_is_help=True
)
app.add_typer(monitoring_app, name="monitoring")
app.add_typer(drill_app, name="drill")
app.command("loadgen")(loadgen_command)
app.command("up")(stack_cli.up)
app.command("sink")(stack_cli.sink)
app.command("web")(web_command)
console = Console(stderr=True)


def _settings() -> Settings:
    try:
        return Settings()
    except Exception as exc:  # pydantic's ValidationError: show it without a traceback
        console.print(f"[red]invalid settings:[/red] {exc}")
        raise typer.Exit(2) from None


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [HERO_FOUNDRY_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [HERO_FOUNDRY_PORT]")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, max=64, help="Worker processes [HERO_FOUNDRY_WORKERS]")
    ] = None,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development)")] = False,
) -> None:
    """Serve the API (OpenAPI docs at /docs)."""
    import uvicorn

    from hero_foundry.observability.logs import configure_logging, uvicorn_log_config

    settings = _settings()
    host = host or settings.host
    port = port or settings.port
    workers = workers or settings.workers
    if workers > 1:
        _multiprocess_metrics(settings)
    console.print(
        f"[bold]The Hero Foundry[/bold] {__version__} on http://{host}:{port} "
        f"(docs: http://{host}:{port}/docs) database={_redacted(settings.database_url_value)} "
        f"cache={'redis' if settings.redis_url_value else 'in-process'}"
    )
    configure_logging(settings)  # this process's records; each worker's app configures its own
    uvicorn.run(
        "hero_foundry.app:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        log_level=settings.log_level.lower(),
        log_config=uvicorn_log_config(settings),  # uvicorn's records as ECS JSON too
        access_log=False,  # the access log is RequestContextMiddleware's
    )


def _multiprocess_metrics(settings: Settings) -> None:
    """Several workers share their metrics through files (prometheus_client's multiprocess
    mode): a fresh directory per start, set before the workers import prometheus_client."""
    import shutil

    from hero_foundry.observability.exposition import MULTIPROC_ENV

    directory = os.environ.get(MULTIPROC_ENV) or str(settings.data_dir / "prometheus-multiproc")
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, exist_ok=True)
    os.environ[MULTIPROC_ENV] = directory


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from hero_foundry.storage import migrate

    settings = _settings()
    url = settings.database_url_value
    asyncio.run(migrate.upgrade(url, revision))
    console.print(f"database {_redacted(url)} at revision {asyncio.run(migrate.current(url))}")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision")]) -> None:
    """Revert migrations down to REVISION ('base' drops every table)."""
    from hero_foundry.storage import migrate

    url = _settings().database_url_value
    asyncio.run(migrate.downgrade(url, revision))
    console.print(f"database {_redacted(url)} at revision {asyncio.run(migrate.current(url))}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's current revision."""
    from hero_foundry.storage import migrate

    url = _settings().database_url_value
    typer.echo(asyncio.run(migrate.current(url)) or "none")


_CHECK_HELP = (
    "Check monitoring/ and deploy/ with the real tools and print a verdict per item: OK, "
    "FAILED (with the first lines of the reason) or SKIPPED (a tool is missing, with what to "
    "install).\n\n"
    "Exit code 0 when nothing failed, 1 when a check failed, 2 on a usage error or when the "
    "repository has no monitoring/. With CI=true missing tools are installed first (as with "
    "--install) and a check skipped for a missing tool fails.\n\n"
    "Items, in the order they run:\n\n"
    + "\n\n".join(f"{item.name}: {item.title}" for item in monitoring_checks.ITEMS)
)


@monitoring_app.command("check", help=_CHECK_HELP)
def monitoring_check(
    only: Annotated[
        str | None,
        typer.Option(
            "--only",
            metavar="ITEM,...",
            help="Run only these items (comma-separated names, see above).",
        ),
    ] = None,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline",
            help="Do not start the exporters, Prometheus and Alertmanager to learn the metric "
            "names they expose: the dashboards' exporter metrics are then not verified.",
        ),
    ] = False,
    install: Annotated[
        bool,
        typer.Option(
            "--install",
            help="Install missing promtool (package prometheus), amtool "
            "(prometheus-alertmanager) and the exporters the dashboard check starts, with "
            "apt-get (root on Debian/Ubuntu). Automatic when CI=true.",
        ),
    ] = False,
    root: Annotated[
        Path | None,
        typer.Option(
            "--root",
            help="The repository to check (default: the source checkout this package runs from).",
            file_okay=False,
        ),
    ] = None,
) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    try:
        items = monitoring_checks.select(only.split(",") if only is not None else None)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--only'") from None
    try:
        repository = monitoring_checks.find_root(root)
    except monitoring_checks.RootError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    in_ci = os.environ.get("CI") == "true"
    live = not offline
    console.print(f"checking {repository} ({len(items)} item(s){', offline' if offline else ''})")

    missing = monitoring_checks.missing_tools(items, live=live)
    if missing:
        names = ", ".join(tool.name for tool in missing)
        if install or in_ci:
            _install_tools(missing)
        else:
            console.print(
                f"[yellow]not installed:[/yellow] {names}: their checks are skipped "
                "(--install installs them with apt-get)"
            )

    position = {item.name: n for n, item in enumerate(items, 1)}
    status = console.status("")
    styles = {"OK": "green", "FAILED": "bold red", "SKIPPED": "yellow"}

    def started(item: monitoring_checks.Item) -> None:
        status.update(f"[{position[item.name]}/{len(items)}] {item.name}: {item.title}")

    def done(result: monitoring_checks.Result) -> None:
        style = styles[result.status.value]
        console.print(
            f"[{position[result.item]}/{len(items)}] {result.item}: "
            f"[{style}]{result.status.value}[/{style}] ({result.seconds:.1f} s)"
        )

    with status:
        results = monitoring_checks.run_checks(
            repository, items, live=live, strict_mode=in_ci, on_start=started, on_done=done
        )

    shown = 5
    out = Console(width=None if sys.stdout.isatty() else _columns(), highlight=False)
    table = Table(box=box.SIMPLE_HEAD, title="hero-foundry monitoring check", title_justify="left")
    table.add_column("Item", no_wrap=True)
    table.add_column("Verdict", no_wrap=True)
    table.add_column("Time", justify="right", no_wrap=True)
    table.add_column("Details", overflow="fold")
    for result in results:
        details = list(result.details[:shown])
        if len(result.details) > shown:
            details.append(f"… {len(result.details) - shown} more (below)")
        table.add_row(
            result.item,
            Text(result.status.value, style=styles[result.status.value]),
            f"{result.seconds:.1f} s",
            Text("\n".join(details)),
        )
    out.print(table)
    for result in results:
        if result.status is not monitoring_checks.Status.OK and len(result.details) > shown:
            out.print(
                Text(f"{result.item}: {result.status.value}", style=styles[result.status.value])
            )
            for line in result.details:
                out.print(Text(f"  {line}"))

    counts = {s: sum(r.status is s for r in results) for s in monitoring_checks.Status}
    failed = [r.item for r in results if r.status is monitoring_checks.Status.FAILED]
    verdict = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
    if failed:
        out.print(Text(f"FAILED: {', '.join(failed)} ({verdict})", style="bold red"))
        raise typer.Exit(1)
    out.print(Text(f"passed ({verdict})", style="bold green"))


def _columns() -> int:
    """Table width when the output is not a terminal (a CI log): $COLUMNS, else 120."""
    try:
        return max(80, int(os.environ.get("COLUMNS", "")))
    except ValueError:
        return 120


def _install_tools(tools: list[monitoring_checks.Tool]) -> None:
    """Install missing tools with apt-get where this process can; otherwise say how."""
    plan = monitoring_checks.install_plan(tools)
    names = ", ".join(tool.name for tool in tools)
    if isinstance(plan, str):
        console.print(f"[yellow]cannot install {names}:[/yellow] {plan}")
        return
    for command, code, tail in monitoring_checks.install(plan):
        console.print(f"$ {' '.join(command)}")
        if code != 0:
            console.print(f"[red]exit {code}[/red]\n{tail}")
            return
    still = [t.name for t in tools if t.find() is None]
    if still:
        console.print(f"[yellow]still missing after apt-get:[/yellow] {', '.join(still)}")


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()


if __name__ == "__main__":
    main()
