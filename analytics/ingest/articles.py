"""Article pages: fetch each listed URL and extract main text, title, author and date.

Used by every news provider (GDELT, Google, RSS). A page that is not HTML, too large,
unreachable or without extractable text is skipped and counted in the run's failures by
reason. The publish date comes from the page when it has one; otherwise the provider's
date (GDELT seendate, the feed entry's date, ...) is used, and ``meta.date_source`` says
which.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from analytics.core.settings import Settings
from analytics.core.topics import Topic
from analytics.ingest.base import RunContext
from analytics.ingest.http import (
    HttpClient,
    IngestError,
    RateLimiter,
    RequestFailedError,
)
from analytics.ingest.urls import url_key
from analytics.store.records import DocumentRecord

HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass
class ArticleCandidate:
    """A URL a news provider listed, with what the listing said about it."""

    url: str
    provider: str
    published_at: dt.datetime | None = None  # the provider's date (fallback)
    title: str | None = None
    lang: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return url_key(self.url)


@dataclass
class _Outcome:
    record: DocumentRecord | None = None
    failure: str | None = None


class ArticleFetcher:
    """Fetches pages in parallel (a rate limit per site), extracts them in the workers."""

    def __init__(self, settings: Settings, context: RunContext):
        self.settings = settings
        self.context = context
        self.http = HttpClient("articles", settings, requests_per_second=0,
                               headers={"Accept": "text/html,application/xhtml+xml"})
        self._site_limits: dict[str, RateLimiter] = {}
        self.seen: set[str] = set()  # keys handled earlier in this run (other query/slice)
        self._lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    def _limit(self, url: str) -> None:
        from urllib.parse import urlsplit

        host = urlsplit(url).hostname or ""
        with self._lock:
            limiter = self._site_limits.setdefault(
                host, RateLimiter(self.settings.ingest.article_requests_per_second))
        limiter.wait()

    def records(self, candidates: Iterable[ArticleCandidate], topic: Topic,
                ) -> Iterator[DocumentRecord]:
        """Records for the candidates that are new (or all, with refetch on), in order."""
        fresh = self._unknown(list(candidates))
        if not fresh:
            return
        workers = max(1, self.settings.ingest.article_fetch_workers)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="article") as pool:
            for outcome in pool.map(lambda c: self._one(c, topic), fresh):
                if outcome.record is not None:
                    yield outcome.record
                else:
                    self.context.fail(outcome.failure or "unknown")

    def _unknown(self, candidates: list[ArticleCandidate]) -> list[ArticleCandidate]:
        unique: dict[str, ArticleCandidate] = {}
        for candidate in candidates:
            if candidate.key not in self.seen:
                unique.setdefault(candidate.key, candidate)
        self.seen.update(unique)
        if self.settings.ingest.refetch_known_articles:
            return list(unique.values())
        known = self.context.known_ids("news", list(unique))
        self.context.skipped_known += len(known)
        return [c for key, c in unique.items() if key not in known]

    def _one(self, candidate: ArticleCandidate, topic: Topic) -> _Outcome:
        try:
            self._limit(candidate.url)
            response = self.http.request("GET", candidate.url)
        except RequestFailedError as exc:
            return _Outcome(failure=f"http_{exc.status}" if exc.status else "unreachable")
        except IngestError:
            return _Outcome(failure="forbidden")
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type and content_type not in HTML_TYPES:
            return _Outcome(failure="not_html")
        if len(response.content) > self.settings.ingest.article_max_bytes:
            return _Outcome(failure="too_large")
        return extract_article(response.text, candidate, topic)


def extract_article(html: str, candidate: ArticleCandidate, topic: Topic) -> _Outcome:
    """Main text, title, author and date of one page (trafilatura)."""
    import trafilatura

    if "<" not in html[:2000]:
        return _Outcome(failure="not_html")
    try:
        extracted = trafilatura.bare_extraction(
            html, url=candidate.url, with_metadata=True, include_comments=False)
    except Exception:
        return _Outcome(failure="extraction_error")
    text = (getattr(extracted, "text", None) or "").strip() if extracted else ""
    if not text:
        return _Outcome(failure="no_text")
    published, date_source = _publish_date(getattr(extracted, "date", None),
                                           candidate.published_at)
    meta = {**candidate.meta, "date_source": date_source, "listed_url": candidate.url,
            "site": getattr(extracted, "sitename", None) or getattr(extracted, "hostname", None)}
    return _Outcome(record=DocumentRecord(
        source="news", provider=candidate.provider, external_id=candidate.key,
        topic=topic.name, published_at=published, text=text,
        title=getattr(extracted, "title", None) or candidate.title, url=candidate.url,
        author=_clip(getattr(extracted, "author", None)),
        lang=getattr(extracted, "language", None) or candidate.lang, meta=meta))


def _publish_date(page_date: str | None, provider_date: dt.datetime | None,
                  ) -> tuple[dt.datetime, str]:
    """The page's date when it has one (keeping the provider's time of day on the same
    day), else the provider's date, else now."""
    if page_date:
        try:
            day = dt.date.fromisoformat(page_date[:10])
        except ValueError:
            day = None
        if day is not None:
            if provider_date is not None and provider_date.astimezone(dt.UTC).date() == day:
                return provider_date, "page"
            return dt.datetime.combine(day, dt.time(0), dt.UTC), "page"
    if provider_date is not None:
        return provider_date, "provider"
    return dt.datetime.now(dt.UTC), "fetched"


def _clip(value: str | None, length: int = 255) -> str | None:
    return value[:length] if value else value


def mentions_topic(text: str, topic: Topic) -> bool:
    """Whether the text names one of the topic's keywords (case-insensitive)."""
    lowered = text.lower()
    return any(keyword.lower() in lowered for keyword in topic.keywords)
