"""Every metric the customer's document names: defined once, bounded, correct, exposed on a
restricted /metrics."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import update

from hero_foundry.app import create_app
from hero_foundry.characters.models import CharacterDraft
from hero_foundry.levelling.models import LevelUpSession
from hero_foundry.observability.metrics import UNMATCHED_ENDPOINT
from hero_foundry.storage.db import unit_of_work
from tests.conftest import make_settings
from tests.integration.api import build_character, level_up, new_player, ok

pytestmark = pytest.mark.usefixtures("database_url")

SEED_METRICS = [
    "http_requests_total",
    "http_request_duration_seconds",
    "characters_created_total",
    "characters_leveled_up_total",
    "ai_queries_total",
    "export_operations_total",
    "character_creation_duration_seconds",
    "level_up_duration_seconds",
    "character_creation_success_total",
    "character_creation_failure_total",
    "level_up_success_total",
    "level_up_failure_total",
    "ai_query_success_total",
    "ai_query_failure_total",
    "ai_query_duration_seconds",
    "export_success_total",
    "export_failure_total",
    "export_duration_seconds",
    "character_editions_total",
    "rule_lookups_total",
    "database_query_duration_seconds",
    "api_response_size_bytes",
    "page_views_total",
    "active_users_current",
    "active_sessions_current",
]


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def scrape(client: httpx.AsyncClient, accept: str = "") -> str:
    r = await client.get("/metrics", headers={"Accept": accept} if accept else {})
    assert r.status_code == 200, r.text
    return r.text


async def test_every_seed_metric_is_exposed_with_help(client: httpx.AsyncClient) -> None:
    text = await scrape(client)
    for name in SEED_METRICS:
        family = name.removesuffix("_total")
        assert f"# HELP {family}" in text, name
        assert f"# TYPE {family}" in text, name


def test_several_apps_in_one_process_register_nothing_twice(database_url: str) -> None:
    for _ in range(3):
        create_app(make_settings(database_url))


async def test_http_metrics_use_route_templates_and_exact_statuses(
    client: httpx.AsyncClient,
) -> None:
    headers = await new_player(client)
    template = "/api/characters/{character_id}"
    before = value("http_requests_total", method="GET", endpoint=template, status="404")
    for _ in range(5):
        await client.get(f"/api/characters/{uuid.uuid4()}", headers=headers)
    after = value("http_requests_total", method="GET", endpoint=template, status="404")
    assert after - before == 5
    unmatched = value(
        "http_requests_total", method="GET", endpoint=UNMATCHED_ENDPOINT, status="404"
    )
    for n in range(7):
        await client.get(f"/wp-admin/{uuid.uuid4()}/{n}.php")
    assert (
        value("http_requests_total", method="GET", endpoint=UNMATCHED_ENDPOINT, status="404")
        - unmatched
        == 7
    )
    text = await scrape(client)
    assert "wp-admin" not in text and "/api/characters/" + "0" not in text
    bucket = 'http_request_duration_seconds_bucket{endpoint="/api/characters/{character_id}",'
    assert bucket + 'le="2.0",method="GET"}' in text
    assert 'api_response_size_bytes_count{endpoint="/api/characters/{character_id}"' in text


async def test_an_exception_in_a_handler_counts_as_a_500(database_url: str) -> None:
    app = create_app(make_settings(database_url))

    @app.get("/explode")
    async def explode() -> None:
        raise RuntimeError("boom")

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            before = value("http_requests_total", method="GET", endpoint="/explode", status="500")
            r = await client.get("/explode")
            assert r.status_code == 500
            after = value("http_requests_total", method="GET", endpoint="/explode", status="500")
    assert after - before == 1


async def test_business_operations_are_tracked(client: httpx.AsyncClient) -> None:
    headers = await new_player(client)
    created = value("characters_created_total")
    success = value("character_creation_success_total")
    durations = value("character_creation_duration_seconds_count")
    character, _ = await build_character(client, headers, "human", "fighter")
    assert value("characters_created_total") - created == 1
    assert value("character_creation_success_total") - success == 1
    assert value("character_creation_duration_seconds_count") - durations == 1

    levels = value("characters_leveled_up_total")
    level_durations = value("level_up_duration_seconds_count")
    await level_up(client, headers, character["id"], "fighter")
    assert value("characters_leveled_up_total") - levels == 1
    assert value("level_up_success_total") >= 1
    assert value("level_up_duration_seconds_count") - level_durations == 1

    edits = value("character_editions_total")
    await ok(
        client.patch(f"/api/characters/{character['id']}", headers=headers, json={"notes": "x"})
    )
    r = await client.patch(f"/api/characters/{character['id']}", headers=headers, json={"level": 3})
    assert r.status_code == 422  # refused input is not an edit
    assert value("character_editions_total") - edits == 1

    for fmt in ("json", "pdf", "foundry"):
        before = value("export_operations_total", format=fmt)
        r = await client.get(
            f"/api/characters/{character['id']}/export", headers=headers, params={"format": fmt}
        )
        assert r.status_code == 200
        assert value("export_operations_total", format=fmt) - before == 1
        assert value("export_success_total", format=fmt) >= 1
        assert value("export_duration_seconds_count", format=fmt) >= 1

    searches = value("rule_lookups_total", type="search")
    entries = value("rule_lookups_total", type="entry")
    await ok(client.get("/api/rules/search", params={"q": "fireball"}))
    await ok(client.get("/api/rules/spell/fireball"))
    assert value("rule_lookups_total", type="search") - searches == 1
    assert value("rule_lookups_total", type="entry") - entries == 1

    queries = value("ai_queries_total")
    answered = value("ai_query_success_total")
    await ok(
        client.post(
            "/api/assistant/ask", headers=headers, json={"question": "How does grappling work?"}
        )
    )
    assert value("ai_queries_total") - queries == 1
    assert value("ai_query_success_total") - answered == 1


async def test_slow_wizard_and_level_up_land_above_the_alert_thresholds(
    client: httpx.AsyncClient,
) -> None:
    """The wizard's time is the server's draft start -> finalize, so a 400 s wizard lands in
    the 480 s bucket, not the 300 s one: CharacterCreationSlow (p95 > 300 s) can fire."""
    headers = await new_player(client)
    draft = await ok(client.post("/api/characters/drafts", headers=headers), 201)
    async with unit_of_work(client.app.state.sessions) as db:
        row = await db.get(CharacterDraft, uuid.UUID(draft["id"]))
        await db.execute(
            update(CharacterDraft)
            .where(CharacterDraft.id == row.id)
            .values(started_at=row.started_at - timedelta(seconds=400))
        )
    le300 = value("character_creation_duration_seconds_bucket", le="300.0")
    le480 = value("character_creation_duration_seconds_bucket", le="480.0")
    from tests.integration.api import answer_open_choices  # noqa: F401 - same helper module

    character = await _finish_draft(client, headers, draft["id"])
    assert value("character_creation_duration_seconds_bucket", le="300.0") == le300
    assert value("character_creation_duration_seconds_bucket", le="480.0") - le480 == 1

    base = f"/api/characters/{character['id']}/level-ups"
    view = await ok(client.post(base, headers=headers, json={"class": "fighter"}), 201)
    async with unit_of_work(client.app.state.sessions) as db:
        row = await db.get(LevelUpSession, uuid.UUID(view["id"]))
        await db.execute(
            update(LevelUpSession)
            .where(LevelUpSession.id == row.id)
            .values(started_at=row.started_at - timedelta(seconds=200))
        )
    le120 = value("level_up_duration_seconds_bucket", le="120.0")
    le300 = value("level_up_duration_seconds_bucket", le="300.0")
    await ok(
        client.put(f"{base}/{view['id']}/hit-points", headers=headers, json={"method": "average"})
    )
    await ok(client.post(f"{base}/{view['id']}/commit", headers=headers))
    assert value("level_up_duration_seconds_bucket", le="120.0") == le120
    assert value("level_up_duration_seconds_bucket", le="300.0") - le300 == 1


async def _finish_draft(client: httpx.AsyncClient, headers: dict, draft_id: str) -> dict:
    from tests.integration.api import answer_open_choices

    base = f"/api/characters/drafts/{draft_id}"
    await ok(client.put(f"{base}/race", headers=headers, json={"race": "human"}))
    await ok(client.put(f"{base}/class", headers=headers, json={"class": "fighter"}))
    await ok(client.put(f"{base}/background", headers=headers, json={"background": "acolyte"}))
    scores = {"str": 15, "dex": 14, "con": 13, "int": 12, "wis": 10, "cha": 8}
    draft = await ok(
        client.put(
            f"{base}/ability-scores",
            headers=headers,
            json={"method": "standard_array", "scores": scores},
        )
    )
    await answer_open_choices(client, headers, draft)
    await ok(
        client.put(
            f"{base}/details", headers=headers, json={"name": "Slow", "alignment": "neutral"}
        )
    )
    return await ok(client.post(f"{base}/finalize", headers=headers), 201)


async def test_active_users_and_sessions_are_counted_from_the_shared_store(
    client: httpx.AsyncClient,
) -> None:
    def gauge(text: str, name: str) -> float:
        line = next(line for line in text.splitlines() if line.startswith(name + " "))
        return float(line.split()[1])

    text = await scrape(client)
    users, sessions = gauge(text, "active_users_current"), gauge(text, "active_sessions_current")
    alice = await new_player(client)
    await ok(client.get("/api/me", headers=alice))
    bob = await new_player(client)
    await ok(client.get("/api/me", headers=bob))
    text = await scrape(client)
    assert gauge(text, "active_users_current") - users == 2
    assert gauge(text, "active_sessions_current") - sessions == 2
    for _ in range(5):  # more requests by the same people change nothing
        await ok(client.get("/api/me", headers=alice))
    text = await scrape(client)
    assert gauge(text, "active_users_current") - users == 2


async def test_database_and_cache_metrics(client: httpx.AsyncClient) -> None:
    selects = value("database_query_duration_seconds_count", operation="select")
    inserts = value("database_query_duration_seconds_count", operation="insert")
    headers = await new_player(client)
    assert value("database_query_duration_seconds_count", operation="insert") > inserts
    misses = value("cache_misses_total", cache="auth_tokens")
    hits = value("cache_hits_total", cache="auth_tokens")
    await ok(client.get("/api/me", headers=headers))
    await ok(client.get("/api/me", headers=headers))
    # A valid token is never cached: the database answers every time.
    assert value("cache_misses_total", cache="auth_tokens") - misses == 2
    assert value("cache_hits_total", cache="auth_tokens") - hits == 0
    await ok(client.post("/api/auth/logout", headers=headers), 204)
    for _ in range(2):  # refused by the database, then by the cache of refusals
        assert (await client.get("/api/me", headers=headers)).status_code == 401
    assert value("cache_misses_total", cache="auth_tokens") - misses == 4
    assert value("cache_hits_total", cache="auth_tokens") - hits == 1
    assert value("database_query_duration_seconds_count", operation="select") > selects


async def test_metrics_negotiate_openmetrics(client: httpx.AsyncClient) -> None:
    r = await client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert r.headers["content-type"].startswith("application/openmetrics-text")
    assert r.text.rstrip().endswith("# EOF")
    r = await client.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain")
    assert "# EOF" not in r.text


async def test_metrics_are_not_public(database_url: str) -> None:
    open_app = create_app(make_settings(database_url))
    async with open_app.router.lifespan_context(open_app):
        remote = httpx.ASGITransport(app=open_app, client=("203.0.113.7", 40000))
        async with httpx.AsyncClient(transport=remote, base_url="http://test") as client:
            r = await client.get("/metrics")
            assert r.status_code == 403
            assert r.headers["content-type"] == "application/problem+json"
    locked = create_app(make_settings(database_url, metrics_token="scrape-secret"))
    async with locked.router.lifespan_context(locked):
        local = httpx.ASGITransport(app=locked)
        async with httpx.AsyncClient(transport=local, base_url="http://test") as client:
            assert (await client.get("/metrics")).status_code == 401
            bad = {"Authorization": "Bearer wrong"}
            assert (await client.get("/metrics", headers=bad)).status_code == 401
            good = {"Authorization": "Bearer scrape-secret"}
            r = await client.get("/metrics", headers=good)
            assert r.status_code == 200 and "http_requests_total" in r.text
