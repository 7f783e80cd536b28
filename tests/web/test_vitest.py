"""The front end's own tests (Vitest: components and client logic) run with the Python suite, so
the README's one test command covers the whole project."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import unavailable

REPO = Path(__file__).parents[2]
WEB = REPO / "web"


def test_the_front_end_builds_and_its_unit_tests_pass() -> None:
    if shutil.which("npm") is None:
        unavailable("npm", "install Node.js 20.19+ and npm")
    # scripts/web.sh: `npm ci` when the packages are missing or stale, then the type check and
    # the production build when web/dist is older than its sources.
    built = subprocess.run(
        [str(REPO / "scripts" / "web.sh")], capture_output=True, text=True, timeout=900
    )
    assert built.returncode == 0, built.stdout[-6000:] + built.stderr[-6000:]
    assert (WEB / "dist" / "index.html").is_file()
    result = subprocess.run(
        ["npm", "test", "--silent"], cwd=WEB, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert " passed" in result.stdout  # Vitest's summary: the tests ran, not an empty run
