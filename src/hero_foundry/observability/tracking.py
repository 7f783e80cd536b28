"""Outcome and duration of business operations, recorded by one tracker.

``track("ai_query")`` works as a context manager (``with`` or ``async with``) and as a decorator
(of sync or async functions). On a normal exit it counts a success; on an exception it counts a
failure, except for refused input (a problem with a 4xx status: the operation did not happen,
the client asked for something the rules do not allow). The aggregate counter (``*_total``)
counts every attempt that was not refused. The duration is measured with ``perf_counter``, or set
explicitly when the operation's real length is not the code's (the wizard's time is from the
draft's start to its finalization)::

    with track("character_creation") as op:
        ...
        op.duration = (finished_at - draft.started_at).total_seconds()
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

from prometheus_client import Counter, Histogram

from hero_foundry.observability import metrics as m

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Operation:
    success: Counter
    failure: Counter
    duration: Histogram | None
    total: Counter | None
    #: Label names the metrics of this operation take (e.g. ``format`` for exports).
    labels: tuple[str, ...] = ()


OPERATIONS: dict[str, Operation] = {
    "character_creation": Operation(
        m.CHARACTER_CREATION_SUCCESS,
        m.CHARACTER_CREATION_FAILURE,
        m.CHARACTER_CREATION_DURATION,
        m.CHARACTERS_CREATED,
    ),
    "level_up": Operation(
        m.LEVEL_UP_SUCCESS, m.LEVEL_UP_FAILURE, m.LEVEL_UP_DURATION, m.CHARACTERS_LEVELED_UP
    ),
    "ai_query": Operation(
        m.AI_QUERY_SUCCESS, m.AI_QUERY_FAILURE, m.AI_QUERY_DURATION, m.AI_QUERIES
    ),
    "export": Operation(
        m.EXPORT_SUCCESS, m.EXPORT_FAILURE, m.EXPORT_DURATION, m.EXPORT_OPERATIONS, ("format",)
    ),
}


def _refused(exc: BaseException | None) -> bool:
    status = getattr(exc, "status", None) or getattr(exc, "status_code", None)
    return isinstance(status, int) and 400 <= status < 500


class track:
    """Record one operation's outcome and duration (see the module docstring)."""

    def __init__(self, operation: str, **labels: str) -> None:
        self.op = OPERATIONS[operation]
        if set(labels) != set(self.op.labels):
            raise ValueError(f"{operation} takes labels {self.op.labels}, got {sorted(labels)}")
        self.labels = labels
        #: Set to record this many seconds instead of the measured time.
        self.duration: float | None = None
        self._start = 0.0

    def _metric(self, metric: Counter | Histogram) -> Any:
        return metric.labels(**self.labels) if self.labels else metric

    def __enter__(self) -> track:
        self._start = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None and _refused(exc):
            return
        elapsed = time.perf_counter() - self._start if self.duration is None else self.duration
        if self.op.total is not None:
            self._metric(self.op.total).inc()
        self._metric(self.op.failure if exc is not None else self.op.success).inc()
        if self.op.duration is not None:
            self._metric(self.op.duration).observe(max(0.0, elapsed))

    async def __aenter__(self) -> track:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, func: F) -> F:
        operation = next(k for k, v in OPERATIONS.items() if v is self.op)
        labels = self.labels

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                async with track(operation, **labels):
                    return await func(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with track(operation, **labels):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def count_edit() -> None:
    m.CHARACTER_EDITIONS.inc()


def count_rule_lookup(kind: str) -> None:
    m.RULE_LOOKUPS.labels(kind if kind in m.RULE_LOOKUP_TYPES else "search").inc()
