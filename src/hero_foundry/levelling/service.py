"""Level-up sessions: start, choose, commit or abandon; every step validated by the rules.

One open session per character is a partial unique index (``uq_level_up_sessions_open``), not
only a check: of concurrent starts one inserts its session and the others get a 409. A request
that changes a session locks the character, then the session (PostgreSQL), and every update is
conditional on the row's revision (storage/concurrency.py): a session cannot be committed or
abandoned twice, nor a character gain the same level twice.

Hit points are rolled once per character and level (dice/service.py): abandoning a level-up and
starting it again finds the roll made for that level, and it stands.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hero_foundry import drills
from hero_foundry.accounts.models import User
from hero_foundry.characters import service as characters
from hero_foundry.characters.models import Character
from hero_foundry.dice import service as dice
from hero_foundry.dice.models import HIT_POINTS
from hero_foundry.levelling.models import ABANDONED, COMMITTED, OPEN, LevelUpSession
from hero_foundry.levelling.schemas import ImprovementStep, LevelSpellsStep
from hero_foundry.observability.tracking import track
from hero_foundry.problems import ProblemError, invalid, not_found, refuse
from hero_foundry.rules import levelling, sheet
from hero_foundry.rules.creation import CreationState, Problem
from hero_foundry.rules.levelling import LevelUpState
from hero_foundry.srd import Catalogue
from hero_foundry.storage import concurrency
from hero_foundry.storage.base import utcnow

CHANGED_MEANWHILE = (
    "This level-up or its character was changed by another request meanwhile: reload it."
)


def _in_progress(session_id: uuid.UUID | None) -> ProblemError:
    which = f"Level-up {session_id}" if session_id else "Another level-up"
    return ProblemError(409, f"{which} is in progress: commit or abandon it first.")


def _roll_stands(level: int, die: int, value: int) -> str:
    return f"The hit die for level {level} was rolled already (a d{die}: {value}); the roll stands."


async def start(
    db: AsyncSession, cat: Catalogue, user: User, character_id: uuid.UUID, class_index: str
) -> tuple[Character, LevelUpSession]:
    character = await characters.get_character(db, user, character_id, lock=True)
    open_one = await _open_session_id(db, character.id)
    if open_one:
        raise _in_progress(open_one)
    state = CreationState.from_dict(character.build)
    refuse(levelling.check_start(cat, state, class_index))
    lu = LevelUpState(class_index=class_index, from_level=character.level)
    roll = await dice.character_roll(db, character.id, HIT_POINTS, character.level + 1)
    if roll is not None:  # rolled in an abandoned level-up: it is this level's roll
        hit_die = cat.get("classes", class_index)["hit_die"]
        if roll.die != hit_die:
            reason = (
                f"level {roll.level}'s hit points were rolled on a d{roll.die} "
                f"({roll.dice[0]}); gain it in a class whose hit die is a d{roll.die}"
            )
            raise ProblemError(
                409,
                _roll_stands(roll.level or 0, roll.die, roll.dice[0]),
                errors=[{"field": "class", "reason": reason}],
            )
        lu.hp_method, lu.hp_roll = "rolled", roll.dice[0]
    session = LevelUpSession(
        character_id=character.id,
        user_id=user.id,
        status=OPEN,
        state=lu.to_dict(),
        started_at=utcnow(),
    )
    db.add(session)
    try:
        await db.flush()
    except IntegrityError:  # uq_level_up_sessions_open: a concurrent start won
        await db.rollback()
        raise _in_progress(await _open_session_id(db, character_id)) from None
    return character, session


async def _open_session_id(db: AsyncSession, character_id: uuid.UUID) -> uuid.UUID | None:
    return await db.scalar(
        select(LevelUpSession.id).where(
            LevelUpSession.character_id == character_id, LevelUpSession.status == OPEN
        )
    )


async def list_sessions(
    db: AsyncSession, user: User, character_id: uuid.UUID
) -> list[LevelUpSession]:
    character = await characters.get_character(db, user, character_id)
    rows = await db.scalars(
        select(LevelUpSession)
        .where(LevelUpSession.character_id == character.id)
        .order_by(LevelUpSession.started_at.desc())
    )
    return list(rows)


async def get_session(
    db: AsyncSession,
    user: User,
    character_id: uuid.UUID,
    session_id: uuid.UUID,
    *,
    lock: bool = False,
) -> tuple[Character, LevelUpSession]:
    character = await characters.get_character(db, user, character_id, lock=lock)
    query = select(LevelUpSession).where(
        LevelUpSession.id == session_id, LevelUpSession.character_id == character.id
    )
    session = await db.scalar(query.with_for_update() if lock else query)
    if session is None:
        raise not_found("Level-up")
    return character, session


async def open_session(
    db: AsyncSession, user: User, character_id: uuid.UUID, session_id: uuid.UUID
) -> tuple[Character, LevelUpSession]:
    """An open session to change, with its character: both locked (character first, always)."""
    character, session = await get_session(db, user, character_id, session_id, lock=True)
    if session.status != OPEN:
        raise ProblemError(409, f"This level-up was {session.status}; start a new one.")
    return character, session


async def save(db: AsyncSession) -> None:
    """Write the step now: a session or character another request changed first is a 409."""
    await concurrency.flush(db, CHANGED_MEANWHILE)


def _context(cat: Catalogue, character: Character, session: LevelUpSession):
    state = CreationState.from_dict(character.build)
    return state, levelling.progress(cat, state), LevelUpState.from_dict(session.state)


def _save(session: LevelUpSession, lu: LevelUpState) -> None:
    session.state = lu.to_dict()
    session.updated_at = utcnow()


async def set_hit_points(
    db: AsyncSession,
    cat: Catalogue,
    character: Character,
    session: LevelUpSession,
    method: str,
) -> None:
    """The average, or the level's one roll: made now, or the one made for this character
    and level before (in this session, an abandoned one, or a concurrent request)."""
    _, _, lu = _context(cat, character, session)
    level = lu.from_level + 1
    hit_die = cat.get("classes", lu.class_index)["hit_die"]
    roll = await dice.character_roll(db, character.id, HIT_POINTS, level)
    if method != "rolled":
        if roll is not None:
            raise ProblemError(409, _roll_stands(level, roll.die, roll.dice[0]))
        if lu.hp_roll is not None:  # a session from before rolls were stored
            raise ProblemError(409, _roll_stands(level, hit_die, lu.hp_roll))
        if lu.hp_method != method:
            lu.hp_method = method
            _save(session, lu)
        return
    if roll is None:
        roll, _ = await dice.roll_once(
            db,
            user_id=character.user_id,
            kind=HIT_POINTS,
            die=hit_die,
            make=lambda: [secrets.SystemRandom().randint(1, hit_die)],
            character_id=character.id,
            level=level,
        )
    if roll.die != hit_die:
        raise ProblemError(409, _roll_stands(level, roll.die, roll.dice[0]))
    chosen = ("rolled", roll.dice[0])
    if (lu.hp_method, lu.hp_roll) != chosen:
        # The session was read before the roll was found: a concurrent request may have saved
        # it meanwhile (SQLite; PostgreSQL's row lock makes it wait instead). Read it again.
        await db.refresh(session)
        lu = LevelUpState.from_dict(session.state)
        if (lu.hp_method, lu.hp_roll) != chosen:
            lu.hp_method, lu.hp_roll = chosen
            _save(session, lu)


def set_subclass(
    cat: Catalogue, character: Character, session: LevelUpSession, subclass: str
) -> None:
    _, prog, lu = _context(cat, character, session)
    refuse(levelling.check_subclass(cat, prog, lu, subclass))
    lu.subclass = subclass
    lu.selections = {}  # subclass features may open other choices
    _save(session, lu)


def set_improvement(
    cat: Catalogue, character: Character, session: LevelUpSession, step: ImprovementStep
) -> None:
    state, prog, lu = _context(cat, character, session)
    if not step.increases and not step.feat:
        refuse([Problem("increases", "give increases or a feat")])
    refuse(levelling.check_improvement(cat, state, prog, lu, step.increases, step.feat))
    lu.increases, lu.feat = step.increases, step.feat
    _save(session, lu)


def set_choices(
    cat: Catalogue, character: Character, session: LevelUpSession, selections: dict
) -> None:
    state, prog, lu = _context(cat, character, session)
    lu.selections = {**lu.selections, **selections}
    open_by_id = {c.id: c for c in levelling.level_choices(cat, state, prog, lu)}
    problems: list[Problem] = []
    for choice_id, keys in selections.items():
        choice = open_by_id.get(choice_id)
        if choice is None:
            problems.append(Problem(f"choices.{choice_id}", "not an open choice of this level"))
        else:
            problems += levelling.check_level_selection(cat, state, prog, lu, choice, keys)
    refuse(problems)
    lu.selections = {k: v for k, v in lu.selections.items() if k in open_by_id}
    _save(session, lu)


def set_spells(
    cat: Catalogue, character: Character, session: LevelUpSession, step: LevelSpellsStep
) -> None:
    state, prog, lu = _context(cat, character, session)
    spells = step.model_dump()
    refuse(levelling.check_level_spells(cat, state, prog, lu, spells))
    lu.spells = spells
    _save(session, lu)


async def commit(
    db: AsyncSession, cat: Catalogue, character: Character, session: LevelUpSession
) -> None:
    """Apply the level, once: written inside the tracked operation, so a commit that loses a
    race (409) is not counted as a level gained."""
    state, _, lu = _context(cat, character, session)
    problems = levelling.problems(cat, state, lu)
    if problems:
        raise invalid(problems, "The level-up is not complete: see errors for what is missing.")
    with track("level_up") as op:
        character.build = levelling.commit(cat, state, lu).to_dict()
        character.level += 1
        character.updated_at = utcnow()
        session.status = COMMITTED
        session.finished_at = utcnow()
        await save(db)
        # The player's time through the level-up, as the server saw it (plus the slow clock
        # drill's offset, docs/drills.md; 0 without drills).
        elapsed = (session.finished_at - session.started_at).total_seconds()
        op.duration = elapsed + drills.level_up_clock_offset()


def abandon(session: LevelUpSession) -> None:
    session.status = ABANDONED
    session.finished_at = utcnow()


def view(cat: Catalogue, character: Character, session: LevelUpSession) -> dict[str, Any]:
    state, prog, lu = _context(cat, character, session)
    summary = {
        "id": session.id,
        "character_id": character.id,
        "status": session.status,
        "class": lu.class_index,
        "from_level": lu.from_level,
        "to_level": lu.from_level + 1,
        "started_at": session.started_at,
        "updated_at": session.updated_at,
        "finished_at": session.finished_at,
        "chosen": {
            "hit_points": {"method": lu.hp_method, "roll": lu.hp_roll},
            "subclass": lu.subclass,
            "increases": lu.increases,
            "feat": lu.feat,
            "selections": lu.selections,
            "spells": lu.spells,
        },
    }
    if session.status != OPEN:
        return summary
    level = levelling.class_level_after(prog, lu)
    plan = levelling.spell_plan(cat, state, prog, lu)
    asi = levelling.grants_asi(cat, lu.class_index, level)
    missing = [{"field": p.field, "reason": p.reason} for p in levelling.problems(cat, state, lu)]
    return {
        **summary,
        "class_level": level,
        "hit_points": levelling.hp_gain(cat, state, lu),
        "subclass_options": (
            [s["index"] for s in cat.subclasses_of(lu.class_index)]
            if cat.subclass_level_of(lu.class_index) == level
            and not (prog.classes.get(lu.class_index) and prog.classes[lu.class_index].subclass)
            else []
        ),
        "ability_score_improvement": {
            "available": asi,
            "feats": [f["index"] for f in cat.all("feats")] if asi else [],
        },
        "choices": [
            {**c.as_dict(), "selected": lu.selections.get(c.id)}
            for c in levelling.level_choices(cat, state, prog, lu)
        ],
        "spell_plan": plan.as_dict() if plan else None,
        "missing": missing,
        "complete": not missing,
        "preview": sheet.derive(cat, levelling.commit(cat, state, lu), character.inventory),
    }
