"""The console script as a user runs it: migrate, then serve over real HTTP with uvicorn."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from hero_foundry.processes import free_port, stop
from tests.servers import wait_until_serving

CLI = [sys.executable, "-m", "hero_foundry.cli"]


def test_help_lists_the_commands() -> None:
    out = subprocess.run([*CLI, "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("serve", "db", "version"):
        assert command in out


def test_db_upgrade_then_serve_answers_with_docs(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "HERO_FOUNDRY_DATA_DIR": str(tmp_path),
        "HERO_FOUNDRY_DATABASE_URL": "",
        "HERO_FOUNDRY_PORT": str(port),
    }
    upgraded = subprocess.run(
        [*CLI, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=60
    )
    assert upgraded.returncode == 0, upgraded.stderr
    assert "at revision 0005" in upgraded.stderr
    assert (tmp_path / "hero-foundry.sqlite3").exists()

    server = subprocess.Popen(
        [*CLI, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(base, server, timeout=30, output=server.stdout.read)
        docs = httpx.get(f"{base}/docs", timeout=5)
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        spec = httpx.get(f"{base}/openapi.json", timeout=5).json()
        assert "/api/characters/drafts/{draft_id}/finalize" in spec["paths"]
        classes = httpx.get(f"{base}/api/srd/classes", timeout=5).json()
        assert len(classes) == 12
    finally:
        stop(server)


def test_invalid_settings_exit_cleanly(tmp_path: Path) -> None:
    env = {**os.environ, "HERO_FOUNDRY_DATABASE_URL": "mysql://nope"}
    result = subprocess.run([*CLI, "db", "upgrade"], env=env, capture_output=True, text=True)
    assert result.returncode == 2
    assert "invalid settings" in result.stderr and "Traceback" not in result.stderr
