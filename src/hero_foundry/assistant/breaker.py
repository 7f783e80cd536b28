"""A circuit breaker for the assistant's provider.

Closed: questions go to the provider. After ``failures`` consecutive failed questions (a question
fails once its retries are spent) it opens: for ``reset_seconds`` every question fails at once,
without calling the provider. Then it is half-open: one trial question goes through; its success
closes the breaker, its failure opens it again for another ``reset_seconds``. Questions arriving
while the trial is in flight fail at once too.

Not thread-safe: one breaker belongs to one event loop (one app's provider).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

State = Literal["closed", "open", "half-open"]


class BreakerOpen(Exception):
    """The breaker refuses the call; ``retry_after`` seconds until it lets one through."""

    def __init__(self, retry_after: float, failures: int) -> None:
        super().__init__(f"circuit breaker open, retry after {retry_after:.1f} s")
        self.retry_after = retry_after
        self.failures = failures


class CircuitBreaker:
    def __init__(
        self,
        failures: int,
        reset_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = failures
        self.reset_seconds = reset_seconds
        self._clock = clock
        self.state: State = "closed"
        self.consecutive_failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False

    def acquire(self) -> None:
        """Call before each question; raises ``BreakerOpen`` when it must fail fast."""
        if self.state == "closed":
            return
        if self.state == "open":
            remaining = self._opened_at + self.reset_seconds - self._clock()
            if remaining > 0:
                raise BreakerOpen(remaining, self.consecutive_failures)
            self.state = "half-open"
        if self._trial_in_flight:
            raise BreakerOpen(min(1.0, self.reset_seconds), self.consecutive_failures)
        self._trial_in_flight = True

    def success(self) -> None:
        self.state = "closed"
        self.consecutive_failures = 0
        self._trial_in_flight = False

    def failure(self) -> None:
        self.consecutive_failures += 1
        if self.state == "half-open" or self.consecutive_failures >= self.threshold:
            self.state = "open"
            self._opened_at = self._clock()
        self._trial_in_flight = False

    def release(self) -> None:
        """The question ended with neither outcome (cancelled): free the trial slot."""
        self._trial_in_flight = False
