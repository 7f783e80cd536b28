"""Rolling once, and what a character's stored rolls prove.

:func:`roll_once` is the only way the server rolls dice. It inserts the roll with
``INSERT ... ON CONFLICT DO NOTHING`` and reads back whichever roll the database kept, so
concurrent requests for the same draft or character level all end up with one and the same
roll: the partial unique indexes of ``dice_rolls`` decide, on SQLite and PostgreSQL alike.

A character's *claims* are the dice its build holds (the rolled ability scores, each level's
rolled hit die). A claim is *verified* when a stored roll of the character matches it exactly:
rolled here, or proven by a valid signature when the character was imported.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from hero_foundry.dice.models import ABILITY_SCORES, HIT_POINTS, DiceRoll
from hero_foundry.dice.signing import RollSigner, character_subject
from hero_foundry.problems import ProblemError
from hero_foundry.srd import Catalogue
from hero_foundry.storage.base import utcnow

if TYPE_CHECKING:
    from hero_foundry.characters.models import Character

ABILITY_DIE = 6
BUILD = "character.build"


@dataclass(frozen=True)
class Claim:
    """Dice a build holds: which roll, its die, the dice, and where they are in an export."""

    kind: str
    level: int
    die: int
    dice: Any
    field: str


def claims(cat: Catalogue, build: dict[str, Any]) -> list[Claim]:
    """Every roll a build holds, in level order."""
    out = []
    if build.get("rolled"):
        out.append(Claim(ABILITY_SCORES, 1, ABILITY_DIE, build["rolled"], f"{BUILD}.rolled"))
    for n, record in enumerate(build.get("level_ups") or []):
        if record.get("hp_roll") is not None:
            die = cat.get("classes", record["class_index"])["hit_die"]
            out.append(
                Claim(
                    HIT_POINTS,
                    record["from_level"] + 1,
                    die,
                    [record["hp_roll"]],
                    f"{BUILD}.level_ups.{n}.hp_roll",
                )
            )
    return out


def matches(roll: DiceRoll, claim: Claim) -> bool:
    return (roll.kind, roll.level, roll.die, roll.dice) == (
        claim.kind,
        claim.level,
        claim.die,
        claim.dice,
    )


def verified(cat: Catalogue, character: Character) -> list[tuple[Claim, bool]]:
    """Each claim of the character's build, and whether a stored roll proves it."""
    rolls = {(r.kind, r.level): r for r in character.rolls}
    out = []
    for claim in claims(cat, character.build):
        roll = rolls.get((claim.kind, claim.level))
        out.append((claim, roll is not None and matches(roll, claim)))
    return out


def view(cat: Catalogue, character: Character) -> list[dict[str, Any]]:
    """The character's dice as the API shows them, each with ``verified``."""
    return [
        {
            "kind": claim.kind,
            "level": claim.level,
            "die": claim.die,
            "dice": claim.dice,
            "verified": proven,
        }
        for claim, proven in verified(cat, character)
    ]


def signatures(cat: Catalogue, signer: RollSigner, character: Character) -> list[dict[str, Any]]:
    """The export's ``character.rolls``: a signature for each verified roll, none for others."""
    return [
        {
            "kind": claim.kind,
            "level": claim.level,
            "signature": signer.sign(
                character.user_id,
                character_subject(character.id, claim.level),
                claim.kind,
                claim.die,
                claim.dice,
            ),
        }
        for claim, proven in verified(cat, character)
        if proven
    ]


def verify_claims(
    signer: RollSigner,
    owner: uuid.UUID,
    source_id: uuid.UUID | None,
    signed: Iterable[tuple[Claim, str | None]],
) -> list[tuple[Claim, bool]]:
    """Which claims of an imported file carry a signature this server made for ``owner``."""
    out = []
    for claim, signature in signed:
        proven = bool(
            signature
            and source_id
            and signer.verify(
                owner,
                character_subject(source_id, claim.level),
                claim.kind,
                claim.die,
                claim.dice,
                signature,
            )
        )
        out.append((claim, proven))
    return out


def stored(claim: Claim, owner: uuid.UUID) -> DiceRoll:
    """A verified claim, as a roll of a new character (the caller attaches it)."""
    return DiceRoll(
        id=uuid.uuid4(),
        user_id=owner,
        kind=claim.kind,
        level=claim.level,
        die=claim.die,
        dice=claim.dice,
        created_at=utcnow(),
    )


# ----------------------------------------------------------------------------------------------
# Rolling
# ----------------------------------------------------------------------------------------------
async def draft_roll(db: AsyncSession, draft_id: uuid.UUID) -> DiceRoll | None:
    return await db.scalar(select(DiceRoll).where(DiceRoll.draft_id == draft_id))


async def character_roll(
    db: AsyncSession, character_id: uuid.UUID, kind: str, level: int
) -> DiceRoll | None:
    return await db.scalar(
        select(DiceRoll).where(
            DiceRoll.character_id == character_id,
            DiceRoll.kind == kind,
            DiceRoll.level == level,
        )
    )


async def roll_once(
    db: AsyncSession,
    *,
    user_id: uuid.UUID,
    kind: str,
    die: int,
    make: Callable[[], Any],
    draft_id: uuid.UUID | None = None,
    character_id: uuid.UUID | None = None,
    level: int | None = None,
) -> tuple[DiceRoll, bool]:
    """The roll for a draft, or for a character and level: the stored one, else a new one.

    Returns the roll and whether this call made it. Two calls racing both insert; the partial
    unique index keeps the first, ``ON CONFLICT DO NOTHING`` drops the other, and both read the
    kept roll back."""

    async def find() -> DiceRoll | None:
        if draft_id is not None:
            return await draft_roll(db, draft_id)
        assert character_id is not None and level is not None
        return await character_roll(db, character_id, kind, level)

    existing = await find()
    if existing is not None:
        return existing, False
    new_id = uuid.uuid4()
    insert = pg_insert if db.bind.dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(DiceRoll)
        .values(
            id=new_id,
            user_id=user_id,
            kind=kind,
            draft_id=draft_id,
            character_id=character_id,
            level=level,
            die=die,
            dice=make(),
            created_at=utcnow(),
        )
        .on_conflict_do_nothing()
    )
    await db.execute(statement)
    kept = await find()
    if kept is None:  # the conflicting roll went with its draft or character, deleted meanwhile
        raise ProblemError(409, "The draft or character was changed meanwhile: reload it.")
    return kept, kept.id == new_id
