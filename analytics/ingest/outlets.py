"""Outlets: where a document appeared — a news domain, r/<subreddit>, a YouTube channel, a
feed's host. Providers set it when they know it; otherwise it comes from ``meta`` and the
URL by the rule below (the 0002 migration backfilled stored documents with the same rule)."""

from __future__ import annotations

from urllib.parse import urlsplit

from analytics.store.records import DocumentRecord


def host(url: str | None) -> str | None:
    """'https://www.example.org/a' -> 'example.org' (www. and m. dropped)."""
    name = urlsplit(url or "").hostname or ""
    name = name.removeprefix("www.").removeprefix("m.")
    return name or None


def outlet_of(record: DocumentRecord) -> str | None:
    meta = record.meta or {}
    if record.source == "reddit" and meta.get("subreddit"):
        return f"r/{meta['subreddit']}"
    if record.source == "youtube":
        return record.author or meta.get("channel_id")
    for key in ("domain", "site"):
        if meta.get(key):
            return str(meta[key]).removeprefix("www.")
    if meta.get("feed"):
        return host(meta["feed"])
    return host(record.url)


def fill_outlets(records: list[DocumentRecord]) -> None:
    for record in records:
        if not record.outlet:
            record.outlet = outlet_of(record)
