"""Google Custom Search and RSS over real HTTP, the HTTP layer's policy, canonical URLs,
and near-duplicate shingling."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from analytics.ingest.http import CredentialsError, HttpClient, RequestFailedError
from analytics.ingest.runner import run_provider
from analytics.ingest.urls import canonical_url
from tests.support.ingest_servers import (
    Reply,
    Script,
    article_text,
    configure,
    google_error,
    stored,
)

SINCE = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
UNTIL = dt.datetime(2026, 3, 8, tzinfo=dt.UTC)


@pytest.fixture
def api(fake_api):
    return fake_api.serve_articles(30)


def google_search(api):
    def handle(request):
        assert request.query["key"] == "g-key" and request.query["cx"] == "engine-1"
        assert request.query["sort"] == "date:r:20260301:20260308"
        start = int(request.query["start"])
        items = [{"kind": "customsearch#result", "title": f"Article {i}",
                  "link": f"{api.url}/a/{i}", "displayLink": "127.0.0.1", "snippet": "...",
                  "pagemap": {"metatags": [{"article:published_time": "2026-03-03T08:00:00Z"}]}}
                 for i in range(start - 1, min(start + 9, 25))]
        queries = {"request": [{"startIndex": start, "count": len(items)}]}
        if start + 10 <= 25:
            queries["nextPage"] = [{"startIndex": start + 10, "count": 10}]
        return Reply(body={"kind": "customsearch#search", "queries": queries, "items": items,
                           "searchInformation": {"totalResults": "25"}})

    return handle


def test_google_pages_through_results(settings, topic, api, monkeypatch):
    settings = configure(monkeypatch, GOOGLE_BASE_URL=f"{api.url}/customsearch/v1",
                         GOOGLE_API_KEY="g-key", GOOGLE_ENGINE_ID="engine-1")
    api.route("/customsearch/v1", google_search(api))
    result = run_provider("google", topic, query="NATO", since=SINCE, until=UNTIL,
                          settings=settings)
    assert [int(r.query["start"]) for r in api.hits("/customsearch/v1")] == [1, 11, 21]
    assert result.counts["new"] == 25 and len(stored(settings.database_url)) == 25


def test_google_quota_stops_cleanly_and_bad_key_is_clear(settings, topic, api, monkeypatch):
    settings = configure(monkeypatch, GOOGLE_BASE_URL=f"{api.url}/customsearch/v1",
                         GOOGLE_API_KEY="g-key", GOOGLE_ENGINE_ID="engine-1")
    handler = google_search(api)
    api.route("/customsearch/v1", lambda r: handler(r) if r.query["start"] == "1" else
              google_error(403, "dailyLimitExceeded", "Quota exceeded."))
    result = run_provider("google", topic, query="NATO", since=SINCE, until=UNTIL,
                          settings=settings)
    assert result.status == "stopped" and "quota" in result.error
    assert len(stored(settings.database_url)) == 10
    api.route("/customsearch/v1", google_error(400, "badRequest", "API key not valid. "
                                               "Please pass a valid API key."))
    with pytest.raises(CredentialsError, match="API key was rejected"):
        run_provider("google", topic, query="NATO", since=SINCE, until=UNTIL, settings=settings)


RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>World</title><link>{url}</link><description>x</description>
<item><title>NATO allies meet</title><link>{url}/a/1</link><pubDate>Tue, 03 Mar 2026 10:00:00 GMT</pubDate><description>NATO talks</description></item>
<item><title>Article 5 debate</title><link>{url}/a/2?utm_source=rss</link><pubDate>Wed, 04 Mar 2026 10:00:00 GMT</pubDate><description>collective defence</description></item>
<item><title>Football results</title><link>{url}/a/3</link><pubDate>Wed, 04 Mar 2026 11:00:00 GMT</pubDate><description>sport</description></item>
<item><title>Old NATO story</title><link>{url}/a/4</link><pubDate>Mon, 02 Feb 2026 10:00:00 GMT</pubDate><description>NATO</description></item>
</channel></rss>"""


def test_rss_filters_by_keywords_and_window(settings, topic, api, monkeypatch):
    settings = configure(monkeypatch)
    api.route("/feed.xml", Reply(body=RSS.format(url=api.url), content_type="application/rss+xml"))
    api.route("/broken.xml", Reply(body="<rss><channel><item>", content_type="text/xml"))
    options = {"feeds": f"{api.url}/feed.xml,{api.url}/broken.xml"}
    result = run_provider("rss", topic, since=SINCE, until=UNTIL, settings=settings,
                          options=options)
    docs = stored(settings.database_url)
    assert sorted(d.title for d in docs) == ["Article 1", "Article 2"]
    assert all("utm" not in d.external_id for d in docs)
    assert result.counts["failures"] == {"feed_invalid": 1}


def test_http_policy_retry_after_and_no_retry_on_404(settings, api, monkeypatch):
    settings = configure(monkeypatch, HTTP_RETRY_AFTER_MAX_S="5")
    api.route("/limited", Script(Reply(429, "", headers={"Retry-After": "1"}),
                                 then=lambda r: Reply(body={"ok": True})))
    api.route("/missing", Reply(404, "no", content_type="text/plain"))
    api.route("/denied", Reply(401, "no", content_type="text/plain"))
    with HttpClient("test", settings, 0) as client:
        started = time.monotonic()
        assert client.get_json(f"{api.url}/limited") == {"ok": True}
        assert time.monotonic() - started >= 0.9  # honoured the server's Retry-After
        with pytest.raises(RequestFailedError) as error:
            client.get_json(f"{api.url}/missing")
        assert error.value.status == 404 and len(api.hits("/missing")) == 1
        with pytest.raises(CredentialsError):
            client.get_json(f"{api.url}/denied")
        assert len(api.hits("/denied")) == 1


def test_rate_limit_spaces_requests(settings, api, monkeypatch):
    settings = configure(monkeypatch)
    api.route("/x", Reply(body={}))
    with HttpClient("test", settings, 20) as client:
        started = time.monotonic()
        for _ in range(5):
            client.get_json(f"{api.url}/x")
    assert time.monotonic() - started >= 0.19


def test_canonical_urls():
    assert canonical_url("http://WWW.Example.com:80/a/b/?utm_source=x&z=1&a=2#c") == \
        "https://example.com/a/b?a=2&z=1"
    assert canonical_url("https://m.example.com/a/b/amp") == "https://example.com/a/b"
    assert canonical_url("https://example.com/") == "https://example.com/"


def test_shingling_links_near_copies_and_nothing_else():
    import numpy as np

    from analytics.ingest import dedup

    texts = [article_text(1000 + i, words=250) for i in range(300)]
    index = dedup.NearDuplicateIndex(0.8)
    for i, text in enumerate(texts):
        signature = dedup.signature(text)
        assert index.match(str(i), signature) is None  # unrelated stories never match
        index.add(str(i), signature)
    copy = "By Wire Staff. " + texts[7] + " Reporting by the wire; editing by the desk."
    assert index.match("copy", dedup.signature(copy)) == "7"
    assert np.mean(dedup.signature(texts[7]) == dedup.signature(texts[8])) < 0.2
