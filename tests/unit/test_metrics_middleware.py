"""The metrics middleware's batched updates give exactly what per-request updates give."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, Histogram
from prometheus_client.utils import floatToGoString
from starlette.routing import Route

from hero_foundry.observability import middleware
from hero_foundry.observability.metrics import HTTP_BUCKETS, SIZE_BUCKETS
from hero_foundry.observability.middleware import MetricsMiddleware

ROUTE = Route("/unit/batched/{item_id}", lambda request: None)
ENDPOINT = "/unit/batched/{item_id}"
#: Durations on, between and beyond the bucket bounds, and sizes likewise.
DURATIONS = [0.0, 0.005, 0.0051, 0.3, 2.0, 2.0000001, 9.99, 10.0, 42.0, 0.75]
SIZES = [0, 100, 101, 999, 1_000, 50_000, 2_000_000, 5, 100_000, 500_001]


def app_sending(sizes: list[int], statuses: list[int]):
    sizes_iter, statuses_iter = iter(sizes), iter(statuses)

    async def app(scope, receive, send) -> None:
        scope["route"] = ROUTE
        await send({"type": "http.response.start", "status": next(statuses_iter), "headers": []})
        await send({"type": "http.response.body", "body": b"x" * next(sizes_iter)})

    return app


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_batched_updates_equal_one_by_one_observations(monkeypatch: pytest.MonkeyPatch) -> None:
    statuses = [200, 200, 404, 200, 500, 200, 200, 404, 200, 200]
    # perf_counter is read twice per request: at the start and at the end.
    clock = itertools.chain.from_iterable((100.0, 100.0 + d) for d in DURATIONS)
    monkeypatch.setattr(middleware.time, "perf_counter", lambda: next(clock))
    metrics = MetricsMiddleware(app_sending(SIZES, statuses))
    assert metrics.batched

    def snapshot() -> dict[str, float]:
        values = {}
        for bound in [*HTTP_BUCKETS, float("inf")]:
            le = floatToGoString(bound)
            values[f"d{le}"] = sample(
                "http_request_duration_seconds_bucket", method="GET", endpoint=ENDPOINT, le=le
            )
        for bound in [*SIZE_BUCKETS, float("inf")]:
            le = floatToGoString(bound)
            values[f"s{le}"] = sample(
                "api_response_size_bytes_bucket", method="GET", endpoint=ENDPOINT, le=le
            )
        values["dsum"] = sample(
            "http_request_duration_seconds_sum", method="GET", endpoint=ENDPOINT
        )
        values["ssum"] = sample("api_response_size_bytes_sum", method="GET", endpoint=ENDPOINT)
        for status in ("200", "404", "500"):
            values[status] = sample(
                "http_requests_total", method="GET", endpoint=ENDPOINT, status=status
            )
        return values

    before = snapshot()

    async def run() -> None:
        for _ in DURATIONS:
            await metrics({"type": "http", "method": "GET"}, None, _discard)

    asyncio.run(run())
    after = snapshot()
    delta = {key: after[key] - before[key] for key in after}

    # The same observations made one by one with prometheus_client's own Histogram.observe.
    reference = CollectorRegistry()
    durations = Histogram("d", "d", buckets=HTTP_BUCKETS, registry=reference)
    sizes = Histogram("s", "s", buckets=SIZE_BUCKETS, registry=reference)
    for duration, size in zip(DURATIONS, SIZES, strict=True):
        durations.observe(duration)
        sizes.observe(size)
    for key in delta:
        if key.startswith(("d", "s")) and key not in ("dsum", "ssum"):
            name = ("d" if key[0] == "d" else "s") + "_bucket"
            expected = reference.get_sample_value(name, {"le": key[1:]})
            assert delta[key] == expected, key
    assert delta["dsum"] == pytest.approx(sum(DURATIONS))
    assert delta["ssum"] == sum(SIZES)
    assert (delta["200"], delta["404"], delta["500"]) == (7, 2, 1)


async def _discard(message) -> None:
    return None


def test_in_flight_requests_are_read_at_scrape_time() -> None:
    seen: list[float] = []

    async def app(scope, receive, send) -> None:
        scope["route"] = ROUTE
        seen.append(sample("http_requests_in_progress", method="PATCH"))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    metrics = MetricsMiddleware(app)
    before = sample("http_requests_in_progress", method="PATCH")
    asyncio.run(metrics({"type": "http", "method": "PATCH"}, None, _discard))
    assert seen == [before + 1]
    assert sample("http_requests_in_progress", method="PATCH") == before


def test_tracing_keeps_per_request_updates_for_exemplars() -> None:
    assert not MetricsMiddleware(app_sending([], []), trace_id=lambda: "abc").batched
