from __future__ import annotations

import inspect
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Response, status

from hero_foundry.accounts.deps import CurrentUser
from hero_foundry.characters import service as characters
from hero_foundry.characters.models import Character
from hero_foundry.characters.schemas import ChoicesStep
from hero_foundry.deps import CatalogueDep, SessionDep
from hero_foundry.levelling import service
from hero_foundry.levelling.models import LevelUpSession
from hero_foundry.levelling.schemas import (
    HitPointsStep,
    ImprovementStep,
    LevelSpellsStep,
    StartLevelUp,
    SubclassStep,
)
from hero_foundry.problems import responses

router = APIRouter(
    prefix="/api/characters/{character_id}/level-ups",
    tags=["level-ups"],
    responses=responses(401, 404, 409, 413, 422),
)
Change = Callable[[Character, LevelUpSession], Awaitable[None] | None]


async def _step(
    db: SessionDep,
    user: CurrentUser,
    cat: CatalogueDep,
    character_id: uuid.UUID,
    session_id: uuid.UUID,
    change: Change,
) -> dict[str, Any]:
    character, session = await service.open_session(db, user, character_id, session_id)
    result = change(character, session)
    if inspect.isawaitable(result):
        await result
    await service.save(db)
    return service.view(cat, character, session)


@router.post("", status_code=status.HTTP_201_CREATED)
async def start(
    character_id: uuid.UUID,
    body: StartLevelUp,
    user: CurrentUser,
    db: SessionDep,
    cat: CatalogueDep,
) -> dict[str, Any]:
    """Start gaining a level in a class (a new class needs the SRD multiclassing prerequisites).
    The server records when it started."""
    character, session = await service.start(db, cat, user, character_id, body.class_)
    return service.view(cat, character, session)


@router.get("")
async def history(
    character_id: uuid.UUID, user: CurrentUser, db: SessionDep
) -> list[dict[str, Any]]:
    """This character's level-ups, newest first."""
    return [
        {
            "id": s.id,
            "status": s.status,
            "class": s.state.get("class_index"),
            "to_level": s.state.get("from_level", 0) + 1,
            "started_at": s.started_at,
            "finished_at": s.finished_at,
        }
        for s in await service.list_sessions(db, user, character_id)
    ]


@router.get("/{session_id}")
async def get(
    character_id: uuid.UUID,
    session_id: uuid.UUID,
    user: CurrentUser,
    db: SessionDep,
    cat: CatalogueDep,
) -> dict[str, Any]:
    """What is chosen, what is still required, and the sheet as it would be."""
    character, session = await service.get_session(db, user, character_id, session_id)
    return service.view(cat, character, session)


@router.put("/{session_id}/hit-points")
async def hit_points(
    character_id: uuid.UUID,
    session_id: uuid.UUID,
    body: HitPointsStep,
    user: CurrentUser,
    db: SessionDep,
    cat: CatalogueDep,
) -> dict[str, Any]:
    """The fixed average, or one roll of the hit die on the server (a roll stands)."""
    return await _step(
        db,
        user,
        cat,
        character_id,
        session_id,
        lambda c, s: service.set_hit_points(db, cat, c, s, body.method),
    )


@router.put("/{session_id}/subclass")
async def subclass(
    character_id: uuid.UUID,
    session_id: uuid.UUID,
    body: SubclassStep,
    user: CurrentUser,
    db: SessionDep,
    cat: CatalogueDep,
) -> dict[str, Any]:
    return await _step(
        db,
        user,
        cat,
        character_id,
        session_id,
        lambda c, s: service.set_subclass(cat, c, s, body.subclass),
    )


@router.put("/{session_id}/ability-scores")
async def ability_scores(
    character_id: uuid.UUID,
    session_id: uuid.UUID,
    body: ImprovementStep,
    user: CurrentUser,
    db: SessionDep,
    cat: CatalogueDep,
) -> dict[str, Any]:
    """An Ability Score Improvement (+2 to one, or +1 to two; never above 20) or a feat."""
    return await _step(
        db,
        user,
        cat,
        character_id,
        session_id,
        lambda c, s: service.set_improvement(cat, c, s, body),
    )


@router.put("/{session_id}/choices")
async def choices(
    character_id: uuid.UUID,
    session_id: uuid.UUID,
    body: ChoicesStep,
    user: CurrentUser,
    db: SessionDep,
    cat: CatalogueDep,
) -> dict[str, Any]:
    """Answer the level's SRD choices (fighting style, expertise, invocations ...)."""
    return await _step(
        db,
        user,
        cat,
        character_id,
        session_id,
        lambda c, s: service.set_choices(cat, c, s, body.selections),
    )


@router.put("/{session_id}/spells")
async def spells(
    character_id: uuid.UUID,
    session_id: uuid.UUID,
    body: LevelSpellsStep,
    user: CurrentUser,
    db: SessionDep,
    cat: CatalogueDep,
) -> dict[str, Any]:
    return await _step(
        db,
        user,
        cat,
        character_id,
        session_id,
        lambda c, s: service.set_spells(cat, c, s, body),
    )


@router.post("/{session_id}/commit")
async def commit(
    character_id: uuid.UUID,
    session_id: uuid.UUID,
    user: CurrentUser,
    db: SessionDep,
    cat: CatalogueDep,
) -> dict[str, Any]:
    """Apply the level: the character gains it, every derived number is recomputed, and the
    server records when the level-up finished. Answers with the character."""
    character, session = await service.open_session(db, user, character_id, session_id)
    await service.commit(db, cat, character, session)
    return characters.character_view(cat, character)


@router.delete("/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def abandon(
    character_id: uuid.UUID, session_id: uuid.UUID, user: CurrentUser, db: SessionDep
) -> Response:
    """Abandon the level-up: nothing of it is applied."""
    _, session = await service.open_session(db, user, character_id, session_id)
    service.abandon(session)
    await service.save(db)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
