"""The PDF character sheet: our own layout (not the publisher's sheet), drawn with reportlab.

A4 portrait, one page for most characters and two for high levels: the identity line, a strip
of combat numbers, abilities with saving throws beside the 18 skills, spellcasting per class,
proficiencies and languages, equipment and money, features (name, source and the first
sentence of their SRD text), personality and notes, and the SRD attribution.

Fonts: DejaVu Sans from the system when installed, else Bitstream Vera, which ships inside
reportlab; either way a TrueType font with curly quotes, dashes and "×". Any character the font
lacks is replaced (see :func:`clean`), so a name in another script prints as ``?`` rather than
as an empty box or an error.
"""

from __future__ import annotations

import io
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import reportlab
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import Flowable

from hero_foundry import __version__
from hero_foundry.exports.document import Snapshot, utc_timestamp
from hero_foundry.srd import Catalogue

#: Where a system's DejaVu fonts usually are (Debian/Ubuntu, Fedora, Arch, Alpine).
SYSTEM_FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu-sans-fonts",
    "/usr/share/fonts/TTF",
    "/usr/share/fonts/dejavu",
)
REPORTLAB_FONTS = Path(reportlab.__file__).parent / "fonts"
#: Replacements for characters the font may lack, before falling back to "?".
REPLACEMENTS = {
    "‘": "'",
    "’": "'",
    "“": '"',
    "”": '"',
    "–": "-",
    "—": "-",
    "…": "...",
    "×": "x",
    "•": "*",
    "−": "-",
    "\u00a0": " ",
}
ORDINALS = {1: "1st", 2: "2nd", 3: "3rd"}
FEATURE_TEXT = 150  # characters of a feature's first sentence
PERSONALITY_TEXT = 160  # characters of each trait, ideal, bond and flaw
BACKSTORY_TEXT = 700
NOTES_TEXT = 1200
INK = colors.HexColor("#222222")
RULE = colors.HexColor("#8a1c1c")
SHADE = colors.HexColor("#f1ece4")


@dataclass(frozen=True)
class Fonts:
    regular: str
    bold: str
    glyphs: frozenset[int]
    source: str


_lock = threading.Lock()
_fonts: Fonts | None = None


def fonts() -> Fonts:
    """Register the sheet's TrueType fonts once per process."""
    global _fonts
    with _lock:
        if _fonts is None:
            regular, bold = _font_files()
            pdfmetrics.registerFont(TTFont("HeroSheet", str(regular)))
            pdfmetrics.registerFont(TTFont("HeroSheet-Bold", str(bold)))
            pdfmetrics.registerFontFamily(
                "HeroSheet",
                normal="HeroSheet",
                bold="HeroSheet-Bold",
                italic="HeroSheet",
                boldItalic="HeroSheet-Bold",
            )
            face = pdfmetrics.getFont("HeroSheet").face  # type: ignore[attr-defined]
            _fonts = Fonts("HeroSheet", "HeroSheet-Bold", frozenset(face.charToGlyph), regular.name)
        return _fonts


def _font_files() -> tuple[Path, Path]:
    for directory in SYSTEM_FONT_DIRS:
        regular, bold = Path(directory, "DejaVuSans.ttf"), Path(directory, "DejaVuSans-Bold.ttf")
        if regular.is_file() and bold.is_file():
            return regular, bold
    return REPORTLAB_FONTS / "Vera.ttf", REPORTLAB_FONTS / "VeraBd.ttf"


def clean(text: str) -> str:
    """``text`` with only characters the font can draw, XML-escaped for a Paragraph."""
    glyphs = fonts().glyphs
    out = []
    for ch in str(text):
        if ch in "\n\t\r":
            out.append(" ")
        elif ord(ch) in glyphs:
            out.append(ch)
        else:
            out.append(REPLACEMENTS.get(ch, "?") if ord(ch) >= 32 else "")
    return escape("".join(out))


def signed(n: int) -> str:
    return f"+{n}" if n >= 0 else f"-{-n}"


def ordinal(n: int) -> str:
    return ORDINALS.get(n, f"{n}th")


def shorten(text: str, limit: int) -> str:
    """The first sentence of ``text``, at most ``limit`` characters (cut at a word)."""
    text = " ".join(text.split())
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    first = match.group(1) if match else text
    if len(first) <= limit:
        return first
    return first[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "..."


def truncated(text: str, limit: int, where: str) -> str:
    """``text`` cut at a word after at most ``limit`` characters, saying where the rest is."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut + (f" ... (continued in the {where})" if where else "...")


class Styles:
    def __init__(self, f: Fonts) -> None:
        base = ParagraphStyle("body", fontName=f.regular, fontSize=7.8, leading=9.4, textColor=INK)
        self.body = base
        self.small = ParagraphStyle("small", parent=base, fontSize=6.8, leading=8.2)
        self.title = ParagraphStyle("title", parent=base, fontName=f.bold, fontSize=17, leading=20)
        self.subtitle = ParagraphStyle("subtitle", parent=base, fontSize=9, leading=11.5)
        self.heading = ParagraphStyle(
            "heading",
            parent=base,
            fontName=f.bold,
            fontSize=9,
            leading=11,
            textColor=RULE,
            spaceBefore=5,
            spaceAfter=2,
        )
        self.label = ParagraphStyle(
            "label", parent=base, fontSize=6.5, leading=8, alignment=TA_CENTER
        )
        self.big = ParagraphStyle(
            "big", parent=base, fontName=f.bold, fontSize=14, leading=16, alignment=TA_CENTER
        )
        self.cell = ParagraphStyle("cell", parent=base, fontSize=7.8, leading=9.2)
        self.cell_bold = ParagraphStyle("cell_bold", parent=self.cell, fontName=f.bold)


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    """A paragraph of plain (player or SRD) text, cleaned for the font and escaped."""
    return Paragraph(clean(text), style)


def _grid(data: list[list[Any]], widths: list[float], header: bool = True) -> Table:
    table = Table(data, colWidths=widths, hAlign="LEFT")
    style = [
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), 2),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2),
        ("TOPPADDING", (0, 0), (-1, -1), 1),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#cfc6b8")),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), SHADE))
    table.setStyle(TableStyle(style))
    return table


class SheetBuilder:
    """Turns a snapshot and its derived sheet into platypus flowables."""

    def __init__(self, cat: Catalogue, snap: Snapshot) -> None:
        self.cat = cat
        self.snap = snap
        self.state = snap.state
        self.sheet = snap.sheet(cat)
        self.s = Styles(fonts())
        self.width = A4[0] - 24 * mm

    def name_of(self, table: str, index: str | None) -> str:
        if not index:
            return ""
        return self.cat.name(table, index) if self.cat.has(table, index) else index

    def spell_names(self, indices: list[str]) -> str:
        return ", ".join(self.name_of("spells", i) for i in indices)

    def heading(self, text: str) -> Paragraph:
        return _p(text.upper(), self.s.heading)

    # -- sections ---------------------------------------------------------------------------
    def identity(self) -> list[Flowable]:
        sh = self.sheet
        race = sh["race"]["name"]
        if sh["subrace"]:
            race = f"{sh['subrace']['name']} ({race})"
        classes = " / ".join(
            f"{c['name']} {c['level']}"
            + (f" ({self.name_of('subclasses', c['subclass'])})" if c["subclass"] else "")
            for c in sh["classes"]
        )
        details = self.state.details
        parts = [
            f"Level {sh['level']}",
            race,
            classes,
            f"Background: {self.name_of('backgrounds', sh['background'])}",
            f"Alignment: {self.name_of('alignments', details.get('alignment'))}",
        ]
        return [_p(self.snap.name, self.s.title), _p(" · ".join(parts), self.s.subtitle)]

    def combat(self) -> Flowable:
        sh = self.sheet
        ac = sh["armor_class"]
        cells = [
            ("Armor Class", str(ac["value"]), ac["source"]),
            (
                "Hit Points",
                str(sh["hit_points"]["max"]),
                f"Hit dice {sh['hit_points']['hit_dice']}",
            ),
            ("Initiative", signed(sh["initiative"]), "Dexterity"),
            ("Speed", f"{sh['speed']} ft", "walking"),
            ("Proficiency", signed(sh["proficiency_bonus"]), "bonus"),
            ("Passive Perception", str(sh["passive_perception"]), "10 + Perception"),
            ("Level", str(sh["level"]), "character level"),
        ]
        row = [
            [_p(label, self.s.label), _p(value, self.s.big), _p(note, self.s.label)]
            for label, value, note in cells
        ]
        widths = [self.width / len(cells)] * len(cells)
        table = Table([row], colWidths=widths)
        table.setStyle(
            TableStyle(
                [
                    ("BOX", (0, 0), (-1, -1), 0.6, RULE),
                    ("INNERGRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#cfc6b8")),
                    ("BACKGROUND", (0, 0), (-1, -1), SHADE),
                    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                    ("TOPPADDING", (0, 0), (-1, -1), 2),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                ]
            )
        )
        notes = [_p(f"Note: {n}", self.s.small) for n in ac.get("notes", [])]
        return KeepTogether([table, *notes])

    def abilities_and_skills(self) -> Table:
        sh, s = self.sheet, self.s
        names = {a["index"]: a["full_name"] for a in self.cat.all("ability_scores")}
        rows: list[list[Any]] = [
            [_p(h, s.cell_bold) for h in ("Ability", "Score", "Mod", "Save")],
        ]
        for ability, value in sh["abilities"].items():
            save = sh["saving_throws"][ability]
            mark = "* " if save["proficient"] else ""
            rows.append(
                [
                    _p(names.get(ability, ability), s.cell),
                    _p(str(value["score"]), s.cell_bold),
                    _p(signed(value["modifier"]), s.cell),
                    _p(f"{mark}{signed(save['bonus'])}", s.cell),
                ]
            )
        left_w = self.width * 0.36
        abilities = _grid(rows, [left_w * 0.46, left_w * 0.18, left_w * 0.16, left_w * 0.2])
        skills = list(sh["skills"].values())
        half = (len(skills) + 1) // 2
        right_w = self.width - left_w - 4 * mm
        col = right_w / 2
        skill_rows: list[list[Any]] = [
            [_p("Skill", s.cell_bold), _p("", s.cell), _p("Skill", s.cell_bold), _p("", s.cell)]
        ]
        for i in range(half):
            row: list[Any] = []
            for skill in (skills[i], skills[i + half] if i + half < len(skills) else None):
                if skill is None:
                    row += [_p("", s.cell), _p("", s.cell)]
                    continue
                mark = "** " if skill["expertise"] else "* " if skill["proficient"] else ""
                row += [
                    _p(f"{mark}{skill['name']} ({skill['ability'].title()})", s.cell),
                    _p(signed(skill["bonus"]), s.cell_bold),
                ]
            skill_rows.append(row)
        skills_table = _grid(skill_rows, [col * 0.82, col * 0.18, col * 0.82, col * 0.18])
        outer = Table([[abilities, skills_table]], colWidths=[left_w + 4 * mm, right_w])
        outer.setStyle(
            TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 0),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ]
            )
        )
        return outer

    def spellcasting(self) -> list[Flowable]:
        casting = self.sheet["spellcasting"]
        racial = self.sheet.get("racial_spells") or []
        if not casting and not racial:
            return []
        s = self.s
        out: list[Flowable] = [self.heading("Spellcasting")]
        if casting:
            rows: list[list[Any]] = [
                [
                    _p(h, s.cell_bold)
                    for h in ("Class", "Ability", "Save DC", "Attack", "Max prepared")
                ]
            ]
            for c in casting["classes"]:
                rows.append(
                    [
                        _p(self.name_of("classes", c["class"]), s.cell),
                        _p(c["ability"].upper(), s.cell),
                        _p(str(c["save_dc"]), s.cell_bold),
                        _p(signed(c["attack_bonus"]), s.cell_bold),
                        _p("-" if c["max_prepared"] is None else str(c["max_prepared"]), s.cell),
                    ]
                )
            w = self.width / 5
            out.append(_grid(rows, [w] * 5))
            slots = casting["slots"]
            line = (
                " · ".join(f"{ordinal(int(lvl))}: {n}" for lvl, n in sorted(slots.items()))
                if slots
                else "none"
            )
            text = f"<b>Spell slots</b> {clean(line)}"
            pact = casting["pact_magic"]
            if pact:
                text += (
                    f" &nbsp; <b>Pact magic</b> {pact['slots']} slot(s) of "
                    f"{ordinal(pact['level'])} level"
                )
            out.append(Paragraph(text, s.body))
            for c in casting["classes"]:
                lists = [
                    ("Cantrips", c["cantrips"]),
                    ("Spellbook" if c["class"] == "wizard" else "Known", c["spells_known"]),
                    ("Prepared", c["prepared"]),
                    ("Always prepared", c["always_prepared"]),
                    ("Mystic Arcanum", c["mystic_arcanum"]),
                ]
                body = "; ".join(
                    f"<b>{name}</b> {clean(self.spell_names(items))}"
                    for name, items in lists
                    if items
                )
                if body:
                    head = clean(self.name_of("classes", c["class"]))
                    out.append(Paragraph(f"<b>{head}:</b> {body}", s.body))
        if racial:
            names = clean(self.spell_names(racial))
            out.append(Paragraph(f"<b>Racial:</b> {names}", s.body))
        return out

    def proficiencies(self) -> list[Flowable]:
        s = self.s
        out: list[Flowable] = [self.heading("Proficiencies and languages")]
        for kind, items in self.sheet["proficiencies"].items():
            if kind in ("Skills", "Saving Throws"):
                continue  # shown in the tables above
            names = clean(", ".join(i["name"] for i in items))
            out.append(Paragraph(f"<b>{clean(kind)}:</b> {names}", s.body))
        languages = clean(", ".join(lang["name"] for lang in self.sheet["languages"]))
        out.append(Paragraph(f"<b>Languages:</b> {languages or 'none'}", s.body))
        if self.sheet["feats"]:
            feats = clean(", ".join(self.name_of("feats", f) for f in self.sheet["feats"]))
            out.append(Paragraph(f"<b>Feats:</b> {feats}", s.body))
        return out

    def equipment(self) -> list[Flowable]:
        s = self.s
        items = []
        for item in self.snap.inventory:
            text = item["name"]
            if item["quantity"] > 1:
                text += f" ×{item['quantity']}"
            if item["equipped"]:
                text += " (equipped)"
            items.append(text)
        money = self.snap.currency
        coins = " · ".join(f"{money.get(c, 0)} {c}" for c in ("pp", "gp", "ep", "sp", "cp"))
        return [
            self.heading("Equipment"),
            Paragraph(clean(", ".join(items) or "nothing"), s.body),
            Paragraph(f"<b>Money:</b> {clean(coins)}", s.body),
        ]

    def features(self) -> list[Flowable]:
        """Features, a feature gained again at later levels (an Ability Score Improvement)
        listed once with all its levels."""
        s = self.s
        grouped: dict[tuple[str, str, str], list[Any]] = {}
        for f in self.sheet["features"]:
            source = f["source"]
            owner = self.name_of("classes", f.get("class")) if source == "class" else source.title()
            entry = grouped.setdefault((f["name"], source, owner), [f, []])
            if f.get("level"):
                entry[1].append(str(f["level"]))
        cells = []
        for (name, _, owner), (f, levels) in grouped.items():
            where = f"{owner} {', '.join(levels)}".strip()
            desc = f.get("desc") or []
            first = desc[0] if isinstance(desc, list) and desc else str(desc or "")
            text = f"<b>{clean(name)}</b> <font size=6.5>({clean(where)})</font>"
            if first:
                text += f" {clean(shorten(first, FEATURE_TEXT))}"
            cells.append(Paragraph(text, s.small))
        if not cells:
            return []
        if len(cells) % 2:
            cells.append(Paragraph("", s.small))
        rows = [cells[i : i + 2] for i in range(0, len(cells), 2)]
        table = Table(rows, colWidths=[self.width / 2] * 2, hAlign="LEFT")
        table.setStyle(
            TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 2),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 4),
                    ("TOPPADDING", (0, 0), (-1, -1), 1),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                ]
            )
        )
        return [self.heading("Features and traits"), table]

    def personality(self) -> list[Flowable]:
        s = self.s
        details = self.state.details
        out: list[Flowable] = []
        for key, label in (
            ("personality_traits", "Traits"),
            ("ideals", "Ideals"),
            ("bonds", "Bonds"),
            ("flaws", "Flaws"),
        ):
            values = [truncated(v, PERSONALITY_TEXT, "") for v in details.get(key) or []]
            if values:
                out.append(Paragraph(f"<b>{label}:</b> {clean(' / '.join(values))}", s.body))
        if details.get("backstory"):
            text = truncated(details["backstory"], BACKSTORY_TEXT, "JSON export")
            out.append(Paragraph(f"<b>Backstory:</b> {clean(text)}", s.body))
        if self.snap.notes.strip():
            text = truncated(self.snap.notes, NOTES_TEXT, "JSON export")
            out.append(Paragraph(f"<b>Notes:</b> {clean(text)}", s.body))
        return [self.heading("Personality and notes"), *out] if out else []

    def flowables(self, now: datetime) -> list[Flowable]:
        out: list[Flowable] = [
            *self.identity(),
            Spacer(1, 3 * mm),
            self.combat(),
            Spacer(1, 2 * mm),
            self.heading("Abilities, saving throws and skills"),
            self.abilities_and_skills(),
            _p("* proficient  ** expertise", self.s.small),
            *self.spellcasting(),
            *self.proficiencies(),
            *self.equipment(),
            *self.features(),
            *self.personality(),
            Spacer(1, 3 * mm),
            _p(self.cat.attribution, self.s.small),
            _p(
                f"Generated by The Hero Foundry {__version__} on {utc_timestamp(now)}.",
                self.s.small,
            ),
        ]
        return out


def render(cat: Catalogue, snap: Snapshot, now: datetime) -> bytes:
    """The sheet as PDF bytes (built completely in memory)."""
    builder = SheetBuilder(cat, snap)
    buffer = io.BytesIO()
    f = fonts()

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(f.regular, 6.5)
        canvas.setFillColor(colors.grey)
        canvas.drawString(12 * mm, 7 * mm, clean_plain(f"{snap.name} · The Hero Foundry"))
        canvas.drawRightString(A4[0] - 12 * mm, 7 * mm, f"page {doc.page}")
        canvas.restoreState()

    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=11 * mm,
        bottomMargin=12 * mm,
        title=clean_plain(snap.name),
        author="The Hero Foundry",
        subject="D&D 5e character sheet (SRD 5.1)",
        creator=f"The Hero Foundry {__version__}",
    )
    doc.build(builder.flowables(now), onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def clean_plain(text: str) -> str:
    """Like :func:`clean`, without XML escaping (for canvas strings and metadata)."""
    glyphs = fonts().glyphs
    return "".join(
        ch if ord(ch) in glyphs else REPLACEMENTS.get(ch, "?") for ch in str(text) if ord(ch) >= 32
    )
