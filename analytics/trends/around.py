"""What changed around a date: the scores before and after it, per source and per outlet,
with intervals; which outlets moved; the documents that moved the mean most.

The "before" period is the ``days`` days before the date, the "after" period the date and
the ``days - 1`` days after it. A change is the difference of the two periods' mean scores,
with a 95% interval from their standard errors (Welch); a group "moved" when its interval
excludes zero. Groups with fewer than ``MIN_DOCUMENTS`` documents on either side are listed
but not ranked.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

MIN_DOCUMENTS = 3
Z95 = 1.959964
CHANGE_COLUMNS = ["score", "group", "source", "before_mean", "before_n", "after_mean",
                  "after_n", "change", "low", "high", "moved"]


@dataclass
class AroundDate:
    date: dt.date
    days: int
    overall: pd.DataFrame  # per score: the change of all documents
    by_source: pd.DataFrame
    by_outlet: pd.DataFrame  # ranked: biggest moves in the overall direction first
    documents: pd.DataFrame  # per score, the after-period documents that moved the mean most

    def movers(self, score: str, limit: int = 10) -> pd.DataFrame:
        """The outlets that moved on this score, in the direction of the overall change."""
        rows = self.by_outlet[(self.by_outlet["score"] == score) & self.by_outlet["moved"]]
        overall = self.overall.set_index("score")["change"].get(score, 0.0)
        same_way = rows[np.sign(rows["change"]) == np.sign(overall)]
        return same_way.head(limit)


def periods(scored: pd.DataFrame, day: dt.date, days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    when = scored["published_at"].dt.tz_convert("UTC").dt.date
    before = scored[(when >= day - dt.timedelta(days=days)) & (when < day)]
    after = scored[(when >= day) & (when < day + dt.timedelta(days=days))]
    return before, after


def _change(before: pd.Series, after: pd.Series) -> dict:
    before, after = before.dropna(), after.dropna()
    row = {"before_mean": before.mean() if len(before) else np.nan, "before_n": len(before),
           "after_mean": after.mean() if len(after) else np.nan, "after_n": len(after)}
    if len(before) >= 2 and len(after) >= 2:
        change = row["after_mean"] - row["before_mean"]
        se = np.sqrt(before.var(ddof=1) / len(before) + after.var(ddof=1) / len(after))
        row.update(change=change, low=change - Z95 * se, high=change + Z95 * se)
    else:
        row.update(change=np.nan, low=np.nan, high=np.nan)
    row["moved"] = bool(np.isfinite(row["low"]) and (row["low"] > 0 or row["high"] < 0)
                        and min(len(before), len(after)) >= MIN_DOCUMENTS)
    return row


def _grouped(before: pd.DataFrame, after: pd.DataFrame, keys: list[str], column: str,
             source_of: dict[str, str]) -> pd.DataFrame:
    rows = []
    groups = sorted(set(before[column].dropna()) | set(after[column].dropna()))
    for key in keys:
        for group in groups:
            rows.append({"score": key, "group": group, "source": source_of.get(group, group),
                         **_change(before.loc[before[column] == group, key],
                                   after.loc[after[column] == group, key])})
    return pd.DataFrame(rows, columns=CHANGE_COLUMNS)


def _rank(frame: pd.DataFrame, overall: pd.DataFrame) -> pd.DataFrame:
    """Per score: biggest changes in the overall direction first; thin groups last."""
    direction = overall.set_index("score")["change"].map(np.sign)
    signed = frame["change"] * frame["score"].map(direction).fillna(1.0)
    enough = (frame["before_n"] >= MIN_DOCUMENTS) & (frame["after_n"] >= MIN_DOCUMENTS)
    order = frame.assign(_enough=enough, _signed=signed.fillna(-np.inf))
    order = order.sort_values(["score", "_enough", "_signed"], ascending=[True, False, False])
    return order.drop(columns=["_enough", "_signed"]).reset_index(drop=True)


def contributions(after: pd.DataFrame, before_mean: pd.Series, keys: list[str],
                  limit: int = 10) -> pd.DataFrame:
    """Per score, the after-period documents that pulled its mean furthest from the before
    mean: contribution = (score − before mean) / number of after documents."""
    frames = []
    for key in keys:
        part = after.dropna(subset=[key])
        if part.empty:
            continue
        pull = (part[key] - before_mean.get(key, np.nan)) / len(part)
        direction = np.sign(np.nansum(pull)) or 1.0
        top = part.assign(score=key, value=part[key], contribution=pull) \
            .sort_values("contribution", key=lambda s: -direction * s).head(limit)
        frames.append(top[["score", "id", "published_at", "source", "outlet", "title", "value",
                           "contribution"]])
    columns = ["score", "id", "published_at", "source", "outlet", "title", "value",
               "contribution"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def around(scored: pd.DataFrame, day: dt.date, score_keys: list[str],
           days: int = 14) -> AroundDate:
    """Before/after changes around ``day`` from a ``scored_frame`` (with ``outlet``)."""
    before, after = periods(scored, day, days)
    overall = pd.DataFrame([{"score": k, "group": "all", "source": "all",
                             **_change(before[k], after[k])} for k in score_keys],
                           columns=CHANGE_COLUMNS)
    source_of = dict(zip(scored["outlet"], scored["source"], strict=False))
    by_source = _grouped(before, after, score_keys, "source", {})
    by_outlet = _rank(_grouped(before, after, score_keys, "outlet", source_of), overall)
    means = overall.set_index("score")["before_mean"]
    return AroundDate(day, days, overall, by_source, by_outlet,
                      contributions(after, means, score_keys))
