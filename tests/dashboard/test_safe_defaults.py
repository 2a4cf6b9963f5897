"""Safe defaults: the shipped Streamlit config (loopback only, no tracebacks for users),
links only for http(s) URLs, and query parameters that cannot be used fall back to the
default with a notice instead of an error."""

from __future__ import annotations

import tomllib

import pytest
from streamlit.testing.v1 import AppTest

from analytics.dashboard.safe import document_id_param, escape_md, safe_url
from tests.support.paths import ROOT


def test_shipped_config_binds_to_the_loopback_and_hides_tracebacks():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert config["client"]["showErrorDetails"] in ("none", False)


@pytest.mark.parametrize("url, link", [
    ("https://example.org/a", "https://example.org/a"), (" HTTP://x.test ", "HTTP://x.test"),
    ("javascript:alert(1)", None), ("JavaScript:alert(1)", None),
    ("data:text/html,<script>", None), ("file:///etc/passwd", None), ("//evil.test", None),
    ("", None), (None, None), (float("nan"), None)])
def test_only_http_urls_become_links(url, link):
    assert safe_url(url) == link


def test_documents_without_a_url_show_no_link():
    """pandas reads a text column with a missing value as NaN (a float): a file import
    without URLs once broke the Documents page."""
    import pandas as pd

    from analytics.dashboard.tables import documents_table

    documents = pd.DataFrame({
        "id": [1, 2], "published_at": pd.to_datetime(["2026-01-01", "2026-01-02"], utc=True),
        "source": "news", "outlet": "x", "title": ["a", "b"], "n_comments": 0, "lang": "en",
        "url": ["https://x.test/1", None], "duplicate_of": None})
    assert documents["url"].isna().sum() == 1
    table = documents_table(documents, pd.DataFrame({"id": [1, 2], "s": [1.0, 2.0]}), ("s",))
    urls = table.set_index("id")["url"]
    assert urls[1] == "https://x.test/1" and pd.isna(urls[2])


@pytest.mark.parametrize("value, expected", [("12", 12), ("abc", 0), ("²", 0), ("-1", 0),
                                             ("0", 0), ("99999999999999999999", 0)])
def test_document_id_param(value, expected):
    assert document_id_param(value) == expected


@pytest.mark.parametrize("doc", ["abc", "99999999999999999999", "²", "424242", "-1"])
def test_bad_query_parameters_fall_back_with_a_notice(ui_settings, doc):
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    app.query_params.update({"window": "2w", "sources": "news,tv", "topic": "nope"})
    app.run()
    notices = " ".join(t.value for t in app.toast)
    assert not app.exception and not app.error and app.title
    assert "Unknown period '2w' in the link: showing all dates." in notices
    assert "Unknown topic 'nope' in the link" in notices
    assert "Unknown source(s) 'tv' in the link: showing news." in notices
    assert app.query_params["window"] == "all" and app.query_params["sources"] == "news"

    app.switch_page("pages/documents.py")
    app.query_params["doc"] = doc
    app.run()
    notices = " ".join(t.value for t in app.toast)
    assert not app.exception and not app.error
    assert (f"doc={escape_md(doc)} is not valid here; showing the first document of the list"
            in notices)
    assert app.subheader  # the first document is shown
