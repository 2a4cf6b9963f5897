"""What changed around a date: per-group change of a score with its 95% interval."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from analytics.charts.theme import apply, source_color

MOVED, STILL = "#c0392b", "#9aa5b1"


def group_changes(changes: pd.DataFrame, title: str, scale: str) -> go.Figure:
    """One row per group (outlet or source): change after − before with its 95% interval;
    groups whose interval excludes zero are drawn in colour. ``changes``: rows of
    ``trends.around`` for one score, in the order to draw (top first)."""
    rows = changes.dropna(subset=["change"])
    labels = [f"{g} ({s})" if s != g else str(g) for g, s in zip(rows["group"], rows["source"],
                                                                    strict=True)]
    colors = [MOVED if moved else STILL for moved in rows["moved"]]
    fig = go.Figure(go.Scatter(
        x=rows["change"], y=labels, mode="markers",
        marker=dict(size=11, color=colors, line=dict(width=1, color=[
            source_color(s) for s in rows["source"]])),
        error_x=dict(type="data", symmetric=False, array=(rows["high"] - rows["change"]).tolist(),
                     arrayminus=(rows["change"] - rows["low"]).tolist(), color="#7f8c8d"),
        customdata=rows[["before_n", "after_n", "before_mean", "after_mean"]].to_numpy(),
        hovertemplate="%{y}: %{x:+.2f} points<br>before %{customdata[2]:.2f}"
                      " (n=%{customdata[0]}) → after %{customdata[3]:.2f} (n=%{customdata[1]})"
                      "<extra></extra>", showlegend=False))
    fig.add_vline(x=0, line=dict(color="#555555", width=1))
    fig.update_layout(xaxis_title=f"change after − before (score points; {scale})",
                      yaxis=dict(autorange="reversed"), hovermode="closest")
    return apply(fig, title, height=120 + 34 * max(len(rows), 1))
