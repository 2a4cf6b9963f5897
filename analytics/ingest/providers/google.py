"""Google Programmable Search (Custom Search JSON API, ``customsearch/v1``).

Needs an API key and a search engine id (``cx``). Google has closed this API to new
customers, so it is optional: the scheduled run skips it without a key. Paging with
``start``/``num`` (10 per page, 100 results at most) following ``queries.nextPage``;
the window is applied with ``sort=date:r:YYYYMMDD:YYYYMMDD``. Each result's page is then
fetched and extracted like any news article.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx

from analytics.core.settings import Settings
from analytics.core.topics import Topic
from analytics.ingest.articles import ArticleCandidate
from analytics.ingest.base import RunContext
from analytics.ingest.http import (
    CredentialsError,
    HttpClient,
    QuotaExceededError,
    google_error_reason,
    require,
)
from analytics.ingest.news import NewsProvider

KEY_REASONS = {"keyInvalid", "API_KEY_INVALID", "keyExpired", "API_KEY_SERVICE_BLOCKED"}
QUOTA_REASONS = {"dailyLimitExceeded", "quotaExceeded", "RATE_LIMIT_EXCEEDED",
                 "userRateLimitExceeded"}
DATE_KEYS = ("article:published_time", "og:article:published_time", "datepublished",
             "date", "pubdate", "dc.date")


def classify_google_error(response: httpx.Response, service: str) -> Exception | None:
    reason, message = google_error_reason(response)
    if reason in KEY_REASONS or "API key not valid" in message:
        return CredentialsError(f"{service}: the API key was rejected ({message}). Check "
                                "the key setting; see docs/INGESTION.md.")
    if response.status_code == 403 and reason in QUOTA_REASONS:
        return QuotaExceededError(f"{service}: daily quota exceeded ({reason}); the run "
                                  "stopped and kept what it had fetched.")
    return None


def _result_date(item: dict) -> dt.datetime | None:
    for tags in item.get("pagemap", {}).get("metatags", []) or []:
        for key in DATE_KEYS:
            value = tags.get(key)
            if value:
                try:
                    parsed = dt.datetime.fromisoformat(value)
                except ValueError:
                    continue
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return None


class GoogleSearchProvider(NewsProvider):
    name = "google"
    credentials = ("google_api_key", "google_engine_id")

    def __init__(self, settings: Settings, context: RunContext | None = None, **options: Any):
        super().__init__(settings, context, **options)
        self.key = require(settings.ingest.google_api_key, "google_api_key", "Google Search")
        self.engine = require(settings.ingest.google_engine_id, "google_engine_id", "Google Search")
        self.http = HttpClient("Google Search", settings,
                               settings.ingest.google_requests_per_second,
                               classify_error=lambda r: classify_google_error(r, "Google Search"))

    def close(self) -> None:
        self.http.close()

    def candidates(self, topic: Topic, query: str | None, since: dt.datetime,
                   until: dt.datetime) -> Iterator[list[ArticleCandidate]]:
        window = f"date:r:{since:%Y%m%d}:{until:%Y%m%d}"
        for text in self.queries(topic, query):
            start = 1
            while start and start <= self.settings.ingest.google_max_results:
                try:
                    data = self.http.get_json(self.settings.ingest.google_base_url, {
                        "key": self.key, "cx": self.engine, "q": text, "num": 10,
                        "start": start, "sort": window})
                except QuotaExceededError as exc:
                    self.context.stopped = str(exc)
                    return
                items = data.get("items", []) or []
                yield [ArticleCandidate(url=i["link"], provider=self.name,
                                        published_at=_result_date(i), title=i.get("title"),
                                        meta={"query": text, "site": i.get("displayLink")})
                       for i in items if i.get("link")]
                pages = data.get("queries", {}).get("nextPage") or [{}]
                start = pages[0].get("startIndex") if items else None
