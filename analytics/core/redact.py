"""Redaction: secrets never reach the database, logs, run rows or exports.

``redact`` removes the user-info of URLs (``https://user:pass@host``), query parameters
that carry keys (``key=``, ``api_key=``, ``token=``...), bearer tokens, OpenAI-style keys,
and every secret value configured in the settings, wherever they appear in a text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

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

    walk(settings)
    try:
        password = make_url(settings.database_url).password
    except Exception:  # a malformed URL has no password to hide
        password = None
    if password:
        found.append(str(password))
    return [s for s in found if s]
