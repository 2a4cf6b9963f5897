"""GDELT DOC 2.0 API (keyless): ArtList mode, JSON, time-sliced so the per-call record cap
never silently drops articles; each listed article page is then fetched and extracted.

Reference: https://blog.gdeltproject.org/gdelt-doc-2-0-api-debuts/ — parameters ``query``,
``mode=ArtList``, ``format=json``, ``maxrecords`` (<= 250), ``startdatetime`` /
``enddatetime`` (YYYYMMDDHHMMSS, UTC), ``sort=DateAsc``; the answer is
``{"articles": [{"url", "url_mobile", "title", "seendate": "20250101T120000Z",
"socialimage", "domain", "language", "sourcecountry"}]}`` (``{}`` when nothing matches).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from analytics.core.settings import Settings
from analytics.core.topics import Topic
from analytics.ingest.articles import ArticleCandidate
from analytics.ingest.base import RunContext
from analytics.ingest.http import HttpClient
from analytics.ingest.news import NewsProvider

GDELT_TIME = "%Y%m%d%H%M%S"


def parse_seendate(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


class GdeltProvider(NewsProvider):
    name = "gdelt"

    def __init__(self, settings: Settings, context: RunContext | None = None, **options: Any):
        super().__init__(settings, context, **options)
        self.http = HttpClient("GDELT", settings, settings.ingest.gdelt_requests_per_second)

    def close(self) -> None:
        self.http.close()

    def candidates(self, topic: Topic, query: str | None, since: dt.datetime,
                   until: dt.datetime) -> Iterator[list[ArticleCandidate]]:
        step = dt.timedelta(hours=self.settings.ingest.gdelt_slice_hours)
        for text in self.queries(topic, query):
            start = since
            while start < until:
                end = min(start + step, until)
                yield from self._slice(text, start, end)
                start = end

    def _slice(self, query: str, start: dt.datetime, end: dt.datetime,
               ) -> Iterator[list[ArticleCandidate]]:
        articles = self._articles(query, start, end)
        cap = self.settings.ingest.gdelt_max_records
        shortest = dt.timedelta(minutes=self.settings.ingest.gdelt_min_slice_minutes)
        if len(articles) >= cap and end - start > shortest:
            middle = start + (end - start) / 2
            yield from self._slice(query, start, middle)
            yield from self._slice(query, middle, end)
            return
        if len(articles) >= cap:
            self.context.note(f"GDELT: {cap} records (the cap) between {start:%Y-%m-%d %H:%M} "
                              f"and {end:%H:%M} for '{query}'; some may be missing.")
        yield [self._candidate(a, query) for a in articles if a.get("url")]

    def _articles(self, query: str, start: dt.datetime, end: dt.datetime) -> list[dict]:
        params = {"query": query, "mode": "ArtList", "format": "json", "sort": "DateAsc",
                  "maxrecords": self.settings.ingest.gdelt_max_records,
                  "startdatetime": start.strftime(GDELT_TIME),
                  "enddatetime": end.strftime(GDELT_TIME)}
        data = self.http.get_json(self.settings.ingest.gdelt_base_url, params)
        articles = data.get("articles", []) if isinstance(data, dict) else []
        return [a for a in articles if isinstance(a, dict)]

    def _candidate(self, article: dict, query: str) -> ArticleCandidate:
        return ArticleCandidate(
            url=article["url"], provider=self.name,
            published_at=parse_seendate(article.get("seendate")), title=article.get("title"),
            meta={"query": query, "domain": article.get("domain"),
                  "language": article.get("language"),
                  "sourcecountry": article.get("sourcecountry"),
                  "seendate": article.get("seendate")})
