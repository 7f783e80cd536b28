"""Every table, imported in one place so Alembic and tests see the whole schema."""

from hero_foundry.accounts.models import AuthToken, User
from hero_foundry.characters.models import Character, CharacterDraft
from hero_foundry.dice.models import DiceRoll
from hero_foundry.levelling.models import LevelUpSession
from hero_foundry.observability.models import UserActivity
from hero_foundry.storage.base import Base

__all__ = [
    "AuthToken",
    "Base",
    "Character",
    "CharacterDraft",
    "DiceRoll",
    "LevelUpSession",
    "User",
    "UserActivity",
]
