"""Read queries returning DataFrames: what pages, reports and the CLI display."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from analytics.core.reasons import stated_reason
from analytics.core.views import WINDOWS, check_window, window_dates
from analytics.store.models import (
    Analysis,
    Chunk,
    Comment,
    DemoTruth,
    Document,
    Event,
    GoldLabel,
    Run,
    Summary,
)


def _window(query, start: dt.datetime | dt.date | None, end: dt.datetime | dt.date | None):
    if start is not None:
        query = query.where(Document.published_at >= _as_datetime(start))
    if end is not None:
        query = query.where(Document.published_at < _as_datetime(end, end_of_day=True))
    return query


def _as_datetime(value: dt.datetime | dt.date, end_of_day: bool = False) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    moment = dt.datetime.combine(value, dt.time(0), dt.UTC)
    return moment + dt.timedelta(days=1) if end_of_day else moment


def _utc(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True)


UNKNOWN_LANGUAGE = "unknown"  # the language filter's name for documents with no language


def _view(query, topic: str, sources: Sequence[str] | None, start, end,
          outlets: Sequence[str] | None, languages: Sequence[str] | None = None):
    """The view's filters: topic, sources (None = all), outlets and languages (None/empty =
    all; "unknown" = no detected language), dates."""
    query = query.where(Document.in_topic(topic))
    if sources is not None:
        query = query.where(Document.source.in_(list(sources)))
    if outlets:
        query = query.where(Document.outlet.in_(list(outlets)))
    if languages:
        known = [lang for lang in languages if lang != UNKNOWN_LANGUAGE]
        condition = Document.lang.in_(known)
        if UNKNOWN_LANGUAGE in languages:
            condition = or_(condition, Document.lang.is_(None))
        query = query.where(condition)
    return _window(query, start, end)


DOCUMENT_COLUMNS = ["id", "source", "provider", "outlet", "external_id", "title", "url",
                    "author", "lang", "published_at", "duplicate_of", "n_comments"]


def documents_frame(session: Session, topic: str, sources: Sequence[str] | None = None,
                    start=None, end=None, outlets: Sequence[str] | None = None,
                    languages: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per document (syndicated copies included, flagged by duplicate_of)."""
    n_comments = (
        select(Comment.document_id, func.count(Comment.id).label("n_comments"))
        .group_by(Comment.document_id).subquery()
    )
    query = (
        select(Document.id, Document.source, Document.provider, Document.outlet,
               Document.external_id, Document.title, Document.url, Document.author,
               Document.lang, Document.published_at, Document.duplicate_of,
               func.coalesce(n_comments.c.n_comments, 0).label("n_comments"))
        .outerjoin(n_comments, n_comments.c.document_id == Document.id)
    )
    query = _view(query, topic, sources, start, end, outlets, languages)
    frame = pd.DataFrame(session.execute(query).mappings().all(), columns=DOCUMENT_COLUMNS)
    frame["published_at"] = _utc(frame["published_at"])
    return frame


def latest_analyses(session: Session, topic: str, backend: str | None = None):
    """Subquery: the id of the newest successful analysis of each document."""
    query = select(Analysis.document_id, func.max(Analysis.id).label("analysis_id")).where(
        Analysis.topic == topic, Analysis.status == "ok")
    if backend:
        query = query.where(Analysis.backend == backend)
    return query.group_by(Analysis.document_id).subquery()


def scored_frame(session: Session, topic: str, score_keys: Sequence[str],
                 sources: Sequence[str] | None = None, start=None, end=None,
                 backend: str | None = None,
                 outlets: Sequence[str] | None = None,
                 languages: Sequence[str] | None = None) -> pd.DataFrame:
    """Documents with their latest analysis: one column per score (NaN = not addressed)."""
    latest = latest_analyses(session, topic, backend)
    query = (
        select(Document.id, Document.source, Document.provider, Document.outlet,
               Document.title, Document.published_at, Analysis.id.label("analysis_id"),
               Analysis.backend, Analysis.model, Analysis.prompt_hash, Analysis.on_topic,
               Analysis.summary, Analysis.scores)
        .join(latest, latest.c.document_id == Document.id)
        .join(Analysis, Analysis.id == latest.c.analysis_id)
    )
    rows = session.execute(_view(query, topic, sources, start, end, outlets,
                                 languages)).mappings().all()
    frame = pd.DataFrame(rows, columns=["id", "source", "provider", "outlet", "title",
                                        "published_at", "analysis_id", "backend", "model",
                                        "prompt_hash", "on_topic", "summary", "scores"])
    for key in score_keys:
        frame[key] = pd.to_numeric(
            frame["scores"].map(lambda s, k=key: (s or {}).get(k)), errors="coerce")
    frame["published_at"] = _utc(frame["published_at"])
    return frame.drop(columns=["scores"])


def daily_scores(scored: pd.DataFrame, score_keys: Sequence[str],
                 by_source: bool = False) -> pd.DataFrame:
    """Long frame: day, [source,] score, mean, count (documents that addressed the score)."""
    columns = ["day", *(["source"] if by_source else []), "score", "mean", "count"]
    if scored.empty:
        return pd.DataFrame(columns=columns)
    frame = scored.assign(day=scored["published_at"].dt.tz_convert("UTC").dt.normalize())
    keys = ["day", "source"] if by_source else ["day"]
    long = frame.melt(id_vars=keys, value_vars=list(score_keys), var_name="score").dropna(
        subset=["value"])
    out = long.groupby([*keys, "score"])["value"].agg(["mean", "count"]).reset_index()
    return out[columns]


def monthly_counts(documents: pd.DataFrame) -> pd.DataFrame:
    if documents.empty:
        return pd.DataFrame(columns=["month", "source", "documents"])
    month = documents["published_at"].dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period("M")
    return (documents.assign(month=month.dt.to_timestamp())
            .groupby(["month", "source"]).size().rename("documents").reset_index())


def runs_frame(session: Session, limit: int = 20, kind: str | None = None) -> pd.DataFrame:
    query = select(Run).order_by(Run.id.desc()).limit(limit)
    if kind:
        query = query.where(Run.kind == kind)
    rows = [
        {"id": r.id, "kind": r.kind, "topic": r.topic, "provider": r.provider,
         "status": r.status, "started_at": r.started_at, "finished_at": r.finished_at,
         "counts": r.counts, "error": r.error, "version": r.software_version}
        for r in session.scalars(query)
    ]
    return pd.DataFrame(rows, columns=["id", "kind", "topic", "provider", "status", "started_at",
                                       "finished_at", "counts", "error", "version"])


def demo_truth_frame(session: Session, topic: str) -> pd.DataFrame:
    rows = session.execute(
        select(DemoTruth.day, DemoTruth.score, DemoTruth.value).where(DemoTruth.topic == topic)
    ).all()
    frame = pd.DataFrame(rows, columns=["day", "score", "value"])
    frame["day"] = pd.to_datetime(frame["day"], utc=True)
    return frame


def date_range(session: Session, topic: str) -> tuple[dt.date, dt.date] | None:
    """First and last publication day of the topic's documents (one SQL min/max)."""
    first, last = session.execute(
        select(func.min(Document.published_at), func.max(Document.published_at))
        .where(Document.in_topic(topic))).one()
    if first is None:
        return None
    return first.date(), last.date()


def resolve_window(session: Session, topic: str,
                   window: str) -> tuple[dt.date | None, dt.date | None]:
    """A named window's dates, ending at the topic's newest document (None, None = all)."""
    bounds = date_range(session, topic) if WINDOWS[check_window(window)] else None
    return window_dates(window, bounds[1] if bounds else None)


def language_counts(session: Session, topic: str) -> pd.DataFrame:
    """The topic's document languages ("unknown" = none detected) with counts, most first."""
    rows = session.execute(
        select(Document.lang, func.count(Document.id)).where(Document.in_topic(topic))
        .group_by(Document.lang)).all()
    frame = pd.DataFrame([(lang or UNKNOWN_LANGUAGE, n) for lang, n in rows],
                         columns=["language", "documents"])
    frame = frame.groupby("language", as_index=False)["documents"].sum()
    return frame.sort_values(["documents", "language"], ascending=[False, True],
                             ignore_index=True)


def unscored_documents(session: Session, topic: str) -> dict[int, str]:
    """Documents whose latest analysis left every score null for a stated reason (e.g.
    "language not supported (de)"): document id -> reason."""
    latest = latest_analyses(session, topic)
    rows = session.execute(
        select(Analysis.document_id, Analysis.rationale)
        .join(latest, latest.c.analysis_id == Analysis.id)
        .where(Analysis.on_topic.is_(False))).all()
    reasons = {}
    for document_id, rationale in rows:
        values = list((rationale or {}).values())
        reason = stated_reason(values[0] if values else None)
        if reason is not None:
            reasons[document_id] = reason
    return reasons


def unscored_reasons(session: Session, topic: str) -> pd.DataFrame:
    """The reasons of `unscored_documents`, counted, most frequent first."""
    counts = pd.Series(list(unscored_documents(session, topic).values()),
                       dtype=object).value_counts()
    return pd.DataFrame({"reason": counts.index.astype(str), "documents": counts.values})


def outlet_counts(session: Session, topic: str) -> pd.DataFrame:
    """The topic's outlets with their source and number of documents, most first."""
    rows = session.execute(
        select(Document.outlet, Document.source, func.count(Document.id).label("documents"))
        .where(Document.in_topic(topic), Document.outlet.is_not(None))
        .group_by(Document.outlet, Document.source)
        .order_by(func.count(Document.id).desc())).all()
    frame = pd.DataFrame(rows, columns=["outlet", "source", "documents"])
    # One row per outlet: the same name can come from two sources (a channel that is also a
    # news domain); filters select by outlet name.
    return (frame.groupby("outlet", as_index=False, sort=False)
            .agg(source=("source", lambda s: ", ".join(sorted(set(s)))),
                 documents=("documents", "sum"))
            .sort_values("documents", ascending=False, kind="stable", ignore_index=True))


def stored_events(session: Session, topic: str) -> pd.DataFrame:
    """Events analysts added from the dashboard."""
    rows = session.execute(select(Event.id, Event.date, Event.label, Event.created_by)
                           .where(Event.topic == topic).order_by(Event.date)).all()
    return pd.DataFrame(rows, columns=["id", "date", "label", "created_by"])


def is_demo(session: Session, topic: str) -> bool:
    providers = set(session.scalars(
        select(Document.provider).where(Document.in_topic(topic)).distinct()))
    return bool(providers) and providers <= {"demo"}


def scoring_backends(session: Session, topic: str) -> pd.DataFrame:
    rows = session.execute(
        select(Analysis.backend, Analysis.model, Analysis.prompt_hash,
               func.count(Analysis.id).label("analyses"))
        .where(Analysis.topic == topic).group_by(Analysis.backend, Analysis.model,
                                                 Analysis.prompt_hash)
    ).all()
    return pd.DataFrame(rows, columns=["backend", "model", "prompt_hash", "analyses"])


def data_version(session: Session) -> tuple:
    """A cheap fingerprint of what readers see: new rows anywhere (primary-key maxima, an
    index lookup each) and every run that ended. Equal fingerprints = nothing to re-read."""
    tables = (Document, Analysis, Summary, GoldLabel, Event, Run)
    newest = tuple(session.scalar(select(func.max(table.id))) for table in tables)
    return (*newest, session.scalar(select(func.count(Run.finished_at))))


def document_total(session: Session) -> int:
    """Documents of every topic (0 = an empty database)."""
    return session.scalar(select(func.count(Document.id))) or 0


def topic_counts(session: Session, topic: str) -> dict[str, int]:
    documents = session.scalar(select(func.count(Document.id)).where(Document.in_topic(topic)))
    scored = session.scalar(
        select(func.count(func.distinct(Analysis.document_id)))
        .where(Analysis.topic == topic, Analysis.status == "ok"))
    failed = session.scalar(
        select(func.count(Analysis.id)).where(Analysis.topic == topic, Analysis.status == "failed"))
    return {"documents": documents or 0, "scored": scored or 0, "failed": failed or 0}


def document_detail(session: Session, document_id: int) -> dict | None:
    """Everything the detail view shows: the document, its comments, analysis, evidence."""
    document = session.get(Document, document_id)
    if document is None:
        return None
    analysis = session.scalar(
        select(Analysis).where(Analysis.document_id == document_id, Analysis.status == "ok")
        .order_by(Analysis.id.desc()).limit(1))
    chunks = {c.idx: c.text for c in session.scalars(
        select(Chunk).where(Chunk.document_id == document_id))}
    evidence = {}
    if analysis is not None:
        evidence = {key: [chunks[i] for i in ids if i in chunks]
                    for key, ids in (analysis.evidence or {}).items()}
    return {
        "document": {c: getattr(document, c) for c in (
            "id", "source", "provider", "outlet", "external_id", "url", "title", "author",
            "published_at", "text", "lang", "duplicate_of", "meta")},
        "comments": pd.DataFrame(
            [{"id": c.external_id, "parent": c.parent_external_id, "author": c.author,
              "published_at": c.published_at, "likes": c.likes, "text": c.text}
             for c in document.comments],
            columns=["id", "parent", "author", "published_at", "likes", "text"]),
        "analysis": None if analysis is None else {
            c: getattr(analysis, c) for c in (
                "backend", "model", "prompt_hash", "on_topic", "summary", "scores", "rationale",
                "created_at", "software_version", "tokens_in", "tokens_out", "cost_usd")},
        "evidence": evidence,
    }


def search_document_ids(session: Session, topic: str, query: str,
                        limit: int = 5000) -> dict[int, float]:
    """Full-text search (``store.search``) restricted to the topic: id -> relevance."""
    from analytics.store.search import ranked_ids

    found = ranked_ids(session, query, limit * 4)
    if not found:
        return {}
    members = set(session.scalars(select(Document.id).where(
        Document.in_topic(topic), Document.id.in_(list(found)))))
    return {i: rank for i, rank in found.items() if i in members}
