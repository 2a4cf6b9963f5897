"""Language of a document, detected at ingest with py3langid (its model ships in the wheel:
nothing is downloaded). Stored in ``documents.lang`` (ISO 639-1, e.g. "en"); the provider's
own claim, if any, is kept in ``meta["declared_lang"]``. Texts with too few letters to tell
keep the provider's value (or none)."""

from __future__ import annotations

import threading

MIN_LETTERS = 20  # below this the detector is guessing
MAX_CHARS = 2000  # the start of a long text is enough
_lock = threading.Lock()  # the module-level identifier is loaded on first use


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language, or None when it is too short to tell."""
    text = (text or "")[:MAX_CHARS]
    if sum(ch.isalpha() for ch in text) < MIN_LETTERS:
        return None
    import py3langid

    with _lock:
        language, _ = py3langid.classify(text)
    return str(language)


def set_language(record) -> None:
    """Fill ``record.lang`` from its title and text (a DocumentRecord)."""
    detected = detect_language(" ".join(part for part in (record.title, record.text) if part))
    if detected is None:
        return
    if record.lang and record.lang != detected:
        record.meta = {**(record.meta or {}), "declared_lang": record.lang}
    record.lang = detected
