"""Reading a ``hero-foundry/character`` document back, trusting nothing in it.

The file is checked in this order, and refused with a 422 naming the offending field:

1. ``schema`` and ``version`` (an unknown one is refused before anything else is read);
2. the shape (:class:`~hero_foundry.exports.schema.ExportDocument`), and no NUL character in
   any text (PostgreSQL cannot store U+0000);
3. the level-1 build with the creation rules: ability scores against their method, no answer to
   a choice the build does not open, ``rules.creation.problems`` (everything ``finalize``
   checks) and no always-prepared subclass spell among the prepared ones;
4. each level-up in order, against the character as it was before it: the hit die roll within
   the die, no answer to a choice the level does not open, ``rules.levelling.problems``; then
   ``rules.levelling.commit``, which recomputes what the level's choices grant (the file's
   ``grants`` are never read);
5. ``level`` and ``name`` consistent with the build, inventory items that are SRD equipment
   (names taken from the SRD), listed once, at most one suit of armour worn;
6. (version 2) each entry of ``character.rolls`` names dice the build holds, once.

The derived ``sheet`` in the file is ignored: it is derived again from the build. Whether the
dice were rolled by this server for the importing account is decided by the signatures, with the
server's key (:func:`hero_foundry.dice.service.verify_claims`): not here.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from pydantic import ValidationError

from hero_foundry.dice.service import Claim, claims
from hero_foundry.exports.schema import MODELS, SCHEMA, VERSIONS, ExportDocumentV1
from hero_foundry.problems import ProblemError, invalid
from hero_foundry.rules import abilities, creation, levelling
from hero_foundry.rules.creation import CreationState, Problem
from hero_foundry.rules.levelling import LevelUpState
from hero_foundry.srd import Catalogue
from hero_foundry.srd.catalogue import SrdNotFound

log = logging.getLogger("hero_foundry.exports")
BUILD = "character.build"
#: Rules problem fields (as the wizard names them) -> fields of the build in the file.
CREATION_FIELDS = {"class": "class_index", "ability_scores": "base_scores", "choices": "selections"}
LEVEL_FIELDS = {
    "class": "class_index",
    "level": "from_level",
    "hit_points": "hp_method",
    "ability_scores": "increases",
    "choices": "selections",
}


@dataclass(frozen=True)
class ImportedCharacter:
    """A validated character, ready to be stored under a new id."""

    name: str
    level: int
    build: dict[str, Any]
    inventory: list[dict[str, Any]]
    currency: dict[str, int]
    notes: str
    #: The exported character's id: the signatures name it.
    source_id: uuid.UUID | None = None
    #: Every roll the build holds, with the file's signature of it (None: not signed).
    rolls: tuple[tuple[Claim, str | None], ...] = field(default_factory=tuple)


def _refused(problems: Iterable[Problem], detail: str) -> ProblemError:
    return invalid(problems, detail)


def _renamed(prefix: str, mapping: dict[str, str], problems: Iterable[Problem]) -> list[Problem]:
    out = []
    for p in problems:
        head, dot, rest = p.field.partition(".")
        out.append(Problem(f"{prefix}.{mapping.get(head, head)}{dot}{rest}", p.reason))
    return out


def _field(loc: Iterable[Any]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def _first_nul(value: Any) -> str | None:
    """The path of the first string holding U+0000, which PostgreSQL cannot store (for a key,
    the object holding it: the key itself is not echoed). Iterative: depth cannot overflow."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return path
        elif isinstance(item, dict):
            for key, child in reversed(item.items()):
                if "\x00" in str(key):
                    return path
                stack.append((f"{path}.{key}" if path else str(key), child))
        elif isinstance(item, list):
            stack.extend((f"{path}.{n}", child) for n, child in reversed(list(enumerate(item))))
    return None


def parse(data: Any) -> ExportDocumentV1:
    """Steps 1 and 2: the schema, the version, then the whole shape (of that version)."""
    if not isinstance(data, dict):
        raise _refused([Problem("body", "an export document is a JSON object")], "Not an export.")
    # Neither value is echoed back whole: a file can hold anything there.
    if data.get("schema") != SCHEMA:
        raise _refused(
            [Problem("schema", f"unknown schema; expected {SCHEMA!r}")],
            "This is not a Hero Foundry character export.",
        )
    version = data.get("version")
    if type(version) is not int or version not in VERSIONS:  # true == 1 in Python, not JSON
        seen = str(version) if type(version) is int else "not an integer"
        reads = " and ".join(str(v) for v in VERSIONS)
        raise _refused(
            [Problem("version", f"unsupported version {seen}; this server reads {reads}")],
            "This export version cannot be read by this server.",
        )
    nul = _first_nul({k: v for k, v in data.items() if k != "sheet"})
    if nul is not None:
        raise _refused(
            [Problem(nul or "body", "text may not contain the NUL character (U+0000)")],
            "The export document holds text that cannot be stored.",
        )
    try:
        return MODELS[version].model_validate(data)
    except ValidationError as exc:
        # The submitted values are never echoed back, as for every other request.
        raise invalid(
            [{"field": _field(e["loc"]), "reason": e["msg"]} for e in exc.errors()],
            "The export document does not match its schema.",
        ) from None


def _creation_state(cat: Catalogue, build: dict[str, Any]) -> CreationState:
    """Step 3: the level-1 character, as ``finalize`` would accept it."""
    state = CreationState.from_dict({**build, "level_ups": []})
    if state.base_scores is not None:
        if state.ability_method == "rolled" and not state.rolled:
            raise _refused(
                [Problem(f"{BUILD}.rolled", "rolled scores need the rolled dice")],
                "The ability scores are not legal.",
            )
        try:
            abilities.validate_scores(
                state.ability_method or "",
                state.base_scores,
                list(cat.tables["ability_scores"]),
                state.rolled,
            )
        except abilities.AbilityScoreError as exc:
            field = {"method": "ability_method", "scores": "base_scores"}.get(exc.field)
            if field is None:  # scores.<ability>
                field = "base_scores." + exc.field.split(".", 1)[1]
            raise _refused(
                [Problem(f"{BUILD}.{field}", exc.reason)], "The ability scores are not legal."
            ) from None
    problems = _evaluated(BUILD, partial(_creation_problems, cat, state))
    if problems:
        raise _refused(problems, "The character's creation choices break the rules.")
    return state


def _creation_problems(cat: Catalogue, state: CreationState) -> list[Problem]:
    open_ids = {c.id for c in creation.open_choices(cat, state)}
    problems = [
        Problem(f"{BUILD}.selections.{choice_id}", "not a choice this character has")
        for choice_id in state.selections
        if choice_id not in open_ids
    ]
    problems += _renamed(BUILD, CREATION_FIELDS, creation.problems(cat, state))
    always = set(creation.always_prepared(cat, state))
    problems += [
        Problem(f"{BUILD}.spells.prepared", f"{s} is always prepared by the subclass")
        for s in state.spells.get("prepared", [])
        if s in always
    ]
    return problems


def _evaluated(where: str, check: Callable[[], list[Problem]]) -> list[Problem]:
    """The rules' problems; a build the rules cannot even evaluate is a problem itself.

    The rules expect what the wizard lets through; a file can hold anything else that fits the
    schema. Such a failure is logged (it may also be a rules bug) and refused with a 422."""
    try:
        return check()
    except (SrdNotFound, KeyError, IndexError, TypeError, ValueError) as exc:
        log.warning("import: %s could not be evaluated by the rules: %r", where, exc)
        return [Problem(where, "cannot be evaluated against the SRD rules")]


def _level_up_problems(
    cat: Catalogue, state: CreationState, lu: LevelUpState, where: str
) -> list[Problem]:
    return _renamed(where, LEVEL_FIELDS, _level_up_rules(cat, state, lu))


def _level_up_rules(cat: Catalogue, state: CreationState, lu: LevelUpState) -> list[Problem]:
    problems = levelling.problems(cat, state, lu)
    if problems:
        return problems
    hit_die = cat.get("classes", lu.class_index)["hit_die"]
    if lu.hp_method == "rolled" and not (lu.hp_roll and 1 <= lu.hp_roll <= hit_die):
        return [Problem("hp_roll", f"a rolled d{hit_die} is 1 to {hit_die}")]
    if lu.hp_method == "average" and lu.hp_roll is not None:
        return [Problem("hp_roll", "no roll is kept when the average is taken")]
    prog = levelling.progress(cat, state)
    open_ids = {c.id for c in levelling.level_choices(cat, state, prog, lu)}
    return [
        Problem(f"selections.{choice_id}", "not a choice this level has")
        for choice_id in lu.selections
        if choice_id not in open_ids
    ]


def _replay(cat: Catalogue, state: CreationState, records: list[dict[str, Any]]) -> CreationState:
    """Step 4: each level-up, validated against the character before it, then committed."""
    for n, record in enumerate(records):
        where = f"{BUILD}.level_ups.{n}"
        lu = LevelUpState.from_dict({k: v for k, v in record.items() if k != "grants"})
        problems = _evaluated(where, partial(_level_up_problems, cat, state, lu, where))
        if problems:
            raise _refused(problems, f"Level-up {n + 1} (to level {n + 2}) breaks the rules.")
        state = levelling.commit(cat, state, lu)
    return state


def _inventory(cat: Catalogue, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Step 5: SRD equipment only, each listed once, one suit of armour worn at most."""
    problems: list[Problem] = []
    seen: set[str] = set()
    worn = 0
    out = []
    for n, item in enumerate(items):
        index = item["index"]
        if not cat.has("equipment", index):
            where = f"character.inventory.{n}.index"
            problems.append(Problem(where, f"unknown equipment {index!r}"))
            continue
        if index in seen:
            problems.append(Problem(f"character.inventory.{n}.index", f"{index} is listed twice"))
        seen.add(index)
        doc = cat.get("equipment", index)
        if item["equipped"] and doc.get("armor_category") in creation.BODY_ARMOR:
            worn += 1
        out.append(
            {
                "index": index,
                "name": cat.name("equipment", index),
                "quantity": item["quantity"],
                "equipped": item["equipped"],
            }
        )
    if worn > 1:
        problems.append(Problem("character.inventory", "only one suit of armour can be worn"))
    if problems:
        raise _refused(problems, "The inventory is not valid.")
    return out


def validate(cat: Catalogue, data: Any) -> ImportedCharacter:
    """Every check of an import; raises a 422 problem naming the first offending fields."""
    doc = parse(data)
    character = doc.character
    build = character.build.model_dump(mode="json", exclude_unset=True)
    records = build.pop("level_ups", [])
    state = _creation_state(cat, build)
    state = _replay(cat, state, records)
    problems: list[Problem] = []
    level = 1 + len(state.level_ups)
    if character.level != level:
        problems.append(
            Problem("character.level", f"the build has {len(state.level_ups)} level-ups: {level}")
        )
    if character.name != state.details.get("name"):
        problems.append(Problem("character.name", "differs from character.build.details.name"))
    if problems:
        raise _refused(problems, "The character does not match its build.")
    inventory = _inventory(cat, [i.model_dump() for i in character.inventory])
    build = state.to_dict()
    return ImportedCharacter(
        name=character.name,
        level=level,
        build=build,
        inventory=inventory,
        currency=character.currency.model_dump(),
        notes=character.notes,
        source_id=character.id,
        rolls=_signed_rolls(cat, build, getattr(character, "rolls", [])),
    )


def _signed_rolls(
    cat: Catalogue, build: dict[str, Any], entries: list[Any]
) -> tuple[tuple[Claim, str | None], ...]:
    """Step 6: each signature names a roll the build holds, once; every roll with its
    signature (None when the file has none)."""
    held = {(c.kind, c.level): c for c in claims(cat, build)}
    signatures: dict[tuple[str, int], str] = {}
    problems = []
    for n, entry in enumerate(entries):
        key = (entry.kind, entry.level)
        if key not in held:
            what = "rolled ability scores" if entry.kind == "ability_scores" else "rolled hit die"
            problems.append(
                Problem(f"character.rolls.{n}", f"the build has no {what} at level {entry.level}")
            )
        elif key in signatures:
            problems.append(Problem(f"character.rolls.{n}", "this roll is signed twice"))
        else:
            signatures[key] = entry.signature
    if problems:
        raise _refused(problems, "The roll signatures do not match the build.")
    return tuple((claim, signatures.get(key)) for key, claim in held.items())
