"""Level 2: a summary of the level-1 summaries per period (week or month) and source.

For every source and period the latest on-topic analyses are gathered; with them come
score statistics for the period, for the previous period of the same source (what
changed) and for the other sources in the same period (disagreements).

- ``openai`` backend: an LLM writes themes, summary, changes and disagreements as JSON
  (schema-validated, one repair). When the level-1 summaries exceed the context budget
  (``summary_context_tokens``) they are condensed map-reduce: groups that fit are summarised
  first, then the partial summaries (recursively, if needed).
- ``offline`` backend: an extractive version, labelled as such — themes are distinctive
  frequent terms, the summary is a few verbatim level-1 summaries, changes and
  disagreements are computed from the scores.

Each summary is stored in ``summaries`` with the ids of the analyses and documents used;
a period whose inputs have not changed is not rebuilt (no call, no cost).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import select

from analytics import __version__
from analytics.config import Settings, Topic, get_settings
from analytics.scoring import prompts
from analytics.scoring.base import stable_hash
from analytics.store import Analysis, Document, Run, Summary, session_scope
from analytics.store import queries as q
from analytics.store.writes import finish_run, start_run

PERIODS = ("week", "month")
EXTRACTIVE_LABEL = ("Extractive summary (offline backend, no LLM): themes are distinctive "
                    "frequent terms, the summary quotes level-1 summaries verbatim, changes and "
                    "disagreements are computed from the scores.")
DISAGREEMENT_POINTS = 1.0  # a gap between sources' period means worth reporting
MIN_DOCUMENTS = 3  # fewer documents than this: no mean is compared
Progress = Callable[[int, int], None]  # (done, total)

_STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been
before being below between both but by can could did do does doing down during each few
for from further had has have having he her here hers him his how i if in into is it
its itself just me more most my no nor not now of off on once only or other our out
over own same she should so some such than that the their them then there these they
this those through to too under until up very was we were what when where which while
who whom why will with would you your says said say according amid among new one two
three week month year years today document documents summary discusses discussed text
video thread comments comment people
""".split())  # noqa: SIM905


@dataclass
class PeriodGroup:
    source: str
    start: dt.datetime
    end: dt.datetime
    rows: pd.DataFrame  # level-1 analyses of the period (id, analysis_id, summary, scores...)
    stats: dict[str, dict]  # score -> {"mean", "n"}
    previous: dict[str, dict] | None  # the same for the previous period of this source
    others: dict[str, dict[str, dict]]  # other source -> score -> {"mean", "n"}


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


# --- periods and statistics ----------------------------------------------------------------

def period_start(moment: pd.Timestamp, period: str) -> pd.Timestamp:
    day = moment.tz_convert("UTC").normalize()
    if period == "week":
        return day - pd.Timedelta(days=day.weekday())
    return day.replace(day=1)


def period_end(start: pd.Timestamp, period: str) -> pd.Timestamp:
    return start + (pd.Timedelta(days=7) if period == "week" else pd.DateOffset(months=1))


def score_stats(rows: pd.DataFrame, keys: list[str]) -> dict[str, dict]:
    out = {}
    for key in keys:
        values = rows[key].dropna() if key in rows else pd.Series(dtype=float)
        out[key] = {"mean": round(float(values.mean()), 2) if len(values) else None,
                    "n": len(values)}
    return out


def level1_frame(topic: Topic, sources: list[str] | None, database_url: str | None) -> pd.DataFrame:
    with session_scope(database_url) as session:
        frame = q.scored_frame(session, topic.name, topic.score_keys, sources)
    frame = frame[(frame["on_topic"] == True) & frame["summary"].notna()]
    return frame.sort_values(["published_at", "id"])


def period_groups(frame: pd.DataFrame, topic: Topic, period: str) -> list[PeriodGroup]:
    if frame.empty:
        return []
    keys = topic.score_keys
    frame = frame.assign(period=frame["published_at"].map(lambda t: period_start(t, period)))
    stats = {(s, p): score_stats(g, keys) for (s, p), g in frame.groupby(["source", "period"])}
    groups = []
    for (source, start), rows in frame.groupby(["source", "period"], sort=True):
        earlier = sorted(p for s, p in stats if s == source and p < start)
        others = {s: st for (s, p), st in stats.items() if p == start and s != source}
        groups.append(PeriodGroup(
            source=source, start=start.to_pydatetime(),
            end=period_end(start, period).to_pydatetime(), rows=rows,
            stats=stats[(source, start)],
            previous=stats[(source, earlier[-1])] if earlier else None, others=others))
    return groups


def change_lines(group: PeriodGroup, topic: Topic) -> list[str]:
    if group.previous is None:
        return ["No previous period for this source."]
    lines = []
    for s in topic.scores:
        now, before = group.stats[s.key], group.previous[s.key]
        if now["mean"] is None or before["mean"] is None:
            continue
        delta = now["mean"] - before["mean"]
        lines.append(f"{s.label}: {before['mean']:.1f} → {now['mean']:.1f} ({delta:+.1f}; "
                     f"n {before['n']} → {now['n']})")
    return lines or ["No score was addressed in both periods."]


def disagreement_lines(group: PeriodGroup, topic: Topic) -> list[str]:
    lines = []
    for s in topic.scores:
        mine = group.stats[s.key]
        if mine["mean"] is None or mine["n"] < MIN_DOCUMENTS:
            continue
        for other, stats in sorted(group.others.items()):
            theirs = stats[s.key]
            if theirs["mean"] is None or theirs["n"] < MIN_DOCUMENTS:
                continue
            gap = theirs["mean"] - mine["mean"]
            if abs(gap) >= DISAGREEMENT_POINTS:
                lines.append(f"{s.label}: {other} {abs(gap):.1f} points "
                             f"{'higher' if gap > 0 else 'lower'} ({theirs['mean']:.1f} vs "
                             f"{mine['mean']:.1f})")
    return lines or [(f"No notable disagreement (no gap of {DISAGREEMENT_POINTS:.0f}+ points "
                     f"between sources with {MIN_DOCUMENTS}+ documents).")]


def item_line(row: pd.Series, topic: Topic) -> str:
    scores = ", ".join(f"{k} {row[k]:.1f}" for k in topic.score_keys if pd.notna(row[k]))
    return (f"[doc {int(row['id'])}] {row['published_at']:%Y-%m-%d}: {row['summary']}"
            + (f" (scores: {scores})" if scores else ""))


def format_text(themes: list[str], summary: str, changes: str, disagreements: str,
                label: str | None = None) -> str:
    parts = [label] if label else []
    parts += [f"Themes: {'; '.join(themes) or '—'}", f"Summary: {summary}",
              f"Changes since the previous period: {changes}",
              f"Disagreements with other sources: {disagreements}"]
    return "\n\n".join(parts)


# --- summarizers ---------------------------------------------------------------------------

class ExtractiveSummarizer:
    name = "offline"
    model = "extractive-v1"
    label = EXTRACTIVE_LABEL

    def __init__(self, settings: Settings, topic: Topic, frame: pd.DataFrame):
        self.topic = topic
        self.prompt_hash = stable_hash({"method": self.model, "version": __version__})
        exclude = {w.lower() for k in topic.keywords for w in re.findall(r"[a-zA-Z]+", k)}
        self.exclude = exclude | _STOPWORDS
        self.background = Counter(w for text in frame["summary"] for w in self._words(text))
        self.total = sum(self.background.values()) or 1

    def _words(self, text: str) -> set[str]:
        return {w for w in re.findall(r"[a-z][a-z\-]{3,}", text.lower()) if w not in self.exclude}

    def themes(self, summaries: list[str], k: int = 6) -> list[tuple[str, float]]:
        counts = Counter(w for text in summaries for w in self._words(text))
        size = sum(counts.values()) or 1
        weights = {w: c * math.log((c / size) / (self.background[w] / self.total) + 1.0)
                   for w, c in counts.items() if c >= 2 or len(summaries) < 4}
        return sorted(weights.items(), key=lambda kv: -kv[1])[:k]

    async def summarize(self, group: PeriodGroup) -> dict:
        summaries = list(group.rows["summary"])
        themes = self.themes(summaries)
        weight = dict(themes)
        ranked = sorted(range(len(summaries)),
                        key=lambda i: -sum(weight.get(w, 0) for w in self._words(summaries[i])))
        picked = [group.rows.iloc[i] for i in sorted(ranked[:3])]
        quote = " ".join(f"[doc {int(r['id'])}] {r['summary']}" for r in picked)
        return {"themes": [w for w, _ in themes], "summary": quote,
                "changes": "; ".join(change_lines(group, self.topic)),
                "disagreements": "; ".join(disagreement_lines(group, self.topic)),
                "label": self.label, "calls": 0, "tokens_in": 0, "tokens_out": 0, "cost": 0.0,
                "map_groups": 0}


class LLMSummarizer:
    name = "openai"
    label = "LLM summary of level-1 summaries"

    def __init__(self, settings: Settings, topic: Topic, frame: pd.DataFrame):
        from analytics.scoring.backends.openai_backend import OpenAIBackend

        self.settings = settings
        self.topic = topic
        self.backend = OpenAIBackend(settings)
        self.model = settings.openai_model
        self.label = f"LLM summary ({self.model}) of level-1 summaries"
        self.prompt_hash = stable_hash({
            **prompts.level2_prompt_hash_payload(topic), "model": self.model,
            "temperature": settings.openai_temperature, "seed": settings.openai_seed,
            "max_tokens": settings.openai_max_tokens,
            "context": settings.summary_context_tokens})
        self.final_format = prompts.response_format("period_summary", prompts.PeriodSummaryAnswer)
        self.partial_format = prompts.response_format("partial_summary",
                                                      prompts.PartialSummaryAnswer)

    def _budget(self, header: list[str]) -> int:
        from analytics.scoring.backends.openai_backend import messages_tokens

        overhead = messages_tokens(prompts.summary_messages(self.topic, header, [], False))
        return max(self.settings.summary_context_tokens - overhead, 200)

    @staticmethod
    def _groups(items: list[str], budget: int) -> list[list[str]]:
        from analytics.scoring.backends.openai_backend import estimate_tokens

        groups, current, used = [], [], 0
        for item in items:
            size = estimate_tokens(item) + 2
            if current and used + size > budget:
                groups.append(current)
                current, used = [], 0
            current.append(item[: budget * 3])  # one huge item is cut, never dropped
            used += size
        return [*groups, current] if current else groups

    async def _call(self, messages: list[dict], fmt: dict, model: type, usage: dict):
        result, error, used = await self.backend.complete_json(
            messages, fmt, lambda content: model.model_validate_json(
                prompts._strip_fences(content or "")))
        for key in ("calls", "tokens_in", "tokens_out"):
            usage[key] += used[key]
        usage["cost"] += used["cost"]
        if result is None:
            raise ValueError(error)
        return result

    async def summarize(self, group: PeriodGroup) -> dict:
        usage = {"calls": 0, "tokens_in": 0, "tokens_out": 0, "cost": 0.0, "map_groups": 0}
        header = [
            (f"Source: {group.source}. Period: {group.start:%Y-%m-%d} to {group.end:%Y-%m-%d} "
            f"({len(group.rows)} documents)."),
            "Score changes since the previous period: " + "; ".join(change_lines(group,
                                                                                 self.topic)),
            "Score gaps to other sources: " + "; ".join(disagreement_lines(group, self.topic)),
        ]
        items = [item_line(row, self.topic) for _, row in group.rows.iterrows()]
        budget = self._budget(header)
        level = 0
        while sum(len(i) for i in items) / 3.5 > budget and level < 4:  # map-reduce
            groups = self._groups(items, budget)
            usage["map_groups"] += len(groups)
            partials = []
            for number, chunk in enumerate(groups, 1):
                answer = await self._call(
                    prompts.summary_messages(self.topic, [], chunk, True), self.partial_format,
                    prompts.PartialSummaryAnswer, usage)
                partials.append(f"[part {level}.{number}] {answer.summary} (themes: "
                                f"{'; '.join(answer.themes)})")
            items, level = partials, level + 1
        answer = await self._call(prompts.summary_messages(self.topic, header, items, False),
                                  self.final_format, prompts.PeriodSummaryAnswer, usage)
        return {"themes": answer.themes, "summary": answer.summary, "changes": answer.changes,
                "disagreements": answer.disagreements, "label": self.label, **usage}


SUMMARIZERS = {"offline": ExtractiveSummarizer, "openai": LLMSummarizer}


# --- the run -----------------------------------------------------------------------------

def summarize_topic(topic: Topic, period: str = "week", sources: list[str] | None = None, *,
                    settings: Settings | None = None, backend_name: str | None = None,
                    progress: Progress | None = None,
                    database_url: str | None = None) -> SummarizeResult:
    """Build (or refresh) the level-2 summaries; periods with unchanged inputs are skipped."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, not '{period}'")
    settings = settings or get_settings()
    url = database_url or settings.database_url
    name = backend_name or settings.scoring_backend
    if name not in SUMMARIZERS:
        raise ValueError(f"Unknown backend '{name}'. Known: {', '.join(SUMMARIZERS)}.")
    frame = level1_frame(topic, sources, url)
    summarizer = SUMMARIZERS[name](settings, topic, frame)
    groups = period_groups(frame, topic, period)
    with session_scope(url) as session:
        run = start_run(session, "summarize", topic.name, name, {
            "period": period, "sources": sources, "backend": name, "model": summarizer.model,
            "prompt_hash": summarizer.prompt_hash, "groups": len(groups),
            "context_tokens": settings.summary_context_tokens})
        result = SummarizeResult(run_id=run.id)
        existing = _existing(session, topic, summarizer)
    todo = [g for g in groups
            if existing.get(_key(g)) != sorted(int(i) for i in g.rows["analysis_id"])]
    result.unchanged = len(groups) - len(todo)
    if progress:
        progress(result.unchanged, len(groups))
    try:
        asyncio.run(_build_all(todo, topic, period, summarizer, result, progress, len(groups),
                               url))
    except BaseException as exc:
        _finish(result, "failed", f"{type(exc).__name__}: {exc}", url)
        raise
    _finish(result, "ok", "; ".join(result.errors[:5]) or None, url)
    return result


async def _build_all(groups: list[PeriodGroup], topic: Topic, period: str, summarizer,
                     result: SummarizeResult, progress: Progress | None, total: int,
                     url: str) -> None:
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
            if progress:
                progress(result.unchanged + result.written + result.failed, total)

    if isinstance(summarizer, LLMSummarizer):
        async with summarizer.backend.connection():
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


def _finish(result: SummarizeResult, status: str, error: str | None, url: str) -> None:
    with session_scope(url) as session:
        finish_run(session.get(Run, result.run_id), status, result.counts(), error)


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
