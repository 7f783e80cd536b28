"""The whole system on one machine: start, watch and stop its processes.

:class:`Stack` starts, in order, the notification sink, the api (``hero-foundry serve``, after
``db upgrade``), the exporters (PostgreSQL and Redis only when the api uses them), Alertmanager
and Prometheus, each in its own process group with its output in
``<state>/stack/<component>/<component>.log``, and waits (bounded) until each answers. ``stop()``
ends every process it started, children included (SIGTERM to the group, SIGKILL after a
timeout). The end-to-end tests use it directly::

    with Stack(StackOptions(state_dir=tmp, ports=Ports.free(), fast=60)) as stack:
        stack.kill("api")          # SIGKILL the api's master and workers
        stack.restart("api")
        stack.urls["prometheus"]

A component whose program is not installed does not run (``stack.missing`` says which and what to
install): without Prometheus, only the api runs.

Every start writes ``<state>/stack/env.sh``: the addresses and files of this stack as shell
variables (``PROM``, ``AM``, ``API``, ``SINK``, ``LOGS``, ``HF`` ...), which the runbooks'
local commands source (``monitoring/runbooks/README.md``).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hero_foundry.monitoring.check import Tool, find_root
from hero_foundry.stack import config as stack_config
from hero_foundry.stack.config import LOOPBACK, Ports
from hero_foundry.stack.sink import Record, matches, read_records

# -- The programs ---------------------------------------------------------------------------------
PROMETHEUS = Tool("prometheus", "prometheus", "apt-get install prometheus")
ALERTMANAGER = Tool(
    "prometheus-alertmanager",
    "prometheus-alertmanager",
    "apt-get install prometheus-alertmanager",
    candidates=("prometheus-alertmanager", "alertmanager"),
)
NODE_EXPORTER = Tool(
    "prometheus-node-exporter",
    "prometheus-node-exporter",
    "apt-get install prometheus-node-exporter",
    candidates=("prometheus-node-exporter", "node_exporter"),
)
POSTGRES_EXPORTER = Tool(
    "prometheus-postgres-exporter",
    "prometheus-postgres-exporter",
    "apt-get install prometheus-postgres-exporter",
    candidates=("prometheus-postgres-exporter", "postgres_exporter"),
)
REDIS_EXPORTER = Tool(
    "prometheus-redis-exporter",
    "prometheus-redis-exporter",
    "apt-get install prometheus-redis-exporter",
    candidates=("prometheus-redis-exporter", "redis_exporter"),
)
TOOLS = {
    "prometheus": PROMETHEUS,
    "alertmanager": ALERTMANAGER,
    "node-exporter": NODE_EXPORTER,
    "postgres-exporter": POSTGRES_EXPORTER,
    "redis-exporter": REDIS_EXPORTER,
}
#: Start order; stopped in reverse.
ORDER = (
    "sink",
    "api",
    "web",
    "postgres-exporter",
    "redis-exporter",
    "node-exporter",
    "alertmanager",
    "prometheus",
)


#: The variables ``<state>/stack/env.sh`` always exports (``WEB`` too when the web tier runs).
ENV_SH_VARIABLES = (
    "PROM",
    "AM",
    "API",
    "SINK",
    "LOGS",
    "STACK",
    "HF",
    "HERO_FOUNDRY_DRILLS_FILE",
    "HERO_FOUNDRY_STATE_DIR",
)
#: Exported only when its component runs.
ENV_SH_OPTIONAL = ("WEB",)
#: The api's rate limits on the local stack (overridable with ``api_env``), see ``_api_env``.
LOCAL_STACK_LIMITS = {
    "HERO_FOUNDRY_LOGIN_FAILURES_PER_CLIENT": "100000/minute",
    "HERO_FOUNDRY_REGISTRATIONS_PER_CLIENT": "100000/minute",
    "HERO_FOUNDRY_ASSISTANT_QUESTIONS_PER_CLIENT": "100000/minute",
    "HERO_FOUNDRY_ASSISTANT_QUESTIONS_PER_ACCOUNT": "100000/minute",
}


def fast_resend_delay(factor: float) -> str:
    """Prometheus' alert resend delay in fast mode: 1m / factor, at least 5 s.

    Alerts sent before Prometheus has discovered its Alertmanager (about 5 s after it starts)
    are dropped and only sent again after this delay, so the Watchdog's first notification
    waits for it. Not shorter than 5 s: a firing alert is valid for 4 x this delay in
    Alertmanager, which resolves it by itself if Prometheus falls silent that long."""
    one_minute = stack_config.parse_duration("1m")
    floor = stack_config.parse_duration("5s")
    return stack_config.format_duration(max(round(one_minute / factor), floor))


class StackError(Exception):
    """A component could not be started (its log's last lines are in the message)."""


@dataclass
class StackOptions:
    """What :class:`Stack` runs, and where."""

    #: State: ``stack/<component>/`` (generated configuration, data, logs), the sink's
    #: ``notifications.jsonl``, the api's SQLite file and ``drills.json``.
    state_dir: Path = Path("var")
    ports: Ports = field(default_factory=Ports)
    #: Fast mode (end-to-end tests): scrape and evaluate every second and divide every duration
    #: of the rules and of Alertmanager's routes by this factor. None: the real durations.
    fast: float | None = None
    #: The api's database and Redis (empty: SQLite under ``state_dir`` and the in-process cache).
    database_url: str = ""
    redis_url: str = ""
    api_workers: int = 2
    #: More environment for the api (``HERO_FOUNDRY_...``), over the stack's own.
    api_env: dict[str, str] = field(default_factory=dict)
    #: The repository whose monitoring/ is run (default: this source checkout).
    root: Path | None = None
    #: Seconds each component may take to answer, and to stop.
    ready_timeout: float = 60.0
    stop_timeout: float = 10.0
    #: Components not to run even when installed (e.g. {"node-exporter"}).
    without: frozenset[str] = frozenset()
    #: Run the web tier (``hero-foundry web``, the ``react-frontend`` job) on the built front end
    #: (``web/dist``; ``scripts/web.sh`` builds it). ``up`` turns it on when the bundle exists.
    web: bool = False


@dataclass
class Component:
    name: str
    command: list[str]
    cwd: Path
    log: Path
    env: dict[str, str] | None = None
    ready: Callable[[], bool] = lambda: True
    ports: tuple[int, ...] = ()
    #: Run once before the first start (the api's migrations).
    prepare: list[str] | None = None
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    ready_seconds: float = 0.0


# -- Probes ---------------------------------------------------------------------------------------
def http_ok(url: str, timeout: float = 1.0, headers: dict[str, str] | None = None) -> bool:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (OSError, ValueError):
        return False


def tcp_open(port: int, host: str = LOOPBACK, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_free(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def get_json(url: str, timeout: float = 2.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


# -- Process groups -------------------------------------------------------------------------------
def group_members(pgid: int) -> list[int]:
    """The live (non-zombie) processes of process group ``pgid``."""
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: ask the kernel whether the group still exists
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
        fields_ = stat[stat.rindex(")") + 2 :].split()
        if fields_[0] != "Z" and int(fields_[2]) == pgid:
            members.append(int(entry.name))
    return members


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the process that started it dies (Linux
    PR_SET_PDEATHSIG), so a supervisor killed with SIGKILL leaves no orphan behind."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# -- The stack ------------------------------------------------------------------------------------
class Stack:
    """The api with its monitoring stack as local processes (see the module's docstring)."""

    def __init__(self, options: StackOptions | None = None) -> None:
        self.options = options or StackOptions()
        self.root = find_root(self.options.root)
        self.state_dir = self.options.state_dir.resolve()
        self.stack_dir = self.state_dir / "stack"
        self.ports = self.options.ports
        self.notifications_file = self.state_dir / "notifications.jsonl"
        self.drills_file = self.state_dir / "drills.json"
        #: The api's (and the web tier's) HERO_FOUNDRY_LOG_DIR: ``fastapi/hero-foundry.log``.
        self.log_dir = self.state_dir / "logs"
        #: The shell variables of this stack (see :meth:`write_env_sh`).
        self.env_sh = self.stack_dir / "env.sh"
        self.components: dict[str, Component] = {}
        self.generated: stack_config.Generated | None = None
        self._lock = threading.RLock()
        self._prepared: set[str] = set()
        self._atexit = False

    # -- What runs ---------------------------------------------------------------------------
    @property
    def database_url(self) -> str:
        return self.options.database_url

    @property
    def uses_postgres(self) -> bool:
        return self.options.database_url.startswith("postgresql")

    @property
    def uses_redis(self) -> bool:
        return bool(self.options.redis_url)

    def wanted(self) -> list[str]:
        """The components this configuration runs when every program is installed."""
        names = ["sink", "api", "node-exporter", "alertmanager", "prometheus"]
        if self.options.web:
            names.append("web")
        if self.uses_postgres:
            names.append("postgres-exporter")
        if self.uses_redis:
            names.append("redis-exporter")
        return [n for n in ORDER if n in names and n not in self.options.without]

    def missing_tools(self) -> list[Tool]:
        """The programs of the wanted components that are not installed."""
        return [TOOLS[n] for n in self.wanted() if n in TOOLS and TOOLS[n].find() is None]

    @property
    def missing(self) -> list[str]:
        return [tool.name for tool in self.missing_tools()]

    def runnable(self) -> list[str]:
        """The wanted components whose programs are here. Without Prometheus nothing would
        watch the api: only the api runs. Without Alertmanager, no sink."""
        installed = {n for n in self.wanted() if n not in TOOLS or TOOLS[n].find() is not None}
        if "prometheus" not in installed:
            return ["api"]
        if "alertmanager" not in installed:
            installed.discard("sink")
        return [n for n in ORDER if n in installed]

    # -- Addresses ---------------------------------------------------------------------------
    @property
    def urls(self) -> dict[str, str]:
        p, base = self.ports, f"http://{LOOPBACK}"
        urls = {
            "api": f"{base}:{p.api}",
            "docs": f"{base}:{p.api}/docs",
            "metrics": f"{base}:{p.api}/metrics",
            "prometheus": f"{base}:{p.prometheus}",
            "alertmanager": f"{base}:{p.alertmanager}",
            "sink": f"{base}:{p.sink}",
            "notifications": f"{base}:{p.sink}/notifications",
            "smtp": f"smtp://{LOOPBACK}:{p.smtp}",
            "node-exporter": f"{base}:{p.node_exporter}/metrics",
            "postgres-exporter": f"{base}:{p.postgres_exporter}/metrics",
            "redis-exporter": f"{base}:{p.redis_exporter}/metrics",
            "web": f"{base}:{p.web}",
        }
        running = set(self.components) or set(self.runnable())
        hidden = {
            "prometheus": "prometheus",
            "alertmanager": "alertmanager",
            "sink": "sink",
            "notifications": "sink",
            "smtp": "sink",
            "node-exporter": "node-exporter",
            "postgres-exporter": "postgres-exporter",
            "redis-exporter": "redis-exporter",
            "web": "web",
        }
        return {k: v for k, v in urls.items() if hidden.get(k, "api") in running}

    @property
    def files(self) -> dict[str, Path]:
        """The files worth knowing: notifications, drills, the scrape token, each log."""
        out = {
            "notifications": self.notifications_file,
            "drills": self.drills_file,
            "metrics_token": self.stack_dir / "secrets" / "metrics_token",
            "api json log": self.api_log_file,
            "env.sh": self.env_sh,
        }
        for name, component in self.components.items():
            out[f"{name} log"] = component.log
        return out

    @property
    def api_log_file(self) -> Path:
        """Where the api writes its ECS JSON records: ``<log dir>/fastapi/hero-foundry.log``
        (``<state>/logs`` unless ``api_env`` sets another HERO_FOUNDRY_LOG_DIR); with an empty
        one, only its output file ``<state>/stack/api/api.log``."""
        from hero_foundry.observability.logs import log_file_path

        log_dir = self._api_env().get("HERO_FOUNDRY_LOG_DIR", "")
        if not log_dir:
            return self._log("api")
        return log_file_path(Path.cwd() / log_dir)  # the api runs in the current directory

    def env_sh_values(self) -> dict[str, str]:
        """The variables of ``env.sh``: :data:`ENV_SH_VARIABLES`, and ``WEB`` when the web tier
        runs."""
        p, base = self.ports, f"http://{LOOPBACK}"
        values = {
            "PROM": f"{base}:{p.prometheus}",
            "AM": f"{base}:{p.alertmanager}",
            "API": f"{base}:{p.api}",
            "SINK": f"{base}:{p.sink}",
            "LOGS": str(self.api_log_file),
            "STACK": str(self.stack_dir),
            "HF": str(Path(sys.executable).parent / "hero-foundry"),
            "HERO_FOUNDRY_DRILLS_FILE": str(self.drills_file),
            "HERO_FOUNDRY_STATE_DIR": str(self.state_dir),
        }
        if "web" in self.runnable():
            values["WEB"] = f"{base}:{p.web}"
        return values

    def write_env_sh(self) -> Path:
        """Write ``<state>/stack/env.sh``: this stack's addresses and files as shell variables,
        each value shell-quoted. The runbooks' local commands start with
        ``. "${HERO_FOUNDRY_STATE_DIR:-var}/stack/env.sh"``."""
        runs = self.runnable()
        absent = [name for name in self.wanted() if name not in runs]
        lines = [
            "# The local stack of The Hero Foundry (`hero-foundry up`): its addresses and files as",
            "# shell variables, for the runbooks' local commands (monitoring/runbooks/README.md)",
            "# and your own shell. From the repository's root:",
            '#   . "${HERO_FOUNDRY_STATE_DIR:-var}/stack/env.sh"',
            "# Written at every start (hero_foundry/stack/supervisor.py): do not edit.",
            f"# Written {_now()}; running: {', '.join(runs)}"
            + (f"; not running: {', '.join(absent)}" if absent else "")
            + (f"; fast mode (durations / {self.options.fast:g})" if self.options.fast else ""),
        ]
        names = {
            "PROM": "Prometheus",
            "AM": "Alertmanager",
            "API": "the api",
            "SINK": "the notification sink (GET /notifications, /runbooks/)",
            "WEB": "the web tier",
            "LOGS": "the api's ECS JSON log (one record a line)",
            "STACK": "generated configuration, data and each component's output",
            "HF": "the hero-foundry command of this stack",
            "HERO_FOUNDRY_DRILLS_FILE": 'this stack\'s drill switches (`"$HF" drill status`)',
            "HERO_FOUNDRY_STATE_DIR": "this stack's state directory",
        }
        for name, value in self.env_sh_values().items():
            lines.append(f"# {names[name]}")
            lines.append(f"export {name}={shlex.quote(value)}")
        self.env_sh.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.env_sh.with_name(".env.sh.tmp")
        temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
        temporary.replace(self.env_sh)
        return self.env_sh

    @property
    def metrics_token(self) -> str:
        return (self.stack_dir / "secrets" / "metrics_token").read_text(encoding="utf-8").strip()

    # -- Building the components -------------------------------------------------------------
    def _log(self, name: str) -> Path:
        return self.stack_dir / name / f"{name}.log"

    def _api_env(self) -> dict[str, str]:
        env = dict(os.environ)
        # The stack's settings, not stray ones of the calling shell.
        for name in ("PROMETHEUS_MULTIPROC_DIR", "HERO_FOUNDRY_METRICS_TOKEN"):
            env.pop(name, None)
        env.update(
            {
                "HERO_FOUNDRY_HOST": LOOPBACK,
                "HERO_FOUNDRY_PORT": str(self.ports.api),
                "HERO_FOUNDRY_DATA_DIR": str(self.state_dir),
                # ECS JSON records in <state>/logs/fastapi/hero-foundry.log (the web tier's in
                # react/), as Filebeat would read them; the output file has them too.
                "HERO_FOUNDRY_LOG_DIR": str(self.log_dir),
                "HERO_FOUNDRY_METRICS_TOKEN_FILE": str(
                    self.stack_dir / "secrets" / "metrics_token"
                ),
                # Local only: the drill switches (docs/drills.md); production refuses them.
                "HERO_FOUNDRY_DRILLS_ENABLED": "true",
                "HERO_FOUNDRY_DRILLS_FILE": str(self.drills_file),
                "HERO_FOUNDRY_DATABASE_URL": self.options.database_url,
                "HERO_FOUNDRY_REDIS_URL": self.options.redis_url,
                # The load generator's virtual users all come from loopback and ask the
                # assistant back to back: the per-address limits (and the assistant's per-account
                # one) would throttle the simulated population as one client. The per-account
                # login and registration limits stay as in production (docs/security.md).
                **LOCAL_STACK_LIMITS,
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.options.api_env)
        return env

    def _build(self, name: str) -> Component:
        p, stack, log = self.ports, self.stack_dir, self._log(name)
        python = sys.executable
        if name == "sink":
            assert self.generated is not None
            command = [
                python, "-m", "hero_foundry.stack", "sink",
                "--host", LOOPBACK, "--port", str(p.sink), "--smtp-port", str(p.smtp),
                "--file", str(self.notifications_file),
                # The runbook links of local notifications open on the sink (GET /runbooks/).
                "--runbooks", str(self.root / "monitoring" / "runbooks"),
            ]  # fmt: skip
            for address, receiver in self.generated.email_receivers.items():
                command += ["--email-receiver", f"{address}={receiver}"]
            return Component(
                name,
                command,
                stack / name,
                log,
                env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "160"},
                ready=lambda: http_ok(f"http://{LOOPBACK}:{p.sink}/healthz") and tcp_open(p.smtp),
                ports=(p.sink, p.smtp),
            )
        if name == "api":
            serve = [python, "-m", "hero_foundry.cli", "serve"]
            serve += ["--host", LOOPBACK, "--port", str(p.api)]
            serve += ["--workers", str(self.options.api_workers)]
            return Component(
                name,
                serve,
                Path.cwd(),
                log,
                env=self._api_env(),
                ready=lambda: http_ok(f"http://{LOOPBACK}:{p.api}/healthz"),
                ports=(p.api,),
                prepare=[python, "-m", "hero_foundry.cli", "db", "upgrade"],
            )
        if name == "web":
            env = self._api_env()
            env.pop("HERO_FOUNDRY_DRILLS_ENABLED")
            command = [
                python, "-m", "hero_foundry.cli", "web", "--host", LOOPBACK, "--port", str(p.web),
                "--api-url", f"http://{LOOPBACK}:{p.api}",
                "--dist", str(self.root / "web" / "dist"),
            ]  # fmt: skip
            return Component(
                name,
                command,
                Path.cwd(),
                log,
                env=env,
                ready=lambda: http_ok(f"http://{LOOPBACK}:{p.web}/healthz"),
                ports=(p.web,),
            )
        if name == "prometheus":
            assert self.generated is not None
            command = [
                self._program(name),
                f"--config.file={self.generated.prometheus_config}",
                f"--storage.tsdb.path={stack / 'prometheus' / 'data'}",
                f"--web.listen-address={p.address('prometheus')}",
                f"--web.external-url=http://{p.address('prometheus')}",
                "--web.enable-lifecycle",
            ]
            if self.options.fast:
                command.append(f"--rules.alert.resend-delay={fast_resend_delay(self.options.fast)}")
            return Component(
                name,
                command,
                stack / name,
                log,
                ready=lambda: http_ok(f"http://{p.address('prometheus')}/-/ready"),
                ports=(p.prometheus,),
            )
        if name == "alertmanager":
            assert self.generated is not None
            return Component(
                name,
                [
                    self._program(name),
                    f"--config.file={self.generated.alertmanager_config.name}",
                    f"--storage.path={stack / 'alertmanager' / 'data'}",
                    f"--web.listen-address={p.address('alertmanager')}",
                    f"--web.external-url=http://{p.address('alertmanager')}",
                    "--cluster.listen-address=",  # one instance: no gossip port
                ],
                # Alertmanager 0.25 opens its *_file secrets relative to its working directory.
                self.generated.alertmanager_dir,
                log,
                ready=lambda: http_ok(f"http://{p.address('alertmanager')}/-/ready"),
                ports=(p.alertmanager,),
            )
        if name == "node-exporter":
            return Component(
                name,
                [
                    self._program(name),
                    "--no-collector.systemd",
                    f"--web.listen-address={p.address('node-exporter')}",
                ],
                stack / name,
                log,
                ready=lambda: http_ok(f"http://{p.address('node-exporter')}/metrics"),
                ports=(p.node_exporter,),
            )
        if name == "postgres-exporter":
            return Component(
                name,
                [self._program(name), f"--web.listen-address={p.address('postgres-exporter')}"],
                stack / name,
                log,
                env={**os.environ, **self._postgres_exporter_env()},
                ready=lambda: http_ok(f"http://{p.address('postgres-exporter')}/metrics"),
                ports=(p.postgres_exporter,),
            )
        if name == "redis-exporter":
            addr, env = self._redis_exporter_addr()
            return Component(
                name,
                [
                    self._program(name),
                    f"--redis.addr={addr}",
                    f"--web.listen-address={p.address('redis-exporter')}",
                ],
                stack / name,
                log,
                env={**os.environ, **env},
                ready=lambda: http_ok(f"http://{p.address('redis-exporter')}/metrics"),
                ports=(p.redis_exporter,),
            )
        raise ValueError(f"unknown component {name!r} (one of {', '.join(ORDER)})")

    def _program(self, name: str) -> str:
        path = TOOLS[name].find()
        if path is None:
            raise StackError(f"{name} is not installed: {TOOLS[name].hint}")
        return path

    def _postgres_exporter_env(self) -> dict[str, str]:
        """postgres_exporter's connection: host, port and database in DATA_SOURCE_URI, the
        user, and the password in a 0600 file (not in its environment)."""
        from sqlalchemy.engine import make_url

        url = make_url(self.options.database_url)
        host = url.host or LOOPBACK
        sslmode = "disable" if host in (LOOPBACK, "localhost", "::1") else "prefer"
        env = {
            "DATA_SOURCE_URI": f"{host}:{url.port or 5432}/{url.database or 'postgres'}"
            f"?sslmode={sslmode}",
            "DATA_SOURCE_USER": url.username or "postgres",
        }
        if url.password:
            secret = self.stack_dir / "postgres-exporter" / "password"
            secret.parent.mkdir(parents=True, exist_ok=True)
            secret.touch(mode=0o600)
            secret.write_text(str(url.password), encoding="utf-8")
            env["DATA_SOURCE_PASS_FILE"] = str(secret)
        return env

    def _redis_exporter_addr(self) -> tuple[str, dict[str, str]]:
        from urllib.parse import urlsplit

        url = urlsplit(self.options.redis_url)
        env = {}
        if url.password:
            env["REDIS_PASSWORD"] = url.password
        if url.username:
            env["REDIS_USER"] = url.username
        return f"{url.scheme or 'redis'}://{url.hostname or LOOPBACK}:{url.port or 6379}", env

    # -- Lifecycle ---------------------------------------------------------------------------
    def generate(self) -> stack_config.Generated:
        """Write the local configuration for the components that will run, and ``env.sh``."""
        self.generated = stack_config.generate(
            self.root,
            self.state_dir,
            ports=self.ports,
            components=self.runnable(),
            factor=self.options.fast,
        )
        self.write_env_sh()
        return self.generated

    def start(self, on_ready: Callable[[Component], None] | None = None) -> Stack:
        """Start every runnable component in order, each answering before the next starts.
        On any failure, what was started is stopped and :class:`StackError` raised."""
        with self._lock:
            if self.components:
                raise StackError("the stack is already started")
            self.stack_dir.mkdir(parents=True, exist_ok=True)
            self.generate()
            if not self._atexit:
                atexit.register(self.stop)
                self._atexit = True
            try:
                for name in self.runnable():
                    component = self.start_component(name)
                    if on_ready is not None:
                        on_ready(component)
            except BaseException:
                self.stop()
                raise
        return self

    def start_component(self, name: str) -> Component:
        """Start one component (again) and wait until it answers."""
        with self._lock:
            current = self.components.get(name)
            if current is not None and self._alive(current):
                raise StackError(f"{name} is already running")
            component = self._build(name)
            component.cwd.mkdir(parents=True, exist_ok=True)
            component.log.parent.mkdir(parents=True, exist_ok=True)
            for port in component.ports:
                if not port_free(port):
                    raise StackError(
                        f"port {port} of {name} is already in use: stop what listens there "
                        f"(another `hero-foundry up`? a system service of the Debian package?) "
                        "or choose another port"
                    )
            with component.log.open("ab") as log:
                if component.prepare and name not in self._prepared:
                    log.write(f"=== {_now()} $ {' '.join(component.prepare)}\n".encode())
                    log.flush()
                    result = subprocess.run(
                        component.prepare,
                        cwd=component.cwd,
                        env=component.env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        timeout=self.options.ready_timeout,
                        check=False,
                    )
                    if result.returncode != 0:
                        raise StackError(
                            f"{name}: {' '.join(component.prepare[1:])} failed "
                            f"(exit {result.returncode}); {component.log}:\n{_tail(component.log)}"
                        )
                    self._prepared.add(name)
                log.write(f"=== {_now()} $ {' '.join(component.command)}\n".encode())
                log.flush()
                main_thread = threading.current_thread() is threading.main_thread()
                component.process = subprocess.Popen(
                    component.command,
                    cwd=component.cwd,
                    env=component.env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: stopped as a whole
                    # PR_SET_PDEATHSIG follows the thread that forked: only from the main one.
                    preexec_fn=_die_with_parent if main_thread else None,
                )
            component.started_at = time.monotonic()
            self.components[name] = component
            self._wait_ready(component)
            component.ready_seconds = time.monotonic() - component.started_at
            return component

    def _wait_ready(self, component: Component) -> None:
        deadline = time.monotonic() + self.options.ready_timeout
        while True:
            if component.ready():
                return
            assert component.process is not None
            code = component.process.poll()
            if code is not None:
                raise StackError(
                    f"{component.name} exited with code {code} while starting; "
                    f"{component.log}:\n{_tail(component.log)}"
                )
            if time.monotonic() > deadline:
                raise StackError(
                    f"{component.name} did not answer within {self.options.ready_timeout:g} s; "
                    f"{component.log}:\n{_tail(component.log)}"
                )
            time.sleep(0.1)

    @staticmethod
    def _alive(component: Component) -> bool:
        return component.process is not None and component.process.poll() is None

    def running(self, name: str) -> bool:
        component = self.components.get(name)
        return component is not None and self._alive(component)

    def pids(self, name: str) -> list[int]:
        """Every live process of a component: its main process and its children (the api's
        workers)."""
        component = self.components.get(name)
        if component is None or component.process is None:
            return []
        return sorted(group_members(component.process.pid))

    def exited(self) -> dict[str, int]:
        """Components that were started and have exited since: name -> exit code."""
        out = {}
        for name, component in self.components.items():
            if component.process is not None and component.process.poll() is not None:
                out[name] = component.process.returncode
        return out

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` (default SIGKILL) to every process of a component (the api: master and
        workers) and wait until they are gone."""
        component = self.components.get(name)
        if component is None or component.process is None:
            raise StackError(f"{name} was not started")
        self._end(component, first=sig)

    def stop_component(self, name: str) -> None:
        """Stop one component (SIGTERM, then SIGKILL after ``stop_timeout``)."""
        component = self.components.get(name)
        if component is not None:
            self._end(component, first=signal.SIGTERM)

    def restart(self, name: str) -> Component:
        """Stop a component if it runs, start it again and wait until it answers."""
        with self._lock:
            self.stop_component(name)
            return self.start_component(name)

    def _end(self, component: Component, first: int) -> None:
        process = component.process
        if process is None:
            return
        pgid = process.pid  # start_new_session: the group is the main process's pid
        _signal_group(pgid, first)
        deadline = time.monotonic() + self.options.stop_timeout
        while True:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.05)
            if process.poll() is not None and not group_members(pgid):
                return
            if time.monotonic() > deadline:
                break
        _signal_group(pgid, signal.SIGKILL)  # did not stop in time: no orphan either way
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        deadline = time.monotonic() + 5
        while group_members(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop every component, last started first. Idempotent."""
        with self._lock:
            for name in reversed(ORDER):
                component = self.components.get(name)
                if component is not None:
                    self._end(component, first=signal.SIGTERM)
            self.components.clear()
            if self._atexit:
                atexit.unregister(self.stop)
                self._atexit = False

    def leftovers(self) -> list[int]:
        """Processes of the components that are still alive (none after ``stop()``)."""
        return [pid for name in list(self.components) for pid in self.pids(name)]

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- Reading the results -------------------------------------------------------------------
    def notifications(self, **filters: str) -> list[Record]:
        """The sink's records from its file (this run and earlier ones), filtered by
        ``channel``, ``receiver``, ``status`` or ``alertname``."""
        return [r for r in read_records(self.notifications_file) if matches(r, filters)]

    def wait_for_notification(
        self, timeout: float, since: str = "", **filters: str
    ) -> Record | None:
        """The first record received at or after ``since`` (ISO time, e.g. ``sink.now()``)
        matching ``filters``, waiting up to ``timeout`` seconds; None if none came."""
        deadline = time.monotonic() + timeout
        while True:
            for record in self.notifications(**filters):
                if str(record.get("received_at", "")) >= since:
                    return record
            if time.monotonic() > deadline:
                return None
            time.sleep(0.2)

    def prometheus_api(self, path: str, **params: str) -> Any:
        """``GET /api/v1/<path>`` of the local Prometheus, its ``data``."""
        from urllib.parse import urlencode

        query = f"?{urlencode(params)}" if params else ""
        body = get_json(f"{self.urls['prometheus']}/api/v1/{path}{query}")
        return body.get("data")


# -- A compact status stream for `hero-foundry up` ----------------------------------------------
@dataclass
class Event:
    kind: str  # exit, target, alert, notification
    message: str
    style: str = ""
    record: Record | None = None


class Watcher:
    """What changed since the last :meth:`poll`: components that exited, scrape targets going
    up or down, alerts becoming pending, firing or resolved, notifications received."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self._exits: set[str] = set()
        self._targets: dict[tuple[str, str], str] = {}
        self._alerts: dict[str, str] = {}
        size = stack.notifications_file.stat().st_size if stack.notifications_file.is_file() else 0
        from hero_foundry.stack.sink import follow

        self._follow = follow(stack.notifications_file, size)

    def poll(self) -> list[Event]:
        events: list[Event] = []
        for name, code in self.stack.exited().items():
            if name not in self._exits:
                self._exits.add(name)
                log = self.stack.components[name].log
                events.append(Event("exit", f"{name} exited with code {code} (log: {log})", "red"))
        if self.stack.running("prometheus"):
            events += self._poll_prometheus()
        _, records = next(self._follow)
        events += [Event("notification", "", record=r) for r in records]
        return events

    def _poll_prometheus(self) -> list[Event]:
        events: list[Event] = []
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            targets = self.stack.prometheus_api("targets", state="active")["activeTargets"]
            for target in targets:
                key = (target["labels"].get("job", "?"), target["labels"].get("instance", "?"))
                health = target.get("health", "unknown")
                if self._targets.get(key) != health and health != "unknown":
                    style = "green" if health == "up" else "red"
                    error = f": {target.get('lastError')}" if target.get("lastError") else ""
                    events.append(
                        Event("target", f"target {key[0]} ({key[1]}) {health}{error}", style)
                    )
                    self._targets[key] = health
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            alerts = self.stack.prometheus_api("alerts")["alerts"]
            seen: dict[str, str] = {}
            for alert in alerts:
                labels = alert.get("labels", {})
                key = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
                seen[key] = alert.get("state", "?")
                if self._alerts.get(key) != seen[key]:
                    style = "red" if seen[key] == "firing" else "yellow"
                    events.append(Event("alert", f"alert {_alert_name(labels)} {seen[key]}", style))
            for key in self._alerts.keys() - seen.keys():
                name = _alert_name(dict(kv.split("=", 1) for kv in key.split(",") if "=" in kv))
                events.append(Event("alert", f"alert {name} inactive", "green"))
            self._alerts = seen
        return events


def _alert_name(labels: dict[str, str]) -> str:
    extra = [labels[k] for k in ("service", "instance") if labels.get(k)]
    return labels.get("alertname", "?") + (f" ({', '.join(extra)})" if extra else "")


@contextlib.contextmanager
def signals_stop() -> Iterator[None]:
    """SIGTERM and SIGHUP end `hero-foundry up` the way Ctrl-C (SIGINT) does."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
