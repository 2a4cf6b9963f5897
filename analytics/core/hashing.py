"""Content keys: every cached result is keyed by a hash of what produced it."""

from __future__ import annotations

import hashlib
import json


def stable_hash(payload: object, length: int = 16) -> str:
    """A short SHA-256 of a JSON-able payload (keys sorted, so order never matters)."""
    text = json.dumps(payload, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]
