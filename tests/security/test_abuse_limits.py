"""The paid assistant is rate-limited per account and per client address, and password hashing
never queues unbounded work: over its concurrency cap, after a short bounded wait, a 503 problem
with Retry-After."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest
from argon2 import PasswordHasher

from hero_foundry.settings import Settings
from tests.security.conftest import (
    PASSWORD,
    WRONG,
    address,
    assert_problem,
    bearer,
    email,
    login,
    register,
    retry_after,
    token_of,
    value,
)

pytestmark = pytest.mark.usefixtures("database_url")
ASK = "/api/assistant/ask"
QUESTION = {"question": "How does grappling work?"}


async def player(attacker, client) -> dict[str, str]:
    target = email()
    await register(client, target)
    return bearer(await token_of(client, target))


async def test_questions_are_limited_per_account(attack) -> None:
    async with attack(assistant_questions_per_account="2/minute;5/day") as attacker:
        client = attacker.client()
        alice, bob = await player(attacker, client), await player(attacker, client)
        limited = value("rate_limited_requests_total", limit="assistant")
        asked = value("ai_queries_total")
        for _ in range(2):
            assert (await client.post(ASK, headers=alice, json=QUESTION)).status_code == 200
        refused = await client.post(ASK, headers=alice, json=QUESTION)
        assert "from your account" in assert_problem(refused, 429)["detail"]
        retry_after(refused, 60)
        assert value("ai_queries_total") - asked == 2  # the refused one reached no provider
        assert value("rate_limited_requests_total", limit="assistant") - limited == 1
        assert (await client.post(ASK, headers=bob, json=QUESTION)).status_code == 200


async def test_questions_are_limited_per_client_across_accounts(attack) -> None:
    async with attack(assistant_questions_per_client="3/minute") as attacker:
        farm, elsewhere = attacker.client(address()), attacker.client(address())
        accounts = [await player(attacker, farm) for _ in range(4)]
        for headers in accounts[:3]:
            assert (await farm.post(ASK, headers=headers, json=QUESTION)).status_code == 200
        refused = await farm.post(ASK, headers=accounts[3], json=QUESTION)
        assert "from your network address" in assert_problem(refused, 429)["detail"]
        assert (await elsewhere.post(ASK, headers=accounts[3], json=QUESTION)).status_code == 200


async def test_anonymous_questions_are_refused_before_counting(attack) -> None:
    async with attack(assistant_questions_per_client="1/minute") as attacker:
        client = attacker.client()
        for _ in range(3):
            assert_problem(await client.post(ASK, json=QUESTION), 401)
        headers = await player(attacker, client)
        assert (await client.post(ASK, headers=headers, json=QUESTION)).status_code == 200


class BlockingHasher(PasswordHasher):
    """Verifies only once released: holds a hashing slot as long as the test wants."""

    def __init__(self, real: PasswordHasher) -> None:
        super().__init__(time_cost=real.time_cost, memory_cost=real.memory_cost)
        self.entered = threading.Event()
        self.release = threading.Event()

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.entered.set()
        self.release.wait()
        return super().verify(hash, password)


@pytest.mark.parametrize("route", ["login", "register"])
async def test_a_burst_beyond_the_hashing_slots_gets_503_not_a_queue(attack, route: str) -> None:
    async with attack(password_hash_concurrency=1, password_hash_wait_seconds=0.05) as attacker:
        client = attacker.client()
        victim = email()
        await register(client, victim)
        hashing = attacker.app.state.hashing
        blocking = BlockingHasher(hashing.hasher)
        hashing.hasher = blocking
        busy = value("password_hashing_busy_total")
        first = asyncio.create_task(login(attacker.client(), victim, WRONG))
        try:
            # The first login now holds the only slot, whatever the machine's speed.
            assert await asyncio.to_thread(blocking.entered.wait, 60)
            if route == "login":
                refused = await login(attacker.client(), victim)
            else:
                refused = await register(attacker.client(), email())
            problem = assert_problem(refused, 503)
            assert "too many passwords at once" in problem["detail"]
            retry_after(refused, 5)
            assert value("password_hashing_busy_total") - busy == 1
        finally:
            blocking.release.set()
        assert (await first).status_code == 401  # the held login completes normally
        assert (await login(attacker.client(), victim, PASSWORD)).status_code == 200


def test_the_hashing_slots_default_to_the_cpus_this_process_may_use() -> None:
    assert Settings().password_hash_slots == len(os.sched_getaffinity(0))
    assert Settings(password_hash_concurrency=3).password_hash_slots == 3
