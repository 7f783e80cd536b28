"""``hero-foundry up`` (the whole system on one machine) and ``hero-foundry sink`` (the local
notification sink alone). Registered in :mod:`hero_foundry.cli`; ``python -m
hero_foundry.stack`` runs them too."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from hero_foundry.stack.config import FAST_FACTOR, LOOPBACK, Ports

console = Console(highlight=False, soft_wrap=True)
errors = Console(stderr=True, highlight=False, soft_wrap=True)

_DEFAULTS = Ports()


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    pairs = {}
    for value in values or []:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected KEY=VALUE, got {value!r}", param_hint=option)
        pairs[key] = rest
    return pairs


def up(
    fast: Annotated[
        bool,
        typer.Option(
            "--fast",
            help="Scrape and evaluate every second and divide every duration of the rules and "
            "of Alertmanager's routes by --fast-factor (drills and end-to-end tests).",
        ),
    ] = False,
    fast_factor: Annotated[
        float, typer.Option(min=1, help="The --fast divisor: 60 turns 5m into 5s.")
    ] = FAST_FACTOR,
    state_dir: Annotated[
        Path, typer.Option(help="State: generated configuration, data, logs, notifications.")
    ] = Path("var"),
    database_url: Annotated[
        str | None,
        typer.Option(
            help="The api's database [HERO_FOUNDRY_DATABASE_URL; empty: SQLite under the state "
            "directory]. PostgreSQL also starts the PostgreSQL exporter.",
            show_default=False,
        ),
    ] = None,
    redis_url: Annotated[
        str | None,
        typer.Option(
            help="The api's Redis [HERO_FOUNDRY_REDIS_URL; empty: in-process cache]. Redis also "
            "starts the Redis exporter.",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="The api's worker processes.")] = 2,
    api_port: Annotated[int, typer.Option(help="The api.")] = _DEFAULTS.api,
    prometheus_port: Annotated[int, typer.Option(help="Prometheus.")] = _DEFAULTS.prometheus,
    alertmanager_port: Annotated[int, typer.Option(help="Alertmanager.")] = _DEFAULTS.alertmanager,
    sink_port: Annotated[int, typer.Option(help="The notification sink (HTTP).")] = _DEFAULTS.sink,
    smtp_port: Annotated[int, typer.Option(help="The notification sink (SMTP).")] = _DEFAULTS.smtp,
    node_exporter_port: Annotated[
        int, typer.Option(help="The node exporter.")
    ] = _DEFAULTS.node_exporter,
    postgres_exporter_port: Annotated[
        int, typer.Option(help="The PostgreSQL exporter.")
    ] = _DEFAULTS.postgres_exporter,
    redis_exporter_port: Annotated[
        int, typer.Option(help="The Redis exporter.")
    ] = _DEFAULTS.redis_exporter,
    api_env: Annotated[
        list[str] | None,
        typer.Option(
            "--api-env",
            metavar="NAME=VALUE",
            help="More environment for the api (repeatable), e.g. HERO_FOUNDRY_LOG_LEVEL=DEBUG.",
        ),
    ] = None,
    web_port: Annotated[int, typer.Option(help="The web tier (react-frontend).")] = _DEFAULTS.web,
    web: Annotated[
        bool,
        typer.Option(
            help="Run the web tier (hero-foundry web) on the built front end, web/dist "
            "(scripts/web.sh builds it; make run does). Off when there is no bundle."
        ),
    ] = True,
    install: Annotated[
        bool,
        typer.Option(
            help="Install a missing Prometheus, Alertmanager or exporter with apt-get (as root "
            "on Debian/Ubuntu); otherwise say what to install and run the api anyway."
        ),
    ] = True,
) -> None:
    """Run the whole system on this machine: the api (2 workers), Prometheus and Alertmanager
    on the repository's monitoring/ files, the exporters and a notification sink that receives
    what Alertmanager sends to Slack, PagerDuty, e-mail and the dead man's switch. Ctrl-C stops
    everything; the data stays under the state directory for the next run."""
    from hero_foundry.monitoring.check import RootError
    from hero_foundry.settings import Settings
    from hero_foundry.stack.supervisor import Stack, StackError, StackOptions, signals_stop

    if database_url is None or redis_url is None:
        try:
            settings = Settings()
        except Exception as exc:  # pydantic's ValidationError, without a traceback
            errors.print(f"[red]invalid settings:[/red] {exc}")
            raise typer.Exit(2) from None
        if database_url is None:
            database_url = settings.database_url.get_secret_value()
        if redis_url is None:
            redis_url = settings.redis_url_value or ""
    ports = Ports(
        api=api_port,
        prometheus=prometheus_port,
        alertmanager=alertmanager_port,
        sink=sink_port,
        smtp=smtp_port,
        node_exporter=node_exporter_port,
        postgres_exporter=postgres_exporter_port,
        redis_exporter=redis_exporter_port,
        web=web_port,
    )
    options = StackOptions(
        state_dir=state_dir,
        ports=ports,
        fast=fast_factor if fast else None,
        database_url=database_url,
        redis_url=redis_url,
        api_workers=workers,
        api_env=_pairs(api_env, "--api-env"),
        web=web,
    )
    try:
        stack = Stack(options)
    except RootError as exc:
        errors.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if web and not (stack.root / "web" / "dist" / "index.html").is_file():
        errors.print(
            "[yellow]no web front end:[/yellow] web/dist is not built (scripts/web.sh builds it;"
            " make run does): starting without the web tier"
        )
        stack.options.web = False

    def ready(component: object) -> None:
        console.print(
            f"[green]✓[/green] {component.name} ready in {component.ready_seconds:.1f} s"  # type: ignore[attr-defined]
        )

    with signals_stop():
        try:
            _install_missing(stack, install)
            if stack.missing:
                runs = ", ".join(stack.runnable())
                errors.print(f"[yellow]running without them:[/yellow] {runs}")
            mode = f", fast mode (durations / {fast_factor:g})" if fast else ""
            console.print(
                f"[bold]hero-foundry up[/bold]: {', '.join(stack.runnable())}{mode}; "
                f"database {_redacted(database_url) or 'SQLite under ' + str(stack.state_dir)}, "
                f"cache {'redis' if redis_url else 'in-process'}"
            )
            stack.start(on_ready=ready)
            _print_addresses(stack)
            _stream(stack)
        except StackError as exc:
            errors.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            console.print("\nstopping…")
        finally:
            with _uninterrupted():
                stack.stop()
    console.print(f"stopped; the data stays in {stack.state_dir}")


def _redacted(url: str) -> str:
    if not url:
        return ""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _install_missing(stack: object, install: bool) -> None:
    from hero_foundry.monitoring import check

    missing = stack.missing_tools()  # type: ignore[attr-defined]
    if not missing:
        return
    names = ", ".join(tool.name for tool in missing)
    plan = check.install_plan(missing)
    if install and not isinstance(plan, str):
        errors.print(f"[yellow]not installed:[/yellow] {names}; installing with apt-get")
        for command, code, tail in check.install(plan):
            errors.print(f"$ {' '.join(command)}")
            if code != 0:
                errors.print(f"[red]exit {code}[/red]\n{tail}")
                break
        still = [tool.name for tool in missing if tool.find() is None]
        if still:
            errors.print(f"[yellow]still not installed:[/yellow] {', '.join(still)}")
        return
    if isinstance(plan, str):  # not root, not Debian, no apt-get: plan says what to run
        errors.print(f"[yellow]not installed:[/yellow] {names}: {plan}")
        return
    packages = " ".join(sorted({tool.package for tool in missing}))
    errors.print(
        f"[yellow]not installed:[/yellow] {names}: install them with "
        f"[bold]sudo apt-get install {packages}[/bold] (or run without --no-install)"
    )


def _print_addresses(stack: object) -> None:
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    labels = {
        "api": "API",
        "docs": "API docs",
        "metrics": "API metrics (bearer token below)",
        "prometheus": "Prometheus",
        "alertmanager": "Alertmanager",
        "sink": "Notification sink",
        "notifications": "Notifications (JSON)",
        "smtp": "Sink SMTP",
        "node-exporter": "Node exporter",
        "postgres-exporter": "PostgreSQL exporter",
        "redis-exporter": "Redis exporter",
    }
    for key, url in stack.urls.items():  # type: ignore[attr-defined]
        table.add_row(labels.get(key, key), url)
    for key, path in stack.files.items():  # type: ignore[attr-defined]
        table.add_row(key.replace("_", " ").capitalize(), _short(path))
    console.print(table)
    # The runbooks' local commands (monitoring/runbooks/) start by sourcing it.
    env_sh = shlex.quote(_short(stack.env_sh))  # type: ignore[attr-defined]
    console.print(
        f"Runbook variables (PROM, AM, API, SINK, LOGS, HF ...): [bold]. {escape(env_sh)}[/bold]"
    )
    console.print("[dim]Ctrl-C stops everything.[/dim]")


def _short(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _stream(stack: object, interval: float = 1.0) -> None:
    from hero_foundry.stack.sink import describe
    from hero_foundry.stack.supervisor import Watcher

    watcher = Watcher(stack)  # type: ignore[arg-type]
    while True:
        for event in watcher.poll():
            stamp = time.strftime("%H:%M:%S")
            if event.record is not None:
                console.print(describe(event.record), soft_wrap=True)
            else:
                line = Text.assemble((f"{stamp} ", "dim"), (event.message, event.style or ""))
                console.print(line, soft_wrap=True)
        time.sleep(interval)


def sink(
    host: Annotated[str, typer.Option(help="Address to listen on (loopback only).")] = LOOPBACK,
    port: Annotated[int, typer.Option(help="HTTP port.")] = _DEFAULTS.sink,
    smtp_port: Annotated[int, typer.Option(help="SMTP port.")] = _DEFAULTS.smtp,
    file: Annotated[
        Path, typer.Option(help="Where each notification is appended as a JSON line.")
    ] = Path("var/notifications.jsonl"),
    email_receiver: Annotated[
        list[str] | None,
        typer.Option(
            "--email-receiver",
            metavar="ADDRESS=RECEIVER",
            help="The Alertmanager receiver mailing ADDRESS (repeatable; `hero-foundry up` "
            "passes them from the configuration).",
        ),
    ] = None,
    runbooks: Annotated[
        Path | None,
        typer.Option(
            help="Serve this directory's runbooks (the repository's monitoring/runbooks; "
            "`hero-foundry up` passes it) as HTML at GET /runbooks/ and /runbooks/NAME.md, "
            "so the runbook links of local notifications open.",
            file_okay=False,
        ),
    ] = None,
) -> None:
    """Receive what Alertmanager sends to Slack (POST /slack), PagerDuty (POST
    /pagerduty/v2/enqueue), a webhook (POST /deadmansswitch, /webhook) and by e-mail (SMTP,
    AUTH PLAIN/LOGIN without TLS), store each notification as a JSON line and print it.
    GET /notifications lists what arrived; GET /runbooks/ the runbooks (--runbooks)."""
    from hero_foundry.stack.sink import Sink, describe

    if host not in (LOOPBACK, "localhost", "::1"):
        raise typer.BadParameter("the sink accepts credentials without TLS: loopback only")
    server = Sink(
        file,
        host=host,
        port=port,
        smtp_port=smtp_port,
        email_receivers=_pairs(email_receiver, "--email-receiver"),
        on_record=lambda record: console.print(describe(record), soft_wrap=True),
        runbooks=runbooks,
    )
    from hero_foundry.stack.supervisor import signals_stop

    with signals_stop():
        try:
            server.start()
            console.print(
                f"notification sink on {server.url} (Slack /slack, PagerDuty "
                f"/pagerduty/v2/enqueue, webhooks /deadmansswitch and /webhook, GET "
                f"/notifications), SMTP {host}:{smtp_port}; writing {file}"
                + (f"; runbooks of {runbooks} at {server.url}/runbooks/" if runbooks else "")
            )
            if server.smtp_error:
                errors.print(f"[yellow]{server.smtp_error}[/yellow]")
            threading.Event().wait()
        except OSError as exc:
            errors.print(f"[red]error:[/red] cannot listen: {exc}")
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            pass
        finally:
            with _uninterrupted():
                server.stop()


@contextlib.contextmanager
def _uninterrupted() -> Iterator[None]:
    """Ignore a second Ctrl-C (or SIGTERM) while stopping, so the stop runs to its end."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main() -> None:
    """``python -m hero_foundry.stack``: both commands, before hero_foundry.cli has them."""
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app = typer.Typer(no_args_is_help=True, help="The local stack.")
    app.command()(up)
    app.command()(sink)
    app(prog_name=f"{Path(sys.executable).name} -m hero_foundry.stack")
