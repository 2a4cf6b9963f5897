"""Real browser: save a view (page + filters) in the sidebar, stop the server, open the view
on a fresh server: the same page with the same state."""

import re
from urllib.parse import parse_qs, urlsplit

from analytics.store.engine import get_engine
from tests.support.browser import chromium_page, streamlit_server, wait_for_app
from tests.support.databases import database_url


def test_saved_view_reopens_the_same_page_and_state_on_a_fresh_server(tmp_path):
    url = database_url(tmp_path / "views.db", lasting=True)
    get_engine(url).dispose()  # migrated, empty
    env = {"ANALYTICS_DATABASE_URL": url, "ANALYTICS_DATA_DIR": str(tmp_path / "data"),
           "ANALYTICS_DEMO_AUTOSTART": "false", "ANALYTICS_TREND_WARM_UP": "false"}
    with chromium_page() as page:
        with streamlit_server(env) as base:
            page.goto(f"{base}/trends?window=90d&sources=news,reddit")
            wait_for_app(page)
            sidebar = page.get_by_test_id("stSidebar")
            sidebar.get_by_text("Saved views", exact=True).click()
            sidebar.get_by_label("Name this view").fill("Unity in news and Reddit")
            sidebar.get_by_label("Name this view").press("Enter")
            sidebar.get_by_role("button", name="Save view").click()
            sidebar.get_by_role("button", name="Open view", exact=True).wait_for(timeout=30000)

        with streamlit_server(env) as base:  # a fresh server, a fresh session
            page.goto(f"{base}/")
            wait_for_app(page)
            assert "/trends" not in page.url
            sidebar = page.get_by_test_id("stSidebar")
            sidebar.get_by_text("Saved views", exact=True).click()
            assert sidebar.get_by_role("combobox", name="Saved view", exact=True).input_value() \
                == "Unity in news and Reddit"
            sidebar.get_by_role("button", name="Open view", exact=True).click()
            page.wait_for_url(re.compile(r"/trends\?"), timeout=60000)
            wait_for_app(page)
            query = parse_qs(urlsplit(page.url).query)
            assert query["window"] == ["90d"] and query["sources"] == ["news,reddit"]
            assert query["topic"] == ["nato"]
            sidebar = page.get_by_test_id("stSidebar")
            assert sidebar.get_by_role("combobox", name="Period").input_value() \
                == "last 90 days"
            chosen = sidebar.get_by_test_id("stMultiSelect").first.inner_text()
            assert "news" in chosen and "reddit" in chosen and "youtube" not in chosen
            assert page.get_by_test_id("stMain").get_by_role("heading", name="Trends").count()
