"""``hero-foundry web``: the command (the lead wires :func:`web` into ``cli.py``).

Nothing here imports prometheus_client (see the package's docstring): the application is
imported by uvicorn, after the metrics directory of several workers is set.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hero_foundry import __version__
from hero_foundry.web.settings import WebSettings

console = Console(stderr=True)
#: The web tier's own multiprocess-metrics directory (never the api's: each has its /metrics).
MULTIPROC_SUBDIR = "prometheus-multiproc-web"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # as observability/exposition.py, without its import


def _settings() -> WebSettings:
    try:
        return WebSettings()
    except Exception as exc:  # pydantic's ValidationError: show it without a traceback
        console.print(f"[red]invalid settings:[/red] {exc}")
        raise typer.Exit(2) from None


def port_in_use(host: str, port: int) -> OSError | None:
    """The error binding ``host:port`` gives now (as uvicorn binds it), or None if it is free."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc
    return None


def web(
    host: Annotated[
        str | None, typer.Option(help="Bind address [HERO_FOUNDRY_WEB_HOST, 127.0.0.1]")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="Port [HERO_FOUNDRY_WEB_PORT, 3000]"),
    ] = None,
    api_url: Annotated[
        str | None,
        typer.Option(
            "--api-url",
            help="The api /api/* is forwarded to [HERO_FOUNDRY_WEB_API_URL, "
            "http://127.0.0.1:<HERO_FOUNDRY_PORT>]",
        ),
    ] = None,
    dist: Annotated[
        Path | None,
        typer.Option(
            help="The built bundle [HERO_FOUNDRY_WEB_DIST_DIR, <repository>/web/dist]",
            file_okay=False,
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Worker processes [HERO_FOUNDRY_WEB_WORKERS, 1]"),
    ] = None,
) -> None:
    """Serve the web front end: the built React bundle, `/api/*` forwarded to the api, and the
    web tier's own `/metrics`, `/healthz` and `/readyz` (docs/web-tier.md)."""
    # Options become the environment the application (and every worker) reads its settings from.
    overrides = {
        "HERO_FOUNDRY_WEB_HOST": host,
        "HERO_FOUNDRY_WEB_PORT": None if port is None else str(port),
        "HERO_FOUNDRY_WEB_API_URL": api_url,
        "HERO_FOUNDRY_WEB_DIST_DIR": None if dist is None else str(dist.resolve()),
        "HERO_FOUNDRY_WEB_WORKERS": None if workers is None else str(workers),
    }
    for name, value in overrides.items():
        if value is not None:
            os.environ[name] = value
    settings = _settings()
    host, port, workers = settings.web_host, settings.web_port, settings.web_workers

    taken = port_in_use(host, port)
    if taken is not None:
        if taken.errno == errno.EADDRINUSE:
            console.print(
                f"[red]error:[/red] port {port} on {host} is already in use (another "
                "`hero-foundry web`?): stop that process or choose another port with --port "
                "or HERO_FOUNDRY_WEB_PORT"
            )
        else:
            console.print(f"[red]error:[/red] cannot listen on {host}:{port}: {taken.strerror}")
        raise typer.Exit(1)

    _metrics_directory(settings, workers)
    bundle = settings.web_dist_path
    console.print(
        f"[bold]The Hero Foundry[/bold] {__version__} web on http://{_url_host(host)}:{port} "
        f"api={settings.web_api_url_value} bundle={bundle}",
        soft_wrap=True,
    )
    if not (bundle / "index.html").is_file():
        console.print(
            f"[yellow]no bundle:[/yellow] {bundle / 'index.html'} is missing, pages answer 503 "
            "until it is built: cd web && npm ci && npm run build",
            soft_wrap=True,
        )

    import uvicorn

    from hero_foundry.observability.logs import uvicorn_log_config
    from hero_foundry.web.logs import configure_web_logging

    configure_web_logging(settings)
    uvicorn.run(
        "hero_foundry.web.app:web_app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level.lower(),
        log_config=uvicorn_log_config(settings),
        access_log=False,  # the access log is RequestContextMiddleware's
    )


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _metrics_directory(settings: WebSettings, workers: int) -> None:
    """Several workers share their metrics through files in a directory of the web tier's own
    (fresh at each start); one worker keeps them in memory. A directory inherited from the
    environment (the api's, when a supervisor passes its environment on) is never used: the
    web tier's /metrics would otherwise serve the api's series."""
    if workers == 1:
        os.environ.pop(MULTIPROC_ENV, None)
        return
    directory = settings.data_dir / MULTIPROC_SUBDIR
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_ENV] = str(directory.resolve())
