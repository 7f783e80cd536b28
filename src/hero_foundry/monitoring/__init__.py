"""Monitoring as code: generated dashboards and Kubernetes manifests, and the checks that prove
the files under ``monitoring/`` work."""
