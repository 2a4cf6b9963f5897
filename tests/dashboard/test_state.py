"""One view shared by every page: a link restores it; an empty source selection is said out
loud; a linked document outside the filters is flagged. (Persistence across page changes
and the clearing of stale selections need the real server: tests/dashboard/test_browser.py.)
"""

from streamlit.testing.v1 import AppTest

from tests.support.paths import ROOT


def _app(**params: str) -> AppTest:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    app.query_params.update(params)
    app.run()
    return app


def test_a_link_restores_the_view(ui_settings):
    app = _app(window="30d", sources="reddit,youtube")
    assert not app.exception, [e.value for e in app.exception]
    assert app.sidebar.selectbox(key="window").value == "30d"
    assert set(app.sidebar.multiselect(key="sources").value) == {"youtube", "reddit"}
    view = app.session_state["_view"]
    assert view.start is not None and (view.end - view.start).days == 29
    assert any(c.value == view.label for c in app.caption)


def test_no_source_selected_is_an_explicit_empty_state(ui_settings):
    app = _app(sources="none")
    assert any("No source is selected" in w.value for w in app.warning)
    assert not app.get("plotly_chart")


def test_a_linked_document_outside_the_filters_is_flagged(ui_settings):
    from analytics.store import Document, session_scope

    with session_scope() as session:
        reddit_id = session.query(Document.id).filter(Document.source == "reddit").first()[0]
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    app.query_params.update({"sources": "news", "doc": str(reddit_id)})
    app.switch_page("pages/documents.py")
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("outside this view's filters" in c.value for c in app.caption)
