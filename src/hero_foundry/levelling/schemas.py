from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints

from hero_foundry.characters.schemas import Index, Strict

Ability = Annotated[str, StringConstraints(min_length=1, max_length=3)]


class StartLevelUp(Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    #: The class to gain a level in: one the character has, or a new one (multiclassing).
    class_: Index = Field(alias="class")


class HitPointsStep(Strict):
    #: ``average``: the SRD's fixed value; ``rolled``: one roll of the hit die on the server.
    method: Literal["average", "rolled"]


class SubclassStep(Strict):
    subclass: Index


class ImprovementStep(Strict):
    """An Ability Score Improvement (``{"str": 2}`` or ``{"str": 1, "dex": 1}``) or a feat."""

    increases: dict[Ability, int] | None = Field(None, max_length=2)
    feat: Index | None = None


class LevelSpellsStep(Strict):
    #: New cantrips and new spells known (or spellbook additions) gained at this level.
    cantrips: Annotated[list[Index], Field(max_length=10)] = Field(default_factory=list)
    spells: Annotated[list[Index], Field(max_length=10)] = Field(default_factory=list)
    #: The whole prepared list of this class after the level (preparing casters), optional
    #: unless the class starts preparing spells at this level.
    prepared: Annotated[list[Index], Field(max_length=40)] = Field(default_factory=list)
    #: The warlock's Mystic Arcanum spell, at the levels that grant one.
    arcanum: Annotated[list[Index], Field(max_length=1)] = Field(default_factory=list)
