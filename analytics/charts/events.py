"""Dated events on time charts: a labelled line per event and a clickable marker.

Figures receive the events as a frame (``date``, ``label``, optional ``kind``: "topic" for
the topic's and analysts' events, "found" for turns the trend model found). The markers are
one scatter trace named ``EVENT_TRACE`` whose points carry the date, so a page can open the
event view when one is selected.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

EVENT_TRACE = "events (click for what changed)"
FOUND_TRACE = "turns found in the data"
LABEL_TRACE = "event labels"  # clicking a label opens its event, like its marker
STYLE = {"topic": dict(color="#7a4f9a", dash="dot"), "found": dict(color="#555555", dash="dash")}


def add_events(fig: go.Figure, events: pd.DataFrame | None, y: float = 9.7,
               rows: list[int] | None = None, label_row: int | None = None) -> go.Figure:
    """Lines at each event (on every subplot row given) and one marker per event on top;
    labels are written on ``label_row`` (default: the first row)."""
    if events is None or events.empty:
        return fig
    events = events.assign(kind=events.get("kind", "topic"))
    rows = rows or [None]
    label_row = label_row if label_row is not None else rows[0]
    lines = []
    for kind, group in events.groupby("kind", sort=False):
        dates = pd.to_datetime(group["date"])
        lines += [_line(fig, day, row, kind) for row in rows for day in dates]
        trace = go.Scatter(
            x=dates, y=[y] * len(group), mode="markers",
            marker=dict(symbol="triangle-down", size=13, color=STYLE[kind]["color"]),
            customdata=[str(d.date()) for d in dates], hovertext=list(group["label"]),
            hovertemplate="%{x|%d %b %Y}: %{hovertext}<extra></extra>",
            name=EVENT_TRACE if kind == "topic" else FOUND_TRACE, showlegend=True)
        if label_row:
            fig.add_trace(trace, row=label_row, col=1)
        else:
            fig.add_trace(trace)
    labels = _labels(events, y)
    if label_row:
        fig.add_trace(labels, row=label_row, col=1)
    else:
        fig.add_trace(labels)
    # One layout update for all lines: add_vline per line re-validates the whole layout
    # each time (most of a warm Overview's time with a dozen events on three rows).
    fig.update_layout(shapes=[*fig.layout.shapes, *lines])
    return fig


def _line(fig: go.Figure, day, row: int | None, kind: str) -> dict:
    """A full-height vertical line at ``day`` on one subplot row (or the only plot)."""
    axes = fig.get_subplot(row, 1) if row else None
    xref = axes.xaxis.plotly_name.replace("axis", "") if axes else "x"
    yref = axes.yaxis.plotly_name.replace("axis", "") if axes else "y"
    return dict(type="line", x0=day, x1=day, xref=xref, y0=0, y1=1, yref=f"{yref} domain",
                line=dict(width=1, **STYLE.get(kind, STYLE["topic"])))


def _labels(events: pd.DataFrame, y: float, levels: int = 3) -> go.Scatter:
    """Every event's label under its marker, in date order on staggered heights, so events
    a few weeks apart do not write over each other on a narrow screen."""
    ordered = events.assign(date=pd.to_datetime(events["date"])).sort_values("date")
    step = 0.075 * y
    return go.Scatter(
        x=ordered["date"], y=[y - step * (0.6 + i % levels) for i in range(len(ordered))],
        mode="text", text=[_short(label) for label in ordered["label"]], name=LABEL_TRACE,
        customdata=[str(d.date()) for d in ordered["date"]],
        textposition="middle right", hoverinfo="skip", showlegend=False,
        textfont=dict(size=11, color=[STYLE.get(k, STYLE["topic"])["color"]
                                      for k in ordered["kind"]]))


def _short(label: str, limit: int = 28) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"
