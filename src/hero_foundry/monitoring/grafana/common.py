"""Building blocks shared by the dashboards: datasources, variables, panels with units and
thresholds in ``fieldConfig.defaults``, links between the dashboards.

Everything goes through grafana-foundation-sdk's builders (pinned to the Grafana 11.6 schema), so
the JSON has the shape Grafana 11.6 saves itself. A few helpers below exist only to keep the
dashboard modules short and uniform: one call per panel, the ``refId``s assigned in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import gauge, prometheus, stat, timeseries
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

# -- Datasources (uids fixed by monitoring/grafana/provisioning/datasources/datasources.yml) --
PROMETHEUS_UID = "prometheus"
ALERTMANAGER_UID = "alertmanager"
ELASTICSEARCH_UID = "elasticsearch"
PROMETHEUS = dm.DataSourceRef(type_val="prometheus", uid=PROMETHEUS_UID)
ELASTICSEARCH = dm.DataSourceRef(type_val="elasticsearch", uid=ELASTICSEARCH_UID)

# -- Dashboards: uid, title (the customer's titles for the first two) -----------------------
OVERVIEW = ("hero-foundry-overview", "The Hero Foundry - Production Overview")
PERFORMANCE = ("hero-foundry-performance", "Performance & User Experience")
SLO = ("hero-foundry-slo", "SLOs & error budget")
INFRASTRUCTURE = ("hero-foundry-infrastructure", "Infrastructure - PostgreSQL, Redis and nodes")
#: Every dashboard carries this tag; the "The Hero Foundry" link menu lists them by it.
TAG = "hero-foundry"

#: The api's scrape-job and instance filters, driven by the ``$job`` / ``$instance`` variables.
APP = 'job=~"$job", instance=~"$instance"'
#: Grafana's rate window: at least four scrape intervals of the datasource (its timeInterval).
RATE = "$__rate_interval"

#: User requests, as the recording rules define them (monitoring/prometheus/rules/
#: hero-foundry-recording.yml, group hero-foundry-user-requests): Prometheus' scrapes and the
#: health probes are machine traffic, left out. A test compares these with the rules.
USER_REQUESTS = 'endpoint!~"/metrics|/healthz|/readyz"'
#: 5xx answers to user requests: the assistant's 503 (the AI provider is out, AIServiceDown's
#: signal) is left out, a 500 of the assistant (our bug) counts. Two selectors, or-ed.
USER_ERRORS = (
    'status=~"5..", endpoint!~"/metrics|/healthz|/readyz|/api/assistant/ask"',
    'status=~"5..", status!="503", endpoint="/api/assistant/ask"',
)


def app(metric: str, *matchers: str) -> str:
    """``metric`` selected by the ``$job`` / ``$instance`` variables (and ``matchers``)."""
    return f"{metric}{{{', '.join((APP, *matchers))}}}"


def quantile(q: float, histogram: str, *, by: str = "", matchers: Sequence[str] = ()) -> str:
    """The ``q`` quantile of a histogram of the app, ``sum by (le, ...)`` over instances."""
    labels = f"le, {by}" if by else "le"
    buckets = app(f"{histogram}_bucket", *matchers)
    return f"histogram_quantile({q}, sum by ({labels}) (rate({buckets}[{RATE}])))"


def per_hour(counter: str, *, by: str = "", matchers: Sequence[str] = ()) -> str:
    """How many in the last hour: ``increase(...[1h])`` (``rate`` would be per second)."""
    return f"{_sum(by)}(increase({app(counter, *matchers)}[1h]))"


def per_second(counter: str, *, by: str = "", matchers: Sequence[str] = ()) -> str:
    return f"{_sum(by)}(rate({app(counter, *matchers)}[{RATE}]))"


def _sum(by: str) -> str:
    return f"sum by ({by}) " if by else "sum"


# -- Colours of threshold steps -------------------------------------------------------------
GREEN, YELLOW, ORANGE, RED, BLUE = "green", "yellow", "orange", "red", "blue"


def thresholds(*steps: tuple[str, float | None]) -> db.ThresholdsConfig:
    """Absolute thresholds; the first step is the base (its value is ``None``: -infinity)."""
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(color=color, value=value) for color, value in steps])
    )


def rising(ok: str, warn: float, bad: float) -> db.ThresholdsConfig:
    """Green below ``warn``, yellow from ``warn``, red from ``bad`` (latencies, usage)."""
    return thresholds((ok, None), (YELLOW, warn), (RED, bad))


def falling(bad: float, ok: float) -> db.ThresholdsConfig:
    """Red below ``bad``, yellow below ``ok``, green from ``ok`` (hit ratios, free space)."""
    return thresholds((RED, None), (YELLOW, bad), (GREEN, ok))


#: Plain series colours: one neutral step, no meaning attached to a value.
NEUTRAL = thresholds((GREEN, None))

UP_DOWN = [
    dm.ValueMap(
        options={
            "0": dm.ValueMappingResult(text="DOWN", color=RED, index=0),
            "1": dm.ValueMappingResult(text="UP", color=GREEN, index=1),
        }
    )
]


@dataclass(frozen=True)
class Q:
    """One Prometheus query of a panel: the expression and its legend."""

    expr: str
    legend: str = ""
    instant: bool = False


def _targets(queries: Sequence[Q]) -> list[prometheus.Dataquery]:
    targets = []
    for index, query in enumerate(queries):
        target = (
            prometheus.Dataquery()
            .datasource(PROMETHEUS)
            .ref_id(chr(ord("A") + index))
            .expr(query.expr)
            .legend_format(query.legend or "__auto")
        )
        targets.append(target.instant() if query.instant else target.range())
    return targets


def timeseries_panel(
    title: str,
    description: str,
    queries: Sequence[Q],
    *,
    unit: str,
    axis_label: str = "",
    steps: db.ThresholdsConfig = NEUTRAL,
    show_thresholds: bool = False,
    stacked: bool = False,
    minimum: float | None = 0,
    maximum: float | None = None,
    decimals: float | None = None,
    width: int = 12,
    height: int = 8,
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(PROMETHEUS)
        .targets(_targets(queries))
        .unit(unit)
        .thresholds(steps)
        .color_scheme(db.FieldColor().mode(dm.FieldColorModeId.PALETTE_CLASSIC))
        .line_width(1)
        .fill_opacity(25 if stacked else 10)
        .show_points(cm.VisibilityMode.NEVER)
        .span_nulls(False)
        .legend(
            cb.VizLegendOptions()
            .display_mode(
                cm.LegendDisplayMode.TABLE if len(queries) > 1 else cm.LegendDisplayMode.LIST
            )
            .placement(cm.LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["mean", "max", "lastNotNull"] if len(queries) > 1 else [])
        )
        .tooltip(
            cb.VizTooltipOptions().mode(cm.TooltipDisplayMode.MULTI).sort(cm.SortOrder.DESCENDING)
        )
        .thresholds_style(
            cb.GraphThresholdsStyleConfig().mode(
                cm.GraphThresholdsStyleMode.DASHED
                if show_thresholds
                else cm.GraphThresholdsStyleMode.OFF
            )
        )
        .span(width)
        .height(height)
    )
    if axis_label:
        panel = panel.axis_label(axis_label)
    if stacked:
        panel = panel.stacking(cb.StackingConfig().mode(cm.StackingMode.NORMAL))
    if minimum is not None:
        panel = panel.min(minimum)
    if maximum is not None:
        panel = panel.max(maximum)
    if decimals is not None:
        panel = panel.decimals(decimals)
    return panel


def stat_panel(
    title: str,
    description: str,
    queries: Sequence[Q],
    *,
    unit: str,
    steps: db.ThresholdsConfig = NEUTRAL,
    mappings: list[dm.ValueMapping] | None = None,
    decimals: float | None = None,
    calc: str = "lastNotNull",
    color_background: bool = False,
    sparkline: bool | None = None,
    no_value: str = "",
    width: int = 6,
    height: int = 6,
) -> stat.Panel:
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(PROMETHEUS)
        .targets(_targets(queries))
        .unit(unit)
        .thresholds(steps)
        .color_scheme(db.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
        .reduce_options(cb.ReduceDataOptions().calcs([calc]).values(False))
        .color_mode(
            cm.BigValueColorMode.BACKGROUND if color_background else cm.BigValueColorMode.VALUE
        )
        .graph_mode(
            cm.BigValueGraphMode.AREA
            if (not color_background if sparkline is None else sparkline)
            else cm.BigValueGraphMode.NONE
        )
        .text_mode(
            cm.BigValueTextMode.VALUE_AND_NAME
            if len(queries) > 1 or color_background
            else cm.BigValueTextMode.AUTO
        )
        .span(width)
        .height(height)
    )
    if mappings:
        panel = panel.mappings(mappings)
    if decimals is not None:
        panel = panel.decimals(decimals)
    if no_value:
        panel = panel.no_value(no_value)
    return panel


def gauge_panel(
    title: str,
    description: str,
    queries: Sequence[Q],
    *,
    unit: str,
    minimum: float,
    maximum: float,
    steps: db.ThresholdsConfig,
    width: int = 6,
    height: int = 8,
) -> gauge.Panel:
    return (
        gauge.Panel()
        .title(title)
        .description(description)
        .datasource(PROMETHEUS)
        .targets(_targets(queries))
        .unit(unit)
        .min(minimum)
        .max(maximum)
        .decimals(0)
        .thresholds(steps)
        .color_scheme(db.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .show_threshold_markers(True)
        .show_threshold_labels(False)
        .span(width)
        .height(height)
    )


def query_variable(
    name: str, label: str, query: str, *, description: str, include_all: bool = True
) -> db.QueryVariable:
    """A Prometheus ``label_values(...)`` variable; "All" matches every value (``.+``)."""
    variable = (
        db.QueryVariable(name)
        .label(label)
        .description(description)
        .datasource(PROMETHEUS)
        .query(query)
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
        .multi(include_all)
        .include_all(include_all)
    )
    if include_all:
        variable = variable.all_value(".+").current(
            dm.VariableOption(selected=True, text="All", value="$__all")
        )
    return variable


def links() -> list[db.DashboardLink]:
    """A drop-down of every Hero Foundry dashboard, keeping the time range."""
    return [
        db.DashboardLink("The Hero Foundry")
        .type(dm.DashboardLinkType.DASHBOARDS)
        .tags([TAG])
        .as_dropdown(True)
        .keep_time(True)
        .include_vars(False)
        .target_blank(False)
        .icon("external link")
        .tooltip("")
        .url("")
    ]


def firing_alerts(severities: str = "critical|warning") -> db.AnnotationQuery:
    """Alerts firing while the graph was drawn, from Prometheus' ``ALERTS`` series."""
    return _annotation(FIRING_ALERTS, f'ALERTS{{alertstate="firing", severity=~"{severities}"}}')


@dataclass(frozen=True)
class Annotation:
    """A Prometheus annotation query: every series of ``expr`` marks the time it has a value
    (one region per unbroken stretch); the text comes from its labels."""

    name: str
    expr: str
    color: str
    title: str  # Grafana's titleFormat: {{label}} placeholders
    text: str  # textFormat
    tags: str  # tagKeys: labels shown as tags, comma-separated


#: Alerts firing (the expression is set per dashboard: which severities).
FIRING_ALERTS = Annotation(
    "Firing alerts",
    "",
    "rgba(255, 96, 96, 1)",
    "{{alertname}} ({{severity}})",
    "{{service}} {{instance}}",
    "severity,service",
)
#: What changed: the first question of every incident. The same three kinds of change as the
#: recording rule hero_foundry:recent_change (which the alerts' notifications quote), drawn
#: where they happened: a drill for as long as it is switched on, a deploy and a
#: configuration reload for the 5 minutes after it (the rule keeps them "recent" 30 minutes).
CHANGES = (
    Annotation(
        "Drills",
        # drill_active{drill} is 1 on every replica while a fault drill is on (docs/drills.md).
        "max by (drill) (drill_active) > 0",
        "rgba(255, 152, 48, 1)",
        "Drill: {{drill}}",
        "A fault drill is switched on: the faults are injected, not real.",
        "drill",
    ),
    Annotation(
        "Deploys",
        # A version or commit of the api that no replica ran 5 minutes before (a restart of the
        # same build is no deploy; a rollback is one).
        "max by (version, commit) (hero_foundry_build_info)"
        " unless max by (version, commit) (hero_foundry_build_info offset 5m)",
        "rgba(50, 116, 217, 1)",
        "Deploy {{version}}",
        "The api now runs version {{version}}, commit {{commit}}.",
        "version,commit",
    ),
    Annotation(
        "Configuration reloads",
        # The time of the last successful reload changed: new rules, routes or receivers.
        "changes(prometheus_config_last_reload_success_timestamp_seconds[5m]) > 0"
        " or changes(alertmanager_config_last_reload_success_timestamp_seconds[5m]) > 0",
        "rgba(163, 82, 204, 1)",
        "{{job}} configuration reloaded",
        "{{job}} {{instance}} loaded a new configuration (rules, routes, receivers).",
        "job",
    ),
)
#: Name -> the annotation; dashboards.to_model writes its formats (the SDK has no field for them).
ANNOTATIONS = {a.name: a for a in (FIRING_ALERTS, *CHANGES)}


def _annotation(annotation: Annotation, expr: str) -> db.AnnotationQuery:
    return (
        db.AnnotationQuery()
        .name(annotation.name)
        .datasource(PROMETHEUS)
        .enable(True)
        .hide(False)
        .icon_color(annotation.color)
        .expr(expr)
    )


def annotations(severities: str = "critical|warning") -> list[db.AnnotationQuery]:
    """Every dashboard's annotations: firing alerts, then drills, deploys and reloads."""
    return [firing_alerts(severities), *(_annotation(a, a.expr) for a in CHANGES)]


def dashboard(
    uid_title: tuple[str, str],
    *,
    description: str,
    tags: Sequence[str],
    time_from: str = "now-6h",
) -> db.Dashboard:
    uid, title = uid_title
    return (
        db.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([TAG, *tags])
        .editable()
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .time(time_from, "now")
        .timezone("browser")
        .refresh("1m")
        .timepicker(db.TimePicker().refresh_intervals(["30s", "1m", "5m", "15m", "1h"]))
        .links(links())
    )


def row(title: str) -> db.Row:
    return db.Row(title)
