"""Liveness and readiness.

- ``GET /healthz``: the process answers (a liveness probe restarts it when it stops answering).
- ``GET /readyz``: the database and Redis (when configured) are reachable, each check bounded by
  :data:`CHECK_TIMEOUT_SECONDS` so readiness never hangs. 200 when all pass; otherwise a 503
  problem document whose ``checks`` name each failed dependency and why. The answer gives only
  the kind of failure; the full error goes to the log (with the request id).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from hero_foundry.problems import PROBLEM_JSON

#: Upper bound on each readiness check (they run concurrently).
CHECK_TIMEOUT_SECONDS = 2.0
OK = "ok"
NOT_CONFIGURED = "not configured"

log = logging.getLogger("hero_foundry.health")
router = APIRouter(tags=["health"])


class CheckFailed(Exception):
    """A readiness check's failure, with the reason given to the client."""


async def _database(request: Request) -> str:
    engine = getattr(request.app.state, "engine", None)
    if engine is None:
        raise CheckFailed("not started")
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    return OK


async def _redis(request: Request) -> str:
    ping = getattr(getattr(request.app.state, "cache", None), "ping", None)
    if ping is None:  # the in-process cache (or none): nothing external to reach
        return NOT_CONFIGURED
    if not await ping():
        raise CheckFailed("no PONG")
    return OK


CHECKS: dict[str, Callable[[Request], Awaitable[str]]] = {"database": _database, "redis": _redis}


async def _run(name: str, check: Callable[[Request], Awaitable[str]], request: Request) -> str:
    """``ok`` / ``not configured``, or ``failed: <reason>`` (never raises)."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            return await check(request)
    except TimeoutError:
        reason, detail = f"timed out after {CHECK_TIMEOUT_SECONDS:g} s", ""
    except CheckFailed as exc:
        reason, detail = str(exc), ""
    except Exception as exc:  # refused, auth failed, ...: only the log gets the message
        reason, detail = f"unreachable ({type(exc).__name__})", f": {exc}"
    log.warning("readiness check %s failed: %s%s", name, reason, detail)
    return f"failed: {reason}"


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: the database and Redis are reachable",
    responses={503: {"description": "A dependency is unreachable; `checks` names it"}},
)
async def readyz(request: Request) -> JSONResponse:
    results = await asyncio.gather(*(_run(name, c, request) for name, c in CHECKS.items()))
    return readiness(request, dict(zip(CHECKS, results, strict=True)))


def readiness(request: Request, checks: dict[str, str]) -> JSONResponse:
    """The readiness answer for ``checks`` (name -> ``ok``, ``not configured`` or ``failed: why``):
    200 unless one failed, else a 503 problem naming the failed ones (the api's and the web tier's
    ``/readyz``)."""
    failed = [name for name, result in checks.items() if result.startswith("failed")]
    if not failed:
        return JSONResponse({"status": "ready", "checks": checks})
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "Not ready: " + "; ".join(f"{name} {checks[name]}" for name in failed),
        "instance": request.url.path,
        "checks": checks,
    }
    return JSONResponse(body, status_code=503, media_type=PROBLEM_JSON)
