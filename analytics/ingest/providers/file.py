"""File import: CSV, JSONL or Parquet exported from other tools.

Two shapes, chosen by the column mapping:

- one row per document (``id``, ``date``, ``text`` and optionally ``title``, ``url``,
  ``author``);
- one row per comment, grouped into documents by ``document`` (e.g. a Reddit submission
  id), with ``parent`` giving the comment tree. Reddit fullnames are understood: a parent
  ``t3_<id>`` is the submission (a top-level comment), ``t1_<id>`` another comment.

``preset=reddit_comments`` maps the columns of the r/worldnews comment exports
(submission_id, id, parent_id, created_utc, body, score).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from analytics.core.settings import Settings
from analytics.core.topics import Topic
from analytics.ingest.base import Option, RunContext
from analytics.ingest.http import IngestError
from analytics.store.records import CommentRecord, DocumentRecord

PRESETS: dict[str, dict[str, str]] = {
    "reddit_comments": {
        "source": "reddit", "document": "submission_id", "id": "id", "parent": "parent_id",
        "date": "created_utc", "text": "body", "likes": "score",
        "document_title": "Reddit thread {document}",
        "document_url": "https://www.reddit.com/comments/{document}/",
    },
}
MAPPING_KEYS = ("id", "date", "text", "title", "url", "author", "parent", "document", "likes")


class FileImportProvider:
    name = "file"
    source = "news"
    credentials: tuple[str, ...] = ()
    needs_window = False
    options = (
        Option("path", str, "", "File to import (.csv, .jsonl/.ndjson or .parquet)."),
        Option("preset", str, "", "Column preset: 'reddit_comments' or empty."),
        Option("source", str, "news", "Source of the imported documents: news|youtube|reddit."),
        *(Option(key, str, "", f"Column holding the {key}.") for key in MAPPING_KEYS),
    )

    def __init__(self, settings: Settings, context: RunContext | None = None, **options: Any):
        self.settings = settings
        self.context = context or RunContext()
        preset = options.get("preset") or ""
        if preset and preset not in PRESETS:
            raise IngestError(f"File import: unknown preset '{preset}'. "
                              f"Known: {', '.join(PRESETS)}.")
        self.mapping = {**PRESETS.get(preset, {}),
                        **{k: v for k, v in options.items() if v and isinstance(v, str)}}
        self.path = Path(self.mapping.get("path", ""))
        self.doc_source = self.mapping.get("source", "news")

    def fetch(self, topic: Topic, query: str | None = None, since: dt.datetime | None = None,
              until: dt.datetime | None = None) -> Iterator[DocumentRecord]:
        frame = self._read()
        frame["_date"] = _parse_dates(frame[self._column("date")])
        bad = frame["_date"].isna()
        if bad.any():
            self.context.fail("bad_date", int(bad.sum()))
            frame = frame[~bad]
        if "document" in self.mapping:
            yield from self._threads(frame, topic, since, until)
        else:
            yield from self._documents(frame, topic, since, until)

    # --- reading ---------------------------------------------------------------------
    def _read(self) -> pd.DataFrame:
        if not self.path.is_file():
            raise IngestError(f"File import: {self.path} does not exist.")
        suffix = self.path.suffix.lower()
        try:
            if suffix == ".csv":
                frame = pd.read_csv(self.path, dtype=str, keep_default_na=False)
            elif suffix in (".jsonl", ".ndjson", ".json"):
                frame = pd.read_json(self.path, lines=suffix != ".json", dtype=False)
            elif suffix in (".parquet", ".pq"):
                frame = pd.read_parquet(self.path)
            else:
                raise IngestError(f"File import: unsupported file type '{suffix}' "
                                  "(use .csv, .jsonl or .parquet).")
        except (ValueError, OSError) as exc:
            raise IngestError(f"File import: cannot read {self.path.name}: {exc}") from exc
        missing = [self.mapping[k] for k in ("id", "date", "text", "document", "parent")
                   if k in self.mapping and self.mapping[k] not in frame.columns]
        if missing or "id" not in self.mapping or "text" not in self.mapping:
            raise IngestError(
                f"File import: {self.path.name} lacks column(s) {missing or ['id/text']}; "
                f"its columns are {list(frame.columns)}. Map them with --option "
                "id=...,date=...,text=... (see docs/INGESTION.md).")
        return frame

    def _column(self, key: str) -> str:
        if key not in self.mapping:
            raise IngestError(f"File import: no '{key}' column mapped (option {key}=COLUMN).")
        return self.mapping[key]

    def _value(self, row: pd.Series, key: str) -> Any:
        column = self.mapping.get(key)
        if not column or column not in row.index:
            return None
        value = row[column]
        return None if value is None or (isinstance(value, float) and pd.isna(value)) \
            or value == "" else value

    # --- one row per document -----------------------------------------------------------
    def _documents(self, frame: pd.DataFrame, topic: Topic, since, until,
                   ) -> Iterator[DocumentRecord]:
        for _, row in frame.iterrows():
            when = row["_date"].to_pydatetime()
            if not _in_window(when, since, until):
                continue
            yield DocumentRecord(
                source=self.doc_source, provider=self.name, topic=topic.name,
                external_id=str(self._value(row, "id")), published_at=when,
                text=str(self._value(row, "text") or ""), title=_text(self._value(row, "title")),
                url=_text(self._value(row, "url")), author=_text(self._value(row, "author")),
                meta={"file": self.path.name})

    # --- one row per comment, grouped into threads --------------------------------------
    def _threads(self, frame: pd.DataFrame, topic: Topic, since, until,
                 ) -> Iterator[DocumentRecord]:
        group_column = self._column("document")
        for document_id, rows in frame.groupby(group_column, sort=False):
            rows = rows.sort_values("_date")
            first = rows["_date"].iloc[0].to_pydatetime()
            if not _in_window(first, since, until):
                continue
            comments = [self._comment(row) for _, row in rows.iterrows()]
            fields = {"document": document_id}
            yield DocumentRecord(
                source=self.doc_source, provider=self.name, topic=topic.name,
                external_id=str(document_id), published_at=first, text="",
                title=self.mapping.get("document_title", "Thread {document}").format(**fields),
                url=self.mapping.get("document_url", "").format(**fields) or None,
                meta={"file": self.path.name, "comments_in_file": len(comments),
                      "imported_comments_only": True},
                comments=comments)

    def _comment(self, row: pd.Series) -> CommentRecord:
        likes = self._value(row, "likes")
        return CommentRecord(
            external_id=_strip_fullname(str(self._value(row, "id"))),
            text=str(self._value(row, "text") or ""),
            parent_external_id=_parent(self._value(row, "parent")),
            author=_text(self._value(row, "author")),
            published_at=row["_date"].to_pydatetime(),
            likes=int(float(likes)) if likes is not None else None)


def _parse_dates(values: pd.Series) -> pd.Series:
    """Epoch seconds (numbers or numeric strings) or ISO dates, as UTC timestamps."""
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all():
        return pd.to_datetime(numeric, unit="s", utc=True)
    return pd.to_datetime(values, utc=True, errors="coerce", format="mixed")


def _in_window(when: dt.datetime, since: dt.datetime | None, until: dt.datetime | None) -> bool:
    return (since is None or when >= since) and (until is None or when < until)


def _strip_fullname(value: str) -> str:
    return value.split("_", 1)[1] if value[:3] in ("t1_", "t3_") else value


def _parent(value: Any) -> str | None:
    """A reply to the submission (t3_) is top level (None); t1_x is comment x."""
    if value is None:
        return None
    text = str(value)
    if text.startswith("t3_"):
        return None
    return _strip_fullname(text)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
