"""Reddit through its OAuth JSON API (httpx), application-only credentials.

Token: ``POST https://www.reddit.com/api/v1/access_token`` (basic auth with the app's
client id and secret, ``grant_type=client_credentials``). Submissions:
``GET /search`` or ``/r/<sub>/search`` (``q``, ``sort=new``, ``restrict_sr``, ``limit=100``,
paged with ``after``), kept when ``created_utc`` lies in the window. Comment tree:
``GET /comments/<id>``; ``more`` stubs are expanded with ``GET /api/morechildren`` (100
ids a call, up to ``reddit_more_comments_limit`` calls per submission). The
``X-Ratelimit-Remaining`` / ``X-Ratelimit-Reset`` headers are respected: when no request
is left, the client waits for the reset.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import httpx

from analytics.core.settings import Settings
from analytics.core.topics import Topic
from analytics.ingest.base import RunContext
from analytics.ingest.http import CredentialsError, HttpClient, require
from analytics.ingest.news import as_utc, topic_queries
from analytics.store.records import CommentRecord, DocumentRecord

WINDOWS = (("hour", 1 / 24), ("day", 1), ("week", 7), ("month", 31), ("year", 366))


def search_period(since: dt.datetime) -> str:
    """Reddit's coarse ``t`` filter that still covers the window (then filtered exactly)."""
    days = (dt.datetime.now(dt.UTC) - as_utc(since)).total_seconds() / 86400
    return next((name for name, length in WINDOWS if days <= length), "all")


def _strip(fullname: str | None) -> str | None:
    if not fullname:
        return None
    return fullname.split("_", 1)[1] if fullname[:3] in ("t1_", "t3_") else fullname


def _created(data: dict) -> dt.datetime:
    return dt.datetime.fromtimestamp(float(data.get("created_utc", 0)), dt.UTC)


class RedditProvider:
    name = "reddit"
    source = "reddit"
    options = ()
    credentials = ("reddit_client_id", "reddit_client_secret")

    def __init__(self, settings: Settings, context: RunContext | None = None, **options: Any):
        self.settings = settings
        self.context = context or RunContext()
        self.client_id = require(settings.ingest.reddit_client_id, "reddit_client_id", "Reddit")
        self.secret = require(settings.ingest.reddit_client_secret, "reddit_client_secret",
                              "Reddit")
        self.http = HttpClient("Reddit", settings, settings.ingest.reddit_requests_per_second,
                               on_response=self._respect_rate_headers)
        self.token: str | None = None
        self.token_expires = 0.0

    # --- auth and rate limits --------------------------------------------------------
    def _respect_rate_headers(self, response: httpx.Response) -> None:
        remaining = response.headers.get("X-Ratelimit-Remaining")
        reset = response.headers.get("X-Ratelimit-Reset")
        try:
            if remaining is not None and float(remaining) < 1 and reset is not None:
                time.sleep(min(float(reset), self.settings.ingest.http_retry_after_max_s))
        except ValueError:
            pass

    def _authorize(self) -> str:
        if self.token and time.monotonic() < self.token_expires:
            return self.token
        data = self.http.request(
            "POST", self.settings.ingest.reddit_auth_url, parse_json=True,
            auth=(self.client_id, self.secret), data={"grant_type": "client_credentials"})
        if not isinstance(data, dict) or "access_token" not in data:
            error = data.get("error") if isinstance(data, dict) else data
            raise CredentialsError(f"Reddit: the token endpoint refused the app credentials "
                                   f"({error}). Check ANALYTICS_REDDIT_CLIENT_ID/SECRET.")
        self.token = data["access_token"]
        self.token_expires = time.monotonic() + float(data.get("expires_in", 3600)) - 60
        return self.token

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        headers = {"Authorization": f"bearer {self._authorize()}"}
        return self.http.get_json(f"{self.settings.ingest.reddit_base_url}{path}",
                                  {**params, "raw_json": 1}, headers=headers)

    # --- submissions -----------------------------------------------------------------
    def fetch(self, topic: Topic, query: str | None, since: dt.datetime,
              until: dt.datetime) -> Iterator[DocumentRecord]:
        since, until = as_utc(since), as_utc(until)
        source = topic.sources.get("reddit")
        queries = [query] if query else topic_queries(topic, "reddit")
        subreddits = list(source.subreddits) if source and source.subreddits else [None]
        seen: set[str] = set()
        try:
            for text in queries:
                for subreddit in subreddits:
                    for post in self._search(text, subreddit, since, until):
                        if post["id"] in seen:
                            continue
                        seen.add(post["id"])
                        yield self._record(post, text, topic)
        finally:
            self.http.close()

    def _search(self, query: str, subreddit: str | None, since: dt.datetime,
                until: dt.datetime) -> Iterator[dict]:
        path = f"/r/{subreddit}/search" if subreddit else "/search"
        after, found = None, 0
        while found < self.settings.ingest.reddit_max_submissions_per_query:
            params = {"q": query, "sort": "new", "limit": 100, "type": "link",
                      "t": search_period(since), "restrict_sr": 1 if subreddit else 0}
            if after:
                params["after"] = after
            listing = self._get(path, params).get("data", {})
            children = [c["data"] for c in listing.get("children", []) if c.get("kind") == "t3"]
            for post in children:
                created = _created(post)
                if since <= created < until:
                    found += 1
                    yield post
            after = listing.get("after")
            oldest = min((_created(p) for p in children), default=None)
            if not after or not children or (oldest is not None and oldest < since):
                return

    def _record(self, post: dict, query: str, topic: Topic) -> DocumentRecord:
        comments, complete = self._comments(post["id"])
        return DocumentRecord(
            source="reddit", provider=self.name, external_id=post["id"], topic=topic.name,
            published_at=_created(post), title=post.get("title"),
            text=post.get("selftext", "") or "",
            url=f"https://www.reddit.com{post.get('permalink', '')}", author=post.get("author"),
            meta={"query": query, "subreddit": post.get("subreddit"), "score": post.get("score"),
                  "num_comments": post.get("num_comments"), "link_url": post.get("url"),
                  "comments_complete": complete},
            comments=comments)

    # --- comment trees ---------------------------------------------------------------
    def _comments(self, post_id: str) -> tuple[list[CommentRecord], bool]:
        data = self._get(f"/comments/{post_id}", {"limit": 500, "sort": "top"})
        comments: list[CommentRecord] = []
        pending: list[str] = []
        listing = data[1] if isinstance(data, list) and len(data) > 1 else {}
        self._walk(listing.get("data", {}).get("children", []), comments, pending)
        calls = 0
        while pending and calls < self.settings.ingest.reddit_more_comments_limit:
            batch, pending = pending[:100], pending[100:]
            calls += 1
            result = self._get("/api/morechildren", {
                "link_id": f"t3_{post_id}", "children": ",".join(batch), "api_type": "json",
                "sort": "top"})
            things = result.get("json", {}).get("data", {}).get("things", [])
            self._walk(things, comments, pending)
        return comments, not pending

    def _walk(self, children: list[dict], out: list[CommentRecord], pending: list[str]) -> None:
        for child in children:
            kind, data = child.get("kind"), child.get("data", {})
            if kind == "more":
                pending.extend(i for i in data.get("children", []) if i and i != "_")
                continue
            if kind != "t1":
                continue
            out.append(CommentRecord(
                external_id=data["id"], text=data.get("body", "") or "",
                parent_external_id=None if str(data.get("parent_id", "")).startswith("t3_")
                else _strip(data.get("parent_id")),
                author=data.get("author"), published_at=_created(data),
                likes=data.get("score")))
            replies = data.get("replies")
            if isinstance(replies, dict):
                self._walk(replies.get("data", {}).get("children", []), out, pending)
