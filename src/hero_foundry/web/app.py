"""``create_web_app(settings)``: the web tier in front of the api (docs/web-tier.md).

- ``/assets/*``: the bundle's hashed files, cached for a year (``immutable``);
- ``/api`` and ``/api/*``: forwarded to the api (:mod:`hero_foundry.web.proxy`);
- ``/metrics``, ``/healthz``, ``/readyz``: the web tier's own;
- any other GET or HEAD: the file of that name at the bundle's root (``favicon.svg``), or else
  ``index.html`` (the single-page app's fallback, so a reloaded deep link works), both
  revalidated on every use (``no-cache``). A missing path that looks like a file (it has an
  extension: ``/logo.png``) is a 404, not the page: a browser would not run HTML as a script.

Request ids, ECS access logs, the RED metrics and the body limit are the api's own middleware,
in the same order.
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
import posixpath
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from stat import S_ISREG

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.staticfiles import StaticFiles

from hero_foundry import __version__, problems
from hero_foundry.limits import BodySizeLimit
from hero_foundry.observability.exposition import router as metrics_router
from hero_foundry.observability.health import readiness
from hero_foundry.observability.logs import install_request_context
from hero_foundry.observability.middleware import MetricsMiddleware
from hero_foundry.problems import ProblemError, problem_response
from hero_foundry.web.logs import configure_web_logging
from hero_foundry.web.proxy import PROXY_METHODS, ApiProxy
from hero_foundry.web.settings import WebSettings

log = logging.getLogger("hero_foundry.web")

INDEX = "index.html"
ASSETS = "assets"
#: Hashed file names (``app-3f9a1c.js``): a new build gives new names, so a year is safe.
IMMUTABLE = "public, max-age=31536000, immutable"
#: ``index.html`` and unhashed files: the browser revalidates (ETag) before every use.
NO_CACHE = "no-cache"
#: Paths the single-page app's fallback never answers: the web tier's own routes.
RESERVED = frozenset({"/metrics", "/healthz", "/readyz"})
#: Upper bound on each readiness check.
CHECK_TIMEOUT_SECONDS = 2.0
BUILD_HINT = "cd web && npm ci && npm run build"


class Bundle:
    """The built front end on disk, looked up on every request (a rebuild is picked up at once;
    a missing bundle answers 503 until it is built)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        # Starlette's lookup refuses paths that leave the directory (``..``, symbolic links).
        self._files = StaticFiles(directory=directory, check_dir=False)
        self._reported = False

    @property
    def index(self) -> Path:
        return self.directory / INDEX

    def present(self) -> bool:
        if self.index.is_file():
            self._reported = False
            return True
        return False

    async def lookup(self, path: str) -> tuple[str, os.stat_result] | None:
        """The regular file at ``path`` (relative, ``/``-separated) inside the bundle, or None."""
        if not path or "\x00" in path:
            return None
        try:
            full_path, stat = await asyncio.to_thread(self._files.lookup_path, path)
        except (OSError, ValueError):  # a name too long, an invalid path
            return None
        if stat is None or not S_ISREG(stat.st_mode):  # a directory is not a file
            return None
        return full_path, stat

    def response(
        self, found: tuple[str, os.stat_result], request: Request, cache_control: str
    ) -> Response:
        """The file (``304`` when the browser's copy is current), with ``cache_control``."""
        full_path, stat = found
        response = self._files.file_response(full_path, stat, request.scope)
        response.headers["Cache-Control"] = cache_control
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    def missing(self, request: Request) -> Response:
        """503: the bundle was never built (or is being rebuilt); says how to build it."""
        detail = (
            f"The web front end is not built: {self.index} does not exist. Build it with "
            f"`{BUILD_HINT}` (make run does it), or point HERO_FOUNDRY_WEB_DIST_DIR at a built "
            "bundle. The api is still served under /api/."
        )
        if not self._reported:  # once until it is built, not once per request
            self._reported = True
            log.warning("bundle missing: %s (build it with `%s`)", self.index, BUILD_HINT)
        headers = {"Cache-Control": "no-store", "Retry-After": "30"}
        if "text/html" in request.headers.get("accept", ""):
            page = (
                "<!doctype html><html lang=en><meta charset=utf-8>"
                "<title>The Hero Foundry: front end not built</title>"
                "<h1>The web front end is not built yet</h1>"
                f"<p>{html.escape(detail)}</p>"
                f"<pre><code>{html.escape(BUILD_HINT)}</code></pre></html>"
            )
            return HTMLResponse(page, status_code=503, headers=headers)
        return problem_response(
            503,
            "Service Unavailable",
            detail,
            instance=request.url.path,
            headers=headers,
        )


def create_web_app(
    settings: WebSettings | None = None, *, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """The web tier. ``transport`` replaces the network under the api client (tests)."""
    settings = settings or WebSettings()
    configure_web_logging(settings)
    bundle = Bundle(settings.web_dist_path)
    proxy = ApiProxy(
        settings.web_api_url_value,
        timeout=settings.web_proxy_timeout_seconds,
        transport=transport,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await proxy.start()
        try:
            yield
        finally:
            await proxy.close()

    app = FastAPI(
        title="The Hero Foundry (web tier)",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings  # read by /metrics' access rules (the metrics token)
    app.state.bundle = bundle
    app.state.proxy = proxy
    problems.install(app)
    app.include_router(metrics_router)  # the api's /metrics, with the api's access rules

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        checks = {
            "bundle": "ok" if bundle.present() else f"failed: {bundle.index} missing",
            "api": await _api_check(proxy),
        }
        return readiness(request, checks)

    @app.api_route("/api", methods=list(PROXY_METHODS), include_in_schema=False)
    @app.api_route("/api/{path:path}", methods=list(PROXY_METHODS), include_in_schema=False)
    async def forward(request: Request) -> Response:
        return await proxy.forward(request)

    @app.api_route("/assets/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
    async def asset(request: Request, path: str) -> Response:
        if not bundle.present():
            return bundle.missing(request)
        found = await bundle.lookup(f"{ASSETS}/{path}")
        if found is None:
            raise ProblemError(404, f"No such asset: /{ASSETS}/{path}")
        return bundle.response(found, request, IMMUTABLE)

    @app.api_route("/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
    async def page(request: Request, path: str) -> Response:
        if request.url.path in RESERVED:  # HEAD /metrics: only GET is routed there
            raise ProblemError(405, headers={"Allow": "GET"})
        if not bundle.present():
            return bundle.missing(request)
        found = await bundle.lookup(path) if path else None
        if found is not None:
            return bundle.response(found, request, NO_CACHE)
        if posixpath.splitext(path)[1]:  # /logo.png, /app.js.map: a missing file, not a page
            raise ProblemError(404, f"No such file: /{path}")
        index = await bundle.lookup(INDEX)
        if index is None:  # removed since present() (a rebuild in progress)
            return bundle.missing(request)
        return bundle.response(index, request, NO_CACHE)

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware)  # outside the body limit: 413s are counted
    install_request_context(app)  # request ids and the access log around everything
    return app


async def _api_check(proxy: ApiProxy) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            status = await proxy.health()
    except TimeoutError:
        return f"failed: timed out after {CHECK_TIMEOUT_SECONDS:g} s"
    except httpx.HTTPError as exc:
        log.warning("readiness check api failed: %s: %s", type(exc).__name__, exc)
        return f"failed: unreachable ({type(exc).__name__})"
    return "ok" if status == 200 else f"failed: /healthz answered {status}"


def web_app_factory() -> FastAPI:
    """Entry point for ``uvicorn --factory`` (settings from the environment)."""
    return create_web_app(WebSettings())
