"""The product's plotly template and colour assignments."""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

SOURCE_COLORS = {"news": "#1f77b4", "youtube": "#d62728", "reddit": "#ff7f0e", "all": "#444444"}
SCORE_COLORS = ["#2a9d8f", "#6a4c93", "#e76f51", "#264653", "#8ab17d", "#b5838d"]
TRUTH_COLOR = "#111111"
# Below the plot: above it, a wrapped legend covers the title on narrow screens.
BOTTOM_LEGEND = dict(orientation="h", yanchor="top", y=-0.08, xanchor="left", x=0)

TEMPLATE = go.layout.Template(pio.templates["plotly_white"])
TEMPLATE.layout.update(
    font=dict(family="Inter, Segoe UI, Helvetica, Arial, sans-serif", size=13),
    margin=dict(l=50, r=20, t=70, b=40),
    title=dict(x=0, xanchor="left", y=0.98, yanchor="top", font=dict(size=16)),
    legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1),
    hovermode="x unified",
    colorway=SCORE_COLORS,
)
pio.templates["opinion"] = TEMPLATE
# The default for every figure made after this import: assigning a template to a built
# figure validates and copies all of it again (~75 ms a figure, most of a warm page).
pio.templates.default = "opinion"


def source_color(source: str) -> str:
    return SOURCE_COLORS.get(source, "#7f7f7f")


def score_color(index: int) -> str:
    return SCORE_COLORS[index % len(SCORE_COLORS)]


def apply(fig: go.Figure, title: str | None = None, height: int = 380) -> go.Figure:
    """Title and height; the product's template is already every figure's default."""
    fig.update_layout(title=title, height=height)
    return fig
