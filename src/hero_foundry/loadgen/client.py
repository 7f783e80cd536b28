"""One HTTP call of a virtual user: rate-limited, timed, and recorded as ok, refused or error."""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import httpx

from hero_foundry.loadgen.recorder import Recorder, TokenBucket


class VisitFailed(Exception):
    """A request failed (unexpected status, timeout, connection error): the visit is over and
    the user starts a new one. Already recorded when raised."""

    def __init__(self, operation: str, kind: str) -> None:
        super().__init__(f"{operation}: {kind}")
        self.operation = operation
        self.kind = kind


@dataclass
class Reply:
    status: int
    #: The JSON body when the response has one, else ``None``.
    data: Any
    response: httpx.Response

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def _transport_error_kind(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "connect"
    return "transport"  # the server closed the connection, a protocol error ...


class Api:
    """Calls the service for one user (``headers`` carry its bearer token once logged in)."""

    def __init__(self, client: httpx.AsyncClient, bucket: TokenBucket, recorder: Recorder) -> None:
        self.client = client
        self.bucket = bucket
        self.recorder = recorder
        self.headers: dict[str, str] = {}

    async def call(
        self,
        operation: str,
        method: str,
        url: str,
        *,
        expect: Collection[int] = (200,),
        refuse: Collection[int] = (),
        json: Any = None,
        params: dict[str, Any] | None = None,
        content: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        anonymous: bool = False,
    ) -> Reply:
        """Send one request; return its reply when its status is in ``expect`` or ``refuse``,
        else record the error and raise :class:`VisitFailed`. ``anonymous``: without the
        user's bearer token (as a browser beacon)."""
        await self.bucket.take()
        recorder = self.recorder
        recorder.in_flight += 1
        recorder.sent_at.append(time.monotonic())
        started = time.perf_counter()
        done = False
        try:
            try:
                response = await self.client.request(
                    method,
                    url,
                    json=json,
                    params=params,
                    content=content,
                    headers={**({} if anonymous else self.headers), **(headers or {})},
                )
            except httpx.TransportError as exc:
                kind = _transport_error_kind(exc)
                recorder.error(operation, kind, time.perf_counter() - started)
                done = True
                raise VisitFailed(operation, kind) from None
            seconds = time.perf_counter() - started
            status = response.status_code
            done = True
            if status not in expect and status not in refuse:
                recorder.error(operation, str(status), seconds)
                raise VisitFailed(operation, str(status))
            data = None
            if response.headers.get("content-type", "").split(";")[0].strip().endswith("json"):
                try:
                    data = response.json()
                except ValueError:
                    recorder.error(operation, "invalid-json", seconds)
                    raise VisitFailed(operation, "invalid-json") from None
            if status in expect:
                recorder.ok(operation, seconds)
            else:
                recorder.refused(operation, status, seconds)
            return Reply(status, data, response)
        finally:
            recorder.in_flight -= 1
            if not done:  # cancelled at the hard stop (or by Ctrl-C) while waiting
                recorder.cancelled += 1
