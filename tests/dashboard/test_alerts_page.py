"""The Alerts page (AppTest): create a rule from the form, a bad threshold refused with one
message and nothing stored, pause it, the next evaluation time shown; roles respected."""

from streamlit.testing.v1 import AppTest

from analytics.pipeline.alerts import rules_table
from tests.support.paths import ROOT


def _alerts_page() -> AppTest:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.run()
    app.switch_page("pages/alerts.py")
    app.run()
    return app


def test_create_refuse_and_pause_a_rule(settings):
    app = _alerts_page()
    assert not app.exception, [e.value for e in app.exception]
    assert any("end of every scheduled run — next:" in m.value and "UTC" in m.value
               for m in app.markdown)
    app.selectbox(key="alert_kind_None").set_value("probability").run()
    threshold = next(n for n in app.number_input if n.label == "Alert when at least")
    threshold.set_value(1.5)
    app.button[[b.label for b in app.button].index("Save rule")].click().run()
    assert any("above 0.5 and below 1" in e.value for e in app.error)
    assert rules_table() == []
    threshold = next(n for n in app.number_input if n.label == "Alert when at least")
    threshold.set_value(0.9)
    app.button[[b.label for b in app.button].index("Save rule")].click().run()
    assert not app.exception, [e.value for e in app.exception]
    [rule] = rules_table()
    assert rule["kind"] == "probability" and rule["params"]["threshold"] == 0.9
    app.selectbox(key="alert_rule_pick").set_value(rule["id"]).run()
    app.button[[b.label for b in app.button].index("Pause")].click().run()
    assert rules_table()[0]["paused"] is True


def test_viewers_cannot_edit_rules(settings, monkeypatch):
    from analytics.core.settings import reset_settings_cache

    monkeypatch.setenv("ANALYTICS_DASHBOARD_ANONYMOUS_ROLE", "viewer")
    reset_settings_cache()
    app = _alerts_page()
    save = app.button[[b.label for b in app.button].index("Save rule")]
    assert save.disabled
    assert app.button[[b.label for b in app.button].index("Evaluate now")].disabled
