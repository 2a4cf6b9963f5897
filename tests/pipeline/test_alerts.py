"""Alerts: rules, de-duplication and cool-down, real SMTP (aiosmtpd) and webhook receivers
on 127.0.0.1, faults (unreachable server, HTTP 500) retried and recorded, secrets never in
the history, untrusted text escaped, the volume test, the cron schedule."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from sqlalchemy import select

from analytics.core.errors import BadInput
from analytics.pipeline.alerts import (
    RuleSpec,
    create_rule,
    evaluate_rules,
    history,
    send_test,
    set_paused,
)
from analytics.pipeline.steps import StepOutcome
from tests.conftest import point_settings
from tests.support.browser import free_port
from tests.support.ingest_servers import Reply, Script
from tests.support.smtp import smtp_server

PASSWORD = "s3cret-smtp-pa55"
HOOK_TOKEN = "T0KEN1234abcd"
FAILED = [StepOutcome("summaries", True, "ok"), StepOutcome("trends", False,
                                                             "failed — no scored documents")]
OK = [StepOutcome("trends", True, "ok")]


def _settings(tmp_path, monkeypatch, **env):
    return point_settings(monkeypatch, tmp_path / "a.db", tmp_path / "data",
                          alert_retries="2", alert_backoff_base_s="0.01",
                          alert_timeout_s="3", alert_base_url="http://dash.example:8501",
                          **env)


def _at(hour: int) -> dt.datetime:
    return dt.datetime(2026, 3, 1, hour, tzinfo=dt.UTC)


def _all_history_text(settings) -> str:
    from analytics.store import session_scope
    from analytics.store.models import Alert

    with session_scope(settings.database_url) as session:
        rows = session.scalars(select(Alert)).all()
        return json.dumps([[a.title, a.text, a.reason, a.link, a.details, a.deliveries]
                           for a in rows])


def test_email_arrives_over_real_smtp_with_text_html_and_link(tmp_path, monkeypatch):
    with smtp_server("alerts", PASSWORD) as box:
        settings = _settings(tmp_path, monkeypatch, alert_smtp_host="127.0.0.1",
                             alert_smtp_port=str(box.port), alert_smtp_security="none",
                             alert_smtp_username="alerts", alert_smtp_password=PASSWORD,
                             alert_email_recipients='["analyst@example.org"]')
        create_rule(RuleSpec("Step failed", "nato", "step_failed", {}, ("email",)), settings)
        report = evaluate_rules("nato", settings, now=_at(6), step_outcomes=FAILED)
    assert report.sent == 1 and report.failed == 0, report.line()
    assert box.logins == [("alerts", PASSWORD)]
    [mail] = box.received
    assert mail.recipients == ["analyst@example.org"]
    assert "step 'trends' failed" in mail.message["Subject"]
    assert "no scored documents" in mail.part("plain")
    html = mail.part("html")
    assert "<h1" in html and "no scored documents" in html
    assert "http://dash.example:8501/?topic=nato" in mail.part("plain")
    [row] = history(settings)
    assert row["state"] == "sent" and row["deliveries"]["email"]["ok"]
    assert PASSWORD not in _all_history_text(settings)


def test_one_change_one_alert_then_cool_down_suppresses(tmp_path, monkeypatch):
    settings = _settings(tmp_path, monkeypatch)
    create_rule(RuleSpec("Step failed", "nato", "step_failed", {}, (), 24), settings)
    states = []
    for hour, outcomes in ((1, FAILED), (2, FAILED), (3, FAILED), (4, OK), (5, FAILED)):
        report = evaluate_rules("nato", settings, now=_at(hour), step_outcomes=outcomes)
        states += [a["state"] for a in report.alerts]
    # three failing runs in a row = one change, one alert; after a good run the next failure
    # is a new change, but within the 24 h cool-down: recorded as suppressed, not sent.
    assert states == ["sent", "suppressed"]
    assert [r["state"] for r in history(settings)] == ["suppressed", "sent"]
    assert "cool-down" in history(settings)[0]["reason"]


def test_paused_rule_is_not_evaluated(tmp_path, monkeypatch):
    settings = _settings(tmp_path, monkeypatch)
    rule = create_rule(RuleSpec("Step failed", "nato", "step_failed", {}), settings)
    set_paused(rule, True, settings)
    assert evaluate_rules("nato", settings, step_outcomes=FAILED).evaluated == 0


def test_webhook_500_is_retried_then_failed_and_unreachable_smtp_does_not_stop_others(
        tmp_path, monkeypatch, fake_api):
    fake_api.route(f"/hook/{HOOK_TOKEN}", Reply(500, {"error": "down"}))
    settings = _settings(tmp_path, monkeypatch,
                         alert_webhook_url=f"{fake_api.url}/hook/{HOOK_TOKEN}",
                         alert_smtp_host="127.0.0.1", alert_smtp_port=str(free_port()),
                         alert_smtp_security="none",
                         alert_email_recipients='["a@example.org"]')
    create_rule(RuleSpec("Both channels", "nato", "step_failed", {}, ("email", "webhook")),
                settings)
    create_rule(RuleSpec("History only", "nato", "step_failed", {}, ()), settings)
    report = evaluate_rules("nato", settings, now=_at(6), step_outcomes=FAILED)
    assert report.ok and report.failed == 1 and report.sent == 1
    assert len(fake_api.hits(f"/hook/{HOOK_TOKEN}")) == 3  # 1 + 2 retries
    failed = next(r for r in history(settings) if r["state"] == "failed")
    assert "HTTP 500" in failed["reason"] and "e-mail via 127.0.0.1" in failed["reason"]
    assert "Connection refused" in failed["reason"] or "Errno" in failed["reason"]
    assert HOOK_TOKEN not in _all_history_text(settings)


def test_webhook_receives_slack_compatible_json_and_test_action(tmp_path, monkeypatch,
                                                                fake_api):
    fake_api.route("/hook", Script(Reply(503), then=lambda _r: Reply(200, "ok")))
    settings = _settings(tmp_path, monkeypatch, alert_webhook_url=f"{fake_api.url}/hook")
    assert "HTTP 200" in send_test("webhook", settings)
    first, second = fake_api.hits("/hook")  # the 503 was retried
    body = json.loads(second.body)
    assert "Test alert" in body["text"] and body["title"].startswith("Test alert")
    assert first.headers.get("Content-Type", first.headers.get("content-type")) \
        == "application/json"


def test_invalid_rules_are_refused_with_a_clear_message(tmp_path, monkeypatch):
    settings = _settings(tmp_path, monkeypatch)
    cases = [({"which": "decline", "threshold": 1.5}, "probability", "above 0.5 and below 1"),
             ({"which": "decline", "threshold": "high"}, "probability", "must be a number"),
             ({"score": "mood"}, "turning_point", "Unknown score 'mood'"),
             ({"alpha": 0}, "volume", "above 0 and below 0.5")]
    for params, kind, message in cases:
        with pytest.raises(BadInput, match=message):
            create_rule(RuleSpec("bad", "nato", kind, params), settings)
    with pytest.raises(BadInput, match="cool-down"):
        create_rule(RuleSpec("bad", "nato", "step_failed", {}, (), -1), settings)
    assert history(settings) == []


def test_untrusted_text_is_escaped_in_the_html_body(settings, topic):
    from analytics.pipeline.alerts.conditions import Finding
    from analytics.pipeline.alerts.messages import compose

    hostile = '<script>alert("x")</script><img src=x onerror=1>'
    finding = Finding("volume:spike:outlet:x", dt.date(2026, 2, 14), f"Spike in {hostile}",
                      f"Outlet {hostile} published 40 documents.", [("Outlet", hostile)],
                      event_date=dt.date(2026, 2, 14))
    message = compose(finding, topic, "rule", dt.date(2026, 2, 16), settings)
    assert "<script>" not in message.html and "<img" not in message.html
    assert "&lt;script&gt;" in message.html
    assert "/event?" in message.link and "date=2026-02-14" in message.link
    assert hostile in message.text  # plain text stays as written


def test_volume_test_matches_the_distributions_and_finds_a_spike():
    from scipy import stats

    from analytics.pipeline.alerts.conditions import volume_test

    flat = np.full(28, 4.0)  # no overdispersion: Poisson
    result = volume_test(flat, 20, 3)
    assert result["model"] == "Poisson"
    assert result["p_spike"] == pytest.approx(stats.poisson(12).sf(19))
    rng = np.random.default_rng(1)
    noisy = rng.negative_binomial(2, 2 / (2 + 4), 28).astype(float)  # mean 4, overdispersed
    result = volume_test(noisy, 20, 3)
    assert result["model"] == "negative binomial"
    assert result["p_spike"] > stats.poisson(3 * noisy.mean()).sf(19)  # wider tails
    assert volume_test(flat, 12, 3)["p_spike"] > 0.4


def test_next_evaluation_follows_the_cron_schedule():
    from analytics.pipeline.alerts.cron import next_time

    now = dt.datetime(2026, 11, 30, 16, 55, tzinfo=dt.UTC)  # a Monday
    assert next_time("0 */6 * * *", now) == dt.datetime(2026, 11, 30, 18, 0, tzinfo=dt.UTC)
    assert next_time("30 7 * * 1", now) == dt.datetime(2026, 12, 7, 7, 30, tzinfo=dt.UTC)
    assert next_time("0 0 1 1 *", now) == dt.datetime(2027, 1, 1, 0, 0, tzinfo=dt.UTC)
    with pytest.raises(BadInput, match="5 fields"):
        next_time("every hour", now)


def test_scheduled_run_alert_step_reports_failures_without_raising(tmp_path, monkeypatch):
    from analytics.core.topics import load_topic
    from analytics.pipeline.scheduled import ScheduledReport, alert_step

    settings = _settings(tmp_path, monkeypatch)
    create_rule(RuleSpec("Step failed", "nato", "step_failed", {}), settings)
    report = ScheduledReport(steps=list(FAILED))
    outcome = alert_step(load_topic("nato"), settings, report, None, None)
    assert outcome.ok and "1 alert(s) sent" in outcome.text
    assert history(settings)[0]["title"] == "Scheduled run: step 'trends' failed"


def test_saved_views_per_owner_rename_delete(settings):
    from analytics.store import session_scope
    from analytics.store.saved_views import (
        delete_view,
        get_view,
        list_views,
        rename_view,
        save_view,
    )

    params = {"topic": "nato", "window": "90d", "sources": "news", "date": "2026-02-14"}
    with session_scope() as session:
        mine = save_view(session, " Unity  news ", "event", params, "a@example.org")
        save_view(session, "Shared", "trends", {"topic": "nato"}, None)
        with pytest.raises(BadInput, match="exists already"):
            save_view(session, "Unity news", "trends", {}, "a@example.org")
    with session_scope() as session:
        assert [v.name for v in list_views(session, "a@example.org")] == ["Unity news"]
        assert [v.name for v in list_views(session, None)] == ["Shared"]
        assert get_view(session, mine.id, "a@example.org").params == params
        with pytest.raises(BadInput):
            get_view(session, mine.id, "b@example.org")  # not someone else's
        rename_view(session, mine.id, "Unity after Munich", "a@example.org")
    with session_scope() as session:
        assert get_view(session, mine.id, "a@example.org").name == "Unity after Munich"
        delete_view(session, mine.id, "a@example.org")
    with session_scope() as session:
        assert list_views(session, "a@example.org") == []


def _synthetic(shock_day: int = 80, days: int = 120, seed: int = 0):
    """Scored documents: unity falls 2 points on day ``shock_day``; news volume triples on
    the days after it."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    start = dt.date(2026, 1, 1)
    rows = []
    for day in range(days):
        for source, per_day in (("news", 6), ("reddit", 4)):
            n = rng.poisson(per_day * (3 if source == "news" and 0 <= day - shock_day < 3
                                       else 1))
            for _ in range(n):
                unity = 6.5 - (2.0 if day >= shock_day else 0.0) + rng.normal(0, 0.8)
                rows.append({"published_at": pd.Timestamp(start, tz="UTC")
                             + pd.Timedelta(days=day, hours=int(rng.integers(24))),
                             "source": source, "outlet": f"{source}-outlet",
                             "unity": unity, "sentiment": np.nan, "article5_trust": np.nan})
    return pd.DataFrame(rows), start


def test_conditions_find_the_shock_its_probability_and_the_volume_spike(settings, topic):
    from analytics.pipeline.alerts.conditions import (
        Context,
        probabilities,
        turning_points,
        volumes,
    )

    frame, start = _synthetic()
    as_of = start + dt.timedelta(days=86)
    context = Context(topic, settings, as_of, scored=frame, documents=frame,
                      use_cache=False, events_overrides={"draws": 300})
    [found] = turning_points({"score": "unity", "direction": "any", "min_size": 0}, context)
    assert found.key == "turning_point:unity:down"
    assert abs((found.date - (start + dt.timedelta(days=80))).days) <= 3
    assert "Size" in dict(found.facts) and "/event?" not in found.what
    [p] = probabilities({"score": "unity", "which": "decline", "threshold": 0.95}, context)
    assert p.details["p"] >= 0.95 and p.details["change"] < -1
    assert probabilities({"score": "unity", "which": "rise", "threshold": 0.95}, context) == []
    params = {"by": "source", "direction": "both", "alpha": 0.001, "recent_days": 3,
              "baseline_days": 28}
    spike_day = Context(topic, settings, start + dt.timedelta(days=82), documents=frame)
    [spike] = volumes(params, spike_day)
    assert spike.key == "volume:spike:source:news" and spike.details["p"] < 0.001 / 4
    quiet = Context(topic, settings, start + dt.timedelta(days=60), documents=frame)
    assert volumes(params, quiet) == []
