"""The whole system for the end-to-end tests: ONE stack for the session in fast mode
(:class:`hero_foundry.stack.supervisor.Stack`, scrape and evaluation every second, every rule
and route duration divided by 60), on free loopback ports, with its state in a temporary
directory, its OWN PostgreSQL cluster (``initdb`` + ``postgres`` from the PostgreSQL 15
binaries, as the ``postgres`` user when running as root) and its OWN ``redis-server``, so the
PostgreSQL and Redis exporters and their alerts are live and can be broken on purpose. The
shared servers on 5432 and 6379 are never touched.

Also here: background traffic (:class:`Traffic`, the load generator in a thread), the
time-to-notify results (printed as a table at the end of the run and written as JSON to
``<state>/e2e/time-to-notify.json`` and ``var/e2e/time-to-notify.json``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hero_foundry.loadgen import Options, Summary
from hero_foundry.stack.config import Ports, free_ports
from hero_foundry.stack.supervisor import Stack, StackOptions
from tests.conftest import unavailable
from tests.e2e import timing

ROOT = Path(__file__).parents[2]
PG_BIN = Path(os.environ.get("HERO_FOUNDRY_E2E_PG_BIN", "/usr/lib/postgresql/15/bin"))
#: The fast mode's factor: 1m -> 1s, 5m -> 5s (docs/local-stack.md, "Fast mode").
FACTOR = 60
#: Where the run's time-to-notify table is copied for docs/operations.md (var/ is not committed).
RESULTS_COPY = ROOT / "var" / "e2e" / "time-to-notify.json"


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """The sink's time format (``received_at``): milliseconds, ``Z``."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _die_with_parent() -> None:
    """In the child: SIGTERM when the test process dies (Linux), so nothing is left behind."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def wait_until(
    condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.2
) -> Any:
    """Poll ``condition`` until it returns something truthy (returned), at most ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:g} s")
        time.sleep(interval)


# -- The servers the stack's api uses -----------------------------------------------------------
class Server:
    """A server process started by the tests: its own process group, its output in a log
    file, stopped by a signal and started again (the drills)."""

    def __init__(self, name: str, command: list[str], log: Path, user: str | None = None) -> None:
        self.name = name
        self.command = command
        self.log = log
        self.user = user
        self.process: subprocess.Popen[bytes] | None = None

    def ready(self) -> bool:
        raise NotImplementedError

    def start(self, timeout: float = 30.0) -> None:
        with self.log.open("ab") as log:
            log.write(f"=== {utc_now().isoformat()} $ {' '.join(self.command)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                user=self.user,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not start; {self.log}:\n{self.tail()}")
            time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        """``sig`` to the process group, SIGKILL after ``timeout``; returns once it exited."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class Postgres(Server):
    """A PostgreSQL 15 cluster of its own in ``base`` on ``port`` (loopback TCP, and a Unix
    socket in ``base``), password authentication over TCP like a real deployment."""

    def __init__(self, base: Path, port: int) -> None:
        self.base = base
        self.port = port
        self.data = base / "data"
        self.password = secrets.token_urlsafe(16)
        user = "postgres" if os.geteuid() == 0 else None
        command = [
            str(PG_BIN / "postgres"),
            "-D", str(self.data),
            "-p", str(port),
            "-k", str(base),
            "-c", "listen_addresses=127.0.0.1",
            "-c", "fsync=off",  # a throw-away cluster: speed over crash safety of the machine
            "-c", "max_connections=60",
        ]  # fmt: skip
        super().__init__("postgresql", command, base / "postgresql.log", user)

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://hero:{self.password}@127.0.0.1:{self.port}/hero_foundry"

    def _run(self, *command: str) -> None:
        result = subprocess.run(
            list(command), user=self.user, capture_output=True, text=True, timeout=120
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {result.stdout}{result.stderr}")

    def init(self) -> None:
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.base, entry.pw_uid, entry.pw_gid)
            # mkdtemp's 0700 parent would keep the postgres user out.
            self.base.parent.chmod(0o711)
        self.base.chmod(0o700)
        password_file = self.base / "password"
        password_file.write_text(self.password)
        if self.user is not None:
            os.chown(password_file, entry.pw_uid, entry.pw_gid)
        self._run(
            str(PG_BIN / "initdb"),
            "-D", str(self.data),
            "-U", "hero",
            f"--pwfile={password_file}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E", "UTF8",
            "--no-sync",
        )  # fmt: skip
        password_file.unlink()

    def create_database(self) -> None:
        self._run(
            str(PG_BIN / "createdb"), "-h", str(self.base), "-p", str(self.port), "-U", "hero",
            "hero_foundry",
        )  # fmt: skip

    def ready(self) -> bool:
        result = subprocess.run(
            [str(PG_BIN / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
            capture_output=True,
            timeout=10,
        )
        return result.returncode == 0

    def stop_fast(self) -> None:
        """ "Stopping PostgreSQL" as an operator (or systemd) does: a fast shutdown (SIGINT),
        which disconnects every client and checkpoints."""
        self.stop(signal.SIGINT)


class Redis(Server):
    def __init__(self, base: Path, port: int) -> None:
        self.port = port
        command = [
            shutil.which("redis-server") or "redis-server",
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(base),
            # A cache with a memory limit, as in production (the dashboard shows the limit).
            "--maxmemory", "64mb",
            "--maxmemory-policy", "allkeys-lru",
        ]  # fmt: skip
        super().__init__("redis", command, base / "redis.log")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


# -- Background traffic -------------------------------------------------------------------------
class Traffic:
    """The load generator (``hero_foundry.loadgen.run``) in a background thread, until
    :meth:`stop` (or its duration): ``with Traffic(url, users=5) as traffic: ...``."""

    def __init__(self, base_url: str, **options: Any) -> None:
        defaults: dict[str, Any] = {
            "duration": 600,
            "users": 6,
            "max_rps": 40,
            "think_time": 0.05,
            "ramp_up": 0.5,
            "seed": 6,
            "max_error_rate": 1.0,
            "timeout": 20,
        }
        self.options = Options(base_url=base_url, **{**defaults, **options})
        self.summary: Summary | None = None
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="e2e-traffic", daemon=True)

    def _run(self) -> None:
        from hero_foundry.loadgen import run

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._started.set()
            self.summary = await run(self.options, stop=self._stop)

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported by stop()
            self.error = exc
        finally:
            self._started.set()

    def start(self) -> Traffic:
        self._thread.start()
        self._started.wait(10)
        return self

    def stop(self, timeout: float = 30.0) -> Summary:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError("the load generator did not stop")
        if self.error is not None:
            raise self.error
        assert self.summary is not None
        return self.summary

    def __enter__(self) -> Traffic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- Characters that must survive the drills --------------------------------------------------
@dataclass
class Keeper:
    """An account of the tests' own and the characters it created before the drills."""

    api: str
    email: str
    password: str
    ids: list[str]

    @classmethod
    def create(cls, api: str, count: int) -> Keeper:
        """Sign up and build ``count`` characters with the load generator's own wizard flow
        (every choice from the service's answers)."""
        return asyncio.run(cls._create(api, count))

    @classmethod
    async def _create(cls, api: str, count: int) -> Keeper:
        import random

        import httpx

        from hero_foundry.loadgen.client import Api
        from hero_foundry.loadgen.player import Player
        from hero_foundry.loadgen.recorder import Recorder, TokenBucket

        options = Options(base_url=api, think_time=0, seed=1)
        recorder = Recorder()
        async with httpx.AsyncClient(base_url=api, timeout=30) as client:
            calls = Api(client, TokenBucket(100, 100), recorder)
            player = Player(
                0, calls, random.Random("e2e-keeper"), options, recorder, TokenBucket(1, 1), "e2e"
            )
            await player.sign_in()  # a new account: signs up, then in
            ids: list[str] = []
            for _ in range(count * 5):
                character = await player.create_character()  # None: abandoned on purpose
                if character is not None:
                    ids.append(str(character["id"]))
                if len(ids) == count:
                    break
            assert len(ids) == count, f"created {len(ids)} of {count} characters"
            ((email, password),) = player.accounts
        return cls(api, email, password, ids)

    def listed(self) -> list[str]:
        """The ids of the account's characters, through the API (sign in, list)."""
        import httpx

        with httpx.Client(base_url=self.api, timeout=15) as client:
            login = client.post(
                "/api/auth/login", json={"email": self.email, "password": self.password}
            )
            login.raise_for_status()
            token = login.json()["access_token"]
            listing = client.get(
                "/api/characters",
                params={"limit": 50},
                headers={"Authorization": f"Bearer {token}"},
            )
            listing.raise_for_status()
            return [str(item["id"]) for item in listing.json()["items"]]


# -- The system -----------------------------------------------------------------------------------
@dataclass
class System:
    stack: Stack
    postgres: Postgres
    redis: Redis
    started_at: datetime
    fast: timing.Configuration
    production: timing.Configuration
    results: list[timing.Result] = field(default_factory=list)

    @property
    def api(self) -> str:
        return self.stack.urls["api"]

    def traffic(self, **options: Any) -> Traffic:
        return Traffic(self.api, **options)

    # -- Reading Prometheus and Alertmanager ---------------------------------------------------
    def _get(self, url: str) -> Any:
        # A loaded 2-core machine can be slow to answer: 10 s, not the supervisor's 2 s.
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.loads(response.read())

    def prometheus(self, path: str, **params: str) -> Any:
        """``GET /api/v1/<path>`` of the stack's Prometheus: its ``data`` (raises OSError)."""
        from urllib.parse import urlencode

        query = f"?{urlencode(params)}" if params else ""
        return self._get(f"{self.stack.urls['prometheus']}/api/v1/{path}{query}")["data"]

    def prometheus_alerts(self) -> list[dict[str, Any]]:
        """Pending and firing alerts (raises OSError when Prometheus does not answer)."""
        return self.prometheus("alerts")["alerts"]

    def firing_in_prometheus(self, alertname: str, state: str = "firing") -> list[dict[str, Any]]:
        try:
            alerts = self.prometheus_alerts()
        except OSError:
            return []
        return [
            a
            for a in alerts
            if a["labels"].get("alertname") == alertname and a.get("state") == state
        ]

    def alertmanager_alerts(self, **params: str) -> list[dict[str, Any]]:
        from urllib.parse import urlencode

        query = f"?{urlencode(params)}" if params else ""
        return self._get(f"{self.stack.urls['alertmanager']}/api/v2/alerts{query}")

    def query(self, promql: str, **params: str) -> list[dict[str, Any]]:
        """An instant query: its result vector (or a one-element list for a scalar)."""
        data = self.prometheus("query", query=promql, **params)
        result = data["result"]
        return result if data["resultType"] in ("vector", "matrix") else [result]

    def query_range(self, promql: str, start: float, end: float, step: str) -> list[Any]:
        data = self.prometheus(
            "query_range", query=promql, start=str(start), end=str(end), step=step
        )
        return data["result"]

    # -- The sink ---------------------------------------------------------------------------
    def fetch(self, url: str) -> tuple[int, str]:
        """GET ``url``: its status and text (an HTTP error's too)."""
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8", "replace")

    def records(self, since: str = "", until: str = "", **filters: str) -> list[dict[str, Any]]:
        return [
            r
            for r in self.stack.notifications(**filters)
            if str(r.get("received_at", "")) >= since
            and (not until or str(r.get("received_at", "")) <= until)
        ]

    def diagnostics(self, since: str = "") -> str:
        """What the sink received since ``since`` and what Prometheus and Alertmanager hold."""
        lines = [f"sink records since {since or 'the start'}:"]
        for r in self.records(since):
            if r.get("channel") == "deadmansswitch":
                continue
            lines.append(
                f"  {r.get('received_at')} {r.get('channel')}/{r.get('receiver')} "
                f"{r.get('status')} {r.get('alertnames')} {str(r.get('title'))[:100]}"
            )
        watchdogs = len(self.records(since, channel="deadmansswitch"))
        lines.append(f"  (+ {watchdogs} dead man's switch records)")
        lines.append("Prometheus alerts:")
        try:
            pending_and_firing = self.prometheus_alerts()
        except OSError as exc:
            pending_and_firing = []
            lines.append(f"  ({exc})")
        for a in pending_and_firing:
            labels = a.get("labels", {})
            lines.append(
                f"  {labels.get('alertname')} {a.get('state')} service={labels.get('service')} "
                f"since={a.get('activeAt')} value={a.get('value')}"
            )
        try:
            am = self.alertmanager_alerts()
        except OSError as exc:
            am = []
            lines.append(f"Alertmanager: {exc}")
        lines.append("Alertmanager alerts:")
        for a in am:
            lines.append(
                f"  {a['labels'].get('alertname')} {a['status']['state']} "
                f"inhibitedBy={a['status'].get('inhibitedBy')} startsAt={a.get('startsAt')}"
            )
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            targets = self.prometheus("targets", state="active")["activeTargets"]
            lines.append(
                "targets: " + ", ".join(f"{t['labels']['job']}={t['health']}" for t in targets)
            )
        return "\n".join(lines)

    def http(self, path: str, timeout: float = 5.0) -> tuple[int, Any]:
        """GET on the api: (status, decoded JSON body or text)."""
        try:
            with urllib.request.urlopen(self.api + path, timeout=timeout) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read()
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body.decode(errors="replace")


#: What the stack must run for the drills: every program, not only the api.
REQUIRED = (
    "prometheus",
    "prometheus-alertmanager",
    "prometheus-node-exporter",
    "prometheus-postgres-exporter",
    "prometheus-redis-exporter",
)


@pytest.fixture(scope="session")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    if not (PG_BIN / "initdb").is_file():
        unavailable(
            "PostgreSQL 15 server binaries", f"{PG_BIN}/initdb (apt-get install postgresql-15)"
        )
    if shutil.which("redis-server") is None:
        unavailable("redis-server", "apt-get install redis-server")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            unavailable("the postgres user", "initdb refuses to run as root")
    state = tmp_path_factory.mktemp("e2e-state")
    # The postgres user must reach its directory: not under pytest's 0700 temporary root.
    base = Path(tempfile.mkdtemp(prefix="hero-foundry-e2e-"))
    (base / "pg").mkdir()
    (base / "redis").mkdir()
    # Outside the ephemeral range (PostgreSQL and the api restart on theirs), all distinct.
    *stack_ports, postgres_port, redis_port = free_ports(len(fields(Ports)) + 2)
    postgres = Postgres(base / "pg", postgres_port)
    redis = Redis(base / "redis", redis_port)
    stack: Stack | None = None
    try:
        options = StackOptions(
            state_dir=state,
            ports=Ports(*stack_ports),
            fast=FACTOR,
            database_url=postgres.url,
            redis_url=redis.url,
            # Cheap password hashing: the load generator signs users up and in all the time on
            # a 2-core machine (production keeps argon2-cffi's defaults).
            api_env={"HERO_FOUNDRY_ARGON2_TIME_COST": "1", "HERO_FOUNDRY_ARGON2_MEMORY_KIB": "64"},
            ready_timeout=60,
        )
        stack = Stack(options)
        missing = [name for name in REQUIRED if name in stack.missing]
        if missing:
            unavailable(", ".join(missing), "apt-get install " + " ".join(missing))
        postgres.init()
        postgres.start()
        postgres.create_database()
        redis.start()
        started_at = utc_now()
        stack.start()
        assert stack.generated is not None
        system = System(
            stack=stack,
            postgres=postgres,
            redis=redis,
            started_at=started_at,
            fast=timing.Configuration.read(
                stack.generated.prometheus_config,
                stack.generated.rule_files,
                stack.generated.alertmanager_config,
            ),
            production=timing.Configuration.production(ROOT),
        )
        yield system
        _write_results(system)
    finally:
        if stack is not None:
            stack.stop()
        redis.stop()
        postgres.stop_fast()
        shutil.rmtree(base, ignore_errors=True)


_RESULTS: list[timing.Result] = []
_WRITTEN: list[Path] = []


def _write_results(system: System) -> None:
    if not system.results:
        return
    _RESULTS[:] = system.results
    extra = {
        "generated_at": iso(utc_now()),
        "mode": f"fast (durations / {FACTOR}, scrape and evaluation every 1 s)",
        "command": ".venv/bin/python -m pytest tests/e2e -s",
    }
    path = system.stack.state_dir / "e2e" / "time-to-notify.json"
    _WRITTEN[:] = [timing.write_json(path, system.results, **extra)]
    with contextlib.suppress(OSError):
        _WRITTEN.append(timing.write_json(RESULTS_COPY, system.results, **extra))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _RESULTS:
        return
    terminalreporter.section("time to notify (fast mode)")
    terminalreporter.write_line(timing.table(_RESULTS))
    for path in _WRITTEN:
        terminalreporter.write_line(f"written: {path}")
