"""The web tier (``hero-foundry web``): serves the React bundle, forwards ``/api/*`` to the api and
exposes its own ``/metrics``, ``/healthz`` and ``/readyz`` (docs/web-tier.md).

Nothing is imported here: ``cli.py`` imports :mod:`hero_foundry.web.cli` at start-up, and the
application (:func:`hero_foundry.web.app.create_web_app`) imports prometheus_client, which must
not be imported before a multi-worker server has chosen its metrics directory.
"""
