"""Overview: volume per source, the daily mean of each score with the topic's events (click
a marker for what changed, select days to read their documents), which outlets moved around
an event, distributions, and the last runs."""

import datetime as dt

import streamlit as st

from analytics.charts import overview as charts
from analytics.dashboard import badges, loaders, panels
from analytics.dashboard.clicks import time_chart
from analytics.dashboard.safe import escape_md
from analytics.dashboard.state import empty_state, go_to_event, page_start

view, status = page_start("Overview")

st.caption(view.label)
documents = loaders.view_documents(view)
scored = loaders.view_scored(view)
backends = status["backends"]
pending = max(status["counts"]["documents"] - status["counts"]["scored"], 0)
not_scorable = scored["id"].isin(list(loaders.unscored_documents(view.topic.name)))
columns = st.columns(4)
columns[0].metric("Documents", f"{len(documents):,}")
columns[1].metric("Scored", f"{int((~not_scorable).sum()):,}",
                  help=f"Documents in this view with scores. Of the topic, {pending:,} "
                       "document(s) have no analysis yet; those the scorer could not read are "
                       "counted below.")
columns[2].metric("Comments", f"{int(documents['n_comments'].sum()):,}")
columns[3].metric("Scoring backend", ", ".join(sorted(backends["backend"].unique())) or "—")
reasons = loaders.unscored_reasons(view.topic.name)
if not reasons.empty:
    st.info(f"{int(reasons['documents'].sum()):,} document(s) could not be scored: "
            + "; ".join(f"{row.documents:,} — {row.reason}" for row in reasons.itertuples())
            + ". The offline scorers read English only; the LLM backend scores any language.")

if documents.empty:
    st.warning("No documents in this view. Widen the period, sources or outlets in the "
               "sidebar.")
    st.stop()
events = loaders.topic_events(view.topic.name)
if view.start is not None:
    events = events[(events["date"] >= view.start) & (events["date"] <= view.end)]
time_chart(charts.monthly_volume(loaders.monthly_counts(documents), events),
           key="select_volume", bar_period="month")
if scored.empty:
    empty_state("Nothing is scored yet.", "python -m analytics score")
    st.stop()
truth = loaders.load_truth(view.topic.name) if status["is_demo"] else None
if truth is not None and view.start is not None:
    truth = truth[truth["day"].dt.date.between(view.start, view.end)]
daily = loaders.view_daily(view, view.topic.score_keys)
st.caption("Click an event marker (▼) to see what changed around it; select days (click or "
           "drag a box) to read their documents.")
time_chart(charts.daily_means(daily, view.topic, truth, events=events), key="select_daily")
badges.agreement_badges(view.topic)
headlines = loaders.cached_headlines(view)
if headlines:
    st.subheader("Trend headlines")
    for line in headlines:
        st.markdown(f"- {escape_md(line.sentence)}")

st.subheader("Which outlets moved")
if events.empty:
    default_day = view.end - dt.timedelta(days=30) if view.end else None
else:
    default_day = events["date"].iloc[-1]
left, right = st.columns([2, 3])
day = left.date_input("Compare the two weeks before and after", default_day or
                      scored["published_at"].max().date(), key="overview_compare_day")
label = dict(zip(events["date"].astype(str), events["label"], strict=False)).get(str(day))
if label:
    right.markdown(f"Event: **{escape_md(label)}**")
if right.button("Open the event view", key="overview_open_event"):
    go_to_event(day)
change = loaders.around(view.topic.name, view.sources, view.outlets, day, 14)
score_key = st.radio("Score", view.topic.score_keys, format_func=view.topic.score_labels.get,
                     horizontal=True, key="overview_score")
score = view.topic.score(score_key)
panels.outlet_changes(
    change.by_outlet[change.by_outlet["score"] == score_key].head(12),
    f"{score.label}: change per outlet around {day:%d %b %Y} (95% intervals)", score.scale,
    key="overview_outlets")

st.plotly_chart(charts.score_distributions(scored, view.topic), width="stretch")
st.subheader("Last runs")
runs = status["runs"].assign(counts=lambda f: f["counts"].astype(str))
st.dataframe(runs, hide_index=True, width="stretch")
