"""Work shared by many processes: score claims, run heartbeats, and the reaper of dead runs.

**Claims.** A scoring run takes pending documents before it scores them: one transaction
selects candidates and inserts a ``score_claims`` row per document, which no other run can
insert again. On PostgreSQL the candidates are selected ``FOR UPDATE SKIP LOCKED`` (workers
on many machines take disjoint sets without waiting for each other) and the insert is
``ON CONFLICT DO NOTHING`` (a document another run claimed a moment ago is simply not
returned). On SQLite the transaction is ``BEGIN IMMEDIATE``: one writer at a time, so the
select-then-insert is atomic on one machine. A claim is released when the analysis is
stored (same transaction), when the run ends, or when its process dies.

**Heartbeats.** ``recorded_run`` starts a ``Heartbeat`` that writes ``runs.heartbeat_at``
every ``run_heartbeat_s``. ``reap_dead_runs`` marks a ``running`` run whose heartbeat is older
than ``run_dead_after_s`` as ``stopped`` (kill -9, a lost machine), deletes its claims and
turns what it held in budget reservations into possibly-billed spend.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
from collections.abc import Iterable

from sqlalchemy import delete, func, or_, select, update

from analytics.store.engine import get_engine, insert_or_ignore, session_scope
from analytics.store.models import (
    Analysis,
    BudgetHold,
    BudgetPool,
    Document,
    Run,
    ScoreClaim,
    utcnow,
)

log = logging.getLogger("analytics.claims")
HOST = socket.gethostname()


def pending_query(topic: str, model: str, prompt_hash: str, *, retry_failed: bool = False,
                  among: Iterable[int] | None = None, exclude: Iterable[int] = ()):
    """Originals of the topic with no analysis for this configuration (``retry_failed``:
    or only failed ones) and no claim by a running run, oldest first."""
    done = select(Analysis.document_id).where(Analysis.model == model,
                                              Analysis.prompt_hash == prompt_hash)
    if retry_failed:
        done = done.where(Analysis.status == "ok")
    claimed = select(ScoreClaim.document_id).where(ScoreClaim.model == model,
                                                   ScoreClaim.prompt_hash == prompt_hash)
    query = select(Document.id).where(Document.in_topic(topic), Document.duplicate_of.is_(None),
                                      Document.id.not_in(done), Document.id.not_in(claimed))
    if among is not None:
        query = query.where(Document.id.in_(list(among)))
    exclude = list(exclude)
    if exclude:
        query = query.where(Document.id.not_in(exclude))
    return query


def count_pending(database_url: str, topic: str, model: str, prompt_hash: str,
                  retry_failed: bool = False) -> int:
    with session_scope(database_url) as session:
        query = pending_query(topic, model, prompt_hash, retry_failed=retry_failed)
        return session.scalar(select(func.count()).select_from(query.subquery())) or 0


def count_claims(database_url: str, model: str, prompt_hash: str) -> int:
    """Documents held by running runs for this configuration."""
    with session_scope(database_url) as session:
        return session.scalar(select(func.count()).select_from(ScoreClaim).where(
            ScoreClaim.model == model, ScoreClaim.prompt_hash == prompt_hash)) or 0


def claim_documents(database_url: str, run_id: int, topic: str, model: str, prompt_hash: str,
                    limit: int, *, retry_failed: bool = False,
                    among: list[int] | None = None, exclude: Iterable[int] = ()) -> list[int]:
    """Take up to ``limit`` pending documents for this run; their ids, in the order given
    (``among``) or oldest first. Never returns a document another run holds or scored."""
    if limit <= 0:
        return []
    engine = get_engine(database_url)
    query = pending_query(topic, model, prompt_hash, retry_failed=retry_failed, among=among,
                          exclude=exclude).order_by(Document.published_at, Document.id)
    if among is None:
        query = query.limit(limit)
    postgres = engine.dialect.name == "postgresql"
    if postgres:
        query = query.with_for_update(skip_locked=True, of=Document)
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        candidates = list(connection.scalars(query))
        if among is not None:
            wanted = set(candidates)
            candidates = [i for i in among if i in wanted][:limit]
        if not candidates:
            connection.rollback()
            return []
        now = utcnow()
        statement = insert_or_ignore(engine, ScoreClaim, [
            {"document_id": i, "model": model, "prompt_hash": prompt_hash, "run_id": run_id,
             "claimed_at": now} for i in candidates])
        taken = set(connection.scalars(statement.returning(ScoreClaim.document_id)))
        connection.commit()
    return [i for i in candidates if i in taken]


def release_claims(session, run_id: int, document_ids: Iterable[int] | None = None) -> None:
    """Delete this run's claims (all, or of these documents), in the caller's transaction."""
    statement = delete(ScoreClaim).where(ScoreClaim.run_id == run_id)
    if document_ids is not None:
        ids = list(document_ids)
        if not ids:
            return
        statement = statement.where(ScoreClaim.document_id.in_(ids))
    session.execute(statement)


# --- heartbeats and dead runs ---------------------------------------------------------------

def beat(database_url: str | None, run_id: int) -> None:
    with session_scope(database_url) as session:
        session.execute(update(Run).where(Run.id == run_id, Run.status == "running")
                        .values(heartbeat_at=utcnow()))


class Heartbeat:
    """A daemon thread that beats for one run until ``stop``, and every few beats reaps
    runs whose heartbeat stopped (so a dead worker's documents come back while the others
    are busy). A failed beat is logged and retried at the next interval: a database hiccup
    must not kill the run."""

    def __init__(self, database_url: str | None, run_id: int, interval_s: float,
                 dead_after_s: float | None = None):
        self.database_url, self.run_id, self.interval = database_url, run_id, interval_s
        self.dead_after = dead_after_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{run_id}",
                                        daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def _run(self) -> None:
        last_reap = 0.0
        while not self._stop.wait(self.interval):
            try:
                beat(self.database_url, self.run_id)
                now = time.monotonic()
                if self.dead_after and now - last_reap >= self.dead_after / 2:
                    last_reap = now
                    reap_dead_runs(self.database_url, self.dead_after)
            except Exception:  # logged; the next beat retries
                log.warning("heartbeat of run %s failed", self.run_id, exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)


def reap_dead_runs(database_url: str | None, dead_after_s: float,
                   now: dt.datetime | None = None) -> list[int]:
    """Mark running runs whose heartbeat is older than ``dead_after_s`` as stopped, release
    their claims and settle their budget holds as possibly billed; the reaped run ids."""
    now = now or utcnow()
    cutoff = now - dt.timedelta(seconds=dead_after_s)
    with session_scope(database_url) as session:
        query = select(Run).where(
            Run.status == "running",
            or_(Run.heartbeat_at < cutoff, Run.heartbeat_at.is_(None) & (Run.started_at < cutoff)))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        dead = list(session.scalars(query))
        for run in dead:
            last = run.heartbeat_at or run.started_at
            where = f"{run.host} pid {run.pid}" if run.host else "an earlier process"
            run.status = "stopped"
            run.finished_at = now
            run.error = (f"stopped: the process ({where}) stopped beating at "
                         f"{_as_utc(last):%Y-%m-%d %H:%M:%S} UTC (died or was killed); its "
                         "claimed documents were released, finished work is kept")
            counts = dict(run.counts or {})
            counts["reaped"] = True
            run.counts = counts
        ids = [r.id for r in dead]
        if ids:
            session.execute(delete(ScoreClaim).where(ScoreClaim.run_id.in_(ids)))
            for hold in session.scalars(select(BudgetHold).where(BudgetHold.run_id.in_(ids))):
                session.execute(update(BudgetPool).where(BudgetPool.name == hold.pool).values(
                    reserved_usd=BudgetPool.reserved_usd - hold.reserved_usd,
                    spent_usd=BudgetPool.spent_usd + hold.reserved_usd, updated_at=now))
                session.delete(hold)
            log.warning("marked dead run(s) %s as stopped", ids)
    return ids


def _as_utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def process_identity() -> dict[str, object]:
    return {"host": HOST, "pid": os.getpid()}
