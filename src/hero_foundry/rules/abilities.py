"""Ability scores: generation methods and modifiers.

The standard array and the point-buy costs are the Player's Handbook's character-creation
methods (they are not part of the SRD data file); the 27-point budget and the 8-15 range are the
ones this service promises its users.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence

STANDARD_ARRAY: tuple[int, ...] = (15, 14, 13, 12, 10, 8)
POINT_BUY_BUDGET = 27
POINT_BUY_COST: Mapping[int, int] = {8: 0, 9: 1, 10: 2, 11: 3, 12: 4, 13: 5, 14: 7, 15: 9}
POINT_BUY_MIN, POINT_BUY_MAX = min(POINT_BUY_COST), max(POINT_BUY_COST)
SCORE_CAP = 20
METHODS = ("standard_array", "point_buy", "rolled")


class AbilityScoreError(ValueError):
    """Scores that the chosen method does not allow; ``field`` names the offending entry."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def modifier(score: int) -> int:
    """The ability modifier: ``floor((score - 10) / 2)``."""
    return (score - 10) // 2


def point_buy_cost(scores: Mapping[str, int]) -> int:
    return sum(POINT_BUY_COST[v] for v in scores.values())


def roll_4d6_drop_lowest(rng: secrets.SystemRandom | None = None) -> list[list[int]]:
    """Six sets of four d6, rolled with the operating system's randomness."""
    rng = rng or secrets.SystemRandom()
    return [[rng.randint(1, 6) for _ in range(4)] for _ in range(6)]


def rolled_total(dice: Sequence[int]) -> int:
    return sum(sorted(dice)[1:])


def validate_scores(
    method: str,
    scores: Mapping[str, int],
    abilities: Sequence[str],
    rolled: Sequence[Sequence[int]] | None = None,
) -> dict[str, int]:
    """Check base scores (before racial bonuses) against the method; return them normalized."""
    if method not in METHODS:
        raise AbilityScoreError("method", f"must be one of {', '.join(METHODS)}")
    missing = [a for a in abilities if a not in scores]
    extra = [a for a in scores if a not in abilities]
    if extra:
        raise AbilityScoreError(f"scores.{extra[0]}", "not an ability score")
    if missing:
        raise AbilityScoreError(f"scores.{missing[0]}", "missing")
    values = {a: scores[a] for a in abilities}
    for ability, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool):
            raise AbilityScoreError(f"scores.{ability}", "must be an integer")
    if method == "standard_array":
        if sorted(values.values(), reverse=True) != list(STANDARD_ARRAY):
            raise AbilityScoreError(
                "scores",
                f"must use each value of the standard array {list(STANDARD_ARRAY)} exactly once",
            )
    elif method == "point_buy":
        for ability, value in values.items():
            if not POINT_BUY_MIN <= value <= POINT_BUY_MAX:
                raise AbilityScoreError(
                    f"scores.{ability}",
                    f"point buy scores range from {POINT_BUY_MIN} to {POINT_BUY_MAX}",
                )
        cost = point_buy_cost(values)
        if cost > POINT_BUY_BUDGET:
            raise AbilityScoreError(
                "scores", f"point buy costs {cost} points; the budget is {POINT_BUY_BUDGET}"
            )
    else:
        if not rolled:
            raise AbilityScoreError("method", "roll the dice first (POST .../ability-scores/roll)")
        totals = sorted((rolled_total(d) for d in rolled), reverse=True)
        if sorted(values.values(), reverse=True) != totals:
            raise AbilityScoreError(
                "scores", f"must assign each rolled total {totals} to one ability exactly once"
            )
    return values
