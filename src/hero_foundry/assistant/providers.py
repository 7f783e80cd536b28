"""Who writes the assistant's answer from the retrieved SRD passages.

- ``LocalProvider`` (``assistant_provider=local``, the default): offline; the answer is made of
  each passage's sentences that share the most words with the question.
- ``OpenAIProvider`` (``assistant_provider=openai``): any OpenAI-compatible
  ``POST {base_url}/v1/chat/completions`` endpoint, with a per-attempt timeout, bounded retries
  with exponential backoff, and a circuit breaker.

A provider that cannot answer raises ``ProviderUnavailable``; it never lets an HTTP or parsing
error escape.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from hero_foundry import __version__
from hero_foundry.assistant.breaker import BreakerOpen, CircuitBreaker
from hero_foundry.lookup.index import Passage, same_word, words
from hero_foundry.settings import Settings

log = logging.getLogger("hero_foundry.assistant")

#: Sentences of one passage the local provider quotes, at most.
SENTENCES_PER_PASSAGE = 3
OWN_WORDS = {"spell": "spells", "trait": "racial traits", "feature": "features"}
#: Characters of one passage sent to a model, at most.
PROMPT_PASSAGE_CHARS = 2000

SYSTEM_PROMPT = (
    "You are the rules assistant of The Hero Foundry, a Dungeons & Dragons 5e character builder. "
    "Answer the player's question using only the numbered SRD 5.1 passages in their message, "
    "never other knowledge. Cite each passage you rely on by its number in square brackets, "
    "like [1]. If the passages do not answer the question, say so. When a character is "
    "described, answer for that character. Keep the answer short: a few sentences."
)


@dataclass(frozen=True)
class CharacterBrief:
    """What the assistant knows of the asking player's character."""

    name: str
    level: int
    race: str | None
    class_name: str | None
    subclass: str | None
    features: tuple[str, ...] = ()
    spells: tuple[str, ...] = ()
    #: ``(kind, index)`` of the character's own features, racial traits and spells.
    owned: frozenset[tuple[str, str]] = frozenset()

    def line(self) -> str:
        """For example "Brottor is a level 1 Hill Dwarf Cleric (Life)."."""
        who = " ".join(p for p in (self.race, self.class_name) if p) or "character"
        sub = f" ({self.subclass})" if self.subclass else ""
        return f"{self.name} is a level {self.level} {who}{sub}."


@dataclass(frozen=True)
class Question:
    """A question with everything a provider needs to answer it."""

    text: str
    keywords: tuple[str, ...]
    passages: tuple[Passage, ...]
    character: CharacterBrief | None = None


@dataclass(frozen=True)
class Reply:
    text: str
    #: The 1-based numbers of the passages the answer relies on.
    cited: tuple[int, ...]


class ProviderUnavailable(Exception):
    """The provider could not answer; ``reason`` is shown to the player."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class Provider(Protocol):
    name: str

    async def answer(self, question: Question) -> Reply: ...

    async def aclose(self) -> None: ...


# -- local ------------------------------------------------------------------------------------
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(*_])")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+\.)\s+")
_EMPHASIS = re.compile(r"\*{1,3}|(?<!\w)_{1,3}|_{1,3}(?!\w)")


def sentences(text: str) -> list[str]:
    """The prose sentences of a passage: headings and table rows are skipped, list items and
    ``Label: value`` lines count as sentences, markdown emphasis is removed."""
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "|")):
            continue
        line = _EMPHASIS.sub("", _BULLET.sub("", line)).strip()
        out += [s.strip() for s in _SENTENCE_END.split(line) if s.strip()]
    return out


def best_sentences(text: str, keywords: tuple[str, ...], limit: int) -> list[str]:
    """The passage's first sentence (what it is about) and the following ones sharing the most
    keywords, up to ``limit``, in their original order; the first ``limit`` sentences when none
    shares a keyword."""
    candidates = sentences(text)
    scored = []
    for position, sentence in enumerate(candidates[1:], start=1):
        found = set(words(sentence))
        hits = sum(1 for k in keywords if any(same_word(k, w) for w in found))
        if hits:
            scored.append((-hits, position))
    if scored:
        chosen = [0, *sorted(p for _, p in sorted(scored)[: limit - 1])]
    else:  # matched by its name only: its opening is the answer
        chosen = list(range(min(limit, len(candidates))))
    return [_full_stop(candidates[p]) for p in chosen]


def _full_stop(sentence: str) -> str:
    return sentence if sentence[-1] in ".!?:;)\"'" else f"{sentence}."


class LocalProvider:
    """Answers offline, quoting the passages' most relevant sentences."""

    name = "local"

    async def answer(self, question: Question) -> Reply:
        character = question.character
        parts = [character.line()] if character else []
        cited = []
        for n, passage in enumerate(question.passages, start=1):
            quoted = best_sentences(passage.text, question.keywords, SENTENCES_PER_PASSAGE)
            if not quoted:
                continue
            own = ""
            if character and (passage.kind, passage.index) in character.owned:
                own = f" (one of {character.name}'s {OWN_WORDS.get(passage.kind, 'entries')})"
            parts.append(f"**{passage.title}**{own} [{n}]: {' '.join(quoted)}")
            cited.append(n)
        return Reply("\n\n".join(parts), tuple(cited))

    async def aclose(self) -> None:
        return None


# -- OpenAI-compatible ------------------------------------------------------------------------
_CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


def cited_numbers(text: str, count: int) -> tuple[int, ...]:
    """Passage numbers referenced as ``[n]`` or ``[n, m]`` in ``text``; all when none is."""
    found = [int(n) for group in _CITATION.findall(text) for n in group.split(",")]
    valid = tuple(dict.fromkeys(n for n in found if 1 <= n <= count))
    return valid or tuple(range(1, count + 1))


def prompt(question: Question) -> list[dict[str, str]]:
    """The chat messages: instructions, then the question, the character and the passages."""
    parts = [f"Question: {question.text}"]
    character = question.character
    if character:
        about = [character.line()]
        if character.features:
            about.append(f"Features and traits: {', '.join(character.features)}.")
        if character.spells:
            about.append(f"Spells: {', '.join(character.spells)}.")
        parts.append("Character: " + " ".join(about))
    passages = [
        f"[{n}] {p.title} ({p.kind})\n{p.text[:PROMPT_PASSAGE_CHARS]}"
        for n, p in enumerate(question.passages, start=1)
    ]
    parts.append("SRD 5.1 passages:\n\n" + "\n\n".join(passages))
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return None  # absent, or an HTTP date: use the backoff


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


class OpenAIProvider:
    """An OpenAI-compatible chat completions endpoint (OpenAI, Ollama, vLLM, llama.cpp ...)."""

    name = "openai"

    def __init__(self, settings: Settings) -> None:
        self.url = settings.assistant_base_url.rstrip("/") + "/v1/chat/completions"
        self.model = settings.assistant_model
        self.timeout = settings.assistant_timeout_seconds
        self.attempts = settings.assistant_max_retries + 1
        self.backoff = settings.assistant_backoff_seconds
        self.breaker = CircuitBreaker(
            settings.assistant_breaker_failures, settings.assistant_breaker_reset_seconds
        )
        key = settings.assistant_api_key.get_secret_value()
        headers = {"User-Agent": f"hero-foundry/{__version__}"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._client = httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(self.timeout))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def answer(self, question: Question) -> Reply:
        try:
            self.breaker.acquire()
        except BreakerOpen as exc:
            raise ProviderUnavailable(
                f"the provider failed {_plural(exc.failures, 'question')} in a row, so questions "
                f"are paused for {self.breaker.reset_seconds:g} s",
                retry_after=exc.retry_after,
            ) from None
        try:
            text = await self._complete(prompt(question))
        except ProviderUnavailable:
            self.breaker.failure()
            raise
        except Exception as exc:  # e.g. an invalid base URL: a failure like any other
            self.breaker.failure()
            log.exception("assistant provider call failed unexpectedly")
            raise ProviderUnavailable("the provider call failed unexpectedly") from exc
        except BaseException:
            self.breaker.release()  # cancelled: neither a success nor a failure
            raise
        self.breaker.success()
        return Reply(text, cited_numbers(text, len(question.passages)))

    async def _complete(self, messages: list[dict[str, str]]) -> str:
        body = {"model": self.model, "messages": messages}
        problem, detail = "failed", ""
        for attempt in range(1, self.attempts + 1):
            wait = self.backoff * 2 ** (attempt - 1)
            try:
                async with asyncio.timeout(self.timeout):
                    response = await self._client.post(self.url, json=body)
            except (TimeoutError, httpx.TimeoutException):
                problem, detail = "timed out", f" of {self.timeout:g} s"
            except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
                raise ProviderUnavailable("the provider's address is misconfigured") from exc
            except httpx.TransportError as exc:
                problem, detail = "could not be reached", ""
                log.warning("assistant provider attempt %d: %s", attempt, type(exc).__name__)
            else:
                status = response.status_code
                if response.is_success:
                    return self._content(response)
                if status == 429:
                    problem, detail = "kept rate-limiting requests (HTTP 429)", ""
                    wait = min(max(wait, _retry_after(response) or 0.0), self.timeout)
                elif status >= 500:
                    problem, detail = f"failed with HTTP {status}", ""
                else:
                    raise ProviderUnavailable(f"the provider refused the request (HTTP {status})")
            log.warning("assistant provider attempt %d/%d %s", attempt, self.attempts, problem)
            if attempt < self.attempts:
                await asyncio.sleep(wait)
        attempts = _plural(self.attempts, "attempt")
        raise ProviderUnavailable(f"the provider {problem} after {attempts}{detail}")

    @staticmethod
    def _content(response: httpx.Response) -> str:
        try:
            data: Any = response.json()
            content = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            content = None
        if not isinstance(content, str) or not content.strip():
            raise ProviderUnavailable("the provider's answer was not a chat completion")
        return content.strip()


def create_provider(settings: Settings) -> Provider:
    if settings.assistant_provider == "openai":
        return OpenAIProvider(settings)
    return LocalProvider()
