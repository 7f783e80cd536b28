"""Optional OpenTelemetry tracing: one server span per HTTP request.

Off by default (``HERO_FOUNDRY_TRACING_ENABLED``). When on, :func:`setup_tracing` builds an SDK
``TracerProvider`` of the application's own (``service.name`` "hero-foundry") and
:class:`Tracing.request_span` opens a ``SERVER`` span around each request; the request-context
middleware in :mod:`hero_foundry.observability.logs` drives it, so the span covers the whole
middleware stack. While a request runs, :func:`current_trace_id` gives its trace id: the access
and error log records carry it as ``trace.id``, and the latency histogram uses it as an exemplar.

Spans are always created (that is what gives logs and exemplars their trace ids); they are
exported only when ``OTEL_TRACES_EXPORTER`` asks: ``console`` (to stderr, away from the JSON logs
on stdout) or ``otlp`` (needs ``opentelemetry-exporter-otlp``). Sampling and resource attributes
follow the standard ``OTEL_TRACES_SAMPLER`` / ``OTEL_RESOURCE_ATTRIBUTES`` variables, and an
incoming W3C ``traceparent`` header continues the caller's trace.

The provider is not installed as the global one: FastAPI creates its own request spans as soon
as a global provider exists, which would trace every request twice (and trace applications that
have tracing off, in a process that holds several).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import Scope

from hero_foundry import __version__
from hero_foundry.settings import Settings

SERVICE_NAME = "hero-foundry"
#: Chooses the span exporter: ``none`` (the default here), ``console`` or ``otlp``.
EXPORTER_ENV = "OTEL_TRACES_EXPORTER"

log = logging.getLogger("hero_foundry.tracing")
_propagator = TraceContextTextMapPropagator()


def current_trace_id() -> str | None:
    """The trace id (32 hex digits) of the request being handled, or ``None``.

    ``None`` when tracing is off, outside a request, or when the trace is not sampled (its spans
    are never exported, so an exemplar or a log field pointing at it would lead nowhere)."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid or not context.trace_flags.sampled:
        return None
    return trace.format_trace_id(context.trace_id)


def current_span_id() -> str | None:
    """The span id (16 hex digits) of the current sampled span, or ``None``."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid or not context.trace_flags.sampled:
        return None
    return trace.format_span_id(context.span_id)


class Tracing:
    """An application's tracer provider and the server span of each request."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer("hero_foundry", __version__)

    @contextmanager
    def request_span(self, scope: Scope) -> Iterator[Span]:
        """A current ``SERVER`` span for an HTTP request, named by its method until
        :meth:`complete` knows the route. Continues a W3C ``traceparent`` from the caller."""
        method = scope.get("method", "GET")
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope.get("headers", [])
            if name in (b"traceparent", b"tracestate")
        }
        parent = _propagator.extract(headers) if headers else None
        with self.tracer.start_as_current_span(
            method,
            context=parent,
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": method,
                "url.path": scope.get("path", ""),
                "url.scheme": scope.get("scheme", "http"),
            },
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            yield span

    @staticmethod
    def complete(
        span: Span,
        *,
        method: str,
        route: str | None,
        status_code: int | None,
        error: BaseException | None = None,
    ) -> None:
        """Name the span ``"METHOD route"`` and record the outcome. Server spans are errors for
        5xx answers and escaping exceptions only (a 4xx is the client's mistake)."""
        if route:
            span.update_name(f"{method} {route}")
            span.set_attribute("http.route", route)
        if status_code is not None:
            span.set_attribute("http.response.status_code", status_code)
        if error is not None:
            span.record_exception(error)
            span.set_attribute("error.type", type(error).__qualname__)
            span.set_status(Status(StatusCode.ERROR, type(error).__qualname__))
        elif status_code is None or status_code >= 500:
            span.set_attribute("error.type", str(status_code or "incomplete_response"))
            span.set_status(Status(StatusCode.ERROR))

    def flush(self, timeout_seconds: float = 5.0) -> None:
        """Export the spans still buffered. Called when the application shuts down: uvicorn
        ends its process by re-raising the stop signal, so ``atexit`` hooks never run."""
        self.provider.force_flush(int(timeout_seconds * 1000))

    def shutdown(self) -> None:
        self.provider.shutdown()


def _exporter(name: str) -> SpanExporter | None:
    if name in ("", "none"):
        return None
    if name == "console":
        return ConsoleSpanExporter(out=sys.stderr)
    if name == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found]
                OTLPSpanExporter,
            )
        except ImportError:
            log.warning(
                "%s=otlp needs the opentelemetry-exporter-otlp-proto-http package: "
                "spans are not exported",
                EXPORTER_ENV,
            )
            return None
        return OTLPSpanExporter()
    log.warning("unknown %s=%r: spans are not exported", EXPORTER_ENV, name)
    return None


def setup_tracing(settings: Settings) -> Tracing | None:
    """The application's tracing when ``settings.tracing_enabled``, else ``None``."""
    if not settings.tracing_enabled:
        return None
    resource = Resource.create(
        {
            "service.name": SERVICE_NAME,
            "service.version": __version__,
            "deployment.environment.name": settings.environment,
        }
    )
    provider = TracerProvider(resource=resource)
    exporter = _exporter(os.environ.get(EXPORTER_ENV, "none").strip().lower())
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return Tracing(provider)
