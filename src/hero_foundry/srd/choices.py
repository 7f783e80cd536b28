"""SRD option sets, normalized into choices a wizard can render and a server can validate.

The 5e-database expresses every player decision as an *option set*: ``choose`` N ``from`` an
``options_array`` (references, counted references, bundles, nested choices, strings, ability
bonuses), an ``equipment_category`` or a ``resource_list``. :func:`normalize` turns one into a
:class:`Choice` whose options have stable keys:

* a reference or counted reference is keyed by the referenced index (``skill-religion``, ``mace``);
* a string option by the string itself, an ability bonus by the ability (``str``);
* a bundle ("a light crossbow and 20 bolts") or a nested choice of several items by its letter
  (``a``, ``b``, ...), as the SRD's own descriptions write them;
* a nested "choose one from ..." is flattened into its parent's options ("a mace or any simple
  weapon" lists the mace and every simple weapon).

An option may carry *sub-choices* (a bundle containing "any martial weapon"); they open once the
option is selected, with the id ``<choice id>/<option key>/<n>``.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Any

from hero_foundry.srd.catalogue import Catalogue

RESOURCE_TABLES = {
    "/api/2014/languages": "languages",
    "/api/2014/skills": "skills",
    "/api/2014/ability-scores": "ability_scores",
}


@dataclass(frozen=True)
class Option:
    key: str
    label: str
    #: The referenced SRD index (proficiency, language, spell, trait, feature ...), if any.
    ref: str | None = None
    #: Equipment granted by this option: ``(equipment index, quantity)``.
    items: tuple[tuple[str, int], ...] = ()
    #: ``(ability index, bonus)`` for ability-bonus options.
    ability_bonus: tuple[str, int] | None = None
    #: Further references a bundle grants (e.g. thieves' tools beside a chosen skill).
    grants: tuple[str, ...] = ()
    #: Proficiency indices the character must have to take this option.
    prerequisites: tuple[str, ...] = ()
    subchoices: tuple[Choice, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "label": self.label}
        if self.items:
            out["items"] = [{"index": i, "quantity": q} for i, q in self.items]
        if self.prerequisites:
            out["requires_proficiency"] = list(self.prerequisites)
        if self.subchoices:
            out["then_choose"] = [c.as_dict() for c in self.subchoices]
        return out


@dataclass(frozen=True)
class Choice:
    id: str
    desc: str
    choose: int
    type: str
    options: tuple[Option, ...] = field(default=())
    #: Whether the same option may be picked more than once (two identical weapons).
    repeatable: bool = False

    def option(self, key: str) -> Option | None:
        for opt in self.options:
            if opt.key == key:
                return opt
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "desc": self.desc,
            "choose": self.choose,
            "type": self.type,
            "options": [o.as_dict() for o in self.options],
        }


def _letter(position: int) -> str:
    return string.ascii_lowercase[position]


def _counted_label(name: str, count: int) -> str:
    return name if count == 1 else f"{count} × {name}"


def normalize(cat: Catalogue, raw: dict[str, Any], choice_id: str, desc: str = "") -> Choice:
    """Turn one SRD option set into a :class:`Choice`."""
    source = raw["from"]
    kind = source["option_set_type"]
    ctype = raw.get("type", "")
    desc = raw.get("desc") or desc
    options: list[Option] = []
    if kind == "equipment_category":
        category = source["equipment_category"]
        desc = desc or f"any {category['name'].lower()}"
        options = [
            Option(key=e["index"], label=e["name"], ref=e["index"], items=((e["index"], 1),))
            for e in cat.category_equipment(category["index"])
        ]
    elif kind == "resource_list":
        table = RESOURCE_TABLES[source["resource_list_url"]]
        options = [Option(key=d["index"], label=d["name"], ref=d["index"]) for d in cat.all(table)]
    elif kind == "options_array":
        for pos, raw_option in enumerate(source["options"]):
            path, letter = f"{choice_id}/{_letter(pos)}", _letter(pos)
            options.extend(_options(cat, raw_option, path, letter, ctype))
    else:  # pragma: no cover - the 2014 data has no other kinds
        raise ValueError(f"unsupported option set {kind!r} in {choice_id}")
    deduped: dict[str, Option] = {}
    for opt in options:
        deduped.setdefault(opt.key, opt)
    return Choice(
        id=choice_id,
        desc=desc or f"choose {raw['choose']}",
        choose=int(raw["choose"]),
        type=ctype,
        options=tuple(deduped.values()),
        repeatable=ctype == "equipment",
    )


def _prerequisites(raw_option: dict[str, Any]) -> tuple[str, ...]:
    return tuple(
        p["proficiency"]["index"]
        for p in raw_option.get("prerequisites", [])
        if p.get("type") == "proficiency"
    )


def _options(
    cat: Catalogue, raw: dict[str, Any] | str, path: str, letter: str, ctype: str
) -> list[Option]:
    if isinstance(raw, str):  # some option sets list bare strings (a ranger's favored enemy)
        return [Option(key=raw, label=raw)]
    kind = raw["option_type"]
    if kind == "reference":
        item = raw["item"]
        # A tool proficiency and the tool share an index: only equipment choices give items.
        is_item = ctype == "equipment" and cat.has("equipment", item["index"])
        items = ((item["index"], 1),) if is_item else ()
        return [Option(key=item["index"], label=item["name"], ref=item["index"], items=items)]
    if kind == "counted_reference":
        of, count = raw["of"], int(raw.get("count", 1))
        return [
            Option(
                key=of["index"],
                label=_counted_label(of["name"], count),
                ref=of["index"],
                items=((of["index"], count),),
                prerequisites=_prerequisites(raw),
            )
        ]
    if kind == "string":
        return [Option(key=raw["string"], label=raw["string"])]
    if kind == "ideal":
        return [Option(key=letter, label=raw["desc"])]
    if kind == "ability_bonus":
        ability = raw["ability_score"]
        bonus = int(raw["bonus"])
        return [
            Option(
                key=ability["index"],
                label=f"{ability['name']} +{bonus}",
                ref=ability["index"],
                ability_bonus=(ability["index"], bonus),
            )
        ]
    if kind == "choice":
        inner = normalize(cat, raw["choice"], path)
        if inner.choose == 1:
            return list(inner.options)
        return [Option(key=letter, label=f"{inner.choose} × {inner.desc}", subchoices=(inner,))]
    if kind == "multiple":
        items: list[tuple[str, int]] = []
        labels: list[str] = []
        subs: list[Choice] = []
        grants: list[str] = []
        for n, part in enumerate(raw["items"]):
            if part["option_type"] == "choice":
                sub = normalize(cat, part["choice"], f"{path}/{n}")
                subs.append(sub)
                labels.append(sub.desc if sub.choose == 1 else f"{sub.choose} × {sub.desc}")
            elif part["option_type"] == "counted_reference":
                of, count = part["of"], int(part.get("count", 1))
                items.append((of["index"], count))
                labels.append(_counted_label(of["name"], count))
            elif part["option_type"] == "reference":
                grants.append(part["item"]["index"])
                labels.append(part["item"]["name"])
            else:  # pragma: no cover - not present in the 2014 data
                raise ValueError(f"unsupported bundle item {part['option_type']!r} in {path}")
        return [
            Option(
                key=letter,
                label=" and ".join(labels),
                items=tuple(items),
                grants=tuple(grants),
                subchoices=tuple(subs),
            )
        ]
    raise ValueError(f"unsupported option type {kind!r} in {path}")  # pragma: no cover
