"""From a click (or box selection) on a time chart to the evidence behind it: an event
marker opens the event view; points, bars or a box open the Documents page on that period
(and source or outlet when the chart knows them)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analytics.charts.events import EVENT_TRACE, FOUND_TRACE, LABEL_TRACE
from analytics.dashboard.state import go_to_documents, go_to_event


def time_chart(fig: go.Figure, key: str, source: str | None = None,
               outlet: str | None = None, bar_period: str | None = None) -> None:
    """Draw a time chart that answers clicks. ``bar_period`` ("month") when a bar stands
    for a period: its customdata is (period start, source)."""
    event = st.plotly_chart(fig, width="stretch", key=key, on_select="rerun",
                            selection_mode=("points", "box"))
    selection = getattr(event, "selection", None) if event else None
    if not selection:
        return
    names = [trace.name for trace in fig.data]
    points = list(selection.get("points", []))
    marker = next((p for p in points if _name(names, p) in (EVENT_TRACE, FOUND_TRACE, LABEL_TRACE)),
                  None)
    if marker is not None:
        go_to_event(dt.date.fromisoformat(str(marker["customdata"])[:10]))
    if bar_period and points and isinstance(points[0].get("customdata"), list):
        first, bar_source = points[0]["customdata"][:2]
        start = dt.date.fromisoformat(first[:10])
        end = (pd.Timestamp(start) + pd.offsets.MonthEnd(0)).date()
        go_to_documents(start, end, bar_source, outlet)
    days = [_day(p.get("x")) for p in points if p.get("x") is not None]
    for box in selection.get("box", []):
        days += [_day(x) for x in box.get("x", [])]
    days = [d for d in days if d is not None]
    if days:
        go_to_documents(min(days), max(days), source, outlet)


def _name(names: list[str], point: dict) -> str | None:
    index = point.get("curve_number")
    return names[index] if isinstance(index, int) and index < len(names) else None


def _day(value) -> dt.date | None:
    try:
        return pd.Timestamp(value).date()
    except (TypeError, ValueError):
        return None
