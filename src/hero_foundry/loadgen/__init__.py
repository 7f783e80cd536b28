"""``hero-foundry loadgen``: realistic traffic against the service over loopback.

Python API for tests and drills::

    from hero_foundry.loadgen import Options, run

    summary = await run(Options(base_url="http://127.0.0.1:8000", duration=30, users=5, seed=1))
    assert summary.passed, summary.verdict()

See docs/loadgen.md. ``run`` is imported on first use: importing this package (as ``hero-foundry``'s
command line does) must not import prometheus_client before ``serve`` sets up its multiprocess
directory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hero_foundry.loadgen.options import (
    ACTIVITIES,
    Options,
    OptionsError,
    RemoteRefused,
    check_base_url,
    is_loopback,
    parse_duration,
    parse_mix,
)
from hero_foundry.loadgen.recorder import OperationStats, Summary, Tick, TokenBucket

if TYPE_CHECKING:
    from hero_foundry.loadgen.runner import run

__all__ = [
    "ACTIVITIES",
    "OperationStats",
    "Options",
    "OptionsError",
    "RemoteRefused",
    "Summary",
    "Tick",
    "TokenBucket",
    "check_base_url",
    "is_loopback",
    "parse_duration",
    "parse_mix",
    "run",
]


def __getattr__(name: str) -> Any:
    if name == "run":
        from hero_foundry.loadgen.runner import run

        return run
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
