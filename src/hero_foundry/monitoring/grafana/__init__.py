"""Grafana dashboards as code (grafana-foundation-sdk, Grafana 11.6 schema).

One module per dashboard (``overview``, ``performance``, ``slo``, ``infrastructure``), shared
building blocks in ``common``, the PromQL checks in ``promql`` and the metric sources in
``sources``. ``hero_foundry.monitoring.dashboards`` renders them to
``monitoring/grafana/dashboards/*.json`` and checks the result.
"""
