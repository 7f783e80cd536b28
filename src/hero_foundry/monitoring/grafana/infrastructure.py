"""Infrastructure: the machines (node_exporter), PostgreSQL (postgres_exporter), Redis
(redis_exporter), and the monitoring stack itself (Prometheus, Alertmanager).

Every query names its scrape job (the contract's ``node-exporter``, ``postgresql``, ``redis``,
``prometheus``, ``alertmanager``) so a metric of the same name from another job never mixes in.
The disk panel uses the DiskSpaceLow alert's filesystem filter: pseudo and overlay filesystems
(tmpfs, overlay, squashfs ...) are never "low on space" in a way anyone can act on.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from hero_foundry.monitoring.grafana.common import (
    INFRASTRUCTURE,
    RATE,
    UP_DOWN,
    Q,
    dashboard,
    falling,
    firing_alerts,
    query_variable,
    rising,
    stat_panel,
    thresholds,
    timeseries_panel,
)

#: Filesystems DiskSpaceLow ignores (and so does the disk panel): a test compares the two.
FSTYPE_FILTER = (
    'fstype!~"tmpfs|ramfs|devtmpfs|overlay|squashfs|iso9660|nsfs|fuse.lxcfs|autofs", fstype!=""'
)
#: Virtual network interfaces: loopback, containers' veth pairs and bridges.
DEVICE_FILTER = 'device!~"lo|veth.*|docker.*|br-.*|cni.*|flannel.*"'

NODE = 'job="node-exporter", instance=~"$node"'
PG = 'job="postgresql", instance=~"$postgres"'
REDIS = 'job="redis", instance=~"$redis"'

#: The seed's HighCPUUsage (80 %) and HighMemoryUsage (85 %) thresholds; DiskSpaceLow (20 %).
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
            "Share of CPU time not idle, averaged over each node's CPUs. HighCPUUsage fires "
            "above 80 % for 5 minutes.",
            [
                Q(
                    "100 * (1 - avg by (instance) "
                    f'(rate(node_cpu_seconds_total{{{NODE}, mode="idle"}}[{RATE}])))',
                    "{{instance}}",
                )
            ],
            unit="percent",
            steps=rising("green", CPU_WARN, CPU_ALERT),
            show_thresholds=True,
            maximum=100,
            width=8,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Memory usage",
            "Share of memory not available to new work (MemAvailable). HighMemoryUsage fires "
            "above 85 % for 5 minutes.",
            [
                Q(
                    f"100 * (1 - node_memory_MemAvailable_bytes{{{NODE}}} "
                    f"/ node_memory_MemTotal_bytes{{{NODE}}})",
                    "{{instance}}",
                )
            ],
            unit="percent",
            steps=rising("green", MEMORY_WARN, MEMORY_ALERT),
            show_thresholds=True,
            maximum=100,
            width=8,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Disk space free",
            "Free space per mount point, real filesystems only (the DiskSpaceLow filter). "
            "DiskSpaceLow fires below 20 % for 5 minutes.",
            [
                Q(
                    f"100 * node_filesystem_avail_bytes{{{NODE}, {FSTYPE_FILTER}}} "
                    f"/ node_filesystem_size_bytes{{{NODE}, {FSTYPE_FILTER}}}",
                    "{{instance}} {{mountpoint}}",
                )
            ],
            unit="percent",
            steps=falling(DISK_ALERT, DISK_WARN),
            show_thresholds=True,
            maximum=100,
            width=8,
        )
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
            "pg_up: the exporter reached PostgreSQL on its last scrape (PostgreSQLDown fires "
            "when it did not).",
            [Q(f"pg_up{{{PG}}}", "{{instance}}")],
            unit="none",
            steps=thresholds(("red", None), ("green", 1)),
            mappings=UP_DOWN,
            color_background=True,
            width=4,
            height=8,
        )
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
            "redis_up: the exporter reached Redis on its last scrape (RedisDown fires when it "
            "did not).",
            [Q(f"redis_up{{{REDIS}}}", "{{instance}}")],
            unit="none",
            steps=thresholds(("red", None), ("green", 1)),
            mappings=UP_DOWN,
            color_background=True,
            width=4,
            height=8,
        )
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


def _monitoring(d: db.Dashboard) -> db.Dashboard:
    d = d.with_row(db.Row("Monitoring stack"))
    d = d.with_panel(
        stat_panel(
            "Targets up by job",
            "Targets up / targets configured, per scrape job. A job with no target at all "
            "fires TargetMissing.",
            [Q("sum by (job) (up) / count by (job) (up)", "{{job}}")],
            unit="percentunit",
            steps=thresholds(("red", None), ("yellow", 0.5), ("green", 1)),
            color_background=True,
            width=8,
            height=8,
        )
    )
    d = d.with_panel(
        timeseries_panel(
            "Rule evaluation failures",
            "Recording and alerting rules Prometheus failed to evaluate, per hour and group: "
            "an alert that cannot be evaluated cannot fire.",
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
        )
    )
    return d.with_panel(
        timeseries_panel(
            "Notifications failing",
            "Alert notifications Prometheus could not deliver to Alertmanager, and those "
            "Alertmanager could not deliver to Slack, PagerDuty, e-mail or the dead-man's "
            "switch, per second.",
            [
                Q(
                    "sum by (alertmanager) "
                    '(rate(prometheus_notifications_errors_total{job="prometheus"}'
                    f"[{RATE}]))",
                    "prometheus -> {{alertmanager}}",
                ),
                Q(
                    "sum by (integration) "
                    '(rate(alertmanager_notifications_failed_total{job="alertmanager"}'
                    f"[{RATE}]))",
                    "alertmanager -> {{integration}}",
                ),
            ],
            unit="ops",
            width=8,
        )
    )


def build() -> db.Dashboard:
    d = dashboard(
        INFRASTRUCTURE,
        description="Machines, PostgreSQL, Redis and the monitoring stack: what the api runs on.",
        tags=["infrastructure"],
    )
    for variable in _variables():
        d = d.with_variable(variable)
    d = d.annotation(firing_alerts())
    d = _nodes(d)
    d = _postgres(d)
    d = _redis(d)
    return _monitoring(d)
