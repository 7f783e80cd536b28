"""Request and response of ``POST /api/assistant/ask``."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from hero_foundry.lookup.documents import Kind


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    question: str = Field(min_length=1, max_length=1000, examples=["How does grappling work?"])
    character_id: uuid.UUID | None = Field(
        None, description="One of your characters: the answer takes its sheet into account"
    )


class Citation(BaseModel):
    n: int = Field(description="The number the answer cites it by: [n]")
    kind: Kind
    index: str
    name: str
    section: str | None = Field(description="The part of the entry quoted (its heading)")
    url: str = Field(description="The entry: /api/rules/{kind}/{index}")


class AskResponse(BaseModel):
    answer: str = Field(description="Markdown; [n] cites the citation numbered n")
    citations: list[Citation]
    provider: str = Field(description="local or openai")
