"""Why a score is null when a scorer says why: the stated reason its rationale starts with.

A scorer that declines a document (an English-only scorer and a document in another
language) stores null scores whose rationale starts with a stated reason: "language not
supported (de): the offline scorer reads English only". The scorer writes it with
``language_not_supported``; the store (counts on the Overview, the ``unscored`` column) and
the dashboard (in place of "not addressed") read it back with ``stated_reason``. Here, in
the bottom layer, because the score stage, the store and the pages all need it.
"""

from __future__ import annotations

LANGUAGE_NOT_SUPPORTED = "language not supported"


def language_not_supported(lang: str | None, detail: str) -> str:
    """The rationale of a null score for a language the scorer does not read."""
    return f"{LANGUAGE_NOT_SUPPORTED} ({lang}): {detail}"


def stated_reason(rationale: object) -> str | None:
    """The stated reason a rationale starts with ("language not supported (de)"), or None
    (a value's rationale, or a score the document does not address)."""
    text = str(rationale or "")
    return text.split(":")[0] if text.startswith(LANGUAGE_NOT_SUPPORTED) else None
