"""Reddit OAuth JSON API over real HTTP: token, search paging with ``after``, the window,
comment trees with a 'more' stub expanded through /api/morechildren, rate-limit headers."""

from __future__ import annotations

import base64
import datetime as dt

import pytest

from analytics.ingest.http import CredentialsError
from analytics.ingest.runner import run_provider
from tests.support.ingest_servers import Reply, Script, configure, stored

SINCE = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
UNTIL = dt.datetime(2026, 3, 8, tzinfo=dt.UTC)
# 7 posts, newest first; the last one is older than the window (stops the paging)
POSTS = [(f"p{i}", (UNTIL - dt.timedelta(hours=20 * i + 1)).timestamp()) for i in range(6)]
POSTS.append(("old", (SINCE - dt.timedelta(days=2)).timestamp()))


def token(request):
    expected = base64.b64encode(b"client-id:client-secret").decode()
    if request.headers.get("Authorization") != f"Basic {expected}":
        return Reply(401, {"message": "Unauthorized", "error": 401})
    assert b"grant_type=client_credentials" in request.body
    return Reply(body={"access_token": "tok-123", "token_type": "bearer",
                       "expires_in": 86400, "scope": "*"})


def search(request):
    assert request.headers["Authorization"] == "bearer tok-123"
    assert request.query["sort"] == "new" and request.query["restrict_sr"] == "1"
    start = {None: 0, "t3_p2": 3, "t3_p5": 6}[request.query.get("after")]
    page = POSTS[start:start + 3]
    children = [{"kind": "t3", "data": {
        "id": pid, "name": f"t3_{pid}", "title": f"NATO post {pid}", "selftext": f"Body {pid}",
        "author": "poster", "created_utc": created, "subreddit": "worldnews",
        "permalink": f"/r/worldnews/comments/{pid}/slug/", "url": "https://example.org/x",
        "score": 10, "num_comments": 4}} for pid, created in page]
    after = f"t3_{page[-1][0]}" if start + 3 < len(POSTS) else None
    return Reply(body={"kind": "Listing", "data": {"after": after, "dist": len(children),
                                                   "children": children, "before": None}},
                 headers={"X-Ratelimit-Used": "3", "X-Ratelimit-Remaining": "0",
                          "X-Ratelimit-Reset": "0"})


def _t1(cid: str, parent: str, body: str, replies=None) -> dict:
    return {"kind": "t1", "data": {
        "id": cid, "name": f"t1_{cid}", "parent_id": parent, "body": body, "author": "u",
        "created_utc": (SINCE + dt.timedelta(days=3)).timestamp(), "score": 3,
        "replies": replies if replies else ""}}


def comments(request):
    pid = request.path.split("/")[2]
    reply = _t1(f"{pid}c2", f"t1_{pid}c1", "a reply")
    tree = [_t1(f"{pid}c1", f"t3_{pid}", "top comment",
                {"kind": "Listing", "data": {"children": [reply]}}),
            {"kind": "more", "data": {"count": 2, "name": "t1__", "id": f"{pid}m",
                                      "parent_id": f"t3_{pid}",
                                      "children": [f"{pid}c3", f"{pid}c4"]}}]
    return Reply(body=[{"kind": "Listing", "data": {"children": []}},
                       {"kind": "Listing", "data": {"children": tree}}])


def morechildren(request):
    assert request.query["api_type"] == "json" and request.query["link_id"].startswith("t3_")
    pid = request.query["link_id"][3:]
    things = [_t1(cid, f"t1_{pid}c1", f"more {cid}") for cid in request.query["children"].split(",")]
    return Reply(body={"json": {"errors": [], "data": {"things": things}}})


@pytest.fixture
def api(fake_api):
    fake_api.route("/api/v1/access_token", token)
    fake_api.route("/r/worldnews/search", search)
    fake_api.route("/api/morechildren", morechildren)
    for pid, _ in POSTS:
        fake_api.route(f"/comments/{pid}", comments)
    return fake_api


def _settings(api, monkeypatch, **extra):
    values = {"REDDIT_BASE_URL": api.url, "REDDIT_AUTH_URL": f"{api.url}/api/v1/access_token",
              "REDDIT_CLIENT_ID": "client-id", "REDDIT_CLIENT_SECRET": "client-secret"}
    return configure(monkeypatch, **{**values, **extra})


def test_reddit_search_pages_and_comment_trees(settings, topic, api, monkeypatch):
    topic.sources["reddit"].subreddits = ["worldnews"]
    settings = _settings(api, monkeypatch)
    api.route("/api/morechildren", Script(
        Reply(429, "Too Many Requests", headers={"Retry-After": "1"}, content_type="text/plain"),
        then=morechildren))
    result = run_provider("reddit", topic, query="NATO", since=SINCE, until=UNTIL,
                          settings=settings)
    docs = {d.external_id: d for d in stored(settings.database_url)}
    assert sorted(docs) == [f"p{i}" for i in range(6)] and result.status == "ok"
    assert len(api.hits("/r/worldnews/search")) == 3  # 3 pages, then past the window
    assert len(api.hits("/api/v1/access_token")) == 1  # the token is reused
    tree = {c.external_id: c.parent_external_id for c in docs["p0"].comments}
    assert tree == {"p0c1": None, "p0c2": "p0c1", "p0c3": "p0c1", "p0c4": "p0c1"}
    assert docs["p0"].meta["comments_complete"] is True
    assert docs["p0"].url == "https://www.reddit.com/r/worldnews/comments/p0/slug/"

    again = run_provider("reddit", topic, query="NATO", since=SINCE, until=UNTIL,
                         settings=settings)
    assert again.counts["new"] == 0 and again.counts["unchanged"] == 6


def test_more_comments_limit_is_respected(settings, topic, api, monkeypatch):
    topic.sources["reddit"].subreddits = ["worldnews"]
    settings = _settings(api, monkeypatch, REDDIT_MORE_COMMENTS_LIMIT="0")
    run_provider("reddit", topic, query="NATO", since=SINCE, until=UNTIL, settings=settings)
    doc = next(d for d in stored(settings.database_url) if d.external_id == "p0")
    assert len(doc.comments) == 2 and doc.meta["comments_complete"] is False
    assert not api.hits("/api/morechildren")


def test_rejected_credentials_are_one_clear_error(settings, topic, api, monkeypatch):
    settings = _settings(api, monkeypatch, REDDIT_CLIENT_SECRET="wrong")
    with pytest.raises(CredentialsError, match="rejected the credentials"):
        run_provider("reddit", topic, query="NATO", since=SINCE, until=UNTIL, settings=settings)
    assert len(api.hits("/api/v1/access_token")) == 1  # a 401 is not retried
