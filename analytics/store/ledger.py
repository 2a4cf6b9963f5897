"""Money and rate shared by every process through the database.

- ``SharedBudget``: a cost cap (``budget_pools`` row) that every run naming the pool draws
  from. A call reserves its worst-case cost before it is sent (one atomic ``UPDATE … WHERE
  spent + reserved + x <= limit``), and settles the real cost afterwards; what a run holds
  is in ``budget_holds``, so the reaper can settle a dead run's reservations.
- ``take_rate``: a request/token bucket per endpoint and model (``rate_buckets``), refilled
  continuously; taking from it is one short transaction (row lock on PostgreSQL, ``BEGIN
  IMMEDIATE`` on SQLite), so N processes together respect one limit.
- ``record_calls``: rows of the ``llm_calls`` ledger (every request sent, timeouts included).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from analytics.store.engine import get_engine, insert_or_ignore, session_scope
from analytics.store.models import BudgetHold, BudgetPool, LLMCall, RateBucket, utcnow


class SharedBudget:
    """The interface of ``llm.costs.Budget`` (reserve, settle, exhausted), kept in the
    database under ``name`` so that every process naming it shares one cap."""

    def __init__(self, database_url: str, name: str, limit_usd: float | None, run_id: int,
                 reset: bool = False):
        self.database_url, self.name, self.limit, self.run_id = (
            database_url, name, limit_usd, run_id)
        self.exhausted = False
        with session_scope(database_url) as session:
            bind, now = session.get_bind(), utcnow()
            session.execute(insert_or_ignore(bind, BudgetPool, {
                "name": name, "limit_usd": limit_usd, "spent_usd": 0.0, "reserved_usd": 0.0,
                "updated_at": now}))
            values: dict[str, Any] = {"limit_usd": limit_usd, "updated_at": now}
            if reset:
                values["spent_usd"] = 0.0
            session.execute(update(BudgetPool).where(BudgetPool.name == name).values(**values))
            session.execute(insert_or_ignore(bind, BudgetHold, {
                "pool": name, "run_id": run_id, "reserved_usd": 0.0}))

    @property
    def spent(self) -> float:
        return self.state()["spent_usd"]

    def state(self) -> dict[str, Any]:
        with session_scope(self.database_url) as session:
            pool = session.get(BudgetPool, self.name)
            return {"name": pool.name, "limit_usd": pool.limit_usd, "spent_usd": pool.spent_usd,
                    "reserved_usd": pool.reserved_usd}

    def reserve(self, amount: float) -> bool:
        with session_scope(self.database_url) as session:
            pools = BudgetPool.__table__
            condition = pools.c.name == self.name
            if self.limit is not None:
                condition &= (pools.c.spent_usd + pools.c.reserved_usd + amount
                              <= pools.c.limit_usd)
            taken = session.execute(
                update(BudgetPool).where(condition)
                .values(reserved_usd=BudgetPool.reserved_usd + amount, updated_at=utcnow())
                .returning(BudgetPool.name)).first()
            if taken is None:
                self.exhausted = True
                return False
            session.execute(update(BudgetHold).where(
                BudgetHold.pool == self.name, BudgetHold.run_id == self.run_id)
                .values(reserved_usd=BudgetHold.reserved_usd + amount))
        return True

    def settle(self, reserved: float, actual: float) -> None:
        with session_scope(self.database_url) as session:
            session.execute(update(BudgetPool).where(BudgetPool.name == self.name).values(
                reserved_usd=BudgetPool.reserved_usd - reserved,
                spent_usd=BudgetPool.spent_usd + actual, updated_at=utcnow()))
            session.execute(update(BudgetHold).where(
                BudgetHold.pool == self.name, BudgetHold.run_id == self.run_id)
                .values(reserved_usd=BudgetHold.reserved_usd - reserved))

    def close(self) -> None:
        """The run ended: give back anything still reserved (in-flight calls were settled)."""
        with session_scope(self.database_url) as session:
            hold = session.get(BudgetHold, (self.name, self.run_id))
            if hold is None:
                return
            if hold.reserved_usd > 1e-12:
                session.execute(update(BudgetPool).where(BudgetPool.name == self.name).values(
                    reserved_usd=BudgetPool.reserved_usd - hold.reserved_usd))
            session.execute(delete(BudgetHold).where(BudgetHold.pool == self.name,
                                                     BudgetHold.run_id == self.run_id))


def take_rate(database_url: str, name: str, requests_per_minute: float,
              tokens_per_minute: float, tokens: float, correction: float = 0.0,
              requests: float = 1.0) -> float:
    """Take ``requests`` and ``tokens`` from the shared bucket: 0.0 when taken, else the
    seconds to wait before trying again (nothing taken). ``correction``: tokens to charge
    (or give back) for earlier calls whose real size is now known."""
    engine = get_engine(database_url)
    capacity = (float(requests_per_minute), float(tokens_per_minute))
    need = (min(float(requests), capacity[0]), min(float(tokens), capacity[1]))
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        query = select(RateBucket.requests, RateBucket.tokens, RateBucket.updated).where(
            RateBucket.name == name)
        if engine.dialect.name == "postgresql":
            query = query.with_for_update()
        row = connection.execute(query).first()
        now = time.time()
        if row is None:  # the first taker makes the bucket (another may do so at once)
            connection.execute(insert_or_ignore(engine, RateBucket, {
                "name": name, "requests": capacity[0], "tokens": capacity[1],
                "updated": now}))
            row = connection.execute(query).first()
        elapsed = max(0.0, now - row.updated)
        level = [min(cap, value + elapsed * cap / 60.0)
                 for value, cap in zip((row.requests, row.tokens), capacity, strict=True)]
        level[1] -= correction
        wait = max(0.0, *((n - lvl) * 60.0 / cap
                          for n, lvl, cap in zip(need, level, capacity, strict=True)))
        if wait > 0:
            connection.execute(update(RateBucket).where(RateBucket.name == name).values(
                requests=level[0], tokens=level[1], updated=now))
            connection.commit()
            return wait
        connection.execute(update(RateBucket).where(RateBucket.name == name).values(
            requests=level[0] - need[0], tokens=level[1] - need[1], updated=now))
        connection.commit()
    return 0.0


@dataclass
class CallRecord:
    """One request sent to a paid endpoint (``llm_calls`` row before it is stored)."""

    purpose: str
    model: str
    status: str  # ok | timeout | error
    possibly_billed: bool
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    document_id: int | None = None


def record_calls(session: Session, run_id: int | None, calls: Iterable[CallRecord]) -> int:
    """Add ledger rows in the caller's transaction; how many."""
    rows = [LLMCall(run_id=run_id, document_id=c.document_id, purpose=c.purpose, model=c.model,
                    status=c.status, possibly_billed=c.possibly_billed, tokens_in=c.tokens_in,
                    tokens_out=c.tokens_out, cost_usd=c.cost_usd) for c in calls]
    session.add_all(rows)
    return len(rows)
