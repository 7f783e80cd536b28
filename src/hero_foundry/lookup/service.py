"""Rule lookups: a search, or one entry by kind and index.

Every lookup goes through ``lookup()``: the single place where ``rule_lookups_total{type}`` is
counted.
"""

from __future__ import annotations

from dataclasses import dataclass

from hero_foundry.lookup.documents import KINDS
from hero_foundry.lookup.index import MAX_TERMS, RuleIndex, words
from hero_foundry.lookup.schemas import RuleEntry, SearchItem, SearchPage
from hero_foundry.observability.tracking import count_rule_lookup
from hero_foundry.problems import ProblemError, invalid
from hero_foundry.srd.catalogue import strip_urls


@dataclass(frozen=True)
class Search:
    """``GET /api/rules/search``: ``q`` and the optional filters."""

    q: str
    kind: str | None = None
    level: int | None = None
    class_: str | None = None
    school: str | None = None
    limit: int = 20
    offset: int = 0


@dataclass(frozen=True)
class EntryLookup:
    """``GET /api/rules/{kind}/{index}``."""

    kind: str
    index: str


def entry_url(kind: str, index: str) -> str:
    return f"/api/rules/{kind}/{index}"


def lookup(index: RuleIndex, request: Search | EntryLookup) -> SearchPage | RuleEntry:
    """Run one rule lookup. Instrument here: every search and every entry lookup passes through
    this function (a ``ProblemError`` is a refused lookup: 404 or 422)."""
    if isinstance(request, Search):
        count_rule_lookup("search")
        return _search(index, request)
    count_rule_lookup("entry")
    return _entry(index, request)


def _check_filters(index: RuleIndex, request: Search) -> list[dict[str, str]]:
    errors = []
    if request.class_ is not None and request.class_ not in index.classes:
        errors.append(
            {
                "field": "query.class",
                "reason": f"unknown class {request.class_!r}; one of "
                + ", ".join(sorted(index.classes)),
            }
        )
    if request.school is not None and request.school not in index.schools:
        errors.append(
            {
                "field": "query.school",
                "reason": f"unknown school {request.school!r}; one of "
                + ", ".join(sorted(index.schools)),
            }
        )
    if request.kind not in (None, "spell"):
        for name, value in (("level", request.level), ("school", request.school)):
            if value is not None:
                errors.append(
                    {"field": f"query.{name}", "reason": f"{name} only filters kind=spell"}
                )
    return errors


def _search(index: RuleIndex, request: Search) -> SearchPage:
    errors = _check_filters(index, request)
    terms = words(request.q)[:MAX_TERMS]
    if not terms:
        errors.insert(0, {"field": "query.q", "reason": "no letters or digits to search for"})
    if errors:
        raise invalid(errors)
    corrected = index.correct(terms)
    page = index.search(
        corrected,
        kind=request.kind,
        level=request.level,
        class_=request.class_,
        school=request.school,
        limit=request.limit,
        offset=request.offset,
    )
    return SearchPage(
        query=request.q,
        corrected_query=" ".join(corrected) if corrected != terms else None,
        items=[
            SearchItem(
                kind=h.kind,
                index=h.index,
                name=h.name,
                snippet=h.snippet,
                score=h.score,
                url=entry_url(h.kind, h.index),
            )
            for h in page.hits
        ],
        total=page.total,
        limit=request.limit,
        offset=request.offset,
        attribution=index.attribution,
    )


def _entry(index: RuleIndex, request: EntryLookup) -> RuleEntry:
    if request.kind not in KINDS:
        raise ProblemError(
            404, f"No rules entries of kind {request.kind!r}; kinds: {', '.join(KINDS)}"
        )
    entry = index.entry(request.kind, request.index)
    if entry is None:
        raise ProblemError(404, f"No {request.kind} {request.index!r} in the SRD 5.1")
    return RuleEntry(
        kind=entry.kind,
        index=entry.index,
        name=entry.name,
        text=entry.text,
        data=strip_urls(entry.data),
        attribution=index.attribution,
    )
