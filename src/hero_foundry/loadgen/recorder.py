"""What a load run measured: per-operation counts, statuses and latencies, and the rate limit."""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class TokenBucket:
    """``rate`` tokens a second, holding at most ``capacity``; :meth:`take` waits for one.

    Waiters are served in arrival order (an :class:`asyncio.Lock` is fair), so no user starves
    and the total never exceeds ``capacity + rate × elapsed``."""

    def __init__(
        self, rate: float, capacity: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.capacity = max(1.0, capacity)
        self._tokens = self.capacity
        self._clock = clock
        self._updated = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    async def take(self) -> None:
        async with self._lock:
            while True:
                self._refill()
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)

    def try_take(self) -> bool:
        """Take a token if one is there now; never waits."""
        self._refill()
        if self._tokens >= 1 and not self._lock.locked():
            self._tokens -= 1
            return True
        return False


def percentile(sorted_values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of sorted values, nearest rank; ``None`` when empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class OperationStats:
    """One operation (``wizard.race``, ``export.pdf`` ...) over the whole run.

    ``ok``: the status the flow expects. ``refused``: a status the flow expects sometimes and
    handles (a 422 on a choice the server found illegal, a 429 on telemetry): counted, not
    errors. ``errors``: any other status, a timeout or a transport failure, by kind."""

    requests: int = 0
    ok: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def refused_count(self) -> int:
        return sum(self.refused.values())

    def quantiles(self) -> dict[str, float | None]:
        ordered = sorted(self.latencies)
        return {
            "p50": percentile(ordered, 0.50),
            "p95": percentile(ordered, 0.95),
            "max": ordered[-1] if ordered else None,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "ok": self.ok,
            "refused": dict(self.refused),
            "errors": dict(self.errors),
            "latency_seconds": self.quantiles(),
        }


@dataclass
class Tick:
    """A progress snapshot, handed to ``on_tick`` while the run goes on."""

    elapsed: float
    duration: float
    requests: int
    errors: int
    in_flight: int
    sessions: int


@dataclass
class Summary:
    """The result of :func:`hero_foundry.loadgen.run`."""

    base_url: str
    users: int
    duration: float
    max_rps: float
    seed: int | None
    elapsed: float
    operations: dict[str, OperationStats]
    #: What the traffic achieved: ``characters_created``, ``levels_gained``, ``edits``, ...
    outcomes: Counter[str]
    #: Requests abandoned in flight at the hard stop (not counted as requests).
    cancelled: int
    #: Bugs of the load generator itself (an exception in a user's flow): ``"Type: message"``.
    crashes: list[str]
    max_error_rate: float
    stopped_early: bool = False

    @property
    def requests(self) -> int:
        return sum(op.requests for op in self.operations.values())

    @property
    def errors(self) -> int:
        return sum(op.error_count for op in self.operations.values())

    @property
    def refused(self) -> int:
        return sum(op.refused_count for op in self.operations.values())

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 1.0

    @property
    def passed(self) -> bool:
        """Requests were made, errors stayed within ``max_error_rate`` and nothing crashed."""
        return self.requests > 0 and self.error_rate <= self.max_error_rate and not self.crashes

    def verdict(self) -> str:
        if not self.requests:
            return "no request completed"
        word = "within" if self.error_rate <= self.max_error_rate else "above"
        text = (
            f"error rate {self.error_rate:.2%} ({self.errors} of {self.requests}) {word} "
            f"the limit {self.max_error_rate:.2%}"
        )
        if self.crashes:
            text += f"; {len(self.crashes)} load generator crash(es)"
        return text

    def errors_by_status(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for op in self.operations.values():
            total.update(op.errors)
        return total

    def as_dict(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "users": self.users,
            "duration_seconds": self.duration,
            "max_rps": self.max_rps,
            "seed": self.seed,
            "elapsed_seconds": round(self.elapsed, 3),
            "requests": self.requests,
            "errors": self.errors,
            "refused": self.refused,
            "error_rate": self.error_rate,
            "max_error_rate": self.max_error_rate,
            "passed": self.passed,
            "stopped_early": self.stopped_early,
            "cancelled_in_flight": self.cancelled,
            "crashes": list(self.crashes),
            "outcomes": dict(sorted(self.outcomes.items())),
            "operations": {name: op.as_dict() for name, op in sorted(self.operations.items())},
        }


class Recorder:
    """Collects every request's outcome; shared by all users of a run (one event loop)."""

    MAX_CRASHES_KEPT = 20

    def __init__(self) -> None:
        self.operations: dict[str, OperationStats] = {}
        self.outcomes: Counter[str] = Counter()
        self.in_flight = 0
        self.cancelled = 0
        self.crashes: list[str] = []
        self.crash_count = 0
        #: Monotonic start times of the requests sent, in order (for rate checks).
        self.sent_at: list[float] = []

    def op(self, name: str) -> OperationStats:
        stats = self.operations.get(name)
        if stats is None:
            stats = self.operations[name] = OperationStats()
        return stats

    def ok(self, name: str, seconds: float) -> None:
        stats = self.op(name)
        stats.requests += 1
        stats.ok += 1
        stats.latencies.append(seconds)

    def refused(self, name: str, status: int, seconds: float) -> None:
        stats = self.op(name)
        stats.requests += 1
        stats.refused[str(status)] += 1
        stats.latencies.append(seconds)

    def error(self, name: str, kind: str, seconds: float) -> None:
        stats = self.op(name)
        stats.requests += 1
        stats.errors[kind] += 1
        stats.latencies.append(seconds)

    def outcome(self, name: str, n: int = 1) -> None:
        self.outcomes[name] += n

    def crash(self, exc: BaseException) -> None:
        self.crash_count += 1
        if len(self.crashes) < self.MAX_CRASHES_KEPT:
            self.crashes.append(f"{type(exc).__name__}: {exc}"[:300])

    @property
    def requests(self) -> int:
        return sum(op.requests for op in self.operations.values())

    @property
    def errors(self) -> int:
        return sum(op.error_count for op in self.operations.values())
