"""Real browser: `streamlit run` on 127.0.0.1, every page opened in headless Chromium."""

import re

import pytest

from tests.conftest import UI_CORPUS_SIZE
from tests.support.browser import chromium_page, streamlit_server, wait_for_app
from tests.support.databases import clone_database
from tests.support.paths import ROOT

PAGES = re.findall(r'st\.Page\("pages/([a-z_]+)\.py"', (ROOT / "app.py").read_text())


@pytest.fixture(scope="module")
def server(corpus_files, tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    url = clone_database(corpus_files(UI_CORPUS_SIZE), folder / "ui.db", lasting=True)
    env = {"ANALYTICS_DATABASE_URL": url,
           "ANALYTICS_DATA_DIR": str(folder / "data"), "ANALYTICS_DEMO_AUTOSTART": "false",
           # The Trends page fits what it lacks when opened: test-sized samplers.
           "ANALYTICS_TREND_DRAWS": "200", "ANALYTICS_TREND_TUNE": "200",
           "ANALYTICS_TREND_CHAINS": "2"}
    with streamlit_server(env) as base:
        yield base


@pytest.fixture(scope="module")
def page():
    with chromium_page() as browser_page:
        yield browser_page


@pytest.mark.parametrize("name", PAGES)
def test_page_loads_without_exception(server, page, name):
    path = "" if name == PAGES[0] else name
    page.goto(f"{server}/{path}")
    wait_for_app(page, 240000 if name == "trends" else 60000)
    assert page.locator('[data-testid="stException"]').count() == 0
    main_text = page.locator('[data-testid="stMain"]').inner_text()
    assert len(main_text.strip()) > 50, "page is empty"
    if name in ("overview", "documents"):
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30000)


def test_filters_persist_across_pages_and_stale_selections_clear(server, page):
    """Set 90 days + news (by link), change page with the navigation: the view stays, in the
    sidebar and the URL. Changing a filter forgets the document selected under the old one."""
    from urllib.parse import parse_qs, urlsplit

    page.goto(f"{server}/?window=90d&sources=news")
    wait_for_app(page)
    page.get_by_test_id("stSidebarNav").get_by_text("Trends", exact=True).click()
    page.wait_for_url(re.compile(r"/trends"), timeout=60000)
    wait_for_app(page, 180000)
    query = parse_qs(urlsplit(page.url).query)
    assert query["window"] == ["90d"] and query["sources"] == ["news"]
    sidebar = page.get_by_test_id("stSidebar")
    assert sidebar.get_by_role("combobox", name="Period").input_value() == "last 90 days"
    assert "youtube" not in sidebar.get_by_test_id("stMultiSelect").first.inner_text()

    page.goto(f"{server}/documents?window=90d&sources=news&doc=1")
    wait_for_app(page)
    assert "doc" in parse_qs(urlsplit(page.url).query)
    sidebar.get_by_role("combobox", name="Period").click()
    page.get_by_role("option", name="last 180 days").click()
    wait_for_app(page)
    # The URL follows the new period and forgets the document chosen under the old one.
    page.wait_for_function(
        "() => !location.search.includes('doc=') && location.search.includes('window=180d')",
        timeout=30000)
