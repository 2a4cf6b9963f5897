"""Level-1 scoring run: claim unscored documents, score them in batches, store analyses.

Claims (``store.claims``): a run takes each batch of pending documents with a claim before
scoring it, so any number of runs and workers (processes, machines) share the work and no
document is scored — or paid for — twice. Storing an analysis releases its claim in the
same transaction; a run that ends (or dies: heartbeat, reaper) releases the rest.
Cache: an analysis is reused when a document with the same scoring content hash was
already scored by the same model and prompt/config hash, so nothing is paid twice.
Each batch is one transaction: an interrupted run keeps every finished batch.

Backends with an async ``ascore`` (the openai backend) are driven by ``_score_async``:
calls stay in flight across batch boundaries (up to the backend's concurrency), finished
results are committed every ``batch_size`` documents, a run budget stops new calls
cleanly, and an ``LLMAbort`` (bad key, unreachable endpoint) keeps what was finished.
Synchronous backends (offline) are driven by ``_score_sync``: the backend scores batch k
in a helper thread while this thread stores batch k-1 and claims and loads batch k+1, so
the model never waits for the database.

The run is one ``runs`` row (``store.runs.recorded_run``) whose counts carry the throughput
(documents/s and the ETA) after every committed batch; progress callbacks get the same
rate and ETA, always on the caller's thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from analytics import __version__
from analytics.core.errors import UserError
from analytics.core.progress import ProgressCallback, ProgressMeter
from analytics.core.redact import redact_configured
from analytics.core.settings import Settings, get_settings
from analytics.core.topics import Topic
from analytics.llm.costs import cost_usd
from analytics.llm.embeddings import to_bytes
from analytics.score.base import ScoringBackend, ScoringOutcome, get_backend
from analytics.score.retrieval import PreparedDocument, prepare
from analytics.store import Analysis, Chunk, Document, session_scope
from analytics.store.calibrations import adopted_keys, load_calibration
from analytics.store.claims import (
    claim_documents,
    count_claims,
    count_pending,
    pending_query,
    reap_dead_runs,
    release_claims,
)
from analytics.store.ledger import SharedBudget, record_calls
from analytics.store.passages import insert_chunks
from analytics.store.runs import StopRequested, recorded_run


@dataclass
class ScoreRunResult:
    run_id: int
    scored: int = 0
    cached: int = 0
    failed: int = 0
    skipped_duplicates: int = 0
    deferred: int = 0  # transient failures: nothing stored, the next run retries them
    calls: int = 0  # requests sent to the endpoint (repairs included)
    possibly_billed: int = 0  # requests that timed out after being sent (maybe billed)
    possibly_billed_usd: float = 0.0  # their worst-case cost (also in the budget)
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    errors: list[str] = field(default_factory=list)
    stopped: str | None = None  # why the run ended early (budget), if it did
    total: int = 0  # pending documents when the run started
    done: int = 0  # documents handled so far (stored, cached, failed or deferred)
    docs_per_s: float | None = None
    eta_s: float | None = None  # seconds left at that rate
    reinstated: int = 0  # documents whose analysis under this configuration is current again

    def counts(self) -> dict:
        return {
            "scored": self.scored, "cached": self.cached, "failed": self.failed,
            "reinstated": self.reinstated,
            "deferred": self.deferred, "skipped_duplicates": self.skipped_duplicates,
            "calls": self.calls, "tokens_in": self.tokens_in, "tokens_out": self.tokens_out,
            "cost_usd": round(self.cost_usd, 6), "possibly_billed": self.possibly_billed,
            "possibly_billed_usd": round(self.possibly_billed_usd, 6),
            "done": self.done, "total": self.total, "docs_per_s": self.docs_per_s,
            "eta_s": self.eta_s,
        }


def pending_document_ids(session: Session, topic: Topic, model: str, prompt_hash: str,
                         limit: int | None = None, retry_failed: bool = False) -> list[int]:
    """Originals (not syndicated copies) of the topic with no analysis for this config (or
    only failed ones, ``retry_failed``) that no running run has claimed."""
    query = pending_query(topic.name, model, prompt_hash, retry_failed=retry_failed).order_by(
        Document.published_at, Document.id)
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
        cap = settings.ingest.max_document_chars  # bounds a scorer's time on one document
        prepared.append(prepare(doc.id, doc.title, doc.text[:cap],
                                [c.text[:cap] for c in comments],
                                settings.score.chunk_size, settings.score.chunk_overlap))
        prepared[-1].meta["lang"] = doc.lang
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
        status="ok" if result else "failed", error=redact_configured(outcome.error),
        on_topic=result.on_topic if result else None,
        summary=result.summary if result else None,
        scores={k: v.value for k, v in result.scores.items()} if result else {},
        rationale={k: v.rationale for k, v in result.scores.items()} if result else {},
        evidence={k: v.evidence for k, v in result.scores.items()} if result else {},
        temperature=outcome.temperature, seed=outcome.seed, tokens_in=outcome.tokens_in,
        tokens_out=outcome.tokens_out, cost_usd=outcome.cost_usd, latency_s=outcome.latency_s,
        software_version=__version__, scorer_version=scorer_version(backend, topic),
        run_id=run_id,
    )


def scorer_version(backend: ScoringBackend, topic: Topic) -> str:
    """What produced the scores: the backend's own account (the offline backend names its
    zero-shot scorer and the learned attitude model's version), else its model."""
    describe = getattr(backend, "scorer_version", None)
    return (describe(topic) if describe else backend.model)[:128]


def _copy_cached(document_id: int, cached: Analysis, run_id: int) -> Analysis:
    return Analysis(
        document_id=document_id, topic=cached.topic, backend=cached.backend,
        model=cached.model, prompt_hash=cached.prompt_hash, content_hash=cached.content_hash,
        status="ok", on_topic=cached.on_topic, summary=cached.summary, scores=cached.scores,
        rationale=cached.rationale, evidence=cached.evidence, temperature=cached.temperature,
        seed=cached.seed, tokens_in=0, tokens_out=0, cost_usd=0.0, latency_s=0.0,
        software_version=__version__, scorer_version=cached.scorer_version, run_id=run_id,
    )


def _reinstate(session: Session, topic: str, model: str, prompt_hash: str) -> int:
    """Documents scored under this configuration before whose newest analysis is another
    configuration's (e.g. a calibration adopted, then withdrawn): their analysis under this
    one is moved to a new, newest id, unchanged otherwise (run, time, cost), so the pages
    read it again; the number moved. Without this the pending query (an analysis of this
    configuration exists) would leave the other configuration's values current."""
    newest = (select(Analysis.document_id, func.max(Analysis.id).label("id"))
              .where(Analysis.topic == topic, Analysis.model == model, Analysis.status == "ok")
              .group_by(Analysis.document_id).subquery())
    stale = (select(newest.c.document_id).join(Analysis, Analysis.id == newest.c.id)
             .where(Analysis.prompt_hash != prompt_hash))
    rows = list(session.scalars(select(Analysis).where(
        Analysis.topic == topic, Analysis.model == model, Analysis.prompt_hash == prompt_hash,
        Analysis.status == "ok", Analysis.document_id.in_(stale))))
    columns = [c.key for c in Analysis.__table__.columns if c.key != "id"]
    moved = [Analysis(**{c: getattr(row, c) for c in columns}) for row in rows]
    try:
        with session.begin_nested():  # unique per document and configuration: delete first
            session.execute(delete(Analysis).where(Analysis.id.in_([r.id for r in rows])),
                            execution_options={"synchronize_session": False})
            session.add_all(moved)
    except IntegrityError:  # another run, starting at the same moment, moved them
        return 0
    return len(moved)


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
    insert_chunks(session, rows)  # with pgvector, their vectors too


def _load_fresh(ids: list[int], backend: ScoringBackend, prompt_hash: str, settings: Settings,
                result: ScoreRunResult, database_url: str | None,
                retry_failed: bool = False) -> list[PreparedDocument]:
    """Load a claimed batch, store cache hits at once (one transaction, releasing their
    claims), return what needs scoring. A document that got an analysis between the claim
    query's snapshot and the claim (another run stored it just then) is dropped here."""
    with session_scope(database_url) as session:
        stored = select(Analysis.document_id).where(
            Analysis.document_id.in_(ids), Analysis.model == backend.model,
            Analysis.prompt_hash == prompt_hash)
        if retry_failed:
            stored = stored.where(Analysis.status == "ok")
        done = set(session.scalars(stored))
        prepared = load_prepared(session, [i for i in ids if i not in done], settings)
        cache = _cached(session, [d.scoring_hash for d in prepared], backend.model, prompt_hash)
        hits = [d for d in prepared if d.scoring_hash in cache]
        if retry_failed:
            _drop_failed(session, [d.document_id for d in hits], backend.model, prompt_hash)
        for doc in hits:
            session.add(_copy_cached(doc.document_id, cache[doc.scoring_hash], result.run_id))
            result.cached += 1
        release_claims(session, result.run_id, [*done, *(d.document_id for d in hits)])
    return [d for d in prepared if d.scoring_hash not in cache]


def _drop_failed(session: Session, ids: list[int], model: str, prompt_hash: str) -> None:
    """A retried document's failed analysis makes room for the new one."""
    if ids:
        session.execute(delete(Analysis).where(
            Analysis.document_id.in_(ids), Analysis.model == model,
            Analysis.prompt_hash == prompt_hash, Analysis.status == "failed"))


def _store_outcomes(pairs: list[tuple[PreparedDocument, ScoringOutcome]], topic: Topic,
                    backend: ScoringBackend, prompt_hash: str, result: ScoreRunResult,
                    database_url: str | None, retry_failed: bool = False) -> list[int]:
    """One transaction: analyses, their claims released, and the ledger of the requests
    sent for them. Transient failures store no analysis (their claim is released too, and
    the ids returned, so this run does not take them again; a later run retries them).
    What was paid is counted at once; what was stored only once the transaction commits."""
    stored = {"scored": 0, "failed": 0, "deferred": 0}
    errors = []
    deferred: list[int] = []
    for _doc, outcome in pairs:
        result.calls += outcome.calls
        result.tokens_in += outcome.tokens_in
        result.tokens_out += outcome.tokens_out
        result.cost_usd += outcome.cost_usd
        result.possibly_billed += outcome.possibly_billed
        result.possibly_billed_usd += outcome.possibly_billed_usd
    with session_scope(database_url) as session:
        ids = [doc.document_id for doc, _ in pairs]
        for doc, outcome in pairs:
            for request in outcome.requests:
                request.document_id = doc.document_id
            record_calls(session, result.run_id, outcome.requests)
        release_claims(session, result.run_id, ids)
        if retry_failed:
            _drop_failed(session, ids, backend.model, prompt_hash)
        taken = set(session.scalars(select(Analysis.document_id).where(
            Analysis.document_id.in_(ids), Analysis.model == backend.model,
            Analysis.prompt_hash == prompt_hash)))
        scored = []
        for doc, outcome in pairs:
            if doc.document_id in taken:  # stored by a run that took over a lost claim
                continue
            if outcome.result is not None:
                outcome.result.check_keys(topic.score_keys)
                stored["scored"] += 1
                scored.append(doc)
            elif outcome.transient:
                stored["deferred"] += 1
                deferred.append(doc.document_id)
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
    return deferred


class Claimer:
    """Hands out this run's next batch of claimed documents: oldest first, or in a given
    order (``among``), never one this run deferred, at most ``limit`` in all."""

    def __init__(self, database_url: str, run_id: int, topic: Topic, model: str,
                 prompt_hash: str, *, limit: int | None = None, among: list[int] | None = None,
                 retry_failed: bool = False):
        self.database_url, self.run_id, self.topic = database_url, run_id, topic.name
        self.model, self.prompt_hash = model, prompt_hash
        self.limit, self.among, self.retry_failed = limit, among, retry_failed
        self.taken = 0
        self.deferred: set[int] = set()
        self._position = 0

    def next(self, size: int) -> list[int]:
        if self.limit is not None:
            size = min(size, self.limit - self.taken)
        if size <= 0:
            return []
        if self.among is None:
            ids = claim_documents(self.database_url, self.run_id, self.topic, self.model,
                                  self.prompt_hash, size, retry_failed=self.retry_failed,
                                  exclude=self.deferred)
        else:  # a fixed order: claim from its next slice until one yields documents
            ids = []
            while not ids and self._position < len(self.among):
                window = self.among[self._position:self._position + size]
                self._position += len(window)
                ids = claim_documents(self.database_url, self.run_id, self.topic, self.model,
                                      self.prompt_hash, size, retry_failed=self.retry_failed,
                                      among=window, exclude=self.deferred)
        self.taken += len(ids)
        return ids


def _score_sync(claimer: Claimer, topic: Topic, backend: ScoringBackend, prompt_hash: str,
                settings: Settings, result: ScoreRunResult, batch_size: int,
                report: Callable[[int], None], database_url: str | None) -> None:
    """Batch by batch, with the database work off the model's path: one helper thread runs
    ``backend.score_batch`` on batch k while this thread stores batch k-1 (one transaction,
    releasing its claims), reports it, and claims and loads (splits, answers from the
    cache) batch k+1, which then waits in the helper's queue. Progress and the run row are
    written here, as each batch commits.

    Batch k+1's cache lookup runs before batch k is stored, so two pending originals with
    the same scoring hash in adjacent batches are both scored (as two in one batch always
    were); exact copies are linked as duplicates when ingested, so this is rare. On an
    interruption the stored batches are kept, the batch being scored is dropped and the
    run's claims are released when it closes."""
    model = ThreadPoolExecutor(1, thread_name_prefix="score-model")

    def start() -> tuple[int, list[PreparedDocument], Future | None] | None:
        ids = claimer.next(batch_size)
        if not ids:
            return None
        fresh = _load_fresh(ids, backend, prompt_hash, settings, result, database_url,
                            claimer.retry_failed)
        scoring = model.submit(backend.score_batch, fresh, topic) if fresh else None
        return len(ids), fresh, scoring

    try:
        current = start()
        while current is not None:
            following = start()
            size, fresh, scoring = current
            outcomes = scoring.result() if scoring is not None else []
            claimer.deferred.update(_store_outcomes(
                list(zip(fresh, outcomes, strict=True)), topic, backend, prompt_hash, result,
                database_url, claimer.retry_failed))
            report(size)
            current = following
    except RuntimeError as exc:
        model.shutdown(wait=False, cancel_futures=True)
        if "interpreter shutdown" in str(exc):  # a stopped server: end 'stopped', quietly
            raise StopRequested("stopped: the process is shutting down") from None
        raise
    except BaseException:
        model.shutdown(wait=False, cancel_futures=True)
        raise
    model.shutdown()


async def _score_async(claimer: Claimer, topic: Topic, backend, prompt_hash: str,
                       settings: Settings, result: ScoreRunResult, batch_size: int,
                       budget, report: Callable[[int], None],
                       database_url: str | None) -> None:
    """Keep up to the backend's concurrency in flight; commit results as they complete.
    Batches are claimed as they are needed (the next while a round of the previous waits)."""
    in_flight: set[asyncio.Task] = set()
    done_pairs: list[tuple[PreparedDocument, ScoringOutcome]] = []
    unscheduled = 0
    exhausted_claims = False

    async def flush() -> None:
        nonlocal done_pairs
        pairs, done_pairs = done_pairs, []
        if pairs:
            deferred = await asyncio.to_thread(_store_outcomes, pairs, topic, backend,
                                               prompt_hash, result, database_url,
                                               claimer.retry_failed)
            claimer.deferred.update(deferred)
            report(len(pairs))  # on the caller's thread (a page's progress bar)

    async def one(doc: PreparedDocument) -> tuple[PreparedDocument, ScoringOutcome]:
        return doc, await backend.ascore(doc, topic, budget)

    async with backend.connection():
        try:
            while not exhausted_claims or in_flight:
                # claim the next batch while a full round of calls is still queued, so no
                # call slot idles while the batch is claimed, loaded and embedded
                if (not exhausted_claims and not budget_exhausted(budget)
                        and len(in_flight) < 2 * backend.concurrency):
                    batch = await asyncio.to_thread(claimer.next, batch_size)
                    if not batch:
                        exhausted_claims = True
                        continue
                    cached_before = result.cached
                    fresh = await asyncio.to_thread(_load_fresh, batch, backend, prompt_hash,
                                                    settings, result, database_url,
                                                    claimer.retry_failed)
                    if result.cached > cached_before:
                        report(result.cached - cached_before)
                    await asyncio.to_thread(backend.prepare, fresh, topic)
                    in_flight |= {asyncio.create_task(one(doc)) for doc in fresh}
                    continue
                if budget_exhausted(budget) and not exhausted_claims:
                    exhausted_claims = True
                    unscheduled = await asyncio.to_thread(
                        count_pending, database_url, topic.name, backend.model, prompt_hash,
                        claimer.retry_failed)
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
    if budget_exhausted(budget):
        left = result.deferred + unscheduled
        pool = getattr(budget, "name", "")
        shared = f" (pool '{pool}', shared by every run naming it)" if pool and not \
            pool.startswith("run:") else ""
        result.stopped = (f"budget of ${budget.limit:.4f}{shared} reached (this run spent "
                          f"${result.cost_usd:.4f}); {left} document(s) left unscored — re-run "
                          "with a higher budget to continue")


def budget_exhausted(budget) -> bool:
    return budget is not None and budget.exhausted


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
                order: str = "published", retry_failed: bool = False,
                budget_pool: str | None = None, reset_budget: bool = False,
                poll_s: float | None = None, until_idle: bool = False,
                stop: threading.Event | None = None) -> ScoreRunResult:
    """Score every pending document of the topic. Safe to interrupt, re-run, and run in
    several processes at once (claims: no document is scored or paid for twice).

    ``batch_size`` (documents per batch and transaction) defaults to the backend's
    ``documents_per_batch`` (offline: 256), else 64. ``progress`` gets documents done, the
    rate and an ETA after each committed batch; the run row's counts carry the same.
    ``budget_usd`` (default: the ``score.budget_usd`` setting) caps the cost for paid
    backends; the run then ends with status 'stopped'. The cap is this run's own, or, with
    ``budget_pool``, a pool in the database shared by every run naming it (workers; its
    spend accumulates until ``reset_budget``). Raises ``LLMAbort`` when the endpoint
    refuses the key or cannot be reached (finished work is kept). ``order`` "spread" scores
    in an order whose every prefix covers the whole period. ``retry_failed``: documents
    whose analysis failed are scored again (the failed row is replaced). ``poll_s``: when
    nothing is left, wait that long for new documents and go on until ``stop`` is set
    (a worker) or, with ``until_idle``, until nothing is pending and no other run holds a
    claim (a dead run's claims come back to the pool after ``run_dead_after_s``); None ends
    the run when nothing is left.
    """
    settings = settings or get_settings()
    database_url = database_url or settings.database_url
    backend = scoring_backend(settings, topic, backend_name, database_url)
    prompt_hash = backend.config_hash(topic)
    is_async = hasattr(backend, "ascore")
    batch_size = batch_size or getattr(backend, "documents_per_batch", 64)
    budget_usd = budget_usd if budget_usd is not None else settings.score.budget_usd
    if is_async and budget_usd is not None and not backend.price_known():
        raise BudgetPriceUnknown(
            f"A budget was set but the price of model '{backend.model}' is unknown: add it to "
            "ANALYTICS_OPENAI_PRICES as {\"model\": [usd_per_1M_in, usd_per_1M_out]}.")
    reap_dead_runs(database_url, settings.run_dead_after_s)
    among = None
    with session_scope(database_url) as session:
        if order == "spread":
            among = spread_order(pending_document_ids(session, topic, backend.model,
                                                      prompt_hash, limit, retry_failed))
    total = len(among) if among is not None else count_pending(
        database_url, topic.name, backend.model, prompt_hash, retry_failed)
    if limit:
        total = min(total, limit)
    parameters = {"backend": backend.name, "model": backend.model, "prompt_hash": prompt_hash,
                  "documents": total, "batch_size": batch_size, "budget_usd": budget_usd,
                  "budget_pool": budget_pool, "retry_failed": retry_failed,
                  "settings": _scoring_settings(settings, backend.name)}
    if poll_s is not None:
        parameters.update(worker=True, poll_s=poll_s, until_idle=until_idle)
    with recorded_run("score", topic.name, backend.name, parameters,
                      database_url=database_url) as run:
        result = ScoreRunResult(run_id=run.id, total=total)
        with session_scope(database_url) as session:
            result.reinstated = _reinstate(session, topic.name, backend.model, prompt_hash)
        meter = ProgressMeter(None, "score", total=total, unit="doc")
        claimer = Claimer(database_url, run.id, topic, backend.model, prompt_hash, limit=limit,
                          among=among, retry_failed=retry_failed)
        budget = (SharedBudget(database_url, budget_pool or f"run:{run.id}", budget_usd, run.id,
                               reset=reset_budget)
                  if is_async and budget_usd is not None else None)

        def report(documents: int) -> None:
            """After a commit: the run row, then the progress bar, get done, rate and ETA.
            (A worker may go on past ``total``: new documents arrive while it polls.)"""
            if meter.done + documents > meter.total:
                meter.total = result.total = int(meter.done + documents)
            update = meter.advance(documents)
            result.done = int(update.done)
            result.docs_per_s = _rounded(update.rate)
            result.eta_s = round(update.eta_s, 1) if update.eta_s is not None else None
            run.counts = result.counts()
            run.save_progress()
            if progress:
                progress(update)

        try:
            while True:
                if is_async:
                    asyncio.run(_score_async(claimer, topic, backend, prompt_hash, settings,
                                             result, batch_size, budget, report,
                                             database_url))
                else:
                    _score_sync(claimer, topic, backend, prompt_hash, settings, result,
                                batch_size, report, database_url)
                if (poll_s is None or result.stopped or budget_exhausted(budget)
                        or (limit is not None and claimer.taken >= limit)):
                    break
                reap_dead_runs(database_url, settings.run_dead_after_s)
                if until_idle and not count_pending(
                        database_url, topic.name, backend.model, prompt_hash, retry_failed) \
                        and not count_claims(database_url, backend.model, prompt_hash):
                    break
                if (stop is not None and stop.wait(poll_s)) or (stop is None and _sleep(poll_s)):
                    break
        finally:
            result.docs_per_s = _rounded(meter.rate)
            if result.done >= result.total:
                result.eta_s = 0.0
            run.counts = result.counts()
            if budget is not None:
                budget.close()
        if result.stopped:
            run.stop(result.stopped)
        elif result.errors:
            run.note = "; ".join(result.errors[:5])
    return result


def scoring_backend(settings: Settings, topic: Topic, backend_name: str | None = None,
                    database_url: str | None = None) -> ScoringBackend:
    """The backend, with the topic's adopted calibrations attached when it applies them
    (the offline backend; ``analytics.store.calibrations``)."""
    backend = get_backend(settings, backend_name)
    if hasattr(backend, "use_calibrations"):
        with session_scope(database_url or settings.database_url) as session:
            keys = adopted_keys(session, topic.name)
        backend.use_calibrations(topic, {k: load_calibration(key, settings)
                                         for k, key in keys.items()})
    return backend


def _sleep(seconds: float) -> bool:
    """Wait between polls (Ctrl-C and SIGTERM still interrupt); False = go on."""
    import time

    time.sleep(seconds)
    return False


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
    cached: int | None  # answered from the cache, no call (None: not counted)
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
                 database_url: str | None = None, batch_size: int = 256,
                 count_cached: bool = True) -> RunEstimate:
    """Count the calls and estimate tokens and cost of scoring what is pending (no calls).
    ``count_cached=False`` skips reading the texts when the backend is free: the count of
    pending documents is then all there is to say (a page can afford it on 100k pending)."""
    settings = settings or get_settings()
    backend = scoring_backend(settings, topic, backend_name, database_url)
    prompt_hash = backend.config_hash(topic)
    paid = hasattr(backend, "estimate")
    expected_out = min(settings.llm.max_tokens, 150 + 80 * len(topic.scores))
    estimate = RunEstimate(backend.name, backend.model, 0, 0, 0, 0, 0, 0, 0.0, 0.0,
                           backend.price_known() if paid else True)
    with session_scope(database_url or settings.database_url) as session:
        ids = pending_document_ids(session, topic, backend.model, prompt_hash, limit)
        estimate.documents = len(ids)
        if not paid and not count_cached:
            estimate.cached = None
            return estimate
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
