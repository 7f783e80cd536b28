"""Every metric of the service, defined once.

The names are the ones the customer's monitoring document uses (docs/alerting.md); each has a
help text, a unit suffix where it measures something, and labels whose values come from a closed
set: route templates (never raw paths), HTTP methods and status codes, export
formats, operation names.

Metrics are module-level singletons in prometheus_client's default registry, so creating several
apps in one process (as the tests do) never registers anything twice. With several worker
processes, ``PROMETHEUS_MULTIPROC_DIR`` switches prometheus_client to multiprocess mode and
``/metrics`` aggregates every worker's files (see ``exposition.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import Metric
from prometheus_client.registry import Collector


class _BeforeCollect(Collector):
    """Runs its hooks whenever the default registry is collected, before any metric below is read.

    Registered ahead of every metric of this module, so a hook that brings metrics up to date
    (the HTTP middleware's pending counts, see middleware.py) runs first on every path that reads
    them: ``/metrics``, ``generate_latest`` and ``REGISTRY.get_sample_value`` alike.
    """

    def __init__(self) -> None:
        self.hooks: list[Callable[[], None]] = []

    def describe(self) -> Iterable[Metric]:
        return ()

    def collect(self) -> Iterable[Metric]:
        for hook in self.hooks:
            hook()
        return ()


BEFORE_COLLECT = _BeforeCollect()
REGISTRY.register(BEFORE_COLLECT)

# -- HTTP (RED) -------------------------------------------------------------------------------
#: Buckets resolving the 2 s response-time threshold: bounds 10 % apart around it (1.8, 2, 2.2),
#: so a p95 near 2 s is reported within 10 % of the truth (histogram_quantile interpolates
#: linearly inside a bucket), and 3 / 4 s so that a slow api reads as slow, not as 5 s.
#: tests/monitoring/test_histogram_buckets.py checks every alert threshold this way.
HTTP_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 1.8, 2.0, 2.2, 2.5, 3.0, 4.0, 5.0, 10.0  # noqa: E501
)  # fmt: skip
SIZE_BUCKETS = (100, 500, 1_000, 5_000, 10_000, 50_000, 100_000, 500_000, 1_000_000)
#: The ``endpoint`` of every request that matched no route (scanners, typos, 404s).
UNMATCHED_ENDPOINT = "<unmatched>"

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests answered, by method, route template and exact status code.",
    ["method", "endpoint", "status"],
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time from receiving a request to sending the end of its response.",
    ["method", "endpoint"],
    buckets=HTTP_BUCKETS,
)
HTTP_IN_FLIGHT = Gauge(
    "http_requests_in_progress",
    "HTTP requests being processed right now.",
    ["method"],
    multiprocess_mode="livesum",
)
API_RESPONSE_SIZE = Histogram(
    "api_response_size_bytes",
    "Size of response bodies.",
    ["method", "endpoint"],
    buckets=SIZE_BUCKETS,
)

# -- Business operations ----------------------------------------------------------------------
#: The wizard's time, draft start to finalize: bounds 10 % apart around the 300 s alert
#: (270, 300, 330), to 30 min.
CREATION_BUCKETS = (30, 60, 120, 180, 240, 270, 300, 330, 360, 480, 600, 900, 1200, 1800)
#: Level-up start to commit: bounds 10 % apart around the 120 s alert (108, 120, 132), to 20 min.
LEVEL_UP_BUCKETS = (10, 20, 30, 60, 90, 108, 120, 132, 150, 180, 300, 600, 900, 1200)
AI_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60)
EXPORT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10)
#: Export formats: the ``format`` label's only values.
EXPORT_FORMATS = ("json", "pdf", "foundry")

CHARACTERS_CREATED = Counter("characters_created_total", "Characters created (wizard finalized).")
CHARACTER_CREATION_SUCCESS = Counter(
    "character_creation_success_total", "Character creations that stored a character."
)
CHARACTER_CREATION_FAILURE = Counter(
    "character_creation_failure_total",
    "Character creations that failed on the server's side (not refused input).",
)
CHARACTER_CREATION_DURATION = Histogram(
    "character_creation_duration_seconds",
    "The player's time through the creation wizard: draft started to character finalized.",
    buckets=CREATION_BUCKETS,
)

CHARACTERS_LEVELED_UP = Counter(
    "characters_leveled_up_total", "Levels gained (level-ups committed)."
)
LEVEL_UP_SUCCESS = Counter("level_up_success_total", "Level-ups committed.")
LEVEL_UP_FAILURE = Counter(
    "level_up_failure_total", "Level-up commits that failed on the server's side."
)
LEVEL_UP_DURATION = Histogram(
    "level_up_duration_seconds",
    "The player's time through a level-up: session started to committed.",
    buckets=LEVEL_UP_BUCKETS,
)

AI_QUERIES = Counter("ai_queries_total", "Questions asked to the AI rules assistant.")
AI_QUERY_SUCCESS = Counter("ai_query_success_total", "Assistant questions answered.")
AI_QUERY_FAILURE = Counter(
    "ai_query_failure_total",
    "Assistant questions the provider failed to answer (errors, timeouts, open circuit).",
)
AI_QUERY_DURATION = Histogram(
    "ai_query_duration_seconds", "Time to answer an assistant question.", buckets=AI_BUCKETS
)

EXPORT_OPERATIONS = Counter("export_operations_total", "Character exports, by format.", ["format"])
EXPORT_SUCCESS = Counter("export_success_total", "Exports produced, by format.", ["format"])
EXPORT_FAILURE = Counter("export_failure_total", "Exports that failed, by format.", ["format"])
EXPORT_DURATION = Histogram(
    "export_duration_seconds", "Time to produce an export.", ["format"], buckets=EXPORT_BUCKETS
)

CHARACTER_EDITIONS = Counter("character_editions_total", "Character edits saved (PATCH).")
RULE_LOOKUPS = Counter(
    "rule_lookups_total",
    "Rule lookups: full-text searches and single-entry reads.",
    ["type"],
)
RULE_LOOKUP_TYPES = ("search", "entry")

# -- Users ----------------------------------------------------------------------------------
#: Read at scrape time from the shared activity store (see activity.py), never summed per worker.
ACTIVE_USERS_NAME = "active_users_current"
ACTIVE_USERS_HELP = "Distinct users with a request in the activity window (5 minutes by default)."
ACTIVE_SESSIONS_NAME = "active_sessions_current"
ACTIVE_SESSIONS_HELP = "Distinct logins (tokens) with a request in the activity window."

# -- Storage and cache ------------------------------------------------------------------------
DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
#: SQL statement kinds: the ``operation`` label's only values.
DB_OPERATIONS = ("select", "insert", "update", "delete", "other")
DATABASE_QUERY_DURATION = Histogram(
    "database_query_duration_seconds",
    "Time of one SQL statement, by kind.",
    ["operation"],
    buckets=DB_BUCKETS,
)
CACHE_HITS = Counter("cache_hits_total", "Cache lookups that found an entry.", ["cache"])
CACHE_MISSES = Counter("cache_misses_total", "Cache lookups that found nothing.", ["cache"])
#: The customer's ``cache_hit_ratio`` is derived from these counters by a Prometheus recording rule
#: (a gauge set by each replica would be wrong as soon as there are two).

# -- Security (docs/security.md) ----------------------------------------------------------------
#: Why a login failed: the ``reason`` label's only values. ``throttled``: refused before the
#: password was checked, the account or the client being over its failure limit.
LOGIN_FAILURE_REASONS = ("bad_password", "unknown_account", "throttled")
LOGIN_FAILURES = Counter(
    "auth_login_failures",
    "Failed logins, by reason: a wrong password for an existing account, an unknown account, or "
    "refused unchecked (throttled) because the account or the client had too many failures.",
    ["reason"],
)
LOGINS = Counter(
    "auth_logins",
    "Successful logins (bearer tokens issued): with auth_login_failures_total, the share of "
    "failed logins a guessing campaign raises.",
)
#: The rate limits answering 429: the ``limit`` label's only values.
RATE_LIMIT_KINDS = ("login", "register", "assistant")
RATE_LIMITED = Counter(
    "rate_limited_requests",
    "Requests refused with a 429 by a rate limit, by limit: login failures, registrations, "
    "questions to the AI assistant.",
    ["limit"],
)
PASSWORD_HASHING_BUSY = Counter(
    "password_hashing_busy",
    "Requests answered 503 because every password-hashing slot of the process stayed busy for "
    "the whole bounded wait (logins and registrations).",
)
for _reason in LOGIN_FAILURE_REASONS:  # every series exists from the start, at 0
    LOGIN_FAILURES.labels(_reason)
for _limit in RATE_LIMIT_KINDS:
    RATE_LIMITED.labels(_limit)

# -- Build (deploys) ---------------------------------------------------------------------------
#: 1 for the version and commit this process runs (observability/build.py). A new pair of labels
#: is a deploy: the dashboards' "Deploys" annotations and the recording rule
#: hero_foundry:recent_change (which every alert's notification quotes) read it.
BUILD_INFO = Gauge(
    "hero_foundry_build_info",
    "The version and commit of the running api (always 1).",
    ["version", "commit"],
    multiprocess_mode="livemax",
)

# -- Fault drills (docs/drills.md) ----------------------------------------------------------
#: The ``drill`` label's only values: the drill file's switches (drills/state.py).
DRILL_NAMES = (
    "error_rate",
    "latency_seconds",
    "ai_failing",
    "wizard_clock_offset_seconds",
    "level_up_clock_offset_seconds",
)
#: Present only when drills are enabled. Each worker sets it when it reads the drill file, and
#: the worker answering a scrape re-reads first: the most recent write among live workers wins.
DRILL_ACTIVE = Gauge(
    "drill_active",
    "Fault drills switched on (1) or off (0), by drill: injected faults, not real ones.",
    ["drill"],
    multiprocess_mode="livemostrecent",
)

# -- Browser (real-user monitoring, POST /api/metrics) ----------------------------------------
PAGE_VIEWS = Counter(
    "page_views_total",
    "Page views reported by browsers, by allow-listed page and user type.",
    ["page_name", "user_type"],
)
FRONTEND_CREATION_DURATION = Histogram(
    "frontend_character_creation_duration_seconds",
    "The browser's view of the creation wizard's time (first step shown to finalized).",
    buckets=CREATION_BUCKETS,
)
FRONTEND_WIZARD_STEP_DURATION = Histogram(
    "frontend_wizard_step_duration_seconds",
    "Time a player spent on one wizard step, reported by the browser.",
    ["step"],
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600),
)
WEB_VITALS_SECONDS = Histogram(
    "frontend_web_vitals_seconds",
    "Core Web Vitals measured in time (LCP, INP, FCP, TTFB), reported by browsers.",
    ["metric", "page_name"],
    buckets=(0.05, 0.1, 0.2, 0.5, 0.8, 1.0, 1.8, 2.5, 4.0, 6.0, 10.0),
)
WEB_VITALS_CLS = Histogram(
    "frontend_cumulative_layout_shift",
    "Cumulative Layout Shift (unitless), reported by browsers.",
    ["page_name"],
    buckets=(0.01, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0),
)
FRONTEND_ERRORS = Counter(
    "frontend_errors_total", "JavaScript errors reported by browsers.", ["page_name"]
)
TELEMETRY_REJECTED = Counter(
    "telemetry_events_rejected_total",
    "Browser telemetry refused, by reason: single events, or whole requests for the request-level"
    " reasons (rate_limited, body_too_large, unsupported_media_type, malformed_body,"
    " too_many_events).",
    ["reason"],
)
