"""Build valid level-1 characters from the SRD for tests: a player that always picks legally.

Choices are picked greedily from the options the rules module lists, skipping what the
character already has; every result is then checked by the rules module itself, so a builder
mistake shows up as a failing test, not as a silently easier one.
"""

from __future__ import annotations

from hero_foundry.rules import creation
from hero_foundry.rules.abilities import STANDARD_ARRAY
from hero_foundry.rules.creation import CreationState
from hero_foundry.srd import Catalogue
from hero_foundry.srd.choices import Choice


def ability_order(cat: Catalogue, class_index: str) -> list[str]:
    """Abilities in the order a player would favour them for this class."""
    klass = cat.get("classes", class_index)
    first = []
    if klass.get("spellcasting"):
        first.append(klass["spellcasting"]["spellcasting_ability"]["index"])
    first += [s["index"] for s in klass["saving_throws"]]
    rest = list(cat.tables["ability_scores"])
    return list(dict.fromkeys([*first, "con", "dex", *rest]))


def standard_scores(cat: Catalogue, class_index: str) -> dict[str, int]:
    return dict(zip(ability_order(cat, class_index), STANDARD_ARRAY, strict=True))


def pick(cat: Catalogue, state: CreationState, choice: Choice) -> list[str]:
    have = set(creation.proficiencies(cat, state)) | set(creation.languages(cat, state))
    keys: list[str] = []
    for option in choice.options:
        if len(keys) == choice.choose:
            break
        refs = {option.ref, *option.grants} - {None}
        if choice.type in ("proficiencies", "languages") and refs & have:
            continue
        if choice.type == "proficiency" and option.subchoices == () and not refs <= have:
            continue
        if option.prerequisites and not all(
            creation._prerequisite_met(cat, list(have), p) for p in option.prerequisites
        ):
            continue
        keys.append(option.key)
        have |= refs
    return keys


def answer_choices(cat: Catalogue, state: CreationState) -> None:
    """Answer every open choice, sub-choices included, until none is left."""
    for _ in range(50):
        pending = [c for c in creation.open_choices(cat, state) if c.id not in state.selections]
        if not pending:
            return
        state.selections[pending[0].id] = pick(cat, state, pending[0])
    raise AssertionError("choices never settled")


def pick_spells(cat: Catalogue, state: CreationState) -> dict[str, list[str]]:
    assert state.class_index
    rules = creation.spell_rules(cat, state.class_index, 1, creation.final_scores(cat, state))
    if rules is None:
        return {}
    spells = sorted(cat.class_spells(state.class_index), key=lambda s: s["index"])
    always = set(creation.always_prepared(cat, state))
    cantrips = [s["index"] for s in spells if s["level"] == 0][: rules.cantrips]
    leveled = [s["index"] for s in spells if 1 <= s["level"] <= rules.max_level]
    leveled = [s for s in leveled if s not in always]
    if not rules.prepares:
        return {"cantrips": cantrips, "spells": leveled[: rules.known], "prepared": []}
    if rules.spellbook:
        book = leveled[: rules.known]
        return {"cantrips": cantrips, "spells": book, "prepared": book[: rules.prepared]}
    return {"cantrips": cantrips, "spells": [], "prepared": leveled[: rules.prepared]}


def build(
    cat: Catalogue,
    race: str,
    class_index: str,
    *,
    subrace: str | None = None,
    background: str = "acolyte",
    name: str = "Tester",
) -> CreationState:
    subraces = [s["index"] for s in cat.subraces_of(race)]
    subclass_level = cat.subclass_level_of(class_index)
    subclass = None
    if subclass_level == 1:
        subclass = cat.subclasses_of(class_index)[0]["index"]
    state = CreationState(
        race=race,
        subrace=subrace or (subraces[0] if subraces else None),
        class_index=class_index,
        subclass=subclass,
        background=background,
        ability_method="standard_array",
        base_scores=standard_scores(cat, class_index),
    )
    answer_choices(cat, state)
    state.spells = pick_spells(cat, state)
    state.details = {"name": name, "alignment": "neutral-good"}
    return state


def _first_legal(cat, state, prog, lu, choice) -> list[str]:
    import itertools

    from hero_foundry.rules import levelling

    keys = [o.key for o in choice.options]
    have = set(levelling.all_proficiencies(cat, state, prog))
    if choice.type == "proficiency":
        keys.sort(key=lambda k: k not in have)
    for combo in itertools.islice(itertools.combinations(keys, choice.choose), 500):
        if not levelling.check_level_selection(cat, state, prog, lu, choice, list(combo)):
            return list(combo)
    raise AssertionError(f"no legal selection for {choice.id}")


def level_up(cat: Catalogue, state: CreationState, class_index: str) -> CreationState:
    """Gain one level in ``class_index`` with legal choices; return the new build."""
    from hero_foundry.rules import levelling
    from hero_foundry.rules.creation import always_prepared_spells, level_features
    from hero_foundry.rules.levelling import LevelUpState

    assert levelling.check_start(cat, state, class_index) == []
    prog = levelling.progress(cat, state)
    lu = LevelUpState(class_index=class_index, from_level=prog.level, hp_method="average")
    level = levelling.class_level_after(prog, lu)
    if cat.subclass_level_of(class_index) == level and not (
        class_index in prog.classes and prog.classes[class_index].subclass
    ):
        lu.subclass = cat.subclasses_of(class_index)[0]["index"]
    if levelling.grants_asi(cat, class_index, level):
        now = levelling.scores(cat, state, prog)
        order = ability_order(cat, state.class_index or class_index)
        target = next((a for a in order if now[a] <= 18), None)
        if target:
            lu.increases = {target: 2}
        else:
            lu.feat = "grappler" if now["str"] >= 13 else None
            if lu.feat is None:
                lu.increases = {a: 1 for a in order if now[a] <= 19}
                lu.increases = dict(list(lu.increases.items())[:2])
    for _ in range(20):
        pending = [
            c for c in levelling.level_choices(cat, state, prog, lu) if c.id not in lu.selections
        ]
        if not pending:
            break
        lu.selections[pending[0].id] = _first_legal(cat, state, prog, lu, pending[0])
    plan = levelling.spell_plan(cat, state, prog, lu)
    if plan is not None:
        cp = prog.classes.get(class_index)
        known = set(cp.cantrips + cp.spells) if cp else set()
        own = sorted(cat.class_spells(class_index), key=lambda s: s["index"])
        cantrips = [s["index"] for s in own if s["level"] == 0 and s["index"] not in known]
        leveled = [
            s["index"] for s in own if 1 <= s["level"] <= plan.max_level and s["index"] not in known
        ]
        spells = {
            "cantrips": cantrips[: plan.new_cantrips],
            "spells": leveled[: plan.new_spells],
            "prepared": [],
            "arcanum": [],
        }
        if plan.arcanum_level:
            spells["arcanum"] = [s["index"] for s in own if s["level"] == plan.arcanum_level][:1]
        if plan.prepares:
            owned = {d["index"] for d, _ in prog.features} | {
                d["index"]
                for d in level_features(
                    cat, class_index, level, levelling.subclass_after(prog, lu), lu.selections
                )
            }
            always = set(
                always_prepared_spells(cat, levelling.subclass_after(prog, lu), level, owned)
            )
            pool = (cp.spells if cp else []) + spells["spells"]
            if not plan.new_spells and not (cp and cp.spells):  # cleric, druid, paladin
                pool = [s["index"] for s in own if 1 <= s["level"] <= plan.max_level]
            pool = [s for s in pool if s not in always]
            spells["prepared"] = pool[: plan.max_prepared or 1]
        lu.spells = spells
    problems = levelling.problems(cat, state, lu)
    assert problems == [], problems
    return levelling.commit(cat, state, lu)
