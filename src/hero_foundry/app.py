"""``create_app(settings)``: the FastAPI application with its routers, middleware and lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from hero_foundry import __version__, problems
from hero_foundry.accounts.routes import router as accounts_router
from hero_foundry.accounts.security import PasswordHashing, password_hasher
from hero_foundry.assistant.routes import router as assistant_router
from hero_foundry.cache import create_cache
from hero_foundry.characters.routes import router as characters_router
from hero_foundry.dice.signing import signer_for
from hero_foundry.drills.inject import DrillMiddleware
from hero_foundry.drills.state import DrillFile
from hero_foundry.exports.routes import router as exports_router
from hero_foundry.levelling.routes import router as levelling_router
from hero_foundry.limits import BodySizeLimit
from hero_foundry.lookup.routes import router as lookup_router
from hero_foundry.observability import build
from hero_foundry.observability.activity import DatabaseActivity, RedisActivity
from hero_foundry.observability.database import instrument as instrument_database
from hero_foundry.observability.exposition import multiproc_dir
from hero_foundry.observability.exposition import router as metrics_router
from hero_foundry.observability.health import router as health_router
from hero_foundry.observability.logs import configure_logging, install_request_context
from hero_foundry.observability.middleware import MetricsMiddleware
from hero_foundry.observability.telemetry import router as telemetry_router
from hero_foundry.observability.tracing import current_trace_id, setup_tracing
from hero_foundry.settings import Settings
from hero_foundry.srd import get_catalogue
from hero_foundry.srd.routes import router as srd_router
from hero_foundry.storage.db import create_engine, session_factory
from hero_foundry.throttling import Limits, Throttle

DESCRIPTION = """
Create and level up Dungeons & Dragons 5e characters on SRD 5.1 content.

Log in with `POST /api/auth/login`, then send `Authorization: Bearer <token>`.
Errors are RFC 9457 problem details (`application/problem+json`).

This work includes material taken from the System Reference Document 5.1 ("SRD 5.1") by
Wizards of the Coast LLC, licensed under CC-BY-4.0.
"""


#: Loggers that write SQL parameters (password hashes, token digests) at DEBUG or INFO: capped
#: at WARNING whatever the configured level, so no secret's derivative ever reaches a log.
PARAMETER_LOGGERS = ("aiosqlite", "asyncpg", "sqlalchemy.engine")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    # Signs the dice in exports. First, so that an api without its key in production refuses
    # to start before anything else happens (docs/security.md, "Dice").
    roll_signer = signer_for(settings)
    configure_logging(settings)  # ECS JSON to stdout (+ log_dir); idempotent
    build.publish()  # hero_foundry_build_info{version, commit}
    for name in PARAMETER_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url_value)
        app.state.engine = engine
        app.state.sessions = session_factory(engine)
        app.state.cache = create_cache(settings.redis_url_value)
        # Rate limits (docs/security.md): Redis-backed when configured, in-process otherwise.
        app.state.throttle = Throttle(settings.redis_url_value)
        instrument_database(engine)
        app.state.activity = (
            RedisActivity(settings.redis_url_value)
            if settings.redis_url_value
            else DatabaseActivity(app.state.sessions)
        )
        get_catalogue()  # load the SRD once, before the first request
        try:
            yield
        finally:
            await app.state.activity.close()
            await app.state.cache.close()
            await app.state.throttle.close()
            await engine.dispose()
            if app.state.tracing is not None:  # export the buffered spans (see tracing.py)
                app.state.tracing.flush()

    app = FastAPI(
        title="The Hero Foundry",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.hasher = password_hasher(settings.argon2_time_cost, settings.argon2_memory_kib)
    # Every hash and verification through one gate: at most password_hash_slots at once.
    app.state.hashing = PasswordHashing(
        app.state.hasher, settings.password_hash_slots, settings.password_hash_wait_seconds
    )
    app.state.limits = Limits.from_settings(settings)
    app.state.roll_signer = roll_signer
    problems.install(app)
    app.include_router(accounts_router)
    app.include_router(characters_router)
    app.include_router(levelling_router)
    app.include_router(exports_router)
    app.include_router(srd_router)
    # Each router's own lifespan (the search index; the assistant's provider) joins the app's.
    app.include_router(lookup_router)
    app.include_router(assistant_router)
    app.include_router(metrics_router)
    app.include_router(health_router)  # /healthz, /readyz
    app.include_router(telemetry_router)  # POST /api/metrics (browser telemetry)

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.drills_enabled:  # fault drills (docs/drills.md); never in production
        # Inside the metrics middleware: injected errors and latency are counted as real ones.
        drill_file = DrillFile(settings.drills_path)
        app.add_middleware(DrillMiddleware, drills=drill_file, router=app.router)
    # Outside the body limit, so the 413s are counted too. Exemplars (the trace id on the latency
    # histogram) need tracing, and prometheus_client has none in multiprocess mode.
    exemplars = settings.tracing_enabled and multiproc_dir() is None
    app.add_middleware(MetricsMiddleware, trace_id=current_trace_id if exemplars else None)
    # Request id, server span (tracing on), access log: wraps the whole stack, error handling
    # included, so the 500 answer and its log record carry the request id (see logs.py).
    app.state.tracing = setup_tracing(settings)
    install_request_context(app, tracing=app.state.tracing)
    return app


def app_factory() -> FastAPI:
    """Entry point for ``uvicorn --factory`` (settings from the environment)."""
    return create_app(Settings())
