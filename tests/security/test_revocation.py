"""Revocation always holds: a logged-out token is refused at once by every worker and replica,
with or without Redis, and whatever Redis does meanwhile; "log out everywhere" and the list of
one's sessions."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis as redis_sync
import redis.asyncio as redis

from hero_foundry.accounts.security import token_digest
from hero_foundry.processes import free_port, stop
from tests.security.conftest import (
    PASSWORD,
    assert_problem,
    bearer,
    email,
    login,
    register,
    token_of,
)
from tests.servers import wait_until_serving


# -- In one process -----------------------------------------------------------------------------
async def test_sessions_list_the_live_logins_without_their_tokens(attack) -> None:
    async with attack() as attacker:
        client = attacker.client()
        alice = email()
        await register(client, alice)
        tokens = [await token_of(client, alice) for _ in range(3)]
        assert (await client.get("/api/me", headers=bearer(tokens[2]))).status_code == 200
        r = await client.get("/api/auth/sessions", headers=bearer(tokens[0]))
        assert r.status_code == 200, r.text
        page = r.json()
        assert page["total"] == 3 and len(page["items"]) == 3
        assert [s["current"] for s in page["items"]] == [False, False, True]  # newest first
        for session in page["items"]:
            assert set(session) == {"id", "created_at", "expires_at", "last_used_at", "current"}
        newest, unused, _current = (s["last_used_at"] for s in page["items"])
        assert newest is not None  # tokens[2] made a request
        assert unused is None  # tokens[1] never did
        for token in tokens:
            assert token not in r.text and token_digest(token) not in r.text
        assert (await client.post("/api/auth/logout", headers=bearer(tokens[1]))).status_code == 204
        page = (await client.get("/api/auth/sessions", headers=bearer(tokens[0]))).json()
        assert page["total"] == 2
        first = await client.get(
            "/api/auth/sessions", params={"limit": 1}, headers=bearer(tokens[0])
        )
        assert [len(first.json()["items"]), first.json()["total"]] == [1, 2]
        assert_problem(await client.get("/api/auth/sessions"), 401)


async def test_log_out_everywhere_revokes_every_token_of_the_account_only(attack) -> None:
    async with attack() as attacker:
        client = attacker.client()
        alice, bob = email(), email()
        for account in (alice, bob):
            await register(client, account)
        mine = [await token_of(client, alice) for _ in range(3)]
        theirs = await token_of(client, bob)
        r = await client.post("/api/auth/logout-all", headers=bearer(mine[1]))
        assert r.status_code == 200 and r.json() == {"revoked": 3}
        for token in mine:
            assert_problem(await client.get("/api/me", headers=bearer(token)), 401)
        assert (await client.get("/api/me", headers=bearer(theirs))).status_code == 200
        assert_problem(await client.post("/api/auth/logout-all"), 401)
        # A new login works, and is the only session left.
        fresh = await token_of(client, alice)
        page = (await client.get("/api/auth/sessions", headers=bearer(fresh))).json()
        assert page["total"] == 1 and page["items"][0]["current"]


# -- Several processes without Redis: a real two-worker server -----------------------------------
def _answers(log: Path, ids: set[str]) -> dict[str, tuple[int, int]]:
    """request id -> (worker pid, status), from the server's access log records."""
    found: dict[str, tuple[int, int]] = {}
    if not log.exists():
        return found
    for line in log.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        request_id = record.get("http", {}).get("request", {}).get("id")
        if request_id in ids and "response" in record.get("http", {}):
            found[request_id] = (
                record["process"]["pid"],
                record["http"]["response"]["status_code"],
            )
    return found


def _from_every_worker(base: str, log: Path, token: str, workers: int = 2) -> set[int]:
    """GET /api/me with ``token``, each on a new connection, until ``workers`` distinct worker
    processes have answered (at most 400 requests); every status seen."""
    ids: set[str] = set()
    statuses: set[int] = set()
    for _ in range(40):
        for _ in range(10):
            request_id = uuid.uuid4().hex
            ids.add(request_id)
            r = httpx.get(
                f"{base}/api/me",
                headers={**bearer(token), "X-Request-ID": request_id, "Connection": "close"},
                timeout=10,
            )
            statuses.add(r.status_code)
        answers = _answers(log, ids)
        if len({pid for pid, _ in answers.values()}) >= workers:
            return statuses
    pytest.fail(f"the answers came from fewer than {workers} workers: {answers}")


def test_a_logout_holds_at_once_on_every_worker_without_redis(tmp_path: Path) -> None:
    """``serve --workers 2`` without Redis: both workers answered with the token before the
    logout (any per-worker cache would hold it), and both refuse it right after."""
    port = free_port()
    env = {
        **os.environ,
        "HERO_FOUNDRY_DATA_DIR": str(tmp_path),
        "HERO_FOUNDRY_DATABASE_URL": "",
        "HERO_FOUNDRY_REDIS_URL": "",
        "HERO_FOUNDRY_LOG_DIR": str(tmp_path / "logs"),
        "HERO_FOUNDRY_ENVIRONMENT": "test",
        "HERO_FOUNDRY_ARGON2_TIME_COST": "1",
        "HERO_FOUNDRY_ARGON2_MEMORY_KIB": "64",
        "HERO_FOUNDRY_PORT": str(port),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.pop("HERO_FOUNDRY_WORKERS", None)
    cli = [sys.executable, "-m", "hero_foundry.cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True)
    output = tmp_path / "server.out"
    with output.open("w") as out:
        server = subprocess.Popen(
            [*cli, "serve", "--workers", "2"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "logs" / "fastapi" / "hero-foundry.log"
    try:
        wait_until_serving(base, server, output=lambda: output.read_text(errors="replace"))
        account = email()
        with httpx.Client(base_url=base, timeout=10) as client:
            assert (
                client.post(
                    "/api/auth/register", json={"email": account, "password": PASSWORD}
                ).status_code
                == 202
            )
            reply = client.post("/api/auth/login", json={"email": account, "password": PASSWORD})
            token = reply.json()["access_token"]
        assert _from_every_worker(base, log, token) == {200}
        out = httpx.post(f"{base}/api/auth/logout", headers=bearer(token), timeout=10)
        assert out.status_code == 204
        assert _from_every_worker(base, log, token) == {401}
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)


# -- Redis going away and coming back ----------------------------------------------------------
class RedisServer:
    """A redis-server of the test's own on a free port, stopped and started at will (no
    persistence: a restart comes back empty, like a replaced cache node)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        binary = "redis-server"
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", str(self.directory)]
        try:
            self.process = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        except FileNotFoundError as exc:
            pytest.skip(f"redis-server is not installed: {exc}")
        client = redis_sync.Redis(port=self.port, socket_connect_timeout=1)
        for _ in range(200):  # bounded: 200 attempts 50 ms apart
            try:
                if client.ping():
                    return
            except redis_sync.RedisError:
                time.sleep(0.05)
        pytest.fail("redis-server did not answer")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_a_logout_during_a_redis_outage_holds_and_says_so(
    attack, own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with attack(redis_url=own_redis.url) as attacker:
        client = attacker.client()
        alice = email()
        await register(client, alice)
        leaving, staying = await token_of(client, alice), await token_of(client, alice)
        assert (await client.get("/api/me", headers=bearer(leaving))).status_code == 200

        own_redis.stop()  # Redis goes away
        out = await client.post("/api/auth/logout", headers=bearer(leaving))
        assert out.status_code == 204  # the truth: revoked, for every worker and replica
        assert_problem(await client.get("/api/me", headers=bearer(leaving)), 401)
        assert (await client.get("/api/me", headers=bearer(staying))).status_code == 200
        # Logging in and registering do not need Redis either (the limits fall back).
        newcomer = email()
        assert (await register(client, newcomer)).status_code == 202
        assert (await login(client, newcomer)).status_code == 200
        assert any("falling back" in r.getMessage() for r in caplog.records)

        own_redis.start()  # Redis is back, empty
        assert_problem(await client.get("/api/me", headers=bearer(leaving)), 401)
        assert (await client.get("/api/me", headers=bearer(staying))).status_code == 200


async def test_no_cache_entry_can_revive_a_revoked_token(attack, redis_url: str) -> None:
    """Even a "valid" entry in Redis (as older versions wrote them, or one a Redis outage kept
    from being deleted) is not read as anything: the database refuses the token."""
    async with attack(redis_url=redis_url) as attacker:
        client = attacker.client()
        alice = email()
        await register(client, alice)
        token = await token_of(client, alice)
        me = (await client.get("/api/me", headers=bearer(token))).json()
        assert (await client.post("/api/auth/logout", headers=bearer(token))).status_code == 204
        raw = redis.from_url(redis_url)
        try:
            stale = f"{me['id']}|{time.time() + 3600}"
            await raw.set(f"hero-foundry:auth:{token_digest(token)}", stale, ex=60)
            await raw.delete(f"hero-foundry:auth-refused:{token_digest(token)}")
            assert_problem(await client.get("/api/me", headers=bearer(token)), 401)
        finally:
            await raw.aclose()
