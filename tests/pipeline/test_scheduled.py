"""The scheduled run: every configured source for the window since its last successful
run, under the ingestion lock, then the stage steps; a failing step fails the run (exit 1)
without stopping the next steps."""

from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

from analytics.core.errors import AlreadyRunning
from analytics.pipeline import scheduled
from analytics.pipeline.ingest_all import last_successful_until
from analytics.pipeline.locks import INGEST_LOCK, exclusive
from analytics.pipeline.steps import Step
from tests.ingest.test_google_rss_http import RSS
from tests.support.ingest_servers import (
    Reply,
    configure,
    last_run,
)


@pytest.fixture
def api(fake_api):
    return fake_api.serve_articles(5)


@pytest.fixture
def feed_topic(topic, api):
    topic.sources["news"].feeds = [f"{api.url}/feed.xml"]
    topic.sources.pop("youtube")
    api.route("/feed.xml", Reply(body=RSS.format(url=api.url), content_type="application/rss+xml"))
    return topic


def test_scheduled_run_lock_window_and_steps(settings, feed_topic, api, monkeypatch):
    settings = configure(monkeypatch, NEWS_PROVIDERS='["rss"]')
    ran = []
    monkeypatch.setattr(scheduled, "scheduled_steps", lambda _settings: [
        Step("score", lambda t, s, p: ran.append(t.name) or "scored")])
    now = dt.datetime(2026, 3, 6, tzinfo=dt.UTC)
    report = scheduled.scheduled_run(feed_topic, settings, echo=lambda _line: None, now=now)
    outcomes = {o.name: o for o in report.ingestion.outcomes}
    assert outcomes["reddit"].status == "skipped" and "no credentials" in outcomes["reddit"].text
    assert outcomes["rss"].status == "ok" and ran == ["nato"] and report.ok
    first_until = last_successful_until("nato", "rss", settings.database_url)
    assert first_until == now
    scheduled.scheduled_run(feed_topic, settings, echo=lambda _line: None,
                            now=now + dt.timedelta(hours=6))
    assert last_run(settings.database_url).parameters["since"] == first_until.isoformat()

    with exclusive(settings, INGEST_LOCK, "test"), \
            pytest.raises(AlreadyRunning, match="already in progress"):
        scheduled.scheduled_run(feed_topic, settings, echo=lambda _line: None)
    assert "scheduled-run" in scheduled.cron_line(settings)


def test_a_failing_step_fails_the_run_but_not_the_next_step(settings, feed_topic, api,
                                                            monkeypatch):
    settings = configure(monkeypatch, NEWS_PROVIDERS='["rss"]')
    ran = []

    def broken(_topic, _settings, _progress):
        raise RuntimeError("disk full")

    monkeypatch.setattr(scheduled, "scheduled_steps", lambda _settings: [
        Step("summaries", broken), Step("report", lambda t, s, p: ran.append("report") or "ok")])
    report = scheduled.scheduled_run(feed_topic, settings, echo=lambda _line: None)
    assert not report.ok and ran == ["report"]
    assert report.steps[0].text == "failed — RuntimeError: disk full"


def test_cli_exit_codes_for_failure_and_lock(settings, monkeypatch):
    from analytics.cli import app

    monkeypatch.setattr(scheduled, "scheduled_steps", lambda _settings: [
        Step("trends", lambda t, s, p: (_ for _ in ()).throw(RuntimeError("boom")))])
    monkeypatch.setenv("ANALYTICS_NEWS_PROVIDERS", "[]")
    result = CliRunner().invoke(app, ["scheduled-run"])
    assert result.exit_code == 1 and "boom" in result.output
    with exclusive(settings, INGEST_LOCK, "test"):
        result = CliRunner().invoke(app, ["scheduled-run"])
    assert result.exit_code == 3 and "already in progress" in result.output
    assert CliRunner().invoke(app, ["trends", "--window", "2w"]).exit_code == 2
