"""Redaction: secrets never reach the database, logs, run rows or exports.

``redact`` removes the user-info of URLs (``https://user:pass@host``), query parameters
that carry keys (``key=``, ``api_key=``, ``token=``...), bearer tokens, OpenAI-style keys,
and every secret value configured in the settings, wherever they appear in a text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

MASK = "***"
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s:@]+(?::[^/\s@]*)?@")
_QUERY_SECRET = re.compile(
    r"(?i)(?P<name>[?&](?:key|api_key|apikey|access_token|token|client_secret|password|"
    r"secret)=)[^&\s\"']+")
_BEARER = re.compile(r"(?i)(?P<name>bearer\s+)[A-Za-z0-9._~+/=-]{8,}")
_OPENAI_KEY = re.compile(r"\bsk-[A-Za-z0-9_-]{8,}")
_GOOGLE_KEY = re.compile(r"\bAIza[0-9A-Za-z_-]{20,}")
_ASSIGNED = re.compile(r"(?i)(?P<name>\b(?:api[_-]?key|password|secret|token)\s*[=:]\s*)"
                       r"[\"']?[^\s\"',;]{6,}")


def redact(text: str | None, secrets: Iterable[str] = ()) -> str | None:
    """The text with every secret replaced by ``***``."""
    if text is None:
        return None
    out = str(text)
    for value in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        out = out.replace(value, MASK)
    out = _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", out)
    out = _QUERY_SECRET.sub(lambda m: f"{m['name']}{MASK}", out)
    out = _BEARER.sub(lambda m: f"{m['name']}{MASK}", out)
    out = _OPENAI_KEY.sub(MASK, out)
    out = _GOOGLE_KEY.sub(MASK, out)
    return _ASSIGNED.sub(lambda m: f"{m['name']}{MASK}", out)


def redact_data(value: Any, secrets: Iterable[str] = ()) -> Any:
    """``redact`` applied to every string inside a JSON-like value."""
    secrets = tuple(secrets)
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {k: redact_data(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(v, secrets) for v in value]
    return value


def configured_secrets() -> list[str]:
    """The secret values of the current settings (API keys, client secrets, passwords)."""
    from pydantic import SecretStr
    from sqlalchemy.engine import make_url

    from analytics.core.settings import get_settings

    settings = get_settings()
    found: list[str] = []

    def walk(model: Any) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            if isinstance(value, SecretStr):
                found.append(value.get_secret_value())
            elif hasattr(type(value), "model_fields"):
                walk(value)

    def walk_urls(model: Any) -> None:  # user-info of any URL setting (base URLs too)
        for name in type(model).model_fields:
            value = getattr(model, name)
            if hasattr(type(value), "model_fields"):
                walk_urls(value)
            elif isinstance(value, str) and "://" in value and "@" in value:
                try:
                    password = urlsplit(value).password
                except ValueError:
                    password = None
                if password:
                    found.append(password)

    walk(settings)
    walk_urls(settings)
    try:
        password = make_url(settings.database_url).password
    except Exception:  # a malformed URL has no password to hide
        password = None
    if password:
        found.append(str(password))
    return [s for s in found if s]


def redact_configured(text: str | None) -> str | None:
    """``redact`` with the secrets of the current settings (for anything printed)."""
    try:
        secrets = configured_secrets()
    except Exception:  # invalid settings must not hide the message that says so
        secrets = []
    return redact(text, secrets)


class RedactingFilter(logging.Filter):
    """A handler filter: the message and the traceback of every record, redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave the record as it is
            return True
        record.msg, record.args = redact_configured(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_configured(
                logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact_configured(record.exc_text)
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Redact every record the handlers of ``logger`` (default: root) write."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
