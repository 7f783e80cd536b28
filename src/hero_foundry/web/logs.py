"""The web tier's ECS JSON logs: the api's format, handlers and filters (observability/logs.py),
with ``service.name`` ``hero-foundry-web`` and, with ``log_dir`` set, the file
``<log_dir>/react/hero-foundry-web.log`` (the folder Filebeat's ``react`` input reads) instead of
the api's ``fastapi/`` one."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hero_foundry.observability import logs
from hero_foundry.observability.logs import (
    EcsFormatter,
    RedactSecrets,
    RequestContextFilter,
    SharedRotatingFileHandler,
    configure_logging,
    configured_log_dir,
)
from hero_foundry.web.settings import WebSettings

SERVICE_NAME = "hero-foundry-web"
LOG_SUBDIR = "react"
LOG_FILE_NAME = "hero-foundry-web.log"
#: httpx writes one INFO record per forwarded request, with the whole URL (query string
#: included, which the access log leaves out because it may carry secrets): warnings only.
QUIET_LOGGERS = ("httpx", "httpcore")


class WebEcsFormatter(EcsFormatter):
    def format_to_ecs(self, record: logging.LogRecord) -> dict[str, Any]:
        result = super().format_to_ecs(record)
        service = result.get("service")
        if isinstance(service, dict):
            service["name"] = SERVICE_NAME
        return result


def log_file_path(log_dir: Path) -> Path:
    return Path(log_dir) / LOG_SUBDIR / LOG_FILE_NAME


def configure_web_logging(settings: WebSettings) -> None:
    """:func:`configure_logging` for the web tier (idempotent in the same way: a later call of
    either replaces the handlers)."""
    configure_logging(settings.model_copy(update={"log_dir": None}))  # stdout only
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    formatter = WebEcsFormatter(settings.environment)
    root = logging.getLogger()
    for handler in root.handlers:
        if getattr(handler, logs._OWNED, False):
            handler.setFormatter(formatter)
    log_dir = configured_log_dir(settings)
    if log_dir is None:
        return
    handler = SharedRotatingFileHandler(
        log_file_path(log_dir),
        max_bytes=settings.log_file_max_bytes,
        backups=settings.log_file_backups,
    )
    setattr(handler, logs._OWNED, True)
    handler.setFormatter(formatter)
    handler.addFilter(RedactSecrets())
    handler.addFilter(RequestContextFilter())
    root.addHandler(handler)
