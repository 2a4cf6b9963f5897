"""The Sources page: configured sources, credentials, and 'run ingestion now' in the
background (the page stays responsive), against a local RSS feed and article pages."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from analytics.core.settings import get_settings
from analytics.core.topics import load_topic
from analytics.pipeline.sources import ingestion_job
from tests.support.ingest_servers import Reply, article_html, article_text, configure
from tests.support.paths import ROOT

FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>{u}</link>
<description>d</description>
<item><title>NATO summit</title><link>{u}/a/1</link><pubDate>{d}</pubDate></item>
<item><title>NATO unity</title><link>{u}/a/2</link><pubDate>{d}</pubDate></item>
</channel></rss>"""


@pytest.fixture
def api(fake_api):
    return fake_api


def test_sources_page_runs_ingestion_in_the_background(settings, api, monkeypatch, tmp_path):
    import email.utils

    topics = tmp_path / "topics"
    topics.mkdir()
    text = (ROOT / "analytics/topics/nato.yaml").read_text()
    text = text.replace("    feeds: []", f"    feeds: [\"{api.url}/feed.xml\"]")
    (topics / "nato.yaml").write_text(text)
    configure(monkeypatch, TOPICS_DIR=str(topics), NEWS_PROVIDERS='["rss", "google"]')
    now = email.utils.formatdate(time.time() - 3600, usegmt=True)
    api.route("/feed.xml", Reply(body=FEED.format(u=api.url, d=now),
                                 content_type="application/rss+xml"))
    for i in (1, 2):
        api.route(f"/a/{i}", Reply(body=article_html(f"Story {i}", article_text(i))))

    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.run()
    app.switch_page("pages/sources.py")
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    table = app.dataframe[0].value
    rows = dict(zip(table["provider"], table["credentials"], strict=True))
    assert rows["google"].startswith("missing: ANALYTICS_GOOGLE_API_KEY")
    assert rows["rss"] == "not needed"
    assert app.multiselect(key="ingest_providers").value == ["rss"]

    app.button[0].click().run()
    job = ingestion_job(load_topic("nato"), get_settings())
    deadline = time.time() + 30
    while not job.done and time.time() < deadline:
        time.sleep(0.1)
    assert job.done and job.error is None, job.lines
    assert any("rss: run" in line and "new 2" in line for line in job.lines), job.lines
    app.run()
    assert not app.exception
    history = app.dataframe[-1].value
    assert history.iloc[0]["provider"] == "rss" and history.iloc[0]["new"] == 2


def test_free_backend_estimate_counts_pending_without_reading_texts(settings, topic):
    """The Sources page's estimate for the offline scorer: the pending count only (reading
    100k texts for a cache count took the page 23 s)."""
    from analytics.ingest.runner import ingest_records
    from analytics.pipeline.sources import scoring_estimate
    from analytics.score.pipeline import estimate_run
    from tests.support.hostile import hostile_records

    ingest_records(hostile_records(12), topic="nato", provider="test")
    quick = scoring_estimate(topic, settings)
    assert (quick.documents, quick.cached) == (12, None)
    assert estimate_run(topic, settings=settings).cached == 0  # the CLI still counts them
