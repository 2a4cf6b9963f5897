"""What the news providers (GDELT, Google, RSS) share: queries, windows, article fetching."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from analytics.core.settings import Settings
from analytics.core.topics import Topic
from analytics.ingest.articles import ArticleCandidate, ArticleFetcher
from analytics.ingest.base import Option, RunContext
from analytics.store.records import DocumentRecord


def topic_queries(topic: Topic, *source_keys: str) -> list[str]:
    """Queries of the first of the topic's sources that lists some."""
    for key in source_keys:
        source = topic.sources.get(key)
        if source and source.enabled and source.queries:
            return list(source.queries)
    return []


def as_utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class NewsProvider:
    """Base of the news providers: subclasses list candidates, this fetches the pages."""

    name: ClassVar[str] = "news"
    source: ClassVar[str] = "news"
    options: ClassVar[tuple[Option, ...]] = ()
    credentials: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: Settings, context: RunContext | None = None,
                 **options: Any):
        self.settings = settings
        self.context = context or RunContext()
        self.options = options

    def queries(self, topic: Topic, query: str | None) -> list[str]:
        return [query] if query else topic_queries(topic, self.name, "news")

    def candidates(self, topic: Topic, query: str | None, since: dt.datetime,
                   until: dt.datetime) -> Iterator[list[ArticleCandidate]]:
        """Batches of listed articles (one API page or time slice each)."""
        raise NotImplementedError

    def fetch(self, topic: Topic, query: str | None, since: dt.datetime,
              until: dt.datetime) -> Iterator[DocumentRecord]:
        fetcher = ArticleFetcher(self.settings, self.context)
        try:
            for batch in self.candidates(topic, query, as_utc(since), as_utc(until)):
                yield from fetcher.records(batch, topic)
        finally:
            fetcher.close()
            self.close()

    def close(self) -> None:
        """Release the provider's HTTP client."""


def chunked(items: Iterable, size: int) -> Iterator[list]:
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
