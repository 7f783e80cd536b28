"""Levelling up, one level at a time, in any SRD class (multiclassing included).

A character's build is its :class:`CreationState` plus ``level_ups``: one record per level gained
(a :class:`LevelUpState` as a dict, with the ``grants`` its choices gave). :func:`progress` folds
those records into what the character has now (class levels, features, hit points, spells ...);
the rest of this module lists and checks the choices of the next level.

Every number comes from the SRD level tables and feature data: subclass levels, Ability Score
Improvement levels (the "Ability Score Improvement" features), cantrips and spells known, spell
slots, invocations known, Mystic Arcanum, multiclassing prerequisites and proficiencies.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from hero_foundry.rules.abilities import SCORE_CAP, modifier
from hero_foundry.rules.creation import (
    NUMBER_WORDS,
    CreationState,
    Problem,
    _picked,
    _text,
    always_prepared_spells,
    final_scores,
    level_features,
    selected_refs,
    selection_shape,
    spell_list,
    spell_rules,
)
from hero_foundry.rules.creation import proficiencies as creation_proficiencies
from hero_foundry.srd.catalogue import Catalogue, Doc
from hero_foundry.srd.choices import Choice, Option, normalize

MAX_LEVEL = 20
HP_METHODS = ("average", "rolled")
ASI_FEATURE = "Ability Score Improvement"
INVOCATIONS = "eldritch-invocations"


@dataclass
class LevelUpState:
    """The choices of one level-up session (JSON-serializable)."""

    class_index: str
    from_level: int
    hp_method: str | None = None
    hp_roll: int | None = None
    subclass: str | None = None
    increases: dict[str, int] | None = None
    feat: str | None = None
    selections: dict[str, list[str]] = field(default_factory=dict)
    spells: dict[str, list[str]] = field(default_factory=dict)
    #: What the committed choices gave (proficiencies, expertise), computed at commit.
    grants: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LevelUpState:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class ClassProgress:
    index: str
    level: int
    subclass: str | None
    cantrips: list[str] = field(default_factory=list)
    #: Spells known (bard, ranger, sorcerer, warlock) or in the spellbook (wizard).
    spells: list[str] = field(default_factory=list)
    prepared: list[str] = field(default_factory=list)
    arcanum: list[str] = field(default_factory=list)


@dataclass
class Progress:
    """What a character has after creation and every committed level-up."""

    level: int
    classes: dict[str, ClassProgress]
    #: (feature document, class index) in the order they were gained.
    features: list[tuple[Doc, str]]
    #: Hit points the hit dice gave: the first die's maximum, then each level's value.
    die_hp: list[int]
    increases: dict[str, int]
    feats: list[str]
    proficiencies: list[str]
    expertise: list[str]
    choices_made: dict[str, list[str]]

    @property
    def first_class(self) -> str:
        return next(iter(self.classes))


def hp_average(hit_die: int) -> int:
    """The SRD's fixed hit points per level: half the die plus one (d8 -> 5)."""
    return hit_die // 2 + 1


def progress(cat: Catalogue, state: CreationState, extra: list[LevelUpState] = ()) -> Progress:
    """Fold the creation state and its level-ups (plus ``extra`` ones) into a Progress."""
    first = state.class_index
    assert first is not None
    klass = cat.get("classes", first)
    start = ClassProgress(
        first,
        1,
        state.subclass,
        cantrips=list(state.spells.get("cantrips", [])),
        spells=list(state.spells.get("spells", [])),
        prepared=list(state.spells.get("prepared", [])),
    )
    prog = Progress(
        level=1,
        classes={first: start},
        features=[
            (d, first) for d in level_features(cat, first, 1, state.subclass, state.selections)
        ],
        die_hp=[klass["hit_die"]],
        increases={},
        feats=[],
        proficiencies=[],
        expertise=[],
        choices_made=dict(state.selections),
    )
    records = [LevelUpState.from_dict(r) for r in state.level_ups] + list(extra)
    for lu in records:
        _apply(cat, prog, lu)
    return prog


def _apply(cat: Catalogue, prog: Progress, lu: LevelUpState) -> None:
    klass = cat.get("classes", lu.class_index)
    cp = prog.classes.get(lu.class_index)
    if cp is None:
        cp = prog.classes[lu.class_index] = ClassProgress(lu.class_index, 0, None)
        prog.proficiencies += [p["index"] for p in klass["multi_classing"].get("proficiencies", [])]
    cp.level += 1
    prog.level += 1
    if lu.subclass:
        cp.subclass = lu.subclass
    prog.features += [
        (d, cp.index) for d in level_features(cat, cp.index, cp.level, cp.subclass, lu.selections)
    ]
    if lu.hp_method == "rolled" and lu.hp_roll:
        prog.die_hp.append(lu.hp_roll)
    else:
        prog.die_hp.append(hp_average(klass["hit_die"]))
    for ability, amount in (lu.increases or {}).items():
        prog.increases[ability] = prog.increases.get(ability, 0) + amount
    if lu.feat:
        prog.feats.append(lu.feat)
    prog.proficiencies += lu.grants.get("proficiencies", [])
    prog.expertise += lu.grants.get("expertise", [])
    for key, keys in lu.selections.items():
        prog.choices_made[key] = prog.choices_made.get(key, []) + list(keys)
    cp.cantrips += lu.spells.get("cantrips", [])
    cp.spells += lu.spells.get("spells", [])
    cp.arcanum += lu.spells.get("arcanum", [])
    if lu.spells.get("prepared"):
        cp.prepared = list(lu.spells["prepared"])


def scores(cat: Catalogue, state: CreationState, prog: Progress) -> dict[str, int]:
    base = final_scores(cat, state) or {}
    return {a: min(SCORE_CAP, v + prog.increases.get(a, 0)) for a, v in base.items()}


def all_proficiencies(cat: Catalogue, state: CreationState, prog: Progress) -> list[str]:
    return list(dict.fromkeys(creation_proficiencies(cat, state) + prog.proficiencies))


# --------------------------------------------------------------------------------------------
# Starting a level-up
# --------------------------------------------------------------------------------------------
def _meets(scores_now: dict[str, int], prerequisites: list[Doc]) -> list[str]:
    return [
        f"{p['ability_score']['name']} {p['minimum_score']}"
        for p in prerequisites
        if scores_now.get(p["ability_score"]["index"], 0) < p["minimum_score"]
    ]


def multiclass_shortfall(
    cat: Catalogue, class_index: str, scores_now: dict[str, int]
) -> str | None:
    """Why the scores miss the class's multiclassing prerequisites, or None when they meet them."""
    mc = cat.get("classes", class_index).get("multi_classing", {})
    lacking = _meets(scores_now, mc.get("prerequisites", []))
    if lacking:
        return " and ".join(lacking)
    options = mc.get("prerequisite_options")
    if options:
        alternatives = options["from"]["options"]
        if all(_meets(scores_now, [o]) for o in alternatives):
            return " or ".join(
                f"{o['ability_score']['name']} {o['minimum_score']}" for o in alternatives
            )
    return None


def check_start(cat: Catalogue, state: CreationState, class_index: str) -> list[Problem]:
    if not cat.has("classes", class_index):
        return [Problem("class", f"unknown class {class_index!r}")]
    prog = progress(cat, state)
    if prog.level >= MAX_LEVEL:
        return [Problem("class", f"the character is level {MAX_LEVEL}, the highest level")]
    if class_index in prog.classes:
        return []
    now = scores(cat, state, prog)
    problems = []
    for index in [*prog.classes, class_index]:
        short = multiclass_shortfall(cat, index, now)
        if short:
            problems.append(
                Problem("class", f"multiclassing needs {short} for {cat.name('classes', index)}")
            )
    return problems


# --------------------------------------------------------------------------------------------
# The choices of the next level
# --------------------------------------------------------------------------------------------
def class_level_after(prog: Progress, lu: LevelUpState) -> int:
    cp = prog.classes.get(lu.class_index)
    return (cp.level if cp else 0) + 1


def subclass_after(prog: Progress, lu: LevelUpState) -> str | None:
    cp = prog.classes.get(lu.class_index)
    return lu.subclass or (cp.subclass if cp else None)


def grants_asi(cat: Catalogue, class_index: str, level: int) -> bool:
    row = cat.class_level(class_index, level)
    return any(f["name"] == ASI_FEATURE for f in row["features"])


def _specific(cat: Catalogue, class_index: str, level: int, key: str) -> int:
    if level < 1:
        return 0
    return int(cat.class_level(class_index, level).get("class_specific", {}).get(key, 0) or 0)


def level_choices(
    cat: Catalogue, state: CreationState, prog: Progress, lu: LevelUpState
) -> list[Choice]:
    """Every SRD choice the next level opens, sub-choices of selected options included."""
    level = class_level_after(prog, lu)
    klass = cat.get("classes", lu.class_index)
    out: list[Choice] = []
    if level == 1:
        for i, raw in enumerate(klass["multi_classing"].get("proficiency_choices", [])):
            out.append(normalize(cat, raw, f"multiclass:proficiencies:{i}", "a proficiency"))
    for feature in level_features(cat, lu.class_index, level, subclass_after(prog, lu), {}):
        for key, raw in feature.get("feature_specific", {}).items():
            if key.endswith("_options") and isinstance(raw, dict) and "from" in raw:
                out.append(normalize(cat, raw, f"feature:{feature['index']}", feature["name"]))
    new_invocations = _specific(cat, lu.class_index, level, "invocations_known") - _specific(
        cat, lu.class_index, level - 1, "invocations_known"
    )
    if new_invocations > 0 and cat.has("features", INVOCATIONS):
        doc = cat.get("features", INVOCATIONS)
        options = tuple(
            Option(key=r["index"], label=r["name"], ref=r["index"])
            for r in doc["feature_specific"]["invocations"]
        )
        out.append(
            Choice(
                id=f"feature:{INVOCATIONS}",
                desc=f"{new_invocations} eldritch invocation(s)",
                choose=new_invocations,
                type="feature",
                options=options,
            )
        )
    pending, result = list(out), []
    while pending:
        choice = pending.pop(0)
        result.append(choice)
        for option in _picked(choice, lu.selections.get(choice.id, [])):
            pending.extend(option.subchoices)
    return result


def _invocation_problem(
    cat: Catalogue, prog: Progress, warlock_level: int, known_spells: set[str], index: str
) -> str | None:
    owned = {d["index"] for d, _ in prog.features}
    for pre in cat.get("features", index).get("prerequisites", []):
        if pre.get("type") == "level" and warlock_level < pre["level"]:
            return f"{index} needs warlock level {pre['level']}"
        if pre.get("type") == "spell" and pre["spell"].rsplit("/", 1)[1] not in known_spells:
            return f"{index} needs the spell {pre['spell'].rsplit('/', 1)[1]}"
        if pre.get("type") == "feature" and pre["feature"].rsplit("/", 1)[1] not in owned:
            return f"{index} needs the feature {pre['feature'].rsplit('/', 1)[1]}"
    return None


def check_level_selection(
    cat: Catalogue,
    state: CreationState,
    prog: Progress,
    lu: LevelUpState,
    choice: Choice,
    keys: list[str],
) -> list[Problem]:
    where = f"choices.{choice.id}"
    shape = selection_shape(choice, keys)
    if shape:
        return shape
    refs = selected_refs(choice, keys)
    have = set(all_proficiencies(cat, state, prog))
    owned = {d["index"] for d, _ in prog.features}
    problems: list[Problem] = []
    if choice.type == "proficiencies":
        problems += [Problem(where, f"{r} is already a proficiency") for r in refs if r in have]
    elif choice.type == "proficiency":
        experts = set(prog.expertise) | set(_creation_expertise(cat, state))
        for ref in refs:
            if ref not in have:
                problems.append(Problem(where, f"expertise needs proficiency in {ref} first"))
            elif ref in experts:
                problems.append(Problem(where, f"{ref} already has expertise"))
    elif choice.type == "feature":
        level = class_level_after(prog, lu)
        known = {s for cp in prog.classes.values() for s in cp.cantrips + cp.spells}
        for ref in refs:
            if ref in owned:
                problems.append(Problem(where, f"the character already has {ref}"))
            elif choice.id == f"feature:{INVOCATIONS}":
                reason = _invocation_problem(cat, prog, level, known, ref)
                if reason:
                    problems.append(Problem(where, reason))
    return problems


def _creation_expertise(cat: Catalogue, state: CreationState) -> list[str]:
    from hero_foundry.rules.creation import expertise

    return expertise(cat, state)


def grants(
    cat: Catalogue, state: CreationState, prog: Progress, lu: LevelUpState
) -> dict[str, list[str]]:
    """The proficiencies and expertise the level-up's selections give."""
    out: dict[str, list[str]] = {"proficiencies": [], "expertise": []}
    for choice in level_choices(cat, state, prog, lu):
        refs = selected_refs(choice, lu.selections.get(choice.id, []))
        if choice.type == "proficiencies":
            out["proficiencies"] += refs
        elif choice.type == "proficiency":
            out["expertise"] += refs
    return out


# --------------------------------------------------------------------------------------------
# Spells of the next level
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SpellPlan:
    """What the next level lets the character add to one class's spells."""

    ability: str
    new_cantrips: int
    #: New spells known (known casters) or spellbook additions (wizard).
    new_spells: int
    #: Of the new spells, how many may come from any class (Magical Secrets) ...
    any_class: int
    #: ... and how many of those come on top of ``new_spells``.
    any_class_extra: int
    prepares: bool
    max_prepared: int | None
    #: Whether a prepared list must be given (the class just started preparing spells).
    prepared_required: bool
    max_level: int
    arcanum_level: int | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_ANY_CLASS = re.compile(r"(\w+) (?:additional )?spells (?:of your choice )?from any class")
#: "Each time you gain a wizard level, you can add two wizard spells of your choice to your
#: spellbook": SRD 5.1 rules text that the data file's class entry leaves out.
SPELLBOOK_SPELLS_PER_LEVEL = 2


def spell_plan(
    cat: Catalogue, state: CreationState, prog: Progress, lu: LevelUpState
) -> SpellPlan | None:
    level = class_level_after(prog, lu)
    after = scores(cat, state, prog)
    for ability, amount in (lu.increases or {}).items():
        after[ability] = min(SCORE_CAP, after.get(ability, 0) + amount)
    new = spell_rules(cat, lu.class_index, level, after)
    if new is None:
        return None
    old = spell_rules(cat, lu.class_index, level - 1, after) if level > 1 else None
    new_spells = new.known - (old.known if old else 0)
    if new.spellbook and old is not None:
        new_spells = SPELLBOOK_SPELLS_PER_LEVEL
    any_class = extra = 0
    for feature in level_features(cat, lu.class_index, level, subclass_after(prog, lu), {}):
        match = _ANY_CLASS.search(_text(feature))
        if match and match.group(1).lower() in NUMBER_WORDS:
            count = NUMBER_WORDS[match.group(1).lower()]
            any_class += count
            if "don't count against" in _text(feature):
                extra += count
    arcanum = None
    for spell_level in range(6, 10):
        key = f"mystic_arcanum_level_{spell_level}"
        if _specific(cat, lu.class_index, level, key) > _specific(
            cat, lu.class_index, level - 1, key
        ):
            arcanum = spell_level
    return SpellPlan(
        ability=new.ability,
        new_cantrips=new.cantrips - (old.cantrips if old else 0),
        new_spells=new_spells + extra,
        any_class=any_class,
        any_class_extra=extra,
        prepares=new.prepares,
        max_prepared=new.prepared,
        prepared_required=new.prepares and (old is None),
        max_level=new.max_level,
        arcanum_level=arcanum,
    )


def check_level_spells(
    cat: Catalogue, state: CreationState, prog: Progress, lu: LevelUpState, spells: dict
) -> list[Problem]:
    plan = spell_plan(cat, state, prog, lu)
    cantrips = spells.get("cantrips", [])
    new = spells.get("spells", [])
    prepared = spells.get("prepared", [])
    arcanum = spells.get("arcanum", [])
    if plan is None:
        if cantrips or new or prepared or arcanum:
            return [Problem("spells", f"this level of {lu.class_index} gains no spells")]
        return []
    cp = prog.classes.get(lu.class_index) or ClassProgress(lu.class_index, 0, None)
    level = class_level_after(prog, lu)
    owned = {d["index"] for d, _ in prog.features} | {
        d["index"]
        for d in level_features(cat, lu.class_index, level, subclass_after(prog, lu), lu.selections)
    }
    own = spell_list(cat, lu.class_index, subclass_after(prog, lu), level, owned)
    every = {i: s["level"] for i, s in cat.tables["spells"].items()}
    problems: list[Problem] = []

    def count(name: str, chosen: list[str], want: int) -> None:
        if len(chosen) != want:
            problems.append(Problem(f"spells.{name}", f"choose exactly {want} (got {len(chosen)})"))
        if len(set(chosen)) != len(chosen):
            problems.append(Problem(f"spells.{name}", "a spell is listed twice"))

    count("cantrips", cantrips, plan.new_cantrips)
    count("spells", new, plan.new_spells)
    off_list = 0
    for name, chosen, low, high in (
        ("cantrips", cantrips, 0, 0),
        ("spells", new, 1, plan.max_level),
    ):
        for spell in chosen:
            if spell in cp.cantrips or spell in cp.spells:
                problems.append(Problem(f"spells.{name}", f"{spell} is already known"))
            lvl = own.get(spell)
            if lvl is None and spell in every and plan.any_class:
                off_list += 1
                lvl = every[spell]
            if lvl is None:
                problems.append(
                    Problem(f"spells.{name}", f"{spell!r} is not on the {lu.class_index} list")
                )
            elif not low <= lvl <= high:
                problems.append(Problem(f"spells.{name}", f"{spell} is a level-{lvl} spell"))
    if off_list > plan.any_class:
        problems.append(
            Problem("spells.spells", f"only {plan.any_class} spell(s) may come from any class")
        )
    if plan.arcanum_level is None:
        if arcanum:
            problems.append(Problem("spells.arcanum", "no Mystic Arcanum at this level"))
    else:
        count("arcanum", arcanum, 1)
        for spell in arcanum:
            if own.get(spell) != plan.arcanum_level:
                problems.append(
                    Problem(
                        "spells.arcanum",
                        f"choose a level-{plan.arcanum_level} {lu.class_index} spell",
                    )
                )
    if prepared or plan.prepared_required:
        if not plan.prepares:
            problems.append(Problem("spells.prepared", "this class does not prepare spells"))
        else:
            limit = plan.max_prepared or 1
            if not 1 <= len(prepared) <= limit:
                problems.append(Problem("spells.prepared", f"prepare 1-{limit} spells"))
            book = set(cp.spells) | set(new)
            spellbook = spell_rules(cat, lu.class_index, level, None)
            always = set(always_prepared_spells(cat, subclass_after(prog, lu), level, owned))
            for spell in prepared:
                lvl = own.get(spell)
                if spellbook and spellbook.spellbook and spell not in book:
                    problems.append(Problem("spells.prepared", f"{spell} is not in the spellbook"))
                elif lvl is None or not 1 <= lvl <= plan.max_level:
                    problems.append(
                        Problem("spells.prepared", f"{spell!r} cannot be prepared at this level")
                    )
                elif spell in always:
                    problems.append(
                        Problem("spells.prepared", f"{spell} is always prepared by your subclass")
                    )
    return problems


# --------------------------------------------------------------------------------------------
# The whole level-up
# --------------------------------------------------------------------------------------------
def check_subclass(
    cat: Catalogue, prog: Progress, lu: LevelUpState, subclass: str | None
) -> list[Problem]:
    level = class_level_after(prog, lu)
    at = cat.subclass_level_of(lu.class_index)
    cp = prog.classes.get(lu.class_index)
    has = cp.subclass if cp else None
    if subclass is None:
        if at == level and not has:
            options = ", ".join(s["index"] for s in cat.subclasses_of(lu.class_index))
            return [Problem("subclass", f"choose one at {lu.class_index} level {level}: {options}")]
        return []
    if subclass not in {s["index"] for s in cat.subclasses_of(lu.class_index)}:
        return [Problem("subclass", f"{subclass!r} is not a {lu.class_index} subclass")]
    if has:
        return [Problem("subclass", f"the {lu.class_index} subclass is already {has}")]
    if at != level:
        return [
            Problem("subclass", f"a {lu.class_index} chooses a subclass at level {at}, not {level}")
        ]
    return []


def check_improvement(
    cat: Catalogue,
    state: CreationState,
    prog: Progress,
    lu: LevelUpState,
    increases: dict[str, int] | None,
    feat: str | None,
) -> list[Problem]:
    level = class_level_after(prog, lu)
    if not grants_asi(cat, lu.class_index, level):
        if increases or feat:
            return [Problem("ability_scores", f"{lu.class_index} level {level} has no improvement")]
        return []
    if increases and feat:
        return [Problem("ability_scores", "take either ability score increases or a feat")]
    now = scores(cat, state, prog)
    if feat:
        if not cat.has("feats", feat):
            return [Problem("feat", f"unknown feat {feat!r}")]
        if feat in prog.feats:
            return [Problem("feat", f"the character already has {feat}")]
        lacking = _meets(now, cat.get("feats", feat).get("prerequisites", []))
        if lacking:
            return [Problem("feat", f"{feat} needs {' and '.join(lacking)}")]
        return []
    if not increases:
        return []
    unknown = [a for a in increases if a not in now]
    if unknown:
        return [Problem(f"increases.{unknown[0]}", "not an ability score")]
    values = sorted(increases.values())
    if values not in ([2], [1, 1]):
        return [Problem("increases", "increase one ability by 2, or two abilities by 1 each")]
    for ability, amount in increases.items():
        if now[ability] + amount > SCORE_CAP:
            return [
                Problem(
                    f"increases.{ability}",
                    f"{ability} would be {now[ability] + amount}; the maximum is {SCORE_CAP}",
                )
            ]
    return []


def problems(cat: Catalogue, state: CreationState, lu: LevelUpState) -> list[Problem]:
    """Everything that stops the level-up from being committed."""
    prog = progress(cat, state)
    out = check_start(cat, state, lu.class_index)
    if out:
        return out
    if prog.level != lu.from_level:
        return [Problem("level", "the character changed level since this level-up started")]
    if lu.hp_method not in HP_METHODS:
        out.append(Problem("hit_points", "missing: average or rolled"))
    out += check_subclass(cat, prog, lu, lu.subclass)
    level = class_level_after(prog, lu)
    if grants_asi(cat, lu.class_index, level) and not (lu.increases or lu.feat):
        out.append(Problem("ability_scores", "missing: increases or a feat"))
    else:
        out += check_improvement(cat, state, prog, lu, lu.increases, lu.feat)
    for choice in level_choices(cat, state, prog, lu):
        keys = lu.selections.get(choice.id)
        if keys is None:
            out.append(Problem(f"choices.{choice.id}", f"missing: {choice.desc}"))
        else:
            out += check_level_selection(cat, state, prog, lu, choice, keys)
    plan = spell_plan(cat, state, prog, lu)
    needs_spells = plan is not None and (
        plan.new_cantrips or plan.new_spells or plan.arcanum_level or plan.prepared_required
    )
    if needs_spells and not lu.spells:
        out.append(Problem("spells", "missing"))
    elif lu.spells or plan is not None:
        out += check_level_spells(cat, state, prog, lu, lu.spells)
    return out


def commit(cat: Catalogue, state: CreationState, lu: LevelUpState) -> CreationState:
    """The character's build with this level-up applied (``problems`` must be empty)."""
    prog = progress(cat, state)
    record = LevelUpState.from_dict(lu.to_dict())
    record.grants = grants(cat, state, prog, lu)
    new = CreationState.from_dict(state.to_dict())
    new.level_ups = [*state.level_ups, record.to_dict()]
    return new


def preview_state(cat: Catalogue, state: CreationState, lu: LevelUpState) -> CreationState:
    """The build as it would be with the level-up's current (possibly partial) choices."""
    return commit(cat, state, lu)


def hp_gain(cat: Catalogue, state: CreationState, lu: LevelUpState) -> dict[str, Any]:
    hit_die = cat.get("classes", lu.class_index)["hit_die"]
    prog = progress(cat, state)
    con = modifier(scores(cat, state, prog)["con"])
    return {
        "hit_die": hit_die,
        "average": hp_average(hit_die),
        "method": lu.hp_method,
        "roll": lu.hp_roll,
        "constitution_modifier": con,
    }
