"""The rules assistant's use case: retrieve SRD passages for a question, have the provider answer
from them, cite them. ``answer()`` is the one place an AI query succeeds or fails."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from hero_foundry import drills
from hero_foundry.accounts.models import User
from hero_foundry.assistant.providers import (
    CharacterBrief,
    Provider,
    ProviderUnavailable,
    Question,
    Reply,
)
from hero_foundry.assistant.schemas import AskRequest, AskResponse, Citation
from hero_foundry.characters.service import character_view, get_character
from hero_foundry.lookup.index import RuleIndex, words
from hero_foundry.lookup.service import entry_url
from hero_foundry.observability.tracking import track
from hero_foundry.problems import ProblemError
from hero_foundry.srd import Catalogue

log = logging.getLogger("hero_foundry.assistant")

#: Passages given to the provider, at most, and the share of the best one's score a passage
#: needs to be kept (weak matches only dilute the answer).
PASSAGES = 4
#: Distinct keywords of a question searched for, at most.
MAX_KEYWORDS = 32
MIN_SCORE_RATIO = 0.5
#: Words that carry no meaning for retrieval: English function words and question fillers.
_STOP_WORDS = """
    a about after again all also am an and any are as at be been before being but by can could
    did do does doing done during each either else for from get gets got had has have having he
    her here him his how i if in into is it its itself just let may me mean means might more most
    must my myself no nor not now of off on once only or other our out over own please rule rules
    same say says she should so some such tell than that the their them then there these they
    this those through to too under until up upon us use uses using very was way we were what
    when where whether which while who whom why will with work works would you your yours
    explain explains happen happens happening
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())
#: The failure the ``ai_failing`` drill makes every provider call end with.
DRILL_FAILURE = "the provider failed (drill: ai_failing)"
NOTHING_FOUND = (
    "I found nothing in the SRD 5.1 about that. Ask with the name of a rule, condition, spell, "
    "feature or item (for example: How does grappling work?)."
)


def _index_of(value: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("index")
    return value if isinstance(value, str) else None


def character_brief(cat: Catalogue, view: dict[str, Any]) -> CharacterBrief:
    """The character as the assistant sees it, from ``characters.service.character_view``."""
    sheet = view.get("sheet") or {}
    owned: set[tuple[str, str]] = set()
    features = []
    for feature in sheet.get("features", []):
        kind = {"class": "feature", "race": "trait"}.get(feature.get("source", ""))
        if kind:
            owned.add((kind, feature["index"]))
            features.append(feature["name"])
    casting = sheet.get("spellcasting") or {}
    spell_refs = [
        spell
        for per_class in casting.get("classes", [])
        for key in ("cantrips", "spells_known", "prepared", "always_prepared", "mystic_arcanum")
        for spell in per_class.get(key, [])
    ]
    spell_refs += sheet.get("racial_spells", [])
    spells = []
    for ref in spell_refs:
        index = _index_of(ref)
        if index and cat.has("spells", index) and ("spell", index) not in owned:
            owned.add(("spell", index))
            spells.append(cat.name("spells", index))

    def name(table: str, index: str | None) -> str | None:
        return cat.name(table, index) if index and cat.has(table, index) else None

    return CharacterBrief(
        name=view.get("name") or "Your character",
        level=int(view.get("level") or sheet.get("level") or 1),
        race=name("subraces", view.get("subrace")) or name("races", view.get("race")),
        class_name=multiclass_label(sheet) or name("classes", view.get("class")),
        subclass=name("subclasses", view.get("subclass")),
        features=tuple(features),
        spells=tuple(spells),
        owned=frozenset(owned),
    )


def multiclass_label(sheet: dict[str, Any]) -> str | None:
    """ "Fighter 2 / Wizard 1" for a multiclass character; None for a single class."""
    classes = sheet.get("classes", [])
    if len(classes) < 2:
        return None
    return " / ".join(f"{c['name']} {c['level']}" for c in classes)


def prepare(index: RuleIndex, text: str, character: CharacterBrief | None) -> Question:
    """The question's keywords (stop-words and the character's name dropped, typos corrected)
    and the best passages for them, the character's own entries first."""
    name = set(words(character.name)) if character else set()
    said = words(text)
    corrected = iter(index.correct([w for w in said if w not in name]))
    said = [w if w in name else next(corrected) for w in said]
    meaningful = (w for w in said if w not in STOP_WORDS and w not in name)
    keywords = tuple(dict.fromkeys(meaningful))[:MAX_KEYWORDS]
    passages = index.passages(
        keywords,
        phrase=said,
        boost=character.owned if character else frozenset(),
        limit=PASSAGES,
        min_ratio=MIN_SCORE_RATIO,
    )
    return Question(text, keywords, tuple(passages), character)


def unavailable(exc: ProviderUnavailable) -> ProblemError:
    headers = None
    if exc.retry_after is not None:
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
    return ProblemError(
        503,
        f"The AI rules assistant is unavailable right now: {exc.reason}.",
        title="AI rules assistant unavailable",
        headers=headers,
    )


async def answer(provider: Provider, question: Question) -> Reply:
    """Ask the provider. THE one place where an AI query's outcome and duration are decided:
    the planned ``ai_queries_total``, ``ai_query_success_total``, ``ai_query_failure_total``
    and ``ai_query_duration_seconds`` are recorded here by ``track("ai_query")``."""
    with track("ai_query"):
        return await _answer(provider, question)


async def _answer(provider: Provider, question: Question) -> Reply:
    started = time.perf_counter()
    try:
        if question.passages:
            if drills.ai_failing():  # fault drill (docs/drills.md): the provider is down
                raise ProviderUnavailable(DRILL_FAILURE)
            reply = await provider.answer(question)
        else:
            reply = Reply(NOTHING_FOUND, ())  # nothing to answer from: the model is not asked
    except Exception as exc:
        elapsed = time.perf_counter() - started
        if isinstance(exc, ProviderUnavailable):
            failure = exc
        else:  # a bug in a provider: logged with its stack trace, still a 503 and not a 500
            log.exception("assistant provider %s crashed", provider.name)
            failure = ProviderUnavailable("the provider failed unexpectedly")
        log.warning(
            "assistant question failed after %.3f s (provider %s): %s",
            elapsed,
            provider.name,
            failure.reason,
        )
        raise unavailable(failure) from exc
    elapsed = time.perf_counter() - started
    log.info("assistant question answered in %.3f s (provider %s)", elapsed, provider.name)
    return reply


async def ask(
    db: AsyncSession,
    user: User,
    cat: Catalogue,
    index: RuleIndex,
    provider: Provider,
    request: AskRequest,
) -> AskResponse:
    """Answer ``request.question`` from the SRD, for one of ``user``'s characters if given."""
    character = None
    if request.character_id is not None:
        view = character_view(cat, await get_character(db, user, request.character_id))
        character = character_brief(cat, view)
    # The provider may take seconds: end the transaction now (it only read) so that no pooled
    # connection waits idle in it meanwhile.
    await db.commit()
    # Retrieval is synchronous SQLite work (a few ms): keep it off the event loop.
    question = await run_in_threadpool(prepare, index, request.question, character)
    reply = await answer(provider, question)
    citations = [
        Citation(
            n=n,
            kind=p.kind,
            index=p.index,
            name=p.name,
            section=p.section,
            url=entry_url(p.kind, p.index),
        )
        for n, p in enumerate(question.passages, start=1)
        if n in reply.cited
    ]
    return AskResponse(answer=reply.text, citations=citations, provider=provider.name)
