"""The small FastAPI app of the HTTP-overhead benchmark, in four instrumentation variants.

The variant comes from ``BENCH_VARIANT`` (or ``--variant`` when this file is run directly):

- ``none``: no instrumentation at all (the baseline, "a").
- ``ours``: ``hero_foundry.observability.middleware.MetricsMiddleware``, added the way
  ``hero_foundry.app.create_app`` adds it, with the service's own ``/metrics`` route ("b").
- ``instrumentator``: prometheus-fastapi-instrumentator, ``Instrumentator().instrument(app)``
  with its default configuration, and ``.expose(app)`` for ``/metrics`` ("c").
- ``starlette_exporter``: starlette_exporter's ``PrometheusMiddleware`` with ``group_paths=True``
  (route templates as the path label, the closest equivalent of our ``endpoint`` label) and its
  ``handle_metrics`` route ("d").
- ``custom``: the pure ASGI middleware class ``BENCH_CUSTOM_MIDDLEWARE`` names
  (``module:Class``, importable through ``PYTHONPATH``) with the service's ``/metrics`` route: a
  candidate change to ``MetricsMiddleware``, measured before it is made.

The routes are the same in every variant and cheap but realistic: a path parameter validated as
an int and a response model (the route the benchmark loads), a JSON body validated by a model,
and a health check. ``/metrics`` is added last, so it never changes how the other routes match.

Serve one variant with ``BENCH_VARIANT=ours uvicorn app:app --app-dir benchmarks``.
"""

from __future__ import annotations

import argparse
import importlib
import os

from fastapi import FastAPI
from pydantic import BaseModel, Field

VARIANTS = ("none", "ours", "instrumentator", "starlette_exporter", "custom")
VARIANT_ENV = "BENCH_VARIANT"
CUSTOM_ENV = "BENCH_CUSTOM_MIDDLEWARE"

CLASSES = ("barbarian", "bard", "cleric", "druid", "fighter", "monk", "paladin", "ranger")
HIT_DIE = {"barbarian": 12, "fighter": 10, "paladin": 10, "ranger": 10, "monk": 8, "bard": 8}


class Character(BaseModel):
    id: int
    name: str
    class_name: str
    level: int
    hit_points: int
    proficiency_bonus: int


class CharacterIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    class_name: str = Field(min_length=1, max_length=30)
    level: int = Field(1, ge=1, le=20)
    constitution: int = Field(10, ge=1, le=30)


def _sheet(character_id: int, name: str, class_name: str, level: int, con: int) -> Character:
    die = HIT_DIE.get(class_name, 8)
    con_mod = (con - 10) // 2
    hit_points = die + con_mod + (level - 1) * (die // 2 + 1 + con_mod)
    return Character(
        id=character_id,
        name=name,
        class_name=class_name,
        level=level,
        hit_points=max(hit_points, level),
        proficiency_bonus=2 + (level - 1) // 4,
    )


def _routes(app: FastAPI) -> None:
    @app.get("/api/characters/{character_id}", response_model=Character)
    async def read_character(character_id: int) -> Character:
        level = character_id % 20 + 1
        class_name = CLASSES[character_id % len(CLASSES)]
        return _sheet(character_id, f"Hero {character_id}", class_name, level, 14)

    @app.post("/api/characters", response_model=Character, status_code=201)
    async def create_character(body: CharacterIn) -> Character:
        return _sheet(1, body.name, body.class_name, body.level, body.constitution)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}


def _with_service_metrics(app: FastAPI, middleware: type) -> None:
    from hero_foundry.observability.exposition import router as metrics_router
    from hero_foundry.settings import Settings

    app.state.settings = Settings(_env_file=None)  # the /metrics route reads its token setting
    app.add_middleware(middleware)
    app.include_router(metrics_router)


def _instrument_ours(app: FastAPI) -> None:
    from hero_foundry.observability.middleware import MetricsMiddleware

    _with_service_metrics(app, MetricsMiddleware)


def _instrument_custom(app: FastAPI) -> None:
    target = os.environ.get(CUSTOM_ENV, "")
    module_name, _, class_name = target.partition(":")
    if not module_name or not class_name:
        raise RuntimeError(f"set {CUSTOM_ENV}=module:Class for the custom variant")
    middleware = getattr(importlib.import_module(module_name), class_name)
    _with_service_metrics(app, middleware)


def _instrument_instrumentator(app: FastAPI) -> None:
    from prometheus_fastapi_instrumentator import Instrumentator

    Instrumentator().instrument(app).expose(app)


def _instrument_starlette_exporter(app: FastAPI) -> None:
    from starlette_exporter import PrometheusMiddleware, handle_metrics

    app.add_middleware(PrometheusMiddleware, group_paths=True)
    app.add_route("/metrics", handle_metrics)


INSTRUMENT = {
    "none": lambda app: None,
    "ours": _instrument_ours,
    "instrumentator": _instrument_instrumentator,
    "starlette_exporter": _instrument_starlette_exporter,
    "custom": _instrument_custom,
}


def create_app(variant: str) -> FastAPI:
    if variant not in INSTRUMENT:
        raise ValueError(f"unknown variant {variant!r}: choose one of {', '.join(VARIANTS)}")
    app = FastAPI(title=f"bench-{variant}", docs_url=None, redoc_url=None, openapi_url=None)
    _routes(app)
    INSTRUMENT[variant](app)
    app.state.variant = variant
    return app


_app: FastAPI | None = None


def __getattr__(name: str) -> FastAPI:
    """``app``, built on first use (``uvicorn app:app``) for the variant ``BENCH_VARIANT`` names."""
    global _app
    if name != "app":
        raise AttributeError(name)
    if _app is None:
        _app = create_app(os.environ.get(VARIANT_ENV, "none"))
    return _app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="Serve one variant of the benchmark app.")
    parser.add_argument("--variant", choices=VARIANTS, default="none")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    uvicorn.run(create_app(args.variant), host=args.host, port=args.port, access_log=False)


if __name__ == "__main__":
    main()
