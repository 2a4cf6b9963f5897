"""Page sections used on more than one page."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics.charts import changes as change_charts
from analytics.trends.around import MIN_DOCUMENTS


def outlet_changes(changes: pd.DataFrame, title: str, scale: str, key: str) -> None:
    """The change per outlet around a date (``trends.around`` rows of one score) as a chart,
    or, when no outlet has enough documents on both sides, a line that says so (an empty
    chart would read as 'nothing moved')."""
    measured = changes.dropna(subset=["change"])
    if measured.empty:
        st.caption(f"No outlet has at least {MIN_DOCUMENTS} scored documents on each side of "
                   "the date, so no change per outlet can be measured here; widen the days "
                   "before and after, or the sources.")
        return
    st.plotly_chart(change_charts.group_changes(measured, title, scale), width="stretch",
                    key=key)
