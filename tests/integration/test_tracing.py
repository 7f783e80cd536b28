"""Tracing: a server span per request when on (named by route), its trace id in the logs and
available for exemplars; nothing of the kind when off (the default)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from hero_foundry.app import create_app
from hero_foundry.observability.logs import configure_logging
from hero_foundry.observability.tracing import current_trace_id
from tests.conftest import make_settings
from tests.integration.api import new_player
from tests.integration.test_logs import access_records, field, read_records, with_request_id


@dataclass
class Traced:
    app: FastAPI
    client: httpx.AsyncClient
    spans: InMemorySpanExporter
    log_dir: Path

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())


@asynccontextmanager
async def serve(database_url: str, log_dir: Path, tracing: bool) -> AsyncIterator[Traced]:
    app = create_app(make_settings(database_url, log_dir=log_dir, tracing_enabled=tracing))
    exporter = InMemorySpanExporter()
    if tracing:
        app.state.tracing.provider.add_span_processor(SimpleSpanProcessor(exporter))

    @app.get("/probe/trace-id")
    async def trace_id() -> dict[str, str | bool | None]:
        span = trace.get_current_span()
        return {"trace_id": current_trace_id(), "recording": span.is_recording()}

    @app.get("/probe/boom")
    async def boom() -> None:
        raise RuntimeError("traced failure")

    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield Traced(app, client, exporter, log_dir)
    finally:
        configure_logging(make_settings(database_url))


@pytest.fixture
async def traced(database_url: str, tmp_path: Path) -> AsyncIterator[Traced]:
    async with serve(database_url, tmp_path, tracing=True) as traced:
        yield traced


@pytest.fixture
async def untraced(database_url: str, tmp_path: Path) -> AsyncIterator[Traced]:
    async with serve(database_url, tmp_path, tracing=False) as untraced:
        yield untraced


def server_span(spans: list[ReadableSpan], request_id: str, records: list[dict]) -> ReadableSpan:
    """The span whose trace id the request's access record carries."""
    [access] = access_records(records, request_id)
    trace_id = field(access, "trace.id")
    assert trace_id, access
    [span] = [s for s in spans if trace.format_trace_id(s.context.trace_id) == trace_id]
    assert field(access, "span.id") == trace.format_span_id(span.context.span_id)
    return span


async def test_a_request_is_one_server_span_named_by_its_route(traced: Traced) -> None:
    headers = await new_player(traced.client)
    traced.spans.clear()
    rid = f"trace-{uuid.uuid4().hex}"
    r = await traced.client.get(
        f"/api/characters/{uuid.uuid4()}", headers={**headers, "X-Request-ID": rid}
    )
    assert r.status_code == 404

    spans = traced.finished()
    assert len(spans) == 1
    span = server_span(spans, rid, read_records(traced.log_dir))
    assert span.name == "GET /api/characters/{character_id}"
    assert span.kind is SpanKind.SERVER
    assert span.attributes["http.request.method"] == "GET"
    assert span.attributes["http.route"] == "/api/characters/{character_id}"
    assert span.attributes["http.response.status_code"] == 404
    assert span.status.status_code is StatusCode.UNSET  # a 4xx is not a server error
    assert span.resource.attributes["service.name"] == "hero-foundry"


async def test_the_trace_id_is_current_while_the_request_runs(traced: Traced) -> None:
    traced.spans.clear()
    r = await traced.client.get("/probe/trace-id", headers={"X-Request-ID": "probe-1"})
    body = r.json()
    [span] = traced.finished()
    assert body == {"trace_id": trace.format_trace_id(span.context.trace_id), "recording": True}
    assert span.name == "GET /probe/trace-id"
    assert current_trace_id() is None  # outside any request


async def test_an_uncaught_exception_marks_the_span_and_its_log_record(traced: Traced) -> None:
    traced.spans.clear()
    rid = f"trace-{uuid.uuid4().hex}"
    r = await traced.client.get("/probe/boom", headers={"X-Request-ID": rid})
    assert r.status_code == 500

    records = read_records(traced.log_dir)
    span = server_span(traced.finished(), rid, records)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["http.response.status_code"] == 500
    assert [e.name for e in span.events] == ["exception"]
    [error] = [rec for rec in with_request_id(records, rid) if field(rec, "error.stack_trace")]
    assert field(error, "trace.id") == trace.format_trace_id(span.context.trace_id)


async def test_an_incoming_traceparent_continues_the_callers_trace(traced: Traced) -> None:
    traced.spans.clear()
    trace_id, parent_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    r = await traced.client.get(
        "/probe/trace-id", headers={"traceparent": f"00-{trace_id}-{parent_id}-01"}
    )
    assert r.json()["trace_id"] == trace_id
    [span] = traced.finished()
    assert span.parent is not None and trace.format_span_id(span.parent.span_id) == parent_id


async def test_unmatched_paths_are_named_by_method_only(traced: Traced) -> None:
    traced.spans.clear()
    assert (await traced.client.get(f"/nowhere/{uuid.uuid4()}")).status_code == 404
    [span] = traced.finished()
    assert span.name == "GET" and "http.route" not in span.attributes


async def test_with_tracing_off_there_is_no_span_and_no_trace_id(untraced: Traced) -> None:
    assert untraced.app.state.tracing is None
    rid = f"untraced-{uuid.uuid4().hex}"
    r = await untraced.client.get("/probe/trace-id", headers={"X-Request-ID": rid})
    assert r.json() == {"trace_id": None, "recording": False}
    records = with_request_id(read_records(untraced.log_dir), rid)
    assert records and all(field(rec, "trace.id") is None for rec in records)
    assert untraced.finished() == []


async def test_buffered_spans_are_exported_when_the_app_stops(database_url: str) -> None:
    """uvicorn ends its process by re-raising the stop signal (no atexit hooks): the
    application's shutdown flushes what a batching exporter still holds."""
    app = create_app(make_settings(database_url, tracing_enabled=True))
    exporter = InMemorySpanExporter()
    app.state.tracing.provider.add_span_processor(
        BatchSpanProcessor(exporter, schedule_delay_millis=600_000)
    )
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                assert (await client.get("/healthz")).status_code == 200
            assert exporter.get_finished_spans() == ()  # still in the batch
        assert [s.name for s in exporter.get_finished_spans()] == ["GET /healthz"]
    finally:
        app.state.tracing.shutdown()
