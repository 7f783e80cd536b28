"""Prometheus rule files are valid and their promtool unit tests pass."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import unavailable

ROOT = Path(__file__).parents[2] / "monitoring" / "prometheus"
RULES = sorted((ROOT / "rules").glob("*.yml"))
TESTS = sorted((ROOT / "tests").glob("*.yml"))


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        unavailable("promtool", "install the Debian package prometheus")
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("rule_file", RULES, ids=lambda p: p.name)
def test_rule_file_is_valid(promtool: str, rule_file: Path) -> None:
    result = run(promtool, "check", "rules", str(rule_file))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("test_file", TESTS, ids=lambda p: p.name)
def test_promtool_unit_tests_pass(promtool: str, test_file: Path) -> None:
    result = run(promtool, "test", "rules", str(test_file))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_wrong_expectation_fails(promtool: str, tmp_path: Path) -> None:
    """The unit tests can fail: the same test expecting a wrong ratio is refused."""
    source = (ROOT / "tests" / "recording_test.yml").read_text()
    broken = tmp_path / "broken_test.yml"
    broken.write_text(
        source.replace("value: 0.9", "value: 0.5").replace("../rules/", str(ROOT / "rules") + "/")
    )
    result = run(promtool, "test", "rules", str(broken))
    assert result.returncode != 0
