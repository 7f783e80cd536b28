"""New passwords follow NIST SP 800-63B (length, not whitespace only, not a common or breached
password), and registration never tells which e-mail addresses have accounts: the same answer
and the same hashing work for a new and a taken address. Registrations are rate-limited per
client address and per e-mail address."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from hero_foundry.accounts import passwords
from tests.security.conftest import (
    PASSWORD,
    address,
    assert_problem,
    email,
    login,
    register,
    retry_after,
    value,
)

pytestmark = pytest.mark.usefixtures("database_url")
ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("seven77", "at least 8 characters"),
        ("        ", "only whitespace"),
        ("\t \n \t \n\u3000", "only whitespace"),  # an ideographic space too
        ("password1", "most commonly used"),
        ("Password1", "most commonly used"),  # compared without case
        ("  qwertyuiop ", "most commonly used"),  # and without surrounding whitespace
        ("iloveyou", "most commonly used"),
        ("1234567890", "most commonly used"),
        ("trustno1", "most commonly used"),
    ],
)
async def test_weak_passwords_are_refused_saying_why(attack, password: str, reason: str) -> None:
    async with attack() as attacker:
        spy = attacker.spy()
        r = await register(attacker.client(), email(), password)
        problem = assert_problem(r, 422)
        (error,) = problem["errors"]
        assert error["field"] == "password"
        assert reason in error["reason"]
        if password.strip():
            assert password.strip() not in r.text  # the password is never echoed
        assert spy.calls == 0  # refused before any hashing


async def test_the_address_itself_is_refused_as_a_password(attack) -> None:
    async with attack() as attacker:
        target = email()
        for password in (target, target.upper(), target.split("@")[0]):
            problem = assert_problem(await register(attacker.client(), target, password), 422)
            assert problem["errors"][0]["field"] == "password"
            assert "e-mail address" in problem["errors"][0]["reason"]


@pytest.mark.parametrize(
    "password",
    [PASSWORD, "Tr0ub4dor&3 of the north", "日本語のパスフレーズです", "x" * 128],
)
async def test_long_passphrases_of_any_characters_are_accepted(attack, password: str) -> None:
    async with attack() as attacker:
        client = attacker.client()
        target = email()
        assert (await register(client, target, password)).status_code == 202
        assert (await login(client, target, password)).status_code == 200


def test_the_common_passwords_come_from_a_declared_package() -> None:
    """The list is zxcvbn's (30,000 passwords of public leak corpora), not typed in by hand."""
    listed = passwords.common_passwords()
    assert len(listed) >= 30_000
    assert {"123456", "password", "qwerty", "letmein"} <= listed
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.startswith("zxcvbn") for d in dependencies)


async def test_a_taken_address_gets_the_same_answer_and_the_same_work(attack) -> None:
    async with attack() as attacker:
        client = attacker.client()
        target = email()
        spy = attacker.spy()
        new = await register(client, target, PASSWORD)
        hashed_new = spy.calls
        taken = await register(client, target.upper(), "a different passphrase")
        assert hashed_new == 1 and spy.calls - hashed_new == 1  # one hash on each path
        assert new.status_code == taken.status_code == 202
        assert new.json() == taken.json()
        assert new.headers["content-type"] == taken.headers["content-type"]
        assert set(new.json()) == {"email", "detail"}  # no id, no creation time
        # The account kept its first password.
        assert (await login(client, target)).status_code == 200
        assert (await login(client, target, "a different passphrase")).status_code == 401


async def test_registrations_are_limited_per_client_before_the_body_is_read(attack) -> None:
    async with attack(registrations_per_client="3/hour") as attacker:
        spammer, someone = attacker.client(address()), attacker.client(address())
        limited = value("rate_limited_requests_total", limit="register")
        for _ in range(3):
            assert (await register(spammer, email())).status_code == 202
        refused = await register(spammer, email())
        problem = assert_problem(refused, 429)
        assert "from your network address" in problem["detail"]
        retry_after(refused, 3600)
        # Even an invalid body is refused by the limit first: no validation work for spam.
        assert_problem(await spammer.post("/api/auth/register", json={"email": "x"}), 429)
        assert value("rate_limited_requests_total", limit="register") - limited == 2
        assert (await register(someone, email())).status_code == 202


async def test_registrations_are_limited_per_email_address(attack) -> None:
    async with attack(registrations_per_email="2/hour") as attacker:
        target = email()
        for _ in range(2):
            assert (await register(attacker.client(address()), target)).status_code == 202
        spy = attacker.spy()
        refused = await register(attacker.client(address()), target.upper())
        assert "for this e-mail address" in assert_problem(refused, 429)["detail"]
        assert spy.calls == 0
