"""Levelling every SRD class 1 -> 20 against the SRD tables, and the illegal choices."""

from __future__ import annotations

import pytest

from hero_foundry.rules import levelling
from hero_foundry.rules.abilities import modifier
from hero_foundry.rules.levelling import LevelUpState
from hero_foundry.rules.sheet import derive
from hero_foundry.srd import Catalogue, get_catalogue
from tests.builders import build, level_up

CAT = get_catalogue()
RACE_FOR = {"paladin": "half-orc", "sorcerer": "tiefling", "wizard": "gnome"}


@pytest.mark.parametrize("klass", list(CAT.tables["classes"]))
def test_every_class_levels_from_1_to_20_matching_the_srd_tables(
    catalogue: Catalogue, klass: str
) -> None:
    state = build(catalogue, RACE_FOR.get(klass, "human"), klass)
    hit_die = catalogue.get("classes", klass)["hit_die"]
    seen: set[str] = set()
    for level in range(1, 21):
        if level > 1:
            state = level_up(catalogue, state, klass)
        sheet = derive(catalogue, state)
        assert sheet is not None
        row = catalogue.class_level(klass, level)
        assert sheet["level"] == level
        assert sheet["classes"][0]["level"] == level
        assert sheet["proficiency_bonus"] == row["prof_bonus"]
        features = {f["index"] for f in sheet["features"] if f["source"] == "class"}
        row_features = {f["index"] for f in row["features"]}
        assert row_features <= features, row_features - features
        seen |= row_features
        # Hit points: the first die's maximum, then the fixed average per level, each + CON.
        con = sheet["abilities"]["con"]["modifier"]
        bonus = level if klass == "sorcerer" else 0  # Draconic Resilience, per sorcerer level
        expected = hit_die + (level - 1) * (hit_die // 2 + 1) + level * con + bonus
        assert sheet["hit_points"]["max"] == expected
        assert sheet["hit_points"]["hit_dice"] == f"{level}d{hit_die}"
        casting = sheet["spellcasting"]
        slots = {
            k.rsplit("_", 1)[1]: v
            for k, v in row.get("spellcasting", {}).items()
            if k.startswith("spell_slots_level_") and v
        }
        if klass == "warlock":
            top = max(slots.items())
            assert casting["pact_magic"] == {"level": int(top[0]), "slots": top[1]}
        elif slots:
            assert casting["slots"] == slots
        else:
            assert casting is None or casting["slots"] == {}
        if casting and casting["classes"]:
            entry = casting["classes"][0]
            table = row["spellcasting"]
            assert len(entry["cantrips"]) == table.get("cantrips_known", 0)
            if "spells_known" in table:
                # College of Lore's Additional Magical Secrets (bard 6): two spells that do
                # not count against the spells known.
                extra = 2 if klass == "bard" and level >= 6 else 0
                assert len(entry["spells_known"]) == table["spells_known"] + extra
        for ability in sheet["abilities"].values():
            assert ability["score"] <= 20
    subclass = sheet["classes"][0]["subclass"]
    assert subclass == catalogue.subclasses_of(klass)[0]["index"]
    assert len(seen) >= 10


def test_multiclassing_needs_the_prerequisites(catalogue: Catalogue) -> None:
    fighter = build(catalogue, "human", "fighter")
    int_score = levelling.scores(catalogue, fighter, levelling.progress(catalogue, fighter))["int"]
    problems = levelling.check_start(catalogue, fighter, "wizard")
    if int_score < 13:
        assert problems and "multiclassing needs INT 13" in problems[0].reason
    fighter.base_scores = {"str": 15, "dex": 12, "con": 14, "int": 13, "wis": 10, "cha": 8}
    assert levelling.check_start(catalogue, fighter, "wizard") == []
    fighter.base_scores = {"str": 8, "dex": 11, "con": 14, "int": 15, "wis": 13, "cha": 10}
    # The fighter's own prerequisite (STR 13 or DEX 13) must hold too.
    problems = levelling.check_start(catalogue, fighter, "wizard")
    assert any("STR 13 or DEX 13" in p.reason for p in problems)


def test_a_fighter_wizard_gains_spellcasting_and_a_spellbook(catalogue: Catalogue) -> None:
    state = build(catalogue, "human", "fighter")
    state.base_scores = {"str": 15, "dex": 12, "con": 14, "int": 13, "wis": 10, "cha": 8}
    state = level_up(catalogue, state, "fighter")
    state = level_up(catalogue, state, "wizard")
    sheet = derive(catalogue, state)
    assert sheet["level"] == 3
    assert [(c["index"], c["level"]) for c in sheet["classes"]] == [("fighter", 2), ("wizard", 1)]
    assert sheet["hit_points"]["hit_dice"] == "2d10 + 1d6"
    (wizard,) = sheet["spellcasting"]["classes"]
    assert len(wizard["cantrips"]) == 3 and len(wizard["spells_known"]) == 6
    assert sheet["spellcasting"]["slots"] == {"1": 2}
    assert sheet["saving_throws"]["str"]["proficient"]  # saves come from the first class only
    assert not sheet["saving_throws"]["int"]["proficient"]


def test_multiclass_spell_slots_add_caster_levels(catalogue: Catalogue) -> None:
    state = build(catalogue, "half-elf", "paladin")
    state.base_scores = {"str": 15, "dex": 10, "con": 13, "int": 8, "wis": 12, "cha": 14}
    for _ in range(3):
        state = level_up(catalogue, state, "paladin")
    state = level_up(catalogue, state, "sorcerer")
    sheet = derive(catalogue, state)
    # Paladin 4 (half: 2) + sorcerer 1 (full: 1) = caster level 3: 4 first- and 2 second-level.
    assert sheet["spellcasting"]["slots"] == {"1": 4, "2": 2}


def test_illegal_level_up_choices(catalogue: Catalogue) -> None:
    state = build(catalogue, "human", "fighter")
    prog = levelling.progress(catalogue, state)
    lu = LevelUpState(class_index="fighter", from_level=1, hp_method="average")
    problem = levelling.check_subclass(catalogue, prog, lu, "champion")[0]
    assert problem.reason == "a fighter chooses a subclass at level 3, not 2"
    assert levelling.check_subclass(catalogue, prog, lu, "life")[0].reason == (
        "'life' is not a fighter subclass"
    )
    for _ in range(2):
        state = level_up(catalogue, state, "fighter")
    prog = levelling.progress(catalogue, state)
    lu = LevelUpState(class_index="fighter", from_level=3, hp_method="average")
    now = levelling.scores(catalogue, state, prog)
    top = max(now, key=now.get)
    over = levelling.check_improvement(catalogue, state, prog, lu, {top: 2}, None)
    if now[top] + 2 > 20:
        assert "the maximum is 20" in over[0].reason
    assert levelling.check_improvement(catalogue, state, prog, lu, {"str": 3}, None)
    assert levelling.check_improvement(catalogue, state, prog, lu, {"str": 1}, None)
    assert levelling.check_improvement(catalogue, state, prog, lu, None, "toughness")
    assert levelling.problems(catalogue, state, lu)[0].field == "ability_scores"
    state.base_scores = dict.fromkeys(state.base_scores, 19)
    state.base_scores["str"] = 19
    prog = levelling.progress(catalogue, state)
    over = levelling.check_improvement(catalogue, state, prog, lu, {"str": 2}, None)
    assert over and "the maximum is 20" in over[0].reason


def test_a_spell_not_on_the_class_list_is_refused(catalogue: Catalogue) -> None:
    state = build(catalogue, "human", "sorcerer")
    prog = levelling.progress(catalogue, state)
    lu = LevelUpState(class_index="sorcerer", from_level=1, hp_method="average")
    problems = levelling.check_level_spells(
        catalogue, state, prog, lu, {"spells": ["cure-wounds"], "cantrips": []}
    )
    assert any("not on the sorcerer list" in p.reason for p in problems)
    problems = levelling.check_level_spells(
        catalogue, state, prog, lu, {"spells": ["fireball"], "cantrips": []}
    )
    assert any("level-3 spell" in p.reason for p in problems)


def test_rolled_hit_points_use_the_roll(catalogue: Catalogue) -> None:
    state = build(catalogue, "human", "barbarian")
    lu = LevelUpState(class_index="barbarian", from_level=1, hp_method="rolled", hp_roll=12)
    after = levelling.commit(catalogue, state, lu)
    con = modifier(levelling.scores(catalogue, state, levelling.progress(catalogue, state))["con"])
    assert derive(catalogue, after)["hit_points"]["max"] == 12 + con + 12 + con


def test_level_20_is_the_last(catalogue: Catalogue) -> None:
    state = build(catalogue, "human", "fighter")
    for _ in range(19):
        state = level_up(catalogue, state, "fighter")
    assert levelling.check_start(catalogue, state, "fighter")[0].reason == (
        "the character is level 20, the highest level"
    )


def test_wizard_spellbook_grows_by_two_per_level(catalogue: Catalogue) -> None:
    state = build(catalogue, "gnome", "wizard")
    for _ in range(4):
        state = level_up(catalogue, state, "wizard")
    (wizard,) = derive(catalogue, state)["spellcasting"]["classes"]
    assert len(wizard["spells_known"]) == 6 + 4 * 2
    assert len(wizard["prepared"]) == wizard["max_prepared"]
    assert set(wizard["prepared"]) <= set(wizard["spells_known"])


def test_land_druid_circle_spells_follow_the_chosen_terrain(catalogue: Catalogue) -> None:
    state = build(catalogue, "human", "druid")
    for _ in range(4):
        state = level_up(catalogue, state, "druid")
    sheet = derive(catalogue, state)
    terrain = next(
        f["index"] for f in sheet["features"] if f["index"].startswith("circle-of-the-land-")
    )
    expected = [
        entry["spell"]["index"]
        for entry in catalogue.get("subclasses", "land")["spells"]
        if any(p["index"] == terrain for p in entry["prerequisites"])
        and all(
            int(p["index"].rsplit("-", 1)[1]) <= 5
            for p in entry["prerequisites"]
            if p["type"] == "level"
        )
    ]
    (druid,) = sheet["spellcasting"]["classes"]
    assert druid["always_prepared"] == expected and len(expected) == 4
    assert {"circle-of-the-land", "circle-spells-1", "circle-spells-2"} <= {
        f["index"] for f in sheet["features"]
    }


def test_fiend_spells_expand_the_list_instead_of_being_always_prepared(
    catalogue: Catalogue,
) -> None:
    from hero_foundry.rules import creation

    state = build(catalogue, "tiefling", "warlock")
    assert state.subclass == "fiend"
    assert "burning-hands" not in {s["index"] for s in catalogue.class_spells("warlock")}
    picks = {**state.spells, "spells": ["burning-hands", state.spells["spells"][0]]}
    assert creation.check_spells(catalogue, state, picks) == []
    (warlock,) = derive(catalogue, state)["spellcasting"]["classes"]
    assert warlock["always_prepared"] == []
    assert warlock["expanded_list"] == ["burning-hands", "command"]
    life = build(catalogue, "dwarf", "cleric")
    (cleric,) = derive(catalogue, life)["spellcasting"]["classes"]
    assert cleric["always_prepared"] == ["bless", "cure-wounds"] and cleric["expanded_list"] == []
