"""Two uvicorn workers, one /metrics: counts are exact, whichever worker answers the scrape."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from hero_foundry.processes import free_port
from tests.servers import wait_until_serving

CLI = [sys.executable, "-m", "hero_foundry.cli"]
ENDPOINT = "/api/srd/alignments"


def counted(text: str) -> float:
    pattern = (
        r'^http_requests_total\{endpoint="/api/srd/alignments",method="GET",status="200"\} (\S+)$'
    )
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


async def hammer(base: str, n: int) -> None:
    limits = httpx.Limits(max_connections=20, max_keepalive_connections=0)  # new connections
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10) as client:
        for start in range(0, n, 50):
            replies = await asyncio.gather(
                *(client.get(ENDPOINT) for _ in range(min(50, n - start)))
            )
            assert all(r.status_code == 200 for r in replies)


def test_two_workers_count_every_request_exactly(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "HERO_FOUNDRY_DATA_DIR": str(tmp_path),
        "HERO_FOUNDRY_DATABASE_URL": "",
        "HERO_FOUNDRY_PORT": str(port),
        "HERO_FOUNDRY_WORKERS": "2",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    subprocess.run([*CLI, "db", "upgrade"], env=env, check=True, capture_output=True)
    server = subprocess.Popen(
        [*CLI, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, server)
        workers = children(server.pid)
        deadline = time.monotonic() + 30
        while len(workers) < 2 and time.monotonic() < deadline:
            time.sleep(0.3)
            workers = children(server.pid)
        assert len(workers) >= 2, workers

        asyncio.run(hammer(base, 300))
        scrapes = [httpx.get(f"{base}/metrics", timeout=5).text for _ in range(6)]
        assert {counted(text) for text in scrapes} == {300.0}  # every worker says the same
        directory = tmp_path / "prometheus-multiproc"
        files = {p.name for p in directory.iterdir()}
        assert {f"counter_{pid}.db" for pid in workers} & files, files

        victim = workers[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while victim in children(server.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        asyncio.run(hammer(base, 100))
        text = httpx.get(f"{base}/metrics", timeout=5).text
        assert counted(text) == 400.0  # the dead worker's counts are kept, nothing counted twice
        leftovers = [p.name for p in directory.iterdir() if p.name.endswith(f"_{victim}.db")]
        assert all(not name.startswith("gauge_live") for name in leftovers), leftovers
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
