from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from hero_foundry.settings import Settings


def test_defaults_work_on_one_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "DATABASE_URL_FILE", "REDIS_URL_FILE"):
        monkeypatch.delenv(f"HERO_FOUNDRY_{name}", raising=False)
    settings = Settings(_env_file=None)
    assert settings.database_url_value == "sqlite+aiosqlite:///var/hero-foundry.sqlite3"
    assert settings.redis_url_value is None
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)


def test_environment_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERO_FOUNDRY_DATABASE_URL", "postgresql+asyncpg://u:p@db/hero")
    monkeypatch.setenv("HERO_FOUNDRY_REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("HERO_FOUNDRY_PORT", "9000")
    settings = Settings(_env_file=None)
    assert settings.database_url_value == "postgresql+asyncpg://u:p@db/hero"
    assert settings.redis_url_value == "redis://cache:6379/0"
    assert settings.port == 9000
    assert "u:p@" not in repr(settings)  # secrets are masked in reprs and logs


def test_secrets_are_read_from_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "db"
    db.write_text("postgresql+asyncpg://hero:from-file@db/hero\n")
    monkeypatch.delenv("HERO_FOUNDRY_DATABASE_URL", raising=False)
    monkeypatch.setenv("HERO_FOUNDRY_DATABASE_URL_FILE", str(db))
    assert (
        Settings(_env_file=None).database_url_value == "postgresql+asyncpg://hero:from-file@db/hero"
    )


def test_an_unreadable_secret_file_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HERO_FOUNDRY_DATABASE_URL", raising=False)
    monkeypatch.setenv("HERO_FOUNDRY_DATABASE_URL_FILE", str(tmp_path / "missing"))
    with pytest.raises(ValidationError, match="database_url_file: cannot read"):
        Settings(_env_file=None)


def test_unknown_database_drivers_are_refused() -> None:
    with pytest.raises(ValidationError, match="database_url must start with"):
        Settings(database_url="mysql://root@localhost/hero", _env_file=None)


def test_rate_limits_have_defaults_and_read_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hero_foundry.throttling import Limits

    monkeypatch.setenv("HERO_FOUNDRY_LOGIN_FAILURES_PER_ACCOUNT", "5 per 10 minutes")
    settings = Settings(_env_file=None)
    limits = Limits.from_settings(settings)
    assert [str(w) for w in limits.login_account.windows] == ["5 per 10 minute"]
    assert [str(w) for w in limits.assistant_account.windows] == [
        "20 per 1 minute",
        "300 per 1 day",
    ]
    assert settings.registrations_per_client == "20/hour"
    assert settings.password_hash_wait_seconds == 1.0


@pytest.mark.parametrize("value", ["", "lots", "10 per fortnight", "-3/minute"])
def test_a_limit_that_is_not_one_is_refused_saying_how_to_write_it(value: str) -> None:
    with pytest.raises(ValidationError, match="is not a rate limit: write N/period"):
        Settings(_env_file=None, login_failures_per_client=value)
