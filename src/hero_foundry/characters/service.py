"""Use cases of the creation wizard and of stored characters.

Every step validates the whole change with the rules module before anything is written: a
refused step leaves the draft exactly as it was. Drafts and characters are always looked up
together with their owner, so another user's id answers 404, never 403.

Concurrent requests on one draft or character cannot both act on what they read: a draft or
character loaded to be changed is locked (``SELECT ... FOR UPDATE`` on PostgreSQL), and every
update is conditional on the row's revision (storage/concurrency.py), so on SQLite the request
that writes second gets a 409 instead of silently undoing the first.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hero_foundry import drills
from hero_foundry.accounts.models import User
from hero_foundry.characters.models import Character, CharacterDraft
from hero_foundry.characters.schemas import (
    AbilityScoresStep,
    CharacterPatch,
    ChoicesStep,
    ClassStep,
    DetailsStep,
    RaceStep,
    SpellsStep,
)
from hero_foundry.dice import service as dice
from hero_foundry.dice.models import ABILITY_SCORES
from hero_foundry.observability.tracking import count_edit, track
from hero_foundry.problems import ProblemError, invalid, not_found, refuse
from hero_foundry.rules import abilities, creation, sheet
from hero_foundry.rules.creation import CreationState, Problem
from hero_foundry.srd import Catalogue
from hero_foundry.storage import concurrency
from hero_foundry.storage.base import utcnow

DETAIL_FIELDS = ("alignment", "personality_traits", "ideals", "bonds", "flaws", "backstory")
COINS = ("cp", "sp", "ep", "gp", "pp")


# --------------------------------------------------------------------------------------------
# Drafts
# --------------------------------------------------------------------------------------------
async def create_draft(db: AsyncSession, user: User) -> CharacterDraft:
    draft = CharacterDraft(user_id=user.id, state=CreationState().to_dict(), started_at=utcnow())
    db.add(draft)
    await db.flush()
    return draft


async def list_drafts(db: AsyncSession, user: User) -> list[CharacterDraft]:
    rows = await db.scalars(
        select(CharacterDraft)
        .where(CharacterDraft.user_id == user.id, CharacterDraft.finished_at.is_(None))
        .order_by(CharacterDraft.started_at.desc())
    )
    return list(rows)


async def get_draft(db: AsyncSession, user: User, draft_id: uuid.UUID) -> CharacterDraft:
    draft = await db.scalar(
        select(CharacterDraft).where(
            CharacterDraft.id == draft_id, CharacterDraft.user_id == user.id
        )
    )
    if draft is None:
        raise not_found("Draft")
    return draft


FINALIZED = "This draft was finalized; the character exists already."
FINALIZED_MEANWHILE = (
    "This draft was finalized or changed by another request meanwhile: reload it (a finalized "
    "draft names its character)."
)


async def open_draft(db: AsyncSession, user: User, draft_id: uuid.UUID) -> CharacterDraft:
    """A draft that can still change (not finalized), locked until the request ends (on
    PostgreSQL: concurrent steps of one draft wait for each other)."""
    draft = await db.scalar(
        select(CharacterDraft)
        .where(CharacterDraft.id == draft_id, CharacterDraft.user_id == user.id)
        .with_for_update()
    )
    if draft is None:
        raise not_found("Draft")
    if draft.finished_at is not None:
        raise ProblemError(409, FINALIZED)
    return draft


async def save_draft(db: AsyncSession) -> None:
    """Write the step now: a draft another request changed first is a 409."""
    await concurrency.flush(
        db, "The draft was changed by another request meanwhile: reload it and try again."
    )


async def delete_draft(db: AsyncSession, user: User, draft_id: uuid.UUID) -> None:
    """Abandon an unfinished draft (a finalized one is the record of its wizard session)."""
    await db.delete(await open_draft(db, user, draft_id))
    await save_draft(db)


def _save(draft: CharacterDraft, state: CreationState) -> None:
    draft.state = state.to_dict()  # a new object, so SQLAlchemy sees the change
    draft.updated_at = utcnow()


def set_race(cat: Catalogue, draft: CharacterDraft, step: RaceStep) -> None:
    refuse(creation.check_race(cat, step.race, step.subrace))
    state = CreationState.from_dict(draft.state)
    if state.race != step.race:
        creation.forget(state, "race")
    state.race, state.subrace = step.race, step.subrace
    creation.prune_selections(cat, state)
    _save(draft, state)


def set_class(cat: Catalogue, draft: CharacterDraft, step: ClassStep) -> None:
    refuse(creation.check_class(cat, step.class_, step.subclass))
    state = CreationState.from_dict(draft.state)
    if state.class_index != step.class_:
        creation.forget(state, "class")
        state.spells = {}
    state.class_index, state.subclass = step.class_, step.subclass
    creation.prune_selections(cat, state)
    _save(draft, state)


def set_background(cat: Catalogue, draft: CharacterDraft, background: str) -> None:
    if not cat.has("backgrounds", background):
        known = ", ".join(cat.tables["backgrounds"])
        refuse([Problem("background", f"unknown background {background!r} (known: {known})")])
    state = CreationState.from_dict(draft.state)
    if state.background != background:
        creation.forget(state, "background")
    state.background = background
    creation.prune_selections(cat, state)
    _save(draft, state)


async def roll_scores(db: AsyncSession, draft: CharacterDraft) -> None:
    """Roll 4d6 (drop the lowest) six times, once per draft: asked again, at the same time or
    later, the draft keeps and shows the first roll (the database keeps one, dice/service.py)."""
    roll, made = await dice.roll_once(
        db,
        user_id=draft.user_id,
        kind=ABILITY_SCORES,
        die=dice.ABILITY_DIE,
        make=abilities.roll_4d6_drop_lowest,
        draft_id=draft.id,
    )
    state = CreationState.from_dict(draft.state)
    if not made and state.rolled != roll.dice:
        # The draft was read before the roll was found: a concurrent roll may have saved it
        # meanwhile (SQLite; PostgreSQL's row lock makes it wait instead). Read it again.
        await db.refresh(draft)
        state = CreationState.from_dict(draft.state)
    if state.rolled != roll.dice:
        state.rolled = roll.dice
        _save(draft, state)


def set_scores(cat: Catalogue, draft: CharacterDraft, step: AbilityScoresStep) -> None:
    state = CreationState.from_dict(draft.state)
    try:
        scores = abilities.validate_scores(
            step.method, step.scores, list(cat.tables["ability_scores"]), state.rolled
        )
    except abilities.AbilityScoreError as exc:
        raise invalid([{"field": exc.field, "reason": exc.reason}]) from None
    state.ability_method, state.base_scores = step.method, scores
    _save(draft, state)


def set_choices(cat: Catalogue, draft: CharacterDraft, step: ChoicesStep) -> None:
    state = CreationState.from_dict(draft.state)
    state.selections = {**state.selections, **step.selections}
    # Sub-choices open once their option is selected: collect ids after applying everything.
    open_by_id = {c.id: c for c in creation.open_choices(cat, state)}
    problems: list[Problem] = []
    for choice_id, keys in step.selections.items():
        choice = open_by_id.get(choice_id)
        if choice is None:
            problems.append(Problem(f"choices.{choice_id}", "not an open choice of this draft"))
        else:
            problems += creation.check_selection(cat, state, choice, keys)
    refuse(problems)
    creation.prune_selections(cat, state)
    _save(draft, state)


def set_spells(cat: Catalogue, draft: CharacterDraft, step: SpellsStep) -> None:
    state = CreationState.from_dict(draft.state)
    if not state.class_index:
        refuse([Problem("class", "choose a class before its spells")])
    spells = step.model_dump()
    problems = creation.check_spells(cat, state, spells)
    always = set(creation.always_prepared(cat, state))
    problems += [
        Problem("spells.prepared", f"{s} is always prepared by your subclass; pick another")
        for s in spells["prepared"]
        if s in always
    ]
    refuse(problems)
    state.spells = spells
    _save(draft, state)


def set_details(cat: Catalogue, draft: CharacterDraft, step: DetailsStep) -> None:
    changes = step.model_dump(exclude_unset=True)
    alignment = changes.get("alignment")
    if alignment and not cat.has("alignments", alignment):
        refuse([Problem("alignment", f"unknown alignment {alignment!r}")])
    state = CreationState.from_dict(draft.state)
    state.details = {**state.details, **changes}
    _save(draft, state)


async def finalize(db: AsyncSession, cat: Catalogue, draft: CharacterDraft) -> Character:
    """Create the draft's character, once: the draft's update is conditional on the revision
    it was read at (``UPDATE ... WHERE id = :id AND revision = :seen``), so of concurrent
    finalizes exactly one changes the row and the others are refused with a 409 (their
    character rows roll back with them)."""
    state = CreationState.from_dict(draft.state)
    problems = creation.problems(cat, state)
    if problems:
        raise invalid(problems, "The draft is not complete: see errors for what is missing.")
    with track("character_creation") as op:
        character = _create(cat, draft, state)
        roll = await dice.draft_roll(db, draft.id)
        if roll is not None:  # the draft's roll becomes the character's level-1 roll
            roll.level = 1
            character.rolls.append(roll)
        db.add(character)
        await db.flush()  # the character row first: the draft refers to it
        draft.finished_at = utcnow()
        draft.character_id = character.id
        await concurrency.flush(db, FINALIZED_MEANWHILE)
        # The wizard's time, as the server saw it: from the draft's start to now (plus the
        # slow wizard clock drill's offset, docs/drills.md; 0 without drills).
        elapsed = (draft.finished_at - draft.started_at).total_seconds()
        op.duration = elapsed + drills.wizard_clock_offset()
    return character


def _create(cat: Catalogue, draft: CharacterDraft, state: CreationState) -> Character:
    """The new character (currency from the background's starting gold)."""
    background = cat.get("backgrounds", state.background)
    gold = background.get("starting_gold") or {}
    currency = {coin: 0 for coin in COINS}
    if gold.get("unit") in currency:
        currency[gold["unit"]] = int(gold.get("quantity", 0))
    return Character(
        id=uuid.uuid4(),
        user_id=draft.user_id,
        name=state.details["name"],
        level=creation.LEVEL,
        build=state.to_dict(),
        inventory=creation.starting_inventory(cat, state),
        currency=currency,
        notes="",
        rolls=[],
    )


def draft_summary(draft: CharacterDraft) -> dict[str, Any]:
    """The draft's timestamps and what the player chose, as entered."""
    state = CreationState.from_dict(draft.state)
    return {
        "id": draft.id,
        "started_at": draft.started_at,
        "updated_at": draft.updated_at,
        "finished_at": draft.finished_at,
        "character_id": draft.character_id,
        "chosen": {
            "race": state.race,
            "subrace": state.subrace,
            "class": state.class_index,
            "subclass": state.subclass,
            "background": state.background,
            "ability_scores": {
                "method": state.ability_method,
                "base": state.base_scores,
                "rolled": [
                    {"dice": d, "total": abilities.rolled_total(d)} for d in state.rolled or []
                ],
            },
            "selections": state.selections,
            "spells": state.spells,
            "details": state.details,
        },
    }


def draft_view(cat: Catalogue, draft: CharacterDraft) -> dict[str, Any]:
    """The summary plus open choices, spell rules, what is missing and a preview sheet."""
    state = CreationState.from_dict(draft.state)
    choices = [
        creation.describe_choice(c, state.selections.get(c.id))
        for c in creation.open_choices(cat, state)
    ]
    rules = (
        creation.spell_rules(
            cat, state.class_index, creation.LEVEL, creation.final_scores(cat, state)
        )
        if state.class_index
        else None
    )
    missing = [{"field": p.field, "reason": p.reason} for p in creation.problems(cat, state)]
    return {
        **draft_summary(draft),
        "choices": choices,
        "spell_rules": rules.as_dict() if rules else None,
        "always_prepared": creation.always_prepared(cat, state),
        "missing": missing,
        "complete": not missing,
        "preview": sheet.derive(cat, state),
    }


# --------------------------------------------------------------------------------------------
# Characters
# --------------------------------------------------------------------------------------------
async def list_characters(
    db: AsyncSession, user: User, limit: int, offset: int
) -> tuple[list[Character], int]:
    total = await db.scalar(
        select(func.count()).select_from(Character).where(Character.user_id == user.id)
    )
    rows = await db.scalars(
        select(Character)
        .where(Character.user_id == user.id)
        .order_by(Character.created_at.desc(), Character.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total or 0)


async def get_character(
    db: AsyncSession, user: User, character_id: uuid.UUID, *, lock: bool = False
) -> Character:
    """The user's character; ``lock``: to change it (``FOR UPDATE`` on PostgreSQL, until the
    request ends)."""
    query = select(Character).where(Character.id == character_id, Character.user_id == user.id)
    character = await db.scalar(query.with_for_update(of=Character) if lock else query)
    if character is None:
        raise not_found("Character")
    return character


async def save_character(db: AsyncSession) -> None:
    """Write the change now: a character another request changed first is a 409."""
    await concurrency.flush(
        db, "The character was changed by another request meanwhile: reload it and try again."
    )


async def delete_character(db: AsyncSession, user: User, character_id: uuid.UUID) -> None:
    await db.delete(await get_character(db, user, character_id, lock=True))
    await save_character(db)


def summary(cat: Catalogue, character: Character) -> dict[str, Any]:
    state = CreationState.from_dict(character.build)
    return {
        "id": character.id,
        "name": character.name,
        "level": character.level,
        "race": state.race,
        "subrace": state.subrace,
        "class": state.class_index,
        "subclass": state.subclass,
        "created_at": character.created_at,
        "updated_at": character.updated_at,
    }


def character_view(cat: Catalogue, character: Character) -> dict[str, Any]:
    state = CreationState.from_dict(character.build)
    details = {k: state.details.get(k) for k in DETAIL_FIELDS}
    return {
        **summary(cat, character),
        "background": state.background,
        "details": details,
        "notes": character.notes,
        "inventory": character.inventory,
        "currency": character.currency,
        "sheet": sheet.derive(cat, state, character.inventory),
        "rolls": dice.view(cat, character),
        "attribution": cat.attribution,
    }


def patch_character(cat: Catalogue, character: Character, patch: CharacterPatch) -> None:
    changes = patch.model_dump(exclude_unset=True)
    problems: list[Problem] = []
    state = CreationState.from_dict(character.build)
    if changes.get("alignment") and not cat.has("alignments", changes["alignment"]):
        problems.append(Problem("alignment", f"unknown alignment {changes['alignment']!r}"))
    if "name" in changes and changes["name"] is None:
        problems.append(Problem("name", "a character needs a name"))
    inventory = [dict(item) for item in character.inventory]
    if patch.inventory is not None:
        problems += _change_inventory(cat, inventory, patch)
    refuse(problems)
    details = {k: v for k, v in changes.items() if k in DETAIL_FIELDS}
    if "name" in changes:
        character.name = changes["name"]
        details["name"] = changes["name"]
    if details:
        state.details = {**state.details, **details}
        character.build = state.to_dict()
    if "notes" in changes:
        character.notes = changes["notes"] or ""
    if patch.inventory is not None:
        character.inventory = inventory
    if patch.currency is not None:
        character.currency = patch.currency.model_dump()
    character.updated_at = utcnow()
    count_edit()


def _change_inventory(
    cat: Catalogue, inventory: list[dict[str, Any]], patch: CharacterPatch
) -> list[Problem]:
    """Apply add/remove/equip/unequip to ``inventory`` in place; return problems found."""
    change = patch.inventory
    assert change is not None
    problems: list[Problem] = []
    by_index = {item["index"]: item for item in inventory}
    for n, entry in enumerate(change.add):
        if not cat.has("equipment", entry.index):
            problems.append(
                Problem(f"inventory.add.{n}.index", f"unknown equipment {entry.index!r}")
            )
            continue
        item = by_index.get(entry.index)
        if item is None:
            item = {
                "index": entry.index,
                "name": cat.name("equipment", entry.index),
                "quantity": 0,
                "equipped": False,
            }
            inventory.append(item)
            by_index[entry.index] = item
        item["quantity"] += entry.quantity
    for n, entry in enumerate(change.remove):
        item = by_index.get(entry.index)
        if item is None or item["quantity"] < entry.quantity:
            have = item["quantity"] if item else 0
            problems.append(
                Problem(f"inventory.remove.{n}", f"only {have} × {entry.index} in the inventory")
            )
            continue
        item["quantity"] -= entry.quantity
        if item["quantity"] == 0:
            inventory.remove(item)
            del by_index[entry.index]
    for field, indices, value in (
        ("equip", change.equip, True),
        ("unequip", change.unequip, False),
    ):
        for n, index in enumerate(indices):
            item = by_index.get(index)
            if item is None:
                problems.append(Problem(f"inventory.{field}.{n}", f"no {index} in the inventory"))
                continue
            doc = cat.get("equipment", index)
            if value and doc.get("armor_category") in creation.BODY_ARMOR:
                for other in inventory:  # one suit of armour at a time
                    other_doc = cat.get("equipment", other["index"])
                    if other_doc.get("armor_category") in creation.BODY_ARMOR:
                        other["equipped"] = False
            item["equipped"] = value
    return problems
