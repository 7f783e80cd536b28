"""ECS JSON logs: one access record per request, request ids, one record per uncaught
exception, no secrets, rotating files under ``log_dir``, uvicorn's records in the same format."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hero_foundry.accounts.security import token_digest
from hero_foundry.app import create_app
from hero_foundry.observability.logs import (
    RequestContextMiddleware,
    configure_logging,
    log_file_path,
)
from hero_foundry.processes import free_port
from tests.conftest import make_settings
from tests.servers import wait_until_serving

CLI = [sys.executable, "-m", "hero_foundry.cli"]


def read_records(log_dir: Path) -> list[dict[str, Any]]:
    """Every record of the log file (each line must be one JSON document)."""
    return [json.loads(line) for line in log_file_path(log_dir).read_text().splitlines()]


def field(record: dict[str, Any], dotted: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def with_request_id(records: list[dict[str, Any]], request_id: str) -> list[dict[str, Any]]:
    return [r for r in records if field(r, "http.request.id") == request_id]


def access_records(records: list[dict[str, Any]], request_id: str) -> list[dict[str, Any]]:
    return [
        r
        for r in with_request_id(records, request_id)
        if field(r, "log.logger") == "hero_foundry.access"
    ]


def new_request_id() -> str:
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
async def logged(database_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A client on an app that logs to ``tmp_path`` (``client.log_dir``), with a failing route."""
    app = create_app(make_settings(database_url, log_dir=tmp_path))

    @app.get("/boom/{n}")
    async def boom(n: int) -> None:
        raise RuntimeError("secret internal detail")

    try:
        async with app.router.lifespan_context(app):
            # The default transport re-raises what escapes the app: nothing must.
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                client.log_dir = tmp_path  # type: ignore[attr-defined]
                yield client
    finally:
        configure_logging(make_settings(database_url))  # stdout only again


async def register_and_login(
    client: httpx.AsyncClient, password: str = "correct horse battery staple"
) -> tuple[str, str]:
    """(user id, token) of a fresh account."""
    email = f"log-{uuid.uuid4().hex[:12]}@example.com"
    r = await client.post("/api/auth/register", json={"email": email, "password": password})
    assert r.status_code == 202, r.text
    r = await client.post("/api/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    me = await client.get("/api/me", headers=auth(token))
    return me.json()["id"], token


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_each_request_writes_one_access_record_with_its_fields(
    logged: httpx.AsyncClient,
) -> None:
    user_id, token = await register_and_login(logged)
    rid = new_request_id()
    missing = uuid.uuid4()
    r = await logged.get(f"/api/characters/{missing}", headers={**auth(token), "X-Request-ID": rid})
    assert r.status_code == 404

    [record] = access_records(read_records(logged.log_dir), rid)
    assert record["ecs.version"] and record["@timestamp"].endswith("Z")
    assert record["log.level"] == "info"
    assert field(record, "service.name") == "hero-foundry"
    assert field(record, "http.request.method") == "GET"
    assert field(record, "url.path") == f"/api/characters/{missing}"
    assert field(record, "http.route") == "/api/characters/{character_id}"
    assert field(record, "http.response.status_code") == 404
    duration = field(record, "event.duration")
    assert isinstance(duration, int) and 0 < duration < 60 * 10**9  # nanoseconds
    assert field(record, "user.id") == user_id
    assert field(record, "trace.id") is None  # tracing is off by default


async def test_anonymous_and_unmatched_requests_are_logged_too(logged: httpx.AsyncClient) -> None:
    rid = new_request_id()
    r = await logged.get("/no/such/page", headers={"X-Request-ID": rid})
    assert r.status_code == 404
    [record] = access_records(read_records(logged.log_dir), rid)
    assert field(record, "url.path") == "/no/such/page"
    assert field(record, "http.route") is None
    assert field(record, "user.id") is None
    assert field(record, "http.response.status_code") == 404


async def test_query_strings_are_not_logged(logged: httpx.AsyncClient) -> None:
    rid = new_request_id()
    r = await logged.get(
        "/api/rules/search",
        params={"q": "grappled", "access_token": "qs-secret-value"},
        headers={"X-Request-ID": rid},
    )
    assert r.status_code in (200, 422)
    [record] = access_records(read_records(logged.log_dir), rid)
    assert field(record, "url.path") == "/api/rules/search"
    assert "qs-secret-value" not in log_file_path(logged.log_dir).read_text()


async def test_a_sane_request_id_is_honoured_and_echoed(logged: httpx.AsyncClient) -> None:
    rid = "edge-proxy:4f2a.9B_c-7"
    r = await logged.get("/healthz", headers={"X-Request-ID": rid})
    assert r.status_code == 200
    assert r.headers["x-request-id"] == rid
    assert len(access_records(read_records(logged.log_dir), rid)) == 1


@pytest.mark.parametrize(
    "sent",
    [None, "", "x" * 129, "two words", "<script>", "a;b=c", "caf\xe9".encode("latin-1")],
    ids=["absent", "empty", "too-long", "space", "markup", "separator", "non-ascii"],
)
async def test_a_missing_or_insane_request_id_is_replaced(
    logged: httpx.AsyncClient, sent: str | bytes | None
) -> None:
    headers = {} if sent is None else {"X-Request-ID": sent}
    r = await logged.get("/healthz", headers=headers)
    generated = r.headers["x-request-id"]
    assert generated != sent
    assert len(generated) == 32 and int(generated, 16) >= 0  # uuid4 hex
    assert len(access_records(read_records(logged.log_dir), generated)) == 1


async def test_every_response_carries_a_request_id(logged: httpx.AsyncClient) -> None:
    """Problems answered by the app's handlers and by middleware included."""
    responses = [
        await logged.get("/api/me"),  # 401 from a dependency
        await logged.post("/api/auth/register", json={"email": "x"}),  # 422
        await logged.post("/api/auth/register", content=b"x" * 200_000),  # 413 (middleware)
        await logged.get("/boom/1"),  # 500
    ]
    assert [r.status_code for r in responses] == [401, 422, 413, 500]
    records = read_records(logged.log_dir)
    for r in responses:
        [record] = access_records(records, r.headers["x-request-id"])
        assert field(record, "http.response.status_code") == r.status_code


async def test_an_uncaught_exception_is_one_record_with_its_stack_trace(
    logged: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    rid = new_request_id()
    r = await logged.get("/boom/7", headers={"X-Request-ID": rid})

    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["title"] == "Internal Server Error"
    assert "secret internal detail" not in r.text and "Traceback" not in r.text
    assert r.headers["x-request-id"] == rid

    records = with_request_id(read_records(logged.log_dir), rid)
    errors = [rec for rec in records if field(rec, "error.stack_trace")]
    assert len(errors) == 1, records
    [error] = errors
    assert error["log.level"] == "error"
    assert field(error, "error.type") == "RuntimeError"
    assert field(error, "error.message") == "secret internal detail"
    assert 'raise RuntimeError("secret internal detail")' in field(error, "error.stack_trace")
    [access] = access_records(records, rid)
    assert field(access, "http.response.status_code") == 500
    assert field(access, "error.type") == "RuntimeError"
    assert access["log.level"] == "error"  # where the error runbook's log query looks

    # The same on stdout, and nothing else in the whole output holds the stack trace again.
    stdout = capsys.readouterr().out
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    assert sum(1 for rec in lines if field(rec, "error.stack_trace")) == 1
    everything = log_file_path(logged.log_dir).read_text()
    assert everything.count("secret internal detail\\n") == 1  # the last traceback line


async def test_the_middleware_alone_answers_and_logs_an_escaping_exception(
    tmp_path: Path, database_url: str
) -> None:
    """Without an app error handler in between, the middleware itself answers 500, once."""
    configure_logging(make_settings(database_url, log_dir=tmp_path))

    async def broken_app(scope: Any, receive: Any, send: Any) -> None:
        raise ValueError("raw ASGI failure")

    try:
        transport = httpx.ASGITransport(app=RequestContextMiddleware(broken_app))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            r = await client.get("/anything")
    finally:
        configure_logging(make_settings(database_url))
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    records = with_request_id(read_records(tmp_path), r.headers["x-request-id"])
    assert [field(rec, "error.type") for rec in records if field(rec, "error.stack_trace")] == [
        "ValueError"
    ]
    assert len(records) == 2  # the error and the access record


async def test_passwords_tokens_and_authorization_headers_never_reach_the_logs(
    logged: httpx.AsyncClient,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # everything any library logs, too
    password = "s3cret-Passphrase-that-must-not-leak"
    email = f"secret-{uuid.uuid4().hex[:10]}@example.com"
    body = {"email": email, "password": password}
    assert (await logged.post("/api/auth/register", json=body)).status_code == 202
    token = (await logged.post("/api/auth/login", json=body)).json()["access_token"]
    assert (await logged.get("/api/me", headers=auth(token))).status_code == 200
    assert (await logged.post("/api/auth/logout", headers=auth(token))).status_code == 204
    assert (await logged.get("/api/me", headers=auth(token))).status_code == 401
    wrong = {"email": email, "password": password + "-wrong"}
    assert (await logged.post("/api/auth/login", json=wrong)).status_code == 401
    bad = {"email": email, "password": password, "extra": password}
    assert (await logged.post("/api/auth/register", json=bad)).status_code == 422

    outputs = {
        "file": log_file_path(logged.log_dir).read_text(),
        "stdout": capsys.readouterr().out,
    }
    assert "/api/auth/logout" in outputs["file"] and "/api/auth/logout" in outputs["stdout"]
    for name, text in outputs.items():
        for secret in (password, token, token_digest(token), "Authorization", "Bearer"):
            assert secret not in text, f"{secret[:12]}... found in {name}"


async def test_secrets_in_messages_are_redacted(logged: httpx.AsyncClient) -> None:
    """Defence in depth: a careless log call still writes no credential."""
    log = logging.getLogger("hero_foundry.test")
    log.warning("sent headers %s", [(b"authorization", b"Bearer abcdef0123456789")])
    log.warning('body {"email": "a@example.com", "password": "correct horse battery"}')
    log.warning("callback ?password=hunter22&next=/")
    try:
        raise ValueError("login failed for token=tok_0123456789abcdef")
    except ValueError:
        log.exception("while logging in")
    text = log_file_path(logged.log_dir).read_text()
    for secret in ("abcdef0123456789", "correct horse", "hunter22", "tok_0123456789abcdef"):
        assert secret not in text
    assert text.count("[REDACTED]") >= 4
    assert "a@example.com" in text and "next=/" in text  # only the secrets go


async def test_configuring_logging_again_does_not_duplicate_records(
    database_url: str, tmp_path: Path
) -> None:
    for _ in range(3):  # e.g. several apps created in one process
        create_app(make_settings(database_url, log_dir=tmp_path))
    try:
        owned = [h for h in logging.getLogger().handlers if getattr(h, "_hero_foundry_handler", 0)]
        assert len(owned) == 2  # stdout and the file
        logging.getLogger("hero_foundry.test").warning("exactly once %s", tmp_path.name)
    finally:
        configure_logging(make_settings(database_url))
    text = log_file_path(tmp_path).read_text()
    assert text.count(f"exactly once {tmp_path.name}") == 1


def test_an_empty_log_dir_means_stdout_only(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HERO_FOUNDRY_LOG_DIR", "")
    configure_logging(make_settings(database_url))
    try:
        owned = [h for h in logging.getLogger().handlers if getattr(h, "_hero_foundry_handler", 0)]
        logging.getLogger("hero_foundry.test").warning("stdout only")
    finally:
        configure_logging(make_settings(database_url, log_dir=None))
    assert len(owned) == 1
    assert not (tmp_path / "fastapi").exists()


async def test_the_log_file_rotates_under_log_dir(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(
        database_url, log_dir=tmp_path, log_file_max_bytes=4096, log_file_backups=2
    )
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                for _ in range(60):
                    assert (await client.get("/healthz")).status_code == 200
    finally:
        configure_logging(make_settings(database_url))
    directory = tmp_path / "fastapi"
    names = sorted(p.name for p in directory.glob("hero-foundry.log*"))
    assert names == ["hero-foundry.log", "hero-foundry.log.1", "hero-foundry.log.2"]
    for path in directory.glob("hero-foundry.log*"):
        assert 0 < path.stat().st_size <= 4096
        for line in path.read_text().splitlines():
            json.loads(line)


def test_several_processes_share_the_rotating_file_without_losing_records(
    tmp_path: Path,
) -> None:
    """Workers rotate the same file: no record lost, no rotation race, every backup full.

    (The standard RotatingFileHandler fails here: concurrent rollovers raise FileNotFoundError,
    dropping records, and rotate files long before they are full.)"""
    max_bytes = 65536
    script = textwrap.dedent(
        f"""
        import logging, sys
        from hero_foundry.observability.logs import configure_logging
        from hero_foundry.settings import Settings
        configure_logging(Settings(log_dir={str(tmp_path)!r}, log_file_max_bytes={max_bytes},
                                   log_file_backups=100, log_level="INFO"))
        sys.stdout = open("/dev/null", "w")
        log = logging.getLogger("worker")
        for i in range(1500):
            log.info("worker %s record %s %s", sys.argv[1], i, "x" * 100)
        """
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(n)], cwd=tmp_path, stderr=subprocess.PIPE, text=True
        )
        for n in range(3)
    ]
    for worker in workers:
        _, stderr = worker.communicate(timeout=120)
        assert worker.returncode == 0 and stderr == "", stderr  # no "--- Logging error ---"
    seen: set[str] = set()
    directory = tmp_path / "fastapi"
    backups = list(directory.glob("hero-foundry.log.*"))
    assert len(backups) > 10  # it did rotate, many times
    for path in [directory / "hero-foundry.log", *backups]:
        for line in path.read_text().splitlines():
            seen.add(json.loads(line)["message"].rsplit(" ", 1)[0])
    assert len(seen) == 3 * 1500
    for path in backups:  # full, give or take the records other workers appended meanwhile
        assert max_bytes - 2048 < path.stat().st_size < max_bytes + 4096, path


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_writes_only_ecs_json_and_one_access_log(tmp_path: Path, workers: int) -> None:
    """``hero-foundry serve``: uvicorn's own records are ECS JSON too, its access log is off."""
    port = free_port()
    log_dir = tmp_path / "logs"
    env = {
        **os.environ,
        "HERO_FOUNDRY_DATA_DIR": str(tmp_path),
        "HERO_FOUNDRY_DATABASE_URL": "",
        "HERO_FOUNDRY_REDIS_URL": "",
        "HERO_FOUNDRY_PORT": str(port),
        "HERO_FOUNDRY_WORKERS": str(workers),
        "HERO_FOUNDRY_LOG_DIR": str(log_dir),
    }
    upgraded = subprocess.run(
        [*CLI, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=60
    )
    assert upgraded.returncode == 0, upgraded.stderr
    server = subprocess.Popen(
        [*CLI, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    rid = new_request_id()
    try:
        wait_until_serving(
            f"http://127.0.0.1:{port}", server, timeout=30, output=lambda: str(server.communicate())
        )
        r = httpx.get(f"http://127.0.0.1:{port}/api/srd/classes", headers={"X-Request-ID": rid})
        assert r.status_code == 200 and r.headers["x-request-id"] == rid
    finally:
        server.terminate()
        stdout, stderr = server.communicate(timeout=20)
    assert "Traceback" not in stderr, stderr
    assert "color_message" not in stdout  # uvicorn's ANSI-coloured copy of each message
    stdout_records = [json.loads(line) for line in stdout.splitlines()]  # all JSON
    records = read_records(log_dir)
    for output in (stdout_records, records):
        loggers = {field(rec, "log.logger") for rec in output}
        assert "uvicorn.error" in loggers  # "Started server process", "Uvicorn running on"
        assert "uvicorn.access" not in loggers
        [access] = access_records(output, rid)
        assert field(access, "http.route") == "/api/srd/classes"
        assert field(access, "http.response.status_code") == 200
