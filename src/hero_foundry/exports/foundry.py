"""A Foundry VTT actor for the dnd5e system (data model 3.x/4.x), for "Import Data".

The mapping (docs/exports.md has the table and its sources) follows the dnd5e system's data
models in foundryvtt/dnd5e: ``module/data/actor/character.mjs`` and its templates, the item
models ``class.mjs``, ``subclass.mjs``, ``feat.mjs``, ``spell.mjs``, ``weapon.mjs``,
``equipment.mjs``, ``tool.mjs``, ``loot.mjs``, ``race.mjs``, ``background.mjs`` and their
templates, and the keys of ``module/config.mjs`` (skills, languages, tools, armour and weapon
proficiencies, item properties, consumable and loot types, spell preparation modes).

Every number comes from our derived sheet. Armour Class is exported as a flat value (Foundry
does not recompute it) and hit points as the maximum override, because our class items carry
no advancement for Foundry to derive them from. Shapes that later dnd5e versions migrate (a
number for ``weight``, ``hitDice`` on a class, ``preparation`` on a spell) are the 3.x/4.x ones,
which dnd5e's own data migrations read.
"""

from __future__ import annotations

import hashlib
import html
import re
from datetime import datetime
from typing import Any

from hero_foundry import __version__
from hero_foundry.exports.document import Snapshot, utc_timestamp
from hero_foundry.rules import creation, levelling
from hero_foundry.rules.sheet import _caster_kind  # full, half or pact, from the SRD tables
from hero_foundry.srd import Catalogue
from hero_foundry.srd.catalogue import Doc

SYSTEM_ID = "dnd5e"
#: The dnd5e data model version whose shapes this export writes (dnd5e's migrations read it).
SYSTEM_VERSION = "4.0.0"
FLAG_SCOPE = "hero-foundry"
ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

#: SRD skill index -> dnd5e skill key (CONFIG.DND5E.skills).
SKILLS = {
    "acrobatics": "acr",
    "animal-handling": "ani",
    "arcana": "arc",
    "athletics": "ath",
    "deception": "dec",
    "history": "his",
    "insight": "ins",
    "intimidation": "itm",
    "investigation": "inv",
    "medicine": "med",
    "nature": "nat",
    "perception": "prc",
    "performance": "prf",
    "persuasion": "per",
    "religion": "rel",
    "sleight-of-hand": "slt",
    "stealth": "ste",
    "survival": "sur",
}
#: SRD language index -> dnd5e language key (CONFIG.DND5E.languages); the rest are the same.
LANGUAGES = {"deep-speech": "deep"}
#: SRD tool proficiency/equipment index -> (dnd5e tool id, its default ability), as listed in
#: CONFIG.DND5E.tools.
TOOLS = {
    "alchemists-supplies": ("alchemist", "int"),
    "bagpipes": ("bagpipes", "cha"),
    "brewers-supplies": ("brewer", "int"),
    "calligraphers-supplies": ("calligrapher", "dex"),
    "playing-card-set": ("card", "wis"),
    "carpenters-tools": ("carpenter", "str"),
    "cartographers-tools": ("cartographer", "wis"),
    "cobblers-tools": ("cobbler", "dex"),
    "cooks-utensils": ("cook", "wis"),
    "dice-set": ("dice", "wis"),
    "disguise-kit": ("disg", "cha"),
    "drum": ("drum", "cha"),
    "dulcimer": ("dulcimer", "cha"),
    "flute": ("flute", "cha"),
    "forgery-kit": ("forg", "dex"),
    "glassblowers-tools": ("glassblower", "int"),
    "herbalism-kit": ("herb", "int"),
    "horn": ("horn", "cha"),
    "jewelers-tools": ("jeweler", "int"),
    "leatherworkers-tools": ("leatherworker", "dex"),
    "lute": ("lute", "cha"),
    "lyre": ("lyre", "cha"),
    "masons-tools": ("mason", "str"),
    "navigators-tools": ("navg", "wis"),
    "painters-supplies": ("painter", "wis"),
    "pan-flute": ("panflute", "cha"),
    "poisoners-kit": ("pois", "int"),
    "potters-tools": ("potter", "int"),
    "shawm": ("shawm", "cha"),
    "smiths-tools": ("smith", "str"),
    "thieves-tools": ("thief", "dex"),
    "tinkers-tools": ("tinker", "dex"),
    "viol": ("viol", "cha"),
    "weavers-tools": ("weaver", "dex"),
    "woodcarvers-tools": ("woodcarver", "dex"),
}
TOOL_TYPES = {"Artisan's Tools": "art", "Gaming Sets": "game", "Musical Instrument": "music"}
#: SRD armour/weapon proficiency -> dnd5e traits.armorProf / traits.weaponProf keys.
ARMOR_PROFS = {
    "light-armor": ["lgt"],
    "medium-armor": ["med"],
    "heavy-armor": ["hvy"],
    "all-armor": ["lgt", "med", "hvy"],
    "shields": ["shl"],
}
WEAPON_PROFS = {"simple-weapons": ["sim"], "martial-weapons": ["mar"]}
#: SRD weapon property -> dnd5e item property (CONFIG.DND5E.itemProperties).
WEAPON_PROPERTIES = {
    "ammunition": "amm",
    "finesse": "fin",
    "heavy": "hvy",
    "light": "lgt",
    "loading": "lod",
    "reach": "rch",
    "special": "spc",
    "thrown": "thr",
    "two-handed": "two",
    "versatile": "ver",
}
ARMOR_TYPES = {"Light": "light", "Medium": "medium", "Heavy": "heavy", "Shield": "shield"}
SIZES = {"Tiny": "tiny", "Small": "sm", "Medium": "med", "Large": "lg", "Huge": "huge"}
#: SRD magic school index -> dnd5e spell school key (CONFIG.DND5E.spellSchools).
SCHOOLS = {
    "abjuration": "abj",
    "conjuration": "con",
    "divination": "div",
    "enchantment": "enc",
    "evocation": "evo",
    "illusion": "ill",
    "necromancy": "nec",
    "transmutation": "trs",
}
RACE_TEXT = ("age", "size_description", "language_desc")
COINS = ("pp", "gp", "ep", "sp", "cp")
COMPONENTS = {"V": "vocal", "S": "somatic", "M": "material"}
ACTIVATIONS = {"action": "action", "bonus action": "bonus", "reaction": "reaction"}
TIME_UNITS = {"minute": "minute", "minutes": "minute", "hour": "hour", "hours": "hour"}


def item_id(*parts: object) -> str:
    """A stable 16-character Foundry document id derived from ``parts``."""
    digest = int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest(), "big")
    out = []
    for _ in range(16):
        digest, rest = divmod(digest, len(ID_ALPHABET))
        out.append(ID_ALPHABET[rest])
    return "".join(out)


def _html(paragraphs: Any) -> str:
    """SRD or player text as HTML paragraphs (escaped); empty text gives ``""``."""
    if isinstance(paragraphs, str):
        paragraphs = [paragraphs]
    return "".join(f"<p>{html.escape(str(p))}</p>" for p in paragraphs or [] if str(p).strip())


def _source() -> dict[str, str]:
    return {"custom": "SRD 5.1", "license": "CC-BY-4.0", "rules": "2014"}


class ActorBuilder:
    def __init__(self, cat: Catalogue, snap: Snapshot, now: datetime) -> None:
        self.cat = cat
        self.snap = snap
        self.now = now
        self.state = snap.state
        self.sheet = snap.sheet(cat)
        self.prog = levelling.progress(cat, self.state)
        self.profs = levelling.all_proficiencies(cat, self.state, self.prog)
        self.items: list[dict[str, Any]] = []

    def new_id(self, *parts: object) -> str:
        return item_id(self.snap.id or self.snap.name, *parts)

    def add(self, key: tuple[object, ...], name: str, kind: str, system: dict[str, Any]) -> str:
        _id = self.new_id(kind, *key)
        self.items.append(
            {
                "_id": _id,
                "name": name,
                "type": kind,
                "system": {**system, "source": _source()},
                "flags": {FLAG_SCOPE: {"srd": key[0] if key else None}},
            }
        )
        return _id

    # -- items --------------------------------------------------------------------------------
    def race_item(self) -> str:
        sh = self.sheet
        race = self.cat.get("races", self.state.race or "")
        senses: dict[str, Any] = {"units": "ft"}
        for trait in creation.traits(self.cat, self.state):
            match = re.search(r"within (\d+) feet", " ".join(trait.get("desc", [])))
            if trait["index"] == "darkvision" and match:
                senses["darkvision"] = int(match.group(1))
        name = sh["subrace"]["name"] if sh["subrace"] else race["name"]
        return self.add(
            (race["index"], self.state.subrace),
            name,
            "race",
            {
                "identifier": self.state.subrace or race["index"],
                "description": {
                    "value": _html(
                        [
                            race[k]
                            for k in ("age", "size_description", "language_desc")
                            if race.get(k)
                        ]
                    ),
                    "chat": "",
                },
                "movement": {"walk": sh["speed"], "units": "ft"},
                "senses": senses,
                "type": {"value": "humanoid", "subtype": "", "custom": ""},
                "advancement": [],
            },
        )

    def background_item(self) -> str | None:
        background = self.cat.tables["backgrounds"].get(self.state.background or "")
        if not background:
            return None
        feature = background.get("feature") or {}
        return self.add(
            (background["index"],),
            background["name"],
            "background",
            {
                "identifier": background["index"],
                "description": {"value": _html(feature.get("desc", [])), "chat": ""},
                "advancement": [],
            },
        )

    def class_items(self) -> str:
        first_id = ""
        kinds = {"full": "full", "half": "half", "pact": "pact"}
        for index, cp in self.prog.classes.items():
            klass = self.cat.get("classes", index)
            casting = klass.get("spellcasting")
            kind = _caster_kind(self.cat, index)
            _id = self.add(
                (index,),
                klass["name"],
                "class",
                {
                    "identifier": index,
                    "levels": cp.level,
                    "hitDice": f"d{klass['hit_die']}",
                    "hitDiceUsed": 0,
                    "description": {"value": "", "chat": ""},
                    "spellcasting": {
                        "progression": kinds.get(kind or "", "none"),
                        "ability": casting["spellcasting_ability"]["index"] if casting else "",
                    },
                    "advancement": [],
                },
            )
            first_id = first_id or _id
            if cp.subclass:
                sub = self.cat.get("subclasses", cp.subclass)
                self.add(
                    (cp.subclass,),
                    sub["name"],
                    "subclass",
                    {
                        "identifier": cp.subclass,
                        "classIdentifier": index,
                        "description": {"value": _html(sub.get("desc", [])), "chat": ""},
                        "advancement": [],
                    },
                )
        return first_id

    def feature_items(self) -> None:
        for n, f in enumerate(self.sheet["features"]):
            source = f["source"]
            if source == "class":
                kind = "class"
                requirements = f"{self.cat.name('classes', f['class'])} {f.get('level') or ''}"
            elif source == "race":
                kind, requirements = "race", self.sheet["race"]["name"]
            elif source == "feat":
                kind, requirements = "feat", ""
            else:
                kind, requirements = "background", self.cat.name("backgrounds", f["index"])
            self.add(
                (f["index"], source, n),
                f["name"],
                "feat",
                {
                    "description": {"value": _html(f.get("desc", [])), "chat": ""},
                    "type": {"value": kind, "subtype": ""},
                    "requirements": requirements.strip(),
                    "properties": [],
                },
            )

    def spell_items(self) -> None:
        casting = self.sheet["spellcasting"] or {"classes": []}
        for c in casting["classes"]:
            index = c["class"]
            pact = _caster_kind(self.cat, index) == "pact"
            prepared = set(c["prepared"])
            entries: list[tuple[str, str, bool]] = [(s, "prepared", True) for s in c["cantrips"]]
            if c["spells_known"]:
                spellbook = c["max_prepared"] is not None  # a preparing caster's book (wizard)
                for s in c["spells_known"]:
                    mode = "pact" if pact else "prepared"
                    entries.append((s, mode, s in prepared or not spellbook))
            else:
                entries += [(s, "prepared", True) for s in c["prepared"]]
            entries += [(s, "always", True) for s in c["always_prepared"]]
            entries += [(s, "innate", True) for s in c["mystic_arcanum"]]
            for spell, mode, is_prepared in entries:
                self.spell(spell, mode, is_prepared, index)
        for spell in self.sheet.get("racial_spells") or []:
            self.spell(spell, "innate", True, "")

    def spell(self, index: str, mode: str, prepared: bool, source_class: str) -> None:
        if not self.cat.has("spells", index):
            return
        doc = self.cat.get("spells", index)
        properties = [COMPONENTS[c] for c in doc.get("components", []) if c in COMPONENTS]
        if doc.get("concentration"):
            properties.append("concentration")
        if doc.get("ritual"):
            properties.append("ritual")
        self.add(
            (index, source_class, mode),
            doc["name"],
            "spell",
            {
                "description": {
                    "value": _html(doc.get("desc", []) + doc.get("higher_level", [])),
                    "chat": "",
                },
                "level": doc["level"],
                "school": SCHOOLS.get(doc.get("school", {}).get("index", ""), ""),
                "properties": properties,
                "materials": {
                    "value": doc.get("material", ""),
                    "consumed": False,
                    "cost": 0,
                    "supply": 0,
                },
                "preparation": {"mode": mode, "prepared": prepared},
                "sourceClass": source_class,
                "activation": _activation(doc.get("casting_time", "")),
                "range": _range(doc.get("range", "")),
            },
        )

    def inventory_items(self) -> None:
        for item in self.snap.inventory:
            doc = self.cat.tables["equipment"].get(item["index"])
            if doc is None:
                continue
            common = {
                "description": {"value": _html(doc.get("desc", [])), "chat": ""},
                "quantity": item["quantity"],
                "weight": doc.get("weight", 0) or 0,
                "price": {
                    "value": (doc.get("cost") or {}).get("quantity", 0),
                    "denomination": (doc.get("cost") or {}).get("unit", "gp"),
                },
                "identified": True,
            }
            kind, system = _inventory_system(doc, item)
            self.add((item["index"],), doc["name"], kind, {**common, **system})

    # -- the actor ------------------------------------------------------------------------------
    def system(self, race_id: str, background_id: str | None, class_id: str) -> dict[str, Any]:
        sh = self.sheet
        details = self.state.details
        languages = [LANGUAGES.get(lang["index"], lang["index"]) for lang in sh["languages"]]
        weapon, armor, weapon_custom, armor_custom = set(), set(), [], []
        tools: dict[str, Any] = {}
        for index in self.profs:
            prof = self.cat.tables["proficiencies"].get(index)
            if not prof:
                continue
            if index in ARMOR_PROFS:
                armor.update(ARMOR_PROFS[index])
            elif index in WEAPON_PROFS:
                weapon.update(WEAPON_PROFS[index])
            elif prof["type"] == "Armor":
                armor_custom.append(prof["name"])
            elif prof["type"] == "Weapons":
                weapon_custom.append(prof["name"])
            elif index in TOOLS:
                key, ability = TOOLS[index]
                tools[key] = {"value": 1, "ability": ability}
        casting = sh["spellcasting"]
        spells: dict[str, Any] = {}
        if casting:
            for level, count in casting["slots"].items():
                spells[f"spell{level}"] = {"value": count, "override": None}
            if casting["pact_magic"]:
                spells["pact"] = {"value": casting["pact_magic"]["slots"], "override": None}
        first_casting = casting["classes"][0]["ability"] if casting else ""
        biography = _html(details.get("backstory") or "")
        if self.snap.notes:
            biography += "<h3>Notes</h3>" + _html(self.snap.notes.split("\n\n"))
        return {
            "abilities": {
                a: {"value": v["score"], "proficient": int(sh["saving_throws"][a]["proficient"])}
                for a, v in sh["abilities"].items()
            },
            "attributes": {
                "ac": {"calc": "flat", "flat": sh["armor_class"]["value"]},
                "hp": {
                    "value": sh["hit_points"]["max"],
                    "max": sh["hit_points"]["max"],
                    "temp": 0,
                    "tempmax": 0,
                },
                "init": {"ability": "dex", "bonus": ""},
                "movement": {"walk": sh["speed"], "units": "ft", "hover": False},
                "senses": {"units": "ft"},
                "spellcasting": first_casting,
                "exhaustion": 0,
                "inspiration": False,
                "death": {"success": 0, "failure": 0},
            },
            "details": {
                "race": race_id,
                "background": background_id or self.cat.name("backgrounds", sh["background"]),
                "originalClass": class_id,
                "alignment": self.cat.name("alignments", details["alignment"])
                if details.get("alignment") and self.cat.has("alignments", details["alignment"])
                else "",
                "xp": {"value": 0},
                "trait": "\n".join(details.get("personality_traits") or []),
                "ideal": "\n".join(details.get("ideals") or []),
                "bond": "\n".join(details.get("bonds") or []),
                "flaw": "\n".join(details.get("flaws") or []),
                "appearance": "",
                "biography": {"value": biography, "public": ""},
            },
            "skills": {
                SKILLS[index]: {
                    "value": 2 if skill["expertise"] else int(skill["proficient"]),
                    "ability": skill["ability"],
                }
                for index, skill in sh["skills"].items()
                if index in SKILLS
            },
            "tools": tools,
            "traits": {
                "size": SIZES.get(sh["race"].get("size") or "", "med"),
                "languages": {"value": languages, "custom": ""},
                "weaponProf": {"value": sorted(weapon), "custom": "; ".join(weapon_custom)},
                "armorProf": {"value": sorted(armor), "custom": "; ".join(armor_custom)},
                "di": {"value": [], "custom": ""},
                "dr": {"value": [], "custom": ""},
                "dv": {"value": [], "custom": ""},
                "ci": {"value": [], "custom": ""},
            },
            "currency": {
                c: int(self.snap.currency.get(c, 0)) for c in ("pp", "gp", "ep", "sp", "cp")
            },
            "spells": spells,
        }

    def build(self) -> dict[str, Any]:
        race_id = self.race_item()
        background_id = self.background_item()
        class_id = self.class_items()
        self.feature_items()
        self.spell_items()
        self.inventory_items()
        system = self.system(race_id, background_id, class_id)
        return {
            "name": self.snap.name,
            "type": "character",
            "img": "icons/svg/mystery-man.svg",
            "system": system,
            "items": self.items,
            "effects": [],
            "prototypeToken": {"name": self.snap.name, "actorLink": True, "disposition": 1},
            "flags": {
                FLAG_SCOPE: {
                    "schema": "hero-foundry/foundry-actor",
                    "version": 1,
                    "character_id": str(self.snap.id) if self.snap.id else None,
                    "level": self.sheet["level"],
                    "exported_at": utc_timestamp(self.now),
                    "generator": f"The Hero Foundry {__version__}",
                    "attribution": self.cat.attribution,
                }
            },
            "_stats": {"systemId": SYSTEM_ID, "systemVersion": SYSTEM_VERSION},
        }


def _activation(casting_time: str) -> dict[str, Any]:
    match = re.match(r"(\d+) (.+)", casting_time.strip().lower())
    if not match:
        return {"type": "special", "value": None, "condition": casting_time}
    count, unit = int(match.group(1)), match.group(2).split(",")[0].strip()
    if unit in ACTIVATIONS:
        return {"type": ACTIVATIONS[unit], "value": count, "condition": ""}
    if unit in TIME_UNITS:
        return {"type": TIME_UNITS[unit], "value": count, "condition": ""}
    return {"type": "special", "value": None, "condition": casting_time}


def _range(text: str) -> dict[str, Any]:
    text = text.strip().lower()
    match = re.match(r"(\d+) (feet|foot|miles?)", text)
    if match:
        units = "ft" if match.group(2).startswith("f") else "mi"
        return {"value": int(match.group(1)), "units": units}
    if text.startswith("self"):
        return {"value": None, "units": "self"}
    if text == "touch":
        return {"value": None, "units": "touch"}
    return {"value": None, "units": "spec"}


def _inventory_system(doc: Doc, item: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    category = doc["equipment_category"]["index"]
    equipped = {"equipped": bool(item["equipped"]), "proficient": None}
    if category == "weapon":
        kind = ("simple" if doc.get("weapon_category") == "Simple" else "martial") + (
            "R" if doc.get("weapon_range") == "Ranged" else "M"
        )
        damage = doc.get("damage") or {}
        number, _, die = (damage.get("damage_dice") or "").partition("d")
        base: dict[str, Any] = {"types": []}
        if number.isdigit() and die.isdigit():
            base = {"number": int(number), "denomination": int(die), "bonus": "", "types": []}
        if damage.get("damage_type"):
            base["types"] = [damage["damage_type"]["index"]]
        properties = [p["index"] for p in doc.get("properties", [])]
        return "weapon", {
            **equipped,
            "type": {"value": kind, "baseItem": ""},
            "damage": {"base": base},
            "properties": [WEAPON_PROPERTIES[p] for p in properties if p in WEAPON_PROPERTIES],
            "range": _weapon_range(doc, properties),
        }
    if category == "armor":
        ac = doc.get("armor_class") or {}
        armor_type = ARMOR_TYPES.get(doc.get("armor_category", ""), "light")
        dex = None if ac.get("dex_bonus") and ac.get("max_bonus") is None else ac.get("max_bonus")
        if not ac.get("dex_bonus"):
            dex = 0
        return "equipment", {
            **equipped,
            "type": {"value": armor_type, "baseItem": ""},
            "armor": {"value": ac.get("base", 0), "dex": dex},
            "strength": doc.get("str_minimum") or None,
            "properties": ["stealthDisadvantage"] if doc.get("stealth_disadvantage") else [],
        }
    if category == "tools":
        return "tool", {
            **equipped,
            "type": {
                "value": TOOL_TYPES.get(doc.get("tool_category", ""), ""),
                "baseItem": TOOLS.get(doc["index"], ("", ""))[0],
            },
            "ability": TOOLS.get(doc["index"], ("", "int"))[1],
        }
    gear = (doc.get("gear_category") or {}).get("index")
    if gear == "ammunition":
        return "consumable", {**equipped, "type": {"value": "ammo", "subtype": ""}}
    return "loot", {"type": {"value": "gear", "subtype": ""}}


def _weapon_range(doc: Doc, properties: list[str]) -> dict[str, Any]:
    """Ranged and thrown weapons: short/long range; melee weapons: their reach."""
    reach = 10 if "reach" in properties else None
    if doc.get("weapon_range") == "Ranged":
        rng = doc.get("range") or {}
        return {"value": rng.get("normal"), "long": rng.get("long"), "reach": None, "units": "ft"}
    thrown = doc.get("throw_range") or {}
    return {
        "value": thrown.get("normal"),
        "long": thrown.get("long"),
        "reach": reach,
        "units": "ft",
    }


def actor(cat: Catalogue, snap: Snapshot, now: datetime) -> dict[str, Any]:
    """The Foundry VTT dnd5e ``character`` actor for ``snap``."""
    return ActorBuilder(cat, snap, now).build()
