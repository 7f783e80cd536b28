"""Every setting of the service, in one place.

Each field reads ``HERO_FOUNDRY_<NAME>`` from the environment (or a ``.env`` file). Secrets may
instead be read from a file named by ``HERO_FOUNDRY_<NAME>_FILE`` (Docker/Kubernetes secrets), so
they never have to sit in an environment variable or in the repository. Every default works on one
machine: SQLite under ``./var`` and an in-process cache.

Security limits (docs/security.md) are written in the ``limits`` library's notation: ``N/period``
or ``N per M periods`` (second, minute, hour, day), several joined by ``;``, e.g.
``HERO_FOUNDRY_ASSISTANT_QUESTIONS_PER_ACCOUNT="20/minute;300/day"``. With
``HERO_FOUNDRY_REDIS_URL`` set they are counted in Redis, shared by every worker and replica;
without it (or while Redis fails) each process counts its own, so N workers allow up to N times
as much:

- ``login_failures_per_account`` (``10/15 minutes``): failed logins per e-mail address
  (normalized); over it, logins for that address answer 429 with ``Retry-After`` until the oldest
  failure leaves the window, without checking the password. A successful login clears it.
- ``login_failures_per_client`` (``100/15 minutes``): failed logins per client address (IPv4, or
  the IPv6 /64).
- ``registrations_per_client`` (``20/hour``) and ``registrations_per_email`` (``5/hour``).
- ``assistant_questions_per_account`` (``20/minute;300/day``) and
  ``assistant_questions_per_client`` (``60/minute;1000/day``): the assistant is paid per call.
- ``password_hash_concurrency`` (0: the CPUs this process may use): password hashes computed at
  once per process; a request finding every slot busy waits ``password_hash_wait_seconds`` (1 s)
  at most, then answers 503 with ``Retry-After``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from limits import parse_many
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "HERO_FOUNDRY_"

#: Settings that may be given as ``<NAME>_FILE``: the file's content (stripped) is the value.
SECRET_FILE_FIELDS = ("database_url", "redis_url", "assistant_api_key", "metrics_token")
#: Rate limits, in the ``limits`` library's notation (module docstring).
LIMIT_FIELDS = (
    "login_failures_per_account",
    "login_failures_per_client",
    "registrations_per_client",
    "registrations_per_email",
    "assistant_questions_per_account",
    "assistant_questions_per_client",
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True
    )

    environment: Literal["development", "test", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64)

    data_dir: Path = Path("var")
    #: SQLAlchemy async URL; ``postgresql+asyncpg://user:pass@host/db`` in production.
    database_url: SecretStr = SecretStr("")
    #: ``redis://host:6379/0``; empty means the in-process cache.
    redis_url: SecretStr = SecretStr("")

    session_ttl_seconds: int = Field(7 * 24 * 3600, ge=60)
    max_body_bytes: int = Field(64 * 1024, ge=1024)
    #: Argon2id cost; the defaults are argon2-cffi's (RFC 9106 "low memory" profile).
    argon2_time_cost: int = Field(3, ge=1)
    argon2_memory_kib: int = Field(64 * 1024, ge=64)
    log_level: Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"] = "INFO"

    # -- Security limits (see the module's docstring and docs/security.md) ----------------------
    login_failures_per_account: str = "10/15 minutes"
    login_failures_per_client: str = "100/15 minutes"
    registrations_per_client: str = "20/hour"
    registrations_per_email: str = "5/hour"
    assistant_questions_per_account: str = "20/minute;300/day"
    assistant_questions_per_client: str = "60/minute;1000/day"
    #: Password hashes computed at once by this process; 0: as many as the CPUs it may use.
    password_hash_concurrency: int = Field(0, ge=0, le=1024)
    #: How long a login or registration waits for a hashing slot before answering 503.
    password_hash_wait_seconds: float = Field(1.0, ge=0, le=60)

    # -- Observability -------------------------------------------------------------------------
    #: Bearer token the Prometheus scrape job sends for /metrics. Without one, /metrics answers
    #: loopback clients only (the embedded default); production sets one (or _FILE).
    metrics_token: SecretStr = SecretStr("")
    #: A user or login counts as active for this long after its last request.
    activity_window_seconds: int = Field(300, ge=10, le=86_400)
    #: Directory for rotating ECS JSON log files (``<log_dir>/fastapi/hero-foundry.log``), e.g.
    #: ``/var/log/hero-foundry``; empty: logs go to stdout only.
    log_dir: Path | None = None
    log_file_max_bytes: int = Field(20 * 1024 * 1024, ge=1024)
    log_file_backups: int = Field(5, ge=0, le=100)
    #: OpenTelemetry spans per request, and trace-id exemplars on the latency histogram.
    tracing_enabled: bool = False
    #: Browser telemetry (POST /api/metrics): events per request, and requests per client a minute.
    telemetry_max_events: int = Field(50, ge=1, le=1000)
    telemetry_max_body_bytes: int = Field(16 * 1024, ge=512, le=1024 * 1024)
    telemetry_rate_per_minute: int = Field(120, ge=1, le=100_000)

    # -- AI rules assistant ------------------------------------------------------------------
    #: ``local``: offline retrieval over the SRD; ``openai``: any OpenAI-compatible
    #: ``/v1/chat/completions`` endpoint (OpenAI, Ollama, vLLM, a llama.cpp server).
    assistant_provider: Literal["local", "openai"] = "local"
    #: Base URL of the OpenAI-compatible server, e.g. ``http://127.0.0.1:11434`` (Ollama).
    assistant_base_url: str = "http://127.0.0.1:11434"
    assistant_api_key: SecretStr = SecretStr("")
    assistant_model: str = "llama3.1"
    #: Per-attempt timeout of a provider call. With the default retries a failing provider
    #: answers 503 after about 3 x 10 s + backoff, under a typical proxy's 60 s.
    assistant_timeout_seconds: float = Field(10.0, gt=0, le=300)
    #: Retries after a failed attempt (with exponential backoff), so attempts = retries + 1.
    assistant_max_retries: int = Field(2, ge=0, le=5)
    assistant_backoff_seconds: float = Field(0.5, ge=0, le=30)
    #: Consecutive failures that open the circuit breaker, and how long it stays open.
    assistant_breaker_failures: int = Field(5, ge=1, le=100)
    assistant_breaker_reset_seconds: float = Field(30.0, gt=0, le=3600)

    # -- Fault drills (docs/drills.md) -------------------------------------------------------
    #: Read the drill file and inject its faults (errors, latency, a failing AI provider, a
    #: slow wizard clock). Local stacks and tests only: refused with environment=production.
    drills_enabled: bool = False
    #: The drill file (JSON); empty: ``drills.json`` under ``data_dir``.
    drills_file: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, data: dict) -> dict:
        """``HERO_FOUNDRY_DATABASE_URL_FILE=/run/secrets/db`` sets ``database_url``."""
        data = dict(data or {})
        for name in SECRET_FILE_FIELDS:
            path = data.pop(f"{name}_file", None) or os.environ.get(
                f"{ENV_PREFIX}{name.upper()}_FILE"
            )
            if path and not data.get(name):
                try:
                    data[name] = Path(path).read_text(encoding="utf-8").strip()
                except OSError as exc:
                    raise ValueError(f"{name}_file: cannot read {path}: {exc.strerror}") from exc
        return data

    @model_validator(mode="after")
    def _no_drills_in_production(self) -> Settings:
        if self.drills_enabled and self.environment == "production":
            raise ValueError(
                "drills_enabled must be false when environment is production: drills inject "
                "faults on purpose (docs/drills.md)"
            )
        return self

    @field_validator("log_dir", "drills_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator(*LIMIT_FIELDS)
    @classmethod
    def _parsable_limits(cls, value: str) -> str:
        try:
            parsed = parse_many(value)
        except ValueError:
            parsed = []
        if not parsed:
            raise ValueError(
                f"{value!r} is not a rate limit: write N/period or N per M periods (second, "
                "minute, hour, day), several joined by ';', e.g. 10/15 minutes;100/day"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        if url and not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "database_url must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
            )
        return value

    @property
    def database_url_value(self) -> str:
        """The database URL, defaulting to a SQLite file under ``data_dir``."""
        url = self.database_url.get_secret_value()
        return url or f"sqlite+aiosqlite:///{(self.data_dir / 'hero-foundry.sqlite3').as_posix()}"

    @property
    def drills_path(self) -> Path:
        """The drill file, defaulting to ``drills.json`` under ``data_dir``."""
        return self.drills_file or self.data_dir / "drills.json"

    @property
    def password_hash_slots(self) -> int:
        """Hashes computed at once: the setting, else the CPUs this process may run on."""
        if self.password_hash_concurrency:
            return self.password_hash_concurrency
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # pragma: no cover - not Linux
            return max(1, os.cpu_count() or 1)

    @property
    def redis_url_value(self) -> str | None:
        return self.redis_url.get_secret_value() or None

    # -- Dice signing (docs/security.md, "Dice") -----------------------------------------------
    #: HMAC-SHA256 key that signs the dice the server rolled, in JSON exports (verified on
    #: import). At least 32 characters, e.g. ``python3 -c 'import secrets; print(secrets.
    #: token_hex(32))'``; or ``HERO_FOUNDRY_ROLL_SIGNING_KEY_FILE``. Checked when the api starts
    #: (never echoed in an error). Empty: outside production a key is generated once in
    #: ``<data_dir>/roll-signing.key``; with environment=production the api refuses to start
    #: (``db upgrade`` and the web tier do not need the key).
    roll_signing_key: SecretStr = SecretStr("")

    @model_validator(mode="before")
    @classmethod
    def _read_roll_signing_key_file(cls, data: dict) -> dict:
        data = dict(data or {})
        path = data.pop("roll_signing_key_file", None) or os.environ.get(
            f"{ENV_PREFIX}ROLL_SIGNING_KEY_FILE"
        )
        if path and not data.get("roll_signing_key"):
            try:
                data["roll_signing_key"] = Path(path).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(
                    f"roll_signing_key_file: cannot read {path}: {exc.strerror}"
                ) from exc
        return data
