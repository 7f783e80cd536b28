"""``POST /api/assistant/ask``: the local provider on the shared app, and the OpenAI-compatible
provider against a local fake server (tests/fakes/openai_server.py) with small timeouts."""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from hero_foundry.app import create_app
from hero_foundry.assistant import providers
from hero_foundry.assistant.breaker import CircuitBreaker
from hero_foundry.srd import get_catalogue
from tests.conftest import make_settings
from tests.fakes.openai_server import FakeOpenAI
from tests.integration.api import build_character, new_player, ok

pytestmark = pytest.mark.usefixtures("database_url")
CAT = get_catalogue()
ASK = "/api/assistant/ask"
GRAPPLING = "How does grappling work?"
#: The passages grappling questions must cite: the condition, or the rules section on it.
GRAPPLING_RULES = {("condition", "grappled"), ("rule", "making-an-attack")}


def cited(body: dict[str, Any]) -> set[tuple[str, str]]:
    return {(c["kind"], c["index"]) for c in body["citations"]}


def assert_unavailable(r: httpx.Response, reason: str) -> str:
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["detail"].startswith("The AI rules assistant is unavailable right now: ")
    assert reason in problem["detail"], problem["detail"]
    return problem["detail"]


# -- local provider ---------------------------------------------------------------------------
async def test_a_grappling_question_cites_the_grappling_rules(client: httpx.AsyncClient) -> None:
    headers = await new_player(client)
    body = await ok(client.post(ASK, headers=headers, json={"question": GRAPPLING}))
    assert body["provider"] == "local"
    assert cited(body) & GRAPPLING_RULES, body["citations"]
    assert cited(body) <= GRAPPLING_RULES | {("rule", "movement-and-position")}
    for citation in body["citations"]:
        assert f"[{citation['n']}]" in body["answer"]
        assert citation["url"] == f"/api/rules/{citation['kind']}/{citation['index']}"
        assert (await client.get(citation["url"])).status_code == 200
    # The answer quotes the SRD: the grappled condition's first line is in the data file.
    first_line = CAT.get("conditions", "grappled")["desc"][0].removeprefix("- ")
    assert first_line in body["answer"]


async def test_a_question_about_the_characters_feature_mentions_the_character(
    client: httpx.AsyncClient,
) -> None:
    headers = await new_player(client)
    name = f"Brottor {uuid.uuid4().hex[:6]}"
    character, _ = await build_character(client, headers, "dwarf", "fighter", name=name)
    body = await ok(
        client.post(
            ASK,
            headers=headers,
            json={"question": "How does Second Wind work?", "character_id": character["id"]},
        )
    )
    first_line = body["answer"].splitlines()[0]
    assert first_line.startswith(f"{name} is a level 1 ") and "Fighter" in first_line
    assert ("feature", "second-wind") in cited(body)
    assert f"one of {name}'s features" in body["answer"]
    second_wind = CAT.get("features", "second-wind")["desc"][0]
    assert second_wind in body["answer"]


async def test_the_characters_own_features_come_first(client: httpx.AsyncClient) -> None:
    headers = await new_player(client)
    fighter, _ = await build_character(client, headers, "human", "fighter")
    question = {"question": "What does Fighting Style do?"}
    anyone = await ok(client.post(ASK, headers=headers, json=question))
    mine = await ok(
        client.post(ASK, headers=headers, json={**question, "character_id": fighter["id"]})
    )
    assert mine["citations"][0]["index"] == "fighter-fighting-style", mine["citations"]
    assert {c["index"] for c in anyone["citations"]} >= {"fighter-fighting-style"}


async def test_someone_elses_or_an_unknown_character_is_a_404(client: httpx.AsyncClient) -> None:
    owner = await new_player(client)
    character, _ = await build_character(client, owner, "elf", "wizard")
    other = await new_player(client)
    for character_id in (character["id"], str(uuid.uuid4())):
        r = await client.post(
            ASK, headers=other, json={"question": GRAPPLING, "character_id": character_id}
        )
        assert r.status_code == 404, r.text
        assert r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"question": "x" * 1001}, "question"),
        ({"question": ""}, "question"),
        ({"question": "   "}, "question"),
        ({}, "question"),
        ({"question": GRAPPLING, "character_id": "not-a-uuid"}, "character_id"),
        ({"question": GRAPPLING, "model": "gpt-4"}, "model"),
    ],
)
async def test_an_invalid_question_is_a_422(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    headers = await new_player(client)
    r = await client.post(ASK, headers=headers, json=body)
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["errors"]]


async def test_the_assistant_needs_a_login(client: httpx.AsyncClient) -> None:
    r = await client.post(ASK, json={"question": GRAPPLING})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


async def test_a_question_about_nothing_in_the_srd_says_so(client: httpx.AsyncClient) -> None:
    headers = await new_player(client)
    body = await ok(client.post(ASK, headers=headers, json={"question": "qqqq zzzz xxxx?"}))
    assert body["citations"] == [] and "nothing in the SRD" in body["answer"]


# -- OpenAI-compatible provider ---------------------------------------------------------------
@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fake(fake_server: FakeOpenAI) -> FakeOpenAI:
    fake_server.reset()
    return fake_server


#: Small values keep every failure test well under a second. The timeout is generous: the fake
#: answers at once, and a busy machine must not turn its answers into timeouts; the slow-provider
#: test sets its own 0.25 s.
OPENAI = {
    "assistant_provider": "openai",
    "assistant_model": "test-model",
    "assistant_api_key": "test-key",
    "assistant_timeout_seconds": 30.0,
    "assistant_max_retries": 1,
    "assistant_backoff_seconds": 0.01,
    "assistant_breaker_failures": 3,
    "assistant_breaker_reset_seconds": 30,
}


@asynccontextmanager
async def openai_app(
    database_url: str, fake: FakeOpenAI, **overrides: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """An app of its own whose assistant talks to the fake; a client and a player's headers."""
    settings = make_settings(
        database_url, **{**OPENAI, "assistant_base_url": fake.base_url, **overrides}
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client, await new_player(client)


async def test_openai_answers_with_the_models_text_and_cited_passages(
    database_url: str, fake: FakeOpenAI
) -> None:
    fake.reset("normal", answer="Grappling is a special melee attack [1].")
    async with openai_app(database_url, fake) as (client, headers):
        body = await ok(client.post(ASK, headers=headers, json={"question": GRAPPLING}))
    assert body == {
        "answer": "Grappling is a special melee attack [1].",
        "citations": [body["citations"][0]],
        "provider": "openai",
    }
    assert body["citations"][0]["n"] == 1
    assert cited(body) <= GRAPPLING_RULES
    [request] = fake.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer test-key"
    assert request.body["model"] == "test-model"
    system, user = request.body["messages"]
    assert system["role"] == "system" and "only" in system["content"]
    assert user["role"] == "user" and user["content"].startswith(f"Question: {GRAPPLING}")
    # The retrieved passages are in the prompt, numbered, with the SRD's own text.
    assert "\n[1] " in user["content"]
    assert CAT.get("conditions", "grappled")["desc"][0] in user["content"]
    grappling = "When you want to grab a creature or wrestle with it"
    assert grappling in CAT.get("rule_sections", "making-an-attack")["desc"]
    assert grappling in user["content"]


async def test_openai_without_citations_cites_every_passage_and_sends_the_character(
    database_url: str, fake: FakeOpenAI
) -> None:
    fake.reset("normal", answer="You regain hit points as a bonus action.")
    async with openai_app(database_url, fake, assistant_api_key="") as (client, headers):
        character, _ = await build_character(client, headers, "dwarf", "fighter", name="Thorin")
        body = await ok(
            client.post(
                ASK,
                headers=headers,
                json={"question": "How does Second Wind work?", "character_id": character["id"]},
            )
        )
    assert [c["n"] for c in body["citations"]] == list(range(1, len(body["citations"]) + 1))
    assert ("feature", "second-wind") in cited(body)
    [request] = fake.requests
    assert "authorization" not in request.headers  # no key configured: no header
    user = request.body["messages"][1]["content"]
    assert "Character: Thorin is a level 1 Hill Dwarf Fighter." in user
    assert "Second Wind" in user


async def test_openai_retries_after_a_429(database_url: str, fake: FakeOpenAI) -> None:
    fake.reset("rate-limited", answer="Use the Attack action [1].", rate_limited_times=1)
    async with openai_app(database_url, fake) as (client, headers):
        body = await ok(client.post(ASK, headers=headers, json={"question": GRAPPLING}))
    assert body["answer"] == "Use the Attack action [1]."
    assert len(fake.requests) == 2  # one 429, one success


async def test_a_slow_provider_is_a_503_after_its_retries(
    database_url: str, fake: FakeOpenAI
) -> None:
    fake.reset("slow", slow_seconds=1.5)
    async with openai_app(database_url, fake, assistant_timeout_seconds=0.25) as (client, headers):
        started = time.perf_counter()
        r = await client.post(ASK, headers=headers, json={"question": GRAPPLING})
        elapsed = time.perf_counter() - started
    assert_unavailable(r, "the provider timed out after 2 attempts of 0.25 s")
    assert "retry-after" not in r.headers
    assert len(fake.requests) == 2
    # Two attempts cut at 0.25 s each (the message says so; the fake would have answered after
    # 1.5 s): at least 0.5 s. No upper bound: a busy machine may take longer to get there.
    assert elapsed >= 0.5


async def test_a_failing_provider_is_a_503_after_its_retries(
    database_url: str, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The waits the provider asks for between attempts (not how long the machine took): its
    # own asyncio, whose sleep notes them.
    waits: list[float] = []

    class ProviderAsyncio:
        def __getattr__(self, name: str) -> Any:
            return getattr(asyncio, name)

        async def sleep(self, seconds: float) -> None:
            waits.append(seconds)
            await asyncio.sleep(0)

    monkeypatch.setattr(providers, "asyncio", ProviderAsyncio())
    fake.reset("failing")
    async with openai_app(database_url, fake, assistant_max_retries=2) as (client, headers):
        r = await client.post(ASK, headers=headers, json={"question": GRAPPLING})
    assert_unavailable(r, "the provider failed with HTTP 500 after 3 attempts")
    assert len(fake.requests) == 3
    assert waits == [0.01, 0.02]  # exponential backoff


async def test_a_refused_request_is_not_retried(database_url: str, fake: FakeOpenAI) -> None:
    fake.reset("refusing")
    async with openai_app(database_url, fake) as (client, headers):
        r = await client.post(ASK, headers=headers, json={"question": GRAPPLING})
    assert_unavailable(r, "the provider refused the request (HTTP 401)")
    assert len(fake.requests) == 1


async def test_an_unreachable_provider_is_a_503(database_url: str, fake: FakeOpenAI) -> None:
    # Port 9 (discard) on loopback: nothing listens there, the connection is refused at once.
    async with openai_app(database_url, fake, assistant_base_url="http://127.0.0.1:9") as (
        client,
        headers,
    ):
        r = await client.post(ASK, headers=headers, json={"question": GRAPPLING})
    assert_unavailable(r, "the provider could not be reached after 2 attempts")


@pytest.mark.parametrize("base_url", ["localhost:11434", "http://[::1"])
async def test_a_misconfigured_address_is_a_503_without_retries(
    database_url: str, fake: FakeOpenAI, base_url: str
) -> None:
    async with openai_app(database_url, fake, assistant_base_url=base_url) as (client, headers):
        r = await client.post(ASK, headers=headers, json={"question": GRAPPLING})
    assert_unavailable(r, "the provider's address is misconfigured")


async def test_nothing_to_answer_from_does_not_call_the_model(
    database_url: str, fake: FakeOpenAI
) -> None:
    async with openai_app(database_url, fake) as (client, headers):
        body = await ok(client.post(ASK, headers=headers, json={"question": "qqqq zzzz xxxx"}))
    assert body["citations"] == [] and body["provider"] == "openai"
    assert fake.requests == []


async def test_the_breaker_opens_fails_fast_then_closes_after_the_reset_time(
    database_url: str, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The breaker's clock is the test's: the reset time passes when the test says so, however
    # long a busy machine takes between two requests.
    now = [1000.0]
    monkeypatch.setattr(
        providers, "CircuitBreaker", functools.partial(CircuitBreaker, clock=lambda: now[0])
    )
    reset = 0.25
    fake.reset("failing")
    settings = {
        "assistant_max_retries": 0,
        "assistant_breaker_failures": 2,
        "assistant_breaker_reset_seconds": reset,
    }
    question = {"question": GRAPPLING}
    async with openai_app(database_url, fake, **settings) as (client, headers):
        for _ in range(2):  # two failed questions in a row open the breaker
            assert_unavailable(await client.post(ASK, headers=headers, json=question), "HTTP 500")
        assert len(fake.requests) == 2

        r = await client.post(ASK, headers=headers, json=question)
        assert_unavailable(r, "the provider failed 2 questions in a row")
        assert r.headers["retry-after"] == "1"  # 0.25 s, rounded up to whole seconds
        assert len(fake.requests) == 2  # failed fast: the provider was not called

        now[0] += reset + 0.05  # half-open: one trial question goes through
        assert_unavailable(await client.post(ASK, headers=headers, json=question), "HTTP 500")
        assert len(fake.requests) == 3
        r = await client.post(ASK, headers=headers, json=question)  # the failed trial reopened it
        assert_unavailable(r, "in a row")
        assert r.headers["retry-after"] == "1"
        assert len(fake.requests) == 3

        now[0] += reset + 0.05
        fake.reset("normal", answer="Grapple with the Attack action [1].")
        assert (await ok(client.post(ASK, headers=headers, json=question)))["answer"]
        fake.reset("failing")  # closed again: failures reach the provider until the threshold
        assert_unavailable(await client.post(ASK, headers=headers, json=question), "HTTP 500")
        assert_unavailable(await client.post(ASK, headers=headers, json=question), "HTTP 500")
        assert len(fake.requests) == 2
