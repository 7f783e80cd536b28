"""Request bodies of the creation wizard and the character endpoints (strict: unknown fields
are refused so a typo is reported instead of silently ignored)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

Index = Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=r"^[a-z0-9-]+$")]
Key = Annotated[str, StringConstraints(min_length=1, max_length=120)]
#: Free text: any character but NUL, which PostgreSQL cannot store in text columns.
NO_NUL = r"^[^\x00]*$"
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500, pattern=NO_NUL)]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=NO_NUL)
]
LongText = Annotated[str, StringConstraints(max_length=10_000, pattern=NO_NUL)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RaceStep(Strict):
    race: Index
    subrace: Index | None = None


class ClassStep(Strict):
    class_: Index = Field(alias="class")
    subclass: Index | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class BackgroundStep(Strict):
    background: Index


class AbilityScoresStep(Strict):
    method: Literal["standard_array", "point_buy", "rolled"]
    #: Base scores before racial bonuses, e.g. ``{"str": 15, "dex": 14, ...}``.
    scores: dict[Annotated[str, StringConstraints(max_length=3)], int] = Field(max_length=6)


class ChoicesStep(Strict):
    #: ``{choice id: [option keys]}``; ids and keys are listed by ``GET`` on the draft.
    selections: dict[Key, Annotated[list[Key], Field(max_length=20)]] = Field(max_length=50)


class SpellsStep(Strict):
    cantrips: Annotated[list[Index], Field(max_length=10)] = []
    #: Spells known (bard, sorcerer, warlock) or the wizard's spellbook.
    spells: Annotated[list[Index], Field(max_length=20)] = []
    #: Prepared spells (cleric, druid, wizard).
    prepared: Annotated[list[Index], Field(max_length=30)] = []


class DetailsFields(Strict):
    alignment: Index | None = None
    personality_traits: Annotated[list[ShortText], Field(max_length=4)] | None = None
    ideals: Annotated[list[ShortText], Field(max_length=4)] | None = None
    bonds: Annotated[list[ShortText], Field(max_length=4)] | None = None
    flaws: Annotated[list[ShortText], Field(max_length=4)] | None = None
    backstory: LongText | None = None


class DetailsStep(DetailsFields):
    name: Name | None = None


class ItemQuantity(Strict):
    index: Index
    quantity: int = Field(1, ge=1, le=10_000)


class InventoryChange(Strict):
    add: Annotated[list[ItemQuantity], Field(max_length=50)] = []
    remove: Annotated[list[ItemQuantity], Field(max_length=50)] = []
    equip: Annotated[list[Index], Field(max_length=20)] = []
    unequip: Annotated[list[Index], Field(max_length=20)] = []


Coins = Annotated[StrictInt, Field(ge=0, le=10_000_000)]


class Currency(Strict):
    """Money by coin (copper, silver, electrum, gold, platinum); also the export format's."""

    cp: Coins = 0
    sp: Coins = 0
    ep: Coins = 0
    gp: Coins = 0
    pp: Coins = 0


class CharacterPatch(DetailsFields):
    name: Name | None = None
    notes: LongText | None = None
    inventory: InventoryChange | None = None
    currency: Currency | None = None
