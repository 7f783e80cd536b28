"""``GET /metrics``: Prometheus text or OpenMetrics (by the Accept header), restricted.

Access: with a ``metrics_token`` configured (production), only a request carrying it as a bearer
token reads the metrics (the Prometheus scrape job's ``authorization.credentials_file``).
Without one (the embedded default) only loopback clients do. Anyone else gets a problem.

With several workers (``PROMETHEUS_MULTIPROC_DIR`` set) the answer aggregates every worker's
files; the live-gauge files of workers that died are removed first. The active users and
sessions are read from the shared activity store at scrape time.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import re
from collections.abc import Iterator
from pathlib import Path

from fastapi import APIRouter, Request, Response
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from hero_foundry.observability.metrics import (
    ACTIVE_SESSIONS_HELP,
    ACTIVE_SESSIONS_NAME,
    ACTIVE_USERS_HELP,
    ACTIVE_USERS_NAME,
)
from hero_foundry.problems import ProblemError

router = APIRouter(tags=["observability"], include_in_schema=False)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_LIVE_FILE = re.compile(r"^gauge_live\w*_(\d+)\.db$")


def multiproc_dir() -> Path | None:
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_dead_workers(directory: Path) -> list[int]:
    """Remove the live-gauge files of worker processes that no longer exist."""
    dead = {
        int(match.group(1))
        for name in os.listdir(directory)
        if (match := _LIVE_FILE.match(name)) and not _alive(int(match.group(1)))
    }
    for pid in dead:
        multiprocess.mark_process_dead(pid, str(directory))
    return sorted(dead)


class _Snapshot(Collector):
    """The process's (or every worker's) metrics plus the active-user gauges."""

    def __init__(self, active: dict[str, int] | None) -> None:
        self.active = active

    def collect(self) -> Iterator[Metric]:
        directory = multiproc_dir()
        if directory is not None:
            merged = CollectorRegistry()
            multiprocess.MultiProcessCollector(merged, path=str(directory))
            yield from merged.collect()
        else:
            yield from REGISTRY.collect()
        if self.active is not None:
            yield GaugeMetricFamily(ACTIVE_USERS_NAME, ACTIVE_USERS_HELP, self.active["user"])
            yield GaugeMetricFamily(
                ACTIVE_SESSIONS_NAME, ACTIVE_SESSIONS_HELP, self.active["session"]
            )


def _loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def authorize(request: Request) -> None:
    token = request.app.state.settings.metrics_token.get_secret_value()
    if token:
        sent = request.headers.get("authorization", "")
        scheme, _, credentials = sent.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            credentials.encode(), token.encode()
        ):
            raise ProblemError(
                401, "Metrics need the scrape token.", headers={"WWW-Authenticate": "Bearer"}
            )
        return
    client = request.client.host if request.client else None
    if not _loopback(client):
        raise ProblemError(
            403, "Metrics are served to loopback clients only unless a metrics token is set."
        )


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    authorize(request)
    directory = multiproc_dir()
    if directory is not None:
        clean_dead_workers(directory)
    store = getattr(request.app.state, "activity", None)
    active = None
    if store is not None:
        try:
            active = await store.count(request.app.state.settings.activity_window_seconds)
        except Exception:  # the store is down: the other metrics still matter more
            active = None
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(active))
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(registry), media_type=None, headers={"Content-Type": content_type})
