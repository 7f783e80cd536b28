"""``CurrentUser``: the account behind the request's bearer token, or a 401."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hero_foundry.accounts.models import User
from hero_foundry.accounts.security import token_digest
from hero_foundry.accounts.service import authenticate
from hero_foundry.deps import CacheDep, SessionDep
from hero_foundry.observability.logs import set_user_id
from hero_foundry.problems import ProblemError

bearer = HTTPBearer(auto_error=False, description="The token returned by POST /api/auth/login")


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(401, detail, headers={"WWW-Authenticate": "Bearer"})


async def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("Log in and send the token as 'Authorization: Bearer <token>'.")
    return credentials.credentials


async def current_user(
    request: Request,
    db: SessionDep,
    cache: CacheDep,
    token: Annotated[str, Depends(bearer_token)],
) -> User:
    found = await authenticate(db, cache, token)
    if found is None:
        raise _unauthorized("The token is invalid, expired or revoked: log in again.")
    user, login = found
    request.state.auth_token_id = login.id  # which of the account's sessions this one is
    set_user_id(user.id)  # user.id on this request's log records
    activity = getattr(request.app.state, "activity", None)
    if activity is not None:  # active_users_current / active_sessions_current
        await activity.touch(db, str(user.id), token_digest(token)[:32])
    return user


CurrentUser = Annotated[User, Depends(current_user)]
BearerToken = Annotated[str, Depends(bearer_token)]
