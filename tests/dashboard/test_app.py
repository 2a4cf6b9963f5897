"""Every page renders in AppTest with no exception, on the demo and on an empty database."""

import re

import pytest
from streamlit.testing.v1 import AppTest

from analytics.core.settings import get_settings
from tests.support.paths import ROOT

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
def test_page_renders_on_demo(ui_settings, page):
    app = _run(page)
    assert not app.exception, [e.value for e in app.exception]
    assert app.title, "page has no title"


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_on_empty_database(settings, page):
    app = _run(page)
    assert not app.exception, [e.value for e in app.exception]
    notices = " ".join(n.value for n in [*app.warning, *app.info])
    if page == "pages/sources.py":
        assert "No ingestion run yet" in notices
    elif page == "pages/alerts.py":  # rules and channels need no documents
        assert "No rules yet" in notices
    else:
        assert "python -m analytics demo" in notices, f"{page} must say what to run"


def test_overview_shows_banner_and_charts(ui_settings):
    app = _run("pages/overview.py")
    assert any("Demo data" in i.value for i in app.info)
    assert len(app.get("plotly_chart")) >= 3


def test_documents_detail_shows_scores_and_comments(ui_settings):
    app = _run("pages/documents.py")
    assert app.subheader and len(app.get("plotly_chart")) == 1
    assert any("Comments" in m.value for m in app.markdown)


def test_pages_only_draw():
    """Pages call analytics.dashboard and draw: no sessions, no caches, no stage internals."""
    for page in PAGES:
        text = (ROOT / page).read_text()
        for forbidden in ("session_scope", "st.cache_data", "st.cache_resource",
                          "from analytics.store import", "queries.scored_frame"):
            assert forbidden not in text, f"{page} uses {forbidden}"


def test_empty_database_prepares_the_demo_with_progress(settings, monkeypatch):
    """On a database with no documents, the first page starts the demo preparation in the
    background and says so; the job ends with every page's inputs."""
    from analytics.core.settings import reset_settings_cache
    from analytics.core.topics import load_topic
    from analytics.pipeline.demo import demo_preparation

    monkeypatch.setenv("ANALYTICS_DEMO_AUTOSTART", "true")
    monkeypatch.setenv("ANALYTICS_DEMO_DOCUMENTS", "60")
    for name, value in {"TREND_DRAWS": 100, "TREND_TUNE": 100, "TREND_CHAINS": 1,
                        "DYNAMICS_ITERATIONS": 20, "DYNAMICS_ENSEMBLE_SIZE": 2}.items():
        monkeypatch.setenv(f"ANALYTICS_{name}", str(value))
    reset_settings_cache()
    app = _run("pages/overview.py")
    assert not app.exception, [e.value for e in app.exception]
    assert any("Preparing the demo" in i.value for i in app.info)
    job = demo_preparation(load_topic("nato"), get_settings())
    job.thread.join(timeout=600)
    assert job.ok, (job.error, job.lines)
    assert any(line.startswith("score:") for line in job.lines)
    assert any(line.startswith("trends:") for line in job.lines)
    app = _run("pages/overview.py")
    assert any("Demo data" in i.value for i in app.info) and len(app.get("plotly_chart")) >= 3


@pytest.mark.parametrize("page", ["pages/overview.py", "pages/documents.py", "pages/trends.py",
                                  "pages/event.py", "pages/reports.py"])
def test_every_page_showing_scores_shows_their_agreement_badges(ui_settings, page):
    app = _run(page)
    badges = [m.value for m in app.markdown if "-badge[" in m.value]
    shown = len(app.multiselect(key="trend_scores").value) if page.endswith("trends.py") else 3
    assert len(badges) >= shown, f"{page} shows {len(badges)} agreement badges"
    assert all("scorer" in b for b in badges)


def test_trends_draws_change_posteriors_only_when_asked(ui_settings):
    app = _run("pages/trends.py")
    charts = len(app.get("plotly_chart"))
    app.toggle(key="trend_densities").set_value(True).run()
    assert not app.exception
    assert len(app.get("plotly_chart")) == charts + len(app.multiselect(key="trend_scores").value)
