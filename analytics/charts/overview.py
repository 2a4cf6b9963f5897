"""Figures of the Overview page (volume, score distributions, daily means vs truth)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analytics.charts.events import add_events
from analytics.charts.theme import (
    BOTTOM_LEGEND,
    TRUTH_COLOR,
    apply,
    score_color,
    source_color,
)
from analytics.core.topics import Topic


def monthly_volume(monthly: pd.DataFrame, events: pd.DataFrame | None = None) -> go.Figure:
    """Stacked bars: documents per source per month (a bar's customdata: month, source)."""
    fig = go.Figure()
    for source, rows in monthly.groupby("source", sort=True):
        fig.add_bar(x=rows["month"], y=rows["documents"], name=str(source),
                    marker_color=source_color(str(source)),
                    customdata=[[str(m.date()), str(source)] for m in rows["month"]],
                    hovertemplate="%{x|%b %Y}: %{y} documents (click to read them)")
    fig.update_layout(barmode="stack", yaxis_title="documents", xaxis_title=None,
                      legend=BOTTOM_LEGEND)
    if events is not None and not events.empty and not monthly.empty:
        add_events(fig, events, y=float(monthly.groupby("month")["documents"].sum().max()))
    return apply(fig, "Documents per source per month")


def score_distributions(scored: pd.DataFrame, topic: Topic) -> go.Figure:
    """One histogram per score; the share of documents that did not address it is noted."""
    fig = make_subplots(rows=1, cols=len(topic.scores), shared_yaxes=True,
                        subplot_titles=[s.label for s in topic.scores])
    for i, score in enumerate(topic.scores, start=1):
        values = scored[score.key].dropna()
        fig.add_histogram(x=values, xbins=dict(start=0, end=10.001, size=0.5), row=1, col=i,
                          marker_color=score_color(i - 1), name=score.label, showlegend=False,
                          hovertemplate="%{x}: %{y} documents")
        missing = 1 - len(values) / len(scored) if len(scored) else 0
        fig.update_xaxes(range=[0, 10], title_text=f"score · {missing:.0%} not addressed",
                         row=1, col=i)
    fig.update_yaxes(title_text="documents", row=1, col=1)
    return apply(fig, "Distribution of each score", height=320)


def daily_means(daily: pd.DataFrame, topic: Topic, truth: pd.DataFrame | None = None,
                smooth_days: int = 7, events: pd.DataFrame | None = None) -> go.Figure:
    """Per score: daily mean (dots, size ~ count; select them to read the documents), a
    rolling mean, the demo truth, and the topic's events (click one for what changed)."""
    fig = make_subplots(rows=len(topic.scores), cols=1, shared_xaxes=True,
                        vertical_spacing=0.07,
                        subplot_titles=[f"{s.label} · {s.scale}" for s in topic.scores])
    for i, score in enumerate(topic.scores, start=1):
        rows = daily[daily["score"] == score.key].sort_values("day")
        color = score_color(i - 1)
        fig.add_scatter(
            x=rows["day"], y=rows["mean"], mode="markers", name=f"{score.label}: daily mean",
            marker=dict(color=color, size=(rows["count"].clip(upper=12) + 3).tolist(),
                        opacity=0.35),
            customdata=rows["count"],
            hovertemplate="%{x|%d %b %Y}: %{y:.2f} (n=%{customdata}; select to read them)",
            showlegend=False, row=i, col=1)
        smooth = _rolling(rows, smooth_days)
        fig.add_scatter(x=smooth.index, y=smooth.values, mode="lines",
                        line=dict(color=color, width=2.5),
                        name=f"{smooth_days}-day mean", showlegend=i == 1,
                        hovertemplate="%{y:.2f}", row=i, col=1)
        if truth is not None and not truth.empty:
            known = truth[truth["score"] == score.key]
            fig.add_scatter(x=known["day"], y=known["value"], mode="lines",
                            line=dict(color=TRUTH_COLOR, dash="dash", width=1.5),
                            name="demo truth (latent, news level)", showlegend=i == 1,
                            hovertemplate="truth %{y:.2f}", row=i, col=1)
        fig.update_yaxes(range=[0, 10.4], title_text="score", row=i, col=1)
    rows = list(range(1, len(topic.scores) + 1))
    add_events(fig, events, y=10.1, rows=rows, label_row=1)
    fig.update_layout(legend=BOTTOM_LEGEND, margin=dict(t=70, b=80))
    fig.update_annotations(font_size=13)
    return apply(fig, "Daily mean of each score", height=270 * len(topic.scores) + 110)


def _rolling(rows: pd.DataFrame, days: int) -> pd.Series:
    """Count-weighted rolling mean over calendar days (gaps stay gaps in the weights)."""
    if rows.empty:
        return pd.Series(dtype=float)
    frame = rows.set_index("day")[["mean", "count"]]
    weighted = (frame["mean"] * frame["count"]).rolling(f"{days}D").sum()
    return weighted / frame["count"].rolling(f"{days}D").sum()


def document_scores(scores: dict[str, float | None], topic: Topic) -> go.Figure:
    """Horizontal bars of one document's scores on the 0–10 scale (missing = not addressed)."""
    labels, values, colors, text = [], [], [], []
    for i, score in enumerate(topic.scores):
        value = scores.get(score.key)
        labels.append(score.label)
        values.append(value if value is not None else 0)
        colors.append(score_color(i) if value is not None else "#dddddd")
        text.append(f"{value:.1f}" if value is not None else "not addressed")
    fig = go.Figure(go.Bar(x=values, y=labels, orientation="h", marker_color=colors, text=text,
                           textposition="outside", hoverinfo="skip"))
    fig.add_vline(x=5, line_dash="dot", line_color="#999999")
    fig.update_xaxes(range=[0, 11])
    fig.update_layout(hovermode=False)
    return apply(fig, None, height=60 + 50 * len(labels))
