"""Figures of the Validation page: naive vs corrected slopes, machine vs human scatter."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from analytics.charts.theme import apply, score_color
from analytics.core.topics import Topic

NAIVE_COLOR = "#9e9e9e"


def slope_comparison(trends: pd.DataFrame, topic: Topic) -> go.Figure:
    """Per score: the naive and the corrected slope (points per year) with their intervals."""
    labels = {s.key: s.label for s in topic.scores}
    fig = go.Figure()
    names = [labels.get(k, k) for k in trends["score"]]
    fig.add_scatter(
        x=trends["naive_slope"], y=names, mode="markers", name="naive (machine scores only)",
        marker={"color": NAIVE_COLOR, "size": 11, "symbol": "circle-open"},
        error_x={"type": "data", "symmetric": False,
                     "array": trends["naive_high"] - trends["naive_slope"],
                     "arrayminus": trends["naive_slope"] - trends["naive_low"]},
        hovertemplate="naive %{x:.2f} points/year<extra></extra>",
    )
    fig.add_scatter(
        x=trends["corrected_slope"], y=names, mode="markers", name="corrected (with human labels)",
        marker={"color": score_color(0), "size": 11},
        error_x={"type": "data", "symmetric": False,
                     "array": trends["corrected_high"] - trends["corrected_slope"],
                     "arrayminus": trends["corrected_slope"] - trends["corrected_low"]},
        hovertemplate="corrected %{x:.2f} points/year<extra></extra>",
    )
    fig.add_vline(x=0, line_dash="dot", line_color="#666666")
    fig.update_layout(xaxis_title="trend slope, score points per year (95% interval)",
                      scattermode="group", hovermode="closest")
    return apply(fig, "Trend slope: naive vs bias-corrected", height=120 + 90 * len(trends))


def machine_vs_human(pairs: pd.DataFrame, label: str) -> go.Figure:
    """Scatter of machine against human score; the diagonal is perfect agreement."""
    both = pairs.dropna(subset=["machine", "human"])
    fig = go.Figure()
    fig.add_scatter(x=both["human"], y=both["machine"], mode="markers", name="documents",
                    marker={"color": score_color(1), "size": 8, "opacity": 0.7},
                    hovertemplate="human %{x:.1f} · machine %{y:.1f}<extra></extra>")
    fig.add_scatter(x=[0, 10], y=[0, 10], mode="lines", name="perfect agreement",
                    line={"color": "#666666", "dash": "dot"})
    fig.update_layout(xaxis_title="human score", yaxis_title="machine score",
                      xaxis_range=[-0.3, 10.3], yaxis_range=[-0.3, 10.3], hovermode="closest")
    return apply(fig, f"{label}: machine vs human", height=360)
