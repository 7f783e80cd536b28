"""HTTP RED metrics from a pure ASGI middleware.

Labels are bounded: ``endpoint`` is the matched route's template
(``/api/characters/{character_id}``), every unmatched path shares ``UNMATCHED_ENDPOINT``,
``method`` is one of the standard methods or ``OTHER``, ``status`` the exact code. Timing uses
``time.perf_counter``; an exception escaping the application is counted as a 500 (the error
handler outside this middleware turns it into that response).

**Cost.** Each request would otherwise make seven lock-protected prometheus_client updates (the
in-flight gauge up and down, the counter, a sum and a bucket for each histogram), which is most of
what an instrumented request costs over a bare one (docs/benchmarks.md). In a single process the
middleware therefore adds to plain Python numbers per label set (a count, sums and bucket counts)
and applies them to the metrics in bulk *when the registry is collected*: every read (``/metrics``,
``generate_latest``, ``get_sample_value``) sees every finished request, exactly. The event loop is
the only writer, so no lock is needed. The in-flight gauge reads a plain count at scrape time.

Two cases keep the per-request updates: several worker processes (prometheus_client's
multiprocess mode, where another worker may answer the scrape, so values must reach the shared
files at once), and tracing (each observation carries its own exemplar).
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hero_foundry.observability.exposition import multiproc_dir
from hero_foundry.observability.metrics import (
    API_RESPONSE_SIZE,
    BEFORE_COLLECT,
    HTTP_BUCKETS,
    HTTP_DURATION,
    HTTP_IN_FLIGHT,
    HTTP_REQUESTS,
    SIZE_BUCKETS,
    UNMATCHED_ENDPOINT,
)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_LABELLED_METHODS = (*sorted(METHODS), "OTHER")

#: (method, endpoint, status) -> [count, duration sum, duration bucket counts, size sum,
#: size bucket counts]; the last bucket of each is +Inf. Bounded like the labels themselves.
Pending = dict[tuple[str, str, int], list[Any]]


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template or UNMATCHED_ENDPOINT


class _Batches:
    """The process's not-yet-applied HTTP observations, shared by every middleware instance."""

    def __init__(self) -> None:
        self.pending: Pending = {}
        #: Requests being processed, by method label: read by the in-flight gauge at scrape time.
        self.in_flight = dict.fromkeys(_LABELLED_METHODS, 0)
        self._installed = False

    def install(self) -> None:
        """Publish the in-flight counts and apply pending batches on every collection (once)."""
        if self._installed:
            return
        self._installed = True
        for method in _LABELLED_METHODS:
            HTTP_IN_FLIGHT.labels(method).set_function(lambda method=method: self.in_flight[method])
        BEFORE_COLLECT.hooks.append(self.apply)

    def apply(self) -> None:
        """Add every pending batch to the prometheus_client metrics and start new batches.

        prometheus_client has no bulk ``observe``: a histogram child's sum and per-bucket values
        (``_sum``, ``_buckets``, each a value with ``inc``) take the batch's totals directly; the
        unit tests check the result against the same observations made one by one.
        """
        pending, self.pending = self.pending, {}
        for (method, endpoint, status), batch in pending.items():
            count, duration_sum, duration_buckets, size_sum, size_buckets = batch
            HTTP_REQUESTS.labels(method, endpoint, str(status)).inc(count)
            for histogram, total, buckets in (
                (HTTP_DURATION, duration_sum, duration_buckets),
                (API_RESPONSE_SIZE, size_sum, size_buckets),
            ):
                child = histogram.labels(method, endpoint)
                child._sum.inc(total)
                for index, observations in enumerate(buckets):
                    if observations:
                        child._buckets[index].inc(observations)


BATCHES = _Batches()


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, trace_id: Callable[[], str | None] | None = None) -> None:
        self.app = app
        #: Returns the current trace id when tracing is on: attached as an exemplar.
        self.trace_id = trace_id
        #: Batched updates (see the module's docstring) unless values must be written at once.
        self.batched = trace_id is None and multiproc_dir() is None
        if self.batched:
            BATCHES.install()
        self._in_flight = {method: HTTP_IN_FLIGHT.labels(method) for method in _LABELLED_METHODS}
        #: (method, endpoint, status) -> the request counter and the two histograms' children,
        #: looked up once per label set (``.labels()`` costs a lock, validation and a tuple).
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

        async def counting_send(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            elif message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        if self.batched:
            in_flight = BATCHES.in_flight
            in_flight[method] += 1
            start = time.perf_counter()
            try:
                await self.app(scope, receive, counting_send)
            except BaseException:
                status = 500
                raise
            finally:
                duration = time.perf_counter() - start
                in_flight[method] -= 1
                key = (method, route_template(scope), status)
                batch = BATCHES.pending.get(key)
                if batch is None:
                    batch = BATCHES.pending[key] = [
                        0,
                        0.0,
                        [0] * (len(HTTP_BUCKETS) + 1),
                        0,
                        [0] * (len(SIZE_BUCKETS) + 1),
                    ]
                batch[0] += 1
                batch[1] += duration
                # The first bucket whose bound is >= the value, as Histogram.observe picks it.
                batch[2][bisect_left(HTTP_BUCKETS, duration)] += 1
                batch[3] += size
                batch[4][bisect_left(SIZE_BUCKETS, size)] += 1
            return

        gauge = self._in_flight[method]
        gauge.inc()
        start = time.perf_counter()
        try:
            await self.app(scope, receive, counting_send)
        except BaseException:
            status = 500
            raise
        finally:
            duration = time.perf_counter() - start
            gauge.dec()
            key = (method, route_template(scope), status)
            children = self._children.get(key)
            if children is None:
                children = self._children[key] = (
                    HTTP_REQUESTS.labels(method, key[1], str(status)),
                    HTTP_DURATION.labels(method, key[1]),
                    API_RESPONSE_SIZE.labels(method, key[1]),
                )
            requests, durations, sizes = children
            requests.inc()
            trace_id = self.trace_id() if self.trace_id else None
            durations.observe(duration, exemplar={"trace_id": trace_id} if trace_id else None)
            sizes.observe(size)
