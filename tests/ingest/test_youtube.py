"""YouTube Data API v3 over real HTTP: search paging, videos, comment threads and replies,
quota counting, the daily budget and a 403 quotaExceeded that stops the run cleanly."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics.ingest.http import CredentialsError
from analytics.ingest.runner import run_provider
from tests.support.ingest_servers import (
    Reply,
    Script,
    configure,
    google_error,
    last_run,
    stored,
)

SINCE = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
UNTIL = dt.datetime(2026, 3, 8, tzinfo=dt.UTC)
VIDEOS = [f"vid{i:08d}" for i in range(6)]


def _page(items: list, token: str | None, kind: str) -> dict:
    body = {"kind": f"youtube#{kind}ListResponse", "etag": "x", "items": items,
            "pageInfo": {"totalResults": 6, "resultsPerPage": len(items)}}
    if token:
        body["nextPageToken"] = token
    return body


def search(request):
    assert request.query["type"] == "video" and "publishedAfter" in request.query
    page = {None: 0, "CAIQAA": 1, "CAQQAA": 2}[request.query.get("pageToken")]
    ids = VIDEOS[2 * page: 2 * page + 2]
    return Reply(body=_page([{"kind": "youtube#searchResult", "id": {
        "kind": "youtube#video", "videoId": v}, "snippet": {"title": v}} for v in ids],
        ["CAIQAA", "CAQQAA", None][page], "search"))


def videos(request):
    return Reply(body=_page([{
        "kind": "youtube#video", "id": v,
        "snippet": {"publishedAt": f"2026-03-0{i + 2}T10:00:00Z", "channelId": "UC1",
                    "title": f"NATO video {i}", "description": f"Description {i} about NATO.",
                    "channelTitle": "Channel"},
        "statistics": {"viewCount": "100", "likeCount": "5", "commentCount": "3"}}
        for i, v in enumerate(VIDEOS) if v in request.query["id"].split(",")], None, "video"))


def _comment(cid: str, text: str, parent: str | None = None) -> dict:
    snippet = {"textDisplay": text, "textOriginal": text, "authorDisplayName": "@user",
               "likeCount": 2, "publishedAt": "2026-03-03T12:00:00Z"}
    if parent:
        snippet["parentId"] = parent
    return {"kind": "youtube#comment", "id": cid, "snippet": snippet}


def threads(request):
    video = request.query["videoId"]
    if video == VIDEOS[5]:
        return google_error(403, "commentsDisabled", "The video has disabled comments.")
    page = {None: 0, "p1": 1, "p2": 2}[request.query.get("pageToken")]
    if video != VIDEOS[0] and page:
        raise AssertionError("only video 0 has several pages")
    items = [{"kind": "youtube#commentThread", "id": f"{video}-t{page}", "snippet": {
        "videoId": video, "totalReplyCount": 3 if page == 0 else 0,
        "topLevelComment": _comment(f"{video}-t{page}", f"top comment {page} on {video}")},
        **({"replies": {"comments": [_comment(f"{video}-t0.r0", "first reply", f"{video}-t0")]}}
           if page == 0 else {})}]
    token = ["p1", "p2", None][page] if video == VIDEOS[0] else None
    return Reply(body=_page(items, token, "commentThread"))


def replies(request):
    parent = request.query["parentId"]
    page = 0 if "pageToken" not in request.query else 1
    items = [_comment(f"{parent}.r{2 * page + k}", f"reply {2 * page + k}", parent)
             for k in range(2) if 2 * page + k < 3]
    return Reply(body=_page(items, "next" if page == 0 else None, "comment"))


@pytest.fixture
def api(fake_api):
    fake_api.route("/youtube/v3/search", search)
    fake_api.route("/youtube/v3/videos", videos)
    fake_api.route("/youtube/v3/commentThreads", threads)
    fake_api.route("/youtube/v3/comments", replies)
    return fake_api


def _settings(api, monkeypatch, **extra):
    return configure(monkeypatch, YOUTUBE_BASE_URL=f"{api.url}/youtube/v3",
                     YOUTUBE_API_KEY="test-key", **extra)


def test_youtube_pages_comments_replies_and_quota(settings, topic, api, monkeypatch):
    settings = _settings(api, monkeypatch)
    api.route("/youtube/v3/search", Script(Reply(500, "backend error", content_type="text/plain"),
                                           then=search))
    result = run_provider("youtube", topic, query="NATO", since=SINCE, until=UNTIL,
                          settings=settings)
    docs = {d.external_id: d for d in stored(settings.database_url)}
    assert sorted(docs) == VIDEOS and result.status == "ok"
    first = docs[VIDEOS[0]]
    assert first.title == "NATO video 0" and first.meta["statistics"]["viewCount"] == "100"
    texts = sorted(c.text for c in first.comments)
    # 3 thread pages; the first thread had 3 replies but carried 1: comments.list (2 pages)
    assert texts == ["reply 0", "reply 1", "reply 2", "top comment 0 on vid00000000",
                     "top comment 1 on vid00000000", "top comment 2 on vid00000000"]
    reply = next(c for c in first.comments if c.text == "reply 1")
    assert reply.parent_external_id == f"{VIDEOS[0]}-t0"
    assert docs[VIDEOS[5]].comments == [] and docs[VIDEOS[5]].meta["comments_complete"]
    # search 3 pages x 100 (+1 retried 500 that Google also bills), videos.list 1,
    # threads: 3 for video 0 + 1 each for 5 others, replies 2 pages x 5 videos
    assert result.counts["quota"] == 3 * 100 + 1 + (3 + 5) + 2 * 5
    assert key_never_stored(settings.database_url)

    again = run_provider("youtube", topic, query="NATO", since=SINCE, until=UNTIL,
                         settings=settings)
    assert again.counts["new"] == 0 and again.counts["unchanged"] == 6
    assert len(stored(settings.database_url)) == 6


def key_never_stored(database_url: str) -> bool:
    from sqlalchemy import text

    from analytics.store import session_scope

    with session_scope(database_url) as session:
        dump = " ".join(str(r) for r in session.execute(text("select parameters, counts, error from runs")))
    return "test-key" not in dump


def test_quota_exceeded_stops_cleanly_and_keeps_what_was_fetched(settings, topic, api,
                                                                 monkeypatch):
    settings = _settings(api, monkeypatch)
    served = {"n": 0}

    def threads_then_quota(request):
        served["n"] += 1
        if served["n"] > 4:  # video 0 (3 pages) and video 1, then the day's quota is gone
            return google_error(403, "quotaExceeded", "The request cannot be completed "
                                "because you have exceeded your quota.")
        return threads(request)

    api.route("/youtube/v3/commentThreads", threads_then_quota)
    result = run_provider("youtube", topic, query="NATO", since=SINCE, until=UNTIL,
                          settings=settings)
    assert result.status == "stopped" and "quotaExceeded" in result.error
    run = last_run(settings.database_url)
    assert run.status == "stopped" and run.counts["quota"] > 0
    docs = {d.external_id: d for d in stored(settings.database_url)}
    assert sorted(docs) == VIDEOS  # every video of the fetched page is kept
    assert docs[VIDEOS[0]].meta["comments_complete"] is True
    assert docs[VIDEOS[2]].meta["comments_complete"] is False


def test_daily_budget_stops_before_spending_more(settings, topic, api, monkeypatch):
    settings = _settings(api, monkeypatch, YOUTUBE_DAILY_QUOTA="215")
    result = run_provider("youtube", topic, query="NATO", since=SINCE, until=UNTIL,
                          settings=settings)
    assert result.status == "stopped" and "budget" in result.error
    assert result.counts["quota"] <= 215
    assert len(api.hits("/youtube/v3/search")) == 2  # the third page would exceed it
    assert len(stored(settings.database_url)) == 4
    # the budget is per day: a second run today has nothing left to spend
    second = run_provider("youtube", topic, query="NATO", since=SINCE, until=UNTIL,
                          settings=settings)
    assert second.status == "stopped" and second.counts["quota"] == 0


def test_missing_and_rejected_keys_are_clear(settings, topic, api, monkeypatch):
    settings = configure(monkeypatch, YOUTUBE_BASE_URL=f"{api.url}/youtube/v3")
    monkeypatch.delenv("ANALYTICS_YOUTUBE_API_KEY", raising=False)
    with pytest.raises(CredentialsError, match="ANALYTICS_YOUTUBE_API_KEY"):
        run_provider("youtube", topic, since=SINCE, until=UNTIL, settings=settings)
    settings = _settings(api, monkeypatch)
    api.route("/youtube/v3/search", google_error(400, "keyInvalid", "API key not valid. "
                                                 "Please pass a valid API key."))
    with pytest.raises(CredentialsError, match="rejected"):
        run_provider("youtube", topic, since=SINCE, until=UNTIL, settings=settings)
    assert len(api.hits("/youtube/v3/search")) == 1
