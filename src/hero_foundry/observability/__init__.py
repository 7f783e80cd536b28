"""Metrics, logs, health and browser telemetry."""
