"""``POST /api/assistant/ask``: the AI rules assistant (logged-in players only)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request

from hero_foundry.accounts.deps import CurrentUser
from hero_foundry.assistant import service
from hero_foundry.assistant.providers import Provider, create_provider
from hero_foundry.assistant.schemas import AskRequest, AskResponse
from hero_foundry.deps import CatalogueDep, SessionDep
from hero_foundry.lookup.index import RuleIndex, get_index
from hero_foundry.problems import responses
from hero_foundry.throttling import request_client, too_many


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """One provider per app, from its settings; its HTTP client is closed on shutdown."""
    app.state.assistant = create_provider(app.state.settings)
    try:
        yield
    finally:
        await app.state.assistant.aclose()


def provider(request: Request) -> Provider:
    return request.app.state.assistant


async def question_quota(request: Request, user: CurrentUser) -> None:
    """Questions per account and per client address (each one is paid to the provider), counted
    before the question is even validated: over either limit, a 429 with ``Retry-After``."""
    state = request.app.state
    limits = state.limits
    wait = await state.throttle.hit(limits.assistant_account, str(user.id))
    detail = "Too many questions to the assistant from your account."
    if not wait:
        wait = await state.throttle.hit(limits.assistant_client, request_client(request))
        detail = "Too many questions to the assistant from your network address."
    if wait:
        raise too_many("assistant", wait, detail)


router = APIRouter(
    prefix="/api/assistant",
    tags=["assistant"],
    responses=responses(401, 404, 413, 422, 429, 503),
    lifespan=lifespan,
)


@router.post("/ask", response_model=AskResponse, dependencies=[Depends(question_quota)])
async def ask(
    body: AskRequest,
    user: CurrentUser,
    db: SessionDep,
    cat: CatalogueDep,
    index: Annotated[RuleIndex, Depends(get_index)],
    assistant: Annotated[Provider, Depends(provider)],
) -> AskResponse:
    """Answer a rules question from the SRD 5.1, citing the passages used.

    With `character_id` (one of yours), the answer starts with the character and prefers its own
    features and spells. When the AI provider fails, times out or is paused by its circuit
    breaker, the answer is a 503 problem (with `Retry-After` while paused). Over the questions
    allowed per account or per client address: a 429 problem with `Retry-After`."""
    return await service.ask(db, user, cat, index, assistant, body)
