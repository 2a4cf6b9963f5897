"""Reports: escaping in every format, valid PDF, offline HTML, CSV formula neutralisation."""

import io
import zipfile

import pytest

from analytics import report as reports
from tests.support.hostile import XSS_TITLE, build_hostile_corpus


@pytest.fixture
def hostile_db(settings, topic):
    """A small scored corpus with a hostile title, comment and a formula-looking title."""
    build_hostile_corpus(settings, topic)
    return settings


def test_html_report_escapes_untrusted_text_and_is_self_contained(hostile_db, topic):
    data = reports.build_report(topic, "all", settings=hostile_db)
    assert data.summaries.empty  # no level-2 summaries yet: the section says so
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
    from analytics.core.settings import Settings

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


def test_short_window_report_fits_its_trends_and_reports_the_change(scored_corpus, topic):
    """A 90-day report fits what it lacks (no command in the headlines) and states the change
    over those 90 days, never a yearly rate extrapolated from them."""
    settings = scored_corpus(300, trend_draws=150, trend_tune=150, trend_chains=2)
    stages = []
    data = reports.build_report(topic, "90d", settings=settings,
                                progress=lambda update: stages.append(update.stage))
    assert stages, "fitting must report progress"
    assert len(data.headlines) == len(topic.scores)
    for line in data.headlines:
        assert "python -m analytics" not in line.sentence
        assert "points from" in line.sentence and "per year" not in line.sentence
        assert line.change_low <= line.change <= line.change_high
    assert set(data.trend_table["form"]) <= {"linear", "events"}
    assert data.trend_table["slope_per_year"].isna().all()
    html = reports.render_html(data)
    assert data.headlines[0].sentence.split(" — ")[0] in html
