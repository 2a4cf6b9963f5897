"""The observations of one score in one window, and their compression to weighted rows."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.trends.config import DAYS_PER_YEAR, ModelConfig


@dataclass(frozen=True)
class TrendData:
    """The observations of one score in one window: one entry per document."""

    topic: str
    score: str
    start: dt.date
    end: dt.date
    sources: tuple[str, ...]  # sources present in the data, in this order (model index)
    requested_sources: tuple[str, ...]
    t: np.ndarray  # years since the window start (exact publication time)
    source: np.ndarray  # index into ``sources``
    y: np.ndarray  # the score, 0–10

    @property
    def n_documents(self) -> int:
        return int(self.y.size)

    @property
    def window_years(self) -> float:
        return ((self.end - self.start).days + 1) / DAYS_PER_YEAR

    def digest(self) -> str:
        order = np.lexsort((self.y, self.source, self.t))
        hasher = hashlib.sha256()
        for array in (self.t[order], self.source[order].astype(np.int64), self.y[order]):
            hasher.update(np.ascontiguousarray(array).tobytes())
        hasher.update(json.dumps([self.topic, self.score, str(self.start), str(self.end),
                                  self.sources, self.requested_sources]).encode())
        return hasher.hexdigest()


def make_trend_data(scored: pd.DataFrame, topic: str, score: str,
                    start: dt.date | None = None, end: dt.date | None = None,
                    requested_sources: Sequence[str] = ()) -> TrendData:
    """From ``queries.scored_frame`` output (published_at, source, score columns)."""
    frame = scored[["published_at", "source", score]].dropna(subset=[score])
    when = pd.to_datetime(frame["published_at"], utc=True)
    if frame.empty:
        raise ValueError(f"No document has a '{score}' score in this window.")
    start = start or when.min().date()
    end = end or when.max().date()
    origin = pd.Timestamp(start, tz="UTC")
    sources = tuple(sorted(frame["source"].unique()))
    return TrendData(
        topic=topic, score=score, start=start, end=end, sources=sources,
        requested_sources=tuple(sorted(requested_sources or sources)),
        t=((when - origin).dt.total_seconds() / 86400.0 / DAYS_PER_YEAR).to_numpy(float),
        source=frame["source"].map({s: i for i, s in enumerate(sources)}).to_numpy(np.int64),
        y=frame[score].to_numpy(float),
    )


def compress(data: TrendData, config: ModelConfig) -> pd.DataFrame:
    """Weighted rows (t, src, y, w, ss) that give the same likelihood as the documents.

    Normal: per (time bin, source) the count w, mean score y and within sum of squares ss.
    Student-t: per (time bin, source, rounded score) the count w (ss = 0).
    Each row's t is the mean time of its documents.
    """
    window_days = data.window_years * DAYS_PER_YEAR
    bin_days = max(1.0, math.ceil(window_days / max(config.time_bins, 1)))
    frame = pd.DataFrame({"bin": np.floor(data.t * DAYS_PER_YEAR / bin_days).astype(np.int64),
                          "src": data.source, "t": data.t, "y": data.y})
    if config.likelihood == "normal":
        grouped = frame.groupby(["bin", "src"], sort=True)
        rows = grouped.agg(t=("t", "mean"), y=("y", "mean"), w=("y", "size")).reset_index()
        within = frame["y"] - grouped["y"].transform("mean")
        rows["ss"] = (within**2).groupby([frame["bin"], frame["src"]], sort=True).sum().to_numpy()
    else:
        if config.score_resolution > 0:
            frame["y"] = np.round(frame["y"] / config.score_resolution) * config.score_resolution
        rows = (frame.groupby(["bin", "src", "y"], sort=True)
                .agg(t=("t", "mean"), w=("y", "size")).reset_index())
        rows["ss"] = 0.0
    rows["w"] = rows["w"].astype(float)
    return rows[["t", "src", "y", "w", "ss"]]
