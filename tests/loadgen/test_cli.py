"""``hero-foundry loadgen`` as a command, against ``hero-foundry serve`` over real HTTP (two
workers, SQLite): progress, summary table, JSON summary and exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from hero_foundry.loadgen.cli import app
from hero_foundry.processes import free_port, stop
from tests.servers import wait_until_serving

CLI = [sys.executable, "-m", "hero_foundry.cli"]
LOADGEN = [sys.executable, "-m", "hero_foundry.loadgen.cli"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``hero-foundry serve --workers 2`` on a free loopback port; stopped afterwards."""
    data = tmp_path_factory.mktemp("serve")
    port = free_port()
    env = {
        **os.environ,
        "HERO_FOUNDRY_DATA_DIR": str(data),
        "HERO_FOUNDRY_DATABASE_URL": "",
        "HERO_FOUNDRY_REDIS_URL": "",
        "HERO_FOUNDRY_METRICS_TOKEN": "",
        "HERO_FOUNDRY_ENVIRONMENT": "development",
        "HERO_FOUNDRY_LOG_LEVEL": "WARNING",
        "HERO_FOUNDRY_ARGON2_TIME_COST": "1",
        "HERO_FOUNDRY_ARGON2_MEMORY_KIB": "64",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # serve makes its own under the data directory
    upgraded = subprocess.run(
        [*CLI, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=60
    )
    assert upgraded.returncode == 0, upgraded.stderr
    log = (data / "serve.log").open("w")
    process = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, process, timeout=30, output=(data / "serve.log").read_text)
        yield base
    finally:
        stop(process, timeout=15)
        log.close()


def metric(text: str, name: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and re.match(rf"{name}(\{{| )", line)
    )


def test_a_run_against_the_real_server(server: str, tmp_path: Path) -> None:
    before = httpx.get(f"{server}/metrics", timeout=5).text
    summary_file = tmp_path / "summary.json"
    result = subprocess.run(
        [
            *LOADGEN,
            "--base-url",
            server,
            "--duration",
            "5s",
            "--users",
            "3",
            "--think-time",
            "0.05",
            "--ramp-up",
            "0",
            "--seed",
            "5",
            "--max-rps",
            "50",
            "--json",
            str(summary_file),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "160"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Progress lines on stderr (not a terminal), the summary table and verdict on stdout.
    assert "3 users against" in result.stderr
    assert re.search(r"loadgen 0:0\d elapsed, 0:0\d left: \d+ requests", result.stderr)
    for heading in ("Operation", "Requests", "Refused", "Errors", "p50", "p95"):
        assert heading in result.stdout
    assert "wizard.finalize" in result.stdout and "total" in result.stdout
    assert "passed: error rate 0.00%" in result.stdout
    summary = json.loads(summary_file.read_text())
    assert summary["passed"] is True and summary["errors"] == 0
    assert summary["requests"] > 50
    assert summary["outcomes"]["characters_created"] > 0
    assert summary["requests"] <= 50 * summary["elapsed_seconds"] + 50
    # Both workers' counters, aggregated by /metrics, saw the characters.
    after = httpx.get(f"{server}/metrics", timeout=5).text
    created = metric(after, "characters_created_total") - metric(before, "characters_created_total")
    assert created == summary["outcomes"]["characters_created"]
    assert metric(after, "page_views_total") > metric(before, "page_views_total")


def test_errors_above_the_threshold_exit_1() -> None:
    """Nothing listens on the port: every request fails to connect."""
    result = CliRunner().invoke(
        app(),
        [
            "--base-url",
            f"http://127.0.0.1:{free_port()}",
            "--duration",
            "1.5s",
            "--users",
            "2",
            "--think-time",
            "0",
            "--ramp-up",
            "0",
        ],
    )
    assert result.exit_code == 1, result.output
    assert "FAILED" in result.output and "connect" in result.output


def test_a_remote_url_exits_2_with_the_reason() -> None:
    result = CliRunner().invoke(app(), ["--base-url", "http://192.0.2.10:8000"])
    assert result.exit_code == 2
    assert "refusing to send load to 192.0.2.10" in result.output
    assert "--allow-remote" in result.output


def test_bad_options_exit_2() -> None:
    runner = CliRunner()
    assert runner.invoke(app(), ["--duration", "soon"]).exit_code == 2
    assert runner.invoke(app(), ["--mix", "dance=3"]).exit_code == 2
    assert runner.invoke(app(), ["--users", "0"]).exit_code == 2
