"""hero_foundry_build_info: the version and the commit the process runs (a deploy is a new pair)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from hero_foundry import __version__
from hero_foundry.observability import build


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    build.commit.cache_clear()
    yield
    build.commit.cache_clear()


def test_the_commit_comes_from_the_environment_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERO_FOUNDRY_COMMIT", "0123456789ABCDEF0123456789abcdef01234567")
    assert build.commit() == "0123456789ab"


@pytest.mark.parametrize("value", ["main", "not a commit", "0123", "<script>"])
def test_anything_but_a_commit_hash_is_unknown(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """A label value from the environment is bounded: a hash or `unknown`."""
    monkeypatch.setenv("HERO_FOUNDRY_COMMIT", value)
    assert build.commit() == "unknown"


def test_in_a_checkout_the_commit_is_git_s(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HERO_FOUNDRY_COMMIT", raising=False)
    checkout = Path(build.__file__).resolve().parents[3]
    head = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    if head.returncode != 0:
        pytest.skip("not a git checkout")  # an installed package: covered by the next test
    assert build.commit() == head.stdout.strip()[:12]


def test_without_git_the_commit_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HERO_FOUNDRY_COMMIT", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert build.commit() == "unknown"


def test_publish_sets_the_build_info_series_to_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERO_FOUNDRY_COMMIT", "abcdef0123456")
    build.publish()
    labels = {"version": __version__, "commit": "abcdef012345"}
    assert REGISTRY.get_sample_value("hero_foundry_build_info", labels) == 1.0
