"""Fixtures of the monitoring tests."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import unavailable


@pytest.fixture(scope="session")
def promtool() -> str:
    """promtool (Debian package prometheus): skipped without it, a failure with CI=true."""
    path = shutil.which("promtool")
    if path is None:
        unavailable("promtool", "install the Debian package prometheus")
    return path
