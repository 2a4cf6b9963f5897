"""The data a dynamics model sees: per-period score means with counts, and external drivers.

Periods are days or weeks (``Settings.dynamics.resolution``). A period with no document
that addressed a score keeps ``NaN`` for that score and a count of 0: the fit masks it out
of the loss and no value is invented for it. Drivers are the number of on-topic documents
per source and period (a real, always-known quantity, 0 when nothing was published) and one
pulse column per dated event of the topic YAML (1 during the period that holds the event).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.core.topics import Topic

PERIOD_DAYS = {"day": 1, "week": 7}
VOLUME_PREFIX = "volume:"
EVENT_PREFIX = "event:"


@dataclass
class DynamicsSeries:
    """Aligned arrays on a regular period grid (T periods, S scores, V sources, N events)."""

    topic: str
    resolution: str
    start: dt.date  # first day of period 0
    score_keys: list[str]
    score_labels: list[str]
    sources: list[str]
    means: np.ndarray  # (T, S) mean score per period, NaN where nothing was observed
    counts: np.ndarray  # (T, S) documents that addressed the score in the period
    volume: np.ndarray  # (T, V) on-topic documents per source and period
    events: list[tuple[dt.date, str]] = field(default_factory=list)

    @property
    def period_days(self) -> int:
        return PERIOD_DAYS[self.resolution]

    @property
    def n_periods(self) -> int:
        return int(self.means.shape[0])

    @property
    def dates(self) -> pd.DatetimeIndex:
        return period_dates(self.start, self.n_periods, self.period_days)

    @property
    def end(self) -> dt.date:
        """First day of the last period with data."""
        return self.start + dt.timedelta(days=self.period_days * (self.n_periods - 1))

    @property
    def driver_names(self) -> list[str]:
        return [f"{VOLUME_PREFIX}{s}" for s in self.sources] + [
            f"{EVENT_PREFIX}{label}" for _, label in self.events]

    def period_index(self, day: dt.date) -> int:
        """Index of the period holding ``day`` (may be < 0 or >= T for days off the data)."""
        return (day - self.start).days // self.period_days

    def observed_periods(self) -> int:
        return int((self.counts.sum(1) > 0).sum())

    def event_pulses(self, n_periods: int) -> np.ndarray:
        """(n_periods, N) pulses on the grid starting at period 0 (beyond T too)."""
        pulses = np.zeros((n_periods, len(self.events)), dtype=np.float32)
        for j, (day, _) in enumerate(self.events):
            index = self.period_index(day)
            if 0 <= index < n_periods:
                pulses[index, j] = 1.0
        return pulses

    def data_hash(self) -> str:
        """Hash of everything a fit reads: part of the fit cache key."""
        digest = hashlib.sha256()
        header = {"topic": self.topic, "resolution": self.resolution,
                  "start": self.start.isoformat(), "scores": self.score_keys,
                  "sources": self.sources,
                  "events": [(d.isoformat(), label) for d, label in self.events]}
        digest.update(json.dumps(header, sort_keys=True).encode())
        for array in (self.means, self.counts, self.volume):
            digest.update(np.ascontiguousarray(np.nan_to_num(array, nan=-999.0),
                                               dtype=np.float64).tobytes())
        return digest.hexdigest()[:16]

    def frame(self) -> pd.DataFrame:
        """Long frame for tables and charts: date, score, mean, count."""
        dates = self.dates
        rows = [pd.DataFrame({"date": dates, "score": key, "mean": self.means[:, j],
                              "count": self.counts[:, j]})
                for j, key in enumerate(self.score_keys)]
        return pd.concat(rows, ignore_index=True)


def period_dates(start: dt.date, n_periods: int, period_days: int) -> pd.DatetimeIndex:
    return pd.DatetimeIndex([pd.Timestamp(start) + pd.Timedelta(days=period_days * i)
                             for i in range(n_periods)])


def _period_start(days: pd.Series, resolution: str) -> pd.Series:
    if resolution == "week":  # weeks start on Monday
        return days - pd.to_timedelta(days.dt.weekday, unit="D")
    return days


def build_series(scored: pd.DataFrame, topic: Topic, resolution: str = "day",
                 sources: list[str] | None = None) -> DynamicsSeries | None:
    """Aggregate a scored frame (``queries.scored_frame`` shape) onto a regular grid.

    Needs the columns ``published_at`` (UTC), ``source``, one column per score key and,
    optionally, ``on_topic``. Returns None when no document addressed any score.
    """
    if resolution not in PERIOD_DAYS:
        raise ValueError(f"Unknown resolution '{resolution}': use 'day' or 'week'.")
    keys = topic.score_keys
    if scored.empty or not scored[keys].notna().any().any():
        return None
    frame = scored.copy()
    if "on_topic" in frame:
        frame = frame[frame["on_topic"].fillna(True).astype(bool)]
    days = pd.to_datetime(frame["published_at"], utc=True).dt.tz_convert("UTC")
    days = days.dt.tz_localize(None).dt.normalize()
    frame["period"] = _period_start(days, resolution)
    first, last = frame["period"].min(), frame["period"].max()
    step = PERIOD_DAYS[resolution]
    grid = pd.date_range(first, last, freq=f"{step}D")
    sources = sources or sorted(frame["source"].dropna().unique())
    grouped = frame.groupby("period")
    means = grouped[keys].mean().reindex(grid).to_numpy(dtype=np.float64)
    counts = grouped[keys].count().reindex(grid).fillna(0).to_numpy(dtype=np.float64)
    volume = (frame.groupby(["period", "source"]).size().unstack(fill_value=0)
              .reindex(index=grid, columns=sources, fill_value=0).fillna(0)
              .to_numpy(dtype=np.float64))
    return DynamicsSeries(
        topic=topic.name, resolution=resolution, start=first.date(), score_keys=list(keys),
        score_labels=[s.label for s in topic.scores], sources=list(sources),
        means=means, counts=counts, volume=volume,
        events=sorted((e.date, e.label) for e in topic.events),
    )


def load_series(topic: Topic, settings, resolution: str | None = None) -> DynamicsSeries | None:
    """The topic's series from the database: all sources, all dates, latest analyses."""
    from analytics.store import queries, session_scope

    with session_scope(settings.database_url) as session:
        scored = queries.scored_frame(session, topic.name, topic.score_keys)
    return build_series(scored, topic, resolution or settings.dynamics.resolution)
