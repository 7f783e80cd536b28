"""What one request costs in MetricsMiddleware alone, without a server or a network.

Calls each middleware directly around a stub ASGI app (it sets ``scope["route"]`` as the router
does and sends a 200 with a 120-byte body), many times, interleaved, and reports the median time
per request and the overhead over the bare stub. ``--profile`` adds cProfile's view of where our
middleware's time goes. Compared: the bare stub, a minimal pure ASGI middleware that only wraps
``send`` (the floor of any such middleware), ours, and optionally ``--custom module:Class``.

    .venv/bin/python benchmarks/profile_middleware.py --profile
    PYTHONPATH=benchmarks/candidates .venv/bin/python benchmarks/profile_middleware.py \\
        --custom metrics_middleware_cached:MetricsMiddleware
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib
import io
import pstats
import statistics
import sys
import time
from typing import Any

from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hero_foundry.observability.middleware import MetricsMiddleware

ROUTE = Route("/api/characters/{character_id}", lambda request: None)
START: Message = {"type": "http.response.start", "status": 200, "headers": []}
BODY: Message = {"type": "http.response.body", "body": b"x" * 120}


async def stub(scope: Scope, receive: Receive, send: Send) -> None:
    scope["route"] = ROUTE
    await send(START)
    await send(BODY)


class Minimal:
    """The least a pure ASGI metrics middleware does: wrap ``send`` to see the status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def wrapped(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, wrapped)


async def receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def discard(message: Message) -> None:
    return None


async def per_request_us(app: ASGIApp, requests: int) -> float:
    start = time.perf_counter()
    for number in range(requests):
        scope = {"type": "http", "method": "GET", "path": f"/api/characters/{number}"}
        await app(scope, receive, discard)
    return (time.perf_counter() - start) / requests * 1e6


async def compare(apps: dict[str, ASGIApp], repeats: int, requests: int) -> dict[str, Any]:
    timings: dict[str, list[float]] = {name: [] for name in apps}
    for app in apps.values():
        await per_request_us(app, requests // 4)  # warm-up: label children, caches
    for _ in range(repeats):
        for name, app in apps.items():
            timings[name].append(await per_request_us(app, requests))
    bare = statistics.median(timings["bare"])
    return {
        name: {
            "median_us": statistics.median(values),
            "min_us": min(values),
            "overhead_us": statistics.median(values) - bare,
        }
        for name, values in timings.items()
    }


async def profile(app: ASGIApp, requests: int, top: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    await per_request_us(app, requests)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000, help="requests per timing")
    parser.add_argument("--repeats", type=int, default=9, help="interleaved timings per case")
    parser.add_argument("--custom", metavar="MODULE:CLASS", help="also time this middleware")
    parser.add_argument("--profile", action="store_true", help="cProfile ours (and --custom)")
    args = parser.parse_args(argv)

    apps: dict[str, ASGIApp] = {
        "bare": stub,
        "minimal": Minimal(stub),
        "ours": MetricsMiddleware(stub),
    }
    if args.custom:
        module_name, _, class_name = args.custom.partition(":")
        apps["custom"] = getattr(importlib.import_module(module_name), class_name)(stub)
    results = asyncio.run(compare(apps, args.repeats, args.requests))

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Per-request cost, median of {args.repeats} x {args.requests:,} calls")
    for name in ("case", "us/request", "min", "overhead over bare"):
        table.add_column(name, justify="left" if name == "case" else "right")
    for name, result in results.items():
        label = f"custom: {args.custom}" if name == "custom" else name
        table.add_row(
            label,
            f"{result['median_us']:.2f}",
            f"{result['min_us']:.2f}",
            f"{result['overhead_us']:.2f}",
        )
    console = Console()
    if not console.is_terminal:
        console = Console(width=120)
    console.print(table)
    if args.profile:
        for name in ("ours", "custom"):
            if name in apps:
                print(f"--- cProfile, {name}, by own time ---")
                print(asyncio.run(profile(apps[name], args.requests, 14)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
