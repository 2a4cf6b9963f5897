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


def test_unmapped_columns_are_named(settings, topic, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(IngestError, match=r"lacks column.*columns are \['a', 'b'\]"):
        run_provider("file", topic, settings=settings,
                     options={"path": str(path), "id": "id", "date": "d", "text": "t"})
