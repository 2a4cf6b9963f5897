"""Level-1 scoring run: pick unscored documents, score them in batches, store analyses.

Cache: an analysis is reused when a document with the same scoring content hash was
already scored by the same model and prompt/config hash, so nothing is paid twice.
Each batch is one transaction: an interrupted run keeps every finished batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from analytics import __version__
from analytics.config import Settings, Topic, get_settings
from analytics.scoring.base import ScoringBackend, ScoringOutcome, get_backend
from analytics.scoring.retrieval import PreparedDocument, prepare, to_bytes
from analytics.store import Analysis, Chunk, Document, Run, session_scope
from analytics.store.writes import finish_run, start_run

ProgressCallback = Callable[[int], None]


@dataclass
class ScoreRunResult:
    run_id: int
    scored: int = 0
    cached: int = 0
    failed: int = 0
    skipped_duplicates: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    errors: list[str] = field(default_factory=list)

    def counts(self) -> dict:
        return {
            "scored": self.scored, "cached": self.cached, "failed": self.failed,
            "skipped_duplicates": self.skipped_duplicates, "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out, "cost_usd": round(self.cost_usd, 6),
        }


def pending_document_ids(session: Session, topic: Topic, model: str, prompt_hash: str,
                         limit: int | None = None) -> list[int]:
    """Originals (not syndicated copies) of the topic with no analysis for this config."""
    done = select(Analysis.document_id).where(
        Analysis.model == model, Analysis.prompt_hash == prompt_hash
    )
    query = (
        select(Document.id)
        .where(Document.topic == topic.name, Document.duplicate_of.is_(None),
               Document.id.not_in(done))
        .order_by(Document.published_at, Document.id)
    )
    if limit:
        query = query.limit(limit)
    return list(session.scalars(query))


def load_prepared(session: Session, ids: list[int], settings: Settings) -> list[PreparedDocument]:
    documents = session.scalars(
        select(Document).where(Document.id.in_(ids)).options(selectinload(Document.comments))
    ).all()
    by_id = {d.id: d for d in documents}
    prepared = []
    for doc_id in ids:
        doc = by_id[doc_id]
        comments = sorted(doc.comments, key=lambda c: -(c.likes or 0))
        comments = comments[: settings.max_comments_per_document]
        prepared.append(prepare(doc.id, doc.title, doc.text, [c.text for c in comments],
                                settings.chunk_size, settings.chunk_overlap))
    return prepared


def _cached(session: Session, content_hashes: list[str], model: str,
            prompt_hash: str) -> dict[str, Analysis]:
    rows = session.scalars(
        select(Analysis).where(Analysis.content_hash.in_(content_hashes), Analysis.model == model,
                               Analysis.prompt_hash == prompt_hash, Analysis.status == "ok")
    )
    return {row.content_hash: row for row in rows}


def _analysis_row(doc: PreparedDocument, outcome: ScoringOutcome, topic: Topic,
                  backend: ScoringBackend, prompt_hash: str, run_id: int) -> Analysis:
    result = outcome.result
    return Analysis(
        document_id=doc.document_id, topic=topic.name, backend=backend.name, model=backend.model,
        prompt_hash=prompt_hash, content_hash=doc.scoring_hash,
        status="ok" if result else "failed", error=outcome.error,
        on_topic=result.on_topic if result else None,
        summary=result.summary if result else None,
        scores={k: v.value for k, v in result.scores.items()} if result else {},
        rationale={k: v.rationale for k, v in result.scores.items()} if result else {},
        evidence={k: v.evidence for k, v in result.scores.items()} if result else {},
        temperature=outcome.temperature, seed=outcome.seed, tokens_in=outcome.tokens_in,
        tokens_out=outcome.tokens_out, cost_usd=outcome.cost_usd, latency_s=outcome.latency_s,
        software_version=__version__, run_id=run_id,
    )


def _copy_cached(doc: PreparedDocument, cached: Analysis, run_id: int) -> Analysis:
    return Analysis(
        document_id=doc.document_id, topic=cached.topic, backend=cached.backend,
        model=cached.model, prompt_hash=cached.prompt_hash, content_hash=cached.content_hash,
        status="ok", on_topic=cached.on_topic, summary=cached.summary, scores=cached.scores,
        rationale=cached.rationale, evidence=cached.evidence, temperature=cached.temperature,
        seed=cached.seed, tokens_in=0, tokens_out=0, cost_usd=0.0, latency_s=0.0,
        software_version=__version__, run_id=run_id,
    )


def _store_chunks(session: Session, doc: PreparedDocument) -> None:
    existing = set(session.scalars(select(Chunk.idx).where(Chunk.document_id == doc.document_id)))
    for passage in doc.passages:
        if passage.idx in existing:
            continue
        vector = doc.embeddings[passage.idx] if doc.embeddings is not None else None
        session.add(Chunk(document_id=doc.document_id, idx=passage.idx, kind=passage.kind,
                          text=passage.text, embedding=to_bytes(vector) if vector is not None else None))


def _score_batch(ids: list[int], topic: Topic, backend: ScoringBackend, prompt_hash: str,
                 settings: Settings, result: ScoreRunResult, database_url: str | None) -> None:
    with session_scope(database_url) as session:
        prepared = load_prepared(session, ids, settings)
        cache = _cached(session, [d.scoring_hash for d in prepared], backend.model, prompt_hash)
        fresh = [d for d in prepared if d.scoring_hash not in cache]
        outcomes = backend.score_batch(fresh, topic) if fresh else []
        for doc in prepared:
            if doc.scoring_hash in cache:
                session.add(_copy_cached(doc, cache[doc.scoring_hash], result.run_id))
                result.cached += 1
        for doc, outcome in zip(fresh, outcomes, strict=True):
            if outcome.result is not None:
                outcome.result.check_keys(topic.score_keys)
                result.scored += 1
                _store_chunks(session, doc)
            else:
                result.failed += 1
                result.errors.append(f"document {doc.document_id}: {outcome.error}")
            session.add(_analysis_row(doc, outcome, topic, backend, prompt_hash, result.run_id))
            result.tokens_in += outcome.tokens_in
            result.tokens_out += outcome.tokens_out
            result.cost_usd += outcome.cost_usd


def score_topic(topic: Topic, *, settings: Settings | None = None, backend_name: str | None = None,
                limit: int | None = None, batch_size: int = 64,
                progress: ProgressCallback | None = None,
                database_url: str | None = None) -> ScoreRunResult:
    """Score every pending document of the topic. Safe to interrupt and re-run."""
    settings = settings or get_settings()
    backend = get_backend(settings, backend_name)
    prompt_hash = backend.config_hash(topic)
    with session_scope(database_url) as session:
        ids = pending_document_ids(session, topic, backend.model, prompt_hash, limit)
        run = start_run(session, "score", topic.name, backend.name, {
            "backend": backend.name, "model": backend.model, "prompt_hash": prompt_hash,
            "documents": len(ids), "batch_size": batch_size,
        })
        result = ScoreRunResult(run_id=run.id)
    try:
        for start in range(0, len(ids), batch_size):
            batch = ids[start:start + batch_size]
            _score_batch(batch, topic, backend, prompt_hash, settings, result, database_url)
            if progress:
                progress(len(batch))
    except BaseException as exc:
        _finish(result, "failed", f"{type(exc).__name__}: {exc}", database_url)
        raise
    _finish(result, "ok", "; ".join(result.errors[:5]) or None, database_url)
    return result


def _finish(result: ScoreRunResult, status: str, error: str | None, database_url: str | None) -> None:
    with session_scope(database_url) as session:
        finish_run(session.get(Run, result.run_id), status, result.counts(), error)
