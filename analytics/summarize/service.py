"""Level 2: a summary of the level-1 summaries per period (week or month) and source.

For every source and period the latest on-topic analyses are gathered; with them come
score statistics for the period, for the previous period of the same source (what
changed) and for the other sources in the same period (disagreements). See
``summarizers`` for the offline (extractive) and LLM versions.

Each summary is stored in ``summaries`` with the ids of the analyses and documents used;
a period whose inputs have not changed is not rebuilt (no call, no cost).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import select

from analytics import __version__
from analytics.core.errors import BadInput
from analytics.core.progress import ProgressCallback, ProgressMeter
from analytics.core.settings import Settings, get_settings
from analytics.core.topics import Topic
from analytics.store import Analysis, Document, Summary, session_scope
from analytics.store.runs import recorded_run
from analytics.summarize.periods import (
    PERIODS,
    PeriodGroup,
    format_text,
    level1_frame,
    period_groups,
)
from analytics.summarize.summarizers import EXTRACTIVE_LABEL, SUMMARIZERS


@dataclass
class SummarizeResult:
    run_id: int
    written: int = 0
    unchanged: int = 0
    failed: int = 0
    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    errors: list[str] = field(default_factory=list)

    def counts(self) -> dict:
        return {"written": self.written, "unchanged": self.unchanged, "failed": self.failed,
                "calls": self.calls, "tokens_in": self.tokens_in, "tokens_out": self.tokens_out,
                "cost_usd": round(self.cost_usd, 6)}


def summarize_topic(topic: Topic, period: str = "week", sources: list[str] | None = None, *,
                    settings: Settings | None = None, backend_name: str | None = None,
                    progress: ProgressCallback | None = None,
                    database_url: str | None = None) -> SummarizeResult:
    """Build (or refresh) the level-2 summaries; periods with unchanged inputs are skipped."""
    if period not in PERIODS:
        raise BadInput(f"period must be one of {', '.join(PERIODS)}, not '{period}'")
    settings = settings or get_settings()
    url = database_url or settings.database_url
    name = backend_name or settings.score.backend
    if name not in SUMMARIZERS:
        raise BadInput(f"Unknown backend '{name}'. Known: {', '.join(SUMMARIZERS)}.")
    frame = level1_frame(topic, sources, url)
    summarizer = SUMMARIZERS[name](settings, topic, frame)
    groups = period_groups(frame, topic, period)
    with session_scope(url) as session:
        existing = _existing(session, topic, summarizer)
    todo = [g for g in groups
            if existing.get(_key(g)) != sorted(int(i) for i in g.rows["analysis_id"])]
    parameters = {"period": period, "sources": sources, "backend": name,
                  "model": summarizer.model, "prompt_hash": summarizer.prompt_hash,
                  "groups": len(groups), "context_tokens": settings.summarize.context_tokens}
    with recorded_run("summarize", topic.name, name, parameters, database_url=url) as run:
        result = SummarizeResult(run_id=run.id, unchanged=len(groups) - len(todo))
        meter = ProgressMeter(progress, "summaries", total=len(groups), unit="period")
        meter.set(result.unchanged)
        try:
            asyncio.run(_build_all(todo, topic, period, summarizer, result, meter, url))
        finally:
            run.counts = result.counts()
        run.note = "; ".join(result.errors[:5]) or None
    return result


async def _build_all(groups: list[PeriodGroup], topic: Topic, period: str, summarizer,
                     result: SummarizeResult, meter: ProgressMeter, url: str) -> None:
    """Sources in parallel; periods of one source in order (each result committed)."""
    by_source: dict[str, list[PeriodGroup]] = {}
    for group in groups:
        by_source.setdefault(group.source, []).append(group)

    async def one_source(items: list[PeriodGroup]) -> None:
        for group in items:
            try:
                built = await summarizer.summarize(group)
            except ValueError as exc:  # invalid answer after repair, endpoint error
                result.failed += 1
                result.errors.append(f"{group.source} {group.start:%Y-%m-%d}: {exc}")
                continue
            await asyncio.to_thread(_store, group, built, topic, period, summarizer, result, url)
            meter.set(result.unchanged + result.written + result.failed)

    if hasattr(summarizer, "client"):
        async with summarizer.client.connection():
            await asyncio.gather(*(one_source(items) for items in by_source.values()))
    else:
        for items in by_source.values():
            await one_source(items)


def _key(group: PeriodGroup) -> tuple[str, dt.datetime]:
    return group.source, group.start


def _existing(session, topic: Topic, summarizer) -> dict:
    rows = session.scalars(select(Summary).where(
        Summary.topic == topic.name, Summary.model == summarizer.model,
        Summary.prompt_hash == summarizer.prompt_hash))
    return {(r.source, _utc(r.period_start)): sorted(r.analysis_ids) for r in rows}


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def _store(group: PeriodGroup, built: dict, topic: Topic, period: str, summarizer,
           result: SummarizeResult, url: str) -> None:
    """One transaction per summary: insert, or replace the text when the inputs changed."""
    text = format_text(built["themes"], built["summary"], built["changes"],
                       built["disagreements"],
                       EXTRACTIVE_LABEL if summarizer.name == "offline" else None)
    meta = {"period": period, "method": "extractive" if summarizer.name == "offline" else "llm",
            "label": built["label"], "themes": built["themes"], "summary": built["summary"],
            "changes": built["changes"], "disagreements": built["disagreements"],
            "stats": group.stats, "previous_stats": group.previous, "other_sources": group.others,
            "map_groups": built["map_groups"], "calls": built["calls"],
            "tokens_in": built["tokens_in"], "tokens_out": built["tokens_out"],
            "cost_usd": built["cost"], "software_version": __version__, "run_id": result.run_id}
    with session_scope(url) as session:
        row = session.scalar(select(Summary).where(
            Summary.topic == topic.name, Summary.source == group.source,
            Summary.period_start == group.start, Summary.period_end == group.end,
            Summary.model == summarizer.model, Summary.prompt_hash == summarizer.prompt_hash))
        if row is None:
            row = Summary(topic=topic.name, source=group.source, period_start=group.start,
                          period_end=group.end, model=summarizer.model,
                          prompt_hash=summarizer.prompt_hash)
            session.add(row)
        row.backend = summarizer.name
        row.text = text
        row.document_ids = [int(i) for i in group.rows["id"]]
        row.analysis_ids = sorted(int(i) for i in group.rows["analysis_id"])
        row.meta = meta
        row.created_at = dt.datetime.now(dt.UTC)
    result.written += 1
    result.calls += built["calls"]
    result.tokens_in += built["tokens_in"]
    result.tokens_out += built["tokens_out"]
    result.cost_usd += built["cost"]


# --- reads for pages, reports and the CLI ------------------------------------------------

def summaries_frame(topic: str, source: str | None = None, period: str | None = None,
                    database_url: str | None = None) -> pd.DataFrame:
    """Stored level-2 summaries, newest build of each (source, period) first in time order."""
    columns = ["id", "source", "period", "period_start", "period_end", "backend", "model",
               "method", "label", "text", "themes", "documents", "created_at"]
    with session_scope(database_url) as session:
        query = select(Summary).where(Summary.topic == topic)
        if source:
            query = query.where(Summary.source == source)
        rows = [{
            "id": r.id, "source": r.source, "period": (r.meta or {}).get("period"),
            "period_start": r.period_start, "period_end": r.period_end, "backend": r.backend,
            "model": r.model, "method": (r.meta or {}).get("method"),
            "label": (r.meta or {}).get("label"), "text": r.text,
            "themes": (r.meta or {}).get("themes", []), "documents": len(r.document_ids or []),
            "created_at": r.created_at,
        } for r in session.scalars(query.order_by(Summary.period_start, Summary.id))]
    frame = pd.DataFrame(rows, columns=columns)
    if period:
        frame = frame[frame["period"] == period]
    return frame.drop_duplicates(["source", "period", "period_start"], keep="last")


def summary_detail(summary_id: int, topic: Topic, database_url: str | None = None) -> dict | None:
    """A summary with its parts and the documents (with their level-1 analyses) behind it."""
    with session_scope(database_url) as session:
        row = session.get(Summary, summary_id)
        if row is None:
            return None
        analyses = {a.document_id: a for a in session.scalars(
            select(Analysis).where(Analysis.id.in_(row.analysis_ids or [])))}
        documents = session.scalars(select(Document).where(
            Document.id.in_(row.document_ids or [])).order_by(Document.published_at)).all()
        docs = pd.DataFrame([{
            "id": d.id, "published_at": d.published_at, "source": d.source, "title": d.title,
            **{k: (analyses[d.id].scores or {}).get(k) if d.id in analyses else None
               for k in topic.score_keys},
            "summary": analyses[d.id].summary if d.id in analyses else None,
        } for d in documents], columns=["id", "published_at", "source", "title",
                                        *topic.score_keys, "summary"])
        return {"id": row.id, "source": row.source, "period_start": row.period_start,
                "period_end": row.period_end, "backend": row.backend, "model": row.model,
                "text": row.text, "meta": dict(row.meta or {}), "documents": docs}
