"""``POST /api/metrics``: browser telemetry (real-user monitoring) as small, validated events.

Browsers never send Prometheus text (prom-client does not run in a browser, and accepting series
from anyone would let anyone create series). They send JSON events; this module checks each one
against allow-lists and updates the bounded metrics of ``metrics.py``:

- ``page_view {page, user_type}``       -> ``page_views_total{page_name, user_type}``
- ``wizard_step {step, seconds}``       -> ``frontend_wizard_step_duration_seconds{step}``
- ``wizard_complete {seconds}``         -> ``frontend_character_creation_duration_seconds``
- ``web_vital {name, value, page}``     -> ``frontend_web_vitals_seconds{metric, page_name}``
  (LCP, INP, FCP, TTFB: milliseconds in, seconds out) or ``frontend_cumulative_layout_shift``
- ``js_error {page, message?}``         -> ``frontend_errors_total{page_name}``

Unknown page names fold into ``other``; an event that is not valid is dropped and counted in
``telemetry_events_rejected_total{reason}``, the others of its request still count. The request
as a whole is refused (nothing applied) when the client is over its rate, the body is too large,
not JSON, or holds too many events. See ``docs/telemetry.md``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from pydantic_core import PydanticCustomError
from starlette.requests import ClientDisconnect

from hero_foundry.observability.metrics import (
    FRONTEND_CREATION_DURATION,
    FRONTEND_ERRORS,
    FRONTEND_WIZARD_STEP_DURATION,
    PAGE_VIEWS,
    TELEMETRY_REJECTED,
    WEB_VITALS_CLS,
    WEB_VITALS_SECONDS,
)
from hero_foundry.problems import ProblemError, responses
from hero_foundry.throttling import client_key

log = logging.getLogger("hero_foundry.telemetry")

PATH = "/api/metrics"

# -- Allow-lists: the only label values the browser can reach ---------------------------------
#: The web front end's pages (they mirror its routes to come). Anything else counts as ``other``.
OTHER_PAGE = "other"
PAGE_NAMES: tuple[str, ...] = (
    "home",
    "sign-in",
    "sign-up",
    "characters",
    "character-sheet",
    "wizard-race",
    "wizard-class",
    "wizard-background",
    "wizard-abilities",
    "wizard-skills",
    "wizard-equipment",
    "wizard-spells",
    "wizard-details",
    "wizard-review",
    "level-up",
    "rules-search",
    "rule-entry",
    "assistant",
    "import",
    "export",
    OTHER_PAGE,
)
_PAGES = frozenset(PAGE_NAMES)
#: The creation wizard's steps: the server's own (``/api/characters/drafts/{id}/<step>``).
WIZARD_STEPS: tuple[str, ...] = (
    "race",
    "class",
    "background",
    "ability-scores",
    "choices",
    "spells",
    "details",
    "finalize",
)
USER_TYPES: tuple[str, ...] = ("anonymous", "registered")
#: Web vitals measured in milliseconds by the web-vitals library (stored in seconds).
TIME_VITALS: tuple[str, ...] = ("LCP", "INP", "FCP", "TTFB")
WEB_VITALS: tuple[str, ...] = (*TIME_VITALS, "CLS")

# -- Plausibility caps: above them a value is a bug or a forgery, not a measurement --------------
MAX_SECONDS = 24 * 3600.0
MAX_VITAL_MS = MAX_SECONDS * 1000
MAX_CLS = 10.0
#: A js_error's message is logged (never a label) cut to this many characters.
MAX_LOGGED_MESSAGE = 200

# -- Why an event or a request was refused: the ``reason`` label's only values ------------------
#: Per event (counted once per dropped event; the other events of the request still count).
UNKNOWN_TYPE = "unknown_type"
INVALID = "invalid"
OUT_OF_RANGE = "out_of_range"
#: Per request (counted once per refused request; none of its events is applied).
RATE_LIMITED = "rate_limited"
BODY_TOO_LARGE = "body_too_large"
UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
MALFORMED_BODY = "malformed_body"
TOO_MANY_EVENTS = "too_many_events"
REJECT_REASONS: tuple[str, ...] = (
    UNKNOWN_TYPE,
    INVALID,
    OUT_OF_RANGE,
    RATE_LIMITED,
    BODY_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    MALFORMED_BODY,
    TOO_MANY_EVENTS,
)
for _reason in REJECT_REASONS:  # every series exists from the start, at 0 (rate() works at once)
    TELEMETRY_REJECTED.labels(_reason)

_RANGE_ERRORS = frozenset(
    {
        "greater_than",
        "greater_than_equal",
        "less_than",
        "less_than_equal",
        "finite_number",
        OUT_OF_RANGE,
    }
)


def page_name(page: str) -> str:
    """The ``page_name`` label of a page the browser reported: itself if allow-listed, else
    ``other``."""
    return page if page in _PAGES else OTHER_PAGE


# -- The event schema -----------------------------------------------------------------------
Seconds = Annotated[float, Field(ge=0, le=MAX_SECONDS, allow_inf_nan=False)]


class _Event(BaseModel):
    # Strict: "12" is not a number and true is not 1. Extra fields (web-vitals' id, rating,
    # delta, navigationType...) are ignored, so the front end can send the library's object.
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class PageView(_Event):
    type: Literal["page_view"]
    page: str = Field(description="A page name; names not in the allow-list count as `other`.")
    user_type: Literal[USER_TYPES] = "anonymous"  # type: ignore[valid-type]


class WizardStep(_Event):
    type: Literal["wizard_step"]
    step: Literal[WIZARD_STEPS]  # type: ignore[valid-type]
    seconds: Seconds


class WizardComplete(_Event):
    type: Literal["wizard_complete"]
    seconds: Seconds = Field(description="First wizard step shown to character finalized.")


class WebVital(_Event):
    type: Literal["web_vital"]
    name: Literal[WEB_VITALS]  # type: ignore[valid-type]
    value: float = Field(
        ge=0,
        allow_inf_nan=False,
        description="Milliseconds for LCP, INP, FCP and TTFB (as web-vitals reports them); "
        "unitless for CLS.",
    )
    page: str

    @model_validator(mode="after")
    def _plausible(self) -> WebVital:
        limit = MAX_CLS if self.name == "CLS" else MAX_VITAL_MS
        if self.value > limit:
            raise PydanticCustomError(
                OUT_OF_RANGE, "{name} above {limit}", {"name": self.name, "limit": limit}
            )
        return self


class JsError(_Event):
    type: Literal["js_error"]
    page: str
    message: str | None = Field(
        None, description="Logged (truncated, sanitized) by the server; never a metric label."
    )


Event = Annotated[
    PageView | WizardStep | WizardComplete | WebVital | JsError, Field(discriminator="type")
]
_EVENT = TypeAdapter(Event)


class TelemetryBatch(BaseModel):
    """What a browser posts (a bare JSON array of events is accepted too)."""

    events: list[Event]


class TelemetryResult(BaseModel):
    accepted: int = Field(description="Events applied to the metrics.")
    rejected: int = Field(description="Events dropped (see telemetry_events_rejected_total).")


def _reason(error: ValidationError) -> str:
    kinds = []
    for item in error.errors():
        kind = item["type"]
        value = item.get("input")
        if kind == "float_type" and isinstance(value, int) and not isinstance(value, bool):
            kind = OUT_OF_RANGE  # an integer too large for a float
        kinds.append(kind)
    if "union_tag_invalid" in kinds:
        return UNKNOWN_TYPE
    if all(kind in _RANGE_ERRORS for kind in kinds):
        return OUT_OF_RANGE
    return INVALID


def validate_event(item: Any) -> PageView | WizardStep | WizardComplete | WebVital | JsError | str:
    """The event, or the reason it is refused."""
    try:
        return _EVENT.validate_python(item)
    except ValidationError as exc:
        return _reason(exc)
    except (RecursionError, ValueError, TypeError):  # pragma: no cover - defensive
        return INVALID


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]+")


def sanitize(message: str) -> str:
    """A browser's error message, safe to log: control characters and lone surrogates out, cut
    short."""
    text = message.encode("utf-8", "replace").decode("utf-8")
    text = _CONTROL.sub(" ", text).strip()
    if len(text) > MAX_LOGGED_MESSAGE:
        text = text[:MAX_LOGGED_MESSAGE] + "…"
    return text


def apply(events: Iterable[Any]) -> tuple[int, int]:
    """Validate each event and update the metrics with the valid ones: (accepted, rejected)."""
    accepted = rejected = 0
    logged_error = False
    for item in events:
        event = validate_event(item)
        if isinstance(event, str):
            TELEMETRY_REJECTED.labels(event).inc()
            rejected += 1
            continue
        accepted += 1
        if isinstance(event, PageView):
            PAGE_VIEWS.labels(page_name(event.page), event.user_type).inc()
        elif isinstance(event, WizardStep):
            FRONTEND_WIZARD_STEP_DURATION.labels(event.step).observe(event.seconds)
        elif isinstance(event, WizardComplete):
            FRONTEND_CREATION_DURATION.observe(event.seconds)
        elif isinstance(event, WebVital):
            if event.name == "CLS":
                WEB_VITALS_CLS.labels(page_name(event.page)).observe(event.value)
            else:
                WEB_VITALS_SECONDS.labels(event.name, page_name(event.page)).observe(
                    event.value / 1000
                )
        else:
            FRONTEND_ERRORS.labels(page_name(event.page)).inc()
            if not logged_error:  # one log record per request at most: the count is the metric
                logged_error = True
                log.info(
                    "browser JavaScript error on page %s: %s",
                    page_name(event.page),
                    sanitize(event.message or "(no message)"),
                )
    return accepted, rejected


# -- Rate limiting --------------------------------------------------------------------------
#: Clients whose bucket is remembered; past it the least recently seen is forgotten.
MAX_TRACKED_CLIENTS = 10_000


class RateLimiter:
    """A token bucket per client: ``rate_per_minute`` requests a minute, in bursts of as many.

    In-process and in memory, bounded to ``max_clients`` buckets (least recently seen evicted:
    a forgotten client starts again with a full bucket). Each worker process has its own.
    """

    def __init__(
        self,
        rate_per_minute: int,
        *,
        max_clients: int = MAX_TRACKED_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = float(rate_per_minute)
        self.per_second = rate_per_minute / 60.0
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def acquire(self, client: str) -> float:
        """Take a token for ``client``: 0 if allowed, else the seconds until one is available."""
        now = self.clock()
        tokens, last = self._buckets.pop(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + max(0.0, now - last) * self.per_second)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.per_second
        self._buckets[client] = (tokens, now)  # most recently seen last
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait


def limiter(request: Request) -> RateLimiter:
    """The application's limiter (one per app, made on first use from its settings)."""
    state = request.app.state
    found = getattr(state, "telemetry_limiter", None)
    if found is None:
        found = RateLimiter(state.settings.telemetry_rate_per_minute)
        state.telemetry_limiter = found
    return found


# -- The request ----------------------------------------------------------------------------
#: Media types a browser's beacon arrives with (sendBeacon with a string sends text/plain).
ACCEPTED_MEDIA_TYPES = frozenset({"application/json", "text/plain"})


def _refuse(reason: str, status_code: int, detail: str, **kwargs: Any) -> ProblemError:
    TELEMETRY_REJECTED.labels(reason).inc()
    return ProblemError(status_code, detail, **kwargs)


def _check_media_type(request: Request) -> None:
    header = request.headers.get("content-type")
    if header is None:  # sendBeacon with an untyped Blob: read as JSON
        return
    media_type, *params = (part.strip().lower() for part in header.split(";"))
    exposition = media_type == "text/plain" and any(p.startswith("version=") for p in params)
    if media_type not in ACCEPTED_MEDIA_TYPES or exposition:
        raise _refuse(
            UNSUPPORTED_MEDIA_TYPE,
            415,
            "Send JSON events (application/json, or text/plain from navigator.sendBeacon); "
            "Prometheus and OpenMetrics text are not accepted.",
        )


async def _read_body(request: Request, cap: int) -> bytes:
    too_large = f"The telemetry body is larger than {cap} bytes: send fewer events at once."
    declared = request.headers.get("content-length")
    if declared is not None:
        with contextlib.suppress(ValueError):
            if int(declared) > cap:
                raise _refuse(BODY_TOO_LARGE, 413, too_large)
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > cap:  # stop receiving: the rest is never read
                raise _refuse(BODY_TOO_LARGE, 413, too_large)
    except ClientDisconnect as exc:  # the client left, or the app-wide body limit answered
        raise ProblemError(400, "The request body was not received.") from exc
    return bytes(body)


def _parse(body: bytes) -> list[Any]:
    if body.lstrip()[:1] == b"#":
        raise _refuse(
            UNSUPPORTED_MEDIA_TYPE,
            415,
            "Prometheus exposition text is not accepted: send JSON events (see the API docs).",
        )
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, nested too deep, huge integers
        raise _refuse(MALFORMED_BODY, 422, "The body is not valid JSON.") from None
    events = document.get("events") if isinstance(document, dict) else document
    if not isinstance(events, list):
        raise _refuse(
            MALFORMED_BODY,
            422,
            'The body must be {"events": [...]} (or a JSON array of events).',
        )
    return events


def _request_schema() -> dict[str, Any]:
    """The request body's JSON schema, self-contained (pydantic's ``$defs`` inlined)."""
    schema = TypeAdapter(TelemetryBatch | list[Event]).json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {
                key: {"propertyName": value["propertyName"]}
                if key == "discriminator"
                else inline(value)
                for key, value in node.items()
            }
        if isinstance(node, list):
            return [inline(value) for value in node]
        return node

    return inline(schema)


_SCHEMA = _request_schema()
_EXAMPLE = {
    "events": [
        {"type": "page_view", "page": "wizard-race", "user_type": "registered"},
        {"type": "web_vital", "name": "LCP", "value": 1840.5, "page": "wizard-race"},
        {"type": "wizard_step", "step": "race", "seconds": 42.1},
    ]
}

router = APIRouter(tags=["telemetry"])


@router.post(
    PATH,
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TelemetryResult,
    responses=responses(413, 415, 422, 429),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                media: {"schema": _SCHEMA, "example": _EXAMPLE} for media in ACCEPTED_MEDIA_TYPES
            },
        }
    },
)
async def post_telemetry(request: Request) -> TelemetryResult:
    """Browser telemetry: page views, wizard timings, web vitals and JavaScript errors.

    No login needed. Unknown page names count as `other`; invalid events are dropped (and
    counted), the others apply. Whole requests are refused over the client's rate (429), over
    the body or event caps (413), or when the body is not JSON events (415, 422).
    See docs/telemetry.md.
    """
    settings = request.app.state.settings
    wait = limiter(request).acquire(client_key(request.client.host if request.client else None))
    if wait > 0:
        raise _refuse(
            RATE_LIMITED,
            429,
            f"At most {settings.telemetry_rate_per_minute} telemetry requests a minute.",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    _check_media_type(request)
    events = _parse(await _read_body(request, settings.telemetry_max_body_bytes))
    if len(events) > settings.telemetry_max_events:
        raise _refuse(
            TOO_MANY_EVENTS,
            413,
            f"At most {settings.telemetry_max_events} events a request; "
            f"this one has {len(events)}.",
        )
    accepted, rejected = apply(events)
    return TelemetryResult(accepted=accepted, rejected=rejected)
