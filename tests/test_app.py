"""Every page renders in AppTest with no exception, on the demo and on an empty database."""

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
PAGES = re.findall(r'st\.Page\("(pages/[a-z_]+\.py)"', (ROOT / "app.py").read_text())


def _run(page: str) -> AppTest:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    app.run()
    if page != PAGES[0]:
        app.switch_page(page)
        app.run()
    return app


def test_pages_are_registered():
    assert PAGES[:2] == ["pages/overview.py", "pages/documents.py"]
    assert all((ROOT / page).is_file() for page in PAGES)


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_on_demo(demo_settings, page):
    app = _run(page)
    assert not app.exception, [e.value for e in app.exception]
    assert app.title, "page has no title"


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_on_empty_database(settings, page):
    app = _run(page)
    assert not app.exception, [e.value for e in app.exception]
    assert app.warning or app.info, "empty page must say what to run"


def test_overview_shows_banner_and_charts(demo_settings):
    app = _run("pages/overview.py")
    assert any("Demo data" in i.value for i in app.info)
    assert len(app.get("plotly_chart")) >= 3


def test_documents_detail_shows_scores_and_comments(demo_settings):
    app = _run("pages/documents.py")
    assert app.subheader and len(app.get("plotly_chart")) == 1
    assert any("Comments" in m.value for m in app.markdown)
