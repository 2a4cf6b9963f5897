"""Human gold labels: store one annotator's coding, read them, CSV export and import."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from analytics.core.errors import BadInput
from analytics.core.topics import Topic
from analytics.store.models import Document, GoldLabel, utcnow
from analytics.validate.sampling import latest_sample

NOT_ADDRESSED_TOKENS = {"not addressed", "not_addressed", "na", "n/a", "none", "null"}
LABEL_CSV_COLUMNS = ["document_id", "score", "value", "annotator", "sampling_probability",
                     "created_at"]


class LabelError(BadInput):
    """A label or a label file that cannot be stored; the message says what to fix."""


def _check_value(value: float | None, where: str = "") -> float | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    value = float(value)
    if not 0.0 <= value <= 10.0:
        raise LabelError(f"{where}value {value:g} is outside 0-10")
    return value


def save_labels(session: Session, topic: Topic, document_id: int, annotator: str,
                values: Mapping[str, float | None],
                sampling_probability: float | None = None) -> int:
    """Store one annotator's scores of one document (None = not addressed).

    Saving again replaces that annotator's earlier value of the same score; a second
    annotator gets rows of their own (inter-coder reliability).
    """
    annotator = (annotator or "").strip()
    if not annotator:
        raise LabelError("Enter your name as annotator before saving.")
    unknown = set(values) - set(topic.score_keys)
    if unknown:
        raise LabelError(f"unknown score key(s) {sorted(unknown)} for topic '{topic.name}'")
    if session.get(Document, document_id) is None:
        raise LabelError(f"document {document_id} does not exist")
    existing = {row.score: row for row in session.scalars(select(GoldLabel).where(
        GoldLabel.document_id == document_id, GoldLabel.topic == topic.name,
        GoldLabel.annotator == annotator))}
    now = utcnow()
    for key, raw in values.items():
        value = _check_value(raw, f"score '{key}': ")
        row = existing.get(key) or GoldLabel(document_id=document_id, topic=topic.name,
                                             score=key, annotator=annotator)
        row.value, row.created_at = value, now
        row.sampling_probability = sampling_probability
        session.add(row)
    session.flush()
    return len(values)


def labels_frame(session: Session, topic_name: str) -> pd.DataFrame:
    rows = session.execute(
        select(GoldLabel.id, GoldLabel.document_id, GoldLabel.score, GoldLabel.value,
               GoldLabel.annotator, GoldLabel.sampling_probability, GoldLabel.created_at)
        .where(GoldLabel.topic == topic_name).order_by(GoldLabel.id)).all()
    return pd.DataFrame(rows, columns=["id", *LABEL_CSV_COLUMNS[:2], "value", "annotator",
                                       "sampling_probability", "created_at"])


def labels_csv(labels: pd.DataFrame) -> str:
    """Labels as CSV; 'not addressed' is written out, never left blank."""
    out = labels.reindex(columns=LABEL_CSV_COLUMNS).copy()
    out["value"] = out["value"].map(lambda v: "not addressed" if pd.isna(v) else f"{v:g}")
    return out.to_csv(index=False)


def coding_sheet_csv(session: Session, topic: Topic) -> str:
    """The sample as a sheet to code outside the app: one row per document and score."""
    sample = latest_sample(session, topic.name)
    if sample is None:
        return ""
    documents = {d.id: d for d in session.scalars(
        select(Document).where(Document.id.in_(sample.documents["document_id"].tolist())))}
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*LABEL_CSV_COLUMNS[:5], "question", "source", "published_at", "title",
                     "text_and_comments"])
    for row in sample.documents.itertuples():
        document = documents.get(int(row.document_id))
        if document is None:
            continue
        body = document.text + "".join(f"\n--- comment: {c.text}" for c in document.comments)
        for score in topic.scores:
            writer.writerow([document.id, score.key, "", "", f"{row.inclusion_probability:.6g}",
                             score.question, document.source, document.published_at.isoformat(),
                             document.title or "", body])
    return buffer.getvalue()


@dataclass
class ImportResult:
    stored: int = 0
    skipped_blank: int = 0
    documents: set[int] = field(default_factory=set)


def import_labels_csv(session: Session, topic: Topic, text: str,
                      annotator: str | None = None) -> ImportResult:
    """Read labels (our export or a filled coding sheet). All-or-nothing: any bad row
    raises LabelError naming the row, and nothing is stored (the caller's transaction)."""
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise LabelError(f"The file is not a readable CSV ({exc}).") from exc
    missing = {"document_id", "score", "value"} - set(frame.columns)
    if missing:
        raise LabelError(f"The CSV lacks column(s) {sorted(missing)}; export a coding sheet "
                         "to see the expected layout.")
    if "annotator" not in frame.columns:
        frame["annotator"] = ""
    sample = latest_sample(session, topic.name)
    sampled_pi = ({} if sample is None else dict(zip(
        sample.documents["document_id"], sample.documents["inclusion_probability"], strict=True)))
    grouped: dict[tuple[int, str, float | None], dict[str, float | None]] = {}
    result = ImportResult()
    for number, row in enumerate(frame.to_dict("records"), start=2):  # line 1 = header
        where = f"line {number}: "
        raw_value = row["value"].strip()
        if not raw_value:
            result.skipped_blank += 1  # not coded yet
            continue
        try:
            document_id = int(row["document_id"])
        except ValueError as exc:
            raise LabelError(f"{where}document_id {row['document_id']!r} is not a number") from exc
        who = (row["annotator"] or annotator or "").strip()
        if not who:
            raise LabelError(f"{where}no annotator (fill the annotator column or give a name)")
        if row["score"] not in topic.score_keys:
            raise LabelError(f"{where}unknown score {row['score']!r}; expected one of "
                             f"{topic.score_keys}")
        value = _parse_value(raw_value, where)
        pi = _parse_probability(row.get("sampling_probability", ""), where)
        pi = sampled_pi.get(document_id, pi)
        grouped.setdefault((document_id, who, pi), {})[row["score"]] = value
    for (document_id, who, pi), values in grouped.items():
        try:
            result.stored += save_labels(session, topic, document_id, who, values, pi)
        except LabelError as exc:
            raise LabelError(f"document {document_id}: {exc}") from exc
        result.documents.add(document_id)
    return result


def _parse_value(raw: str, where: str) -> float | None:
    if raw.lower() in NOT_ADDRESSED_TOKENS:
        return None
    try:
        return _check_value(float(raw), where)
    except ValueError as exc:
        raise LabelError(f"{where}value {raw!r} is neither a number 0-10 nor "
                         "'not addressed'") from exc


def _parse_probability(raw: str | None, where: str) -> float | None:
    if raw is None or not str(raw).strip():
        return None
    try:
        pi = float(raw)
    except ValueError as exc:
        raise LabelError(f"{where}sampling_probability {raw!r} is not a number") from exc
    if not 0 < pi <= 1:
        raise LabelError(f"{where}sampling_probability {pi:g} must be in (0, 1]")
    return pi
