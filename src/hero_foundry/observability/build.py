"""What is running: the package version and the source commit, published as
``hero_foundry_build_info{version, commit}``.

The commit comes from ``HERO_FOUNDRY_COMMIT`` (set by the image build or the deployment), else
from git when the package runs from a checkout, else ``unknown``.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from pathlib import Path

from hero_foundry import __version__
from hero_foundry.observability.metrics import BUILD_INFO

#: A commit as git abbreviates it, or a full hash; anything else is not trusted as a label value.
_COMMIT = re.compile(r"[0-9a-f]{7,40}")


@functools.cache
def commit() -> str:
    """The source commit (abbreviated to 12 characters), or ``unknown``."""
    value = os.environ.get("HERO_FOUNDRY_COMMIT", "").strip().lower()
    if not value:
        checkout = Path(__file__).resolve().parents[3]
        try:
            result = subprocess.run(
                ["git", "-C", str(checkout), "rev-parse", "HEAD"],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return "unknown"
        value = result.stdout.strip() if result.returncode == 0 else ""
    return value[:12] if _COMMIT.fullmatch(value) else "unknown"


def publish() -> None:
    """Set ``hero_foundry_build_info`` of this process to 1."""
    BUILD_INFO.labels(version=__version__, commit=commit()).set(1)
