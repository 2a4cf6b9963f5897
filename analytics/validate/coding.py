"""What the coding form needs. No machine score leaves here before the annotator has
saved their own labels of the document, so the machine cannot anchor their judgement."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from analytics.core.topics import Topic
from analytics.store.models import Document, GoldLabel
from analytics.validate.agreement import machine_scores
from analytics.validate.sampling import GoldSampleInfo


def coding_queue(sample: GoldSampleInfo, labels: pd.DataFrame, annotator: str) -> pd.DataFrame:
    """The sample in its random coding order, with who has coded each document."""
    queue = sample.documents[["document_id", "position", "stratum",
                              "inclusion_probability"]].copy()
    coded = labels.groupby("document_id")["annotator"].agg(lambda a: sorted(set(a)))
    queue["annotators"] = queue["document_id"].map(coded).apply(
        lambda a: a if isinstance(a, list) else [])
    queue["coded_by_you"] = queue["annotators"].apply(lambda a: annotator.strip() in a)
    return queue.reset_index(drop=True)


def next_uncoded(queue: pd.DataFrame, after: int | None = None) -> int | None:
    """The first document (in coding order, after ``after`` if given) you have not coded."""
    todo = queue[~queue["coded_by_you"]]
    if after is not None and after in set(queue["document_id"]):
        position = int(queue.loc[queue["document_id"] == after, "position"].iloc[0])
        later = todo[todo["position"] > position]
        todo = later if not later.empty else todo
    return None if todo.empty else int(todo["document_id"].iloc[0])


def document_for_coding(session: Session, document_id: int) -> dict | None:
    """Text and comments of a document, deliberately without any analysis."""
    document = session.get(Document, document_id)
    if document is None:
        return None
    comments = pd.DataFrame(
        [{"author": c.author, "likes": c.likes, "text": c.text} for c in document.comments],
        columns=["author", "likes", "text"])
    return {"id": document.id, "source": document.source, "title": document.title or "",
            "published_at": document.published_at, "text": document.text or "",
            "comments": comments}


def saved_labels(session: Session, topic: Topic, document_id: int,
                 annotator: str) -> dict[str, float | None]:
    """This annotator's saved values of the document (absent key = not saved yet)."""
    rows = session.execute(select(GoldLabel.score, GoldLabel.value).where(
        GoldLabel.topic == topic.name, GoldLabel.document_id == document_id,
        GoldLabel.annotator == annotator.strip())).all()
    return {score: value for score, value in rows}


def revealed_scores(session: Session, topic: Topic, document_id: int,
                    annotator: str) -> pd.DataFrame | None:
    """Your values next to the machine's, or None while you have not saved all scores."""
    yours = saved_labels(session, topic, document_id, annotator)
    if not annotator.strip() or set(yours) != set(topic.score_keys):
        return None
    machine = machine_scores(session, topic, [document_id])
    table = pd.DataFrame({"score": topic.score_keys,
                          "label": [s.label for s in topic.scores],
                          "yours": [yours[k] for k in topic.score_keys]})
    for (backend, model), rows in machine.groupby(["backend", "model"]):
        values = rows.set_index("score")["machine"]
        table[f"machine: {backend} ({model})"] = table["score"].map(values)
    return table
