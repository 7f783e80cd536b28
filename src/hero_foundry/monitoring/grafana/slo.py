""" "SLOs & error budget": the api's availability and latency objectives, read from the recording
rules the burn-rate alerts use (``monitoring/prometheus/rules/``), so the dashboard and the pages
can never disagree.

- availability SLI: share of responses that are not 5xx (``job:slo_availability_errors:*`` is
  the 5xx share);
- latency SLI: share of requests served within 2 s (``job:slo_latency_slow:*`` is the share
  slower than 2 s, from the ``le="2.0"`` bucket);
- objectives: ``job:slo_availability:objective`` / ``job:slo_latency:objective`` (the target
  share, e.g. 0.999), so the error budget is ``1 - objective``;
- burn rate over window W: error share over W divided by the budget. 1 spends exactly the
  30-day budget in 30 days; the alerts page at 14.4 (1h and 5m) and 6 (6h and 30m) and open a
  ticket at 3 (1d and 2h) and 1 (3d and 6h) — the Google SRE workbook's multiwindow,
  multi-burn-rate conditions.

The 30-day figures are ratios of sums, never averages of ratios: the bad events' 5-minute rates
summed over 30 days divided by all events' rates summed over 30 days (the recording rules
``job:http_user_errors:rate5m`` / ``job:http_user_requests:rate5m``, and
``job:http_latency_slow:rate5m`` / ``job:http_latency_requests:rate5m``), which is the share of
bad events among all the events of the 30 days. A quiet 5 minutes (no user request) adds 0 to both
sums and leaves the figure as it was; the average of the 5-minute ratios took its 0/0, NaN, and
was NaN for 30 days after any quiet 5 minutes. With no user request at all in 30 days there is no
figure ("no user requests"), never NaN. monitoring/grafana/tests/slo_panels_test.yml evaluates
these exact queries with promtool on series with quiet stretches and gaps.

The panels the burn-rate alerts link to: 301 "Availability burn rate by window"
(ApiErrorBudgetBurn), 302 "Latency burn rate by window" (ApiLatencyBudgetBurn).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import dashboard as dm

from hero_foundry.monitoring.grafana.common import (
    PROMETHEUS,
    SLO,
    Q,
    annotations,
    dashboard,
    stat_panel,
    thresholds,
    timeseries_panel,
)

#: The windows of the SLO recording rules (hero-foundry-recording.yml), shortest first.
WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
#: The SLO period.
PERIOD = "30d"
#: Burn-rate factors of the alerts (page: 14.4 and 6; ticket: 3 and 1).
PAGE_FAST, PAGE_SLOW, TICKET_FAST, TICKET_SLOW = 14.4, 6, 3, 1

SJ = 'job="$job"'


class Sli:
    def __init__(
        self,
        name: str,
        errors: str,
        objective: str,
        good: str,
        bad_rate: str,
        total_rate: str,
        panel_id: int,
    ) -> None:
        self.name = name  # "Availability"
        self.errors = errors  # recording-rule prefix of the bad-event share
        self.objective = objective
        self.good = good  # what a good event is, for descriptions
        self.bad_rate = bad_rate  # recording rule: bad events per second over 5 minutes
        self.total_rate = total_rate  # recording rule: every event per second over 5 minutes
        self.panel_id = panel_id  # of "<name> burn rate by window", the alert's panel

    def error_ratio(self, window: str) -> str:
        return f"{self.errors}{window}{{{SJ}}}"

    def objective_expr(self) -> str:
        return f"{self.objective}{{{SJ}}}"

    def budget(self) -> str:
        return f"(1 - {self.objective_expr()})"

    def burn_rate(self, window: str) -> str:
        return f"{self.error_ratio(window)} / on (job) group_left () {self.budget()}"

    def period_error_ratio(self) -> str:
        """Bad events / all events over the period: a ratio of sums. ``> 0`` leaves no figure,
        rather than 0/0 = NaN, when the period holds no event at all."""
        bad = f"sum_over_time({self.bad_rate}{{{SJ}}}[{PERIOD}])"
        total = f"sum_over_time({self.total_rate}{{{SJ}}}[{PERIOD}])"
        return f"{bad} / ({total} > 0)"

    def period_sli(self) -> str:
        return f"1 - {self.period_error_ratio()}"

    def budget_remaining(self) -> str:
        return f"1 - ({self.period_error_ratio()}) / on (job) group_left () {self.budget()}"


AVAILABILITY = Sli(
    "Availability",
    "job:slo_availability_errors:ratio_rate",
    "job:slo_availability:objective",
    "a response that is not 5xx",
    "job:http_user_errors:rate5m",
    "job:http_user_requests:rate5m",
    301,
)
LATENCY = Sli(
    "Latency",
    "job:slo_latency_slow:ratio_rate",
    "job:slo_latency:objective",
    "a request served within 2 s",
    "job:http_latency_slow:rate5m",
    "job:http_latency_requests:rate5m",
    302,
)
#: What a stat shows when the period holds no user request (instead of NaN).
NO_TRAFFIC = "no user requests"

BUDGET_STEPS = thresholds(("red", None), ("orange", 0), ("yellow", 0.25), ("green", 0.5))
BURN_STEPS = thresholds(
    ("green", None), ("yellow", TICKET_SLOW), ("orange", PAGE_SLOW), ("red", PAGE_FAST)
)


def _sli_panels(d: db.Dashboard, sli: Sli) -> db.Dashboard:
    d = d.with_row(db.Row(f"{sli.name}: {sli.good}"))
    d = d.with_panel(
        stat_panel(
            f"{sli.name} SLI ({PERIOD})",
            f"Share of good events ({sli.good}) among all user requests of the last {PERIOD}: "
            f"1 - sum of {sli.bad_rate} / sum of {sli.total_rate} over {PERIOD}, a ratio of "
            "sums (quiet minutes add nothing; never an average of 5-minute ratios, which a "
            "quiet 5 minutes turns into NaN).",
            [Q(sli.period_sli(), "SLI")],
            unit="percentunit",
            decimals=3,
            no_value=NO_TRAFFIC,
            width=4,
        )
    )
    d = d.with_panel(
        stat_panel(
            f"{sli.name} objective",
            "The target share of good events (recording rule "
            f"{sli.objective}); the error budget is 1 - objective.",
            [Q(sli.objective_expr(), "objective")],
            unit="percentunit",
            decimals=3,
            width=4,
        )
    )
    d = d.with_panel(
        stat_panel(
            f"{sli.name} error budget remaining ({PERIOD})",
            f"Share of the {PERIOD} error budget not spent yet: 1 - (error share over "
            f"{PERIOD}) / (1 - objective), the error share being the ratio of sums of the SLI "
            f"panel. Below 0 the objective is missed.",
            [Q(sli.budget_remaining(), "remaining")],
            unit="percentunit",
            steps=BUDGET_STEPS,
            decimals=1,
            no_value=NO_TRAFFIC,
            width=4,
        )
    )
    d = d.with_panel(
        stat_panel(
            f"{sli.name} burn rate now",
            "Error share over each window divided by the budget. The page conditions are "
            "14.4 over 1h and 5m, 6 over 6h and 30m; the tickets 3 over 1d and 2h, 1 over 3d "
            "and 6h.",
            [Q(sli.burn_rate(w), w) for w in WINDOWS],
            unit="x",
            steps=BURN_STEPS,
            decimals=2,
            width=12,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            f"{sli.name} SLI",
            f"Share of good events ({sli.good}) over 5 minutes and 1 hour, against the objective.",
            [
                Q(f"1 - {sli.error_ratio('5m')}", "SLI 5m"),
                Q(f"1 - {sli.error_ratio('1h')}", "SLI 1h"),
                Q(sli.objective_expr(), "objective"),
            ],
            unit="percentunit",
            minimum=None,
            maximum=1,
            decimals=3,
            width=8,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            f"{sli.name} burn rate by window",
            f"Burn rate over each window of the alerts: {sli.errors}<window> / (1 - "
            "objective), what the burn-rate alert compares. It pages at 14.4 over 1h and 5m or "
            "6 over 6h and 30m, opens a ticket at 3 over 1d and 2h or 1 over 3d and 6h, with "
            "at least job:slo_requests:min_rate user requests a second over the long window. "
            "Dashed lines: 1 (budget spent in exactly 30 days), 6 and 14.4 (pages).",
            [Q(sli.burn_rate(w), w) for w in WINDOWS],
            unit="x",
            steps=BURN_STEPS,
            show_thresholds=True,
            width=8,
        ).id(sli.panel_id)
    )
    return d.with_panel(
        timeseries_panel(
            f"{sli.name} error budget remaining",
            f"Budget left over the trailing {PERIOD} at each point in time (the ratio of sums "
            "of the stat above).",
            [Q(sli.budget_remaining(), "remaining")],
            unit="percentunit",
            steps=BUDGET_STEPS,
            show_thresholds=True,
            minimum=None,
            maximum=1,
            width=8,
        ).interval("1h")
    )


def build() -> db.Dashboard:
    d = dashboard(
        SLO,
        description="The api's availability (non-5xx) and latency (under 2 s) objectives: SLIs, "
        "error budget left over 30 days, and burn rates over the windows the burn-rate alerts "
        "use. Everything comes from the recording rules the alerts read (job:slo_*, "
        "job:http_user_*, job:http_latency_*).",
        tags=["slo"],
        time_from="now-7d",
    )
    d = d.with_variable(
        db.QueryVariable("job")
        .label("Job")
        .description("A scrape job with SLOs (recording rules job:slo_*).")
        .datasource(PROMETHEUS)
        .query("label_values(job:slo_availability_errors:ratio_rate5m, job)")
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
        .multi(False)
        .include_all(False)
        .current(dm.VariableOption(selected=True, text="fastapi-backend", value="fastapi-backend"))
    )
    for annotation in annotations("critical|warning"):
        d = d.annotation(annotation)
    d = d.with_row(db.Row("Traffic"))
    d = d.with_panel(
        timeseries_panel(
            "Requests per second",
            "All requests, machine traffic included (job:http_requests:rate5m); the user "
            "requests the SLIs count (job:http_user_requests:rate5m: no scrapes, no health "
            "probes) over 5 minutes and averaged over the last hour (job:slo_requests:rate1h, "
            "the page's guard); and the minimum traffic under which the burn-rate alerts stay "
            "silent (job:slo_requests:min_rate): burn rates of a quiet service move in big "
            "steps.",
            [
                Q(f"job:http_requests:rate5m{{{SJ}}}", "all requests"),
                Q(f"job:http_user_requests:rate5m{{{SJ}}}", "user requests"),
                Q(f"job:slo_requests:rate1h{{{SJ}}}", "user requests, 1h average"),
                Q(f"job:slo_requests:min_rate{{{SJ}}}", "alerts' minimum traffic"),
            ],
            unit="reqps",
            width=24,
            height=6,
        )
    )
    d = _sli_panels(d, AVAILABILITY)
    d = _sli_panels(d, LATENCY)
    return d
