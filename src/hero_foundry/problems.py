"""RFC 9457 problem details: every error a client sees is ``application/problem+json``.

Clients get a title, a human-readable detail and, for invalid input, ``errors``: one entry per
offending field with the reason. Stack traces go to the log (with the request path), never to
the client.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("hero_foundry.errors")


class FieldError(BaseModel):
    field: str
    reason: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details, as every error of this API is answered."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation of the problem responses a router may give."""
    return {
        status: {
            "model": ProblemDetails,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}},
            "description": HTTPStatus(status).phrase,
        }
        for status in statuses
    }


class ProblemError(Exception):
    """Raise to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        title: str | None = None,
        errors: Iterable[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title or HTTPStatus(status).phrase)
        self.status = status
        self.title = title or HTTPStatus(status).phrase
        self.detail = detail
        self.errors = list(errors or [])
        self.headers = headers


def not_found(what: str) -> ProblemError:
    return ProblemError(404, f"{what} not found")


def invalid(errors: Iterable[Any], detail: str = "The request has invalid fields.") -> ProblemError:
    """A 422 from rules problems (objects with ``field`` and ``reason``) or dicts."""
    items = [e if isinstance(e, dict) else {"field": e.field, "reason": e.reason} for e in errors]
    return ProblemError(422, detail, title="Invalid request", errors=items)


def refuse(problems: Iterable[Any]) -> None:
    """Raise a 422 when the rules found problems (objects with ``field`` and ``reason``)."""
    problems = list(problems)
    if problems:
        raise invalid(problems)


async def send_problem(
    send: Any, status: int, title: str, detail: str, instance: str | None
) -> None:
    """Answer with a problem document from raw ASGI (middleware outside FastAPI's handlers)."""
    body = json.dumps(
        {
            "type": "about:blank",
            "title": title,
            "status": status,
            "detail": detail,
            "instance": instance,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def problem_response(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    instance: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field(loc: Iterable[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] if parts[0] == "body" else parts
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(
            exc.status,
            exc.title,
            exc.detail,
            instance=request.url.path,
            errors=exc.errors,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        # The submitted values are never echoed back: they may be passwords.
        errors = [{"field": _field(e["loc"]), "reason": e["msg"]} for e in exc.errors()]
        return problem_response(
            422,
            "Invalid request",
            "The request has invalid fields.",
            instance=request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else None
        title = HTTPStatus(exc.status_code).phrase
        return problem_response(
            exc.status_code,
            title,
            None if detail == title else detail,
            instance=request.url.path,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, exc: StaleDataError) -> JSONResponse:
        # A revision check lost at commit time (storage/concurrency.py): another request
        # changed the same draft, character or level-up first. Nothing of this one was stored.
        return problem_response(
            409,
            "Conflict",
            "It was changed by another request meanwhile: reload it and try again.",
            instance=request.url.path,
        )

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            500,
            "Internal Server Error",
            "Something went wrong on our side; it has been logged.",
            instance=request.url.path,
        )
