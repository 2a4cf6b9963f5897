"""File import: the real r/worldnews comment sample as Reddit threads, and CSV/JSONL/
Parquet files with a column mapping."""

from __future__ import annotations

import pandas as pd
import pytest

from analytics.ingest.http import IngestError
from analytics.ingest.runner import run_provider
from tests.support.ingest_servers import stored

SAMPLE = "reddit_nato/comments_nato_sample_300pm.csv"


def test_reddit_sample_imports_as_threads_with_comment_trees(settings, topic, shared_data):
    path = shared_data / SAMPLE
    raw = pd.read_csv(path, dtype=str)
    options = {"path": str(path), "preset": "reddit_comments"}
    result = run_provider("file", topic, options=options, settings=settings)
    assert result.status == "ok"
    assert result.counts["new"] == raw["submission_id"].nunique() == 700
    docs = stored(settings.database_url)
    assert {d.source for d in docs} == {"reddit"} and len(docs) == 700
    assert sum(len(d.comments) for d in docs) == len(raw) == 5700
    doc = next(d for d in docs if d.external_id == raw["submission_id"].iloc[0])
    expected = raw[raw["submission_id"] == doc.external_id]
    tree = {c.external_id: c.parent_external_id for c in doc.comments}
    for row in expected.itertuples():
        parent = None if row.parent_id.startswith("t3_") else row.parent_id[3:]
        assert tree[row.id] == parent
    top_level = sum(c.parent_external_id is None for d in docs for c in d.comments)
    assert top_level == int(raw["parent_id"].str.startswith("t3_").sum())
    assert min(d.published_at for d in docs).year == 2022
    assert all(d.duplicate_of is None for d in docs)

    again = run_provider("file", topic, options=options, settings=settings)
    assert again.counts["new"] == 0 and again.counts["unchanged"] == 700
    assert len(stored(settings.database_url)) == 700


@pytest.mark.parametrize("suffix", ["csv", "jsonl", "parquet"])
def test_document_files_with_a_column_mapping(settings, topic, tmp_path, suffix):
    frame = pd.DataFrame({
        "doc": ["a", "b", "c"], "when": ["2026-03-01T10:00:00Z", "2026-03-02", "not a date"],
        "body": ["NATO allies met.", "Article 5 debated.", "Undated."],
        "headline": ["One", "Two", "Three"], "link": ["https://x.test/1", "", ""]})
    path = tmp_path / f"export.{suffix}"
    {"csv": lambda: frame.to_csv(path, index=False),
     "jsonl": lambda: frame.to_json(path, orient="records", lines=True),
     "parquet": lambda: frame.to_parquet(path)}[suffix]()
    result = run_provider("file", topic, settings=settings, options={
        "path": str(path), "id": "doc", "date": "when", "text": "body", "title": "headline",
        "url": "link"})
    assert result.counts["new"] == 2 and result.counts["failures"] == {"bad_date": 1}
    docs = stored(settings.database_url)
    assert [(d.external_id, d.title, d.source) for d in docs] == [
        ("a", "One", "news"), ("b", "Two", "news")]


def test_same_named_columns_need_no_mapping(settings, topic, tmp_path):
    path = tmp_path / "plain.csv"
    pd.DataFrame({"id": ["p1"], "date": ["2026-03-01"], "text": ["NATO allies met."],
                  "title": ["Met"], "body": ["ignored"]}).to_csv(path, index=False)
    result = run_provider("file", topic, settings=settings, options={"path": str(path)})
    assert result.counts["new"] == 1
    assert [(d.external_id, d.title) for d in stored(settings.database_url)] == [("p1", "Met")]
    # an explicit option still wins over a same-named column
    result = run_provider("file", topic, settings=settings,
                          options={"path": str(path), "text": "body", "id": "title"})
    assert result.counts["new"] == 1


def test_unmapped_columns_are_named(settings, topic, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(IngestError, match=r"lacks column.*columns are \['a', 'b'\]"):
        run_provider("file", topic, settings=settings,
                     options={"path": str(path), "id": "id", "date": "d", "text": "t"})


def test_bad_rows_fail_alone_with_their_row_numbers(settings, topic, tmp_path):
    """One bad cell fails its row, never the import; what the user sees is in the run."""
    big = "NATO summit. " * 20_000  # 260 kB: cut to ingest_max_document_chars
    frame = pd.DataFrame({
        "doc": ["iso", "epoch", "far", "word", "", "nul", "big", "blank-date"],
        "when": ["2026-03-01T10:00:00Z", "1772359200", "1e20", "yesterday-ish",
                 "2026-03-02", "2026-03-03", "2026-03-04", ""],
        "body": ["ISO date.", "Epoch date.", "Far.", "Word.", "No id.", "Nul\x00 byte\x00.",
                 big, "No date."]})
    path = tmp_path / "mixed.csv"
    frame.to_csv(path, index=False)
    result = run_provider("file", topic, settings=settings, options={
        "path": str(path), "id": "doc", "date": "when", "text": "body"})
    assert result.status == "ok"
    counts = result.counts
    assert counts["new"] == 4 and counts["failed"] == 4
    assert counts["failures"] == {"bad_date": 3, "missing_id": 1}
    rejected = {r["row"]: (r["reason"], r["detail"]) for r in counts["rejected"]}
    assert rejected[3][0] == "bad_date" and "out of range" in rejected[3][1]
    assert rejected[4][0] == "bad_date" and "not a date" in rejected[4][1]
    assert rejected[5][0] == "missing_id" and rejected[8] == ("bad_date", "when: empty")
    assert counts["nul_bytes_removed"] == 2 and counts["truncated"] == 1
    assert "row 3: bad_date" in result.summary()
    docs = {d.external_id: d for d in stored(settings.database_url)}
    assert set(docs) == {"iso", "epoch", "nul", "big"}
    assert docs["epoch"].published_at.replace(tzinfo=None).isoformat() == "2026-03-01T10:00:00"
    assert docs["nul"].text == "Nul byte."
    assert len(docs["big"].text) == settings.ingest.max_document_chars
    assert docs["big"].meta["truncated"]["text_chars"] == len(big)


def test_a_non_numeric_like_count_fails_one_comment(settings, topic, tmp_path):
    path = tmp_path / "comments.csv"
    path.write_text("submission_id,id,parent_id,created_utc,body,score\n"
                    "s1,c1,t3_s1,1772359200,First,3\n"
                    "s1,c2,t1_c1,1772359300,Second,lots\n"
                    ",c3,t3_s2,1772359400,Orphan,1\n"
                    "s1,,t3_s1,1772359500,No id,2\n")
    result = run_provider("file", topic, settings=settings,
                          options={"path": str(path), "preset": "reddit_comments"})
    assert result.status == "ok" and result.counts["new"] == 1
    assert result.counts["failures"] == {"bad_number": 1, "missing_document": 1,
                                         "missing_id": 1}
    assert [r["row"] for r in result.counts["rejected"]] == [3, 2, 4] or \
        sorted(r["row"] for r in result.counts["rejected"]) == [2, 3, 4]
    (doc,) = stored(settings.database_url)
    assert [c.external_id for c in doc.comments] == ["c1"]


def test_unknown_source_is_bad_input(settings, topic, tmp_path):
    from typer.testing import CliRunner

    from analytics.cli import app

    path = tmp_path / "x.csv"
    path.write_text("id,date,text\n1,2026-01-01,x\n")
    result = CliRunner().invoke(app, ["ingest", "--source", "file", "--path", str(path),
                                      "--option", "source=anything", "--option", "id=id",
                                      "--option", "date=date", "--option", "text=text"])
    assert result.exit_code == 2 and "not one of news, youtube, reddit" in result.output
    assert stored(settings.database_url) == []


def test_two_overlapping_imports_of_one_file_both_succeed(settings, topic, tmp_path):
    """Measured before: one of two overlapping ingests died with a unique violation."""
    import os
    import subprocess
    import sys

    from tests.support.paths import ROOT

    rows = 600
    frame = pd.DataFrame({"id": [f"d{i}" for i in range(rows)],
                          "date": ["2026-03-01"] * rows,
                          "text": [f"Document {i} about NATO." for i in range(rows)]})
    path = tmp_path / "same.csv"
    frame.to_csv(path, index=False)
    env = {**os.environ, "ANALYTICS_DATABASE_URL": settings.database_url,
           "ANALYTICS_INGEST_BATCH_SIZE": "25"}
    command = [sys.executable, "-m", "analytics", "ingest", "--source", "file", "--path",
               str(path), "--option", "id=id", "--option", "date=date", "--option",
               "text=text"]
    processes = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT) for _ in range(2)]
    outputs = [p.communicate(timeout=300)[0].decode() for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert len(stored(settings.database_url)) == rows
