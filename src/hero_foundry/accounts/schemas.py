from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from hero_foundry.accounts import passwords


class Credentials(BaseModel):
    """What a login sends."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr = Field(max_length=320)
    password: str = Field(min_length=passwords.MIN_LENGTH, max_length=passwords.MAX_LENGTH)


class Registration(Credentials):
    """What a registration sends: the password must also pass the policy of passwords.py."""

    @field_validator("password")
    @classmethod
    def _password_policy(cls, value: str, info: ValidationInfo) -> str:
        reason = passwords.problem(value, info.data.get("email"))
        if reason is not None:
            # Reported on the password field, with the reason; never the value itself.
            raise PydanticCustomError("password_policy", reason)
        return value


class Registered(BaseModel):
    """The answer to every accepted registration, new or taken address alike."""

    email: str = Field(description="The address, normalized (lower case).")
    detail: str


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    created_at: datetime


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime


class SessionOut(BaseModel):
    """One live login of the account (never its token)."""

    id: uuid.UUID
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None = Field(
        description="The last request made with it, to the minute; null if not used since login."
    )
    current: bool = Field(description="Whether this is the login making this request.")


class SessionPage(BaseModel):
    items: list[SessionOut]
    total: int
    limit: int
    offset: int


class LoggedOutEverywhere(BaseModel):
    revoked: int = Field(description="Logins revoked, this one included.")
