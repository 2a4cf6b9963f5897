"""GDELT DOC 2.0 over real HTTP: time slices, cap splitting, retries, article extraction,
canonical URLs, syndicated copies, a killed run and its completion."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics.ingest.http import RequestFailedError
from analytics.ingest.runner import run_provider
from tests.support.ingest_servers import (
    FakeApi,
    Reply,
    Script,
    article_html,
    article_text,
    configure,
    last_run,
    stored,
)

SINCE = dt.datetime(2026, 3, 2, 0, 0, tzinfo=dt.UTC)
UNTIL = dt.datetime(2026, 3, 2, 3, 0, tzinfo=dt.UTC)


def seendate(minute: int) -> str:
    return (SINCE + dt.timedelta(minutes=minute)).strftime("%Y%m%dT%H%M%SZ")


def gdelt_handler(articles: list[dict]):
    """Answers ArtList queries like GDELT: the articles seen in [start, end), capped."""

    def handle(request):
        assert request.query["mode"] == "ArtList" and request.query["format"] == "json"
        start = dt.datetime.strptime(request.query["startdatetime"], "%Y%m%d%H%M%S")
        end = dt.datetime.strptime(request.query["enddatetime"], "%Y%m%d%H%M%S")
        hits = [a for a in articles
                if start <= dt.datetime.strptime(a["seendate"], "%Y%m%dT%H%M%SZ") < end]
        hits = hits[: int(request.query["maxrecords"])]
        return Reply(body={"articles": hits} if hits else {})

    return handle


def listing(api: FakeApi, path: str, minute: int, title: str) -> dict:
    return {"url": f"{api.url}{path}", "url_mobile": "", "title": title,
            "seendate": seendate(minute), "socialimage": "", "domain": "127.0.0.1",
            "language": "English", "sourcecountry": "United States"}


@pytest.fixture
def api(fake_api):
    return fake_api


def test_gdelt_run_stores_articles_once_with_counts(settings, topic, api, monkeypatch):
    settings = configure(monkeypatch, GDELT_BASE_URL=f"{api.url}/api/v2/doc/doc",
                         GDELT_SLICE_HOURS="1", GDELT_MAX_RECORDS="4")
    pages = {f"/news/a{i}": article_html(f"Story {i}", article_text(i)) for i in (1, 4, 5, 6, 7, 8, 9, 10)}
    pages["/news/a2"] = article_html("Undated story", article_text(2), date=None)
    wire = article_text(4) + " Reporting by the Wire Service; editing by the desk."
    pages["/mirror/copy-of-a4"] = article_html("Story 4 (syndicated)", wire, author="Wire")
    for path, html in pages.items():
        api.route(path, Reply(body=html))
    api.route("/files/report.pdf", Reply(body=b"%PDF-1.7 ...", content_type="application/pdf"))
    articles = [
        listing(api, "/news/a1", 5, "Story 1"), listing(api, "/news/a2", 10, "Undated story"),
        listing(api, "/files/report.pdf", 20, "A PDF"),
        listing(api, "/news/a4", 65, "Story 4"),
        {**listing(api, "/news/a1/", 70, "Story 1"),  # same article, tracking junk added
         "url": f"{api.url}/news/a1/?utm_source=gdelt&utm_medium=rss#top"},
        listing(api, "/mirror/copy-of-a4", 80, "Story 4 (syndicated)"),
        *(listing(api, f"/news/a{i}", 121 + 9 * (i - 5), f"Story {i}") for i in range(5, 11)),
    ]
    api.route("/api/v2/doc/doc", Script(
        Reply(429, "slow down", headers={"Retry-After": "1"}, content_type="text/plain"),
        Reply(500, "oops", content_type="text/plain"),
        Reply(200, '{"articles": [{"url": "http://exa', content_type="application/json"),
        then=gdelt_handler(articles)))

    result = run_provider("gdelt", topic, query="NATO", since=SINCE, until=UNTIL,
                          settings=settings)

    docs = stored(settings.database_url)
    keys = [d.external_id for d in docs]
    assert len(keys) == len(set(keys)) == 10
    assert result.status == "ok"
    counts = result.counts
    assert (counts["new"], counts["duplicate"], counts["failed"]) == (9, 1, 1), counts
    assert counts["failures"] == {"not_html": 1}
    # 3 slices; the last (6 articles > cap 4) split in halves, its first half (4) again;
    # plus the 429, the 500 and the truncated body, each retried
    assert len(api.hits("/api/v2/doc/doc")) == 3 + 2 + 2 + 3
    by_path = {d.meta["listed_url"].split("127.0.0.1")[1].split("/", 1)[1]: d for d in docs}
    undated = next(d for d in docs if d.title == "Undated story")
    assert undated.meta["date_source"] == "provider"
    assert undated.published_at.replace(tzinfo=dt.UTC) == SINCE + dt.timedelta(minutes=10)
    dated = next(d for d in docs if d.title == "Story 1")
    assert dated.meta["date_source"] == "page" and dated.author == "Jane Reporter"
    assert "?" not in dated.external_id and dated.external_id.startswith("https://127.0.0.1")
    copy = next(d for d in docs if "syndicated" in (d.title or ""))
    original = next(d for d in docs if d.title == "Story 4")
    assert copy.duplicate_of == original.id and original.duplicate_of is None
    assert len(by_path) == 10

    again = run_provider("gdelt", topic, query="NATO", since=SINCE, until=UNTIL,
                          settings=settings)
    assert len(stored(settings.database_url)) == 10
    assert again.counts["new"] == again.counts["duplicate"] == 0
    assert again.counts["unchanged"] == 10


def test_killed_run_is_completed_by_a_rerun_without_duplicates(settings, topic, api, monkeypatch):
    settings = configure(monkeypatch, GDELT_BASE_URL=f"{api.url}/gdelt", GDELT_SLICE_HOURS="0.75",
                         HTTP_MAX_RETRIES="1", INGEST_BATCH_SIZE="2")
    articles = []
    for i in range(8):  # 4 slices of 45 minutes, 2 articles each
        api.route(f"/n/{i}", Reply(body=article_html(f"Item {i}", article_text(100 + i))))
        articles.append(listing(api, f"/n/{i}", 45 * (i // 2) + 5 * (i % 2) + 1, f"Item {i}"))
    healthy = gdelt_handler(articles)
    served = {"n": 0}

    def dies_after_two_pages(request):
        served["n"] += 1
        return healthy(request) if served["n"] <= 2 else Reply(drop=True)

    api.route("/gdelt", dies_after_two_pages)
    with pytest.raises(RequestFailedError, match="cannot reach"):
        run_provider("gdelt", topic, query="NATO", since=SINCE, until=UNTIL,
                          settings=settings)
    killed = last_run(settings.database_url)
    assert killed.status == "failed" and "cannot reach" in killed.error
    assert killed.counts["new"] == 4
    assert len(stored(settings.database_url)) == 4  # committed batches survive

    api.route("/gdelt", healthy)
    result = run_provider("gdelt", topic, query="NATO", since=SINCE, until=UNTIL,
                          settings=settings)
    docs = stored(settings.database_url)
    assert result.status == "ok"
    assert sorted(d.title for d in docs) == [f"Item {i}" for i in range(8)]
    assert result.counts["new"] == 4 and result.counts["duplicate"] == 0
    assert result.counts["unchanged"] == 4  # known URLs are not fetched again
    assert all(d.duplicate_of is None for d in docs)


def test_gdelt_plain_text_error_is_one_clear_message(settings, topic, api, monkeypatch):
    settings = configure(monkeypatch, GDELT_BASE_URL=f"{api.url}/gdelt")
    api.route("/gdelt", Reply(body="The specified phrase is too short.", content_type="text/html"))
    with pytest.raises(RequestFailedError, match=r"expected JSON.*phrase is too short"):
        run_provider("gdelt", topic, query="a", since=SINCE, until=UNTIL, settings=settings)
    assert len(api.hits("/gdelt")) == 1  # not retried: it will not change
