from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hero_foundry.rules import abilities
from hero_foundry.rules.abilities import AbilityScoreError, validate_scores

ABILITIES = ["str", "dex", "con", "int", "wis", "cha"]
scores_strategy = st.fixed_dictionaries({a: st.integers(3, 20) for a in ABILITIES})


@pytest.mark.parametrize(
    ("score", "mod"), [(1, -5), (3, -4), (8, -1), (9, -1), (10, 0), (11, 0), (15, 2), (20, 5)]
)
def test_modifier_follows_the_srd_table(score: int, mod: int) -> None:
    assert abilities.modifier(score) == mod


@given(scores_strategy)
def test_any_accepted_point_buy_costs_at_most_27_and_stays_in_range(scores: dict) -> None:
    try:
        accepted = validate_scores("point_buy", scores, ABILITIES)
    except AbilityScoreError:
        in_range = all(8 <= v <= 15 for v in scores.values())
        assert not in_range or abilities.point_buy_cost(scores) > 27
        return
    assert abilities.point_buy_cost(accepted) <= 27
    assert all(8 <= v <= 15 for v in accepted.values())


def test_point_buy_overspent_names_the_budget() -> None:
    scores = dict.fromkeys(ABILITIES, 15)
    with pytest.raises(AbilityScoreError, match="costs 54 points; the budget is 27"):
        validate_scores("point_buy", scores, ABILITIES)


def test_point_buy_exactly_27_is_accepted() -> None:
    scores = {"str": 15, "dex": 15, "con": 15, "int": 8, "wis": 8, "cha": 8}
    assert validate_scores("point_buy", scores, ABILITIES) == scores


def test_point_buy_out_of_range_names_the_ability() -> None:
    with pytest.raises(AbilityScoreError) as err:
        validate_scores("point_buy", {**dict.fromkeys(ABILITIES, 8), "wis": 16}, ABILITIES)
    assert err.value.field == "scores.wis"


@given(st.permutations(list(abilities.STANDARD_ARRAY)))
def test_every_permutation_of_the_standard_array_is_accepted(values: list[int]) -> None:
    scores = dict(zip(ABILITIES, values, strict=True))
    assert validate_scores("standard_array", scores, ABILITIES) == scores


def test_standard_array_with_a_changed_value_is_refused() -> None:
    scores = dict(zip(ABILITIES, [15, 15, 13, 12, 10, 8], strict=True))
    with pytest.raises(AbilityScoreError, match="standard array"):
        validate_scores("standard_array", scores, ABILITIES)


def test_missing_and_unknown_abilities_are_named() -> None:
    partial = dict(zip(ABILITIES[:5], [15, 14, 13, 12, 10], strict=True))
    with pytest.raises(AbilityScoreError) as err:
        validate_scores("standard_array", partial, ABILITIES)
    assert err.value.field == "scores.cha"
    with pytest.raises(AbilityScoreError) as err:
        validate_scores("standard_array", {**partial, "cha": 8, "luck": 3}, ABILITIES)
    assert err.value.field == "scores.luck"


@given(st.lists(st.lists(st.integers(1, 6), min_size=4, max_size=4), min_size=6, max_size=6))
def test_rolled_scores_must_be_the_rolled_totals(rolled: list[list[int]]) -> None:
    totals = [abilities.rolled_total(d) for d in rolled]
    assert all(3 <= t <= 18 for t in totals)
    scores = dict(zip(ABILITIES, totals, strict=True))
    assert validate_scores("rolled", scores, ABILITIES, rolled) == scores
    cheated = {**scores, "str": 19}
    with pytest.raises(AbilityScoreError, match="rolled total"):
        validate_scores("rolled", cheated, ABILITIES, rolled)


def test_rolled_without_dice_asks_to_roll_first() -> None:
    with pytest.raises(AbilityScoreError, match="roll the dice first"):
        validate_scores("rolled", dict.fromkeys(ABILITIES, 10), ABILITIES, None)


def test_roll_is_four_d6_six_times_and_drops_the_lowest() -> None:
    rolled = abilities.roll_4d6_drop_lowest()
    assert len(rolled) == 6
    assert all(len(d) == 4 and all(1 <= x <= 6 for x in d) for d in rolled)
    assert abilities.rolled_total([1, 6, 6, 6]) == 18
    assert abilities.rolled_total([2, 2, 3, 1]) == 7
