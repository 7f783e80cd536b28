"""FastAPI dependencies shared by every feature's routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from hero_foundry.cache import Cache
from hero_foundry.settings import Settings
from hero_foundry.srd import Catalogue, get_catalogue
from hero_foundry.storage.db import unit_of_work


def settings(request: Request) -> Settings:
    return request.app.state.settings


def cache(request: Request) -> Cache:
    return request.app.state.cache


def catalogue() -> Catalogue:
    return get_catalogue()


async def session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, rolled back on error.

    Used with ``scope="function"``: the commit happens before the response is sent, so a failed
    commit answers 500 instead of a success for something that was not stored."""
    async with unit_of_work(request.app.state.sessions) as db:
        yield db


SettingsDep = Annotated[Settings, Depends(settings)]
CacheDep = Annotated[Cache, Depends(cache)]
CatalogueDep = Annotated[Catalogue, Depends(catalogue)]
SessionDep = Annotated[AsyncSession, Depends(session, scope="function")]
