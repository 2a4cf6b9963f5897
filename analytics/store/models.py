"""Tables of the product (SQLAlchemy 2 declarative). Portable across SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict] = {dict[str, Any]: JSON, list[Any]: JSON}


class Document(Base):
    """A news article, a YouTube video or a Reddit submission: one stored text, linked to
    every topic it belongs to (``document_topics``)."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_documents_source_external_id"),
        Index("ix_documents_published", "published_at"),
        Index("ix_documents_content_hash", "content_hash"),
        Index("ix_documents_outlet", "outlet"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))  # news | youtube | reddit
    provider: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    # where it appeared: news domain, r/<subreddit>, YouTube channel, feed host
    outlet: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    text: Mapped[str] = mapped_column(Text, default="")
    lang: Mapped[str | None] = mapped_column(String(16))
    content_hash: Mapped[str] = mapped_column(String(64))
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    fetched_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    comments: Mapped[list[Comment]] = relationship(
        back_populates="document", cascade="all, delete-orphan", order_by="Comment.id"
    )
    topics: Mapped[list[DocumentTopic]] = relationship(
        back_populates="document", cascade="all, delete-orphan")

    @classmethod
    def in_topic(cls, topic: str):
        """SQL condition: the document belongs to this topic."""
        return cls.id.in_(select(DocumentTopic.document_id).where(DocumentTopic.topic == topic))


class DocumentTopic(Base):
    """A document's membership of a topic (a document may belong to several)."""

    __tablename__ = "document_topics"
    __table_args__ = (Index("ix_document_topics_topic", "topic", "document_id"),)

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"),
                                             primary_key=True)
    topic: Mapped[str] = mapped_column(String(64), primary_key=True)
    added_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    document: Mapped[Document] = relationship(back_populates="topics")


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (
        UniqueConstraint("document_id", "external_id", name="uq_comments_document_external"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(Text)
    parent_external_id: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    text: Mapped[str] = mapped_column(Text, default="")
    likes: Mapped[int | None] = mapped_column(Integer)

    document: Mapped[Document] = relationship(back_populates="comments")


class Chunk(Base):
    __tablename__ = "chunks"
    __table_args__ = (UniqueConstraint("document_id", "idx", name="uq_chunks_document_idx"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    idx: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16), default="text")  # text | comment
    text: Mapped[str] = mapped_column(Text)
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)


class Analysis(Base):
    """One scoring of one document by one backend/model/prompt configuration."""

    __tablename__ = "analyses"
    __table_args__ = (
        UniqueConstraint("document_id", "model", "prompt_hash",
                         name="uq_analyses_doc_model_prompt"),
        Index("ix_analyses_cache", "content_hash", "model", "prompt_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(64))
    backend: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(128))
    prompt_hash: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="ok")  # ok | failed
    error: Mapped[str | None] = mapped_column(Text)
    on_topic: Mapped[bool | None] = mapped_column()
    summary: Mapped[str | None] = mapped_column(Text)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # key -> float | None
    rationale: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # key -> str
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # key -> [chunk idx]
    temperature: Mapped[float | None] = mapped_column(Float)
    seed: Mapped[int | None] = mapped_column(Integer)
    tokens_in: Mapped[int] = mapped_column(Integer, default=0)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    latency_s: Mapped[float | None] = mapped_column(Float)
    software_version: Mapped[str | None] = mapped_column(String(32))
    # which scorer produced the scores (e.g. the learned attitude model's version)
    scorer_version: Mapped[str | None] = mapped_column(String(128))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Summary(Base):
    """Level-2 summary of level-1 summaries for one topic, source and period."""

    __tablename__ = "summaries"
    __table_args__ = (
        UniqueConstraint(
            "topic", "source", "period_start", "period_end", "model", "prompt_hash",
            name="uq_summaries_period",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32))
    period_start: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    period_end: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    backend: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(128))
    prompt_hash: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    document_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    analysis_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Run(Base):
    """Every ingest / score / fit / report run, with its parameters and counts."""

    __tablename__ = "runs"
    __table_args__ = (Index("ix_runs_status", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # ingest | score | fit | summarize | report
    topic: Mapped[str | None] = mapped_column(String(64))
    provider: Mapped[str | None] = mapped_column(String(32))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="running")
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    software_version: Mapped[str | None] = mapped_column(String(32))
    # liveness: the process beats while the run is running; a run whose heartbeat stopped
    # (kill -9, a lost machine) is marked 'stopped' by ``store.claims.reap_dead_runs``
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    host: Mapped[str | None] = mapped_column(Text)
    pid: Mapped[int | None] = mapped_column(Integer)


class ScoreClaim(Base):
    """A document a running scoring run has taken: no other run scores it (or pays for it)
    until the claim is released — when the analysis is stored, or the run ends or dies."""

    __tablename__ = "score_claims"
    __table_args__ = (Index("ix_score_claims_run", "run_id"),)

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"),
                                             primary_key=True)
    model: Mapped[str] = mapped_column(String(128), primary_key=True)
    prompt_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    claimed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BudgetPool(Base):
    """A spending cap shared by every run that names it (all workers of a fleet): each call
    reserves its worst-case cost here before it is sent, and settles the real cost after."""

    __tablename__ = "budget_pools"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    limit_usd: Mapped[float | None] = mapped_column(Float)
    spent_usd: Mapped[float] = mapped_column(Float, default=0.0)
    reserved_usd: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BudgetHold(Base):
    """What one run has reserved from a pool and not settled yet (released when it dies)."""

    __tablename__ = "budget_holds"

    pool: Mapped[str] = mapped_column(ForeignKey("budget_pools.name", ondelete="CASCADE"),
                                      primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"),
                                        primary_key=True)
    reserved_usd: Mapped[float] = mapped_column(Float, default=0.0)


class RateBucket(Base):
    """A request/token bucket of one endpoint and model, shared by every process."""

    __tablename__ = "rate_buckets"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    requests: Mapped[float] = mapped_column(Float)
    tokens: Mapped[float] = mapped_column(Float)
    updated: Mapped[float] = mapped_column(Float)  # epoch seconds of the last refill


class LLMCall(Base):
    """The ledger of requests sent to a paid endpoint: one row per request, whatever came
    of it. A request that timed out may still have been billed: it is recorded with its
    worst-case cost and ``possibly_billed``."""

    __tablename__ = "llm_calls"
    __table_args__ = (Index("ix_llm_calls_run", "run_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    document_id: Mapped[int | None] = mapped_column(
        ForeignKey("documents.id", ondelete="SET NULL"))
    purpose: Mapped[str] = mapped_column(String(32))  # score | summarize | ask | embed
    model: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))  # ok | timeout | error
    possibly_billed: Mapped[bool] = mapped_column(Boolean, default=False)
    tokens_in: Mapped[int] = mapped_column(Integer, default=0)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class GoldLabel(Base):
    """Human coding of one score of one document, used to validate machine scores."""

    __tablename__ = "gold_labels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(64))
    score: Mapped[str] = mapped_column(String(64))
    value: Mapped[float | None] = mapped_column(Float)  # None = not addressed
    annotator: Mapped[str] = mapped_column(String(128))
    sampling_probability: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class GoldSample(Base):
    """One document drawn into a validation sample (a ``runs`` row of kind
    ``validation_sample`` holds the design), with its known inclusion probability."""

    __tablename__ = "gold_sample"
    __table_args__ = (UniqueConstraint("run_id", "document_id", name="uq_gold_sample_run_doc"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(64))
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    stratum: Mapped[str] = mapped_column(String(64))  # "all" or "<source>|<YYYY-MM>"
    position: Mapped[int] = mapped_column(Integer)  # random coding order
    inclusion_probability: Mapped[float] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Event(Base):
    """A dated event an analyst added from the dashboard (YAML events live in the topic)."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("topic", "date", "label",
                                       name="uq_events_topic_date_label"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(String(64))
    date: Mapped[dt.date] = mapped_column()
    label: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DemoTruth(Base):
    """Known latent daily value of each score in the synthetic demo corpus."""

    __tablename__ = "demo_truth"
    __table_args__ = (UniqueConstraint("topic", "day", "score", name="uq_demo_truth"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(String(64))
    day: Mapped[dt.date] = mapped_column()
    score: Mapped[str] = mapped_column(String(64))
    value: Mapped[float] = mapped_column(Float)


class SavedView(Base):
    """A named view: the page and its URL state (filters and the page's own parameters).
    ``owner`` is the signed-in user's e-mail; NULL = shared (no login configured)."""

    __tablename__ = "saved_views"
    __table_args__ = (UniqueConstraint("owner", "name", name="uq_saved_views_owner_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    page: Mapped[str] = mapped_column(String(64))  # the page's url path ('' = Overview)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the URL query parameters
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AlertRule(Base):
    """A condition watched at the end of every scheduled run (and on demand)."""

    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    topic: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)  # score, threshold, ...
    saved_view_id: Mapped[int | None] = mapped_column(
        ForeignKey("saved_views.id", ondelete="SET NULL"))
    channels: Mapped[list[Any]] = mapped_column(default=list)  # email | webhook
    cooldown_hours: Mapped[float] = mapped_column(Float, default=24.0)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    owner: Mapped[str | None] = mapped_column(Text)
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)  # changes already alerted
    last_evaluated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Alert(Base):
    """One change a rule found: sent, failed (with the redacted reason) or suppressed."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_rule_created", "rule_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("alert_rules.id",
                                                           ondelete="SET NULL"))
    topic: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    change_key: Mapped[str] = mapped_column(Text)  # what changed (the de-duplication key)
    as_of: Mapped[dt.date] = mapped_column()  # the data's date the change was found on
    state: Mapped[str] = mapped_column(String(16))  # sent | failed | suppressed
    reason: Mapped[str | None] = mapped_column(Text)  # why failed / suppressed (redacted)
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    deliveries: Mapped[dict[str, Any]] = mapped_column(default=dict)  # channel -> outcome
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
