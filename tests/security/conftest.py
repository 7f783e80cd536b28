"""Attacking the app over HTTP: each test builds an app with the limits it needs (the suite's
shared app has them relaxed) and talks to it as clients from chosen addresses."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from prometheus_client import REGISTRY

from hero_foundry.app import create_app
from tests.conftest import make_settings

PASSWORD = "correct horse battery staple"
WRONG = "not the password at all"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def email() -> str:
    return f"target-{uuid.uuid4().hex[:12]}@example.com"


def address() -> str:
    """A client address of its own (documentation range), so tests never share a limit."""
    return f"2001:db8:{uuid.uuid4().int % 0xFFFF:x}:{uuid.uuid4().int % 0xFFFF:x}::7"


class SpyHasher(PasswordHasher):
    """argon2-cffi's hasher, counting every hash and verification it is asked for."""

    def __init__(self, real: PasswordHasher) -> None:
        super().__init__(time_cost=real.time_cost, memory_cost=real.memory_cost)
        self.calls = 0
        self._lock = threading.Lock()

    def _count(self) -> None:
        with self._lock:
            self.calls += 1

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self._count()
        return super().hash(password, salt=salt)

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self._count()
        return super().verify(hash, password)


class Attacker:
    """HTTP clients on one app, each from the address it is given."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._clients: list[httpx.AsyncClient] = []

    def client(self, host: str | None = None) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=(host or address(), 40000))
        client = httpx.AsyncClient(transport=transport, base_url="http://test")
        self._clients.append(client)
        return client

    def spy(self) -> SpyHasher:
        """Replace the app's hasher with a counting one (the hashing gate keeps its slots)."""
        spy = SpyHasher(self.app.state.hashing.hasher)
        self.app.state.hashing.hasher = spy
        return spy

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()


@pytest.fixture
def attack(database_url: str) -> Callable[..., Any]:
    """``async with attack(**settings) as attacker``: a fresh app (lifespan running) with these
    settings over the suite's defaults."""

    @contextlib.asynccontextmanager
    async def start(**overrides: object) -> AsyncIterator[Attacker]:
        app = create_app(make_settings(database_url, **overrides))
        async with app.router.lifespan_context(app):
            attacker = Attacker(app)
            try:
                yield attacker
            finally:
                await attacker.aclose()

    return start


async def register(client: httpx.AsyncClient, address: str, password: str = PASSWORD):
    return await client.post("/api/auth/register", json={"email": address, "password": password})


async def login(client: httpx.AsyncClient, address: str, password: str = PASSWORD):
    return await client.post("/api/auth/login", json={"email": address, "password": password})


async def token_of(client: httpx.AsyncClient, address: str, password: str = PASSWORD) -> str:
    r = await login(client, address, password)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status and problem["title"]
    assert "Traceback" not in response.text
    return problem


def retry_after(response: httpx.Response, at_most: float) -> int:
    """The ``Retry-After`` of a refusal: whole seconds, at least 1, at most ``at_most``."""
    seconds = int(response.headers["retry-after"])
    assert 1 <= seconds <= at_most, seconds
    return seconds
