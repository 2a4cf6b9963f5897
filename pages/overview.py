"""Overview: volume per source, daily mean of each score (vs demo truth), distributions, runs."""

import streamlit as st

from analytics.charts import overview as charts
from analytics.dashboard import loaders
from analytics.dashboard.state import empty_state, page_start
from analytics.store import queries

view, status = page_start("Overview")

st.caption(view.label)
documents = loaders.load_documents(view.topic.name, view.sources, view.start, view.end)
scored = loaders.load_scored(view.topic.name, tuple(view.topic.score_keys), view.sources,
                             view.start, view.end)
backends = status["backends"]
columns = st.columns(4)
columns[0].metric("Documents", f"{len(documents):,}")
columns[1].metric("Scored", f"{len(scored):,}")
columns[2].metric("Comments", f"{int(documents['n_comments'].sum()):,}")
columns[3].metric("Scoring backend", ", ".join(sorted(backends["backend"].unique())) or "—")

if documents.empty:
    st.warning("No documents in this window and these sources. Widen the filters in the sidebar.")
    st.stop()
st.plotly_chart(charts.monthly_volume(queries.monthly_counts(documents)), width="stretch")
if scored.empty:
    empty_state("Nothing is scored yet.", "python -m analytics score")
    st.stop()
truth = loaders.load_truth(view.topic.name) if status["is_demo"] else None
daily = queries.daily_scores(scored, view.topic.score_keys)
st.plotly_chart(charts.daily_means(daily, view.topic, truth), width="stretch")
st.plotly_chart(charts.score_distributions(scored, view.topic), width="stretch")

st.subheader("Last runs")
runs = status["runs"].assign(counts=lambda f: f["counts"].astype(str))
st.dataframe(runs, hide_index=True, width="stretch")
