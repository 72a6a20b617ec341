"""Structured logging, configured once for every component.

Logs go to stderr so that stdout stays free for what a command prints on purpose (URLs, JSON
summaries). They are JSON when stderr is not a terminal (pods, CI, files) and readable otherwise.
A redaction processor runs last before rendering, so a secret passed by mistake as a log field
never reaches the output.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from spacecast.settings import LogSettings

# Field names whose values are secrets wherever they appear (stream keys, cookies, tokens).
SECRET_FIELDS = frozenset(
    {
        "authorization",
        "auth_token",
        "ct0",
        "cookie",
        "cookies",
        "csrf",
        "x-csrf-token",
        "password",
        "stream_key",
        "token",
        "guest_token",
        "x-guest-token",
    }
)
REDACTED = "[redacted]"


def redact_secrets(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in event:
        if key.lower() in SECRET_FIELDS:
            event[key] = REDACTED
    return event


def configure_logging(settings: LogSettings | None = None) -> None:
    settings = settings or LogSettings()
    level = logging.getLevelNamesMapping()[settings.log_level.upper()]
    fmt = settings.log_format
    if fmt == "auto":
        fmt = "console" if sys.stderr.isatty() else "json"
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    # Libraries (aiohttp, httpx, kubernetes) log through the standard library: keep them quiet
    # unless asked, and route them to stderr too.
    logging.basicConfig(level=max(level, logging.WARNING), stream=sys.stderr)


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]
