"""The web tier (``hero-foundry web``, docs/web-tier.md) in front of a real api.

The api is a real ``hero-foundry serve`` on a free loopback port (its own SQLite database), so the
forwarded ``X-Forwarded-For`` goes through the api's real uvicorn and its trust rules. The web tier
runs in-process (a browser's address is then whatever the test says) and, for the command and the
streamed download, as ``python -m hero_foundry.web`` under its own uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from prometheus_client import REGISTRY
from pypdf import PdfReader
from starlette.types import Receive, Scope, Send

from hero_foundry.observability.metrics import UNMATCHED_ENDPOINT
from hero_foundry.processes import free_port, stop
from hero_foundry.web.app import IMMUTABLE, NO_CACHE, create_web_app
from hero_foundry.web.settings import WebSettings
from tests.integration.api import PASSWORD, build_character, new_player, ok
from tests.servers import wait_until_serving

CLI = [sys.executable, "-m", "hero_foundry.cli"]
WEB = [sys.executable, "-m", "hero_foundry.web"]
#: The api's telemetry rate: a bucket of this many requests per client (refilled per minute).
TELEMETRY_RATE = 2

INDEX_HTML = (
    b"<!doctype html><html><head><title>The Hero Foundry</title>"
    b'<script type="module" src="/assets/app-abc123.js"></script></head>'
    b'<body><div id="root"></div></body></html>'
)
APP_JS = b"export const hello = 'The Hero Foundry';\n" * 40
APP_CSS = b"body { font-family: serif; }\n"
FAVICON = b'<svg xmlns="http://www.w3.org/2000/svg"/>'
SECRET = b"not part of the bundle"


# -- Fixtures -------------------------------------------------------------------------------


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A small built bundle, and a file beside it that must never be served."""
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_bytes(INDEX_HTML)
    (dist / "assets" / "app-abc123.js").write_bytes(APP_JS)
    (dist / "assets" / "app-abc123.css").write_bytes(APP_CSS)
    (dist / "favicon.svg").write_bytes(FAVICON)
    (tmp_path / "secret.txt").write_bytes(SECRET)
    return dist


@dataclass
class Api:
    base: str
    log: Path

    def records(self) -> list[dict[str, Any]]:
        """The api's ECS log records so far (one JSON document per line of its output)."""
        records = []
        for line in self.log.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError):
                records.append(json.loads(line))
        return records


def _api_env(directory: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(
        {
            "HERO_FOUNDRY_ENVIRONMENT": "test",
            "HERO_FOUNDRY_DATA_DIR": str(directory),
            "HERO_FOUNDRY_DATABASE_URL": f"sqlite+aiosqlite:///{directory / 'api.sqlite3'}",
            "HERO_FOUNDRY_REDIS_URL": "",
            "HERO_FOUNDRY_PORT": str(port),
            "HERO_FOUNDRY_HOST": "127.0.0.1",
            "HERO_FOUNDRY_WORKERS": "1",
            "HERO_FOUNDRY_METRICS_TOKEN": "",
            "HERO_FOUNDRY_LOG_DIR": "",
            "HERO_FOUNDRY_ARGON2_TIME_COST": "1",
            "HERO_FOUNDRY_ARGON2_MEMORY_KIB": "64",
            "HERO_FOUNDRY_TELEMETRY_RATE_PER_MINUTE": str(TELEMETRY_RATE),
        }
    )
    env.pop("FORWARDED_ALLOW_IPS", None)  # uvicorn's default: trust 127.0.0.1 and ::1
    return env


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A real ``hero-foundry serve`` (migrated first), its output in a file."""
    directory = tmp_path_factory.mktemp("web-tier-api")
    port = free_port()
    env = _api_env(directory, port)
    upgraded = subprocess.run(
        [*CLI, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120
    )
    assert upgraded.returncode == 0, upgraded.stderr
    log = directory / "api.log"
    with log.open("wb") as out:
        server = subprocess.Popen([*CLI, "serve"], env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, server, output=lambda: log.read_text(errors="replace"))
        yield Api(base, log)
    finally:
        stop(server)


def settings_for(dist: Path, api_url: str, **overrides: Any) -> WebSettings:
    values: dict[str, Any] = {
        "environment": "test",
        "web_dist_dir": dist,
        "web_api_url": api_url,
        "metrics_token": "",
        "log_dir": None,
    }
    values.update(overrides)
    return WebSettings(**values)


@contextlib.asynccontextmanager
async def web_client(
    settings: WebSettings,
    *,
    address: str = "127.0.0.1",
    transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    """A browser at ``address`` talking to an in-process web tier (lifespan running)."""
    app = create_web_app(settings, transport=transport)
    async with app.router.lifespan_context(app):
        asgi = httpx.ASGITransport(app=app, client=(address, 50_000))
        async with httpx.AsyncClient(transport=asgi, base_url="http://web.test") as client:
            yield client


async def api_directly(api: Api, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """The same request sent to the api itself, without the web tier."""
    async with httpx.AsyncClient(base_url=api.base, timeout=10) as client:
        return await client.request(method, path, **kwargs)


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def is_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json", response.headers
    problem = response.json()
    assert problem["status"] == status
    return problem


# -- The bundle -----------------------------------------------------------------------------


async def test_assets_are_cached_for_a_year_and_the_page_is_revalidated(
    bundle: Path, api: Api
) -> None:
    async with web_client(settings_for(bundle, api.base)) as web:
        js = await web.get("/assets/app-abc123.js")
        assert js.status_code == 200 and js.content == APP_JS
        assert js.headers["cache-control"] == IMMUTABLE == "public, max-age=31536000, immutable"
        assert "javascript" in js.headers["content-type"]
        assert js.headers["x-content-type-options"] == "nosniff"
        css = await web.get("/assets/app-abc123.css")
        assert css.content == APP_CSS and css.headers["content-type"].startswith("text/css")

        for path in ("/", "/index.html"):
            page = await web.get(path)
            assert page.status_code == 200 and page.content == INDEX_HTML, path
            assert page.headers["cache-control"] == NO_CACHE, path
            assert page.headers["content-type"].startswith("text/html"), path
        # Revalidation: the browser's copy is current, nothing is sent again.
        etag = page.headers["etag"]
        again = await web.get("/", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        # An unhashed file at the bundle's root: served, but revalidated like the page.
        icon = await web.get("/favicon.svg")
        assert icon.content == FAVICON and icon.headers["cache-control"] == NO_CACHE
        head = await web.head("/assets/app-abc123.js")
        assert head.status_code == 200 and head.headers["content-length"] == str(len(APP_JS))


async def test_missing_files_are_404_problems_and_nothing_outside_the_bundle_is_served(
    bundle: Path, api: Api
) -> None:
    async with web_client(settings_for(bundle, api.base)) as web:
        # A stale hashed name (a tab open across a deploy) must not get HTML as its script.
        is_problem(await web.get("/assets/app-0ld0ld.js"), 404)
        is_problem(await web.get("/assets/"), 404)  # a directory is not a file
        is_problem(await web.get("/logo.png"), 404)
        for path in (
            "/assets/../../secret.txt",
            "/assets/%2e%2e/%2e%2e/secret.txt",
            "/assets/..%2f..%2fsecret.txt",
            "/..%2fsecret.txt",
            "/%2e%2e/secret.txt",
        ):
            response = await web.get(path)
            assert SECRET not in response.content, path
            assert response.status_code in (200, 404), path
            if response.status_code == 200:  # normalised to a client route: the page
                assert response.content == INDEX_HTML, path


async def test_deep_links_get_the_page_but_api_paths_never_do(bundle: Path, api: Api) -> None:
    async with web_client(settings_for(bundle, api.base)) as web:
        for path in (
            "/characters",
            f"/characters/{uuid.uuid4()}",
            "/wizard/race",
            "/rules/spells/fireball?from=search",
        ):
            response = await web.get(path, headers={"Accept": "text/html"})
            assert response.status_code == 200 and response.content == INDEX_HTML, path
            assert response.headers["cache-control"] == NO_CACHE, path
        # /api/* is the api's, even where it has no route: its 404 problem, not the page.
        for path in ("/api/unknown", "/api", "/api/"):
            response = await web.get(path, headers={"Accept": "text/html"})
            problem = is_problem(response, 404)
            assert INDEX_HTML not in response.content and problem["instance"] == path
        # The page is for reading: other methods are refused, not handed index.html.
        is_problem(await web.post("/characters", json={}), 405)
        # The web tier's own routes are not pages either.
        assert (await web.get("/healthz")).json() == {"status": "ok"}
        assert (await web.head("/metrics")).status_code == 405


async def test_a_missing_bundle_answers_503_saying_how_to_build_it(
    tmp_path: Path, api: Api
) -> None:
    dist = tmp_path / "never-built"
    async with web_client(settings_for(dist, api.base)) as web:
        page = await web.get("/characters", headers={"Accept": "text/html,*/*;q=0.8"})
        assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
        assert "npm run build" in page.text and str(dist / "index.html") in page.text
        assert "Traceback" not in page.text
        problem = is_problem(await web.get("/assets/app-abc123.js"), 503)
        assert "npm run build" in problem["detail"]
        assert "HERO_FOUNDRY_WEB_DIST_DIR" in problem["detail"]
        ready = is_problem(await web.get("/readyz"), 503)
        assert ready["checks"]["bundle"].startswith("failed") and ready["checks"]["api"] == "ok"
        # The api is still reachable through the web tier, and the process is alive.
        assert len(await ok(web.get("/api/srd/alignments"))) == 9
        assert (await web.get("/healthz")).status_code == 200
        # Built while the web tier runs: picked up at once.
        dist.mkdir()
        (dist / "index.html").write_bytes(INDEX_HTML)
        assert (await web.get("/characters")).content == INDEX_HTML
        assert (await web.get("/readyz")).json()["status"] == "ready"


# -- The api through the web tier ---------------------------------------------------------


async def test_sign_up_sign_in_and_me_go_through_with_the_token(bundle: Path, api: Api) -> None:
    email = f"web-{uuid.uuid4().hex[:10]}@example.com"
    async with web_client(settings_for(bundle, api.base)) as web:
        account = await ok(
            web.post("/api/auth/register", json={"email": email, "password": PASSWORD}), 202
        )
        token = (
            await ok(web.post("/api/auth/login", json={"email": email, "password": PASSWORD}))
        )["access_token"]
        me = await ok(web.get("/api/me", headers={"Authorization": f"Bearer {token}"}))
        assert me["email"] == account["email"] == email
        # No token: the api's 401 problem, with its challenge, passed on unchanged.
        through = await web.get("/api/me")
        direct = await api_directly(api, "GET", "/api/me")
        assert through.status_code == direct.status_code == 401
        assert through.content == direct.content
        assert through.headers["content-type"] == direct.headers["content-type"]
        assert through.headers["www-authenticate"] == direct.headers["www-authenticate"]
        # A refused body: the api's 422 with its field errors, byte for byte.
        bad = {"email": "not-an-address", "password": "x"}
        through = await web.post("/api/auth/register", json=bad)
        direct = await api_directly(api, "POST", "/api/auth/register", json=bad)
        assert through.status_code == 422 and through.content == direct.content
        # Logout revokes the token at the api.
        await ok(web.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}"}), 204)
        is_problem(await web.get("/api/me", headers={"Authorization": f"Bearer {token}"}), 401)


async def test_query_strings_reach_the_api_exactly(bundle: Path, api: Api) -> None:
    query = "class=wizard&level=1&q=magic%20missile&limit=5"
    async with web_client(settings_for(bundle, api.base)) as web:
        through = await web.get(f"/api/srd/spells?{query}")
    direct = await api_directly(api, "GET", f"/api/srd/spells?{query}")
    assert through.status_code == 200 and through.json() == direct.json()
    assert [s["index"] for s in through.json()["items"]] == ["magic-missile"]


async def test_a_pdf_export_and_a_json_import_go_through_whole(bundle: Path, api: Api) -> None:
    async with web_client(settings_for(bundle, api.base)) as web:
        headers = await new_player(web)
        character, _ = await build_character(web, headers, "dwarf", "cleric", name="Brottor")
        url = f"/api/characters/{character['id']}/export"
        pdf = await web.get(url, params={"format": "pdf"}, headers=headers)
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.headers["content-length"] == str(len(pdf.content))
        assert "Brottor" in PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
        exported = await web.get(url, params={"format": "json"}, headers=headers)
        imported = await ok(
            web.post(
                "/api/characters/import",
                content=exported.content,
                headers={**headers, **_json()},
            ),
            201,
        )
        assert imported["id"] != character["id"] and imported["name"] == "Brottor"


async def test_bodies_over_the_limit_are_refused_by_the_web_tier(bundle: Path, api: Api) -> None:
    async with web_client(settings_for(bundle, api.base, max_body_bytes=2048)) as web:

        def refused() -> float:  # a Content-Length is refused before routing: <unmatched>
            return sum(
                value("http_requests_total", method="POST", endpoint=endpoint, status="413")
                for endpoint in ("/api/{path}", UNMATCHED_ENDPOINT)
            )

        before = refused()
        problem = is_problem(
            await web.post("/api/auth/register", content=b"x" * 5000, headers=_json()), 413
        )
        assert "2048" in problem["detail"]

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
            for _ in range(5):
                yield b"y" * 1000

        is_problem(await web.post("/api/auth/register", content=chunks(), headers=_json()), 413)
        assert refused() - before == 2


def _json() -> dict[str, str]:
    return {"Content-Type": "application/json"}


async def test_browser_telemetry_is_rate_limited_per_browser_address(
    bundle: Path, api: Api
) -> None:
    """The api's uvicorn trusts the web tier (loopback) and counts each browser on its own."""
    batch = {"events": [{"type": "page_view", "page": "home", "user_type": "anonymous"}]}
    settings = settings_for(bundle, api.base)
    first, second, third = "198.51.100.7", "198.51.100.8", "198.51.100.9"
    async with web_client(settings, address=first) as web:
        for _ in range(TELEMETRY_RATE):
            assert (await web.post("/api/metrics", json=batch)).status_code == 202
        refused = is_problem(await web.post("/api/metrics", json=batch), 429)
        assert refused["status"] == 429
    async with web_client(settings, address=second) as web:
        # A shared bucket (every browser seen as the web tier's address) would refuse this.
        assert (await web.post("/api/metrics", json=batch)).status_code == 202
    async with web_client(settings, address=third) as web:
        # Claiming another browser's address does not spend (or escape into) its bucket.
        response = await web.post("/api/metrics", json=batch, headers={"X-Forwarded-For": first})
        assert response.status_code == 202


async def test_the_request_id_and_the_browser_address_reach_the_api_log(
    bundle: Path, api: Api
) -> None:
    request_id = f"web-tier-{uuid.uuid4().hex}"
    async with web_client(settings_for(bundle, api.base), address="203.0.113.44") as web:
        response = await web.get("/api/srd/alignments", headers={"X-Request-ID": request_id})
        assert response.status_code == 200 and response.headers["x-request-id"] == request_id
        generated = await web.get("/api/srd/alignments")  # no id sent: the web tier's own
        own_id = generated.headers["x-request-id"]
    # The api writes its access record once the response has gone: allow it a moment.
    deadline = time.monotonic() + 10
    while True:
        records = {
            r.get("http", {}).get("request", {}).get("id"): r
            for r in api.records()
            if r.get("log", {}).get("logger") == "hero_foundry.access"
        }
        if (request_id in records and own_id in records) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert request_id in records and own_id in records, "the api logged neither id"
    record = records[request_id]
    assert record["client"]["address"] == "203.0.113.44"
    assert record["url"]["path"] == "/api/srd/alignments"


# -- Forwarding, header by header (an echoing upstream) -------------------------------------


async def _echo(scope: Scope, receive: Receive, send: Send) -> None:
    """An upstream that answers with what it received, and hop-by-hop headers of its own."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    seen = {
        "method": scope["method"],
        "raw_path": scope["raw_path"].decode(),
        "query": scope["query_string"].decode(),
        "headers": [[k.decode(), v.decode()] for k, v in scope["headers"]],
        "body": body.decode(),
    }
    payload = json.dumps(seen).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 207,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"set-cookie", b"a=1; Path=/"),
                (b"set-cookie", b"b=2; Path=/"),
                (b"connection", b"x-upstream-hop"),
                (b"x-upstream-hop", b"private"),
                (b"keep-alive", b"timeout=5"),
                (b"x-request-id", b"upstream-made-this-up"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def test_forwarding_keeps_end_to_end_headers_and_drops_hop_by_hop_ones(
    bundle: Path,
) -> None:
    echo = httpx.ASGITransport(app=_echo, client=("127.0.0.1", 40_000))
    settings = settings_for(bundle, "http://api.internal:8000/internal/")
    async with web_client(settings, address="192.0.2.10", transport=echo) as web:
        response = await web.patch(
            "/api/characters/x%2Fy/notes?b=2&a=%20&a=3",
            content=b'{"notes": "hello"}',
            headers={
                "Authorization": "Bearer abc",
                "Content-Type": "application/json",
                "Cookie": "session=1",
                "Connection": "keep-alive, X-Browser-Hop",
                "X-Browser-Hop": "secret",
                "Proxy-Authorization": "Basic Zm9vOmJhcg==",
                "TE": "trailers",
                "X-Forwarded-For": "10.9.8.7",
                "X-Request-ID": "abc-123",
            },
        )
    assert response.status_code == 207
    seen = response.json()
    headers: dict[str, list[str]] = {}
    for name, header_value in seen["headers"]:
        headers.setdefault(name, []).append(header_value)
    assert seen["method"] == "PATCH" and seen["body"] == '{"notes": "hello"}'
    assert (
        seen["raw_path"] == "/internal/api/characters/x%2Fy/notes"
        and seen["query"] == "b=2&a=%20&a=3"
    )
    assert headers["authorization"] == ["Bearer abc"] and headers["cookie"] == ["session=1"]
    assert headers["content-length"] == ["18"] and headers["host"] == ["api.internal:8000"]
    for hop in ("connection", "x-browser-hop", "proxy-authorization", "te", "keep-alive"):
        assert hop not in headers, hop
    assert headers["x-forwarded-for"] == ["10.9.8.7, 192.0.2.10"]  # the real peer last
    assert headers["x-forwarded-proto"] == ["http"]
    assert headers["x-forwarded-host"] == ["web.test"]
    assert headers["x-request-id"] == ["abc-123"]
    # The answer: end-to-end headers kept (both cookies), hop-by-hop ones dropped.
    assert response.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert "x-upstream-hop" not in response.headers and "keep-alive" not in response.headers
    assert response.headers["x-request-id"] == "abc-123"


# -- Streaming (a real server each side) ----------------------------------------------------


class SlowUpstream:
    """Sends the first part of a download, then waits for the test before the rest; notes when
    the first part of an upload arrives."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.finished = threading.Event()
        self.first_upload_chunk = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] == "POST":
            size = 0
            while True:
                message = await receive()
                size += len(message.get("body", b""))
                if size:
                    self.first_upload_chunk.set()
                if not message.get("more_body"):
                    break
            body = str(size).encode()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})  # chunked
        await send({"type": "http.response.body", "body": b"first part", "more_body": True})
        await asyncio.to_thread(self.release.wait, 30)
        self.finished.set()
        await send({"type": "http.response.body", "body": b" and the rest"})


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` under a real uvicorn on a free loopback port, in a thread."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_bodies_stream_both_ways_without_being_buffered(bundle: Path) -> None:
    upstream = SlowUpstream()
    with (
        serving(upstream) as api_url,
        serving(create_web_app(settings_for(bundle, api_url))) as web,
    ):
        with httpx.stream("GET", f"{web}/api/download", timeout=60) as response:
            chunks = response.iter_raw()
            first = next(chunks)
            # A buffering proxy would hold this back until the api finished the answer.
            assert first == b"first part" and not upstream.finished.is_set()
            upstream.release.set()
            assert b"".join(chunks) == b" and the rest"

        received_first: list[bool] = []

        def upload() -> Iterator[bytes]:
            yield b"x" * 1000
            # A buffering proxy would wait for the whole body before the api saw any of it.
            received_first.append(upstream.first_upload_chunk.wait(30))
            yield b"y" * 1000

        answer = httpx.post(f"{web}/api/upload", content=upload(), timeout=60)
        assert answer.status_code == 200 and answer.text == "2000"
        assert received_first == [True]


# -- The api down ----------------------------------------------------------------------------


async def test_an_unreachable_api_is_a_502_problem_and_not_ready(bundle: Path) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    async with web_client(settings_for(bundle, nobody)) as web:
        before = value("http_requests_total", method="GET", endpoint="/api/{path}", status="502")
        problem = is_problem(await web.get("/api/me", headers={"Authorization": "Bearer x"}), 502)
        assert problem["title"] == "Bad Gateway" and problem["instance"] == "/api/me"
        assert "127.0.0.1" not in json.dumps(problem)  # internal addresses stay in the log
        is_problem(await web.post("/api/auth/login", json={"email": "a@b.c", "password": "x"}), 502)
        after = value("http_requests_total", method="GET", endpoint="/api/{path}", status="502")
        assert after - before == 1
        ready = is_problem(await web.get("/readyz"), 503)
        assert ready["checks"] == {"bundle": "ok", "api": "failed: unreachable (ConnectError)"}
        # The pages still load (they show their own error when the api calls fail).
        assert (await web.get("/characters")).content == INDEX_HTML
        assert (await web.get("/healthz")).status_code == 200


# -- /metrics -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "address", "authorization", "status"),
    [
        ("", "127.0.0.1", None, 200),
        ("", "::1", None, 200),
        ("", "203.0.113.9", None, 403),
        ("", "203.0.113.9", "Bearer anything", 403),
        ("s3cret-scrape-token", "203.0.113.9", None, 401),
        ("s3cret-scrape-token", "203.0.113.9", "Bearer wrong", 401),
        ("s3cret-scrape-token", "127.0.0.1", None, 401),
        ("s3cret-scrape-token", "203.0.113.9", "Bearer s3cret-scrape-token", 200),
    ],
)
async def test_metrics_are_restricted_like_the_api(
    bundle: Path, token: str, address: str, authorization: str | None, status: int
) -> None:
    settings = settings_for(bundle, "http://127.0.0.1:9", metrics_token=token)
    headers = {"Authorization": authorization} if authorization else {}
    async with web_client(settings, address=address) as web:
        response = await web.get("/metrics", headers=headers)
    if status == 200:
        assert response.status_code == 200 and "http_requests_total" in response.text
    else:
        is_problem(response, status)
        assert "http_requests_total" not in response.text
        if status == 401:
            assert response.headers["www-authenticate"] == "Bearer"


async def test_metrics_count_the_web_tiers_requests_by_route_template(
    bundle: Path, api: Api
) -> None:
    deep_links = [f"/characters/{uuid.uuid4()}" for _ in range(5)]
    labels = {"method": "GET", "status": "200"}
    page, asset, forwarded = "/{path}", "/assets/{path}", "/api/{path}"
    async with web_client(settings_for(bundle, api.base)) as web:
        before = {e: value("http_requests_total", endpoint=e, **labels) for e in (page, asset)}
        before_api = value("http_requests_total", endpoint=forwarded, **labels)
        size_before = value("api_response_size_bytes_sum", method="GET", endpoint=asset)
        unmatched = value("http_requests_total", endpoint=UNMATCHED_ENDPOINT, **labels)
        for path in deep_links:
            assert (await web.get(path)).status_code == 200
        for path in ("/assets/app-abc123.js", "/assets/app-abc123.css", "/assets/app-abc123.js"):
            assert (await web.get(path)).status_code == 200
        assert (await web.get("/api/srd/alignments")).status_code == 200
        text = (await web.get("/metrics")).text
    assert value("http_requests_total", endpoint=page, **labels) - before[page] == 5
    assert value("http_requests_total", endpoint=asset, **labels) - before[asset] == 3
    assert value("http_requests_total", endpoint=forwarded, **labels) - before_api == 1
    assert value("api_response_size_bytes_sum", method="GET", endpoint=asset) - size_before == (
        2 * len(APP_JS) + len(APP_CSS)
    )
    assert value("http_requests_total", endpoint=UNMATCHED_ENDPOINT, **labels) == unmatched
    # One series per route, never one per URL; and the process metrics of the web tier.
    for path in deep_links:
        assert path not in text
    # (The api's own route templates, e.g. /api/srd/alignments, may be in this process's registry
    # from other tests: the forwarded request above was counted under /api/{path} only.)
    assert "app-abc123" not in text
    assert 'endpoint="/{path}"' in text and 'endpoint="/assets/{path}"' in text
    assert "process_resident_memory_bytes" in text and "http_requests_in_progress" in text


# -- The command ------------------------------------------------------------------------------


def test_the_command_imports_no_metrics_library() -> None:
    """``cli.py`` imports the command at start-up; ``serve --workers N`` must be able to choose
    prometheus_client's multiprocess directory after that."""
    code = "import sys, hero_foundry.web.cli; print('prometheus_client' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_web_command_serves_streams_a_pdf_and_refuses_a_taken_port(
    bundle: Path, api: Api, tmp_path: Path
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERO_FOUNDRY_WEB_")}
    env.update({"HERO_FOUNDRY_ENVIRONMENT": "test", "HERO_FOUNDRY_DATA_DIR": str(tmp_path)})
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [*WEB, "--port", str(port), "--api-url", api.base, "--dist", str(bundle)]
    output = tmp_path / "web.log"
    with output.open("wb") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, server, output=lambda: output.read_text(errors="replace"))
        assert f"web on {base}" in output.read_text()
        assert httpx.get(f"{base}/wizard/race", timeout=10).content == INDEX_HTML
        assert httpx.get(f"{base}/readyz", timeout=10).json()["status"] == "ready"

        with httpx.Client(base_url=base, timeout=30) as browser:
            email = f"web-{uuid.uuid4().hex[:10]}@example.com"
            credentials = {"email": email, "password": PASSWORD}
            assert browser.post("/api/auth/register", json=credentials).status_code == 202
            token = browser.post("/api/auth/login", json=credentials).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
        character_id = _build_a_character(base, headers)
        # Read as a stream, chunk by chunk, through two real servers.
        with httpx.stream(
            "GET",
            f"{base}/api/characters/{character_id}/export",
            params={"format": "pdf"},
            headers=headers,
            timeout=30,
        ) as pdf:
            assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
            body = b"".join(pdf.iter_raw())
        assert body.startswith(b"%PDF") and len(PdfReader(io.BytesIO(body)).pages) == 1
        assert int(pdf.headers["content-length"]) == len(body)

        taken = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert taken.returncode == 1
        assert f"port {port} on 127.0.0.1 is already in use" in taken.stderr
        assert "Traceback" not in taken.stderr + taken.stdout
    finally:
        stop(server)
    log = output.read_text()
    assert "Traceback" not in log, log
    access = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(r["service"]["name"] == "hero-foundry-web" for r in access)


def _build_a_character(base: str, headers: dict[str, str]) -> str:
    """A character for the download, built through the web tier."""

    async def make() -> str:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            character, _ = await build_character(client, headers, "human", "fighter")
            return str(character["id"])

    return asyncio.run(make())
