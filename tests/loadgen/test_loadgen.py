"""``hero-foundry loadgen`` against the real app in process (httpx's ASGI transport, SQLite):
what the traffic does to the service's own metrics, the rate limit, the hard stop, the loopback
guard, errors as data, and the seed."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from hero_foundry.app import create_app
from hero_foundry.loadgen import (
    Options,
    OptionsError,
    RemoteRefused,
    check_base_url,
    is_loopback,
    parse_duration,
    parse_mix,
    run,
)
from hero_foundry.loadgen.browser import Browser
from hero_foundry.loadgen.player import Player
from hero_foundry.loadgen.recorder import Recorder
from hero_foundry.observability.telemetry import PAGE_NAMES, WIZARD_STEPS
from hero_foundry.storage import migrate
from tests.conftest import make_settings

BASE = "http://127.0.0.1"


class Recording(httpx.AsyncBaseTransport):
    """Passes requests to ``inner`` (or answers them with ``fault``), noting each one."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        fault: Callable[[httpx.Request, int], httpx.Response | None] | None = None,
    ) -> None:
        self.inner = inner
        self.fault = fault
        self.sent: list[tuple[float, httpx.Request]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((time.monotonic(), request))
        if self.fault is not None:
            answer = self.fault(request, len(self.sent))
            if answer is not None:
                return answer
        return await self.inner.handle_async_request(request)


@pytest.fixture(scope="module")
async def app_transport(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    """The real app on a fresh SQLite database, with its lifespan running."""
    path = tmp_path_factory.mktemp("loadgen") / "loadgen.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    await migrate.upgrade(url)
    app = create_app(make_settings(url))
    async with app.router.lifespan_context(app):
        yield httpx.ASGITransport(app=app)


def total(name: str, **labels: str) -> float:
    """The sum of a metric's samples (every label set matching ``labels``)."""
    return sum(
        sample.value
        for family in REGISTRY.collect()
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def fast(**overrides: Any) -> Options:
    values: dict[str, Any] = {
        "base_url": BASE,
        "think_time": 0.0,
        "ramp_up": 0.0,
        "max_rps": 1000.0,
        "seed": 7,
    }
    values.update(overrides)
    return Options(**values)


# -- The traffic, as the service's metrics see it -------------------------------------------------

SERVICE_METRICS = [
    ("characters_created_total", {}),
    ("characters_leveled_up_total", {}),
    ("character_editions_total", {}),
    ("rule_lookups_total", {"type": "search"}),
    ("rule_lookups_total", {"type": "entry"}),
    ("ai_queries_total", {}),
    ("export_operations_total", {"format": "json"}),
    ("export_operations_total", {"format": "pdf"}),
    ("export_operations_total", {"format": "foundry"}),
    ("page_views_total", {"user_type": "registered"}),
    ("page_views_total", {"user_type": "anonymous"}),
    ("frontend_wizard_step_duration_seconds_count", {}),
    ("frontend_character_creation_duration_seconds_count", {}),
    ("frontend_web_vitals_seconds_count", {"metric": "LCP"}),
    ("frontend_web_vitals_seconds_count", {"metric": "INP"}),
    ("frontend_cumulative_layout_shift_count", {}),
    ("frontend_errors_total", {}),
]


async def test_a_short_run_exercises_every_feature(app_transport: Any) -> None:
    before = {
        (name, tuple(labels.items())): total(name, **labels) for name, labels in SERVICE_METRICS
    }
    rejected = total("telemetry_events_rejected_total")
    transport = Recording(app_transport)

    # Exports weigh a little more than by default, so that each format comes up sooner. The run
    # stops once every activity happened at least once, however long a busy machine takes (at
    # most 10 minutes), rather than after a duration it may not fill.
    recorder = Recorder()
    stop = asyncio.Event()
    wanted = ("wizard.finalize", "levelup.commit", "rules.search", "export.pdf")
    features = (
        "characters_created", "levels_gained", "edits", "questions", "exports_json",
        "exports_pdf", "exports_foundry", "telemetry_events",
    )  # fmt: skip

    def enough(_tick: Any) -> None:
        outcomes = recorder.outcomes
        if (
            all(outcomes[f] > 0 for f in features)
            and outcomes["registrations"] >= 3
            and all(
                name in recorder.operations and recorder.operations[name].ok > 0 for name in wanted
            )
        ):
            stop.set()

    summary = await run(
        fast(duration=600, users=3, mix={"export": 4.0}, transport=transport),
        recorder=recorder,
        stop=stop,
        on_tick=enough,
    )

    grew = {
        f"{name}{labels or ''}": total(name, **labels) - before[(name, tuple(labels.items()))]
        for name, labels in SERVICE_METRICS
    }
    assert all(delta > 0 for delta in grew.values()), grew
    assert total("telemetry_events_rejected_total") == rejected  # every event was valid

    # The summary says the same as the service.
    assert summary.passed, summary.verdict()
    assert summary.errors == 0, summary.errors_by_status()
    assert summary.crashes == []
    outcomes = summary.outcomes

    def agree(outcome: str, metric: str) -> None:
        # A request cut by the stop may have been served: the service can count up to the
        # cancelled requests more than the users saw.
        assert outcomes[outcome] <= grew[metric] <= outcomes[outcome] + summary.cancelled, (
            outcome, outcomes[outcome], grew[metric], summary.cancelled,
        )  # fmt: skip

    agree("characters_created", "characters_created_total")
    agree("levels_gained", "characters_leveled_up_total")
    agree("edits", "character_editions_total")
    agree("questions", "ai_queries_total")
    for fmt in ("json", "pdf", "foundry"):
        agree(f"exports_{fmt}", f"export_operations_total{{'format': '{fmt}'}}")
    assert outcomes["registrations"] >= 3 and outcomes["logins"] >= 3
    assert outcomes["telemetry_events"] > 0
    # Every request the transport carried is in the summary (but those cut by the hard stop).
    assert summary.requests + summary.cancelled == len(transport.sent)
    for name in ("wizard.race", "wizard.finalize", "levelup.commit", "rules.search", "export.pdf"):
        stats = summary.operations[name]
        assert stats.ok > 0 and stats.quantiles()["p95"] is not None, name
    # Game data came from the API: every race and class picked is one the SRD endpoints list.
    bodies = [json.loads(r.content) for _, r in transport.sent if r.url.path.endswith("/race")]
    assert bodies and all(set(b) == {"race", "subrace"} for b in bodies)


async def test_the_rate_limit_is_respected(app_transport: Any) -> None:
    transport = Recording(app_transport)
    rate = 8.0
    started = time.monotonic()
    summary = await run(fast(duration=3, users=4, max_rps=rate, transport=transport))
    elapsed = time.monotonic() - started
    sent = [t - started for t, _ in transport.sent]
    # A token bucket of `rate` per second holding `rate` tokens: never more than that.
    assert len(sent) <= rate * elapsed + rate + 1, (len(sent), elapsed)
    for start in sent:
        window = [t for t in sent if start <= t < start + 1.0]
        assert len(window) <= 2 * rate + 1
    assert len(sent) >= rate  # the users were kept waiting, not idle
    assert summary.max_rps == rate


async def test_a_remote_base_url_is_refused_before_anything_is_sent(app_transport: Any) -> None:
    transport = Recording(app_transport)
    for url in ("http://example.com", "http://10.0.0.1:8000", "http://0.0.0.0:8000"):
        with pytest.raises(RemoteRefused, match="--allow-remote"):
            await run(fast(base_url=url, duration=1, transport=transport))
    assert transport.sent == []
    assert check_base_url("http://example.com", allow_remote=True).host == "example.com"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("api.localhost", True),
        ("10.0.0.1", False),
        ("0.0.0.0", False),
        ("example.com", False),
        ("localhost.example.com", False),
        ("::ffff:10.0.0.1", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


async def test_the_duration_is_a_hard_stop() -> None:
    """A server that never answers: the run still ends at its duration, the requests in
    flight are abandoned, and a run without a single answer does not pass."""

    async def never(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(3600)

    started = time.monotonic()
    summary = await asyncio.wait_for(
        run(fast(duration=1, users=3, timeout=60, transport=httpx.ASGITransport(app=never))),
        timeout=30,
    )
    assert time.monotonic() - started < 20  # generous: "it stopped"
    assert summary.requests == 0
    assert summary.cancelled == 3
    assert not summary.passed
    assert summary.verdict() == "no request completed"


async def test_errors_are_data_and_users_carry_on(app_transport: Any) -> None:
    """Every 40th request answers 500, every 97th fails to connect, every 113th times out: each
    is counted under its operation, the visit ends, and the users keep going."""

    def fault(request: httpx.Request, n: int) -> httpx.Response | None:
        if n % 113 == 0:
            raise httpx.ReadTimeout("timed out", request=request)
        if n % 97 == 0:
            raise httpx.ConnectError("connection refused", request=request)
        if n % 40 == 0:
            return httpx.Response(500, json={"title": "boom"}, request=request)
        return None

    # Not a duration that a busy machine may not fill: the run stops once 300 requests went out
    # (the faults above all happened), whatever the time that took (at most 10 minutes).
    stop = asyncio.Event()

    def enough(request: httpx.Request, n: int) -> httpx.Response | None:
        if n >= 300:
            stop.set()
        return fault(request, n)

    transport = Recording(app_transport, enough)
    summary = await run(
        fast(duration=600, users=3, error_backoff=0, max_error_rate=0.01, transport=transport),
        stop=stop,
    )
    assert len(transport.sent) >= 300
    kinds = summary.errors_by_status()
    assert kinds["500"] > 0 and kinds["connect"] > 0 and kinds["timeout"] > 0, kinds
    assert sum(kinds.values()) == summary.errors == summary.outcomes["visits_failed"]
    assert summary.crashes == []
    assert summary.outcomes["visits"] > summary.outcomes["visits_failed"]
    assert summary.outcomes["characters_created"] > 0  # the users carried on
    assert summary.error_rate > 0.01 and not summary.passed
    assert "above the limit 1.00%" in summary.verdict()


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _decisions(transport: Recording) -> list[str]:
    """User 0's requests without ids, the run's e-mail tag and the telemetry (sent when the
    run's budget allows: timing, not decisions)."""
    out = []
    for _, request in transport.sent:
        if request.url.path == "/api/metrics":
            continue
        text = f"{request.method} {request.url.path}?{request.url.query.decode()} "
        text += request.content.decode()
        text = _UUID.sub("<id>", text)
        out.append(re.sub(r"loadgen-[0-9a-f]+-", "loadgen-<run>-", text))
    return out


async def test_the_seed_makes_the_decisions_reproducible(
    app_transport: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the server's dice fixed, two runs with one seed make the same requests in the same
    order (as far as both got); another seed does not."""
    from hero_foundry.rules import abilities

    # (A level-up's rolled hit points stay random: the load generator never reads them.)
    monkeypatch.setattr(abilities, "roll_4d6_drop_lowest", lambda rng=None: [[6, 5, 4, 3]] * 6)

    async def one(seed: int) -> list[str]:
        transport = Recording(app_transport)
        await run(fast(duration=2, users=1, seed=seed, transport=transport))
        return _decisions(transport)

    first, second, other = await one(11), await one(11), await one(12)
    common = min(len(first), len(second))
    assert common > 40
    assert first[:common] == second[:common]
    assert first[: min(common, len(other))] != other[: min(common, len(other))]


# -- Small parts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("2m", 120), ("1m30s", 90), ("1.5h", 5400), ("500ms", 0.5)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "-5s", "0", "2x"])
def test_invalid_durations(text: str) -> None:
    with pytest.raises(OptionsError):
        parse_duration(text)


def test_mix_and_option_checks() -> None:
    assert parse_mix("ask=5, import=0") == {"ask": 5.0, "import": 0.0}
    with pytest.raises(OptionsError):
        parse_mix("ask")
    with pytest.raises(OptionsError, match="unknown activities"):
        Options(mix={"dance": 1}).checked()
    with pytest.raises(OptionsError, match="positive weight"):
        Options(mix=dict.fromkeys(Options().weights, 0.0)).checked()
    assert Options(assistant=False).weights["ask"] == 0
    with pytest.raises(OptionsError, match="users"):
        Options(users=0).checked()


def test_the_browser_reports_only_allow_listed_names() -> None:
    """The page names and wizard steps the users report are the service's own lists."""
    import inspect
    import random

    from hero_foundry.loadgen import player

    source = inspect.getsource(player)
    pages = set(re.findall(r'page_view\("([a-z-]+)"\)', source))
    steps = set(re.findall(r'wizard_step\("([a-z-]+)"', source))
    steps |= set(re.findall(r'step\(\s*"([a-z-]+)"', source))
    assert pages and pages <= set(PAGE_NAMES)
    assert steps and steps <= set(WIZARD_STEPS)
    browser = Browser(random.Random(1))
    for page in PAGE_NAMES:
        browser.page_view(page)
    types = {e["type"] for e in browser.queue}
    assert types >= {"page_view", "web_vital"}
    assert Player.__init__  # the player module imports cleanly


def test_summary_json_is_serializable(tmp_path: Path) -> None:
    from collections import Counter

    from hero_foundry.loadgen.recorder import OperationStats, Summary

    stats = OperationStats(requests=3, ok=2, latencies=[0.1, 0.2, 0.3])
    stats.errors["500"] += 1
    summary = Summary(
        base_url=BASE,
        users=1,
        duration=1.0,
        max_rps=5,
        seed=None,
        elapsed=1.0,
        operations={"wizard.race": stats},
        outcomes=Counter(visits=1),
        cancelled=0,
        crashes=[],
        max_error_rate=0.5,
    )
    document = json.loads(json.dumps(summary.as_dict()))
    assert document["error_rate"] == pytest.approx(1 / 3)
    assert document["passed"] is True
    assert document["operations"]["wizard.race"]["latency_seconds"]["p50"] == 0.2
