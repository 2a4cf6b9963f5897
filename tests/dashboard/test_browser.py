"""Real browser: `streamlit run` on 127.0.0.1, every page opened in headless Chromium."""

import re

import pytest

from tests.conftest import UI_CORPUS_SIZE, copy_database
from tests.support.browser import chromium_page, streamlit_server, wait_for_app
from tests.support.paths import ROOT

PAGES = re.findall(r'st\.Page\("pages/([a-z_]+)\.py"', (ROOT / "app.py").read_text())


@pytest.fixture(scope="module")
def server(corpus_files, tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    database = copy_database(corpus_files(UI_CORPUS_SIZE), folder / "ui.db")
    env = {"ANALYTICS_DATABASE_URL": f"sqlite:///{database}",
           "ANALYTICS_DATA_DIR": str(folder / "data"), "ANALYTICS_DEMO_AUTOSTART": "false"}
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
    wait_for_app(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    main_text = page.locator('[data-testid="stMain"]').inner_text()
    assert len(main_text.strip()) > 50, "page is empty"
    if name in ("overview", "documents"):
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30000)
