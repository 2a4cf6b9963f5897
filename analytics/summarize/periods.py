"""Periods (ISO weeks or calendar months, UTC) of level-1 analyses per source, with the
score statistics level 2 compares: the previous period, and the other sources."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from analytics.core.topics import Topic
from analytics.store import queries as q
from analytics.store import session_scope

PERIODS = ("week", "month")
DISAGREEMENT_POINTS = 1.0  # a gap between sources' period means worth reporting
MIN_DOCUMENTS = 3  # fewer documents than this: no mean is compared


@dataclass
class PeriodGroup:
    source: str
    start: dt.datetime
    end: dt.datetime
    rows: pd.DataFrame  # level-1 analyses of the period (id, analysis_id, summary, scores...)
    stats: dict[str, dict]  # score -> {"mean", "n"}
    previous: dict[str, dict] | None  # the same for the previous period of this source
    others: dict[str, dict[str, dict]]  # other source -> score -> {"mean", "n"}


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
    frame = frame[(frame["on_topic"].fillna(False).astype(bool)) & frame["summary"].notna()]
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
