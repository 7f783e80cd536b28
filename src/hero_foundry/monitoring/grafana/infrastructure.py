"""Infrastructure: the machines (node_exporter), PostgreSQL (postgres_exporter), Redis
(redis_exporter), and the monitoring stack itself (Prometheus, Alertmanager).

Every query names its scrape job (``node-exporter``, ``postgresql``, ``redis``, ``prometheus``,
``alertmanager``, as ``prometheus.yml`` names them) so a metric of the same name from another
job never mixes in.

The panels the alerts link to have fixed ids (401-410) and plot the alert's own signal: CPU,
memory and disk space are the recording rules HighCPUUsage, HighMemoryUsage and DiskSpaceLow read
(``instance:node_cpu_utilisation:percent_rate5m``, ``instance:node_memory_utilisation:percent``,
``instance_mountpoint:node_filesystem_avail:percent``, which holds the filesystem filter: no
tmpfs, overlay, squashfs ...); the others the metric the alert reads.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import dashboard as dm

from hero_foundry.monitoring.grafana.common import (
    GREEN,
    INFRASTRUCTURE,
    RATE,
    RED,
    UP_DOWN,
    Q,
    annotations,
    dashboard,
    falling,
    query_variable,
    rising,
    stat_panel,
    thresholds,
    timeseries_panel,
)

#: Virtual network interfaces: loopback, containers' veth pairs and bridges.
DEVICE_FILTER = 'device!~"lo|veth.*|docker.*|br-.*|cni.*|flannel.*"'

NODE = 'job="node-exporter", instance=~"$node"'
PG = 'job="postgresql", instance=~"$postgres"'
REDIS = 'job="redis", instance=~"$redis"'

#: The customer's HighCPUUsage (80 %) and HighMemoryUsage (85 %) thresholds; DiskSpaceLow (20 %).
CPU_WARN, CPU_ALERT = 70, 80
MEMORY_WARN, MEMORY_ALERT = 75, 85
DISK_ALERT, DISK_WARN = 20, 30


def _variables() -> list[db.QueryVariable]:
    return [
        query_variable(
            "node",
            "Node",
            'label_values(node_uname_info{job="node-exporter"}, instance)',
            description="Machines scraped by the node-exporter job.",
        ),
        query_variable(
            "postgres",
            "PostgreSQL",
            'label_values(pg_up{job="postgresql"}, instance)',
            description="postgres_exporter targets of the postgresql job.",
        ),
        query_variable(
            "redis",
            "Redis",
            'label_values(redis_up{job="redis"}, instance)',
            description="redis_exporter targets of the redis job.",
        ),
    ]


def _nodes(d: db.Dashboard) -> db.Dashboard:
    d = d.with_row(db.Row("Nodes"))
    d = d.with_panel(
        timeseries_panel(
            "CPU usage",
            "Share of CPU time not idle over 5 minutes, averaged over each node's CPUs: "
            "instance:node_cpu_utilisation:percent_rate5m, HighCPUUsage's signal (above 80 % "
            "for 5 minutes).",
            [Q(f"instance:node_cpu_utilisation:percent_rate5m{{{NODE}}}", "{{instance}}")],
            unit="percent",
            steps=rising("green", CPU_WARN, CPU_ALERT),
            show_thresholds=True,
            maximum=100,
            width=8,
        ).id(401)
    )
    d = d.with_panel(
        timeseries_panel(
            "Memory usage",
            "Share of memory not available to new work (MemAvailable): "
            "instance:node_memory_utilisation:percent, HighMemoryUsage's signal (above 85 % "
            "for 5 minutes).",
            [Q(f"instance:node_memory_utilisation:percent{{{NODE}}}", "{{instance}}")],
            unit="percent",
            steps=rising("green", MEMORY_WARN, MEMORY_ALERT),
            show_thresholds=True,
            maximum=100,
            width=8,
        ).id(402)
    )
    d = d.with_panel(
        timeseries_panel(
            "Disk space free",
            "Free space per mount point of real, writable filesystems (no tmpfs, overlay, "
            "squashfs ..., no read-only mount): instance_mountpoint:node_filesystem_avail:"
            "percent, DiskSpaceLow's signal (below 20 % for 5 minutes).",
            [
                Q(
                    f"instance_mountpoint:node_filesystem_avail:percent{{{NODE}}}",
                    "{{instance}} {{mountpoint}}",
                )
            ],
            unit="percent",
            steps=falling(DISK_ALERT, DISK_WARN),
            show_thresholds=True,
            maximum=100,
            width=8,
        ).id(403)
    )
    d = d.with_panel(
        timeseries_panel(
            "Network traffic",
            "Bytes per second received and sent on physical interfaces.",
            [
                Q(
                    "sum by (instance) "
                    f"(rate(node_network_receive_bytes_total{{{NODE}, {DEVICE_FILTER}}}[{RATE}]))",
                    "{{instance}} received",
                ),
                Q(
                    "sum by (instance) "
                    f"(rate(node_network_transmit_bytes_total{{{NODE}, {DEVICE_FILTER}}}[{RATE}]))",
                    "{{instance}} sent",
                ),
            ],
            unit="Bps",
            width=8,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Disk I/O utilisation",
            "Share of time each block device was busy: near 100 % the disk is saturated.",
            [
                Q(
                    f"rate(node_disk_io_time_seconds_total{{{NODE}}}[{RATE}])",
                    "{{instance}} {{device}}",
                )
            ],
            unit="percentunit",
            steps=rising("green", 0.7, 0.9),
            show_thresholds=True,
            maximum=1,
            width=8,
        )
    )
    return d.with_panel(
        timeseries_panel(
            "Load per CPU",
            "1-minute load average divided by the number of CPUs: above 1 work is queueing.",
            [
                Q(
                    f"node_load1{{{NODE}}} / on (instance) group_left () "
                    f'count by (instance) (node_cpu_seconds_total{{{NODE}, mode="idle"}})',
                    "{{instance}}",
                )
            ],
            unit="short",
            steps=rising("green", 0.8, 1.5),
            show_thresholds=True,
            width=8,
        )
    )


def _postgres(d: db.Dashboard) -> db.Dashboard:
    d = d.with_row(db.Row("PostgreSQL"))
    d = d.with_panel(
        stat_panel(
            "PostgreSQL up",
            "pg_up: the exporter reached PostgreSQL on its last scrape. PostgreSQLDown fires "
            "after 1 minute DOWN; DependencyRecentlyDown (no notification: it holds back the "
            "api's budget pages) while it was DOWN in the last 30 minutes: see the sparkline.",
            [Q(f"pg_up{{{PG}}}", "{{instance}}")],
            unit="none",
            steps=thresholds(("red", None), ("green", 1)),
            mappings=UP_DOWN,
            color_background=True,
            sparkline=True,
            width=4,
            height=8,
        ).id(404)
    )
    d = d.with_panel(
        timeseries_panel(
            "Connections used",
            "Backends connected, as a share of max_connections.",
            [
                Q(
                    f"sum by (instance) (pg_stat_database_numbackends{{{PG}}}) "
                    f"/ max by (instance) (pg_settings_max_connections{{{PG}}})",
                    "{{instance}}",
                )
            ],
            unit="percentunit",
            steps=rising("green", 0.7, 0.9),
            show_thresholds=True,
            maximum=1,
            width=10,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Transactions per second",
            "Commits and rollbacks per second over every database.",
            [
                Q(
                    f"sum by (instance) (rate(pg_stat_database_xact_commit{{{PG}}}[{RATE}]))",
                    "{{instance}} commits",
                ),
                Q(
                    f"sum by (instance) (rate(pg_stat_database_xact_rollback{{{PG}}}[{RATE}]))",
                    "{{instance}} rollbacks",
                ),
            ],
            unit="ops",
            width=10,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Buffer cache hit ratio",
            "Share of block reads served from shared buffers. Well under 0.99 on an OLTP "
            "database means the working set no longer fits in memory.",
            [
                Q(
                    f"sum by (instance) (rate(pg_stat_database_blks_hit{{{PG}}}[{RATE}])) / "
                    f"(sum by (instance) (rate(pg_stat_database_blks_hit{{{PG}}}[{RATE}])) + "
                    f"sum by (instance) (rate(pg_stat_database_blks_read{{{PG}}}[{RATE}])))",
                    "{{instance}}",
                )
            ],
            unit="percentunit",
            steps=falling(0.9, 0.99),
            show_thresholds=True,
            minimum=None,
            maximum=1,
            width=8,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Longest transaction and deadlocks",
            "Age of the oldest open transaction (holds locks and blocks vacuum), and deadlocks "
            "in the last hour.",
            [
                Q(f"max by (instance) (pg_stat_activity_max_tx_duration{{{PG}}})", "{{instance}}"),
                Q(
                    f"sum by (instance) (increase(pg_stat_database_deadlocks{{{PG}}}[1h]))",
                    "{{instance}} deadlocks/hour",
                ),
            ],
            unit="s",
            width=8,
        )
    )
    return d.with_panel(
        timeseries_panel(
            "Database size",
            "On-disk size of each database (templates excluded).",
            [
                Q(
                    f'pg_database_size_bytes{{{PG}, datname!~"template.*"}}',
                    "{{instance}} {{datname}}",
                )
            ],
            unit="bytes",
            width=8,
        )
    )


def _redis(d: db.Dashboard) -> db.Dashboard:
    d = d.with_row(db.Row("Redis"))
    d = d.with_panel(
        stat_panel(
            "Redis up",
            "redis_up: the exporter reached Redis on its last scrape. RedisDown fires after 1 "
            "minute DOWN; DependencyRecentlyDown while it was DOWN in the last 30 minutes.",
            [Q(f"redis_up{{{REDIS}}}", "{{instance}}")],
            unit="none",
            steps=thresholds(("red", None), ("green", 1)),
            mappings=UP_DOWN,
            color_background=True,
            sparkline=True,
            width=4,
            height=8,
        ).id(405)
    )
    d = d.with_panel(
        timeseries_panel(
            "Commands per second",
            "Commands Redis processed per second.",
            [
                Q(
                    f"sum by (instance) (rate(redis_commands_processed_total{{{REDIS}}}[{RATE}]))",
                    "{{instance}}",
                )
            ],
            unit="ops",
            width=10,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Memory used",
            "Memory Redis allocated for data and overhead (maxmemory is 0 when unlimited).",
            [
                Q(f"redis_memory_used_bytes{{{REDIS}}}", "{{instance}} used"),
                Q(f"redis_memory_max_bytes{{{REDIS}}} > 0", "{{instance}} maxmemory"),
            ],
            unit="bytes",
            width=10,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Keyspace hit ratio",
            "Share of key lookups that found the key.",
            [
                Q(
                    f"sum by (instance) (rate(redis_keyspace_hits_total{{{REDIS}}}[{RATE}])) / "
                    f"(sum by (instance) (rate(redis_keyspace_hits_total{{{REDIS}}}[{RATE}])) + "
                    f"sum by (instance) (rate(redis_keyspace_misses_total{{{REDIS}}}[{RATE}])))",
                    "{{instance}}",
                )
            ],
            unit="percentunit",
            minimum=None,
            maximum=1,
            width=8,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Connected clients",
            "Client connections open.",
            [Q(f"sum by (instance) (redis_connected_clients{{{REDIS}}})", "{{instance}}")],
            unit="short",
            decimals=0,
            width=8,
        )
    )
    return d.with_panel(
        timeseries_panel(
            "Evicted and expired keys",
            "Keys evicted under memory pressure (should stay 0 for the activity store) and "
            "keys expired, per second.",
            [
                Q(
                    f"sum by (instance) (rate(redis_evicted_keys_total{{{REDIS}}}[{RATE}]))",
                    "{{instance}} evicted",
                ),
                Q(
                    f"sum by (instance) (rate(redis_expired_keys_total{{{REDIS}}}[{RATE}]))",
                    "{{instance}} expired",
                ),
            ],
            unit="ops",
            width=8,
        )
    )


#: Value mappings of a "last reload successful" gauge.
RELOADED = [
    dm.ValueMap(
        options={
            "0": dm.ValueMappingResult(text="FAILED", color=RED, index=0),
            "1": dm.ValueMappingResult(text="OK", color=GREEN, index=1),
        }
    )
]


def _ratio(errors: str, total: str, by: str) -> str:
    return f"sum by ({by}) ({errors}) / sum by ({by}) ({total})"


def _rate(metric: str, job: str) -> str:
    return f'rate({metric}{{job="{job}"}}[{RATE}])'


def _monitoring(d: db.Dashboard) -> db.Dashboard:
    d = d.with_row(db.Row("Monitoring stack"))
    d = d.with_panel(
        stat_panel(
            "Targets up by job",
            "Targets up / targets configured, per scrape job (up). A target DOWN fires "
            "ServiceDown; a job with no target at all is missing here and fires TargetMissing.",
            [Q("sum by (job) (up) / count by (job) (up)", "{{job}}")],
            unit="percentunit",
            steps=thresholds(("red", None), ("yellow", 0.5), ("green", 1)),
            color_background=True,
            width=8,
            height=8,
        ).id(406)
    )
    d = d.with_panel(
        timeseries_panel(
            "Rule evaluation failures",
            "Recording and alerting rules Prometheus failed to evaluate "
            "(prometheus_rule_evaluation_failures_total), per hour and group: an alert that "
            "cannot be evaluated cannot fire. PrometheusRuleEvaluationFailures fires after 15 "
            "minutes with failures in every 5 minutes.",
            [
                Q(
                    "sum by (rule_group) "
                    '(increase(prometheus_rule_evaluation_failures_total{job="prometheus"}[1h]))',
                    "{{rule_group}}",
                )
            ],
            unit="short",
            axis_label="Per hour",
            steps=rising("green", 1, 1),
            width=8,
        ).id(407)
    )
    prometheus_failed = " + on (job, instance) ".join(
        f"sum by (job, instance) ({_rate(m, 'prometheus')})"
        for m in ("prometheus_notifications_errors_total", "prometheus_notifications_dropped_total")
    )
    prometheus_tried = " + on (job, instance) ".join(
        f"sum by (job, instance) ({_rate(m, 'prometheus')})"
        for m in ("prometheus_notifications_sent_total", "prometheus_notifications_dropped_total")
    )
    d = d.with_panel(
        timeseries_panel(
            "Notifications failing",
            "Share of alert notifications Prometheus failed to deliver to Alertmanager or "
            "dropped ((errors + dropped) / (sent + dropped): PrometheusNotificationsFailing), "
            "and share Alertmanager failed to deliver, per integration (Slack, PagerDuty, "
            "e-mail, the dead-man's switch: failed / sent, AlertmanagerNotificationsFailing). "
            "Both alerts fire above 1 % (dashed line). No line: nothing was sent.",
            [
                Q(f"({prometheus_failed}) / ({prometheus_tried})", "prometheus {{instance}}"),
                Q(
                    _ratio(
                        _rate("alertmanager_notifications_failed_total", "alertmanager"),
                        _rate("alertmanager_notifications_total", "alertmanager"),
                        "instance, integration",
                    ),
                    "alertmanager -> {{integration}}",
                ),
            ],
            unit="percentunit",
            steps=rising("green", 0.01, 0.01),
            show_thresholds=True,
            width=8,
        ).id(408)
    )
    d = d.with_panel(
        stat_panel(
            "Configuration reloads",
            "Whether Prometheus and Alertmanager loaded their last configuration "
            "(prometheus_config_last_reload_successful, alertmanager_config_last_reload_"
            "successful). FAILED: the new rules, routes or receivers were refused and the "
            "previous ones still run; PrometheusConfigReloadFailed / "
            "AlertmanagerConfigReloadFailed fire after 10 minutes.",
            [
                Q(
                    'prometheus_config_last_reload_successful{job="prometheus"}',
                    "prometheus {{instance}}",
                ),
                Q(
                    'alertmanager_config_last_reload_successful{job="alertmanager"}',
                    "alertmanager {{instance}}",
                ),
            ],
            unit="none",
            steps=thresholds((RED, None), (GREEN, 1)),
            mappings=RELOADED,
            color_background=True,
            sparkline=True,
            width=12,
            height=6,
        ).id(409)
    )
    return d.with_panel(
        stat_panel(
            "Alertmanagers discovered",
            "Alertmanagers each Prometheus sends its alerts to "
            "(prometheus_notifications_alertmanagers_discovered). 0: every alert stops at "
            "Prometheus; PrometheusNotConnectedToAlertmanagers fires after 10 minutes.",
            [
                Q(
                    'prometheus_notifications_alertmanagers_discovered{job="prometheus"}',
                    "{{instance}}",
                )
            ],
            unit="none",
            steps=thresholds((RED, None), (GREEN, 1)),
            color_background=True,
            sparkline=True,
            decimals=0,
            width=12,
            height=6,
        ).id(410)
    )


def build() -> db.Dashboard:
    d = dashboard(
        INFRASTRUCTURE,
        description="Machines, PostgreSQL, Redis and the monitoring stack: what the api runs on.",
        tags=["infrastructure"],
    )
    for variable in _variables():
        d = d.with_variable(variable)
    for annotation in annotations():
        d = d.annotation(annotation)
    d = _nodes(d)
    d = _postgres(d)
    d = _redis(d)
    return _monitoring(d)
