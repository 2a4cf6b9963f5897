"""The one progress type every stage reports through (CLI bars, page bars, run rows).

A stage calls ``progress(Progress(stage, done, total, unit))`` with absolute counts, so a
consumer can draw a bar without keeping state; ``ProgressMeter`` adds the rate and an ETA.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Progress:
    stage: str  # what is being done, e.g. "score" or "Sampling the posterior"
    done: float  # units done so far in this stage
    total: float | None = None  # units in this stage; None when unknown
    unit: str = "doc"
    rate: float | None = None  # units per second, when measured
    eta_s: float | None = None  # seconds left at that rate

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, max(0.0, self.done / self.total))

    def text(self) -> str:
        """'score: 120/3,000 doc · 24.1 doc/s · about 2 min left'."""
        total = f"/{self.total:,.0f}" if self.total else ""
        line = f"{self.stage}: {self.done:,.0f}{total} {self.unit}"
        if self.rate:
            line += f" · {self.rate:,.1f} {self.unit}/s"
        if self.eta_s is not None and self.done < (self.total or 0):
            line += f" · about {_duration(self.eta_s)} left"
        return line


ProgressCallback = Callable[[Progress], None]


def ignore(_: Progress) -> None:
    """The default callback: report nowhere."""


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass
class ProgressMeter:
    """Counts units of one stage and reports them with rate and ETA."""

    callback: ProgressCallback | None
    stage: str
    total: float | None = None
    unit: str = "doc"
    done: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    def advance(self, n: float = 1) -> Progress:
        self.done += n
        return self.report()

    def set(self, done: float, stage: str | None = None) -> Progress:
        self.done = done
        if stage:
            self.stage = stage
        return self.report()

    @property
    def rate(self) -> float | None:
        elapsed = time.perf_counter() - self.started
        return self.done / elapsed if elapsed > 0 and self.done else None

    def report(self) -> Progress:
        rate = self.rate
        eta = (self.total - self.done) / rate if rate and self.total else None
        update = Progress(self.stage, self.done, self.total, self.unit, rate, eta)
        if self.callback:
            self.callback(update)
        return update
