"""``hero-foundry``: run the service and manage its database."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import typer
from rich.console import Console

from hero_foundry import __version__
from hero_foundry.settings import Settings

app = typer.Typer(help="The Hero Foundry: D&D 5e character service.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations (Alembic).", no_args_is_help=True)
app.add_typer(db_app, name="db")
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


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()


if __name__ == "__main__":
    main()
