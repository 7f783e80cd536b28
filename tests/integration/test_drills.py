"""Fault drills (docs/drills.md): off unless enabled, refused in production, each drill injects
its fault where the metrics and alerts see it, and the drill file is followed while running."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from prometheus_client import REGISTRY
from pydantic import ValidationError
from typer.testing import CliRunner

from hero_foundry.app import create_app
from hero_foundry.drills import inject, state
from hero_foundry.drills.cli import drill_app
from hero_foundry.drills.inject import INJECTED_ERROR, DrillMiddleware
from hero_foundry.observability.logs import EcsFormatter
from hero_foundry.processes import free_port
from hero_foundry.storage import migrate
from tests.conftest import make_settings
from tests.integration.api import build_character, level_up, new_player, ok
from tests.servers import wait_until_serving

CHEAP = "/api/srd/alignments"  # an /api/* endpoint without a login or a database write
ASK = "/api/assistant/ask"
GRAPPLING = "How does grappling work?"
#: A change of the drill file reaches every worker within this many seconds (docs/drills.md:
#: within a second).
SEEN_WITHIN = 1.0


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture(scope="module")
def db_url(sqlite_url: str) -> str:
    """The drills do not depend on the database: SQLite only."""
    asyncio.run(migrate.upgrade(sqlite_url))
    return sqlite_url


@pytest.fixture(autouse=True)
def fresh_reporter() -> Iterator[None]:
    """Each test starts with the once-a-second log limit of every kind unused."""
    inject.injected._last.clear()
    inject.injected._unlogged.clear()
    yield


@asynccontextmanager
async def running(db_url: str, drills_file: Path, **overrides: Any) -> AsyncIterator[Any]:
    settings = make_settings(
        db_url, drills_file=drills_file, **{"drills_enabled": True, **overrides}
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


def statuses(replies: list[httpx.Response]) -> list[int]:
    return [r.status_code for r in replies]


async def until(check: Callable[[], Any], limit: float = 3.0) -> float:
    """Seconds until the async ``check()`` returns true; fails after ``limit`` seconds."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < limit, "the drill file change was not seen"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def drill_gauge(text: str, drill: str) -> float | None:
    match = re.search(rf'^drill_active\{{drill="{drill}"\}} (\S+)$', text, re.MULTILINE)
    return float(match.group(1)) if match else None


# -- Off, and refused in production ---------------------------------------------------------


async def test_drills_are_off_unless_enabled_and_the_file_is_then_ignored(
    db_url: str, tmp_path: Path
) -> None:
    assert make_settings(db_url).drills_enabled is False
    drills_file = tmp_path / "drills.json"
    state.write(
        drills_file,
        {"error_rate": 1.0, "latency_seconds": 5, "ai_failing": True},
    )
    async with running(db_url, drills_file, drills_enabled=False) as client:
        assert not any(m.cls is DrillMiddleware for m in client.app.user_middleware)
        started = time.monotonic()
        replies = await asyncio.gather(*(client.get(CHEAP) for _ in range(20)))
        assert set(statuses(replies)) == {200}
        assert time.monotonic() - started < 2  # no 5 s latency
        headers = await new_player(client)
        await ok(client.post(ASK, headers=headers, json={"question": GRAPPLING}))


def test_the_default_drill_file_is_under_the_data_dir(tmp_path: Path) -> None:
    assert make_settings("").drills_path == Path("var") / "drills.json"
    assert make_settings("", data_dir=tmp_path).drills_path == tmp_path / "drills.json"
    assert make_settings("", drills_file="").drills_path == Path("var") / "drills.json"
    assert make_settings("", drills_file=tmp_path / "d.json").drills_path == tmp_path / "d.json"


def test_production_refuses_drills(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="drills_enabled must be false"):
        make_settings("", environment="production", drills_enabled=True)
    make_settings("", environment="production")  # drills off: fine
    # The server refuses to start, with a clear message and no traceback.
    env = {
        **os.environ,
        "HERO_FOUNDRY_ENVIRONMENT": "production",
        "HERO_FOUNDRY_DRILLS_ENABLED": "true",
        "HERO_FOUNDRY_DATA_DIR": str(tmp_path),
        "HERO_FOUNDRY_PORT": str(free_port()),
    }
    result = subprocess.run(
        [sys.executable, "-m", "hero_foundry.cli", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "drills_enabled must be false when environment is production" in result.stderr
    assert "Traceback" not in result.stderr


# -- Each drill -----------------------------------------------------------------------------


async def test_error_rate_one_fails_every_api_request_and_nothing_else(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    drills_file = tmp_path / "drills.json"
    state.write(drills_file, {"error_rate": 1.0})
    labels = {"method": "GET", "endpoint": CHEAP, "status": "500"}
    async with running(db_url, drills_file) as client:
        before = value("http_requests_total", **labels)
        with caplog.at_level(logging.INFO, logger="hero_foundry.drills"):
            replies = await asyncio.gather(*(client.get(CHEAP) for _ in range(30)))
        assert set(statuses(replies)) == {500}
        problem = replies[0].json()
        assert replies[0].headers["content-type"] == "application/problem+json"
        assert problem["detail"] == INJECTED_ERROR and problem["status"] == 500
        assert problem["instance"] == CHEAP
        r = await client.post("/api/auth/login", json={"email": "a@b.c", "password": "x" * 12})
        assert r.status_code == 500 and r.json()["detail"] == INJECTED_ERROR
        # Counted by the metrics middleware as 500s of the route (not "<unmatched>").
        assert value("http_requests_total", **labels) - before == 30
        for path in ("/healthz", "/readyz", "/metrics", "/docs"):
            assert (await client.get(path)).status_code == 200, path
        text = (await client.get("/metrics")).text
        assert drill_gauge(text, "error_rate") == 1.0
        assert drill_gauge(text, "latency_seconds") == 0.0
    # 31 faults in well under a second: one record, an ECS event with action "drill".
    faults = [r for r in caplog.records if getattr(r, "labels.drill", None) == "error_rate"]
    assert len(faults) == 1, [r.getMessage() for r in faults]
    ecs = json.loads(EcsFormatter().format(faults[0]))
    assert ecs["event"]["action"] == "drill" and ecs["labels"]["drill"] == "error_rate"
    assert "500 answered to GET /api/srd/alignments" in ecs["message"]


async def test_an_injected_500_is_logged_as_an_error_with_its_request_id_and_route(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The error runbook searches the api's log for level "error": every injected 5xx is there,
    as a real one would be, with the request id the client got and the route template."""
    drills_file = tmp_path / "drills.json"
    state.write(drills_file, {"error_rate": 1.0})
    async with running(db_url, drills_file) as client:
        with caplog.at_level(logging.INFO, logger="hero_foundry.access"):
            replies = await asyncio.gather(*(client.get(CHEAP) for _ in range(3)))
    assert set(statuses(replies)) == {500}
    access = [r for r in caplog.records if r.name == "hero_foundry.access"]
    by_id = {getattr(r, "http.request.id", None): r for r in access}
    for reply in replies:
        record = by_id[reply.headers["x-request-id"]]
        assert record.levelno == logging.ERROR, record.getMessage()
        assert getattr(record, "http.route") == CHEAP
        assert getattr(record, "http.response.status_code") == 500


async def test_a_tenth_of_the_requests_fail_with_error_rate_0_1(
    db_url: str, tmp_path: Path
) -> None:
    drills_file = tmp_path / "drills.json"
    state.write(drills_file, {"error_rate": 0.1})
    async with running(db_url, drills_file) as client:
        replies = []
        for _ in range(10):
            replies += await asyncio.gather(*(client.get(CHEAP) for _n in range(50)))
    failed = statuses(replies).count(500)
    assert statuses(replies).count(200) + failed == 500
    # Binomial(500, 0.1): mean 50, standard deviation 6.7; outside 50 +/- 30 (4.5 sd) is a
    # one-in-150 000 event for a correct implementation.
    assert 20 <= failed <= 80, failed


async def test_latency_is_added_to_api_requests_only(db_url: str, tmp_path: Path) -> None:
    drills_file = tmp_path / "drills.json"
    state.write(drills_file, {"latency_seconds": 0.4})
    async with running(db_url, drills_file) as client:
        count = value("http_request_duration_seconds_count", method="GET", endpoint=CHEAP)
        total = value("http_request_duration_seconds_sum", method="GET", endpoint=CHEAP)
        started = time.monotonic()
        replies = await asyncio.gather(*(client.get(CHEAP) for _ in range(5)))
        elapsed = time.monotonic() - started
        assert set(statuses(replies)) == {200}
        assert 0.4 <= elapsed < 2.0  # concurrent sleeps: the loop is never blocked
        # The metrics middleware measured it: the 2 s HighResponseTime alert sees the latency.
        assert value("http_request_duration_seconds_count", method="GET", endpoint=CHEAP) == (
            count + 5
        )
        added = value("http_request_duration_seconds_sum", method="GET", endpoint=CHEAP) - total
        assert added >= 5 * 0.4
        started = time.monotonic()
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/metrics")).status_code == 200
        assert time.monotonic() - started < 0.4


async def test_a_failing_ai_provider_is_a_503_and_a_counted_failure(
    db_url: str, tmp_path: Path
) -> None:
    """The default local provider fails too: the drill fails the provider call itself."""
    drills_file = tmp_path / "drills.json"
    state.write(drills_file, {"ai_failing": True})
    async with running(db_url, drills_file) as client:
        assert client.app.state.settings.assistant_provider == "local"
        headers = await new_player(client)  # the rest of the api works
        queries, failures = value("ai_queries_total"), value("ai_query_failure_total")
        for _ in range(3):
            r = await client.post(ASK, headers=headers, json={"question": GRAPPLING})
            assert r.status_code == 503, r.text
            assert r.headers["content-type"] == "application/problem+json"
            problem = r.json()
            assert problem["title"] == "AI rules assistant unavailable"
            assert problem["detail"] == (
                "The AI rules assistant is unavailable right now: "
                "the provider failed (drill: ai_failing)."
            )
        assert value("ai_queries_total") - queries == 3
        assert value("ai_query_failure_total") - failures == 3

        state.write(drills_file, {})
        await asyncio.sleep(state.CHECK_INTERVAL)
        r = await client.post(ASK, headers=headers, json={"question": GRAPPLING})
        assert r.status_code == 200, r.text


async def test_slow_wizard_and_level_up_clocks_land_above_the_alert_thresholds(
    db_url: str, tmp_path: Path
) -> None:
    drills_file = tmp_path / "drills.json"
    state.write(
        drills_file, {"wizard_clock_offset_seconds": 400, "level_up_clock_offset_seconds": 200}
    )
    async with running(db_url, drills_file) as client:
        headers = await new_player(client)
        le300 = value("character_creation_duration_seconds_bucket", le="300.0")
        le480 = value("character_creation_duration_seconds_bucket", le="480.0")
        character, draft = await build_character(client, headers, "human", "fighter")
        # CharacterCreationSlow's p95 > 300 s: this wizard took a second, measured as 400 s.
        assert value("character_creation_duration_seconds_bucket", le="300.0") == le300
        assert value("character_creation_duration_seconds_bucket", le="480.0") - le480 == 1

        lu120 = value("level_up_duration_seconds_bucket", le="120.0")
        lu300 = value("level_up_duration_seconds_bucket", le="300.0")
        await level_up(client, headers, character["id"], "fighter")
        assert value("level_up_duration_seconds_bucket", le="120.0") == lu120
        assert value("level_up_duration_seconds_bucket", le="300.0") - lu300 == 1
        # Only the measurement is offset: the stored timestamps are the real ones.
        finished = await ok(client.get(f"/api/characters/drafts/{draft['id']}", headers=headers))
        assert finished["started_at"] <= finished["finished_at"]


# -- The drill file, followed while running -------------------------------------------------


async def test_a_change_of_the_file_is_seen_without_a_restart(db_url: str, tmp_path: Path) -> None:
    drills_file = tmp_path / "drills.json"  # no file yet: no drill
    async with running(db_url, drills_file) as client:
        assert (await client.get(CHEAP)).status_code == 200
        assert drill_gauge((await client.get("/metrics")).text, "error_rate") == 0.0

        async def failing() -> bool:
            return (await client.get(CHEAP)).status_code == 500

        async def passing() -> bool:
            return (await client.get(CHEAP)).status_code == 200

        state.write(drills_file, {"error_rate": 1.0})
        assert await until(failing) <= SEEN_WITHIN
        assert drill_gauge((await client.get("/metrics")).text, "error_rate") == 1.0
        state.write(drills_file, {})
        assert await until(passing) <= SEEN_WITHIN
        state.write(drills_file, {"error_rate": 1.0})
        assert await until(failing) <= SEEN_WITHIN
        drills_file.unlink()  # a removed file is no drill
        assert await until(passing) <= SEEN_WITHIN
        assert drill_gauge((await client.get("/metrics")).text, "error_rate") == 0.0


async def test_an_invalid_file_is_logged_once_and_ignored(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    drills_file = tmp_path / "drills.json"
    drills_file.write_text('{"error_rate": 1.0', encoding="utf-8")  # cut short
    async with running(db_url, drills_file) as client:
        with caplog.at_level(logging.INFO, logger="hero_foundry.drills"):
            for _ in range(3):
                assert (await client.get(CHEAP)).status_code == 200
                await asyncio.sleep(state.CHECK_INTERVAL / 2)
            drills_file.touch()  # the same invalid content, seen again: not logged again
            await asyncio.sleep(state.CHECK_INTERVAL)
            assert (await client.get(CHEAP)).status_code == 200
            state.write(drills_file, {"error_rate": 1.0})  # repaired: applied

            async def failing() -> bool:
                return (await client.get(CHEAP)).status_code == 500

            assert await until(failing) <= SEEN_WITHIN
    ignored = [r for r in caplog.records if "drill file ignored" in r.getMessage()]
    assert len(ignored) == 1, [r.getMessage() for r in ignored]
    assert ignored[0].levelno == logging.ERROR
    assert f"{drills_file} is not JSON" in ignored[0].getMessage()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "is not JSON"),
        ('{"error_rate": 2}', "error_rate must be between 0 and 1, not 2"),
        ('{"error_rate": "0.5"}', "error_rate must be a number, not '0.5'"),
        ('{"latency_seconds": -1}', "latency_seconds must be between 0 and 60s, not -1"),
        ('{"ai_failing": 1}', "ai_failing must be true or false, not 1"),
        ('{"eror_rate": 0.5, "ai_failing": true}', "unknown drill 'eror_rate'"),
        ('[{"error_rate": 1}]', "must hold a JSON object, not list"),
    ],
)
def test_an_invalid_file_injects_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str, reason: str
) -> None:
    now = [0.0]
    drills_file = tmp_path / "drills.json"
    drills_file.write_text(content, encoding="utf-8")
    watcher = state.DrillFile(drills_file, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="hero_foundry.drills"):
        for _ in range(3):
            assert watcher.current() == state.NO_DRILLS
            now[0] += state.CHECK_INTERVAL
        drills_file.write_text(content + " ", encoding="utf-8")  # a new version, same fault
        assert watcher.current() == state.NO_DRILLS
    assert watcher.error is not None and reason in watcher.error
    ignored = [r for r in caplog.records if "drill file ignored" in r.getMessage()]
    assert len(ignored) == 1 and reason in ignored[0].getMessage()


def test_the_drill_file_is_stat_at_most_twice_a_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [100.0]
    stats: list[str] = []
    real_stat = os.stat

    def counting_stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        stats.append(str(path))
        return real_stat(path, *args, **kwargs)

    drills_file = tmp_path / "drills.json"
    state.write(drills_file, {"latency_seconds": 1})
    watcher = state.DrillFile(drills_file, clock=lambda: now[0])
    monkeypatch.setattr(state.os, "stat", counting_stat)
    for _ in range(100):
        assert watcher.current().latency_seconds == 1.0
    assert len(stats) == 1
    now[0] += state.CHECK_INTERVAL
    watcher.current()
    assert len(stats) == 2


# -- Several workers ------------------------------------------------------------------------


def test_every_worker_of_a_two_worker_server_follows_the_file(tmp_path: Path) -> None:
    port = free_port()
    drills_file = tmp_path / "drills.json"
    env = {
        **os.environ,
        "HERO_FOUNDRY_DATA_DIR": str(tmp_path),
        "HERO_FOUNDRY_DATABASE_URL": "",
        "HERO_FOUNDRY_PORT": str(port),
        "HERO_FOUNDRY_WORKERS": "2",
        "HERO_FOUNDRY_DRILLS_ENABLED": "true",
        "HERO_FOUNDRY_LOG_LEVEL": "WARNING",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.pop("HERO_FOUNDRY_DRILLS_FILE", None)
    cli = [sys.executable, "-m", "hero_foundry.cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=60)
    log_path = tmp_path / "server.log"
    log_file = log_path.open("wb")
    server = subprocess.Popen([*cli, "serve"], env=env, stdout=log_file, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def workers_in_force(drills: str) -> set[int]:
        """The worker processes that logged "drills in force: <drills>" (ECS JSON on stdout)."""
        pids = set()
        for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("{") and f"drills in force: {drills} " in line:
                pids.add(json.loads(line)["process"]["pid"])
        return pids

    def burst() -> list[int]:
        # New connections, so that both workers take some of them.
        limits = httpx.Limits(max_connections=20, max_keepalive_connections=0)

        async def run() -> list[int]:
            async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10) as client:
                return statuses(await asyncio.gather(*(client.get(CHEAP) for _ in range(60))))

        return asyncio.run(run())

    def gauges() -> set[float | None]:
        return {drill_gauge(httpx.get(f"{base}/metrics").text, "error_rate") for _ in range(6)}

    try:
        wait_until_serving(base, server)
        assert set(burst()) == {200}

        state.write(drills_file, {"error_rate": 1.0})  # the default file, under the data dir
        time.sleep(SEEN_WITHIN)
        assert set(burst()) == {500}
        assert len(workers_in_force("error_rate=1")) == 2  # each worker read the change
        assert gauges() == {1.0}  # whichever worker answers the scrape

        state.write(drills_file, {})
        time.sleep(SEEN_WITHIN)
        assert set(burst()) == {200}
        assert len(workers_in_force("none")) == 2
        assert gauges() == {0.0}
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)
        log_file.close()


# -- The command line -----------------------------------------------------------------------

cli_app = typer.Typer()
cli_app.add_typer(drill_app, name="drill")
runner = CliRunner()


def drill(*args: str, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(cli_app, ["drill", *args], env=env)


def test_cli_set_merges_clear_removes_and_status_shows(tmp_path: Path) -> None:
    drills_file = tmp_path / "sub" / "drills.json"
    file = ["--file", str(drills_file)]
    result = drill("set", "--error-rate", "0.1", "--latency", "3", *file)
    assert result.exit_code == 0, result.output
    assert json.loads(drills_file.read_text()) == {"error_rate": 0.1, "latency_seconds": 3.0}
    inode = drills_file.stat().st_ino

    result = drill("set", "--ai-failing", "--wizard-clock-offset", "400", *file)
    assert result.exit_code == 0, result.output
    assert state.load(drills_file) == state.Drills(
        error_rate=0.1, latency_seconds=3.0, ai_failing=True, wizard_clock_offset_seconds=400
    )
    assert drills_file.stat().st_ino != inode  # replaced by a rename, not rewritten in place
    assert [p.name for p in drills_file.parent.iterdir()] == ["drills.json"]  # no temp file

    result = drill("status", *file)
    assert result.exit_code == 0, result.output
    for shown in ("error_rate", "0.1", "latency_seconds", "3s", "ai_failing", "on", "400s"):
        assert shown in result.output, shown

    assert drill("set", "--no-ai-failing", *file).exit_code == 0
    assert state.load(drills_file).ai_failing is False
    assert drill("clear", "latency", *file).exit_code == 0
    assert drill("clear", "wizard-clock-offset", *file).exit_code == 0
    assert json.loads(drills_file.read_text()) == {"ai_failing": False, "error_rate": 0.1}
    assert drill("clear", *file).exit_code == 0
    assert json.loads(drills_file.read_text()) == {}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--error-rate", "1.5"], "--error-rate: error_rate must be between 0 and 1, not 1.5"),
        (["--error-rate", "-0.1"], "between 0 and 1"),
        (["--latency", "61"], "latency_seconds must be between 0 and 60s, not 61"),
        (["--wizard-clock-offset", "-5"], "between 0 and 86400s"),
        (["--latency", "nan"], "must be a number"),
        ([], "nothing to set"),
    ],
)
def test_cli_refuses_values_out_of_range(tmp_path: Path, args: list[str], message: str) -> None:
    drills_file = tmp_path / "drills.json"
    state.write(drills_file, {"error_rate": 0.5})
    result = drill("set", *args, "--file", str(drills_file))
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()), result.output
    assert json.loads(drills_file.read_text()) == {"error_rate": 0.5}  # unchanged


def test_cli_refuses_unknown_drills_invalid_files_and_production(tmp_path: Path) -> None:
    drills_file = tmp_path / "drills.json"
    file = ["--file", str(drills_file)]
    result = drill("clear", "eror_rate", *file)
    assert result.exit_code == 2 and "unknown drill 'eror_rate'" in result.output

    drills_file.write_text("{broken", encoding="utf-8")
    result = drill("set", "--latency", "1", *file)
    assert result.exit_code == 2 and "is not JSON" in result.output
    assert drills_file.read_text() == "{broken"  # never overwritten by a merge
    result = drill("status", *file)
    assert result.exit_code == 0 and "invalid file, ignored" in result.output
    assert drill("clear", *file).exit_code == 0  # clear replaces it
    assert json.loads(drills_file.read_text()) == {}

    result = drill("set", "--latency", "1", *file, env={"HERO_FOUNDRY_ENVIRONMENT": "production"})
    assert result.exit_code == 2 and "refused when environment is production" in result.output
    assert json.loads(drills_file.read_text()) == {}


def test_cli_uses_the_settings_drill_file(tmp_path: Path) -> None:
    env = {"HERO_FOUNDRY_DATA_DIR": str(tmp_path), "HERO_FOUNDRY_DRILLS_FILE": ""}
    assert drill("set", "--error-rate", "0.25", env=env).exit_code == 0
    assert json.loads((tmp_path / "drills.json").read_text()) == {"error_rate": 0.25}
    env["HERO_FOUNDRY_DRILLS_FILE"] = str(tmp_path / "elsewhere.json")
    assert drill("set", "--latency", "2", env=env).exit_code == 0
    assert json.loads((tmp_path / "elsewhere.json").read_text()) == {"latency_seconds": 2.0}
