from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from hero_foundry.accounts import service
from hero_foundry.accounts.deps import BearerToken, CurrentUser
from hero_foundry.accounts.schemas import Credentials, TokenOut, UserOut
from hero_foundry.deps import CacheDep, SessionDep, SettingsDep
from hero_foundry.problems import responses

router = APIRouter(tags=["accounts"], responses=responses(401, 409, 413, 422))


@router.post("/api/auth/register", status_code=status.HTTP_201_CREATED, response_model=UserOut)
async def register(body: Credentials, request: Request, db: SessionDep) -> UserOut:
    """Create an account (e-mail + password of 8-128 characters; stored as an argon2id hash)."""
    user = await service.register(db, request.app.state.hasher, body.email, body.password)
    return UserOut(id=user.id, email=user.email, created_at=user.created_at)


@router.post("/api/auth/login", response_model=TokenOut)
async def login(
    body: Credentials, request: Request, db: SessionDep, settings: SettingsDep
) -> TokenOut:
    """Exchange e-mail and password for a bearer token (valid for ``session_ttl_seconds``)."""
    result = await service.login(
        db, request.app.state.hasher, body.email, body.password, settings.session_ttl_seconds
    )
    return TokenOut(access_token=result.token, expires_at=result.expires_at)


@router.post("/api/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    _user: CurrentUser, token: BearerToken, db: SessionDep, cache: CacheDep
) -> Response:
    """Revoke the token this request carries."""
    await service.logout(db, cache, token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/api/me", response_model=UserOut)
async def me(user: CurrentUser) -> UserOut:
    return UserOut(id=user.id, email=user.email, created_at=user.created_at)
