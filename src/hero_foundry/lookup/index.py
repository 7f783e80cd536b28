"""Full-text search over the SRD catalogue: an in-memory SQLite FTS5 index, built once per process.

Two FTS5 tables share one connection:

- ``entries(name, text)``: one row per document (``documents.entries``), for ``/api/rules/search``.
  Ranked by bm25 with the name weighted ``NAME_WEIGHT`` times the text.
- ``passages(heading, text)``: the same documents cut at their markdown headings, for the rules
  assistant's retrieval. Ranked by bm25 with the heading weighted ``HEADING_WEIGHT`` times.

Both use the ``porter`` tokenizer ("grappling", "grappled" and "grapple" share one stem). A third,
contentless table with the plain ``unicode61`` tokenizer only feeds ``fts5vocab``: the words as
written, for prefix checks and typo correction.

User input never reaches FTS5 syntax: a query is reduced to its words (``\\w+``), each quoted as
a string, so quotes, ``*``, ``:``, ``-``, ``AND``, ``NEAR`` or parentheses are only text.
"""

from __future__ import annotations

import bisect
import difflib
import logging
import re
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from hero_foundry.lookup.documents import KINDS, Entry, chunks, entries
from hero_foundry.srd import Catalogue, get_catalogue

log = logging.getLogger("hero_foundry.lookup")

#: bm25 column weights: a match in the name counts this many times a match in the text.
NAME_WEIGHT = 10.0
TEXT_WEIGHT = 1.0
HEADING_WEIGHT = 2.0
#: Added to the score of an entry whose name is exactly the query (without a parenthesis such
#: as "(1 use)"), so "Shield" lists the Shield spell before "Spellguard Shield"; half of it when
#: the name starts with the query ("firebal" lists Fireball before "Necklace of Fireballs").
EXACT_NAME_BONUS = 5.0
#: Added to a passage whose entry's name is said in the question ("what does Fireball do").
NAMED_PASSAGE_BONUS = 5.0
#: Words of at least this length also match as a prefix ("grap" finds "grappled").
PREFIX_MIN = 3
#: A word that starts no indexed word is replaced by the closest one at least this similar.
CORRECTION_CUTOFF = 0.75
#: Words of a search used, at most, and misspelt words corrected per query, at most (each
#: correction compares the word with the whole vocabulary: about 10 ms).
MAX_TERMS = 24
MAX_CORRECTIONS = 5
SNIPPET_TOKENS = 24
MARK_OPEN, MARK_CLOSE, ELLIPSIS = "<mark>", "</mark>", "…"

_WORD = re.compile(r"[^\W_]+")  # letters and digits
_PARENTHESIS = re.compile(r"\s*\([^)]*\)")

SCHEMA = """
CREATE VIRTUAL TABLE entries USING fts5(
    name, text, tokenize = 'porter unicode61 remove_diacritics 2');
CREATE TABLE entry_meta (
    rowid INTEGER PRIMARY KEY, kind TEXT NOT NULL, idx TEXT NOT NULL, name TEXT NOT NULL,
    exact_name TEXT NOT NULL, level INTEGER, school TEXT, kind_order INTEGER NOT NULL);
CREATE TABLE entry_classes (rowid INTEGER NOT NULL, class TEXT NOT NULL);
CREATE INDEX entry_classes_class ON entry_classes (class, rowid);
CREATE VIRTUAL TABLE passages USING fts5(
    heading, text, tokenize = 'porter unicode61 remove_diacritics 2');
CREATE TABLE passage_meta (
    rowid INTEGER PRIMARY KEY, kind TEXT NOT NULL, idx TEXT NOT NULL, name TEXT NOT NULL,
    exact_name TEXT NOT NULL, section TEXT);
CREATE VIRTUAL TABLE words USING fts5(
    text, content = '', detail = 'none', tokenize = 'unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE word_counts USING fts5vocab(words, 'row');
"""


def fold(text: str) -> str:
    """Lower case without diacritics, as the ``unicode61 remove_diacritics 2`` tokenizer sees it."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The searchable words of ``text``: everything else (FTS5 syntax included) is dropped."""
    return _WORD.findall(fold(text))


def _quoted(term: str) -> str:
    # ``term`` is made of letters and digits only: it cannot contain a double quote.
    return f'"{term}"'


def _term_query(term: str) -> str:
    """An exact match scores on top of the prefix match ("fire" before "fireball")."""
    if len(term) < PREFIX_MIN or term.isdigit():
        return _quoted(term)
    return f"({_quoted(term)} OR {_quoted(term)}*)"


def _exact_name(name: str) -> str:
    return " ".join(words(_PARENTHESIS.sub("", name)))


def same_word(a: str, b: str) -> bool:
    """Whether two words are forms of one word, roughly: equal, or sharing all but the last three
    letters of the longer (and at least four): grappled/grappling, attack/attacks, rest/resting."""
    if a == b:
        return True
    shared = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        shared += 1
    return shared >= max(4, max(len(a), len(b)) - 3)


def mentions(phrase: Sequence[str], name: Sequence[str]) -> bool:
    """Whether the words of ``name`` occur in ``phrase``, in order and next to each other."""
    n = len(name)
    return n > 0 and any(
        all(same_word(a, b) for a, b in zip(phrase[i : i + n], name, strict=True))
        for i in range(len(phrase) - n + 1)
    )


@dataclass(frozen=True)
class Hit:
    kind: str
    index: str
    name: str
    snippet: str
    score: float


@dataclass(frozen=True)
class Page:
    hits: list[Hit]
    total: int


@dataclass(frozen=True)
class Passage:
    """A passage retrieved for the assistant, with its bm25 score (higher is better)."""

    kind: str
    index: str
    name: str
    section: str | None
    text: str
    score: float

    @property
    def title(self) -> str:
        return f"{self.name} — {self.section}" if self.section else self.name


class RuleIndex:
    """The search index; read-only once built, safe to share between threads."""

    def __init__(self, cat: Catalogue) -> None:
        started = time.perf_counter()
        self.attribution = cat.attribution
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], Entry] = {}
        self.passage_count = 0
        self._db.executescript(SCHEMA)
        with self._db:
            self._load(cat)
            self._db.execute("INSERT INTO entries(entries) VALUES ('optimize')")
            self._db.execute("INSERT INTO passages(passages) VALUES ('optimize')")
        self._vocabulary = sorted(self._db.execute("SELECT term, doc FROM word_counts"))
        self._terms = [term for term, _ in self._vocabulary]
        self._corrections: dict[str, str | None] = {}
        self.classes = frozenset(cat.tables["classes"])
        self.schools = frozenset(cat.tables["magic_schools"])
        self.build_seconds = time.perf_counter() - started
        log.info(
            "rules search index built: %d entries, %d passages, %d words in %.3f s",
            len(self._entries),
            self.passage_count,
            len(self._terms),
            self.build_seconds,
        )

    def _load(self, cat: Catalogue) -> None:
        order = {kind: n for n, kind in enumerate(KINDS)}
        entry_rows, meta_rows, class_rows, word_rows = [], [], [], []
        passage_rows, passage_meta_rows = [], []
        for entry in entries(cat):
            key = (entry.kind, entry.index)
            if key in self._entries:  # pragma: no cover - the data has no duplicates today
                log.warning("duplicate rules entry %s/%s skipped", *key)
                continue
            self._entries[key] = entry
            rowid = len(self._entries)
            entry_rows.append((rowid, entry.name, entry.text))
            meta_rows.append(
                (
                    rowid,
                    entry.kind,
                    entry.index,
                    entry.name,
                    _exact_name(entry.name),
                    entry.level,
                    entry.school,
                    order[entry.kind],
                )
            )
            class_rows += [(rowid, c) for c in entry.classes]
            word_rows.append((rowid, f"{entry.name}\n{entry.text}"))
            for chunk in chunks(entry):
                passage_id = len(passage_rows) + 1
                heading = f"{entry.name} {chunk.section}" if chunk.section else entry.name
                passage_rows.append((passage_id, heading, chunk.text))
                passage_meta_rows.append(
                    (
                        passage_id,
                        entry.kind,
                        entry.index,
                        entry.name,
                        meta_rows[-1][4],
                        chunk.section,
                    )
                )
        db = self._db
        db.executemany("INSERT INTO entries(rowid, name, text) VALUES (?, ?, ?)", entry_rows)
        db.executemany("INSERT INTO entry_meta VALUES (?, ?, ?, ?, ?, ?, ?, ?)", meta_rows)
        db.executemany("INSERT INTO entry_classes VALUES (?, ?)", class_rows)
        db.executemany("INSERT INTO words(rowid, text) VALUES (?, ?)", word_rows)
        db.executemany("INSERT INTO passages(rowid, heading, text) VALUES (?, ?, ?)", passage_rows)
        db.executemany("INSERT INTO passage_meta VALUES (?, ?, ?, ?, ?, ?)", passage_meta_rows)
        self.passage_count = len(passage_rows)

    # -- entries --------------------------------------------------------------------------------
    def entry(self, kind: str, index: str) -> Entry | None:
        return self._entries.get((kind, index))

    def __len__(self) -> int:
        return len(self._entries)

    # -- words ----------------------------------------------------------------------------------
    def is_known_prefix(self, term: str) -> bool:
        """Whether some indexed word starts with ``term`` (as written, not stemmed)."""
        at = bisect.bisect_left(self._terms, term)
        return at < len(self._terms) and self._terms[at].startswith(term)

    def closest_word(self, term: str) -> str | None:
        """The indexed word most similar to ``term`` (ties: the most frequent), if close enough."""
        if term not in self._corrections:
            if len(self._corrections) >= 10_000:  # bounded: queries are user input
                self._corrections.clear()
            self._corrections[term] = self._closest_word(term)
        return self._corrections[term]

    def _closest_word(self, term: str) -> str | None:
        best: tuple[float, int, str] | None = None
        matcher = difflib.SequenceMatcher(b=term, autojunk=False)
        for word, count in self._vocabulary:
            if abs(len(word) - len(term)) > 2 or word.isdigit():
                continue
            matcher.set_seq1(word)
            if matcher.real_quick_ratio() < CORRECTION_CUTOFF:
                continue
            if matcher.quick_ratio() < CORRECTION_CUTOFF:
                continue
            ratio = matcher.ratio()
            if ratio >= CORRECTION_CUTOFF and (best is None or (ratio, count) > best[:2]):
                best = (ratio, count, word)
        return best[2] if best else None

    def correct(self, terms: Sequence[str]) -> list[str]:
        """``terms`` with each word that starts no indexed word replaced by the closest one (the
        first ``MAX_CORRECTIONS`` such words; the others stay as they are)."""
        out = []
        budget = MAX_CORRECTIONS
        for term in terms:
            unknown = len(term) >= 3 and not term.isdigit() and not self.is_known_prefix(term)
            if unknown and budget > 0:
                budget -= 1
                term = self.closest_word(term) or term
            out.append(term)
        return out

    # -- search ---------------------------------------------------------------------------------
    def search(
        self,
        terms: Sequence[str],
        *,
        kind: str | None = None,
        level: int | None = None,
        class_: str | None = None,
        school: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> Page:
        """Entries matching every term (each also as a prefix), best first."""
        if not terms:
            return Page([], 0)
        match = " AND ".join(_term_query(t) for t in terms)
        where = ["entries MATCH :match"]
        params: dict[str, object] = {
            "match": match,
            "exact": " ".join(terms),
            "name_weight": NAME_WEIGHT,
            "text_weight": TEXT_WEIGHT,
            "bonus": EXACT_NAME_BONUS,
            "open": MARK_OPEN,
            "close": MARK_CLOSE,
            "ellipsis": ELLIPSIS,
            "tokens": SNIPPET_TOKENS,
            "limit": limit,
            "offset": offset,
        }
        for column, value in (("kind", kind), ("level", level), ("school", school)):
            if value is not None:
                where.append(f"m.{column} = :{column}")
                params[column] = value
        if class_ is not None:
            where.append(
                "EXISTS (SELECT 1 FROM entry_classes c WHERE c.rowid = m.rowid AND c.class = :cls)"
            )
            params["cls"] = class_
        condition = " AND ".join(where)
        with self._lock:
            total = self._db.execute(
                f"SELECT count(*) FROM entries JOIN entry_meta m ON m.rowid = entries.rowid "
                f"WHERE {condition}",
                params,
            ).fetchone()[0]
            rows = self._db.execute(
                f"""
                SELECT m.kind, m.idx, m.name,
                       snippet(entries, 1, :open, :close, :ellipsis, :tokens),
                       -bm25(entries, :name_weight, :text_weight)
                         + (CASE WHEN m.exact_name = :exact THEN :bonus
                                 WHEN substr(m.exact_name, 1, length(:exact)) = :exact
                                 THEN :bonus / 2 ELSE 0 END) AS score
                FROM entries JOIN entry_meta m ON m.rowid = entries.rowid
                WHERE {condition}
                ORDER BY score DESC, m.kind_order, m.idx
                LIMIT :limit OFFSET :offset
                """,
                params,
            ).fetchall()
        return Page([Hit(k, i, n, s, round(score, 4)) for k, i, n, s, score in rows], total)

    def passages(
        self,
        terms: Iterable[str],
        *,
        phrase: Sequence[str] = (),
        boost: frozenset[tuple[str, str]] = frozenset(),
        boost_factor: float = 1.5,
        limit: int = 4,
        min_ratio: float = 0.0,
        candidates: int = 60,
    ) -> list[Passage]:
        """The best passages for any of ``terms``, at most one per entry.

        A passage matching only by its heading is left out unless its entry is named in
        ``phrase`` (the question's words): "Grappling Hook" is no answer to "how does grappling
        work?". A passage whose entry is named gets ``NAMED_PASSAGE_BONUS``; passages of the
        entries in ``boost`` (a character's own features and spells) then score
        ``boost_factor`` times higher. Passages scoring less than ``min_ratio`` times the best
        one are left out."""
        terms = list(dict.fromkeys(terms))
        if not terms:
            return []
        match = " OR ".join(_quoted(t) for t in terms)
        with self._lock:
            rows = self._db.execute(
                """
                SELECT p.rowid, p.kind, p.idx, p.name, p.exact_name, p.section, passages.text,
                       -bm25(passages, :heading_weight, :text_weight) AS score
                FROM passages JOIN passage_meta p ON p.rowid = passages.rowid
                WHERE passages MATCH :match
                ORDER BY score DESC, p.rowid
                LIMIT :candidates
                """,
                {
                    "match": match,
                    "heading_weight": HEADING_WEIGHT,
                    "text_weight": TEXT_WEIGHT,
                    "candidates": candidates,
                },
            ).fetchall()
            in_text = self._text_matches(match, [row[0] for row in rows])
        found = []
        for rowid, kind, index, name, exact_name, section, text, score in rows:
            if mentions(phrase, exact_name.split()):
                score += NAMED_PASSAGE_BONUS
            elif rowid not in in_text:
                continue
            if (kind, index) in boost:
                score *= boost_factor
            found.append(Passage(kind, index, name, section, text, round(score, 4)))
        found.sort(key=lambda p: -p.score)
        best: dict[tuple[str, str], Passage] = {}
        for passage in found:
            best.setdefault((passage.kind, passage.index), passage)
        chosen = list(best.values())[:limit]
        return [p for p in chosen if p.score >= min_ratio * chosen[0].score] if chosen else []

    def _text_matches(self, match: str, rowids: list[int]) -> set[int]:
        """Which of the passages ``rowids`` match ``match`` in their text, not only heading."""
        if not rowids:
            return set()
        marks = ", ".join("?" * len(rowids))
        return {
            rowid
            for (rowid,) in self._db.execute(
                f"SELECT rowid FROM passages WHERE passages MATCH ? AND rowid IN ({marks})",
                [f"text : ({match})", *rowids],
            )
        }


@cache
def get_index() -> RuleIndex:
    """The process-wide index (built on first use from the process-wide catalogue)."""
    return RuleIndex(get_catalogue())
