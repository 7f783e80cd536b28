""" "Performance & User Experience": the customer's performance dashboard, fixed, and the user's
side of the service beside it: the AI assistant, exports, storage, and what browsers report.

The customer's three panels keep their titles (Character Creation Performance, Level-up
Performance, Active Users). Their thresholds move into ``fieldConfig.defaults`` with one colour
per range (the customer's document gave green, yellow and red the same value): creation green
< 240 s, yellow < 300 s, red from 300 s (CharacterCreationSlow's threshold); level-up green
< 90 s, yellow < 120 s, red from 120 s (LevelUpSlow's). Active Users keeps its 0-1000 scale and
500 / 800 steps, as ``min`` / ``max`` of the field instead of the document's ``maxValue``.

The panels the alerts link to (201 CharacterCreationSlow, 202 LevelUpSlow, 203 AIServiceDown) plot
the recording rule the alert reads, per job over every instance.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from hero_foundry.monitoring.grafana.common import (
    NEUTRAL,
    PERFORMANCE,
    RATE,
    Q,
    annotations,
    app,
    dashboard,
    gauge_panel,
    per_hour,
    per_second,
    quantile,
    rising,
    row,
    stat_panel,
    thresholds,
    timeseries_panel,
)
from hero_foundry.monitoring.grafana.overview import job_variables

#: CharacterCreationSlow fires when the creation p95 exceeds 300 s; yellow from 240 s.
CREATION_WARN, CREATION_ALERT = 240, 300
#: LevelUpSlow fires when the level-up p95 exceeds 120 s; yellow from 90 s.
LEVEL_UP_WARN, LEVEL_UP_ALERT = 90, 120
#: AIServiceDown fires when more than 20 % of the questions fail; yellow from 5 %.
AI_FAILURE_WARN, AI_FAILURE_ALERT = 0.05, 0.2
#: The customer's Active Users gauge: 0-1000, yellow from 500, red from 800.
ACTIVE_USERS_MAX, ACTIVE_USERS_WARN, ACTIVE_USERS_HIGH = 1000, 500, 800
#: Core Web Vitals "good" / "poor" limits at p75 (web.dev): LCP 2.5 / 4 s, INP 0.2 / 0.5 s.
LCP_GOOD, LCP_POOR = 2.5, 4.0
CLS_GOOD, CLS_POOR = 0.1, 0.25


def failure_ratio(failures: str, successes: str, by: str = "") -> str:
    """failures / (failures + successes), aggregated on both sides."""
    fail = per_second(failures, by=by)
    return f"{fail} / ({fail} + {per_second(successes, by=by)})"


#: The alerts' signals: recording rules, per job over every instance (the Instance variable does
#: not apply to them).
JOB = 'job=~"$job"'


def job_median(histogram: str) -> str:
    """The p50 beside a p95 recording rule: grouped like the rule (by job), every instance."""
    buckets = f"{histogram}_bucket{{{JOB}}}"
    return f"histogram_quantile(0.5, sum by (le, job) (rate({buckets}[{RATE}])))"


def build() -> db.Dashboard:
    d = dashboard(
        PERFORMANCE,
        description="How long players wait: the creation wizard, level-ups, the AI assistant, "
        "exports, the database, and what browsers measure (page views, Web Vitals, errors).",
        tags=["performance", "frontend"],
        time_from="now-24h",
    )
    for variable in job_variables():
        d = d.with_variable(variable)
    for annotation in annotations():
        d = d.annotation(annotation)

    d = d.with_row(row("Player journeys"))
    d = d.with_panel(
        timeseries_panel(
            "Character Creation Performance",
            "The player's time through the creation wizard, draft started to character "
            "finalized, measured by the server, per job over every instance. The p95 is "
            "CharacterCreationSlow's signal, the recording rule "
            "job:character_creation_duration_seconds:p95_rate5m: the alert fires when it stays "
            "above 300 s for 5 minutes.",
            [
                Q(
                    f"job:character_creation_duration_seconds:p95_rate5m{{{JOB}}}",
                    "95th percentile - Creation Time",
                ),
                Q(job_median("character_creation_duration_seconds"), "50th percentile"),
            ],
            unit="s",
            axis_label="Duration (seconds)",
            steps=rising("green", CREATION_WARN, CREATION_ALERT),
            show_thresholds=True,
            width=9,
        ).id(201)
    )
    d = d.with_panel(
        timeseries_panel(
            "Level-up Performance",
            "The player's time through a level-up, session started to committed, per job over "
            "every instance. The p95 is LevelUpSlow's signal, the recording rule "
            "job:level_up_duration_seconds:p95_rate5m: the alert fires when it stays above "
            "120 s for 5 minutes.",
            [
                Q(
                    f"job:level_up_duration_seconds:p95_rate5m{{{JOB}}}",
                    "95th percentile - Level-up Time",
                ),
                Q(job_median("level_up_duration_seconds"), "50th percentile"),
            ],
            unit="s",
            axis_label="Duration (seconds)",
            steps=rising("green", LEVEL_UP_WARN, LEVEL_UP_ALERT),
            show_thresholds=True,
            width=9,
        ).id(202)
    )
    d = d.with_panel(
        gauge_panel(
            "Active Users",
            "Distinct users with a request in the last 5 minutes (a shared figure: every "
            "replica reports the same value, so the max, never the sum).",
            [Q(f"max({app('active_users_current')})", "Active Users")],
            unit="short",
            minimum=0,
            maximum=ACTIVE_USERS_MAX,
            steps=thresholds(
                ("green", None), ("yellow", ACTIVE_USERS_WARN), ("red", ACTIVE_USERS_HIGH)
            ),
            width=6,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Active users and sessions",
            "Distinct users and logins (tokens) seen in the last 5 minutes.",
            [
                Q(f"max({app('active_users_current')})", "users"),
                Q(f"max({app('active_sessions_current')})", "sessions"),
            ],
            unit="short",
            decimals=0,
            width=8,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Creation and level-up failures",
            "Share of wizard finalizations and level-up commits that failed on the server's "
            "side (input the rules refuse is not a failure).",
            [
                Q(
                    failure_ratio(
                        "character_creation_failure_total", "character_creation_success_total"
                    ),
                    "creation",
                ),
                Q(failure_ratio("level_up_failure_total", "level_up_success_total"), "level-up"),
            ],
            unit="percentunit",
            steps=rising("green", 0.01, 0.05),
            show_thresholds=True,
            width=8,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Edits and rule lookups per hour",
            "Character edits saved and rule lookups (searches and single entries), sliding "
            "one-hour counts.",
            [
                Q(per_hour("character_editions_total"), "edits"),
                Q(per_hour("rule_lookups_total", by="type"), "rule lookups ({{type}})"),
            ],
            unit="short",
            axis_label="Per hour",
            decimals=0,
            width=8,
        )
    )

    d = d.with_row(row("AI rules assistant"))
    d = d.with_panel(
        timeseries_panel(
            "AI queries: answered and failed",
            "Questions answered and failed (provider errors, timeouts, open circuit) per "
            "second. AIServiceDown watches the failure share, not silence.",
            [
                Q(per_second("ai_query_success_total"), "answered"),
                Q(per_second("ai_query_failure_total"), "failed"),
            ],
            unit="reqps",
            stacked=True,
            width=8,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "AI failure ratio",
            "Share of the assistant's questions that failed (provider error, timeout, open "
            "circuit breaker) over 5 minutes, per job: job:ai_query_failures:ratio_rate5m, "
            "AIServiceDown's signal. Dashed lines: 5 % warning, 20 % alert (for 2 minutes, with "
            "at least 5 questions in the 5 minutes). No line: no question asked.",
            [Q(f"job:ai_query_failures:ratio_rate5m{{{JOB}}}", "{{job}}")],
            unit="percentunit",
            steps=rising("green", AI_FAILURE_WARN, AI_FAILURE_ALERT),
            show_thresholds=True,
            decimals=1,
            width=8,
        ).id(203)
    )
    d = d.with_panel(
        timeseries_panel(
            "AI answer time",
            "Time to answer an assistant question (provider call included).",
            [
                Q(quantile(0.95, "ai_query_duration_seconds"), "p95"),
                Q(quantile(0.50, "ai_query_duration_seconds"), "p50"),
            ],
            unit="s",
            steps=rising("green", 5, 10),
            show_thresholds=True,
            width=8,
        )
    )

    d = d.with_row(row("Exports"))
    d = d.with_panel(
        timeseries_panel(
            "Exports by format per hour",
            "Exports attempted in the last hour, by format (json, pdf, foundry).",
            [Q(per_hour("export_operations_total", by="format"), "{{format}}")],
            unit="short",
            axis_label="Per hour",
            stacked=True,
            decimals=0,
            width=8,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Export failures by format",
            "Share of exports that failed, by format.",
            [
                Q(
                    failure_ratio("export_failure_total", "export_success_total", by="format"),
                    "{{format}}",
                )
            ],
            unit="percentunit",
            steps=rising("green", 0.01, 0.05),
            show_thresholds=True,
            width=8,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Export time p95 by format",
            "95th percentile of the time to produce an export file.",
            [Q(quantile(0.95, "export_duration_seconds", by="format"), "{{format}}")],
            unit="s",
            steps=rising("green", 2, 5),
            width=8,
        )
    )

    d = d.with_row(row("Storage and responses"))
    d = d.with_panel(
        timeseries_panel(
            "Database query time p95 by operation",
            "95th percentile of one SQL statement's time, by kind (select, insert, update, "
            "delete, other).",
            [
                Q(
                    quantile(0.95, "database_query_duration_seconds", by="operation"),
                    "{{operation}}",
                )
            ],
            unit="s",
            steps=rising("green", 0.1, 0.5),
            show_thresholds=True,
            width=8,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Token cache hit ratio",
            "Share of bearer-token lookups the cache answered (recording rule cache_hit_ratio, "
            "over every replica). Only refused tokens (revoked or expired) are cached: a valid "
            "token is checked in the database on every request, so this stays low in normal "
            "traffic and rises when clients replay dead tokens.",
            [Q("cache_hit_ratio", "hit ratio")],
            unit="percentunit",
            steps=NEUTRAL,
            show_thresholds=True,
            maximum=1,
            width=8,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Response size p95 by route",
            "95th percentile of response body sizes, by route template.",
            [Q(quantile(0.95, "api_response_size_bytes", by="endpoint"), "{{endpoint}}")],
            unit="bytes",
            width=8,
        )
    )

    d = d.with_row(row("Front end (real-user monitoring)"))
    d = d.with_panel(
        timeseries_panel(
            "Page views by page per hour",
            "Page views reported by browsers in the last hour, by allow-listed page (anything "
            "else counts as other).",
            [Q(per_hour("page_views_total", by="page_name"), "{{page_name}}")],
            unit="short",
            axis_label="Per hour",
            stacked=True,
            decimals=0,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Web Vitals p75",
            "75th percentile of the Core Web Vitals measured in time (LCP, INP, FCP, TTFB), as "
            "browsers report them. Dashed lines: LCP good under 2.5 s, poor from 4 s.",
            [Q(quantile(0.75, "frontend_web_vitals_seconds", by="metric"), "{{metric}}")],
            unit="s",
            steps=rising("green", LCP_GOOD, LCP_POOR),
            show_thresholds=True,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Front-end wizard time",
            "The browser's view of the creation wizard (first step shown to finalized), "
            "beside the server's Character Creation Performance.",
            [
                Q(quantile(0.95, "frontend_character_creation_duration_seconds"), "p95"),
                Q(quantile(0.50, "frontend_character_creation_duration_seconds"), "p50"),
            ],
            unit="s",
            steps=rising("green", CREATION_WARN, CREATION_ALERT),
            show_thresholds=True,
            width=8,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Wizard step durations p75",
            "75th percentile of the time players spend on each wizard step: where they hesitate.",
            [Q(quantile(0.75, "frontend_wizard_step_duration_seconds", by="step"), "{{step}}")],
            unit="s",
            width=8,
        )
    )
    d = d.with_panel(
        stat_panel(
            "Cumulative Layout Shift p75",
            "75th percentile of CLS (unitless): good under 0.1, poor from 0.25.",
            [Q(quantile(0.75, "frontend_cumulative_layout_shift"), "CLS")],
            unit="none",
            steps=rising("green", CLS_GOOD, CLS_POOR),
            decimals=3,
            width=8,
            height=8,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "JavaScript errors per hour",
            "Errors browsers reported in the last hour, by page.",
            [Q(per_hour("frontend_errors_total", by="page_name"), "{{page_name}}")],
            unit="short",
            axis_label="Per hour",
            stacked=True,
            decimals=0,
        )
    )
    return d.with_panel(
        timeseries_panel(
            "Telemetry rejected",
            "Browser telemetry the service refused, by reason. A burst of rate_limited or "
            "malformed_body is a misbehaving client or someone probing the endpoint.",
            [Q(per_second("telemetry_events_rejected_total", by="reason"), "{{reason}}")],
            unit="reqps",
            stacked=True,
        )
    )
