"""YouTube Data API v3: videos and their comments, within a daily quota budget.

``search.list`` (100 units a page) for the topic's queries and window → ``videos.list``
(1 unit per 50 videos) for title, description, channel, date and statistics →
``commentThreads.list`` (1 unit a page) → ``comments.list`` (1 unit a page) for threads
whose replies were cut. Units are counted per run; the run stops cleanly, keeping what it
fetched, before the day's budget (``youtube_daily_quota`` minus what earlier runs spent
today, Pacific time as Google counts) would be exceeded or when the API answers 403
``quotaExceeded``; the run record then says so (status ``stopped``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from analytics.core.settings import Settings
from analytics.core.topics import Topic
from analytics.ingest.base import RunContext
from analytics.ingest.http import (
    HttpClient,
    QuotaExceededError,
    RequestFailedError,
    google_error_reason,
    require,
)
from analytics.ingest.news import as_utc, chunked, topic_queries
from analytics.ingest.providers.google import classify_google_error
from analytics.store.records import CommentRecord, DocumentRecord

COST = {"search": 100, "videos": 1, "commentThreads": 1, "comments": 1}
QUOTA_DAY_ZONE = ZoneInfo("America/Los_Angeles")


class CommentsUnavailable(RequestFailedError):
    """Comments are disabled (403 commentsDisabled) or the video is gone (404)."""


def _classify(response: httpx.Response) -> Exception | None:
    reason, _message = google_error_reason(response)
    if reason in ("commentsDisabled", "videoNotFound", "commentThreadNotFound"):
        return CommentsUnavailable(f"YouTube: {reason}", response.status_code)
    return classify_google_error(response, "YouTube")


def quota_day_start(now: dt.datetime | None = None) -> dt.datetime:
    """Start (UTC) of the current quota day: midnight Pacific time."""
    local = (now or dt.datetime.now(dt.UTC)).astimezone(QUOTA_DAY_ZONE)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(dt.UTC)


def quota_used_today(database_url: str | None) -> int:
    """Units spent by YouTube runs since midnight Pacific time."""
    from sqlalchemy import select

    from analytics.store import session_scope
    from analytics.store.models import Run

    with session_scope(database_url) as session:
        counts = session.scalars(select(Run.counts).where(
            Run.provider == "youtube", Run.started_at >= quota_day_start()))
        return sum(int((c or {}).get("quota", 0) or 0) for c in counts)


def _time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value)


def _rfc3339(value: dt.datetime) -> str:
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


class _QuotaStop(Exception):
    pass


class YouTubeProvider:
    name = "youtube"
    source = "youtube"
    options = ()
    credentials = ("youtube_api_key",)

    def __init__(self, settings: Settings, context: RunContext | None = None,
                 database_url: str | None = None, **options: Any):
        self.settings = settings
        self.context = context or RunContext()
        self.key = require(settings.ingest.youtube_api_key, "youtube_api_key", "YouTube")
        used = quota_used_today(database_url or settings.database_url)
        self.context.quota_budget = max(0, settings.ingest.youtube_daily_quota - used)
        self.http = HttpClient("YouTube", settings, settings.ingest.youtube_requests_per_second,
                               classify_error=_classify)

    def _call(self, endpoint: str, params: dict[str, Any]) -> dict:
        cost = COST[endpoint]
        if not self.context.can_spend(cost):
            raise _QuotaStop(
                f"YouTube: stopped before exceeding the daily quota budget "
                f"({self.settings.ingest.youtube_daily_quota} units; this run spent "
                f"{self.context.quota_units}). What was fetched is kept.")
        self.context.spend(cost)
        try:
            return self.http.get_json(f"{self.settings.ingest.youtube_base_url}/{endpoint}",
                                      {**params, "key": self.key})
        except QuotaExceededError as exc:
            raise _QuotaStop(f"YouTube: the API answered quotaExceeded after "
                             f"{self.context.quota_units} units this run. What was fetched "
                             f"is kept; the rest follows after the quota resets.") from exc

    def fetch(self, topic: Topic, query: str | None, since: dt.datetime,
              until: dt.datetime) -> Iterator[DocumentRecord]:
        queries = [query] if query else topic_queries(topic, "youtube")
        try:
            seen: set[str] = set()
            for text in queries:
                found, stop = self._search(text, since, until)
                ids = [i for i in found if i not in seen]
                seen.update(ids)
                for chunk in chunked(ids, 50):
                    yield from self._videos(chunk, text, topic)
                if stop is not None:
                    raise stop
        except _QuotaStop as stop:
            self.context.stopped = str(stop)
        finally:
            self.http.close()

    def _search(self, query: str, since: dt.datetime, until: dt.datetime,
                ) -> tuple[list[str], _QuotaStop | None]:
        """Video ids, and the quota stop that cut the search short (its ids are kept)."""
        ids: list[str] = []
        token = None
        while len(ids) < self.settings.ingest.youtube_max_videos_per_query:
            params = {"part": "snippet", "q": query, "type": "video", "order": "date",
                      "maxResults": 50, "publishedAfter": _rfc3339(since),
                      "publishedBefore": _rfc3339(until)}
            if token:
                params["pageToken"] = token
            try:
                data = self._call("search", params)
            except _QuotaStop as stop:
                if not ids:
                    raise
                return ids[: self.settings.ingest.youtube_max_videos_per_query], stop
            ids.extend(item["id"]["videoId"] for item in data.get("items", [])
                       if isinstance(item.get("id"), dict) and item["id"].get("videoId"))
            token = data.get("nextPageToken")
            if not token:
                break
        return ids[: self.settings.ingest.youtube_max_videos_per_query], None

    def _videos(self, ids: list[str], query: str, topic: Topic) -> Iterator[DocumentRecord]:
        data = self._call("videos", {"part": "snippet,statistics", "id": ",".join(ids),
                                     "maxResults": 50})
        videos = data.get("items", [])
        stop: _QuotaStop | None = None
        for video in videos:
            comments: list[CommentRecord] = []
            complete = stop is None
            if stop is None:
                try:
                    complete = self._comments(video["id"], comments)
                except _QuotaStop as exc:
                    stop, complete = exc, False
            yield self._record(video, comments, complete, query, topic)
        if stop is not None:
            raise stop

    def _record(self, video: dict, comments: list[CommentRecord], complete: bool,
                query: str, topic: Topic) -> DocumentRecord:
        snippet = video.get("snippet", {})
        return DocumentRecord(
            source="youtube", provider=self.name, external_id=video["id"], topic=topic.name,
            published_at=_time(snippet.get("publishedAt")) or dt.datetime.now(dt.UTC),
            title=snippet.get("title"), text=snippet.get("description", "") or "",
            url=f"https://www.youtube.com/watch?v={video['id']}",
            author=snippet.get("channelTitle"),
            lang=snippet.get("defaultAudioLanguage") or snippet.get("defaultLanguage"),
            meta={"query": query, "channel_id": snippet.get("channelId"),
                  "statistics": video.get("statistics", {}), "comments_complete": complete},
            comments=comments)

    def _comments(self, video_id: str, out: list[CommentRecord]) -> bool:
        """Fill ``out`` with the video's comments; False if some were left out."""
        token, pages = None, 0
        while pages < self.settings.ingest.youtube_max_comment_pages:
            params = {"part": "snippet,replies", "videoId": video_id, "maxResults": 100,
                      "textFormat": "plainText"}
            if token:
                params["pageToken"] = token
            try:
                data = self._call("commentThreads", params)
            except CommentsUnavailable:
                return True
            pages += 1
            for thread in data.get("items", []):
                self._thread(thread, out)
            token = data.get("nextPageToken")
            if not token:
                return True
        return False

    def _thread(self, thread: dict, out: list[CommentRecord]) -> None:
        snippet = thread.get("snippet", {})
        top = snippet.get("topLevelComment", {})
        out.append(_comment(top, None))
        replies = thread.get("replies", {}).get("comments", [])
        if snippet.get("totalReplyCount", 0) > len(replies):
            replies = self._replies(thread["id"]) or replies
        out.extend(_comment(reply, top.get("id") or thread["id"]) for reply in replies)

    def _replies(self, parent_id: str) -> list[dict]:
        replies, token = [], None
        while True:
            params = {"part": "snippet", "parentId": parent_id, "maxResults": 100,
                      "textFormat": "plainText"}
            if token:
                params["pageToken"] = token
            try:
                data = self._call("comments", params)
            except CommentsUnavailable:
                return replies
            replies.extend(data.get("items", []))
            token = data.get("nextPageToken")
            if not token:
                return replies


def _comment(item: dict, parent: str | None) -> CommentRecord:
    snippet = item.get("snippet", {})
    return CommentRecord(
        external_id=item.get("id", ""),
        text=snippet.get("textOriginal") or snippet.get("textDisplay") or "",
        parent_external_id=snippet.get("parentId") or parent,
        author=snippet.get("authorDisplayName"),
        published_at=_time(snippet.get("publishedAt")), likes=snippet.get("likeCount"))
