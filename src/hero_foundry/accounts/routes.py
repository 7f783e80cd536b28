from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from hero_foundry.accounts import service
from hero_foundry.accounts.deps import BearerToken, CurrentUser
from hero_foundry.accounts.schemas import (
    Credentials,
    LoggedOutEverywhere,
    Registered,
    Registration,
    SessionOut,
    SessionPage,
    TokenOut,
    UserOut,
)
from hero_foundry.deps import SessionDep, SettingsDep
from hero_foundry.problems import responses
from hero_foundry.throttling import request_client, too_many

router = APIRouter(tags=["accounts"], responses=responses(401, 413, 422))


async def registration_quota(request: Request) -> None:
    """Registrations per client address, counted before the body is even validated."""
    state = request.app.state
    wait = await state.throttle.hit(state.limits.register_client, request_client(request))
    if wait:
        raise too_many("register", wait, "Too many registrations from your network address.")


@router.post(
    "/api/auth/register",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Registered,
    responses=responses(429, 503),
    dependencies=[Depends(registration_quota)],
)
async def register(body: Registration, request: Request, db: SessionDep) -> Registered:
    """Register an e-mail address with a password (8-128 characters, not whitespace only, not a
    common or breached password, not the address). The answer is the same `202` whether the
    address was free (the account is created) or already taken (nothing changes): it never tells
    which addresses have accounts. Then log in."""
    state = request.app.state
    email = await service.register(
        db, state.hashing, state.throttle, state.limits, body.email, body.password
    )
    return Registered(email=email, detail=service.REGISTERED)


@router.post("/api/auth/login", response_model=TokenOut, responses=responses(429, 503))
async def login(
    body: Credentials, request: Request, db: SessionDep, settings: SettingsDep
) -> TokenOut:
    """Exchange e-mail and password for a bearer token (valid for ``session_ttl_seconds``).
    Too many failures for the address or from the client: `429` with `Retry-After`."""
    state = request.app.state
    result = await service.login(
        db,
        state.hashing,
        state.throttle,
        state.limits,
        body.email,
        body.password,
        settings.session_ttl_seconds,
        request_client(request),
    )
    return TokenOut(access_token=result.token, expires_at=result.expires_at)


@router.post("/api/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(_user: CurrentUser, token: BearerToken, db: SessionDep) -> Response:
    """Revoke the token this request carries: refused at once by every worker and replica."""
    await service.logout(db, token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/api/auth/logout-all", response_model=LoggedOutEverywhere)
async def logout_all(user: CurrentUser, db: SessionDep) -> LoggedOutEverywhere:
    """Log out everywhere: revoke every live token of the account, this one included."""
    return LoggedOutEverywhere(revoked=await service.logout_everywhere(db, user.id))


@router.get("/api/auth/sessions", response_model=SessionPage)
async def sessions(
    user: CurrentUser,
    request: Request,
    db: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> SessionPage:
    """The account's live logins, newest first: when each was created, expires and was last
    used, and which one makes this request. Never the tokens."""
    rows, total = await service.sessions(db, user.id, limit, offset)
    current = getattr(request.state, "auth_token_id", None)
    items = [
        SessionOut(
            id=row.id,
            created_at=row.created_at,
            expires_at=row.expires_at,
            last_used_at=row.last_used_at,
            current=row.id == current,
        )
        for row in rows
    ]
    return SessionPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/api/me", response_model=UserOut)
async def me(user: CurrentUser) -> UserOut:
    return UserOut(id=user.id, email=user.email, created_at=user.created_at)
