"""``CurrentUser``: the account behind the request's bearer token, or a 401."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hero_foundry.accounts.models import User
from hero_foundry.accounts.service import authenticate
from hero_foundry.deps import CacheDep, SessionDep
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
    db: SessionDep, cache: CacheDep, token: Annotated[str, Depends(bearer_token)]
) -> User:
    user = await authenticate(db, cache, token)
    if user is None:
        raise _unauthorized("The token is invalid, expired or revoked: log in again.")
    return user


CurrentUser = Annotated[User, Depends(current_user)]
BearerToken = Annotated[str, Depends(bearer_token)]
