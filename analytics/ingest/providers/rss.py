"""RSS/Atom feeds (feedparser): the topic's feed URLs, entries filtered by its keywords
(or by the ``--query`` words), then each entry's page fetched and extracted."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator
from typing import Any

from analytics.core.settings import Settings
from analytics.core.topics import Topic
from analytics.ingest.articles import ArticleCandidate, mentions_topic
from analytics.ingest.base import Option, RunContext
from analytics.ingest.http import HttpClient, IngestError
from analytics.ingest.news import NewsProvider


def feed_urls(topic: Topic, extra: str | None = None) -> list[str]:
    urls: list[str] = []
    for key in ("rss", "news"):
        source = topic.sources.get(key)
        if source and source.enabled:
            urls.extend(source.feeds)
    if extra:
        urls.extend(u.strip() for u in extra.split(",") if u.strip())
    return list(dict.fromkeys(urls))


def _entry_date(entry: Any) -> dt.datetime | None:
    for name in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(name)
        if value:
            return dt.datetime.fromtimestamp(calendar.timegm(value), dt.UTC)
    return None


class RssProvider(NewsProvider):
    name = "rss"
    options = (Option("feeds", str, "", "Extra feed URLs, comma-separated."),)

    @staticmethod
    def not_ready(topic: Topic) -> str | None:
        return None if feed_urls(topic) else "no feeds in the topic file"

    def __init__(self, settings: Settings, context: RunContext | None = None, **options: Any):
        super().__init__(settings, context, **options)
        self.http = HttpClient("RSS", settings, settings.ingest.rss_requests_per_second, headers={
            "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, "
                      "*/*;q=0.5"})

    def close(self) -> None:
        self.http.close()

    def _matches(self, text: str, topic: Topic, query: str | None) -> bool:
        if query:
            return all(word.lower() in text.lower() for word in query.split())
        return mentions_topic(text, topic)

    def candidates(self, topic: Topic, query: str | None, since: dt.datetime,
                   until: dt.datetime) -> Iterator[list[ArticleCandidate]]:
        import feedparser

        for url in feed_urls(topic, self.options.get("feeds")):
            try:
                body = self.http.request("GET", url).content
            except IngestError as exc:
                self.context.fail("feed_unreachable")
                self.context.note(f"RSS: {exc}")
                continue
            feed = feedparser.parse(body)
            if feed.bozo and not any(e.get("link") for e in feed.entries):
                self.context.fail("feed_invalid")
                self.context.note(f"RSS: {url} is not a valid RSS/Atom feed.")
                continue
            batch = []
            for entry in feed.entries:
                published = _entry_date(entry)
                if published and not since <= published < until:
                    continue
                text = f"{entry.get('title', '')} {entry.get('summary', '')}"
                if entry.get("link") and self._matches(text, topic, query):
                    batch.append(ArticleCandidate(
                        url=entry["link"], provider=self.name, published_at=published,
                        title=entry.get("title"), meta={"feed": url}))
            yield batch
