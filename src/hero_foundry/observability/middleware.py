"""HTTP RED metrics from a pure ASGI middleware.

Labels are bounded: ``endpoint`` is the matched route's template
(``/api/characters/{character_id}``), every unmatched path shares ``UNMATCHED_ENDPOINT``,
``method`` is one of the standard methods or ``OTHER``, ``status`` the exact code. Timing uses
``time.perf_counter``; an exception escaping the application is counted as a 500 (the error
handler outside this middleware turns it into that response).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hero_foundry.observability.metrics import (
    API_RESPONSE_SIZE,
    HTTP_DURATION,
    HTTP_IN_FLIGHT,
    HTTP_REQUESTS,
    UNMATCHED_ENDPOINT,
)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template or UNMATCHED_ENDPOINT


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, trace_id: Callable[[], str | None] | None = None) -> None:
        self.app = app
        #: Returns the current trace id when tracing is on: attached as an exemplar.
        self.trace_id = trace_id
        self._in_flight = {method: HTTP_IN_FLIGHT.labels(method) for method in (*METHODS, "OTHER")}
        #: (method, endpoint, status) -> the request counter and the two histograms' children.
        #: ``.labels()`` costs a lock, validation and a tuple per call: looked up once per label
        #: set instead (bounded like the labels themselves: routes x methods x statuses).
        self._children: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method not in METHODS:
            method = "OTHER"
        status = 500
        size = 0
        in_flight = self._in_flight[method]
        in_flight.inc()
        start = time.perf_counter()

        async def counting_send(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            elif message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        except BaseException:
            status = 500
            raise
        finally:
            duration = time.perf_counter() - start
            in_flight.dec()
            endpoint = route_template(scope)
            key = (method, endpoint, status)
            children = self._children.get(key)
            if children is None:
                children = self._children[key] = (
                    HTTP_REQUESTS.labels(method, endpoint, str(status)),
                    HTTP_DURATION.labels(method, endpoint),
                    API_RESPONSE_SIZE.labels(method, endpoint),
                )
            requests, durations, sizes = children
            requests.inc()
            trace_id = self.trace_id() if self.trace_id else None
            durations.observe(duration, exemplar={"trace_id": trace_id} if trace_id else None)
            sizes.observe(size)
