"""Level-1 scoring run: pick unscored documents, score them in batches, store analyses.

Cache: an analysis is reused when a document with the same scoring content hash was
already scored by the same model and prompt/config hash, so nothing is paid twice.
Each batch is one transaction: an interrupted run keeps every finished batch.

Backends with an async ``ascore`` (the openai backend) are driven by ``_score_async``:
calls stay in flight across batch boundaries (up to the backend's concurrency), finished
results are committed every ``batch_size`` documents, a run budget stops new calls
cleanly, and an ``LLMAbort`` (bad key, unreachable endpoint) keeps what was finished.
Synchronous backends (offline) are driven by ``_score_sync``: the backend scores batch k
in a helper thread while this thread stores batch k-1 and loads batch k+1, so the model
never waits for the database.

The run is one ``runs`` row (``store.runs.recorded_run``) whose counts carry the throughput
(documents/s and the ETA) after every committed batch; progress callbacks get the same
rate and ETA, always on the caller's thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, selectinload

from analytics import __version__
from analytics.core.errors import UserError
from analytics.core.progress import ProgressCallback, ProgressMeter
from analytics.core.settings import Settings, get_settings
from analytics.core.topics import Topic
from analytics.llm.costs import Budget, cost_usd
from analytics.llm.embeddings import to_bytes
from analytics.score.base import ScoringBackend, ScoringOutcome, get_backend
from analytics.score.retrieval import PreparedDocument, prepare
from analytics.store import Analysis, Chunk, Document, session_scope
from analytics.store.runs import recorded_run


@dataclass
class ScoreRunResult:
    run_id: int
    scored: int = 0
    cached: int = 0
    failed: int = 0
    skipped_duplicates: int = 0
    deferred: int = 0  # transient failures: nothing stored, the next run retries them
    calls: int = 0  # requests sent to the endpoint (repairs included)
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    errors: list[str] = field(default_factory=list)
    stopped: str | None = None  # why the run ended early (budget), if it did
    total: int = 0  # pending documents when the run started
    done: int = 0  # documents handled so far (stored, cached, failed or deferred)
    docs_per_s: float | None = None
    eta_s: float | None = None  # seconds left at that rate

    def counts(self) -> dict:
        return {
            "scored": self.scored, "cached": self.cached, "failed": self.failed,
            "deferred": self.deferred, "skipped_duplicates": self.skipped_duplicates,
            "calls": self.calls, "tokens_in": self.tokens_in, "tokens_out": self.tokens_out,
            "cost_usd": round(self.cost_usd, 6), "done": self.done, "total": self.total,
            "docs_per_s": self.docs_per_s, "eta_s": self.eta_s,
        }


def pending_document_ids(session: Session, topic: Topic, model: str, prompt_hash: str,
                         limit: int | None = None) -> list[int]:
    """Originals (not syndicated copies) of the topic with no analysis for this config."""
    done = select(Analysis.document_id).where(
        Analysis.model == model, Analysis.prompt_hash == prompt_hash
    )
    query = (
        select(Document.id)
        .where(Document.in_topic(topic.name), Document.duplicate_of.is_(None),
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
        comments = comments[: settings.score.max_comments_per_document]
        prepared.append(prepare(doc.id, doc.title, doc.text, [c.text for c in comments],
                                settings.score.chunk_size, settings.score.chunk_overlap))
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


def _store_chunks(session: Session, docs: list[PreparedDocument]) -> None:
    """The passages (with their embeddings) of a batch: one query, one bulk insert."""
    if not docs:
        return
    existing = set(session.execute(
        select(Chunk.document_id, Chunk.idx)
        .where(Chunk.document_id.in_([doc.document_id for doc in docs]))).tuples())
    rows = [
        {"document_id": doc.document_id, "idx": passage.idx, "kind": passage.kind,
         "text": passage.text,
         "embedding": to_bytes(doc.embeddings[passage.idx]) if doc.embeddings is not None
         else None}
        for doc in docs for passage in doc.passages
        if (doc.document_id, passage.idx) not in existing
    ]
    if rows:
        session.execute(insert(Chunk), rows)


def _load_fresh(ids: list[int], backend: ScoringBackend, prompt_hash: str, settings: Settings,
                result: ScoreRunResult, database_url: str | None) -> list[PreparedDocument]:
    """Load a batch, store cache hits at once (one transaction), return what needs scoring."""
    with session_scope(database_url) as session:
        prepared = load_prepared(session, ids, settings)
        cache = _cached(session, [d.scoring_hash for d in prepared], backend.model, prompt_hash)
        for doc in prepared:
            if doc.scoring_hash in cache:
                session.add(_copy_cached(doc, cache[doc.scoring_hash], result.run_id))
                result.cached += 1
    return [d for d in prepared if d.scoring_hash not in cache]


def _store_outcomes(pairs: list[tuple[PreparedDocument, ScoringOutcome]], topic: Topic,
                    backend: ScoringBackend, prompt_hash: str, result: ScoreRunResult,
                    database_url: str | None) -> None:
    """One transaction. Transient failures store nothing, so the next run retries them.
    What was paid is counted at once; what was stored only once the transaction commits."""
    stored = {"scored": 0, "failed": 0, "deferred": 0}
    errors = []
    for _doc, outcome in pairs:
        result.calls += outcome.calls
        result.tokens_in += outcome.tokens_in
        result.tokens_out += outcome.tokens_out
        result.cost_usd += outcome.cost_usd
    with session_scope(database_url) as session:
        scored = []
        for doc, outcome in pairs:
            if outcome.result is not None:
                outcome.result.check_keys(topic.score_keys)
                stored["scored"] += 1
                scored.append(doc)
            elif outcome.transient:
                stored["deferred"] += 1
                errors.append(f"document {doc.document_id} (retry later): {outcome.error}")
                continue
            else:
                stored["failed"] += 1
                errors.append(f"document {doc.document_id}: {outcome.error}")
            session.add(_analysis_row(doc, outcome, topic, backend, prompt_hash, result.run_id))
        _store_chunks(session, scored)
    result.scored += stored["scored"]
    result.failed += stored["failed"]
    result.deferred += stored["deferred"]
    result.errors += errors


def _score_sync(ids: list[int], topic: Topic, backend: ScoringBackend, prompt_hash: str,
                settings: Settings, result: ScoreRunResult, batch_size: int,
                report: Callable[[int], None], database_url: str | None) -> None:
    """Batch by batch, with the database work off the model's path: one helper thread runs
    ``backend.score_batch`` on batch k while this thread stores batch k-1 (one transaction),
    reports it, and loads (splits, answers from the cache) batch k+1, which then waits in
    the helper's queue. Progress and the run row are written here, as each batch commits.

    Batch k+1's cache lookup runs before batch k is stored, so two pending originals with
    the same scoring hash in adjacent batches are both scored (as two in one batch always
    were); exact copies are linked as duplicates when ingested, so this is rare. On an
    interruption the stored batches are kept and the batch being scored is dropped (the
    process ends once the helper has finished it)."""
    batches = [ids[i:i + batch_size] for i in range(0, len(ids), batch_size)]
    if not batches:
        return
    model = ThreadPoolExecutor(1, thread_name_prefix="score-model")

    def start(batch: list[int]) -> tuple[int, list[PreparedDocument], Future | None]:
        fresh = _load_fresh(batch, backend, prompt_hash, settings, result, database_url)
        scoring = model.submit(backend.score_batch, fresh, topic) if fresh else None
        return len(batch), fresh, scoring

    try:
        current = start(batches[0])
        for k in range(1, len(batches) + 1):
            following = start(batches[k]) if k < len(batches) else None
            size, fresh, scoring = current
            outcomes = scoring.result() if scoring is not None else []
            _store_outcomes(list(zip(fresh, outcomes, strict=True)), topic, backend,
                            prompt_hash, result, database_url)
            report(size)
            current = following
    except BaseException:
        model.shutdown(wait=False, cancel_futures=True)
        raise
    model.shutdown()


async def _score_async(ids: list[int], topic: Topic, backend, prompt_hash: str,
                       settings: Settings, result: ScoreRunResult, batch_size: int,
                       budget_usd: float | None, report: Callable[[int], None],
                       database_url: str | None) -> None:
    """Keep up to the backend's concurrency in flight; commit results as they complete."""
    budget = Budget(budget_usd)
    batches = [ids[i:i + batch_size] for i in range(0, len(ids), batch_size)]
    in_flight: set[asyncio.Task] = set()
    done_pairs: list[tuple[PreparedDocument, ScoringOutcome]] = []
    unscheduled = 0

    async def flush() -> None:
        nonlocal done_pairs
        pairs, done_pairs = done_pairs, []
        if pairs:
            await asyncio.to_thread(_store_outcomes, pairs, topic, backend, prompt_hash, result,
                                    database_url)
            report(len(pairs))

    async def one(doc: PreparedDocument) -> tuple[PreparedDocument, ScoringOutcome]:
        return doc, await backend.ascore(doc, topic, budget)

    async with backend.connection():
        try:
            while batches or in_flight:
                if batches and not budget.exhausted and len(in_flight) < backend.concurrency:
                    batch = batches.pop(0)
                    cached_before = result.cached
                    fresh = await asyncio.to_thread(_load_fresh, batch, backend, prompt_hash,
                                                    settings, result, database_url)
                    if result.cached > cached_before:
                        report(result.cached - cached_before)
                    await asyncio.to_thread(backend.prepare, fresh, topic)
                    in_flight |= {asyncio.create_task(one(doc)) for doc in fresh}
                    continue
                if budget.exhausted:
                    unscheduled += sum(len(b) for b in batches)
                    batches = []
                if not in_flight:
                    break
                finished, in_flight = await asyncio.wait(in_flight,
                                                         return_when=asyncio.FIRST_COMPLETED)
                for task in finished:
                    done_pairs.append(task.result())  # re-raises LLMAbort
                if len(done_pairs) >= batch_size:
                    await flush()
        except BaseException:
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)
            await flush()  # keep what finished; nothing half-written
            raise
        await flush()
    if budget.exhausted:
        left = result.deferred + unscheduled
        result.stopped = (f"budget of ${budget_usd:.4f} reached (spent ${result.cost_usd:.4f}); "
                          f"{left} document(s) left unscored — re-run with a higher budget to "
                          "continue")


class BudgetPriceUnknown(UserError):
    """A budget was asked for but the model's price is not in the price table."""


def spread_order(ids: list[int]) -> list[int]:
    """Reorder (published-ordered) ids so any prefix covers the whole period evenly:
    position i goes to its bit-reversed rank (the van der Corput sequence)."""
    bits = max(1, (len(ids) - 1).bit_length())
    rank = [int(f"{i:0{bits}b}"[::-1], 2) for i in range(len(ids))]
    return [ids[i] for i in sorted(range(len(ids)), key=rank.__getitem__)]


def score_topic(topic: Topic, *, settings: Settings | None = None, backend_name: str | None = None,
                limit: int | None = None, batch_size: int | None = None,
                progress: ProgressCallback | None = None,
                database_url: str | None = None, budget_usd: float | None = None,
                order: str = "published") -> ScoreRunResult:
    """Score every pending document of the topic. Safe to interrupt and re-run.

    ``batch_size`` (documents per batch and transaction) defaults to the backend's
    ``documents_per_batch`` (offline: 256), else 64. ``progress`` gets documents done, the
    rate and an ETA after each committed batch; the run row's counts carry the same.
    ``budget_usd`` (default: the ``score.budget_usd`` setting) caps the run's cost for paid
    backends; the run then ends with status 'stopped'. Raises ``LLMAbort`` when the
    endpoint refuses the key or cannot be reached (finished work is kept). ``order``
    "spread" scores in an order whose every prefix covers the whole period.
    """
    settings = settings or get_settings()
    backend = get_backend(settings, backend_name)
    prompt_hash = backend.config_hash(topic)
    is_async = hasattr(backend, "ascore")
    batch_size = batch_size or getattr(backend, "documents_per_batch", 64)
    budget_usd = budget_usd if budget_usd is not None else settings.score.budget_usd
    if is_async and budget_usd is not None and not backend.price_known():
        raise BudgetPriceUnknown(
            f"A budget was set but the price of model '{backend.model}' is unknown: add it to "
            "ANALYTICS_OPENAI_PRICES as {\"model\": [usd_per_1M_in, usd_per_1M_out]}.")
    database_url = database_url or settings.database_url
    with session_scope(database_url) as session:
        ids = pending_document_ids(session, topic, backend.model, prompt_hash, limit)
    if order == "spread":
        ids = spread_order(ids)
    parameters = {"backend": backend.name, "model": backend.model, "prompt_hash": prompt_hash,
                  "documents": len(ids), "batch_size": batch_size, "budget_usd": budget_usd,
                  "settings": _scoring_settings(settings, backend.name)}
    with recorded_run("score", topic.name, backend.name, parameters,
                      database_url=database_url) as run:
        result = ScoreRunResult(run_id=run.id, total=len(ids))
        meter = ProgressMeter(None, "score", total=len(ids), unit="doc")

        def report(documents: int) -> None:
            """After a commit: the run row, then the progress bar, get done, rate and ETA."""
            update = meter.advance(documents)
            result.done = int(update.done)
            result.docs_per_s = _rounded(update.rate)
            result.eta_s = round(update.eta_s, 1) if update.eta_s is not None else None
            run.counts = result.counts()
            run.save_progress()
            if progress:
                progress(update)

        try:
            if is_async and ids:
                asyncio.run(_score_async(ids, topic, backend, prompt_hash, settings, result,
                                         batch_size, budget_usd, report, database_url))
            else:
                _score_sync(ids, topic, backend, prompt_hash, settings, result, batch_size,
                            report, database_url)
        finally:
            result.docs_per_s = _rounded(meter.rate)
            if result.done >= result.total:
                result.eta_s = 0.0
            run.counts = result.counts()
        if result.stopped:
            run.stop(result.stopped)
        elif result.errors:
            run.note = "; ".join(result.errors[:5])
    return result


def _rounded(rate: float | None) -> float | None:
    return round(rate, 2) if rate else None


def _scoring_settings(settings: Settings, backend: str) -> dict:
    """What configured this run (secrets never included)."""
    public = settings.public_dict()
    out = {"score": public["score"]}
    if backend == "openai":
        out["llm"] = public["llm"]
    return out


@dataclass
class RunEstimate:
    """What a scoring run would do, computed without calling anything (``score --dry-run``)."""

    backend: str
    model: str
    documents: int  # pending documents
    cached: int  # answered from the cache, no call
    calls: int  # one per remaining document (a repair would add one)
    tokens_in: int
    tokens_out: int  # expected output
    tokens_out_max: int  # every call using max tokens
    cost_usd: float
    cost_max_usd: float
    price_known: bool

    def as_dict(self) -> dict:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def estimate_run(topic: Topic, *, settings: Settings | None = None,
                 backend_name: str | None = None, limit: int | None = None,
                 database_url: str | None = None, batch_size: int = 256) -> RunEstimate:
    """Count the calls and estimate tokens and cost of scoring what is pending (no calls)."""
    settings = settings or get_settings()
    backend = get_backend(settings, backend_name)
    prompt_hash = backend.config_hash(topic)
    paid = hasattr(backend, "estimate")
    expected_out = min(settings.llm.max_tokens, 150 + 80 * len(topic.scores))
    estimate = RunEstimate(backend.name, backend.model, 0, 0, 0, 0, 0, 0, 0.0, 0.0,
                           backend.price_known() if paid else True)
    with session_scope(database_url or settings.database_url) as session:
        ids = pending_document_ids(session, topic, backend.model, prompt_hash, limit)
        estimate.documents = len(ids)
        seen: set[str] = set()
        for start in range(0, len(ids), batch_size):
            prepared = load_prepared(session, ids[start:start + batch_size], settings)
            cache = _cached(session, [d.scoring_hash for d in prepared], backend.model,
                            prompt_hash)
            for doc in prepared:
                if doc.scoring_hash in cache or doc.scoring_hash in seen:
                    estimate.cached += doc.scoring_hash in cache
                    continue
                seen.add(doc.scoring_hash)
                if not paid:
                    continue
                tokens_in, worst = backend.estimate(doc, topic)
                estimate.calls += 1
                estimate.tokens_in += tokens_in
                estimate.tokens_out += expected_out
                estimate.tokens_out_max += settings.llm.max_tokens
                estimate.cost_max_usd += worst
    if paid:
        estimate.cost_usd = cost_usd(settings, backend.model, estimate.tokens_in,
                                     estimate.tokens_out)
    return estimate
