"""The creation rules against the SRD tables, for every race x class pair and edge cases."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hero_foundry.rules import creation
from hero_foundry.rules.abilities import POINT_BUY_BUDGET, POINT_BUY_COST, modifier
from hero_foundry.rules.creation import CreationState
from hero_foundry.rules.sheet import derive
from hero_foundry.srd import Catalogue, get_catalogue
from tests.builders import build, pick_spells

CAT = get_catalogue()
PAIRS = list(itertools.product(CAT.tables["races"], CAT.tables["classes"]))


def _by_id(cat: Catalogue, state: CreationState, choice_id: str):
    return next(c for c in creation.open_choices(cat, state) if c.id == choice_id)


@pytest.mark.parametrize(("race", "klass"), PAIRS, ids=[f"{r}-{c}" for r, c in PAIRS])
def test_every_race_and_class_finalizes_and_matches_the_srd_tables(
    catalogue: Catalogue, race: str, klass: str
) -> None:
    state = build(catalogue, race, klass)
    assert creation.problems(catalogue, state) == []
    sheet = derive(catalogue, state)
    assert sheet is not None
    level_row = catalogue.class_level(klass, 1)
    class_doc = catalogue.get("classes", klass)
    race_doc = catalogue.get("races", race)
    subrace_doc = catalogue.get("subraces", state.subrace) if state.subrace else {}

    # Ability scores: base + race + subrace bonuses (+ chosen ones), capped at 20.
    expected = dict(state.base_scores or {})
    for bonus in race_doc["ability_bonuses"] + subrace_doc.get("ability_bonuses", []):
        expected[bonus["ability_score"]["index"]] += bonus["bonus"]
    for key in state.selections.get("race:ability-bonuses", []):
        expected[key] += 1
    for ability, value in expected.items():
        assert sheet["abilities"][ability]["score"] == min(20, value)
        assert sheet["abilities"][ability]["modifier"] == modifier(min(20, value))
    mods = {a: v["modifier"] for a, v in sheet["abilities"].items()}

    assert sheet["proficiency_bonus"] == level_row["prof_bonus"] == 2
    # Hit points: the hit die's maximum + CON modifier, + 1 for Dwarven Toughness /
    # Draconic Resilience (the SRD's "hit point maximum increases by 1").
    toughness = int(state.subrace == "hill-dwarf") + int(state.subclass == "draconic")
    assert sheet["hit_points"]["max"] == class_doc["hit_die"] + mods["con"] + toughness
    assert sheet["speed"] == race_doc["speed"]
    assert sheet["initiative"] == mods["dex"]

    saves = {s["index"] for s in class_doc["saving_throws"]}
    for ability, save in sheet["saving_throws"].items():
        assert save["proficient"] == (ability in saves)
        assert save["bonus"] == mods[ability] + (2 if ability in saves else 0)

    assert len(sheet["skills"]) == 18
    skill_choices = [
        c for c in creation.open_choices(catalogue, state) if c.type == "proficiencies"
    ]
    chosen_skills = {
        k for c in skill_choices for k in state.selections[c.id] if k.startswith("skill-")
    }
    granted_skills = {
        p for p in creation.granted_proficiencies(catalogue, state) if p.startswith("skill-")
    }
    proficient = {f"skill-{k}" for k, v in sheet["skills"].items() if v["proficient"]}
    assert proficient == chosen_skills | granted_skills
    assert not chosen_skills & granted_skills, "a chosen skill duplicates a granted one"
    for skill in sheet["skills"].values():
        factor = 2 if skill["expertise"] else int(skill["proficient"])
        assert skill["bonus"] == mods[skill["ability"]] + factor * 2
    assert sheet["passive_perception"] == 10 + sheet["skills"]["perception"]["bonus"]

    spells_table = level_row.get("spellcasting")
    if class_doc.get("spellcasting", {}).get("level") == 1:
        assert (
            sheet["spellcasting"]["slots"]
            == {
                k.rsplit("_", 1)[1]: v
                for k, v in spells_table.items()
                if k.startswith("spell_slots_level_") and v
            }
            or klass == "warlock"
        )
        (casting,) = sheet["spellcasting"]["classes"]
        ability = class_doc["spellcasting"]["spellcasting_ability"]["index"]
        assert casting["save_dc"] == 8 + 2 + mods[ability]
        assert casting["attack_bonus"] == 2 + mods[ability]
        assert len(casting["cantrips"]) == spells_table["cantrips_known"]
    else:
        assert sheet["spellcasting"] is None

    class_features = {f["index"] for f in level_row["features"]}
    race_traits = {t["index"] for t in race_doc["traits"]}
    got = {f["index"] for f in sheet["features"]}
    assert class_features <= got
    assert race_traits <= got
    assert all(f["desc"] for f in sheet["features"])
    languages = {lang["index"] for lang in sheet["languages"]}
    assert {lang["index"] for lang in race_doc["languages"]} <= languages


def hill_dwarf_cleric(cat: Catalogue) -> CreationState:
    return build(cat, "dwarf", "cleric", subrace="hill-dwarf")


def test_hill_dwarf_life_cleric_in_chain_mail_and_shield(catalogue: Catalogue) -> None:
    state = hill_dwarf_cleric(catalogue)
    state.base_scores = {"str": 14, "dex": 8, "con": 13, "int": 10, "wis": 15, "cha": 12}
    state.selections["class:equipment:1"] = ["chain-mail"]
    sheet = derive(catalogue, state)
    assert sheet is not None
    assert sheet["abilities"]["con"]["score"] == 15  # +2 dwarf
    assert sheet["abilities"]["wis"]["score"] == 16  # +1 hill dwarf
    assert sheet["hit_points"]["max"] == 8 + 2 + 1  # d8 + CON + Dwarven Toughness
    assert sheet["armor_class"]["value"] == 16 + 2  # chain mail + shield
    assert sheet["speed"] == 25
    (casting,) = sheet["spellcasting"]["classes"]
    assert casting["save_dc"] == 13
    assert casting["always_prepared"] == ["bless", "cure-wounds"]
    assert "heavy-armor" in {p["index"] for p in sheet["proficiencies"]["Armor"]}


def test_chain_mail_requires_heavy_armor_proficiency(catalogue: Catalogue) -> None:
    # A fighter with the Champion removed cannot be used: every SRD cleric is Life, which grants
    # heavy armour; so check the prerequisite on a human cleric's warhammer instead.
    state = build(catalogue, "human", "cleric")
    choice = _by_id(catalogue, state, "class:equipment:0")
    problems = creation.check_selection(catalogue, state, choice, ["warhammer"])
    assert problems and "requires proficiency" in problems[0].reason
    dwarf = hill_dwarf_cleric(catalogue)
    assert creation.check_selection(catalogue, dwarf, choice, ["warhammer"]) == []


def test_skill_not_offered_and_duplicate_skill_are_refused(catalogue: Catalogue) -> None:
    state = hill_dwarf_cleric(catalogue)
    choice = _by_id(catalogue, state, "class:proficiencies:0")
    assert "not one of this choice's options" in (
        creation.check_selection(catalogue, state, choice, ["skill-stealth", "skill-history"])[
            0
        ].reason
    )
    # Acolyte grants Religion: choosing it again is a duplicate.
    dup = creation.check_selection(catalogue, state, choice, ["skill-religion", "skill-history"])
    assert dup[0].reason == "skill-religion is already granted by another source"
    wrong_count = creation.check_selection(catalogue, state, choice, ["skill-history"])
    assert wrong_count[0].reason == "choose exactly 2 (got 1)"


def test_a_skill_chosen_twice_across_choices_is_refused(catalogue: Catalogue) -> None:
    state = build(catalogue, "half-elf", "bard")
    versatility = _by_id(catalogue, state, "trait:skill-versatility")
    bard_pick = state.selections["class:proficiencies:0"][0]
    taken = set(state.selections[versatility.id]) | set(state.selections["class:proficiencies:0"])
    other = next(o.key for o in versatility.options if o.key not in taken)
    problems = creation.check_selection(catalogue, state, versatility, [bard_pick, other])
    assert any("already chosen in another choice" in p.reason for p in problems)


def test_monk_barbarian_and_draconic_sorcerer_unarmored_defence(catalogue: Catalogue) -> None:
    monk = build(catalogue, "human", "monk")
    sheet = derive(catalogue, monk, [])
    mods = {a: v["modifier"] for a, v in sheet["abilities"].items()}
    assert sheet["armor_class"]["value"] == 10 + mods["dex"] + mods["wis"]

    barbarian = build(catalogue, "half-orc", "barbarian")
    shield = [{"index": "shield", "name": "Shield", "quantity": 1, "equipped": True}]
    sheet = derive(catalogue, barbarian, shield)
    mods = {a: v["modifier"] for a, v in sheet["abilities"].items()}
    assert sheet["armor_class"]["value"] == 10 + mods["dex"] + mods["con"] + 2

    sorcerer = build(catalogue, "dragonborn", "sorcerer")
    sheet = derive(catalogue, sorcerer, [])
    mods = {a: v["modifier"] for a, v in sheet["abilities"].items()}
    assert sheet["armor_class"]["value"] == 13 + mods["dex"]


def test_medium_armor_caps_the_dexterity_bonus(catalogue: Catalogue) -> None:
    state = build(catalogue, "elf", "ranger")
    state.base_scores = {"str": 12, "dex": 15, "con": 14, "int": 10, "wis": 13, "cha": 8}
    worn = [{"index": "scale-mail", "name": "Scale Mail", "quantity": 1, "equipped": True}]
    sheet = derive(catalogue, state, worn)
    assert sheet["abilities"]["dex"]["modifier"] == 3  # 15 + 2 (elf)
    assert sheet["armor_class"]["value"] == 14 + 2  # scale mail, Dex bonus capped at 2


def test_subclass_rules(catalogue: Catalogue) -> None:
    assert creation.check_class(catalogue, "cleric", None)[0].field == "subclass"
    assert creation.check_class(catalogue, "cleric", "life") == []
    assert "level 3" in creation.check_class(catalogue, "fighter", "champion")[0].reason
    assert creation.check_class(catalogue, "fighter", "life")[0].reason == (
        "'life' is not a fighter subclass"
    )
    assert creation.check_class(catalogue, "paladin", None) == []
    assert creation.check_class(catalogue, "necromancer", None)[0].field == "class"


def test_race_needs_its_subrace(catalogue: Catalogue) -> None:
    assert creation.check_race(catalogue, "dwarf", None)[0].field == "subrace"
    assert creation.check_race(catalogue, "dwarf", "high-elf")[0].field == "subrace"
    assert creation.check_race(catalogue, "human", None) == []
    assert creation.check_race(catalogue, "orc", None)[0].field == "race"


def test_changing_class_drops_the_old_class_choices(catalogue: Catalogue) -> None:
    state = build(catalogue, "human", "fighter")
    assert "feature:fighter-fighting-style" in state.selections
    state.class_index = "wizard"
    creation.forget(state, "class")
    creation.prune_selections(catalogue, state)
    assert not any(k.startswith(("class:", "feature:")) for k in state.selections)
    assert "race:languages" in state.selections  # the race's choices stay


def test_stale_selections_are_pruned(catalogue: Catalogue) -> None:
    state = build(catalogue, "human", "fighter")
    state.class_index = "wizard"  # without forgetting: fighter skills are not wizard options
    creation.prune_selections(catalogue, state)
    assert "class:proficiencies:0" not in state.selections
    assert "feature:fighter-fighting-style" not in state.selections


def test_fighter_bundle_opens_its_sub_choice(catalogue: Catalogue) -> None:
    state = build(catalogue, "human", "fighter")
    state.selections["class:equipment:1"] = ["a"]  # a martial weapon and a shield
    state.selections.pop("class:equipment:1/a/0", None)
    ids = [c.id for c in creation.open_choices(catalogue, state)]
    assert "class:equipment:1/a/0" in ids
    problems = creation.problems(catalogue, state)
    assert [p.field for p in problems] == ["choices.class:equipment:1/a/0"]
    state.selections["class:equipment:1/a/0"] = ["longsword"]
    assert creation.problems(catalogue, state) == []
    inventory = {i["index"]: i["quantity"] for i in creation.starting_inventory(catalogue, state)}
    assert inventory["longsword"] >= 1 and inventory["shield"] == 1


def test_spell_counts_lists_and_levels_are_enforced(catalogue: Catalogue) -> None:
    state = build(catalogue, "elf", "wizard")
    good = dict(state.spells)
    assert creation.check_spells(catalogue, state, good) == []
    rules = creation.spell_rules(catalogue, "wizard", 1, creation.final_scores(catalogue, state))
    assert rules is not None and rules.spellbook and rules.known == 6  # "six 1st-level spells"
    too_few = {**good, "cantrips": good["cantrips"][:1]}
    assert creation.check_spells(catalogue, state, too_few)[0].field == "spells.cantrips"
    off_list = {**good, "cantrips": [*good["cantrips"][:-1], "sacred-flame"]}
    assert "not on the wizard list" in creation.check_spells(catalogue, state, off_list)[0].reason
    fireball = {**good, "spells": [*good["spells"][:-1], "fireball"]}
    assert "level-3 spell" in creation.check_spells(catalogue, state, fireball)[0].reason
    outside = {**good, "prepared": ["shield"] if "shield" not in good["spells"] else ["sleep"]}
    assert any(
        "not in the spellbook" in p.reason for p in creation.check_spells(catalogue, state, outside)
    )
    fighter = build(catalogue, "human", "fighter")
    assert creation.check_spells(catalogue, fighter, good)[0].field == "spells"


def test_prepared_spells_follow_the_ability_modifier(catalogue: Catalogue) -> None:
    state = hill_dwarf_cleric(catalogue)
    rules = creation.spell_rules(catalogue, "cleric", 1, creation.final_scores(catalogue, state))
    wis = creation.final_scores(catalogue, state)["wis"]
    assert rules is not None and rules.prepared == max(1, modifier(wis) + 1)
    low = creation.spell_rules(catalogue, "cleric", 1, {"wis": 6})
    assert low is not None and low.prepared == 1  # WIS -2 + level 1, but at least one spell


def test_half_elf_chooses_two_ability_bonuses(catalogue: Catalogue) -> None:
    state = build(catalogue, "half-elf", "rogue")
    chosen = state.selections["race:ability-bonuses"]
    assert len(chosen) == 2
    bonuses = creation.racial_bonuses(catalogue, state)
    assert bonuses["cha"] == 2
    for ability in chosen:
        assert bonuses[ability] == 1


def test_rogue_expertise_needs_the_skill_first(catalogue: Catalogue) -> None:
    state = build(catalogue, "halfling", "rogue")
    sub = _by_id(catalogue, state, "feature:rogue-expertise-1/a")
    have = {k for k in state.selections["class:proficiencies:0"]}
    lacking = next(o.key for o in sub.options if o.key not in have and o.key.startswith("skill-"))
    problems = creation.check_selection(catalogue, state, sub, [sorted(have)[0], lacking])
    assert problems and "expertise needs proficiency" in problems[0].reason
    sheet = derive(catalogue, state)
    experts = [k for k, v in sheet["skills"].items() if v["expertise"]]
    assert len(experts) == 2
    for key in experts:
        skill = sheet["skills"][key]
        assert skill["bonus"] == sheet["abilities"][skill["ability"]]["modifier"] + 4


point_buys = st.lists(st.sampled_from(sorted(POINT_BUY_COST)), min_size=6, max_size=6).filter(
    lambda values: sum(POINT_BUY_COST[v] for v in values) <= POINT_BUY_BUDGET
)


@settings(max_examples=60, deadline=None)
@given(
    race=st.sampled_from(sorted(CAT.tables["races"])),
    klass=st.sampled_from(sorted(CAT.tables["classes"])),
    values=point_buys,
)
def test_any_legal_point_buy_character_finalizes_with_consistent_numbers(
    race: str, klass: str, values: list[int]
) -> None:
    state = build(CAT, race, klass)
    state.ability_method = "point_buy"
    state.base_scores = dict(zip(CAT.tables["ability_scores"], values, strict=True))
    state.spells = pick_spells(CAT, state)  # the prepared count follows the new scores
    assert creation.problems(CAT, state) == []
    sheet = derive(CAT, state)
    assert sheet is not None
    for entry in sheet["abilities"].values():
        assert 8 <= entry["base"] <= 15
        assert entry["score"] == min(20, entry["base"] + entry["racial_bonus"])
        assert entry["modifier"] == modifier(entry["score"])
    hit_die = CAT.get("classes", klass)["hit_die"]
    con = sheet["abilities"]["con"]["modifier"]
    # +1 each for Dwarven Toughness and Draconic Resilience (a hill-dwarf draconic sorcerer: +2)
    assert sheet["hit_points"]["max"] - (hit_die + con) in (0, 1, 2)
    assert sheet["armor_class"]["value"] >= 10 + min(0, sheet["abilities"]["dex"]["modifier"])
    if sheet["spellcasting"]:
        (casting,) = sheet["spellcasting"]["classes"]
        mod = sheet["abilities"][casting["ability"]]["modifier"]
        assert casting["save_dc"] == 8 + 2 + mod
        if casting["max_prepared"] is not None:
            assert 1 <= len(casting["prepared"]) <= casting["max_prepared"]
