"""The character sheet: every derived number, for any level and any mix of classes."""

from __future__ import annotations

from typing import Any

from hero_foundry.rules import creation, levelling
from hero_foundry.rules.abilities import modifier
from hero_foundry.rules.creation import CreationState, _hp_bonus_per_level
from hero_foundry.srd.catalogue import Catalogue, Doc


def _caster_kind(cat: Catalogue, class_index: str) -> str | None:
    """``full``, ``half`` or ``pact`` (Pact Magic), from the class's own level table."""
    klass = cat.get("classes", class_index)
    if not klass.get("spellcasting"):
        return None
    if any(f["index"] == "pact-magic" for f in cat.class_level(class_index, 1)["features"]):
        return "pact"
    top = cat.class_level(class_index, 20).get("spellcasting", {})
    return "full" if top.get("spell_slots_level_9") else "half"


def _slots(row: Doc) -> dict[str, int]:
    table = row.get("spellcasting", {})
    return {
        k.rsplit("_", 1)[1]: v for k, v in table.items() if k.startswith("spell_slots_level_") and v
    }


def spell_slots(cat: Catalogue, classes: dict[str, int]) -> tuple[dict[str, int], dict | None]:
    """Spell slots, and Pact Magic slots kept apart.

    One spellcasting class uses its own table. Several use the multiclass rule: full-caster
    levels plus half of each half-caster's levels (rounded down) read on a full caster's table.
    """
    kinds = {c: _caster_kind(cat, c) for c in classes}
    pact = None
    for c, kind in kinds.items():
        if kind == "pact":
            slots = _slots(cat.class_level(c, classes[c]))
            if slots:
                level, count = max(slots.items())
                pact = {"level": int(level), "slots": count}
    casters = [c for c, k in kinds.items() if k in ("full", "half")]
    casters = [c for c in casters if cat.get("classes", c)["spellcasting"]["level"] <= classes[c]]
    if not casters:
        return {}, pact
    if len(casters) == 1:
        return _slots(cat.class_level(casters[0], classes[casters[0]])), pact
    caster_level = sum(classes[c] if kinds[c] == "full" else classes[c] // 2 for c in casters)
    full_table = next(c for c in cat.tables["classes"] if _caster_kind(cat, c) == "full")
    return _slots(cat.class_level(full_table, max(1, caster_level))), pact


def derive(
    cat: Catalogue, state: CreationState, inventory: list[dict[str, Any]] | None = None
) -> dict[str, Any] | None:
    """The sheet; None until race, class and ability scores are chosen."""
    race = cat.tables["races"].get(state.race or "")
    if not (race and state.class_index in cat.tables["classes"] and state.base_scores):
        return None
    if inventory is None:
        inventory = creation.starting_inventory(cat, state)
    prog = levelling.progress(cat, state)
    scores = levelling.scores(cat, state, prog)
    mods = {a: modifier(v) for a, v in scores.items()}
    first = cat.get("classes", prog.first_class)
    level_counts = {c: cp.level for c, cp in prog.classes.items()}
    prof_bonus = int(cat.class_level(prog.first_class, prog.level)["prof_bonus"])
    bonuses = creation.racial_bonuses(cat, state)
    profs = levelling.all_proficiencies(cat, state, prog)
    experts = set(creation.expertise(cat, state)) | set(prog.expertise)
    saving = {s["index"] for s in first.get("saving_throws", [])}
    trait_docs = creation.traits(cat, state)
    feature_docs = [d for d, _ in prog.features]
    feat_docs = [cat.get("feats", f) for f in prog.feats if cat.has("feats", f)]

    # Hit points: each level's die (the first at its maximum) + CON modifier (at least 1 per
    # level), + per-level bonuses: racial ones per character level, class ones per class level.
    hp = sum(max(1, die + mods["con"]) for die in prog.die_hp)
    hp += sum(_hp_bonus_per_level(d) for d in trait_docs) * prog.level
    hp += sum(_hp_bonus_per_level(d) * level_counts[c] for d, c in prog.features)
    dice: dict[int, int] = {}
    for c, n in level_counts.items():
        die = cat.get("classes", c)["hit_die"]
        dice[die] = dice.get(die, 0) + n
    hit_dice = " + ".join(f"{n}d{die}" for die, n in sorted(dice.items(), reverse=True))

    skills = {}
    for skill in cat.all("skills"):
        ability = skill["ability_score"]["index"]
        key = f"skill-{skill['index']}"
        proficient = key in profs
        factor = 2 if key in experts else int(proficient)
        skills[skill["index"]] = {
            "name": skill["name"],
            "ability": ability,
            "proficient": proficient,
            "expertise": key in experts,
            "bonus": mods[ability] + factor * prof_bonus,
        }

    casting_classes = []
    owned = {d["index"] for d, _ in prog.features}
    for c, cp in prog.classes.items():
        rules = creation.spell_rules(cat, c, cp.level, scores)
        if rules is None:
            continue
        casting_classes.append(
            {
                "class": c,
                "ability": rules.ability,
                "save_dc": 8 + prof_bonus + mods[rules.ability],
                "attack_bonus": prof_bonus + mods[rules.ability],
                "cantrips": cp.cantrips,
                "spells_known": cp.spells,
                "prepared": cp.prepared,
                "always_prepared": creation.always_prepared_spells(
                    cat, cp.subclass, cp.level, owned
                ),
                "expanded_list": creation.expanded_spells(cat, cp.subclass, cp.level, owned),
                "max_prepared": rules.prepared,
                "mystic_arcanum": cp.arcanum,
            }
        )
    slots, pact = spell_slots(cat, level_counts)
    spellcasting = (
        {"slots": slots, "pact_magic": pact, "classes": casting_classes}
        if casting_classes
        else None
    )

    grouped: dict[str, list[dict[str, str]]] = {}
    for index in profs:
        prof = cat.tables["proficiencies"].get(index)
        if prof:
            grouped.setdefault(prof["type"], []).append({"index": index, "name": prof["name"]})

    features = [
        {
            "index": d["index"],
            "name": d["name"],
            "source": "class",
            "class": c,
            "level": d.get("level"),
            "desc": d.get("desc", []),
        }
        for d, c in prog.features
    ]
    features += [
        {"index": d["index"], "name": d["name"], "source": "race", "desc": d.get("desc", [])}
        for d in trait_docs
    ]
    features += [
        {"index": d["index"], "name": d["name"], "source": "feat", "desc": d.get("desc", [])}
        for d in feat_docs
    ]
    background = cat.tables["backgrounds"].get(state.background or "")
    if background and background.get("feature"):
        features.append(
            {
                "index": background["index"],
                "name": background["feature"]["name"],
                "source": "background",
                "desc": background["feature"]["desc"],
            }
        )

    subrace = cat.tables["subraces"].get(state.subrace or "")
    return {
        "level": prog.level,
        "class": {"index": first["index"], "name": first["name"], "hit_die": first["hit_die"]},
        "subclass": prog.classes[prog.first_class].subclass,
        "classes": [
            {
                "index": c,
                "name": cat.name("classes", c),
                "level": cp.level,
                "subclass": cp.subclass,
                "hit_die": cat.get("classes", c)["hit_die"],
            }
            for c, cp in prog.classes.items()
        ],
        "race": {"index": race["index"], "name": race["name"], "size": race.get("size")},
        "subrace": {"index": subrace["index"], "name": subrace["name"]} if subrace else None,
        "background": state.background,
        "abilities": {
            a: {
                "base": state.base_scores[a],
                "racial_bonus": bonuses[a],
                "improvements": prog.increases.get(a, 0),
                "score": scores[a],
                "modifier": mods[a],
            }
            for a in scores
        },
        "proficiency_bonus": prof_bonus,
        "hit_points": {"max": max(1, hp), "hit_dice": hit_dice},
        "armor_class": creation.armor_class(cat, trait_docs + feature_docs, inventory, scores),
        "initiative": mods["dex"],
        "speed": race.get("speed"),
        "saving_throws": {
            a: {"proficient": a in saving, "bonus": mods[a] + (prof_bonus if a in saving else 0)}
            for a in scores
        },
        "skills": skills,
        "passive_perception": 10 + skills["perception"]["bonus"],
        "spellcasting": spellcasting,
        "racial_spells": creation.chosen_refs(cat, state, {"spell"}),
        "languages": [
            {"index": lang, "name": cat.name("languages", lang)}
            for lang in creation.languages(cat, state)
        ],
        "proficiencies": grouped,
        "features": features,
        "feats": prog.feats,
    }
