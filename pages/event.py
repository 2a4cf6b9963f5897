"""Event view: what changed around a date — before and after per score, source and outlet
(with intervals), the outlets that moved, the documents that moved the mean most, and the
summaries of those weeks. Reached from any event marker, or pick a date here."""

import datetime as dt

import streamlit as st

from analytics.charts import overview as charts
from analytics.dashboard import actions, auth, badges, loaders, panels
from analytics.dashboard.clicks import time_chart
from analytics.dashboard.safe import escape_md
from analytics.dashboard.state import go_to_documents, page_start

view, status = page_start("What changed around a date", "scored",
                          "Nothing is scored yet, so nothing can change.")
events = loaders.topic_events(view.topic.name)
labels = {str(row.date): row.label for row in events.itertuples()}
bounds = loaders.date_range(view.topic.name)
requested = st.query_params.get("date", "")
try:
    default = dt.date.fromisoformat(requested) if requested else None
except ValueError:
    st.toast("The link's date was not a date; showing the topic's latest event.")
    default = None
if default is None:
    default = events["date"].iloc[-1] if not events.empty else bounds[1]

left, middle, right = st.columns([2, 3, 2])
day = left.date_input("Date", default, min_value=bounds[0], max_value=bounds[1], key="event_day")
if events.empty:
    middle.caption("The topic has no dated events yet; add one below.")
else:
    pick = middle.selectbox("…or one of the topic's events", ["—", *labels],
                            format_func=lambda d: "—" if d == "—" else f"{d}: {labels[d]}",
                            index=([*labels].index(str(day)) + 1) if str(day) in labels else 0,
                            key="event_pick")
    if pick != "—" and pick != str(day):
        st.query_params["date"] = pick
        del st.session_state["event_day"]
        st.rerun()
days = right.slider("Days before and after", 7, 28, 14, key="event_days")
st.query_params["date"] = str(day)
title = labels.get(str(day))
st.caption((f"**{escape_md(title)}** · " if title else "") + f"{days} days before "
           f"{day:%d %b %Y} vs that day and the {days - 1} after · {view.label}")

change = loaders.around(view.topic.name, view.sources, view.outlets, day, days)
badges.agreement_badges(view.topic)
overall = change.overall.set_index("score")
columns = st.columns(len(view.topic.scores))
for column, score in zip(columns, view.topic.scores, strict=True):
    row = overall.loc[score.key]
    if row["change"] != row["change"]:  # NaN: too few documents
        column.metric(score.label, "—", help="Too few documents on one side of the date.")
        continue
    column.metric(score.label, f"{row['after_mean']:.2f}", f"{row['change']:+.2f} points",
                  help=f"Before {row['before_mean']:.2f} (n={row['before_n']}), after "
                       f"{row['after_mean']:.2f} (n={row['after_n']}); 95% interval of the "
                       f"change {row['low']:+.2f} to {row['high']:+.2f}. {score.scale}.")

moved = overall["change"].abs() / (overall["high"] - overall["low"]).replace(0, float("nan"))
best = moved.idxmax() if moved.notna().any() else view.topic.score_keys[0]
score_key = st.radio("Score", view.topic.score_keys, index=view.topic.score_keys.index(best),
                     format_func=view.topic.score_labels.get, horizontal=True, key="event_score")
score = view.topic.score(score_key)

st.subheader("Which outlets moved")
outlets = change.by_outlet[change.by_outlet["score"] == score_key]
movers = change.movers(score_key)
if movers.empty:
    st.info("No outlet's change is clear enough (95% interval excluding zero, at least 3 "
            "documents on each side).")
else:
    st.markdown("Moved in the direction of the overall change: " + ", ".join(
        f"**{escape_md(r.group)}** ({r.change:+.2f})" for r in movers.itertuples()))
panels.outlet_changes(outlets.head(20), f"{score.label}: change per outlet (95% intervals)",
                      score.scale, key="outlet_changes")
with st.expander("All outlets and sources, with counts"):
    table = change.by_outlet[change.by_outlet["score"] == score_key]
    st.dataframe(table.drop(columns=["score"]), hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%+.2f" if c in (
                     "change", "low", "high") else "%.2f") for c in
                     ("before_mean", "after_mean", "change", "low", "high")})
    st.dataframe(change.by_source[change.by_source["score"] == score_key].drop(
        columns=["score", "source"]), hide_index=True, width="stretch")

st.subheader("The documents that moved the mean most")
top = change.documents[change.documents["score"] == score_key]
if top.empty:
    st.caption("No scored document after the date.")
else:
    picked = st.dataframe(
        top.drop(columns=["score"]), hide_index=True, width="stretch", on_select="rerun",
        selection_mode="single-row", key="select_event_docs",
        column_config={"value": st.column_config.NumberColumn(score.label, format="%.1f"),
                       "contribution": st.column_config.NumberColumn(
                           "pull on the mean", format="%+.3f"),
                       "published_at": st.column_config.DatetimeColumn(
                           "published", format="YYYY-MM-DD")})
    rows = picked.selection.rows if picked and picked.selection else []
    if rows:
        st.switch_page("pages/documents.py", query_params={
            **view.params(), "doc": str(int(top.iloc[rows[0]]["id"]))})
if st.button(f"Read all documents of {day:%d %b} – {day + dt.timedelta(days=days - 1):%d %b}",
             type="primary"):
    go_to_documents(day, day + dt.timedelta(days=days - 1))

st.subheader("Around the date")
scored = loaders.view_scored(view)
near = scored[(scored["published_at"].dt.date >= day - dt.timedelta(days=3 * days))
              & (scored["published_at"].dt.date <= day + dt.timedelta(days=3 * days))]
nearby_events = events[(events["date"] >= day - dt.timedelta(days=3 * days))
                       & (events["date"] <= day + dt.timedelta(days=3 * days))]
time_chart(charts.daily_means(loaders.daily_scores(near, view.topic.score_keys), view.topic,
                              events=nearby_events), key="select_event_daily")

st.subheader("Summaries of those weeks")
summaries = loaders.load_summaries(view.topic.name, "week")
if not summaries.empty:
    starts = summaries["period_start"].map(lambda t: t.date())
    summaries = summaries[(starts >= day - dt.timedelta(days=days + 6))
                          & (starts <= day + dt.timedelta(days=days))
                          & summaries["source"].isin(view.sources)]
if summaries.empty:
    st.caption("No weekly summary covers these weeks yet (Summaries page, or "
               "`python -m analytics summarize --period week`).")
for row in summaries.itertuples():
    with st.expander(f"{row.source} · week of {row.period_start:%d %b %Y} ({row.documents} "
                     "documents)"):
        st.text(row.text)

with st.expander("Add an event to this topic"), st.form("add_event"):
    when = st.date_input("Date", day, key="new_event_day")
    what = st.text_input("What happened", max_chars=200, key="new_event_label")
    who = st.text_input("Your name", max_chars=80, key="new_event_by")
    if st.form_submit_button("Add event", disabled=not auth.can("analyst"),
                             help=auth.why_not("analyst")) \
            and actions.add_event(view.topic, when, what, who):
        st.rerun()
