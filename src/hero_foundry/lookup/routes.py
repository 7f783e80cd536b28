"""``/api/rules``: full-text search over the SRD 5.1 and one entry by kind and index. Public, like
``/api/srd``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, cast

from fastapi import APIRouter, Depends, FastAPI, Path, Query

from hero_foundry.lookup import service
from hero_foundry.lookup.documents import Kind
from hero_foundry.lookup.index import RuleIndex, get_index
from hero_foundry.lookup.schemas import RuleEntry, SearchPage
from hero_foundry.problems import responses


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    get_index()  # build the search index once per process, before the first request
    yield


router = APIRouter(prefix="/api/rules", tags=["rules"], responses=responses(422), lifespan=lifespan)
IndexDep = Annotated[RuleIndex, Depends(get_index)]


@router.get("/search", response_model=SearchPage)
def search(
    index: IndexDep,
    q: Annotated[str, Query(min_length=1, max_length=200, description="Words to look for")],
    kind: Annotated[Kind | None, Query(description="Only entries of this kind")] = None,
    level: Annotated[int | None, Query(ge=0, le=9, description="Spell level (0: cantrip)")] = None,
    class_: Annotated[
        str | None,
        Query(
            alias="class",
            max_length=40,
            description="A class index: its spell list, its features, the class and subclasses",
        ),
    ] = None,
    school: Annotated[str | None, Query(max_length=40, description="A magic school")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> SearchPage:
    """Search rules, spells, features, traits, conditions, items, races and classes.

    Each word also matches as a prefix (`grap` finds *Grappled*); a word found nowhere is
    replaced by the closest indexed word, and `corrected_query` says so. Names weigh far more
    than text. Operators and quotes are treated as plain text."""
    request = service.Search(q, kind, level, class_, school, limit, offset)
    return cast(SearchPage, service.lookup(index, request))


@router.get("/{kind}/{index}", response_model=RuleEntry, responses=responses(404))
def entry(
    index_: IndexDep,
    kind: Annotated[str, Path(max_length=40, description="rule, spell, feature, ...")],
    index: Annotated[str, Path(max_length=120)],
) -> RuleEntry:
    """One entry: its text (markdown) and the SRD document it comes from."""
    return cast(RuleEntry, service.lookup(index_, service.EntryLookup(kind, index)))
