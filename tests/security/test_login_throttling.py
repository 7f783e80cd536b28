"""Online password guessing: failures are limited per account and per client address, checked
before any password is hashed, answered with a 429 problem and Retry-After; shared through Redis,
and still enforced (per process) when Redis is gone."""

from __future__ import annotations

import asyncio
import logging
import types

import pytest
from limits.aio.storage import memory as limits_memory

from hero_foundry.processes import free_port
from tests.security.conftest import (
    PASSWORD,
    WRONG,
    address,
    assert_problem,
    email,
    login,
    register,
    retry_after,
    value,
)

pytestmark = pytest.mark.usefixtures("database_url")

FIFTEEN_MINUTES = 15 * 60


def failures(reason: str) -> float:
    return value("auth_login_failures_total", reason=reason)


async def test_an_account_locks_after_its_failures_without_hashing_again(attack) -> None:
    async with attack(login_failures_per_account="3/15 minutes") as attacker:
        client = attacker.client()
        victim = email()
        assert (await register(client, victim)).status_code == 202
        before = {r: failures(r) for r in ("bad_password", "unknown_account", "throttled")}
        limited = value("rate_limited_requests_total", limit="login")
        for _ in range(3):
            assert_problem(await login(client, victim, WRONG), 401)
        spy = attacker.spy()
        for password in (WRONG, PASSWORD):  # the right password does not get through either
            refused = await login(client, victim, password)
            problem = assert_problem(refused, 429)
            assert "Too many failed logins for this e-mail address" in problem["detail"]
            retry_after(refused, FIFTEEN_MINUTES)
        assert spy.calls == 0, "a throttled login must not hash anything"
        assert failures("bad_password") - before["bad_password"] == 3
        assert failures("throttled") - before["throttled"] == 2
        assert failures("unknown_account") == before["unknown_account"]
        assert value("rate_limited_requests_total", limit="login") - limited == 2
        # Another account from the same client is not concerned.
        other = email()
        await register(client, other)
        assert (await login(client, other)).status_code == 200


async def test_unknown_addresses_lock_exactly_like_real_ones(attack) -> None:
    async with attack(login_failures_per_account="2/15 minutes") as attacker:
        client = attacker.client()
        real, unknown = email(), email()
        await register(client, real)
        answers = {}
        for target in (real, unknown):
            wrong = [await login(client, target, WRONG) for _ in range(2)]
            locked = await login(client, target, WRONG)
            answers[target] = (
                [r.status_code for r in wrong],
                wrong[0].json()["detail"],
                locked.status_code,
                locked.json()["detail"].split(" Try again")[0],
            )
        assert answers[real] == answers[unknown]
        assert answers[real][0] == [401, 401] and answers[real][2] == 429


async def test_a_successful_login_clears_the_account_failures(attack) -> None:
    async with attack(login_failures_per_account="3/15 minutes") as attacker:
        client = attacker.client()
        victim = email()
        await register(client, victim)
        for _ in range(2):
            assert (await login(client, victim, WRONG)).status_code == 401
        assert (await login(client, victim)).status_code == 200
        for _ in range(2):
            assert (await login(client, victim, WRONG)).status_code == 401
        assert (await login(client, victim)).status_code == 200


async def test_a_client_spraying_many_accounts_is_locked_out_alone(attack) -> None:
    async with attack(login_failures_per_client="4/15 minutes") as attacker:
        sprayer, bystander = attacker.client(address()), attacker.client(address())
        victim = email()
        await register(bystander, victim)
        for _ in range(4):  # one guess each on many accounts
            assert (await login(sprayer, email(), WRONG)).status_code == 401
        spy = attacker.spy()
        refused = await login(sprayer, victim)
        problem = assert_problem(refused, 429)
        assert "from your network address" in problem["detail"]
        retry_after(refused, FIFTEEN_MINUTES)
        assert spy.calls == 0
        assert (await login(bystander, victim)).status_code == 200


async def test_parallel_guesses_cannot_slip_past_the_account_limit(attack) -> None:
    """The account's attempts are counted atomically before hashing: 20 guesses at once give
    exactly the limit's 3 password checks."""
    async with attack(login_failures_per_account="3/15 minutes", password_hash_wait_seconds=60) as (
        attacker
    ):
        victim = email()
        await register(attacker.client(), victim)
        spy = attacker.spy()
        answers = await asyncio.gather(
            *(login(attacker.client(), victim, WRONG) for _ in range(20))
        )
        statuses = sorted(r.status_code for r in answers)
        assert statuses == [401] * 3 + [429] * 17
        assert spy.calls == 3


class FakeTime:
    """``time.time`` of the limits library's memory storage, moved by the test."""

    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def time(self) -> float:
        return self.now


async def test_the_lock_is_temporary(attack, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeTime()
    monkeypatch.setattr(limits_memory, "time", types.SimpleNamespace(time=clock.time))
    async with attack(login_failures_per_account="2/15 minutes") as attacker:
        attacker.app.state.throttle.clock = clock.time
        client = attacker.client()
        victim = email()
        await register(client, victim)
        for _ in range(2):
            assert (await login(client, victim, WRONG)).status_code == 401
        clock.now += 60
        locked = await login(client, victim)
        wait = retry_after(locked, FIFTEEN_MINUTES)
        assert wait == FIFTEEN_MINUTES - 60 + 1  # strictly after the window's end
        clock.now += wait - 1
        assert (await login(client, victim)).status_code == 429  # one second early
        clock.now += 1
        assert (await login(client, victim)).status_code == 200


async def test_failures_are_shared_through_redis_by_every_replica(attack, redis_url: str) -> None:
    """Two apps on one Redis (two workers or replicas): failures made on one lock the account
    on the other."""
    limits = {"login_failures_per_account": "3/15 minutes", "redis_url": redis_url}
    async with attack(**limits) as first, attack(**limits) as second:
        assert first.app.state.throttle.shared and second.app.state.throttle.shared
        victim = email()
        await register(first.client(), victim)
        for replica in (first, second, first):
            assert (await login(replica.client(), victim, WRONG)).status_code == 401
        spy = second.spy()
        assert_problem(await login(second.client(), victim), 429)
        assert spy.calls == 0


async def test_without_redis_logins_still_work_and_limits_hold_per_process(
    attack, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis configured but unreachable (nothing listens on its port): logins succeed, the
    limits fall back to this process's own counts, and a log record says so."""
    caplog.set_level(logging.INFO, logger="hero_foundry.throttling")
    dead = f"redis://127.0.0.1:{free_port()}/0"
    async with attack(login_failures_per_account="2/15 minutes", redis_url=dead) as attacker:
        client = attacker.client()
        victim = email()
        assert (await register(client, victim)).status_code == 202
        assert (await login(client, victim)).status_code == 200
        for _ in range(2):
            assert (await login(client, victim, WRONG)).status_code == 401
        assert_problem(await login(client, victim), 429)
        assert not attacker.app.state.throttle.shared
    fallbacks = [r for r in caplog.records if "falling back" in r.getMessage()]
    assert fallbacks and fallbacks[0].levelno == logging.WARNING
