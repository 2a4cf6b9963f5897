"""Login and roles. In a real browser against a real OIDC provider on 127.0.0.1 (Streamlit's
own st.login flow: discovery, authorization code, ID token, signed cookie); and, without a
login, the bind rule (127.0.0.1 only unless allowed on purpose)."""

from __future__ import annotations

import secrets

import pytest
from streamlit import config as streamlit_config
from streamlit.testing.v1 import AppTest

from tests.conftest import UI_CORPUS_SIZE
from tests.support.browser import chromium_page, free_port, streamlit_server
from tests.support.databases import clone_database
from tests.support.oidc import oidc_provider
from tests.support.paths import ROOT


def _sign_in(page, base: str, who: str) -> str:
    page.goto(base)
    page.get_by_role("button", name="Log in").click(timeout=60000)
    page.wait_for_selector('input[name="sub"]', timeout=60000)  # the provider's page
    page.fill('input[name="sub"]', who)
    page.get_by_role("button", name="Authorize").click()
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text(f"Signed in as {who}", exact=False).wait_for(timeout=60000)
    return sidebar.inner_text()


def _button(page, base: str, path: str, name: str):
    page.goto(f"{base}/{path}")
    button = page.get_by_role("button", name=name)
    button.wait_for(timeout=60000)
    return button


def _sign_out(page) -> None:
    page.get_by_test_id("stSidebar").get_by_role("button", name="Log out").click()
    # RP-initiated logout: Streamlit sends the browser to the provider's end_session
    # endpoint, which asks for confirmation, then redirects back to the dashboard.
    page.get_by_role("button", name="End session").click(timeout=60000)
    page.get_by_role("button", name="Log in").wait_for(timeout=60000)


@pytest.mark.timeout(600)
def test_oidc_login_roles_and_logout_in_the_browser(corpus_files, tmp_path):
    with oidc_provider() as issuer:
        port = free_port()
        secrets_file = tmp_path / "secrets.toml"
        secrets_file.write_text(
            "[auth]\n"
            f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
            f'cookie_secret = "{secrets.token_hex(32)}"\n'
            'client_id = "opinion-analytics"\n'
            f'client_secret = "{secrets.token_hex(16)}"\n'
            f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n')
        env = {"ANALYTICS_DATABASE_URL": clone_database(corpus_files(UI_CORPUS_SIZE),
                                                        tmp_path / "ui.db"),
               "ANALYTICS_DATA_DIR": str(tmp_path / "data"),
               "ANALYTICS_DEMO_AUTOSTART": "false",
               "ANALYTICS_DASHBOARD_ADMINS": '["admin@example.org"]',
               "ANALYTICS_DASHBOARD_ANALYSTS": '["analyst@example.org"]',
               "AUTHLIB_INSECURE_TRANSPORT": "1"}
        with streamlit_server(env, port=port, extra=("--secrets.files", str(secrets_file))) \
                as base, chromium_page() as page:
            page.goto(base)
            page.get_by_text("Sign in to open the dashboard").wait_for(timeout=60000)
            assert page.get_by_test_id("stSidebarNav").count() == 0  # nothing before login

            assert "viewer" in _sign_in(page, base, "reader@example.org")
            assert _button(page, base, "scenarios", "Fit dynamics model").is_disabled()
            assert _button(page, base, "sources", "Run ingestion now").is_disabled()
            _sign_out(page)

            assert "analyst" in _sign_in(page, base, "analyst@example.org")
            assert _button(page, base, "scenarios", "Fit dynamics model").is_enabled()
            assert _button(page, base, "sources", "Run ingestion now").is_disabled()
            assert page.get_by_text("Settings in effect (admin)").count() == 0
            _sign_out(page)

            assert "admin" in _sign_in(page, base, "admin@example.org")
            assert _button(page, base, "sources", "Run ingestion now").is_enabled()
            page.get_by_text("Settings in effect (admin)").wait_for(timeout=60000)


@pytest.fixture
def address():
    before = streamlit_config.get_option("server.address")

    def use(value: str | None) -> None:
        streamlit_config.set_option("server.address", value)

    yield use
    streamlit_config.set_option("server.address", before)


def test_without_login_only_the_loopback_is_served(ui_settings, address, monkeypatch):
    address("127.0.0.1")
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not app.exception and app.title
    assert any("No login configured" in c.value and "this machine only" in c.value
               for c in app.sidebar.caption)

    address("0.0.0.0")
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert any("no login configured but is served on '0.0.0.0'" in e.value for e in app.error)
    assert not app.title  # nothing else is drawn

    monkeypatch.setenv("ANALYTICS_DASHBOARD_ALLOW_REMOTE_WITHOUT_LOGIN", "true")
    monkeypatch.setenv("ANALYTICS_DASHBOARD_ANONYMOUS_ROLE", "viewer")
    from analytics.core.settings import reset_settings_cache

    reset_settings_cache()
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not app.error and app.title
    app.switch_page("pages/summaries.py").run()
    build = [b for b in app.button if b.label == "Build summaries"]
    assert build and build[0].disabled  # a viewer cannot build summaries


def _actions_script() -> None:
    """Calls the dashboard's actions directly, as a page would after its button: the role
    check is in the actions, not only in the disabled buttons."""
    import streamlit as st

    from analytics.core.topics import load_topic
    from analytics.dashboard import actions, auth
    from analytics.store import queries, session_scope

    topic = load_topic("nato")
    with session_scope() as session:
        document_id = int(queries.documents_frame(session, topic.name)["id"].iloc[0])
    results = {"ingestion": actions.start_ingestion(topic, ["demo"]),
               "scoring": actions.start_scoring(topic),
               "settings": actions.settings_in_effect(),
               "labels": actions.save_labels(topic, document_id, "someone",
                                             {topic.score_keys[0]: 5.0}, 1.0)}
    if auth.current_role() == "viewer":  # an analyst would really run these
        results["summaries"] = actions.build_summaries(topic, "month", ["news"])
        results["ask"] = actions.ask_corpus(topic, "Is NATO united?", None)
        results["refit"] = actions.fit_trends(topic, topic.score_keys[:1], ["linear"],
                                              ("news",), None, None, force=True)
        results["sample"] = actions.draw_sample(topic, 5, "simple", 1)
    st.session_state["results"] = results


@pytest.mark.parametrize("role", ["viewer", "analyst"])
def test_actions_check_the_role_themselves(ui_settings, monkeypatch, role):
    from sqlalchemy import func, select

    from analytics.core.settings import reset_settings_cache
    from analytics.store import GoldLabel, Run, session_scope

    monkeypatch.setenv("ANALYTICS_DASHBOARD_ANONYMOUS_ROLE", role)
    reset_settings_cache()
    with session_scope() as session:
        runs_before = session.scalar(select(func.count(Run.id)))
    app = AppTest.from_function(_actions_script, default_timeout=120).run()
    assert not app.exception
    results = app.session_state["results"]
    errors = " ".join(e.value for e in app.error)
    assert results["ingestion"] is None and results["scoring"] is None
    assert results["settings"] is None
    for what in ("Ingestion", "Scoring", "Viewing the settings"):
        assert f"{what} needs the admin role; you are {role}" in errors
    if role == "viewer":
        assert results == {"ingestion": None, "scoring": None, "settings": None,
                           "labels": False, "summaries": None, "ask": None, "refit": None,
                           "sample": False}
        for what in ("Coding labels", "Building summaries", "Asking the corpus",
                     "Refitting trends", "Drawing a validation sample"):
            assert f"{what} needs the analyst role; you are viewer" in errors
    else:
        assert results["labels"] is True and "Coding labels" not in errors
    with session_scope() as session:
        labels = session.scalar(select(func.count(GoldLabel.id)))
        runs = session.scalar(select(func.count(Run.id)))
    assert labels == (1 if role == "analyst" else 0)
    assert runs == runs_before  # no ingestion (nor anything else) started
