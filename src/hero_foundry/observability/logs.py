"""ECS JSON logs, the request context and the access log.

- :func:`configure_logging` sends every record (ours, uvicorn's, the libraries') through one ECS
  formatter to stdout and, with ``log_dir`` set, to ``<log_dir>/fastapi/hero-foundry.log``
  (rotated by size, safe for several worker processes).
- :class:`RequestContextMiddleware` (pure ASGI, wrapped around the whole application by
  :func:`install_request_context`) gives each request an id (``X-Request-ID``, honoured when
  sane, echoed in the response), runs it in the server span when tracing is on, and writes one
  access record when it ends. An exception that escapes the application is logged once, with its
  stack trace, and answered with a 500 problem if nothing was sent yet.
- :class:`RequestContextFilter` stamps every record written during a request with
  ``http.request.id``, ``user.id`` and ``trace.id``/``span.id``; :class:`RedactSecrets` masks
  anything that looks like a password, a token or an ``Authorization`` header.

See ``docs/logging.md`` for the record format.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import re
import sys
import time
import traceback
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ecs_logging
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hero_foundry import __version__
from hero_foundry.observability.tracing import (
    SERVICE_NAME,
    Tracing,
    current_span_id,
    current_trace_id,
)
from hero_foundry.problems import send_problem
from hero_foundry.settings import Settings

try:  # POSIX: several worker processes rotate the shared log file under a lock
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: ``<log_dir>/fastapi/hero-foundry.log``: the layout Filebeat reads (one folder per source).
LOG_SUBDIR = "fastapi"
LOG_FILE_NAME = "hero-foundry.log"
REQUEST_ID_HEADER = "x-request-id"
#: An incoming ``X-Request-ID`` is kept only if it matches: short, and safe in headers and logs.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}")
#: Uvicorn's loggers: their records propagate to the root handlers (uvicorn's access log is off;
#: :class:`RequestContextMiddleware` writes ours).
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.asgi")

access_log = logging.getLogger("hero_foundry.access")
error_log = logging.getLogger("hero_foundry.errors")


# -- Request context ------------------------------------------------------------------------


@dataclass
class RequestContext:
    """What every record written during a request carries. Mutable and shared: a value set
    anywhere in the request (a dependency run in a thread or a child task included) is seen by
    the access record at the end."""

    request_id: str
    user_id: str | None = None


_context: ContextVar[RequestContext | None] = ContextVar("hero_foundry_request", default=None)


def current_request_id() -> str | None:
    context = _context.get()
    return context.request_id if context else None


def current_user_id() -> str | None:
    context = _context.get()
    return context.user_id if context else None


def set_user_id(user_id: object) -> None:
    """Record the authenticated user of the current request (no-op outside a request)."""
    context = _context.get()
    if context is not None:
        context.user_id = None if user_id is None else str(user_id)


@contextlib.contextmanager
def request_context(request_id: str) -> Iterator[RequestContext]:
    """Run a block as the request ``request_id`` (the middleware's, usable in scripts/tests)."""
    context = RequestContext(request_id=request_id)
    token = _context.set(context)
    try:
        yield context
    finally:
        _context.reset(token)


def sane_request_id(value: str | None) -> str | None:
    return value if value is not None and SANE_REQUEST_ID.fullmatch(value) else None


# -- Redaction ------------------------------------------------------------------------------

REDACTED = "[REDACTED]"
_SECRET_KEY = r"[\w.-]*(?:password|passwd|secret|token|api[_-]?key|authorization|cookie)"
_SCHEMES = r"(?:bearer|basic|digest|token)"
_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    # "password": "correct horse", 'token': '...', password="..." (quoted, escapes honoured)
    (
        re.compile(rf"(?i)\b({_SECRET_KEY})(['\"]?\s*[:=]\s*b?)(['\"])((?:\\.|(?!\3).)*)\3"),
        rf"\1\2\3{REDACTED}\3",
    ),
    # password=hunter2&..., Authorization: Bearer abc, "token": 123 (unquoted)
    (
        re.compile(
            rf"(?i)\b({_SECRET_KEY})(['\"]?\s*[:=]\s*)(?!\[REDACTED\])"
            rf"(?:{_SCHEMES}\s+)?[^\s'\",;&)}}\]]+"
        ),
        rf"\1\2{REDACTED}",
    ),
    # Bearer abc / Basic dXNl... anywhere else (e.g. a repr of a header list)
    (
        re.compile(r"(?i)\b(bearer|basic)\s+(?!\[REDACTED\])[A-Za-z0-9._~+/=-]{6,}"),
        rf"\1 {REDACTED}",
    ),
    # SQLAlchemy errors quote the statement's parameters (hashes, token digests)
    (re.compile(r"\[parameters: [^\n]*"), f"[parameters: {REDACTED}]"),
)


def redact(text: str) -> str:
    """``text`` with passwords, tokens, credentials and SQL parameters masked."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Defence in depth: masks secrets in a record's message (the code should never log any)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: the handler reports it
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


# -- Record enrichment ----------------------------------------------------------------------

#: Set on an exception once a record with its stack trace was written, so that it is not
#: written twice (once by the app's exception handler, once by the middleware).
_LOGGED = "_hero_foundry_logged"


def _mark_logged(exc: BaseException) -> None:
    with contextlib.suppress(AttributeError, TypeError):
        setattr(exc, _LOGGED, True)


def already_logged(exc: BaseException) -> bool:
    return bool(getattr(exc, _LOGGED, False))


class RequestContextFilter(logging.Filter):
    """Adds the request id, user id and trace/span ids of the running request to a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = record.__dict__
        context = _context.get()
        if context is not None:
            fields.setdefault("http.request.id", context.request_id)
            if context.user_id is not None:
                fields.setdefault("user.id", context.user_id)
        trace_id = current_trace_id()
        if trace_id is not None:
            fields.setdefault("trace.id", trace_id)
            fields.setdefault("span.id", current_span_id())
        if record.exc_info and record.exc_info[1] is not None:
            _mark_logged(record.exc_info[1])
        return True


class EcsFormatter(ecs_logging.StdlibFormatter):
    """ecs-logging's formatter with the service fields, the whole traceback (chained causes
    included) in ``error.stack_trace``, and exception texts redacted."""

    def __init__(self, environment: str = "development") -> None:
        super().__init__(
            # ``log.original`` repeats ``message``; uvicorn adds an ANSI-coloured copy of it.
            exclude_fields=("log.original", "color_message"),
            extra={
                "service.name": SERVICE_NAME,
                "service.version": __version__,
                "service.environment": environment,
            },
        )

    def format_to_ecs(self, record: logging.LogRecord) -> dict[str, Any]:
        result = super().format_to_ecs(record)
        error = result.get("error")
        if isinstance(error, dict):
            if isinstance(error.get("message"), str):
                error["message"] = redact(error["message"])
            if isinstance(error.get("stack_trace"), str):
                error["stack_trace"] = redact(error["stack_trace"])
        return result

    def _record_error_stack_trace(self, record: logging.LogRecord) -> str | None:
        exc_info = record.exc_info
        if exc_info and exc_info[1] is not None:
            return "".join(traceback.format_exception(exc_info[1])) or None
        return super()._record_error_stack_trace(record)


# -- Handlers -------------------------------------------------------------------------------

#: Marks the handlers :func:`configure_logging` installs, so a second call replaces them.
_OWNED = "_hero_foundry_handler"


class StdoutHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is at the time (test capture, a redirected stream)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


class SharedRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A size-rotated file that several worker processes can share.

    Before each write a process checks that the path still names the file it has open (another
    process may have rotated it) and reopens it if not. Rotation happens under an exclusive lock
    (on a hidden ``.<name>.lock`` beside the file), and is skipped if another process rotated
    while this one waited for the lock. With ``backups=0`` the file is truncated instead."""

    def __init__(self, filename: Path, max_bytes: int, backups: int) -> None:
        filename.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(
            filename, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", delay=True
        )
        self.lock_path = filename.parent / f".{filename.name}.lock"

    def _reopen_if_rotated(self) -> bool:
        """Reopen the path if it no longer names the open file; True if it did."""
        if self.stream is None:
            return False
        try:
            current = os.stat(self.baseFilename)
            stale = (current.st_dev, current.st_ino) != _file_identity(self.stream)
        except FileNotFoundError:
            stale = True
        if stale:
            self.stream.close()
            self.stream = self._open()
        return stale

    def shouldRollover(self, record: logging.LogRecord) -> bool:
        self._reopen_if_rotated()
        return bool(super().shouldRollover(record))

    def doRollover(self) -> None:
        with self._rotation_lock():
            if self._reopen_if_rotated():
                return  # another process rotated while this one waited for the lock
            if self.backupCount > 0:
                super().doRollover()
                return
            if self.stream is not None:  # no backups: start the file afresh
                self.stream.close()
            self.stream = None
            with open(self.baseFilename, "w", encoding="utf-8"):
                pass

    @contextlib.contextmanager
    def _rotation_lock(self) -> Iterator[None]:
        if fcntl is None:  # pragma: no cover - Windows
            yield
            return
        with open(self.lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _file_identity(stream: Any) -> tuple[int, int]:
    stat = os.fstat(stream.fileno())
    return stat.st_dev, stat.st_ino


def log_file_path(log_dir: Path) -> Path:
    return Path(log_dir) / LOG_SUBDIR / LOG_FILE_NAME


def configured_log_dir(settings: Settings) -> Path | None:
    """``settings.log_dir``, or ``None`` when unset or empty (pydantic reads an empty
    ``HERO_FOUNDRY_LOG_DIR`` as ``Path(".")``: "empty" means stdout only, as documented)."""
    log_dir = settings.log_dir
    return None if log_dir is None or log_dir == Path("") else log_dir


def configure_logging(settings: Settings) -> None:
    """Route every log record through the ECS formatter: stdout, plus the rotating file under
    ``settings.log_dir`` when set. Idempotent: a later call replaces the handlers of an earlier
    one (the last application configured in a process decides)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _OWNED, False)]:
        root.removeHandler(handler)
        handler.close()
    handlers: list[logging.Handler] = [StdoutHandler()]
    log_dir = configured_log_dir(settings)
    if log_dir is not None:
        handlers.append(
            SharedRotatingFileHandler(
                log_file_path(log_dir),
                max_bytes=settings.log_file_max_bytes,
                backups=settings.log_file_backups,
            )
        )
    formatter = EcsFormatter(settings.environment)
    for handler in handlers:
        setattr(handler, _OWNED, True)
        handler.setFormatter(formatter)
        handler.addFilter(RedactSecrets())
        handler.addFilter(RequestContextFilter())
        root.addHandler(handler)
    root.setLevel(settings.log_level)
    # Uvicorn run directly (not through ``hero-foundry serve``) installs its own text handlers
    # and access log: its records go through ours instead, and ours is the only access log.
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.handlers.clear()
    uvicorn_access.propagate = False


def uvicorn_log_config(settings: Settings) -> dict[str, Any]:
    """``uvicorn.run(log_config=...)``: uvicorn's records propagate to the root handlers of
    :func:`configure_logging` (incremental: the handlers already installed stay)."""
    level = settings.log_level
    return {
        "version": 1,
        "incremental": True,
        "loggers": {
            "uvicorn": {"level": level, "propagate": True},
            "uvicorn.error": {"level": level, "propagate": True},
            "uvicorn.access": {"level": "WARNING", "propagate": False},
        },
    }


# -- The middleware -------------------------------------------------------------------------


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def _route_template(scope: Scope) -> str | None:
    route = scope.get("route")
    return getattr(route, "path_format", None) or getattr(route, "path", None)


class RequestContextMiddleware:
    """Request id, server span, access record and last-resort error handling for HTTP requests.

    Meant to be the outermost layer (see :func:`install_request_context`): it then sees the 500
    that Starlette's ``ServerErrorMiddleware`` sends for an unhandled exception (and echoes the
    request id on it), and the exception that middleware re-raises afterwards stops here, logged
    once, instead of reaching the server to be logged a second time."""

    def __init__(self, app: ASGIApp, tracing: Tracing | None = None) -> None:
        self.app = app
        self.tracing = tracing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = sane_request_id(_header(scope, b"x-request-id")) or uuid.uuid4().hex
        raw_id = request_id.encode("latin-1")
        status: int | None = None
        sent = 0
        complete = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, sent, complete
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", raw_id))
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
                complete = not message.get("more_body", False)
            await send(message)

        method = scope.get("method", "")
        started = time.perf_counter_ns()
        error: Exception | None = None
        with request_context(request_id) as context:
            span_scope = self.tracing.request_span(scope) if self.tracing else None
            with span_scope if span_scope is not None else contextlib.nullcontext() as span:
                try:
                    await self.app(scope, receive, send_with_id)
                except Exception as exc:
                    error = exc
                    if not already_logged(exc):
                        error_log.error(
                            "unhandled error on %s %s", method, scope.get("path"), exc_info=exc
                        )
                    if status is None:
                        await _send_500(scope, send_with_id)
                finally:
                    route = _route_template(scope)
                    if span is not None and self.tracing is not None:
                        self.tracing.complete(
                            span, method=method, route=route, status_code=status, error=error
                        )
                    _log_access(
                        scope,
                        context,
                        route=route,
                        status=status,
                        duration_ns=time.perf_counter_ns() - started,
                        sent=sent,
                        complete=complete,
                        error=error,
                    )
        # The exception was logged and answered: re-raising it would only make the server log
        # it again. (A response cut short by it is closed by the server as incomplete.)


def _log_access(
    scope: Scope,
    context: RequestContext,
    *,
    route: str | None,
    status: int | None,
    duration_ns: int,
    sent: int,
    complete: bool,
    error: Exception | None,
) -> None:
    method = scope.get("method", "")
    path = scope.get("path", "")
    fields: dict[str, Any] = {
        "event.kind": "event",
        "event.category": "web",
        "event.duration": duration_ns,
        "http.request.method": method,
        "http.request.id": context.request_id,
        "url.path": path,  # never the query string: it may carry secrets
        "http.response.body.bytes": sent,
    }
    if route:
        fields["http.route"] = route
    if status is not None:
        fields["http.response.status_code"] = status
        fields["event.outcome"] = "failure" if status >= 500 else "success"
    if context.user_id is not None:
        fields["user.id"] = context.user_id
    trace_id = current_trace_id()
    if trace_id is not None:
        fields["trace.id"] = trace_id
        fields["span.id"] = current_span_id()
    client = scope.get("client")
    if client:
        fields["client.address"] = client[0]
    if error is not None:
        fields["error.type"] = type(error).__qualname__
    outcome = str(status) if status is not None else "no response"
    if status is not None and not complete:
        outcome += " (incomplete)"
    # A 5xx is a failure of ours: level error, where the error runbook's log query looks (with
    # the request id and route). No response at all (a client gone mid-request): a warning.
    level = logging.WARNING if status is None else logging.INFO if status < 500 else logging.ERROR
    access_log.log(
        level, "%s %s %s in %.1f ms", method, path, outcome, duration_ns / 1e6, extra=fields
    )


async def _send_500(scope: Scope, send: Send) -> None:
    with contextlib.suppress(Exception):  # the client may be gone: nothing more to do
        await send_problem(
            send,
            500,
            "Internal Server Error",
            "Something went wrong on our side; it has been logged.",
            scope.get("path"),
        )


def install_request_context(app: Starlette, tracing: Tracing | None = None) -> None:
    """Wrap ``app``'s whole middleware stack in :class:`RequestContextMiddleware`.

    ``app.add_middleware`` would place it inside Starlette's ``ServerErrorMiddleware``, where the
    500 answered for an unhandled exception (and the exception handler's log record) would lie
    outside the request: no request id on either. So the stack ``app`` builds on its first
    request is wrapped instead. Call before the application serves anything."""
    if app.middleware_stack is not None:
        raise RuntimeError("install_request_context must be called before the app starts")
    build = app.build_middleware_stack

    def build_with_request_context() -> ASGIApp:
        return RequestContextMiddleware(build(), tracing=tracing)

    app.build_middleware_stack = build_with_request_context  # type: ignore[method-assign]
