"""The web tier's settings: every api setting (the metrics token, the body limit, logging) plus
its own ``HERO_FOUNDRY_WEB_*`` fields."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from hero_foundry.settings import Settings

DEFAULT_WEB_PORT = 3000
#: Where ``npm run build`` (Vite) writes the bundle, relative to the repository.
BUNDLE_SUBDIR = Path("web") / "dist"


def repository_root() -> Path | None:
    """The source checkout this package runs from (src layout), or None when installed."""
    import hero_foundry

    candidate = Path(hero_foundry.__file__).resolve().parents[2]
    return candidate if (candidate / "pyproject.toml").is_file() else None


def default_dist_dir() -> Path:
    """``<repository>/web/dist``; outside a checkout, ``web/dist`` under the working directory."""
    root = repository_root()
    return (root if root is not None else Path.cwd()) / BUNDLE_SUBDIR


class WebSettings(Settings):
    #: Bind address and port of ``hero-foundry web`` (the api's are ``host`` and ``port``).
    web_host: str = "127.0.0.1"
    web_port: int = Field(DEFAULT_WEB_PORT, ge=1, le=65535)
    web_workers: int = Field(1, ge=1, le=64)
    #: The api ``/api/*`` is forwarded to; empty: ``http://127.0.0.1:<port>`` (the api's port).
    web_api_url: str = ""
    #: The built bundle (``index.html``, ``assets/``); empty: ``<repository>/web/dist``.
    web_dist_dir: Path | None = None
    #: Longest wait for the api's answer to start (or for the next chunk of it). The assistant
    #: may take about 30 s before it gives up on a failing provider (README).
    web_proxy_timeout_seconds: float = Field(60.0, gt=0, le=600)

    @field_validator("web_dist_dir", mode="before")
    @classmethod
    def _empty_dist_is_default(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("web_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                "web_api_url must be an http:// or https:// URL, e.g. http://127.0.0.1:8000"
            )
        if parts.query or parts.fragment:
            raise ValueError("web_api_url must not have a query or a fragment")
        return value.rstrip("/")

    @property
    def web_api_url_value(self) -> str:
        """The api's base URL (no trailing slash)."""
        if self.web_api_url:
            return self.web_api_url
        host = self.host if self.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        if ":" in host:  # an IPv6 literal
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def web_dist_path(self) -> Path:
        return (self.web_dist_dir or default_dist_dir()).resolve()
