"""The ``hero-foundry/character`` export document, versions 1 and 2, as pydantic models.

These models are the published JSON Schemas (``GET /api/exports/schema/character-v<n>.json``)
and the first gate of an import: a file that does not fit them is refused with a 422 naming the
field. Fitting them proves nothing about the rules; :mod:`hero_foundry.exports.importer` checks
those. Every model is strict about unknown fields, and numbers must be JSON integers (``"15"`` or
``true`` is not a score).

Versioning: any change to the shape of the document bumps ``version``; a server keeps reading
every version it ever wrote. Version 2 adds ``character.rolls`` (the server's signatures of the
dice in the build); everything else is version 1 unchanged.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints

from hero_foundry.characters.schemas import Currency, Index, Key, Name, ShortText

SCHEMA = "hero-foundry/character"
#: The version this server writes; it reads every one of ``VERSIONS``.
VERSION = 2
VERSIONS = (1, 2)
SCHEMA_URL_TEMPLATE = "/api/exports/schema/character-v{version}.json"
SCHEMA_URL = SCHEMA_URL_TEMPLATE.format(version=VERSION)

Ability = Annotated[str, StringConstraints(min_length=1, max_length=3)]
Die = Annotated[StrictInt, Field(ge=1, le=6)]
Selections = Annotated[
    dict[Key, Annotated[list[Key], Field(max_length=20)]],
    Field(max_length=50),
]
Text = Annotated[str, StringConstraints(max_length=10_000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreationSpells(Strict):
    """Spells chosen at level 1 (empty for a class that casts no spells at level 1)."""

    cantrips: Annotated[list[Index], Field(max_length=10)] = Field(
        default_factory=list, description="Cantrips known (SRD spell indices)."
    )
    spells: Annotated[list[Index], Field(max_length=20)] = Field(
        default_factory=list,
        description="Spells known (bard, sorcerer, warlock) or the wizard's spellbook.",
    )
    prepared: Annotated[list[Index], Field(max_length=30)] = Field(
        default_factory=list,
        description="Prepared spells (cleric, druid, wizard); subclass spells are not listed.",
    )


class Details(Strict):
    """Name, alignment and personality, as entered (only the fields ever set are present)."""

    name: Name | None = Field(None, description="The character's name.")
    alignment: Index | None = Field(None, description="SRD alignment index, e.g. lawful-good.")
    personality_traits: Annotated[list[ShortText], Field(max_length=4)] | None = None
    ideals: Annotated[list[ShortText], Field(max_length=4)] | None = None
    bonds: Annotated[list[ShortText], Field(max_length=4)] | None = None
    flaws: Annotated[list[ShortText], Field(max_length=4)] | None = None
    backstory: Text | None = None


class LevelUpSpells(Strict):
    """Spells gained with one level (and the whole prepared list after it, if changed)."""

    cantrips: Annotated[list[Index], Field(max_length=10)] = Field(default_factory=list)
    spells: Annotated[list[Index], Field(max_length=10)] = Field(
        default_factory=list, description="New spells known, or spellbook additions."
    )
    prepared: Annotated[list[Index], Field(max_length=40)] = Field(
        default_factory=list,
        description="The class's whole prepared list after this level (preparing casters).",
    )
    arcanum: Annotated[list[Index], Field(max_length=1)] = Field(
        default_factory=list, description="The warlock's Mystic Arcanum spell at this level."
    )


class LevelUpRecord(Strict):
    """One level gained, in order: replayed and validated on import."""

    class_index: Index = Field(description="The class the level was gained in (SRD index).")
    from_level: StrictInt = Field(ge=1, le=19, description="Character level before this one.")
    hp_method: Literal["average", "rolled"] | None = Field(
        None, description="average: the SRD's fixed value; rolled: hp_roll."
    )
    hp_roll: StrictInt | None = Field(
        None, ge=1, le=12, description="The hit die rolled (rolled only), 1 to the class's die."
    )
    subclass: Index | None = Field(None, description="Subclass chosen at this level, if any.")
    increases: Annotated[dict[Ability, StrictInt], Field(max_length=2)] | None = Field(
        None, description='Ability Score Improvement: {"str": 2} or {"str": 1, "dex": 1}.'
    )
    feat: Index | None = Field(None, description="A feat instead of the increases (SRD index).")
    selections: Selections = Field(
        default_factory=dict, description="Answers to the level's choices: {choice id: [keys]}."
    )
    spells: LevelUpSpells = Field(
        default_factory=LevelUpSpells, description="Spells gained at this level ({} when none)."
    )
    grants: dict[str, list[Index]] | None = Field(
        None,
        description="What the selections gave (proficiencies, expertise). Informative: "
        "recomputed by the rules on import, never read from the file.",
    )


class Build(Strict):
    """Everything the player chose: the creation wizard's state plus every level-up."""

    race: Index | None = None
    subrace: Index | None = None
    class_index: Index | None = Field(None, description="The first class (SRD index).")
    subclass: Index | None = Field(None, description="The first class's level-1 subclass.")
    background: Index | None = None
    ability_method: Literal["standard_array", "point_buy", "rolled"] | None = None
    base_scores: Annotated[dict[Ability, StrictInt], Field(max_length=6)] | None = Field(
        None, description="Base scores before racial bonuses and improvements."
    )
    rolled: (
        Annotated[
            list[Annotated[list[Die], Field(min_length=4, max_length=4)]],
            Field(min_length=6, max_length=6),
        ]
        | None
    ) = Field(None, description="The 4d6 rolled on the server (six sets of four dice).")
    selections: Selections = Field(
        default_factory=dict, description="Answers to the creation choices: {choice id: [keys]}."
    )
    spells: CreationSpells = Field(default_factory=CreationSpells)
    details: Details = Field(default_factory=Details)
    level_ups: Annotated[list[LevelUpRecord], Field(max_length=19)] = Field(
        default_factory=list, description="Levels gained after level 1, in order."
    )


class InventoryItem(Strict):
    index: Index = Field(description="SRD equipment index.")
    name: Annotated[str, StringConstraints(max_length=120)] = Field(
        description="The SRD name (informative: taken from the SRD on import)."
    )
    quantity: StrictInt = Field(ge=1, le=10_000)
    equipped: StrictBool = False


class CharacterData(Strict):
    id: uuid.UUID | None = Field(
        None, description="The exported character's id (informative; an import gets a new id)."
    )
    name: Name
    level: StrictInt = Field(ge=1, le=20, description="1 + the number of level-ups.")
    build: Build
    inventory: Annotated[list[InventoryItem], Field(max_length=200)] = Field(default_factory=list)
    currency: Currency = Field(default_factory=Currency)
    notes: Text = ""


class Generator(Strict):
    name: Annotated[str, StringConstraints(max_length=100)]
    version: Annotated[str, StringConstraints(max_length=40)]


class SrdSource(Strict):
    source: Annotated[str, StringConstraints(max_length=200)]
    version: Annotated[str, StringConstraints(max_length=40)]
    edition: Annotated[str, StringConstraints(max_length=40)]
    license: Annotated[str, StringConstraints(max_length=40)]


class ExportDocumentV1(Strict):
    """A character exported by The Hero Foundry (``hero-foundry/character``, version 1)."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        title="hero-foundry/character v1",
    )

    schema_: Literal["hero-foundry/character"] = Field(
        alias="schema", description="Always hero-foundry/character."
    )
    version: Literal[1] = Field(description="The document version: 1.")
    exported_at: datetime | None = Field(None, description="When the file was written (UTC).")
    generator: Generator | None = Field(None, description="The service that wrote the file.")
    srd: SrdSource | None = Field(None, description="The SRD data release the indices refer to.")
    character: CharacterData
    sheet: dict[str, Any] | None = Field(
        None,
        description="The derived sheet at export time, informative only: ignored on import "
        "(feature texts are left out; they are in the SRD).",
    )
    attribution: Annotated[str, StringConstraints(max_length=2_000)] | None = Field(
        None, description="The SRD 5.1 CC-BY-4.0 attribution."
    )


class SignedRoll(Strict):
    """The server's signature of dice in the build (version 2). A roll of the build without a
    valid one is imported as unverified; see docs/security.md ("Dice")."""

    kind: Literal["ability_scores", "hit_points"] = Field(
        description="ability_scores: build.rolled; hit_points: the hp_roll of the level-up "
        "that reached `level`."
    )
    level: StrictInt = Field(ge=1, le=20, description="The character level the roll is for.")
    signature: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] = Field(
        description="HMAC-SHA256 (hex) over the owner, this character's id and the level, the "
        "kind, the die and the dice."
    )


class CharacterDataV2(CharacterData):
    rolls: Annotated[list[SignedRoll], Field(max_length=20)] = Field(
        default_factory=list,
        description="Signatures of the dice the server rolled for this character (version 2).",
    )


class ExportDocumentV2(ExportDocumentV1):
    """A character exported by The Hero Foundry (``hero-foundry/character``, version 2)."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        title="hero-foundry/character v2",
    )

    version: Literal[2] = Field(description="The document version: 2.")
    character: CharacterDataV2


#: The document this server writes.
ExportDocument = ExportDocumentV2
MODELS: dict[int, type[ExportDocumentV1]] = {1: ExportDocumentV1, 2: ExportDocumentV2}


def json_schema(version: int = VERSION) -> dict[str, Any]:
    """The published JSON Schema of a version (draft 2020-12, as pydantic writes it)."""
    schema = MODELS[version].model_json_schema(by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_URL_TEMPLATE.format(version=version),
        **schema,
    }
