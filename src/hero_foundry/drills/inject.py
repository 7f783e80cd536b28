"""Where the drills act: a middleware for errors and latency, hooks for the app's code.

:class:`DrillMiddleware` (installed only with ``drills_enabled``, inside the metrics middleware
so that what it injects is measured like real faults) handles every ``/api/*`` request:

- ``latency_seconds``: ``asyncio.sleep`` before the request is handled;
- ``error_rate``: that share of requests is answered with a 500 problem
  ("drill: injected error") instead of being handled. The route is matched first, so the
  metrics and the access log name the endpoint as for a real 500.

It also makes the request's drills available to the code it calls (a context variable), where
three hooks read them: :func:`ai_failing` (assistant.service), :func:`wizard_clock_offset`
(characters.service.finalize) and :func:`level_up_clock_offset` (levelling.service.commit).
Without the middleware (drills disabled) the hooks see no drill, at the cost of one context
variable lookup, and the drill file is never read.

Every injected fault is logged (``event.action`` "drill", ``labels.drill`` its kind) at most
once per second per kind and process; the records say how many were not logged in between.
``/metrics``, ``/healthz`` and ``/readyz`` are never touched.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Sequence
from contextvars import ContextVar

import fastapi.routing
from starlette.routing import BaseRoute, Match, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from hero_foundry.drills.state import EVENT, NO_DRILLS, DrillFile, Drills, publish
from hero_foundry.problems import send_problem

log = logging.getLogger("hero_foundry.drills")

#: The body of an injected error's problem document.
INJECTED_ERROR = "drill: injected error"
#: Seconds between two log records of the same kind of injected fault, at least.
LOG_INTERVAL = 1.0

_drills: ContextVar[Drills] = ContextVar("hero_foundry_drills", default=NO_DRILLS)


def current() -> Drills:
    """The drills in force for the running request (none outside one, or when disabled)."""
    return _drills.get()


class _Reporter:
    """Logs injected faults, at most one record per kind every ``LOG_INTERVAL`` seconds."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._unlogged: dict[str, int] = {}

    def __call__(self, kind: str, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last.get(kind, -math.inf) < LOG_INTERVAL:
            self._unlogged[kind] = self._unlogged.get(kind, 0) + 1
            return
        self._last[kind] = now
        unlogged = self._unlogged.pop(kind, 0)
        suffix = f" ({unlogged} more not logged in the last second)" if unlogged else ""
        log.warning(
            "drill %s: " + message + suffix, kind, *args, extra=EVENT | {"labels.drill": kind}
        )


injected = _Reporter()


# -- Hooks for the app's code ---------------------------------------------------------------


def ai_failing() -> bool:
    """True when the assistant's provider must fail (drill ``ai_failing``)."""
    if _drills.get().ai_failing:
        injected("ai_failing", "the assistant's provider call fails")
        return True
    return False


def wizard_clock_offset() -> float:
    """Seconds to add to the creation wizard's measured time (drill
    ``wizard_clock_offset_seconds``)."""
    offset = _drills.get().wizard_clock_offset_seconds
    if offset:
        injected("wizard_clock_offset_seconds", "the wizard's time is %g s longer", offset)
    return offset


def level_up_clock_offset() -> float:
    """Seconds to add to a level-up's measured time (drill ``level_up_clock_offset_seconds``)."""
    offset = _drills.get().level_up_clock_offset_seconds
    if offset:
        injected("level_up_clock_offset_seconds", "the level-up's time is %g s longer", offset)
    return offset


# -- The middleware -------------------------------------------------------------------------


def _in_scope(path: str) -> bool:
    return path.startswith("/api/") or path == "/api"


class DrillMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        drills: DrillFile,
        router: Router | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.app = app
        self.drills = drills
        #: Matched against an injected error's request, so its metrics name the endpoint.
        self.router = router
        self.rng = rng or random.Random()
        self._routes: list[BaseRoute] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _in_scope(scope["path"]):
            if scope["type"] == "http" and scope["path"] == "/metrics":
                # The worker answering the scrape writes drill_active last (see metrics.py).
                publish(self.drills.current())
            await self.app(scope, receive, send)
            return
        drills = self.drills.current()
        if drills == NO_DRILLS:
            await self.app(scope, receive, send)
            return
        token = _drills.set(drills)
        try:
            if drills.latency_seconds > 0:
                injected(
                    "latency_seconds", "%g s added to %s", drills.latency_seconds, scope["path"]
                )
                await asyncio.sleep(drills.latency_seconds)
            if drills.error_rate > 0 and self.rng.random() < drills.error_rate:
                self._match_route(scope)
                injected("error_rate", "500 answered to %s %s", scope["method"], scope["path"])
                await send_problem(
                    send, 500, "Internal Server Error", INJECTED_ERROR, scope["path"]
                )
                return
            await self.app(scope, receive, send)
        finally:
            _drills.reset(token)

    def _match_route(self, scope: Scope) -> None:
        """Record the route the request would have reached in ``scope``, as the router does."""
        if self.router is None:
            return
        if self._routes is None:  # the routes are final once the app serves
            self._routes = flat_routes(self.router.routes)
        partial = None
        for route in self._routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                scope["route"] = route
                return
            if match is Match.PARTIAL and partial is None:
                partial = route
        if partial is not None:
            scope["route"] = partial


def flat_routes(routes: Sequence[BaseRoute]) -> list[BaseRoute]:
    """Every route with its full path. Recent FastAPI versions keep included routers nested
    (``iter_route_contexts`` walks them); before, ``app.routes`` was already flat."""
    walk = getattr(fastapi.routing, "iter_route_contexts", None)
    if walk is None:
        return list(routes)
    return [context.original_route for context in walk(routes)]
