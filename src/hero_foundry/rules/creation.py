"""Level-1 character creation: which choices are open, what is missing or illegal, the sheet.

Everything is computed from a :class:`CreationState` (what the player picked) and the SRD
catalogue. Nothing here performs I/O; the same functions serve the wizard's ``GET`` (open choices
and problems), each step's validation, ``finalize`` and the derived character sheet.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from hero_foundry.rules.abilities import SCORE_CAP, modifier
from hero_foundry.srd.catalogue import Catalogue, Doc, SrdNotFound
from hero_foundry.srd.choices import Choice, Option, normalize

LEVEL = 1
_WORDS = "zero one two three four five six seven eight nine ten eleven twelve"
NUMBER_WORDS = {word: n for n, word in enumerate(_WORDS.split(" "))}
BODY_ARMOR = ("Light", "Medium", "Heavy")


@dataclass(frozen=True)
class Problem:
    """Something missing or illegal in the state: ``field`` names it, ``reason`` says why."""

    field: str
    reason: str


@dataclass
class CreationState:
    """Everything a player has chosen in the creation wizard (JSON-serializable)."""

    race: str | None = None
    subrace: str | None = None
    class_index: str | None = None
    subclass: str | None = None
    background: str | None = None
    ability_method: str | None = None
    base_scores: dict[str, int] | None = None
    rolled: list[list[int]] | None = None
    selections: dict[str, list[str]] = field(default_factory=dict)
    spells: dict[str, list[str]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    #: Committed level-ups (see rules.levelling), empty while the character is level 1.
    level_ups: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> CreationState:
        data = dict(data or {})
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


# --------------------------------------------------------------------------------------------
# SRD text helpers: a few mechanics live only in the SRD's prose; they are read from it here.
# --------------------------------------------------------------------------------------------
def _text(doc: Doc) -> str:
    desc = doc.get("desc", "")
    return " ".join(desc) if isinstance(desc, list) else str(desc)


def _ability_by_name(cat: Catalogue) -> dict[str, str]:
    return {a["full_name"].lower(): a["index"] for a in cat.all("ability_scores")}


def _hp_bonus_per_level(doc: Doc) -> int:
    match = re.search(r"hit point maximum increases by (\d+)", _text(doc))
    return int(match.group(1)) if match else 0


_UNARMORED = re.compile(
    r"(?:AC|Armor Class) equals (\d+) \+ your (\w+) modifier(?: \+ your (\w+) modifier)?"
)


def _unarmored_formula(cat: Catalogue, doc: Doc) -> tuple[int, tuple[str, ...], bool] | None:
    """``(base, abilities, shield allowed)`` for an unarmoured-defence feature, else None."""
    text = _text(doc)
    if not re.search(r"not wearing any armor|wearing no armor|aren't wearing armor", text):
        return None
    match = _UNARMORED.search(text)
    if not match:
        return None
    names = _ability_by_name(cat)
    abilities = tuple(names[g.lower()] for g in match.groups()[1:] if g)
    return int(match.group(1)), abilities, "not wielding a shield" not in text


def _proficiencies_from_text(cat: Catalogue, doc: Doc) -> list[str]:
    """Proficiencies a feature grants in prose ("you gain proficiency with heavy armor")."""
    found = []
    by_name = {p["name"].lower(): p["index"] for p in cat.all("proficiencies")}
    for match in re.finditer(r"you gain proficiency with ([a-z ']+?)[.,]", _text(doc)):
        index = by_name.get(match.group(1).strip().lower())
        if index:
            found.append(index)
    return found


# --------------------------------------------------------------------------------------------
# What the state refers to
# --------------------------------------------------------------------------------------------
def _maybe(cat: Catalogue, table: str, index: str | None) -> Doc | None:
    return cat.tables[table].get(index) if index else None


def traits(cat: Catalogue, state: CreationState) -> list[Doc]:
    """Racial traits: the race's, the subrace's and any chosen sub-trait (draconic ancestry)."""
    refs: list[str] = []
    race = _maybe(cat, "races", state.race)
    subrace = _maybe(cat, "subraces", state.subrace)
    if race:
        refs += [t["index"] for t in race.get("traits", [])]
    if subrace:
        refs += [t["index"] for t in subrace.get("racial_traits", [])]
    found = [cat.get("traits", r) for r in refs if cat.has("traits", r)]
    for trait in list(found):
        sub = trait.get("trait_specific", {}).get("subtrait_options")
        if sub:
            for key in state.selections.get(f"trait:{trait['index']}", []):
                if cat.has("traits", key):
                    found.append(cat.get("traits", key))
    return found


def level_features(
    cat: Catalogue,
    class_index: str,
    level: int,
    subclass: str | None,
    selections: dict[str, list[str]],
) -> list[Doc]:
    """Class and subclass features gained at a class level, plus the features chosen then
    (a fighting style, a dragon ancestor, eldritch invocations, a pact boon ...)."""
    refs = [f["index"] for f in cat.class_level(class_index, level)["features"]]
    sub_row = cat.subclass_level(subclass, level) if subclass else None
    if sub_row:
        refs += [f["index"] for f in sub_row["features"]]
    if subclass:
        refs += [f["index"] for f in cat.unlisted_features(class_index, subclass, level)]
    for choice_id, keys in selections.items():
        if choice_id.startswith("feature:") and "/" not in choice_id:
            refs += [k for k in keys if cat.has("features", k)]
    return [cat.get("features", r) for r in dict.fromkeys(refs) if cat.has("features", r)]


def class_features(cat: Catalogue, state: CreationState) -> list[Doc]:
    """The level-1 class and subclass features, plus the chosen sub-features."""
    if not _maybe(cat, "classes", state.class_index):
        return []
    return level_features(cat, state.class_index, LEVEL, state.subclass, state.selections)


# --------------------------------------------------------------------------------------------
# Choices
# --------------------------------------------------------------------------------------------
def base_choices(cat: Catalogue, state: CreationState) -> list[Choice]:
    """Every SRD choice the current race, class and background open (before sub-choices)."""
    out: list[Choice] = []
    race = _maybe(cat, "races", state.race)
    if race:
        if "ability_bonus_options" in race:
            out.append(normalize(cat, race["ability_bonus_options"], "race:ability-bonuses"))
        if "language_options" in race:
            out.append(
                normalize(cat, race["language_options"], "race:languages", "choose a language")
            )
        for trait in traits(cat, state):
            cid = f"trait:{trait['index']}"
            specific = trait.get("trait_specific", {})
            for raw in (
                trait.get("proficiency_choices"),
                trait.get("language_options"),
                specific.get("spell_options"),
                specific.get("subtrait_options"),
            ):
                if raw:
                    out.append(normalize(cat, raw, cid, f"{trait['name']}: choose"))
    klass = _maybe(cat, "classes", state.class_index)
    if klass:
        for i, raw in enumerate(klass.get("proficiency_choices", [])):
            out.append(normalize(cat, raw, f"class:proficiencies:{i}"))
        for i, raw in enumerate(klass.get("starting_equipment_options", [])):
            out.append(normalize(cat, raw, f"class:equipment:{i}"))
        for feature in class_features(cat, state):
            specific = feature.get("feature_specific", {})
            for key, raw in specific.items():
                if key.endswith("_options") and isinstance(raw, dict) and "from" in raw:
                    out.append(normalize(cat, raw, f"feature:{feature['index']}", feature["name"]))
    background = _maybe(cat, "backgrounds", state.background)
    if background:
        if "language_options" in background:
            out.append(
                normalize(cat, background["language_options"], "background:languages", "languages")
            )
        for i, raw in enumerate(background.get("starting_equipment_options", [])):
            out.append(normalize(cat, raw, f"background:equipment:{i}"))
    return out


def open_choices(cat: Catalogue, state: CreationState) -> list[Choice]:
    """All open choices, including sub-choices of the options already selected."""
    out: list[Choice] = []
    pending = list(base_choices(cat, state))
    while pending:
        choice = pending.pop(0)
        out.append(choice)
        for key in state.selections.get(choice.id, []):
            option = choice.option(key)
            if option:
                pending.extend(option.subchoices)
    return out


def _picked(choice: Choice, keys: Iterable[str]) -> Iterator[Option]:
    for key in keys:
        option = choice.option(key)
        if option:
            yield option


def granted_proficiencies(cat: Catalogue, state: CreationState) -> list[str]:
    """Proficiencies that come without a choice: class, background, racial traits, features."""
    out: list[str] = []
    klass = _maybe(cat, "classes", state.class_index)
    if klass:
        out += [p["index"] for p in klass.get("proficiencies", [])]
    background = _maybe(cat, "backgrounds", state.background)
    if background:
        out += [p["index"] for p in background.get("starting_proficiencies", [])]
    for trait in traits(cat, state):
        out += [p["index"] for p in trait.get("proficiencies", [])]
    for feature in class_features(cat, state):
        out += _proficiencies_from_text(cat, feature)
    return list(dict.fromkeys(out))


def chosen_refs(cat: Catalogue, state: CreationState, types: set[str]) -> list[str]:
    """References selected in open choices of the given SRD choice types."""
    out: list[str] = []
    for choice in open_choices(cat, state):
        if choice.type in types:
            for option in _picked(choice, state.selections.get(choice.id, [])):
                if option.ref:
                    out.append(option.ref)
                out.extend(option.grants)
    return out


def proficiencies(cat: Catalogue, state: CreationState) -> list[str]:
    chosen = chosen_refs(cat, state, {"proficiencies"})
    return list(dict.fromkeys(granted_proficiencies(cat, state) + chosen))


def expertise(cat: Catalogue, state: CreationState) -> list[str]:
    return chosen_refs(cat, state, {"proficiency"})


def languages(cat: Catalogue, state: CreationState) -> list[str]:
    out: list[str] = []
    race = _maybe(cat, "races", state.race)
    if race:
        out += [lang["index"] for lang in race.get("languages", [])]
    out += chosen_refs(cat, state, {"languages"})
    return list(dict.fromkeys(out))


def is_proficient_with(cat: Catalogue, profs: Iterable[str], equipment_index: str) -> bool:
    """Whether any proficiency covers the equipment (directly or through its category)."""
    for index in profs:
        prof = cat.tables["proficiencies"].get(index)
        ref = (prof or {}).get("reference", {})
        url = ref.get("url", "")
        if ref.get("index") == equipment_index and "/equipment/" in url:
            return True
        if "/equipment-categories/" in url and any(
            e["index"] == equipment_index for e in cat.category_equipment(ref["index"])
        ):
            return True
    return False


def _prerequisite_met(cat: Catalogue, profs: list[str], prerequisite: str) -> bool:
    # The SRD names prerequisites by proficiency ("chain-mail"), which may refer to one item:
    # the character qualifies when a proficiency of theirs covers that item.
    prof = cat.tables["proficiencies"].get(prerequisite)
    target = (prof or {}).get("reference", {}).get("index", prerequisite)
    return prerequisite in profs or is_proficient_with(cat, profs, target)


def selection_shape(choice: Choice, keys: list[str]) -> list[Problem]:
    """A selection's own problems: the count, unknown keys, repeats."""
    where = f"choices.{choice.id}"
    if len(keys) != choice.choose:
        return [Problem(where, f"choose exactly {choice.choose} (got {len(keys)})")]
    unknown = [k for k in keys if choice.option(k) is None]
    if unknown:
        return [Problem(where, f"{unknown[0]!r} is not one of this choice's options")]
    if not choice.repeatable and len(set(keys)) != len(keys):
        return [Problem(where, "the same option may not be chosen twice")]
    return []


def selected_refs(choice: Choice, keys: Iterable[str]) -> list[str]:
    """The references the selected options give (their own and their bundles' grants)."""
    return [r for o in _picked(choice, keys) for r in ([o.ref] if o.ref else []) + list(o.grants)]


def check_selection(
    cat: Catalogue, state: CreationState, choice: Choice, keys: list[str]
) -> list[Problem]:
    """Problems with one choice's selection, in the context of everything else chosen."""
    where = f"choices.{choice.id}"
    shape = selection_shape(choice, keys)
    if shape:
        return shape
    problems: list[Problem] = []
    picked = list(_picked(choice, keys))
    refs = selected_refs(choice, keys)
    if choice.type == "proficiencies":
        granted = set(granted_proficiencies(cat, state))
        others = _refs_elsewhere(cat, state, choice, {"proficiencies"})
        for ref in refs:
            if ref in granted:
                problems.append(Problem(where, f"{ref} is already granted by another source"))
            elif ref in others:
                problems.append(Problem(where, f"{ref} is already chosen in another choice"))
    elif choice.type == "languages":
        race = _maybe(cat, "races", state.race) or {}
        known = {lang["index"] for lang in race.get("languages", [])}
        known |= _refs_elsewhere(cat, state, choice, {"languages"})
        problems += [Problem(where, f"{ref} is already known") for ref in refs if ref in known]
    elif choice.type == "proficiency":  # expertise: only in proficiencies the character has
        have = set(proficiencies(cat, state))
        problems += [
            Problem(where, f"expertise needs proficiency in {ref} first")
            for ref in refs
            if ref not in have
        ]
    elif choice.type == "equipment":
        have = proficiencies(cat, state)
        for option in picked:
            for prerequisite in option.prerequisites:
                if not _prerequisite_met(cat, have, prerequisite):
                    problems.append(
                        Problem(where, f"{option.label} requires proficiency: {prerequisite}")
                    )
    return problems


def _refs_elsewhere(
    cat: Catalogue, state: CreationState, exclude: Choice, types: set[str]
) -> set[str]:
    out: set[str] = set()
    for choice in open_choices(cat, state):
        if choice.id != exclude.id and choice.type in types:
            for option in _picked(choice, state.selections.get(choice.id, [])):
                out |= {option.ref} if option.ref else set()
                out |= set(option.grants)
    return out


#: Which selections belong to which wizard step (by choice-id prefix).
STEP_CHOICES = {
    "race": ("race:", "trait:"),
    "class": ("class:", "feature:"),
    "background": ("background:",),
}


def forget(state: CreationState, step: str) -> None:
    """Drop the selections made for a step's previous answer (a new race, class, background)."""
    prefixes = STEP_CHOICES[step]
    state.selections = {k: v for k, v in state.selections.items() if not k.startswith(prefixes)}


def prune_selections(cat: Catalogue, state: CreationState) -> None:
    """Drop selections of choices that are no longer open, or whose options no longer exist."""
    while True:
        choices = {c.id: c for c in open_choices(cat, state)}
        stale = [
            k
            for k, keys in state.selections.items()
            if k not in choices or any(choices[k].option(key) is None for key in keys)
        ]
        if not stale:
            return
        for key in stale:
            del state.selections[key]


# --------------------------------------------------------------------------------------------
# Ability scores, spells
# --------------------------------------------------------------------------------------------
def racial_bonuses(cat: Catalogue, state: CreationState) -> dict[str, int]:
    bonuses = {a: 0 for a in cat.tables["ability_scores"]}
    for doc in (_maybe(cat, "races", state.race), _maybe(cat, "subraces", state.subrace)):
        for bonus in (doc or {}).get("ability_bonuses", []):
            bonuses[bonus["ability_score"]["index"]] += bonus["bonus"]
    choice = next((c for c in base_choices(cat, state) if c.id == "race:ability-bonuses"), None)
    if choice:
        for option in _picked(choice, state.selections.get(choice.id, [])):
            if option.ability_bonus:
                ability, bonus = option.ability_bonus
                bonuses[ability] += bonus
    return bonuses


def final_scores(cat: Catalogue, state: CreationState) -> dict[str, int] | None:
    if not state.base_scores:
        return None
    bonuses = racial_bonuses(cat, state)
    return {a: min(SCORE_CAP, state.base_scores[a] + bonuses[a]) for a in bonuses}


@dataclass(frozen=True)
class SpellRules:
    """How many spells of each kind the class lets a character pick at this level."""

    ability: str
    cantrips: int
    #: Spells known (bard, ranger, sorcerer, warlock) or the spellbook's size (wizard).
    known: int
    #: Whether the class prepares spells (cleric, druid, paladin, wizard).
    prepares: bool
    #: Their maximum number of prepared spells; None until the ability scores are known.
    prepared: int | None
    max_level: int
    slots: dict[int, int]
    spellbook: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def spell_rules(
    cat: Catalogue, class_index: str, level: int, scores: dict[str, int] | None
) -> SpellRules | None:
    klass = cat.get("classes", class_index)
    casting = klass.get("spellcasting")
    if not casting or casting.get("level", 1) > level:
        return None
    table = cat.class_level(class_index, level).get("spellcasting", {})
    slots = {
        int(k.rsplit("_", 1)[1]): v
        for k, v in table.items()
        if k.startswith("spell_slots_level_") and v
    }
    ability = casting["spellcasting_ability"]["index"]
    info = {i["name"]: " ".join(i["desc"]) for i in casting.get("info", [])}
    prepared: int | None = None
    known = int(table.get("spells_known", 0))
    spellbook = False
    prepares = "spells_known" not in table
    if prepares:
        text = next((t for n, t in info.items() if n.startswith("Preparing")), "")
        half = re.search(r"modifier \+ half your \w+ level", text) is not None
        if scores:
            prepared = max(1, modifier(scores[ability]) + (level // 2 if half else level))
        book = re.search(r"spellbook containing (\w+) 1st", info.get("Spellbook", ""))
        if book:
            spellbook = True
            known = NUMBER_WORDS.get(book.group(1).lower(), 0)
    return SpellRules(
        ability=ability,
        cantrips=int(table.get("cantrips_known", 0)),
        known=known,
        prepares=prepares,
        prepared=prepared,
        max_level=max(slots) if slots else 0,
        slots=slots,
        spellbook=spellbook,
    )


def subclass_spells(
    cat: Catalogue, subclass: str | None, class_level: int, features: set[str]
) -> list[str]:
    """The subclass spells gained by a class level (a Land druid's circle spells also need the
    chosen terrain's feature). See :func:`always_prepared_spells` for what they are."""
    sub = cat.tables["subclasses"].get(subclass) if subclass else None
    out = []
    for entry in (sub or {}).get("spells", []):
        met = True
        for pre in entry.get("prerequisites", []):
            if pre.get("type") == "level":
                met &= int(pre["index"].rsplit("-", 1)[1]) <= class_level
            elif pre.get("type") == "feature":
                met &= pre["index"] in features
        if met:
            out.append(entry["spell"]["index"])
    return list(dict.fromkeys(out))


def _always_prepared_feature(cat: Catalogue, features: set[str]) -> bool:
    return any(
        "always have it prepared" in _text(cat.get("features", f))
        for f in features
        if cat.has("features", f)
    )


def always_prepared_spells(
    cat: Catalogue, subclass: str | None, class_level: int, features: set[str]
) -> list[str]:
    """Subclass spells that are always prepared: when a feature says so (Domain, Oath and
    Circle Spells: "you always have it prepared")."""
    if not _always_prepared_feature(cat, features):
        return []
    return subclass_spells(cat, subclass, class_level, features)


def expanded_spells(
    cat: Catalogue, subclass: str | None, class_level: int, features: set[str]
) -> list[str]:
    """Subclass spells that only join the class's list to choose from (the Fiend's expanded
    spell list: no feature makes them always prepared)."""
    if _always_prepared_feature(cat, features):
        return []
    return subclass_spells(cat, subclass, class_level, features)


def spell_list(
    cat: Catalogue, class_index: str, subclass: str | None, class_level: int, features: set[str]
) -> dict[str, int]:
    """Spell index -> spell level of what the class may pick from, expanded list included."""
    own = {s["index"]: s["level"] for s in cat.class_spells(class_index)}
    for spell in expanded_spells(cat, subclass, class_level, features):
        own[spell] = cat.get("spells", spell)["level"]
    return own


def always_prepared(cat: Catalogue, state: CreationState) -> list[str]:
    """The level-1 subclass's always-prepared spells."""
    owned = {d["index"] for d in class_features(cat, state)}
    return always_prepared_spells(cat, state.subclass, LEVEL, owned)


def check_spells(
    cat: Catalogue, state: CreationState, spells: dict[str, list[str]]
) -> list[Problem]:
    if not state.class_index:
        return [Problem("class", "choose a class before its spells")]
    rules = spell_rules(cat, state.class_index, LEVEL, final_scores(cat, state))
    cantrips = spells.get("cantrips", [])
    known = spells.get("spells", [])
    prepared = spells.get("prepared", [])
    if rules is None:
        if cantrips or known or prepared:
            return [Problem("spells", f"a level-{LEVEL} {state.class_index} casts no spells")]
        return []
    owned = {d["index"] for d in class_features(cat, state)}
    by_level = spell_list(cat, state.class_index, state.subclass, LEVEL, owned)
    problems: list[Problem] = []

    def pick(name: str, chosen: list[str], low: int, high: int, count: range) -> None:
        if len(set(chosen)) != len(chosen):
            problems.append(Problem(f"spells.{name}", "a spell is listed twice"))
        if len(chosen) not in count:
            want = f"exactly {count.start}" if len(count) == 1 else f"{count.start}-{count[-1]}"
            problems.append(Problem(f"spells.{name}", f"choose {want} (got {len(chosen)})"))
        for spell in chosen:
            lvl = by_level.get(spell)
            if lvl is None:
                problems.append(
                    Problem(f"spells.{name}", f"{spell!r} is not on the {state.class_index} list")
                )
            elif not low <= lvl <= high:
                problems.append(Problem(f"spells.{name}", f"{spell} is a level-{lvl} spell"))

    pick("cantrips", cantrips, 0, 0, range(rules.cantrips, rules.cantrips + 1))
    if rules.prepares and rules.prepared is None:
        return [Problem("ability_scores", "set ability scores first: they decide how many spells")]
    if not rules.prepares:  # known casters
        pick("spells", known, 1, rules.max_level, range(rules.known, rules.known + 1))
        if prepared:
            problems.append(Problem("spells.prepared", "this class does not prepare spells"))
    elif rules.spellbook:
        pick("spells", known, 1, rules.max_level, range(rules.known, rules.known + 1))
        pick("prepared", prepared, 1, rules.max_level, range(1, (rules.prepared or 0) + 1))
        outside = [s for s in prepared if s not in known]
        if outside:
            problems.append(Problem("spells.prepared", f"{outside[0]} is not in the spellbook"))
    else:
        if known:
            problems.append(
                Problem("spells.spells", "this class prepares from its whole list: use prepared")
            )
        pick("prepared", prepared, 1, rules.max_level, range(1, (rules.prepared or 0) + 1))
    return problems


# --------------------------------------------------------------------------------------------
# The whole state
# --------------------------------------------------------------------------------------------
def check_race(cat: Catalogue, race: str, subrace: str | None) -> list[Problem]:
    if not cat.has("races", race):
        return [Problem("race", f"unknown race {race!r}")]
    subs = [s["index"] for s in cat.subraces_of(race)]
    if subrace is None:
        return [Problem("subrace", f"choose a subrace: {', '.join(subs)}")] if subs else []
    if subrace not in subs:
        allowed = ", ".join(subs) or "none"
        return [Problem("subrace", f"{subrace!r} is not a subrace of {race} (allowed: {allowed})")]
    return []


def check_class(cat: Catalogue, class_index: str, subclass: str | None) -> list[Problem]:
    if not cat.has("classes", class_index):
        return [Problem("class", f"unknown class {class_index!r}")]
    subs = [s["index"] for s in cat.subclasses_of(class_index)]
    at = cat.subclass_level_of(class_index)
    if subclass is None:
        if at is not None and at <= LEVEL:
            return [
                Problem("subclass", f"a {class_index} chooses one at level 1: {', '.join(subs)}")
            ]
        return []
    if subclass not in subs:
        return [Problem("subclass", f"{subclass!r} is not a {class_index} subclass")]
    if at is None or at > LEVEL:
        return [Problem("subclass", f"a {class_index} chooses a subclass at level {at}, not 1")]
    return []


def problems(cat: Catalogue, state: CreationState) -> list[Problem]:
    """Everything that stops the draft from being finalized, in wizard order."""
    out: list[Problem] = []
    if not state.race:
        out.append(Problem("race", "missing"))
    else:
        out += check_race(cat, state.race, state.subrace)
    if not state.class_index:
        out.append(Problem("class", "missing"))
    else:
        out += check_class(cat, state.class_index, state.subclass)
    if not state.background:
        out.append(Problem("background", "missing"))
    elif not cat.has("backgrounds", state.background):
        out.append(Problem("background", f"unknown background {state.background!r}"))
    if not state.base_scores:
        out.append(Problem("ability_scores", "missing"))
    for choice in open_choices(cat, state):
        keys = state.selections.get(choice.id)
        if keys is None:
            out.append(Problem(f"choices.{choice.id}", f"missing: {choice.desc}"))
        else:
            out += check_selection(cat, state, choice, keys)
    if state.class_index and cat.has("classes", state.class_index):
        rules = spell_rules(cat, state.class_index, LEVEL, final_scores(cat, state))
        if rules is not None and not state.spells:
            out.append(Problem("spells", "missing"))
        elif state.spells or rules is not None:
            out += check_spells(cat, state, state.spells)
    if not state.details.get("name"):
        out.append(Problem("details.name", "missing"))
    alignment = state.details.get("alignment")
    if not alignment:
        out.append(Problem("details.alignment", "missing"))
    elif not cat.has("alignments", alignment):
        out.append(Problem("details.alignment", f"unknown alignment {alignment!r}"))
    return out


# --------------------------------------------------------------------------------------------
# Equipment and the sheet
# --------------------------------------------------------------------------------------------
def starting_inventory(cat: Catalogue, state: CreationState) -> list[dict[str, Any]]:
    """Fixed and chosen starting equipment; the best armour and a shield are equipped."""
    counts: dict[str, int] = {}
    for doc in (
        _maybe(cat, "classes", state.class_index),
        _maybe(cat, "backgrounds", state.background),
    ):
        for entry in (doc or {}).get("starting_equipment", []):
            index = entry["equipment"]["index"]
            counts[index] = counts.get(index, 0) + entry["quantity"]
    for choice in open_choices(cat, state):
        if choice.type != "equipment":
            continue
        for option in _picked(choice, state.selections.get(choice.id, [])):
            for index, quantity in option.items:
                counts[index] = counts.get(index, 0) + quantity
    inventory = [
        {"index": i, "name": cat.name("equipment", i), "quantity": q, "equipped": False}
        for i, q in counts.items()
        if cat.has("equipment", i)
    ]
    auto_equip(cat, state, inventory)
    return inventory


def auto_equip(cat: Catalogue, state: CreationState, inventory: list[dict[str, Any]]) -> None:
    profs = proficiencies(cat, state)
    scores = final_scores(cat, state) or {}
    best, best_ac = None, None
    for item in inventory:
        doc = cat.get("equipment", item["index"])
        if doc.get("armor_category") in BODY_ARMOR and is_proficient_with(cat, profs, doc["index"]):
            ac = _armor_ac(doc, modifier(scores.get("dex", 10)))
            if best_ac is None or ac > best_ac:
                best, best_ac = item, ac
    docs = traits(cat, state) + class_features(cat, state)
    unarmored = armor_class(cat, docs, [], scores)["value"] if scores else 0
    if best is not None and (best_ac or 0) >= unarmored:
        best["equipped"] = True
    for item in inventory:
        doc = cat.get("equipment", item["index"])
        if doc.get("armor_category") == "Shield" and is_proficient_with(cat, profs, doc["index"]):
            item["equipped"] = True
            break


def _armor_ac(doc: Doc, dex_mod: int) -> int:
    ac = doc["armor_class"]
    bonus = 0
    if ac.get("dex_bonus"):
        bonus = dex_mod if ac.get("max_bonus") is None else min(dex_mod, ac["max_bonus"])
    return int(ac["base"]) + bonus


def armor_class(
    cat: Catalogue, docs: list[Doc], inventory: list[dict[str, Any]], scores: dict[str, int]
) -> dict[str, Any]:
    """AC from equipped armour and shield, else the best unarmoured defence among the traits and
    features in ``docs``."""
    mods = {a: modifier(v) for a, v in scores.items()}
    equipped = [cat.get("equipment", i["index"]) for i in inventory if i.get("equipped")]
    armor = next((d for d in equipped if d.get("armor_category") in BODY_ARMOR), None)
    shield = next((d for d in equipped if d.get("armor_category") == "Shield"), None)
    shield_bonus = int(shield["armor_class"]["base"]) if shield else 0
    notes: list[str] = []
    if armor:
        value, source = _armor_ac(armor, mods["dex"]), armor["name"]
        if armor.get("str_minimum") and scores.get("str", 0) < armor["str_minimum"]:
            notes.append(f"{armor['name']} needs Strength {armor['str_minimum']}")
    else:
        value, source = 10 + mods["dex"], "unarmored"
        for doc in docs:
            formula = _unarmored_formula(cat, doc)
            if formula is None:
                continue
            base, abilities, shield_ok = formula
            if shield and not shield_ok:
                continue
            candidate = base + sum(mods[a] for a in abilities)
            if candidate > value:
                value, source = candidate, doc["name"]
    if shield:
        source += f" + {shield['name']}"
    return {"value": value + shield_bonus, "source": source, "notes": notes}


def describe_choice(choice: Choice, selection: list[str] | None) -> dict[str, Any]:
    out = choice.as_dict()
    out["selected"] = selection
    return out


__all__ = [
    "CreationState",
    "Problem",
    "SrdNotFound",
    "check_class",
    "check_race",
    "check_selection",
    "check_spells",
    "open_choices",
    "problems",
    "prune_selections",
    "spell_rules",
    "starting_inventory",
]
