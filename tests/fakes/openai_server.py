"""A local OpenAI-compatible chat completions server for tests.

It speaks just enough of ``POST /v1/chat/completions`` for the assistant, records every request
(path, headers, JSON body, arrival time) and misbehaves on demand:

- ``normal``: answers ``answer`` as a chat completion;
- ``slow``: sleeps ``slow_seconds`` (longer than the client's timeout), then answers;
- ``failing``: HTTP 500 with an OpenAI-style error body;
- ``rate-limited``: HTTP 429 (``Retry-After: 0``) for the first ``rate_limited_times`` requests
  after ``reset()``, then answers normally;
- ``refusing``: HTTP 401, as with a wrong API key.

It runs uvicorn on 127.0.0.1 and a free port, in a background thread with its own event loop.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

Mode = Literal["normal", "slow", "failing", "rate-limited", "refusing"]


@dataclass(frozen=True)
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float


class FakeOpenAI:
    def __init__(self) -> None:
        self.mode: Mode = "normal"
        self.answer = ""
        self.slow_seconds = 1.0
        self.rate_limited_times = 1
        self._requests: list[Recorded] = []
        self._lock = threading.Lock()
        app = Starlette(routes=[Route("/v1/chat/completions", self._complete, methods=["POST"])])
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    # -- control ------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake OpenAI server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def reset(self, mode: Mode = "normal", answer: str = "", **options: Any) -> None:
        with self._lock:
            self.mode = mode
            self.answer = answer
            self.slow_seconds = options.get("slow_seconds", 1.0)
            self.rate_limited_times = options.get("rate_limited_times", 1)
            self._requests = []

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    # -- the API ------------------------------------------------------------------------------
    async def _complete(self, request: Request) -> JSONResponse:
        body = await request.json()
        with self._lock:
            self._requests.append(
                Recorded(request.url.path, dict(request.headers), body, time.monotonic())
            )
            seen = len(self._requests)
            mode = self.mode
        if mode == "slow":
            await asyncio.sleep(self.slow_seconds)
        elif mode == "failing":
            return _error(500, "The server had an error while processing your request.")
        elif mode == "refusing":
            return _error(401, "Incorrect API key provided.")
        elif mode == "rate-limited" and seen <= self.rate_limited_times:
            return _error(429, "Rate limit reached.", headers={"Retry-After": "0"})
        return JSONResponse(
            {
                "id": f"chatcmpl-fake-{seen}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": self.answer},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            }
        )


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": "fake_error", "code": status}}
    return JSONResponse(body, status_code=status, headers=headers)
