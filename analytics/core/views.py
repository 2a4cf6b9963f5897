"""Views: the sources and windows an analyst filters by, and how a window becomes dates.

One module for these, used by the dashboard, the CLI, reports and the trend fits.
"""

from __future__ import annotations

import datetime as dt

from analytics.core.errors import BadInput

SOURCES: tuple[str, ...] = ("news", "youtube", "reddit")
WINDOWS: dict[str, int | None] = {"30d": 30, "90d": 90, "180d": 180, "1y": 365, "all": None}
DEFAULT_WINDOW = "all"


class WindowError(BadInput):
    """An unknown window name; the message lists the known ones."""


def check_window(window: str) -> str:
    if window not in WINDOWS:
        raise WindowError(f"Unknown window '{window}'; use one of {', '.join(WINDOWS)}.")
    return window


def window_dates(window: str, newest: dt.date | None) -> tuple[dt.date | None, dt.date | None]:
    """The dates of a named window ending at the newest document (None, None = all dates)."""
    days = WINDOWS[check_window(window)]
    if days is None or newest is None:
        return None, None
    return newest - dt.timedelta(days=days - 1), newest


def normalise_sources(sources: tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    """Known sources in the canonical order; None = every source."""
    if sources is None:
        return SOURCES
    return tuple(s for s in SOURCES if s in set(sources))
