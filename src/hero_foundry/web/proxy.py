"""Forwarding ``/api/*`` to the api: one pooled httpx client, bodies streamed both ways.

What reaches the api: the method, the path and query string exactly as the browser sent them
(percent-encoding kept), every end-to-end header (``Authorization``, cookies, ``Content-Type``,
``Accept-Encoding``, ...) and the body as it arrives. Hop-by-hop headers (RFC 9110 7.6.1: those
named by ``Connection`` too) are dropped both ways. Added:

- ``X-Forwarded-For``: the incoming list (if any) plus the address of the peer, last. The api's
  uvicorn trusts this header from loopback (``FORWARDED_ALLOW_IPS``, default ``127.0.0.1,::1``)
  and takes the last address that is not a trusted proxy as the client, so the telemetry rate
  limit and the access log see the browser; a browser cannot choose its address by sending the
  header itself, because the real peer is always appended after what it sent.
- ``X-Forwarded-Proto`` (the scheme the browser used) and ``X-Forwarded-Host`` (its ``Host``).
- ``X-Request-ID``: this request's id, so the web tier's and the api's log records share it.

The api unreachable or failing mid-handshake: ``502`` problem; no answer within the timeout:
``504`` problem. The api's own answers (problems included) pass through unchanged.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from fastapi import Request, Response
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from hero_foundry.observability.logs import current_request_id
from hero_foundry.problems import problem_response

log = logging.getLogger("hero_foundry.web.proxy")

PROXY_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
#: RFC 9110 7.6.1 hop-by-hop fields (plus the obsolete ``Proxy-Connection``): one connection's
#: business, never forwarded. ``Host`` is the api's; the forwarding headers are rebuilt.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
_REBUILT_REQUEST = frozenset(
    {b"host", b"expect", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host"}
) | {b"x-request-id"}
#: The web tier's server writes its own ``Date`` and ``Server``.
_REBUILT_RESPONSE = frozenset({b"date", b"server"})
#: A connection to the api must open quickly: longer means it is down or overloaded.
CONNECT_TIMEOUT_SECONDS = 5.0
#: Status recorded when the browser went away before the answer (nginx's convention).
CLIENT_CLOSED = 499


def _connection_tokens(headers: list[tuple[bytes, bytes]]) -> set[bytes]:
    """Header names listed in ``Connection`` (hop-by-hop too)."""
    return {
        token.strip().lower()
        for name, value in headers
        if name.lower() == b"connection"
        for token in value.split(b",")
        if token.strip()
    }


def _end_to_end(
    headers: list[tuple[bytes, bytes]], also: frozenset[bytes]
) -> list[tuple[bytes, bytes]]:
    dropped = HOP_BY_HOP | also | _connection_tokens(headers)
    return [(name.lower(), value) for name, value in headers if name.lower() not in dropped]


class _Streamed(Response):
    """The api's answer, passed on chunk by chunk; the upstream connection is released however
    the transfer ends (finished, browser gone, api gone)."""

    def __init__(self, upstream: httpx.Response, headers: list[tuple[bytes, bytes]]) -> None:
        self.upstream = upstream
        self.status_code = upstream.status_code
        self.raw_headers = headers
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            async for chunk in self.upstream.aiter_raw():
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await self.upstream.aclose()


class ApiProxy:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 100,
    ) -> None:
        self.base = httpx.URL(base_url)
        self.timeout = httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT_SECONDS, timeout))
        self.transport = transport
        self.max_connections = max_connections
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        """Open the shared client (the application's lifespan)."""
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self.transport,
                limits=httpx.Limits(
                    max_connections=self.max_connections,
                    max_keepalive_connections=min(20, self.max_connections),
                ),
                timeout=self.timeout,
                follow_redirects=False,  # the browser follows the api's redirects itself
                trust_env=False,  # never through HTTP(S)_PROXY: the api is ours, next door
            )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("the api client is not started (the app's lifespan starts it)")
        return self._client

    async def health(self) -> int:
        """The api's ``/healthz`` status (raises httpx errors when unreachable)."""
        response = await self.client.get(self._join(b"/healthz"))
        return response.status_code

    def _join(self, raw_path: bytes, query: bytes = b"") -> httpx.URL:
        """``raw_path`` under the api's base URL (its path prefix, if any, kept)."""
        prefix = self.base.raw_path.split(b"?", 1)[0].rstrip(b"/")
        return self.base.copy_with(raw_path=prefix + raw_path + (b"?" + query if query else b""))

    def _url(self, scope: Scope) -> httpx.URL:
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        return self._join(raw_path, scope.get("query_string", b""))

    def _headers(self, request: Request) -> list[tuple[bytes, bytes]]:
        incoming: list[tuple[bytes, bytes]] = request.headers.raw
        headers = _end_to_end(incoming, _REBUILT_REQUEST)
        forwarded_for = [value.strip() for name, value in incoming if name == b"x-forwarded-for"]
        if request.client is not None and request.client.host:
            forwarded_for.append(request.client.host.encode("latin-1"))
        if forwarded_for:
            headers.append((b"x-forwarded-for", b", ".join(forwarded_for)))
        headers.append((b"x-forwarded-proto", request.url.scheme.encode("latin-1")))
        host = request.headers.get("host")
        if host:
            headers.append((b"x-forwarded-host", host.encode("latin-1")))
        request_id = current_request_id()
        if request_id:
            headers.append((b"x-request-id", request_id.encode("latin-1")))
        return headers

    @staticmethod
    def _content(request: Request) -> Any:
        length = request.headers.get("content-length")
        if length is not None:
            return request.stream() if length.strip() not in ("", "0") else b""
        if "transfer-encoding" in request.headers:
            return request.stream()
        return None

    async def forward(self, request: Request) -> Response:
        upstream_request = httpx.Request(
            request.method,
            self._url(request.scope),
            headers=self._headers(request),
            content=self._content(request),
            extensions={"timeout": self.timeout.as_dict()},
        )
        try:
            upstream = await self.client.send(upstream_request, stream=True)
        except ClientDisconnect:
            # The browser left, or the body limit answered 413 already: nothing to send.
            return Response(status_code=CLIENT_CLOSED)
        except httpx.TimeoutException as exc:
            self._failed(request, exc)
            return problem_response(
                504,
                "Gateway Timeout",
                "The api did not answer in time; try again shortly.",
                instance=request.url.path,
            )
        except httpx.TransportError as exc:
            self._failed(request, exc)
            return problem_response(
                502,
                "Bad Gateway",
                "The api is not reachable right now; try again shortly.",
                instance=request.url.path,
                headers={"Retry-After": "5"},
            )
        headers = _end_to_end(list(upstream.headers.raw), _REBUILT_RESPONSE)
        return _Streamed(upstream, headers)

    def _failed(self, request: Request, exc: Exception) -> None:
        log.warning(
            "api %s for %s %s: %s: %s",
            "timed out" if isinstance(exc, httpx.TimeoutException) else "unreachable",
            request.method,
            request.url.path,
            type(exc).__name__,
            exc or "no detail",
            extra={"url.full": str(self.base)},
        )
