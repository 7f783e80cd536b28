"""Accounts: registration, login tokens (hashed, expiring, revocable) and secrecy in logs."""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from hero_foundry.accounts.models import AuthToken, User
from hero_foundry.accounts.security import token_digest
from hero_foundry.storage.base import utcnow
from hero_foundry.storage.db import unit_of_work
from tests.integration.api import PASSWORD

pytestmark = pytest.mark.usefixtures("database_url")


async def register(client: httpx.AsyncClient, email: str, password: str = PASSWORD):
    return await client.post("/api/auth/register", json={"email": email, "password": password})


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD):
    return await client.post("/api/auth/login", json={"email": email, "password": password})


async def test_register_login_me_logout(client: httpx.AsyncClient, unique_email: str) -> None:
    r = await register(client, unique_email)
    assert r.status_code == 202
    assert r.json()["email"] == unique_email
    r = await login(client, unique_email.upper())  # e-mail addresses are case-insensitive
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer" and len(body["access_token"]) >= 40
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    me = await client.get("/api/me", headers=headers)
    assert me.status_code == 200
    assert set(me.json()) == {"id", "email", "created_at"}
    assert me.json()["email"] == unique_email
    assert (await client.post("/api/auth/logout", headers=headers)).status_code == 204
    after = await client.get("/api/me", headers=headers)
    assert after.status_code == 401
    assert after.headers["content-type"] == "application/problem+json"
    assert after.headers["www-authenticate"] == "Bearer"


async def test_passwords_are_argon2id_and_tokens_stored_hashed(
    client: httpx.AsyncClient, unique_email: str
) -> None:
    await register(client, unique_email)
    token = (await login(client, unique_email)).json()["access_token"]
    async with unit_of_work(client.app.state.sessions) as db:
        user = await db.scalar(select(User).where(User.email == unique_email))
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
        row = await db.scalar(select(AuthToken).where(AuthToken.user_id == user.id))
        assert row.token_hash == token_digest(token) != token
        assert row.expires_at > utcnow() + timedelta(days=6)


async def test_expired_token_is_refused(client: httpx.AsyncClient, unique_email: str) -> None:
    await register(client, unique_email)
    token = (await login(client, unique_email)).json()["access_token"]
    async with unit_of_work(client.app.state.sessions) as db:
        await db.execute(
            update(AuthToken)
            .where(AuthToken.token_hash == token_digest(token))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    r = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic dXNlcjpwYXNz"}],
    ids=["none", "unknown", "basic"],
)
async def test_requests_without_a_valid_token_get_401(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    for method, url in [
        ("GET", "/api/me"),
        ("POST", "/api/characters/drafts"),
        ("GET", "/api/characters"),
        ("POST", "/api/auth/logout"),
    ]:
        r = await client.request(method, url, headers=headers)
        assert r.status_code == 401, (method, url)
        assert r.json()["status"] == 401


async def test_registering_a_taken_address_answers_as_a_new_one_and_changes_nothing(
    client: httpx.AsyncClient, unique_email: str
) -> None:
    first = await register(client, unique_email)
    again = await register(client, unique_email.upper(), "another passphrase")
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert (await login(client, unique_email)).status_code == 200  # the first password holds
    assert (await login(client, unique_email, "another passphrase")).status_code == 401


async def test_wrong_password_and_unknown_user_look_the_same(
    client: httpx.AsyncClient, unique_email: str
) -> None:
    await register(client, unique_email)
    wrong = await login(client, unique_email, "not the password")
    unknown = await login(client, "nobody-" + unique_email, "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "a@example.com", "password": "short"}, "password"),
        ({"email": "a@example.com", "password": "x" * 129}, "password"),
        ({"email": "a@example.com"}, "password"),
        ({"email": "a@example.com", "password": PASSWORD, "admin": True}, "admin"),
        ({"email": 42, "password": PASSWORD}, "email"),
    ],
)
async def test_bad_registration_names_the_field(
    client: httpx.AsyncClient, body: dict, field: str
) -> None:
    r = await client.post("/api/auth/register", json=body)
    assert r.status_code == 422
    problem = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in problem["errors"]]
    assert "short" not in r.text and "xxxx" not in r.text  # submitted values are not echoed


async def test_passwords_and_tokens_never_reach_the_logs(
    client: httpx.AsyncClient, unique_email: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "s3cret-Passphrase-that-must-not-leak"
    await register(client, unique_email, secret)
    token = (await login(client, unique_email, secret)).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    await client.get("/api/me", headers=headers)
    await client.post("/api/auth/logout", headers=headers)
    await client.get("/api/me", headers=headers)
    await login(client, unique_email, secret + "-wrong")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert secret not in logged
    assert token not in logged
    assert token_digest(token) not in logged
    me = await client.get("/api/me", headers=headers)
    assert secret not in me.text and token not in me.text
