"""Reports: escaping in every format, valid PDF, offline HTML, CSV formula neutralisation."""

import datetime as dt
import io
import zipfile

import pytest

from analytics import reports
from analytics.ingest.runner import ingest_records
from analytics.scoring.pipeline import score_topic
from analytics.store.records import CommentRecord, DocumentRecord

XSS_TITLE = "<img src=x onerror=alert(1)>"
XSS_COMMENT = "<script>alert('comment')</script> NATO allies stand united."


@pytest.fixture
def hostile_db(settings, topic):
    """A small scored corpus with a hostile title, comment and a formula-looking title."""
    moment = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    records = [
        DocumentRecord(source="reddit", provider="test", external_id=f"x{i}", topic="nato",
                       published_at=moment + dt.timedelta(days=i),
                       title=XSS_TITLE if i == 0 else ("=HYPERLINK(\"http://evil\")" if i == 1
                                                       else f"Allies meet {i}"),
                       text="The allies stand fully united and speak with one voice. "
                            f"Article 5 is ironclad. Item {i}.",
                       url="javascript:alert(1)" if i == 0 else f"https://example.test/{i}",
                       comments=[CommentRecord(external_id="c0", text=XSS_COMMENT)])
        for i in range(12)
    ]
    ingest_records(records, topic="nato", provider="test")
    score_topic(topic, settings=settings)
    return settings


def test_html_report_escapes_untrusted_text_and_is_self_contained(hostile_db, topic):
    data = reports.build_report(topic, "all", settings=hostile_db)
    data.summaries = data.summaries  # level-2 summaries absent: section says so
    html = reports.render_html(data)
    assert XSS_TITLE not in html
    assert "<script>alert" not in html
    assert "<script src=" not in html  # nothing loaded from elsewhere
    assert "Plotly" in html  # plotly.js inlined
    assert any("summarize" in note for note in data.notes)


def test_pdf_report_is_valid(hostile_db, topic, tmp_path):
    data = reports.build_report(topic, "all", settings=hostile_db)
    path = reports.write_report(data, "pdf", tmp_path / "r.pdf")
    pdf = path.read_bytes()
    assert pdf.startswith(b"%PDF")
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    text = "".join(page.extract_text() for page in reader.pages)
    assert len(reader.pages) > 0 and "trend report" in text


def test_csv_report_neutralises_formulas(hostile_db, topic):
    data = reports.build_report(topic, "all", settings=hostile_db)
    archive = zipfile.ZipFile(io.BytesIO(reports.render_csv(data)))
    documents = archive.read("documents.csv").decode()
    assert "'=HYPERLINK" in documents and ",=HYPERLINK" not in documents
    assert set(archive.namelist()) >= {"documents.csv", "trends.csv", "coverage.csv"}


def test_empty_database_report_says_what_to_run(settings, topic):
    data = reports.build_report(topic, "90d", settings=settings)
    assert data.notes and "ingest" in data.notes[0]
    assert "<html" in reports.render_html(data)


def test_prune_keeps_newest(settings, tmp_path, monkeypatch):
    monkeypatch.setenv("ANALYTICS_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("ANALYTICS_REPORTS_KEEP", "2")
    from analytics.config import Settings

    local = Settings()
    folder = tmp_path / "reports"
    folder.mkdir()
    for i in range(4):
        path = folder / f"nato-90d-{i}.html"
        path.write_text("x")
        import os

        os.utime(path, (1000 + i, 1000 + i))
    removed = reports.prune_reports(local, "nato")
    assert sorted(p.name for p in folder.iterdir()) == ["nato-90d-2.html", "nato-90d-3.html"]
    assert len(removed) == 2
