"""Browser telemetry, POST /api/metrics: allow-listed, bounded, capped, rate-limited, no 500s."""

from __future__ import annotations

import json
import logging
import math
import random
import string
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from hero_foundry.app import create_app
from hero_foundry.observability.telemetry import (
    PAGE_NAMES,
    PATH,
    REJECT_REASONS,
    USER_TYPES,
    WEB_VITALS,
    WIZARD_STEPS,
    RateLimiter,
    client_key,
)
from tests.conftest import make_settings

#: Every metric the browser can reach, and the allowed values of each of its labels.
TELEMETRY_FAMILIES = {
    "page_views": {"page_name": set(PAGE_NAMES), "user_type": set(USER_TYPES)},
    "frontend_character_creation_duration_seconds": {},
    "frontend_wizard_step_duration_seconds": {"step": set(WIZARD_STEPS)},
    "frontend_web_vitals_seconds": {"metric": set(WEB_VITALS), "page_name": set(PAGE_NAMES)},
    "frontend_cumulative_layout_shift": {"page_name": set(PAGE_NAMES)},
    "frontend_errors": {"page_name": set(PAGE_NAMES)},
    "telemetry_events_rejected": {"reason": set(REJECT_REASONS)},
}
REMOTE = "203.0.113.7"
EXPOSITION = "# HELP x\n# TYPE x counter\nx 1\n"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def rejected(reason: str) -> float:
    return value("telemetry_events_rejected_total", reason=reason)


def telemetry_series() -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    """Every (sample name, labels) of the telemetry metrics, "le" aside."""
    found = set()
    for family in REGISTRY.collect():
        if family.name in TELEMETRY_FAMILIES:
            for sample in family.samples:
                labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
                found.add((sample.name, labels))
    return found


def label_values(family_name: str, label: str) -> set[str]:
    return {
        sample.labels[label]
        for family in REGISTRY.collect()
        if family.name == family_name
        for sample in family.samples
        if label in sample.labels
    }


@asynccontextmanager
async def running_app(database_url: str, **overrides: Any) -> AsyncIterator[FastAPI]:
    """The app (its telemetry router included by create_app), lifespan on."""
    app = create_app(make_settings(database_url, **overrides))
    async with app.router.lifespan_context(app):
        yield app


def http(app: FastAPI, ip: str = REMOTE) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


@pytest.fixture
async def telemetry_app(database_url: str) -> AsyncIterator[FastAPI]:
    """An app on each backend, with default telemetry settings (its own rate limiter)."""
    async with running_app(database_url) as app:
        yield app


@pytest.fixture
async def browser(telemetry_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A remote, anonymous client (not loopback: /metrics would refuse it)."""
    async with http(telemetry_app) as client:
        yield client


async def post(client: httpx.AsyncClient, *events: dict[str, Any]) -> dict[str, int]:
    body = json.dumps({"events": list(events)})  # ASCII: lone surrogates travel escaped
    r = await client.post(PATH, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 202, r.text
    return r.json()


# -- What the browser reports lands in the right series, in the right units -------------------


async def test_page_views_count_allowed_pages_and_fold_unknown_ones_into_other(
    browser: httpx.AsyncClient,
) -> None:
    home = value("page_views_total", page_name="home", user_type="anonymous")
    sheet = value("page_views_total", page_name="character-sheet", user_type="registered")
    other = value("page_views_total", page_name="other", user_type="anonymous")

    result = await post(
        browser,
        {"type": "page_view", "page": "home"},  # user_type defaults to anonymous
        {"type": "page_view", "page": "home", "user_type": "anonymous"},
        {"type": "page_view", "page": "character-sheet", "user_type": "registered"},
        {"type": "page_view", "page": "/characters/123e4567-e89b-12d3-a456-426614174000"},
        {"type": "page_view", "page": 'evil"} 1\n# TYPE pwned counter'},
        {"type": "page_view", "page": "Home"},  # names are exact
    )

    assert result == {"accepted": 6, "rejected": 0}
    assert value("page_views_total", page_name="home", user_type="anonymous") == home + 2
    assert (
        value("page_views_total", page_name="character-sheet", user_type="registered") == sheet + 1
    )
    assert value("page_views_total", page_name="other", user_type="anonymous") == other + 3
    assert label_values("page_views", "page_name") <= set(PAGE_NAMES)


async def test_sendbeacon_bodies_are_accepted_without_a_login(browser: httpx.AsyncClient) -> None:
    """navigator.sendBeacon(url, string) sends text/plain;charset=UTF-8 and no Authorization;
    a Blob without a type sends no Content-Type; a bare array of events is accepted too."""
    before = value("page_views_total", page_name="rules-search", user_type="anonymous")
    event = {"type": "page_view", "page": "rules-search"}
    beacon = await browser.post(
        PATH,
        content=json.dumps({"events": [event]}),
        headers={"Content-Type": "text/plain;charset=UTF-8"},
    )
    untyped = await browser.post(PATH, content=json.dumps([event]).encode())
    typed = await browser.post(
        PATH, json=[event], headers={"Authorization": "Bearer not-a-real-token"}
    )
    assert [r.status_code for r in (beacon, untyped, typed)] == [202, 202, 202]
    assert value("page_views_total", page_name="rules-search", user_type="anonymous") == before + 3


async def test_web_vitals_arrive_in_milliseconds_and_are_stored_in_seconds(
    browser: httpx.AsyncClient,
) -> None:
    def vital(suffix: str, **labels: str) -> float:
        return value(f"frontend_web_vitals_seconds{suffix}", **labels)

    lcp = {"metric": "LCP", "page_name": "wizard-race"}
    ttfb = {"metric": "TTFB", "page_name": "other"}
    cls = {"page_name": "wizard-race"}
    before = {
        "lcp_sum": vital("_sum", **lcp),
        "lcp_2.5": vital("_bucket", le="2.5", **lcp),
        "lcp_1.8": vital("_bucket", le="1.8", **lcp),
        "ttfb_sum": vital("_sum", **ttfb),
        "ttfb_0.1": vital("_bucket", le="0.1", **ttfb),
        "cls_sum": value("frontend_cumulative_layout_shift_sum", **cls),
        "cls_0.15": value("frontend_cumulative_layout_shift_bucket", le="0.15", **cls),
        "cls_0.1": value("frontend_cumulative_layout_shift_bucket", le="0.1", **cls),
    }

    # What web-vitals' onLCP/onTTFB/onCLS hand over (extra fields are ignored).
    result = await post(
        browser,
        {"type": "web_vital", "name": "LCP", "value": 2400, "page": "wizard-race", "id": "v4-1"},
        {"type": "web_vital", "name": "TTFB", "value": 80, "page": "no-such-page"},
        {"type": "web_vital", "name": "CLS", "value": 0.12, "page": "wizard-race", "delta": 0.1},
    )

    assert result == {"accepted": 3, "rejected": 0}
    assert vital("_sum", **lcp) == pytest.approx(before["lcp_sum"] + 2.4)
    assert vital("_bucket", le="2.5", **lcp) == before["lcp_2.5"] + 1
    assert vital("_bucket", le="1.8", **lcp) == before["lcp_1.8"]
    assert vital("_sum", **ttfb) == pytest.approx(before["ttfb_sum"] + 0.08)
    assert vital("_bucket", le="0.1", **ttfb) == before["ttfb_0.1"] + 1
    assert value("frontend_cumulative_layout_shift_sum", **cls) == pytest.approx(
        before["cls_sum"] + 0.12
    )
    assert value("frontend_cumulative_layout_shift_bucket", le="0.15", **cls) == (
        before["cls_0.15"] + 1
    )
    assert value("frontend_cumulative_layout_shift_bucket", le="0.1", **cls) == before["cls_0.1"]


async def test_wizard_timings_land_in_the_frontend_histograms(browser: httpx.AsyncClient) -> None:
    step = "frontend_wizard_step_duration_seconds"
    creation = "frontend_character_creation_duration_seconds"
    before = {
        "step_60": value(f"{step}_bucket", step="race", le="60.0"),
        "step_30": value(f"{step}_bucket", step="race", le="30.0"),
        "step_sum": value(f"{step}_sum", step="race"),
        "creation_480": value(f"{creation}_bucket", le="480.0"),
        "creation_360": value(f"{creation}_bucket", le="360.0"),
        "server_count": value("character_creation_duration_seconds_count"),
    }

    result = await post(
        browser,
        {"type": "wizard_step", "step": "race", "seconds": 42},
        {"type": "wizard_complete", "seconds": 400.5},
    )

    assert result == {"accepted": 2, "rejected": 0}
    assert value(f"{step}_bucket", step="race", le="60.0") == before["step_60"] + 1
    assert value(f"{step}_bucket", step="race", le="30.0") == before["step_30"]
    assert value(f"{step}_sum", step="race") == before["step_sum"] + 42
    assert value(f"{creation}_bucket", le="480.0") == before["creation_480"] + 1
    assert value(f"{creation}_bucket", le="360.0") == before["creation_360"]
    # The browser's view never feeds the server's own measurement.
    assert value("character_creation_duration_seconds_count") == before["server_count"]


async def test_javascript_errors_are_counted_and_their_message_is_only_logged(
    browser: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    before = value("frontend_errors_total", page_name="character-sheet")
    message = "TypeError: x is undefined\n\x1b[31mforged log line\ud800" + "A" * 5000
    with caplog.at_level("INFO", logger="hero_foundry.telemetry"):
        result = await post(
            browser,
            {"type": "js_error", "page": "character-sheet", "message": message},
            {"type": "js_error", "page": "character-sheet"},
        )
    assert result == {"accepted": 2, "rejected": 0}
    assert value("frontend_errors_total", page_name="character-sheet") == before + 2
    records = [r for r in caplog.records if r.name == "hero_foundry.telemetry"]
    assert len(records) == 1  # one record per request at most
    logged = records[0].getMessage()
    assert "TypeError: x is undefined" in logged
    assert "\n" not in logged and "\x1b" not in logged and "\ud800" not in logged
    assert len(logged) < 300


async def test_bad_events_are_dropped_and_counted_while_good_ones_apply(
    browser: httpx.AsyncClient,
) -> None:
    reasons = {reason: rejected(reason) for reason in REJECT_REASONS}
    views = value("page_views_total", page_name="assistant", user_type="registered")
    events: list[Any] = [
        {"type": "page_view", "page": "assistant", "user_type": "registered"},  # good
        {"type": "page_view", "page": "assistant", "user_type": "registered"},  # good
        {"type": "purchase", "amount": 10},  # unknown_type
        {"type": ["page_view"]},  # unknown_type
        {"page": "home"},  # invalid: no type
        "page_view",  # invalid: not an object
        None,  # invalid
        {"type": "page_view", "page": 42},  # invalid
        {"type": "page_view", "page": "home", "user_type": "admin"},  # invalid
        {"type": "wizard_step", "step": "shopping", "seconds": 3},  # invalid
        {"type": "wizard_step", "step": "race", "seconds": "3"},  # invalid: strings aren't numbers
        {"type": "wizard_step", "step": "race", "seconds": True},  # invalid
        {"type": "web_vital", "name": "FID", "value": 3, "page": "home"},  # invalid
        {"type": "js_error", "page": "home", "message": {"nested": [1, 2]}},  # invalid
        {"type": "wizard_step", "step": "race", "seconds": -1},  # out_of_range
        {"type": "wizard_complete", "seconds": 86_400 * 365},  # out_of_range
        {"type": "wizard_complete", "seconds": 10**400},  # out_of_range
        {"type": "web_vital", "name": "CLS", "value": 50, "page": "home"},  # out_of_range
        {"type": "web_vital", "name": "LCP", "value": 1e12, "page": "home"},  # out_of_range
        {"type": "web_vital", "name": "INP", "value": -5, "page": "home"},  # out_of_range
    ]
    # NaN and Infinity are not JSON, but Python's json module (and hand-made encoders) write
    # them, and Python's decoder reads them.
    events += [
        {"type": "wizard_complete", "seconds": math.nan},  # out_of_range
        {"type": "web_vital", "name": "TTFB", "value": math.inf, "page": "home"},  # out_of_range
    ]
    body = json.dumps({"events": events})
    assert "NaN" in body and "Infinity" in body
    r = await browser.post(PATH, content=body, headers={"Content-Type": "application/json"})

    assert r.status_code == 202, r.text
    assert r.json() == {"accepted": 2, "rejected": 20}
    assert value("page_views_total", page_name="assistant", user_type="registered") == views + 2
    delta = {reason: rejected(reason) - reasons[reason] for reason in REJECT_REASONS}
    assert delta == {
        "unknown_type": 2,
        "invalid": 10,
        "out_of_range": 8,
        "rate_limited": 0,
        "body_too_large": 0,
        "unsupported_media_type": 0,
        "malformed_body": 0,
        "too_many_events": 0,
    }


# -- Whole requests refused ------------------------------------------------------------------


async def test_prometheus_exposition_text_is_refused_and_creates_no_series(
    telemetry_app: FastAPI, browser: httpx.AsyncClient
) -> None:
    series = telemetry_series()
    injected = 'evil_injected_total{page_name="pwned"} 1\n'
    attempts = [
        # What the customer's sendMetrics() posts: prom-client's register.metrics().
        (EXPOSITION, "text/plain"),
        (EXPOSITION + injected, "text/plain; version=0.0.4; charset=utf-8"),
        (EXPOSITION, "application/openmetrics-text; version=1.0.0"),
        (EXPOSITION, "application/json"),
        (injected, "text/plain"),  # no comment lines: simply not JSON
        (injected, None),
    ]
    for body, content_type in attempts:
        headers = {"Content-Type": content_type} if content_type else {}
        r = await browser.post(PATH, content=body, headers=headers)
        assert r.status_code in (415, 422), (content_type, r.status_code, r.text)
        assert r.headers["content-type"] == "application/problem+json"

    assert telemetry_series() == series
    assert "evil_injected" not in {family.name for family in REGISTRY.collect()}
    async with http(telemetry_app, "127.0.0.1") as local:
        scraped = (await local.get("/metrics")).text
    assert "evil_injected" not in scraped and "pwned" not in scraped
    assert not any(line.startswith("x ") for line in scraped.splitlines())


async def test_other_media_types_are_refused(browser: httpx.AsyncClient) -> None:
    before = rejected("unsupported_media_type")
    form = await browser.post(PATH, data={"events": "[]"})
    upload = await browser.post(PATH, files={"events": ("e.json", b"[]", "application/json")})
    xml = await browser.post(PATH, content=b"<events/>", headers={"Content-Type": "text/xml"})
    assert [r.status_code for r in (form, upload, xml)] == [415, 415, 415]
    assert rejected("unsupported_media_type") == before + 3


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"null",
        b"42",
        b'"events"',
        b"{}",
        b'{"events": {"type": "page_view"}}',
        b'{"events": [{"type": "page_view", "page": "home"}',  # truncated
        b"\xff\xfe\x00garbage",  # not UTF-8
        b"[" * 5000 + b"]" * 5000,  # nested too deep for the decoder
        b'{"events": [' + b"9" * 5000 + b"]}",  # an integer too long to convert
    ],
    ids=lambda body: repr(body[:24]),
)
async def test_bodies_that_are_not_events_get_a_422(
    browser: httpx.AsyncClient, body: bytes
) -> None:
    r = await browser.post(PATH, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"


async def test_a_body_over_the_cap_gets_a_413_without_applying_anything(
    database_url: str,
) -> None:
    async with running_app(database_url, telemetry_max_body_bytes=1024) as app, http(app) as c:
        before = value("page_views_total", page_name="export", user_type="anonymous")
        too_big = rejected("body_too_large")
        events = [{"type": "page_view", "page": "export"}] * 40  # about 1.4 kB
        declared = await c.post(PATH, json={"events": events})

        async def stream() -> AsyncIterator[bytes]:  # chunked: no Content-Length to trust
            payload = json.dumps({"events": events}).encode()
            for start in range(0, len(payload), 100):
                yield payload[start : start + 100]

        streamed = await c.post(PATH, content=stream(), headers={"Content-Type": "text/plain"})
        fits = await c.post(PATH, json={"events": events[:5]})

    assert declared.status_code == 413, declared.text
    assert streamed.status_code == 413, streamed.text
    assert fits.status_code == 202
    assert value("page_views_total", page_name="export", user_type="anonymous") == before + 5
    assert rejected("body_too_large") == too_big + 2


async def test_too_many_events_get_a_413_without_applying_any(database_url: str) -> None:
    async with running_app(database_url, telemetry_max_events=5) as app, http(app) as c:
        before = value("page_views_total", page_name="import", user_type="anonymous")
        events = [{"type": "page_view", "page": "import"}] * 6
        r = await c.post(PATH, json={"events": events})
        assert r.status_code == 413, r.text
        assert "At most 5 events" in r.json()["detail"]
        assert value("page_views_total", page_name="import", user_type="anonymous") == before
        assert (await c.post(PATH, json={"events": events[:5]})).status_code == 202
        assert value("page_views_total", page_name="import", user_type="anonymous") == before + 5


async def test_each_client_is_rate_limited_with_a_retry_after(database_url: str) -> None:
    event = {"events": [{"type": "page_view", "page": "home"}]}
    async with running_app(database_url, telemetry_rate_per_minute=3) as app:
        before = rejected("rate_limited")
        async with http(app, "198.51.100.1") as first, http(app, "198.51.100.2") as second:
            statuses = [(await first.post(PATH, json=event)).status_code for _ in range(3)]
            limited = await first.post(PATH, json=event)
            other_client = await second.post(PATH, json=event)
        # IPv6 clients are limited by /64: one subscriber's addresses share a bucket.
        async with http(app, "2001:db8:1:2::1") as a, http(app, "2001:db8:1:2::ffff") as b:
            v6 = [(await a.post(PATH, json=event)).status_code for _ in range(2)]
            v6.append((await b.post(PATH, json=event)).status_code)
            v6.append((await b.post(PATH, json=event)).status_code)

    assert statuses == [202, 202, 202]
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/problem+json"
    retry_after = int(limited.headers["retry-after"])
    assert 1 <= retry_after <= 60  # 3 a minute: a token every 20 s
    assert other_client.status_code == 202
    assert v6 == [202, 202, 202, 429]
    assert rejected("rate_limited") == before + 2


def test_the_rate_limiter_refills_and_keeps_bounded_memory() -> None:
    now = [1000.0]
    limiter = RateLimiter(60, max_clients=100, clock=lambda: now[0])  # one a second, burst 60
    assert all(limiter.acquire("a") == 0 for _ in range(60))
    assert limiter.acquire("a") == pytest.approx(1.0)
    now[0] += 2.5
    assert limiter.acquire("a") == 0 and limiter.acquire("a") == 0
    assert limiter.acquire("a") > 0

    for n in range(10_000):
        limiter.acquire(f"10.0.{n // 256}.{n % 256}")
    assert len(limiter) == 100
    assert limiter.acquire("a") == 0  # evicted long ago: starts again with a full bucket


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        (None, "unknown"),
        ("testclient", "testclient"),
    ],
)
def test_client_keys(host: str | None, key: str) -> None:
    assert client_key(host) == key


# -- Fuzz: 10,000 random page names plus garbage ---------------------------------------------


def _random_text(rng: random.Random, longest: int = 40) -> str:
    alphabet = string.printable + "éü€😀\u202e\x00{}\"'\\=#"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, longest)))


def _garbage_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 1, 2**53, -(2**63), 10**30, 42])
    if kind == 3:
        return rng.choice([0.5, -0.0, 1e308, -1e-308, 3.14159, 1e20])
    if kind == 4:
        return _random_text(rng, 30)
    if kind == 5:
        return rng.choice(["page_view", "web_vital", "LCP", "CLS", "home", "race"])
    if kind == 6:
        return [_garbage_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    keys = ["type", "page", "name", "value", "seconds", "step", "user_type", "message"]
    return {
        rng.choice([*keys, _random_text(rng, 8)]): _garbage_value(rng, depth + 1)
        for _ in range(rng.randint(0, 4))
    }


def _garbage_event(rng: random.Random) -> Any:
    kind = rng.randrange(4)
    if kind == 0:  # a random type, random fields
        fields = _garbage_value(rng, 2)
        return {**(fields if isinstance(fields, dict) else {}), "type": _random_text(rng, 12)}
    if kind == 1:  # a known type with random field values
        event_type = rng.choice(
            ["page_view", "wizard_step", "wizard_complete", "web_vital", "js_error"]
        )
        return {
            "type": event_type,
            **{
                field: _garbage_value(rng, 1)
                for field in ["page", "name", "value", "seconds", "step", "user_type", "message"]
                if rng.random() < 0.6
            },
        }
    if kind == 2:  # plausible but with random pages: they must fold into "other"
        return rng.choice(
            [
                {"type": "web_vital", "name": rng.choice(WEB_VITALS), "value": rng.random() * 5}
                | {"page": _random_text(rng)},
                {"type": "js_error", "page": _random_text(rng), "message": _random_text(rng)},
            ]
        )
    return _garbage_value(rng)


def _garbage_bodies(rng: random.Random) -> Iterator[tuple[bytes, str | None]]:
    yield EXPOSITION.encode(), "text/plain"
    yield b'page_views_total{page_name="x"} 1e9', "text/plain"
    for _ in range(40):
        raw = bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
        yield raw, rng.choice(["application/json", "text/plain", None, "image/png"])
        text = json.dumps({"events": [_garbage_event(rng) for _ in range(5)]})
        yield text[: rng.randint(0, len(text))].encode(), "application/json"  # truncated
        yield json.dumps(_garbage_value(rng)).encode(), "text/plain;charset=UTF-8"


async def test_ten_thousand_random_page_names_plus_garbage_keep_the_series_bounded(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    rng = random.Random(20250127)
    cap_bytes, cap_events = 16 * 1024, 50
    names = [_random_text(rng) for _ in range(10_000)]
    for i in range(0, len(names), 97):  # a few real pages among them
        names[i] = rng.choice(PAGE_NAMES)
    expected: dict[str, int] = {}
    for name in names:
        page = name if name in PAGE_NAMES else "other"
        expected[page] = expected.get(page, 0) + 1
    before = {
        page: sum(value("page_views_total", page_name=page, user_type=u) for u in USER_TYPES)
        for page in expected
    }
    statuses: list[int] = []
    accepted = 0

    async with (
        running_app(
            database_url,
            telemetry_rate_per_minute=100_000,
            telemetry_max_body_bytes=cap_bytes,
            telemetry_max_events=cap_events,
        ) as app,
        http(app) as c,
    ):
        for start in range(0, len(names), 40):
            events: list[Any] = [
                {"type": "page_view", "page": name, "user_type": rng.choice(USER_TYPES)}
                for name in names[start : start + 40]
            ]
            events += [_garbage_event(rng) for _ in range(cap_events - len(events))]
            rng.shuffle(events)
            body = json.dumps({"events": events})
            assert len(body.encode()) <= cap_bytes
            r = await c.post(PATH, content=body, headers={"Content-Type": "application/json"})
            statuses.append(r.status_code)
            assert r.status_code == 202, r.text
            accepted += r.json()["accepted"]
        for raw, content_type in _garbage_bodies(rng):
            headers = {"Content-Type": content_type} if content_type else {}
            r = await c.post(PATH, content=raw, headers=headers)
            statuses.append(r.status_code)

        # Still healthy: a normal beacon works and /metrics is valid exposition text.
        assert (await c.post(PATH, json=[{"type": "page_view", "page": "home"}])).status_code == 202
        async with http(app, "127.0.0.1") as local:
            scraped = await local.get("/metrics")

    assert all(200 <= s < 500 for s in statuses), sorted(set(statuses))
    assert {202, 415, 422} <= set(statuses)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert accepted >= len(names)  # every page view, plus the garbage that happened to be valid
    for page, count in expected.items():
        now = sum(value("page_views_total", page_name=page, user_type=u) for u in USER_TYPES)
        assert now >= before[page] + count, page
    assert label_values("page_views", "page_name") <= set(PAGE_NAMES)
    series = {labels for name, labels in telemetry_series() if name == "page_views_total"}
    assert len(series) <= len(PAGE_NAMES) * len(USER_TYPES)
    for family, allowed in TELEMETRY_FAMILIES.items():
        for label, values in allowed.items():
            assert label_values(family, label) <= values, (family, label)
    assert scraped.status_code == 200
    families = {f.name for f in text_string_to_metric_families(scraped.text)}
    assert "page_views" in families
    assert not any(math.isnan(s.value) for f in REGISTRY.collect() for s in f.samples)


async def test_the_endpoint_is_documented_in_openapi(browser: httpx.AsyncClient) -> None:
    spec = (await browser.get("/openapi.json")).json()
    operation = spec["paths"][PATH]["post"]
    body = operation["requestBody"]["content"]
    assert {"application/json", "text/plain"} <= set(body)
    assert "$defs" not in json.dumps(body)
    assert {"202", "413", "415", "422", "429"} <= set(operation["responses"])
