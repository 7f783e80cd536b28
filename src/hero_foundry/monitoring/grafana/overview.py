""" "The Hero Foundry - Production Overview": the seed's main dashboard, fixed, and what an
operator needs beside it to tell at a glance whether the service is healthy.

The seed's four panels keep their titles and meaning (System Health Overview, Request Rate,
Response Time, Business Metrics); their queries are fixed: aggregated with ``sum by``, filtered by
the ``$job`` / ``$instance`` variables, over ``$__rate_interval``, per-hour figures from
``increase(...[1h])`` (``rate()`` is per second), ``timeseries`` instead of the removed ``graph``.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import elasticsearch, logs
from grafana_foundation_sdk.models import common as cm

from hero_foundry.monitoring.grafana.common import (
    ELASTICSEARCH,
    NEUTRAL,
    OVERVIEW,
    UP_DOWN,
    Q,
    app,
    dashboard,
    falling,
    firing_alerts,
    per_hour,
    per_second,
    quantile,
    query_variable,
    rising,
    row,
    stat_panel,
    thresholds,
    timeseries_panel,
)

#: The seed's HighResponseTime threshold (p95 > 2 s); yellow from 1.5 s.
RESPONSE_TIME_WARN, RESPONSE_TIME_ALERT = 1.5, 2.0
#: The seed's HighErrorRate threshold (5 %); yellow from 1 %.
ERROR_RATIO_WARN, ERROR_RATIO_ALERT = 0.01, 0.05


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


def error_ratio(by: str = "job") -> str:
    """Share of 5xx among all responses: both sides aggregated, so they divide as totals
    (the seed divided each 5xx series by itself and got 1)."""
    errors = per_second("http_requests_total", by=by, matchers=['status=~"5.."'])
    return f"{errors} / {per_second('http_requests_total', by=by)}"


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
    d = d.annotation(firing_alerts())

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
        )
    )
    d = d.with_panel(
        stat_panel(
            "Error ratio (5xx)",
            "Share of the api's responses that were 5xx, over the rate interval. HighErrorRate "
            f"fires above {ERROR_RATIO_ALERT:.0%} for 2 minutes.",
            [Q(error_ratio(), "{{job}}")],
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
            "95th percentile of the api's response time. HighResponseTime fires above "
            f"{RESPONSE_TIME_ALERT:g} s for 3 minutes.",
            [Q(quantile(0.95, "http_request_duration_seconds"), "p95")],
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
            "Requests per second by method and route template (never raw paths: every "
            "unmatched path is <unmatched>).",
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
            "Percentiles of the time from receiving a request to sending the end of its "
            "response, over every route. Dashed lines: 1.5 s warning, 2 s alert.",
            [
                Q(quantile(0.95, "http_request_duration_seconds"), "95th percentile"),
                Q(quantile(0.50, "http_request_duration_seconds"), "50th percentile"),
            ],
            unit="s",
            axis_label="Response time (seconds)",
            steps=rising("green", RESPONSE_TIME_WARN, RESPONSE_TIME_ALERT),
            show_thresholds=True,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Responses by status",
            "Responses per second by exact status code.",
            [Q(per_second("http_requests_total", by="status"), "{{status}}")],
            unit="reqps",
            axis_label="Responses per second",
            stacked=True,
            width=8,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Error ratio by route",
            "Share of 5xx responses per route template: which route is failing.",
            [Q(error_ratio("endpoint"), "{{endpoint}}")],
            unit="percentunit",
            steps=rising("green", ERROR_RATIO_WARN, ERROR_RATIO_ALERT),
            show_thresholds=True,
            width=8,
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
            width=8,
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
            "replica (recording rule cache_hit_ratio).",
            [Q("cache_hit_ratio", "hit ratio")],
            unit="percentunit",
            steps=falling(0.5, 0.8),
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

    d = d.with_row(row("Logs"))
    return d.with_panel(recent_errors())
