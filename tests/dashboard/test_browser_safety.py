"""Real browser: hostile text stays text, shared URLs restore filters, reports work offline."""

import pytest

from analytics import report as reports
from analytics.core.settings import get_settings, reset_settings_cache
from analytics.core.topics import load_topic
from tests.conftest import UI_CORPUS_SIZE
from tests.support.browser import chromium_page, streamlit_server, wait_for_app
from tests.support.databases import clone_database, database_url
from tests.support.hostile import XSS_TITLE, build_hostile_corpus


@pytest.fixture(scope="module")
def hostile_env(tmp_path_factory):
    """A scored hostile corpus and its exported HTML report; the env for a server."""
    folder = tmp_path_factory.mktemp("hostile")
    env = {"ANALYTICS_DATABASE_URL": database_url(folder / "h.db", lasting=True),
           "ANALYTICS_DATA_DIR": str(folder / "data"), "ANALYTICS_DEMO_AUTOSTART": "false"}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        reset_settings_cache()
        topic = load_topic("nato")
        build_hostile_corpus(get_settings(), topic)
        report = folder / "report.html"
        reports.write_report(reports.build_report(topic, "all", settings=get_settings()),
                             "html", report)
    reset_settings_cache()
    return env, report


@pytest.fixture(scope="module")
def page():
    with chromium_page() as browser_page:
        dialogs = []
        browser_page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        browser_page.dialogs = dialogs
        yield browser_page


def test_hostile_title_and_comment_render_as_text(hostile_env, page):
    env, _ = hostile_env
    with streamlit_server(env) as base:
        page.goto(f"{base}/documents?doc=1")
        wait_for_app(page)
        page.get_by_test_id("stMain").locator("strong", has_text="Comments").wait_for(
            timeout=30000)
        page.wait_for_timeout(1500)
        assert page.locator('img[src="x"]').count() == 0
        scripts = page.locator("script").all_inner_texts()
        assert not any("alert(" in s for s in scripts)
        assert XSS_TITLE in page.locator('[data-testid="stMain"]').inner_text()
        assert page.locator('a[href^="javascript:"]').count() == 0
        assert page.dialogs == []


def test_shared_url_restores_filters(corpus_files, page, tmp_path):
    """Opened first on a fresh server (the hard case: app.py has not run yet)."""
    url = clone_database(corpus_files(UI_CORPUS_SIZE), tmp_path / "ui.db")
    env = {"ANALYTICS_DATABASE_URL": url, "ANALYTICS_DATA_DIR": str(tmp_path)}
    with streamlit_server(env) as base:
        page.goto(f"{base}/documents?topic=nato&window=90d&sources=news,reddit")
        wait_for_app(page)
        sidebar = page.locator('[data-testid="stSidebar"]')
        assert sidebar.get_by_role("combobox", name="Period").input_value() == "last 90 days"
        chosen = sidebar.get_by_test_id("stMultiSelect").first.inner_text().split()
        assert "news" in chosen and "reddit" in chosen and "youtube" not in chosen
        assert "window=90d" in page.url and "sources=news%2Creddit" in page.url.replace(
            ",", "%2C")
        caption = page.locator('[data-testid="stMain"]').inner_text()
        assert "news, reddit" in caption and "youtube" not in caption


def test_exported_html_report_renders_offline(hostile_env, page):
    _, report = hostile_env
    requests, dialogs = [], []
    # A fresh context in the module's browser (one Playwright per process): no earlier app
    # is still polling its server from this page.
    context = page.context.browser.new_context()
    try:
        page = context.new_page()
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.on("request", lambda request: requests.append(request.url))
        page.goto(report.as_uri())
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60000)
        assert [url for url in requests if not url.startswith(("file:", "data:", "about:"))] == []
        assert page.locator('img[src="x"]').count() == 0
    finally:
        context.close()
    assert dialogs == []
