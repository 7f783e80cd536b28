"""Responses of ``/api/rules``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from hero_foundry.lookup.documents import Kind


class SearchItem(BaseModel):
    kind: Kind
    index: str
    name: str
    snippet: str = Field(description="Matching text, matches between <mark> and </mark>")
    score: float = Field(description="Relevance (bm25, name-weighted); higher is better")
    url: str = Field(description="The entry: /api/rules/{kind}/{index}")


class SearchPage(BaseModel):
    query: str
    corrected_query: str | None = Field(
        description="The words actually searched when some were corrected, else null"
    )
    items: list[SearchItem]
    total: int
    limit: int
    offset: int
    attribution: str


class RuleEntry(BaseModel):
    kind: Kind
    index: str
    name: str
    text: str = Field(description="The entry's text (markdown)")
    data: dict[str, Any] = Field(description="The SRD document, without its links")
    attribution: str
