""" "The Hero Foundry - Production Overview": the customer's main dashboard, fixed, and what an
operator needs beside it to tell at a glance whether the service is healthy.

The customer's four panels keep their titles and meaning (System Health Overview, Request Rate,
Response Time, Business Metrics); their queries are fixed: aggregated with ``sum by``, filtered by
the ``$job`` / ``$instance`` variables, over ``$__rate_interval``, per-hour figures from
``increase(...[1h])`` (``rate()`` is per second), ``timeseries`` instead of the removed ``graph``.

The panels the alerts link to (ids 101 HighErrorRate, 102 HighResponseTime, 103 ServiceDown, 104
LoginGuessingCampaign) plot
the alert's own signal: the recording rule its expression reads, per job over every instance, so
the line crosses the dashed threshold when the alert's condition holds.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import elasticsearch, logs
from grafana_foundation_sdk.models import common as cm

from hero_foundry.monitoring.grafana.common import (
    ELASTICSEARCH,
    NEUTRAL,
    OVERVIEW,
    RATE,
    UP_DOWN,
    USER_ERRORS,
    USER_REQUESTS,
    Q,
    annotations,
    app,
    dashboard,
    per_hour,
    per_second,
    query_variable,
    rising,
    row,
    stat_panel,
    thresholds,
    timeseries_panel,
)

#: The customer's HighResponseTime threshold (p95 > 2 s); yellow from 1.5 s.
RESPONSE_TIME_WARN, RESPONSE_TIME_ALERT = 1.5, 2.0
#: The customer's HighErrorRate threshold (5 %); yellow from 1 %.
ERROR_RATIO_WARN, ERROR_RATIO_ALERT = 0.01, 0.05
#: LoginGuessingCampaign's threshold (50 % of logins failing); yellow from 20 %.
GUESSING_WARN, GUESSING_ALERT = 0.2, 0.5


def job_variables() -> list[db.QueryVariable]:
    """``$job`` and ``$instance``: the scrape jobs serving the api's metrics and their targets."""
    return [
        query_variable(
            "job",
            "Job",
            "label_values(http_requests_total, job)",
            description="Scrape jobs exposing the service's metrics (fastapi-backend).",
        ),
        query_variable(
            "instance",
            "Instance",
            'label_values(http_requests_total{job=~"$job"}, instance)',
            description="Targets of the selected jobs (backend-1:8000, backend-2:8000 ...).",
        ),
    ]


#: The alerts' signals, from the recording rules the alerts read (per job, every instance).
JOB = 'job=~"$job"'
ERROR_RATIO = f"job:http_user_errors:ratio_rate5m{{{JOB}}}"
P95 = f"job:http_user_request_duration_seconds:p95_rate5m{{{JOB}}}"
P50 = f"job:http_user_request_duration_seconds:p50_rate5m{{{JOB}}}"
FAILED_LOGINS = f"job:auth_login_failures:ratio_rate5m{{{JOB}}}"
USER_REQUESTS_TEXT = (
    "user requests (Prometheus' scrapes of /metrics and the /healthz and /readyz probes left "
    "out; as an error, the assistant's 503 left out: the AI provider is out, AIServiceDown's "
    "signal)"
)


def error_ratio_by_route() -> str:
    """Share of 5xx among user requests per route, with the recording rules' exact filter
    (both sides aggregated by route, so they divide as totals)."""
    errors = " or ".join(
        f"rate({app('http_requests_total', matchers)}[{RATE}])" for matchers in USER_ERRORS
    )
    requests = per_second("http_requests_total", by="endpoint", matchers=[USER_REQUESTS])
    return f"sum by (endpoint) ({errors}) / {requests}"


def recent_errors() -> logs.Panel:
    """The api's error records from Elasticsearch (ECS JSON logs, see docs/logging.md)."""
    return (
        logs.Panel()
        .title("Recent errors (logs)")
        .description(
            "Error and critical records of the api from Elasticsearch (index hero-foundry-logs-*)."
            " Each carries http.request.id and trace.id: search them to follow one request."
        )
        .datasource(ELASTICSEARCH)
        .with_target(
            elasticsearch.Dataquery()
            .datasource(ELASTICSEARCH)
            .ref_id("A")
            .query('service.name:"hero-foundry" AND log.level:("error" OR "critical")')
            .time_field("@timestamp")
            .metrics([elasticsearch.Logs().id("1")])
        )
        .show_time(True)
        .wrap_log_message(True)
        .enable_log_details(True)
        .sort_order(cm.LogsSortOrder.DESCENDING)
        .span(24)
        .height(8)
    )


def build() -> db.Dashboard:
    d = dashboard(
        OVERVIEW,
        description="Is The Hero Foundry healthy? Targets up, traffic, errors, latency and the "
        "business figures of the last hour. Drill down with the links at the top.",
        tags=["overview"],
    )
    for variable in job_variables():
        d = d.with_variable(variable)
    for annotation in annotations():
        d = d.annotation(annotation)

    d = d.with_row(row("Health"))
    d = d.with_panel(
        stat_panel(
            "System Health Overview",
            "Every scrape target of every job: UP when Prometheus' last scrape succeeded. A "
            "DOWN target fires ServiceDown after 1 minute.",
            [Q("up", "{{job}} - {{instance}}")],
            unit="none",
            steps=thresholds(("red", None), ("green", 1)),
            mappings=UP_DOWN,
            color_background=True,
            width=12,
            height=7,
        ).id(103)
    )
    d = d.with_panel(
        stat_panel(
            "Error ratio (5xx)",
            f"Share of {USER_REQUESTS_TEXT} answered with a 5xx over 5 minutes, per job, over "
            "every instance: job:http_user_errors:ratio_rate5m, HighErrorRate's signal (above "
            f"{ERROR_RATIO_ALERT:.0%} for 2 minutes, with at least 0.1 user requests a second).",
            [Q(ERROR_RATIO, "{{job}}")],
            unit="percentunit",
            steps=rising("green", ERROR_RATIO_WARN, ERROR_RATIO_ALERT),
            decimals=2,
            width=6,
            height=7,
        )
    )
    d = d.with_panel(
        stat_panel(
            "Response time p95",
            "95th percentile of the time to answer user requests (the assistant left out: it "
            "waits for a language model) over 5 minutes, per job, over every instance: "
            "job:http_user_request_duration_seconds:p95_rate5m, HighResponseTime's signal "
            f"(above {RESPONSE_TIME_ALERT:g} s for 3 minutes).",
            [Q(P95, "p95")],
            unit="s",
            steps=rising("green", RESPONSE_TIME_WARN, RESPONSE_TIME_ALERT),
            decimals=3,
            width=6,
            height=7,
        )
    )

    d = d.with_row(row("Traffic"))
    d = d.with_panel(
        timeseries_panel(
            "Request Rate",
            "All requests per second by method and route template, machine traffic included "
            "(Prometheus' scrapes of /metrics, the /healthz and /readyz probes), each route on "
            "its own line; never raw paths: every unmatched path is <unmatched>.",
            [
                Q(
                    per_second("http_requests_total", by="method, endpoint"),
                    "{{method}} {{endpoint}}",
                )
            ],
            unit="reqps",
            axis_label="Requests per second",
            stacked=True,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Response Time",
            "Percentiles of the time from receiving a user request to sending the end of its "
            "response (the assistant left out: it waits for a language model), over 5 minutes, "
            "per job, over every instance: the recording rules "
            "job:http_user_request_duration_seconds:p95_rate5m (HighResponseTime's signal) and "
            ":p50_rate5m. Dashed lines: 1.5 s warning, 2 s alert.",
            [Q(P95, "95th percentile"), Q(P50, "50th percentile")],
            unit="s",
            axis_label="Response time (seconds)",
            steps=rising("green", RESPONSE_TIME_WARN, RESPONSE_TIME_ALERT),
            show_thresholds=True,
        ).id(102)
    )
    d = d.with_panel(
        timeseries_panel(
            "Error ratio (user requests)",
            f"Share of {USER_REQUESTS_TEXT} answered with a 5xx over 5 minutes, per job, over "
            "every instance: job:http_user_errors:ratio_rate5m, HighErrorRate's signal. Dashed "
            f"lines: {ERROR_RATIO_WARN:.0%} warning, {ERROR_RATIO_ALERT:.0%} alert (for 2 "
            "minutes, with at least 0.1 user requests a second). No line: no user request.",
            [Q(ERROR_RATIO, "{{job}}")],
            unit="percentunit",
            axis_label="5xx share",
            steps=rising("green", ERROR_RATIO_WARN, ERROR_RATIO_ALERT),
            show_thresholds=True,
            decimals=2,
        ).id(101)
    )
    d = d.with_panel(
        timeseries_panel(
            "Error ratio by route",
            "Share of 5xx per route template: which route is failing. The same user requests "
            "and errors as the error ratio (no scrapes, no probes; the assistant's 503 left out).",
            [Q(error_ratio_by_route(), "{{endpoint}}")],
            unit="percentunit",
            steps=rising("green", ERROR_RATIO_WARN, ERROR_RATIO_ALERT),
            show_thresholds=True,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Responses by status",
            "All responses per second by exact status code, machine traffic included (scrapes, "
            "health probes) and the assistant's 503 too: what the api answered, not the error "
            "ratio's user requests.",
            [Q(per_second("http_requests_total", by="status"), "{{status}}")],
            unit="reqps",
            axis_label="Responses per second",
            stacked=True,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Requests in flight",
            "Requests being processed right now, summed over workers and instances. A rising "
            "line with a flat request rate means requests are piling up.",
            [Q(f"sum by (method) ({app('http_requests_in_progress')})", "{{method}}")],
            unit="short",
            axis_label="Requests",
            stacked=True,
            decimals=0,
        )
    )

    d = d.with_row(row("Business"))
    d = d.with_panel(
        stat_panel(
            "Business Metrics",
            "Over the last hour (increase over 1 h, not a per-second rate): characters "
            "created, levels gained, questions put to the AI rules assistant.",
            [
                Q(per_hour("characters_created_total"), "Characters Created/Hour"),
                Q(per_hour("characters_leveled_up_total"), "Level-ups/Hour"),
                Q(per_hour("ai_queries_total"), "AI Queries/Hour"),
            ],
            unit="short",
            decimals=0,
            width=12,
            height=6,
        )
    )
    d = d.with_panel(
        stat_panel(
            "Active users",
            "Distinct users with a request in the last 5 minutes. Every replica reports the "
            "same shared figure, so it is the max over instances, never the sum.",
            [Q(f"max({app('active_users_current')})", "Active users")],
            unit="short",
            steps=rising("green", 500, 800),
            decimals=0,
            width=6,
        )
    )
    d = d.with_panel(
        stat_panel(
            "Token cache hit ratio",
            "Share of bearer-token lookups answered by the cache over 5 minutes, over every "
            "replica (recording rule cache_hit_ratio). The cache holds refused tokens only "
            "(revoked or expired, replayed by a stale client): a valid token is checked in the "
            "database on every request, so this stays low in normal traffic (docs/security.md).",
            [Q("cache_hit_ratio", "hit ratio")],
            unit="percentunit",
            steps=NEUTRAL,
            decimals=1,
            width=6,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Operations per hour",
            "Sliding one-hour counts of the business operations.",
            [
                Q(per_hour("characters_created_total"), "characters created"),
                Q(per_hour("characters_leveled_up_total"), "levels gained"),
                Q(per_hour("ai_queries_total"), "AI queries"),
                Q(per_hour("export_operations_total"), "exports"),
                Q(per_hour("character_editions_total"), "edits"),
            ],
            unit="short",
            axis_label="Per hour",
            steps=NEUTRAL,
            decimals=0,
            width=24,
        )
    )

    d = d.with_row(row("Security"))
    d = d.with_panel(
        timeseries_panel(
            "Failed logins (share)",
            "Share of login attempts that failed over 5 minutes (wrong password, unknown "
            "account, or throttled unchecked), per job, over every instance: "
            "job:auth_login_failures:ratio_rate5m, LoginGuessingCampaign's signal (above "
            f"{GUESSING_ALERT:.0%} for 5 minutes, with at least 50 failures in 5 minutes). "
            "No line: no login.",
            [Q(FAILED_LOGINS, "{{job}}")],
            unit="percentunit",
            axis_label="Failed share",
            steps=rising("green", GUESSING_WARN, GUESSING_ALERT),
            show_thresholds=True,
            maximum=1,
            width=12,
        ).id(104)
    )
    d = d.with_panel(
        timeseries_panel(
            "Failed logins and rate-limited requests",
            "Failed logins per second by reason (bad_password, unknown_account, throttled: "
            "refused before the password was checked), and requests refused with a 429 by "
            "each rate limit (login, register, assistant).",
            [
                Q(per_second("auth_login_failures_total", by="reason"), "failed: {{reason}}"),
                Q(per_second("rate_limited_requests_total", by="limit"), "429: {{limit}}"),
            ],
            unit="reqps",
            axis_label="Per second",
            steps=NEUTRAL,
            width=12,
        )
    )

    d = d.with_row(row("Logs"))
    return d.with_panel(recent_errors())
