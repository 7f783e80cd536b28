"""``run(options)``: the virtual users, the global rate limit and the hard stop."""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import time
from collections.abc import Callable

import httpx

from hero_foundry import __version__
from hero_foundry.loadgen.client import Api
from hero_foundry.loadgen.options import Options
from hero_foundry.loadgen.player import Player
from hero_foundry.loadgen.recorder import Recorder, Summary, Tick, TokenBucket

#: Telemetry batches the run may send at once after a quiet moment.
TELEMETRY_BURST = 10


def user_rng(seed: int | None, number: int) -> random.Random:
    """User ``number``'s random generator: its own stream, reproducible from the run's seed."""
    if seed is None:
        return random.Random()
    return random.Random(f"hero-foundry-loadgen:{seed}:{number}")


async def run(
    options: Options,
    *,
    on_tick: Callable[[Tick], None] | None = None,
    tick_seconds: float = 0.25,
    stop: asyncio.Event | None = None,
    recorder: Recorder | None = None,
) -> Summary:
    """Drive ``options.users`` virtual users against ``options.base_url`` for
    ``options.duration`` seconds, then stop them all (requests in flight are abandoned) and
    return what was measured. ``stop`` ends the run early (Ctrl-C); ``on_tick`` sees progress.

    Raises :class:`~hero_foundry.loadgen.options.OptionsError` (``RemoteRefused`` for a
    non-loopback URL without ``allow_remote``) before sending anything."""
    options = options.checked()
    duration = float(options.duration)
    recorder = recorder or Recorder()
    bucket = TokenBucket(options.max_rps, options.bucket_size)
    telemetry_budget = TokenBucket(
        options.telemetry_per_minute / 60.0, min(TELEMETRY_BURST, options.telemetry_per_minute)
    )
    # Account e-mails must not collide with an earlier run's: a random tag, outside the seed.
    run_tag = secrets.token_hex(4)
    limits = httpx.Limits(
        max_connections=options.users * 2 + 4, max_keepalive_connections=options.users * 2
    )
    stop = stop or asyncio.Event()
    started = time.monotonic()

    def tick() -> Tick:
        return Tick(
            elapsed=min(time.monotonic() - started, duration),
            duration=duration,
            requests=recorder.requests,
            errors=recorder.errors,
            in_flight=recorder.in_flight,
            sessions=recorder.outcomes["visits"],
        )

    async def ticker() -> None:
        while True:
            if on_tick is not None:
                on_tick(tick())
            await asyncio.sleep(tick_seconds)

    async with httpx.AsyncClient(
        base_url=options.base_url,
        transport=options.transport,
        timeout=httpx.Timeout(options.timeout),
        limits=limits,
        headers={"User-Agent": f"hero-foundry-loadgen/{__version__}"},
        follow_redirects=False,
        trust_env=False,  # loopback traffic never goes through a proxy from the environment
    ) as client:
        users = []
        for number in range(options.users):
            rng = user_rng(options.seed, number)
            delay = options.ramp_up * (number / options.users) * rng.uniform(0.8, 1.2)
            player = Player(
                number,
                Api(client, bucket, recorder),
                rng,
                options,
                recorder,
                telemetry_budget,
                run_tag,
            )
            users.append(asyncio.create_task(player.live(delay), name=f"loadgen-user-{number}"))
        progress = asyncio.create_task(ticker())
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait([stopper], timeout=duration)
        finally:
            stopped_early = stop.is_set()
            elapsed = time.monotonic() - started
            for task in [*users, progress, stopper]:
                task.cancel()
            for task in [*users, progress, stopper]:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    if on_tick is not None:
        final = tick()
        final.elapsed = min(elapsed, duration)
        on_tick(final)
    return Summary(
        base_url=options.base_url,
        users=options.users,
        duration=duration,
        max_rps=options.max_rps,
        seed=options.seed,
        elapsed=elapsed,
        operations=dict(recorder.operations),
        outcomes=recorder.outcomes.copy(),
        cancelled=recorder.cancelled,
        crashes=list(recorder.crashes),
        max_error_rate=options.max_error_rate,
        stopped_early=stopped_early,
    )
