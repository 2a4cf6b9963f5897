"""Real browser: `streamlit run` on 127.0.0.1, every page opened in headless Chromium."""

import re
from pathlib import Path

import pytest

from tests.browser import chromium_page, streamlit_server, wait_for_app

ROOT = Path(__file__).resolve().parents[1]
PAGES = re.findall(r'st\.Page\("pages/([a-z_]+)\.py"', (ROOT / "app.py").read_text())


@pytest.fixture(scope="module")
def server(demo_database, tmp_path_factory):
    env = {"ANALYTICS_DATABASE_URL": demo_database,
           "ANALYTICS_DATA_DIR": str(tmp_path_factory.mktemp("browser-data"))}
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
