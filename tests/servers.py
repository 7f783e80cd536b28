"""Waiting for a server a test started as a subprocess (``hero-foundry serve``)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import httpx
import pytest


def wait_until_serving(
    base: str,
    server: subprocess.Popen,
    timeout: float = 60.0,
    output: Callable[[], str] | None = None,
) -> None:
    """Return once ``GET {base}/healthz`` answers 200; fail the test, with the server's output
    when ``output`` gives it, if the server exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            reason = "exited" if server.poll() is not None else f"did not answer in {timeout:g} s"
            pytest.fail(f"server at {base} {reason}" + (f":\n{output()}" if output else ""))
        time.sleep(0.2)
