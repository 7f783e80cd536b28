"""The first try at batching the metrics middleware's updates (benchmark only, not for the service).

Per request it only adds to plain Python numbers (a count, sums and bucket counts found with
bisect, per label set) and applies them to the prometheus_client children in bulk once a second
(``loop.call_later``); the in-flight gauge is set at each flush. Its metrics lag by up to a second,
multiprocess counts cannot be exact and it drops exemplars. The service's middleware (4920254)
keeps its bookkeeping but applies the batches when the registry is read, and keeps per-request
updates for multiprocess mode and tracing (docs/benchmarks.md). Kept to rerun the comparison:

    PYTHONPATH=benchmarks/candidates .venv/bin/python benchmarks/http_overhead.py \
        --variants none,ours --custom deferred_aggregation:MetricsMiddleware
"""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_left
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hero_foundry.observability.metrics import (
    API_RESPONSE_SIZE,
    HTTP_BUCKETS,
    HTTP_DURATION,
    HTTP_IN_FLIGHT,
    HTTP_REQUESTS,
    SIZE_BUCKETS,
)
from hero_foundry.observability.middleware import METHODS, route_template

FLUSH_SECONDS = 1.0


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, trace_id: Callable[[], str | None] | None = None) -> None:
        self.app = app
        self.trace_id = trace_id
        self._gauges = {m: HTTP_IN_FLIGHT.labels(m) for m in (*METHODS, "OTHER")}
        self._in_flight = dict.fromkeys(self._gauges, 0)
        self._pending: dict[tuple[str, str, int], list] = {}
        self._flush_handle: asyncio.TimerHandle | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method not in METHODS:
            method = "OTHER"
        status = 500
        size = 0
        self._in_flight[method] += 1
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
            self._in_flight[method] -= 1
            key = (method, route_template(scope), status)
            pending = self._pending.get(key)
            if pending is None:
                pending = self._pending[key] = [
                    0,
                    0.0,
                    [0] * (len(HTTP_BUCKETS) + 1),
                    0,
                    [0] * (len(SIZE_BUCKETS) + 1),
                ]
            pending[0] += 1
            pending[1] += duration
            pending[2][bisect_left(HTTP_BUCKETS, duration)] += 1
            pending[3] += size
            pending[4][bisect_left(SIZE_BUCKETS, size)] += 1
            if self._flush_handle is None:
                self._flush_handle = asyncio.get_running_loop().call_later(
                    FLUSH_SECONDS, self.flush
                )

    def flush(self) -> None:
        self._flush_handle = None
        pending, self._pending = self._pending, {}
        for (method, endpoint, status), (count, dsum, dbuckets, ssum, sbuckets) in pending.items():
            HTTP_REQUESTS.labels(method, endpoint, str(status)).inc(count)
            for metric, total, buckets in (
                (HTTP_DURATION, dsum, dbuckets),
                (API_RESPONSE_SIZE, ssum, sbuckets),
            ):
                child = metric.labels(method, endpoint)
                child._sum.inc(total)  # private: prometheus_client has no bulk observe
                for index, n in enumerate(buckets):
                    if n:
                        child._buckets[index].inc(n)
        for method, gauge in self._gauges.items():
            gauge.set(self._in_flight[method])
