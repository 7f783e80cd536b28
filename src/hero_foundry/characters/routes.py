from __future__ import annotations

import inspect
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from hero_foundry.accounts.deps import CurrentUser
from hero_foundry.accounts.models import User
from hero_foundry.characters import service
from hero_foundry.characters.models import CharacterDraft
from hero_foundry.characters.schemas import (
    AbilityScoresStep,
    BackgroundStep,
    CharacterPatch,
    ChoicesStep,
    ClassStep,
    DetailsStep,
    RaceStep,
    SpellsStep,
)
from hero_foundry.deps import CatalogueDep, SessionDep
from hero_foundry.problems import responses
from hero_foundry.srd import Catalogue


async def _step(
    db: AsyncSession,
    user: User,
    draft_id: uuid.UUID,
    cat: Catalogue,
    change: Callable[[CharacterDraft], Awaitable[None] | None],
) -> dict[str, Any]:
    """Apply one wizard step to an unfinished draft and answer with the whole draft."""
    draft = await service.open_draft(db, user, draft_id)
    result = change(draft)
    if inspect.isawaitable(result):
        await result
    await service.save_draft(db)
    return service.draft_view(cat, draft)


router = APIRouter(tags=["characters"], responses=responses(401, 404, 409, 413, 422))
drafts = "/api/characters/drafts"


@router.post(drafts, status_code=status.HTTP_201_CREATED)
async def start_draft(user: CurrentUser, db: SessionDep, cat: CatalogueDep) -> dict[str, Any]:
    """Start the creation wizard; the server records when it started."""
    return service.draft_view(cat, await service.create_draft(db, user))


@router.get(drafts)
async def list_drafts(user: CurrentUser, db: SessionDep) -> list[dict[str, Any]]:
    """Unfinished drafts, newest first (to resume one)."""
    return [service.draft_summary(d) for d in await service.list_drafts(db, user)]


@router.get(drafts + "/{draft_id}")
async def get_draft(
    draft_id: uuid.UUID, user: CurrentUser, db: SessionDep, cat: CatalogueDep
) -> dict[str, Any]:
    """What is chosen, which choices are open, what is still missing, and a preview sheet."""
    return service.draft_view(cat, await service.get_draft(db, user, draft_id))


@router.delete(drafts + "/{draft_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_draft(draft_id: uuid.UUID, user: CurrentUser, db: SessionDep) -> Response:
    """Abandon an unfinished draft."""
    await service.delete_draft(db, user, draft_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(drafts + "/{draft_id}/race")
async def set_race(
    draft_id: uuid.UUID, body: RaceStep, user: CurrentUser, db: SessionDep, cat: CatalogueDep
) -> dict[str, Any]:
    return await _step(db, user, draft_id, cat, lambda draft: service.set_race(cat, draft, body))


@router.put(drafts + "/{draft_id}/class")
async def set_class(
    draft_id: uuid.UUID, body: ClassStep, user: CurrentUser, db: SessionDep, cat: CatalogueDep
) -> dict[str, Any]:
    return await _step(db, user, draft_id, cat, lambda draft: service.set_class(cat, draft, body))


@router.put(drafts + "/{draft_id}/background")
async def set_background(
    draft_id: uuid.UUID,
    body: BackgroundStep,
    user: CurrentUser,
    db: SessionDep,
    cat: CatalogueDep,
) -> dict[str, Any]:
    return await _step(
        db, user, draft_id, cat, lambda draft: service.set_background(cat, draft, body.background)
    )


@router.post(drafts + "/{draft_id}/ability-scores/roll")
async def roll_ability_scores(
    draft_id: uuid.UUID, user: CurrentUser, db: SessionDep, cat: CatalogueDep
) -> dict[str, Any]:
    """Roll 4d6 (drop the lowest) six times on the server, once per draft: the dice are kept,
    and asking again answers with the same roll."""
    return await _step(db, user, draft_id, cat, lambda draft: service.roll_scores(db, draft))


@router.put(drafts + "/{draft_id}/ability-scores")
async def set_ability_scores(
    draft_id: uuid.UUID,
    body: AbilityScoresStep,
    user: CurrentUser,
    db: SessionDep,
    cat: CatalogueDep,
) -> dict[str, Any]:
    """Base scores by ``standard_array``, ``point_buy`` (27 points, 8-15) or ``rolled``."""
    return await _step(db, user, draft_id, cat, lambda draft: service.set_scores(cat, draft, body))


@router.put(drafts + "/{draft_id}/choices")
async def set_choices(
    draft_id: uuid.UUID, body: ChoicesStep, user: CurrentUser, db: SessionDep, cat: CatalogueDep
) -> dict[str, Any]:
    """Answer open SRD choices: skills, tools, languages, equipment, fighting style ..."""
    return await _step(db, user, draft_id, cat, lambda draft: service.set_choices(cat, draft, body))


@router.put(drafts + "/{draft_id}/spells")
async def set_spells(
    draft_id: uuid.UUID, body: SpellsStep, user: CurrentUser, db: SessionDep, cat: CatalogueDep
) -> dict[str, Any]:
    return await _step(db, user, draft_id, cat, lambda draft: service.set_spells(cat, draft, body))


@router.put(drafts + "/{draft_id}/details")
async def set_details(
    draft_id: uuid.UUID, body: DetailsStep, user: CurrentUser, db: SessionDep, cat: CatalogueDep
) -> dict[str, Any]:
    """Name, alignment and personality (traits, ideals, bonds, flaws, backstory)."""
    return await _step(db, user, draft_id, cat, lambda draft: service.set_details(cat, draft, body))


@router.post(drafts + "/{draft_id}/finalize", status_code=status.HTTP_201_CREATED)
async def finalize(
    draft_id: uuid.UUID, user: CurrentUser, db: SessionDep, cat: CatalogueDep
) -> dict[str, Any]:
    """Validate every step and create the character; the server records when it finished."""
    draft = await service.open_draft(db, user, draft_id)
    character = await service.finalize(db, cat, draft)
    return service.character_view(cat, character)


@router.get("/api/characters")
async def list_characters(
    user: CurrentUser,
    db: SessionDep,
    cat: CatalogueDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    rows, total = await service.list_characters(db, user, limit, offset)
    return {
        "items": [service.summary(cat, c) for c in rows],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@router.get("/api/characters/{character_id}")
async def get_character(
    character_id: uuid.UUID, user: CurrentUser, db: SessionDep, cat: CatalogueDep
) -> dict[str, Any]:
    """The character with its full derived sheet."""
    return service.character_view(cat, await service.get_character(db, user, character_id))


@router.patch("/api/characters/{character_id}")
async def patch_character(
    character_id: uuid.UUID,
    body: CharacterPatch,
    user: CurrentUser,
    db: SessionDep,
    cat: CatalogueDep,
) -> dict[str, Any]:
    """Change name, notes, alignment, personality, inventory (add/remove/equip) or currency."""
    character = await service.get_character(db, user, character_id, lock=True)
    service.patch_character(cat, character, body)
    await service.save_character(db)
    return service.character_view(cat, character)


@router.delete("/api/characters/{character_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_character(character_id: uuid.UUID, user: CurrentUser, db: SessionDep) -> Response:
    await service.delete_character(db, user, character_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
