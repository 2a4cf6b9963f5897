"""File import: CSV, JSONL or Parquet exported from other tools.

Two shapes, chosen by the column mapping:

- one row per document (``id``, ``date``, ``text`` and optionally ``title``, ``url``,
  ``author``);
- one row per comment, grouped into documents by ``document`` (e.g. a Reddit submission
  id), with ``parent`` giving the comment tree. Reddit fullnames are understood: a parent
  ``t3_<id>`` is the submission (a top-level comment), ``t1_<id>`` another comment.

``preset=reddit_comments`` maps the columns of the r/worldnews comment exports
(submission_id, id, parent_id, created_utc, body, score).

Bad rows never stop an import: a row whose cell cannot be used (no id, a date that is
neither an epoch nor an ISO date, an epoch out of range, a non-numeric like count) is
rejected with its reason and its row number (1 = the first data row) in the run's counts,
and the other rows are stored. A date column may mix epoch seconds and ISO dates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from analytics.core.errors import BadInput
from analytics.core.settings import Settings
from analytics.core.topics import Topic
from analytics.core.views import SOURCES
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
# columns used without an option when the file names them so (not ``document``/``parent``:
# those change the file's shape to one row per comment, which only the user can say)
SAME_NAMED = ("id", "date", "text", "title", "url", "author", "likes")
ROW = "_row"  # the row number (1 = the first data row) kept for rejection messages
# epoch seconds a timestamp can hold (pandas' nanosecond range, 1677-09-22 .. 2262-04-11)
EPOCH_RANGE = (-9_223_372_036.0, 9_223_372_036.0)


class BadFileOption(BadInput):
    """An option of the file import that cannot be used (e.g. an unknown source)."""


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
        if self.doc_source not in SOURCES:
            raise BadFileOption(f"File import: source '{self.doc_source}' is not one of "
                                f"{', '.join(SOURCES)} (option source=...).")

    def fetch(self, topic: Topic, query: str | None = None, since: dt.datetime | None = None,
              until: dt.datetime | None = None) -> Iterator[DocumentRecord]:
        frame = self._read()
        frame[ROW] = range(1, len(frame) + 1)
        column = self._column("date")
        frame["_date"], problems = _parse_dates(frame[column])
        for row, problem in zip(frame.loc[problems.notna(), ROW], problems.dropna(),
                                strict=True):
            self.context.reject(int(row), "bad_date", f"{column}: {problem}")
        frame = frame[problems.isna()]
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
        for key in SAME_NAMED:
            if key in frame.columns:
                self.mapping.setdefault(key, key)
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
        return _blank(row[column])

    # --- one row per document -----------------------------------------------------------
    def _documents(self, frame: pd.DataFrame, topic: Topic, since, until,
                   ) -> Iterator[DocumentRecord]:
        for _, row in frame.iterrows():
            when = row["_date"].to_pydatetime()
            if not _in_window(when, since, until):
                continue
            external_id = _text(self._value(row, "id"))
            if external_id is None or not external_id.strip():
                self.context.reject(int(row[ROW]), "missing_id",
                                    f"no value in the id column '{self.mapping['id']}'")
                continue
            yield DocumentRecord(
                source=self.doc_source, provider=self.name, topic=topic.name,
                external_id=external_id.strip(), published_at=when,
                text=str(self._value(row, "text") or ""), title=_text(self._value(row, "title")),
                url=_text(self._value(row, "url")), author=_text(self._value(row, "author")),
                meta={"file": self.path.name, "row": int(row[ROW])})

    # --- one row per comment, grouped into threads --------------------------------------
    def _threads(self, frame: pd.DataFrame, topic: Topic, since, until,
                 ) -> Iterator[DocumentRecord]:
        group_column = self._column("document")
        missing = frame[group_column].map(lambda v: _text(_blank(v)) is None)
        for row in frame.loc[missing, ROW]:
            self.context.reject(int(row), "missing_document",
                                f"no value in the document column '{group_column}'")
        for document_id, rows in frame[~missing].groupby(group_column, sort=False):
            rows = rows.sort_values("_date")
            comments = []
            for _, row in rows.iterrows():
                try:
                    comments.append(self._comment(row))
                except BadRow as exc:
                    self.context.reject(int(row[ROW]), exc.reason, str(exc))
            if not comments:
                continue
            first = min(c.published_at for c in comments)
            if not _in_window(first, since, until):
                continue
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
        external_id = _text(self._value(row, "id"))
        if external_id is None or not external_id.strip():
            raise BadRow("missing_id", f"no value in the id column '{self.mapping['id']}'")
        likes = self._value(row, "likes")
        try:
            likes = int(float(likes)) if likes is not None else None
        except (TypeError, ValueError, OverflowError) as exc:
            raise BadRow("bad_number", f"{self.mapping.get('likes')}: {str(likes)[:40]!r} is "
                         "not a number") from exc
        return CommentRecord(
            external_id=_strip_fullname(external_id.strip()),
            text=str(self._value(row, "text") or ""),
            parent_external_id=_parent(self._value(row, "parent")),
            author=_text(self._value(row, "author")),
            published_at=row["_date"].to_pydatetime(),
            likes=likes)


class BadRow(ValueError):
    """One input row cannot be used; ``reason`` is the failure count's key."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason


def _blank(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) \
        or value == "" else value


def _parse_dates(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Each cell on its own: epoch seconds (a number or a numeric string) or an ISO date, as
    a UTC timestamp; and per cell the problem (None when it parsed)."""
    dates = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    problems = pd.Series(None, index=values.index, dtype=object)
    text = values.map(lambda v: None if _blank(v) is None else str(v).strip())
    numeric = pd.to_numeric(text, errors="coerce")
    is_number = numeric.notna()
    in_range = is_number & numeric.between(*EPOCH_RANGE)
    if in_range.any():
        dates[in_range] = pd.to_datetime(numeric[in_range], unit="s", utc=True)
    problems[is_number & ~in_range] = text[is_number & ~in_range].map(
        lambda v: f"epoch {v[:30]} is out of range")
    others = ~is_number & text.notna()
    if others.any():
        dates[others] = pd.to_datetime(text[others], utc=True, errors="coerce", format="mixed")
    for index, value in text[others & dates.isna()].items():  # say why, cell by cell
        try:
            stamp = pd.Timestamp(value)
            dates[index] = stamp.tz_localize("UTC") if stamp.tzinfo is None else \
                stamp.tz_convert("UTC")
        except (ValueError, OverflowError, TypeError) as exc:
            kind = "out of range" if "out of bounds" in str(exc).lower() else "not a date"
            problems[index] = f"{value[:40]!r} is {kind}"
    problems[text.isna()] = "empty"
    return dates, problems


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
