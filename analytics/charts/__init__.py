"""Plotly figure builders shared by pages and reports, with one look for the whole product.

One template, one colour per source and per score, used everywhere. Feature modules add
their builders in this package (``charts.trends``, ``charts.dynamics``, ...) and import
the theme from here.
"""

from analytics.charts.theme import (
    SCORE_COLORS,
    SOURCE_COLORS,
    TEMPLATE,
    score_color,
    source_color,
)

__all__ = ["SCORE_COLORS", "SOURCE_COLORS", "TEMPLATE", "score_color", "source_color"]
