"""Documents: the documents of the view (or of the period a chart click opened), full-text
search, score filters, and one document with its scores, evidence and comments."""


import streamlit as st

from analytics.charts import overview as charts
from analytics.core.errors import UserError
from analytics.core.reasons import stated_reason
from analytics.dashboard import badges, loaders
from analytics.dashboard.safe import document_id_param, escape_md, invalid_param, safe_url
from analytics.dashboard.state import drill_down, empty_state, page_start
from analytics.dashboard.tables import (
    MAX_TABLE_ROWS,
    NOT_ADDRESSED,
    filter_documents,
    score_columns,
    scores_as_text,
)

view, status = page_start("Documents")
keys = tuple(view.topic.score_keys)
table = loaders.view_documents_with_scores(view)

drill = drill_down()
first = table["published_at"].min().date() if not table.empty else view.start
last = table["published_at"].max().date() if not table.empty else view.end
if drill:
    parts = [f"{drill['start']:%d %b %Y} – {drill['end']:%d %b %Y}" if drill["start"] else "",
             drill["source"] or "", drill["outlet"] or ""]
    left, right = st.columns([5, 1])
    left.info("Opened from a chart: " + " · ".join(escape_md(p) for p in parts if p),
              icon=":material/ads_click:")
    if right.button("Show the whole view"):
        del st.query_params["drill"]
        st.rerun()
    if drill["source"]:
        table = table[table["source"] == drill["source"]]
    if drill["outlet"]:
        table = table[table["outlet"] == drill["outlet"]]

with st.expander("Search, period and scores", expanded=not drill):
    query = st.text_input("Search title and text", key="doc_search", help=loaders.SEARCH_HELP,
                          placeholder='e.g. "Article 5" OR "collective defence" -football')
    period = st.date_input(
        "Published between",
        ((drill or {}).get("start") or first, (drill or {}).get("end") or last),
        min_value=first, max_value=last, key=f"doc_period_{first}_{last}_{bool(drill)}")
    ranges = {}
    for column, score in zip(st.columns(len(view.topic.scores)), view.topic.scores, strict=True):
        ranges[score.key] = column.slider(score.label, 0.0, 10.0, (0.0, 10.0), 0.5,
                                          key=f"range_{score.key}", help=score.scale)
    only_scored = st.checkbox("Only documents that address every score", value=False)
hits = None
if query.strip():
    try:
        hits = loaders.search_ids(view.topic.name, query)
    except UserError as exc:
        st.error(str(exc))
        st.stop()
if isinstance(period, tuple) and len(period) == 2 and not table.empty:
    when = table["published_at"].dt.date
    table = table[(when >= period[0]) & (when <= period[1])]
table = filter_documents(table, hits, ranges, only_scored)

shown = table.head(MAX_TABLE_ROWS)  # the browser gets a page, not a 100k-row corpus
st.caption(f"{len(table):,} documents · {view.label}" +
           (" · best matches first" if hits is not None else "") +
           (f" · showing the first {len(shown):,}: narrow the search, period or scores to "
            "see others" if len(shown) < len(table) else ""))
badges.agreement_badges(view.topic)
if table.empty:
    st.warning("No document matches these filters.")
    st.stop()
matching = set(table["id"])
table = shown
event = st.dataframe(
    scores_as_text(table, keys),
    hide_index=True, width="stretch", height=380, on_select="rerun",
    selection_mode="single-row", key="select_documents",
    column_order=["published_at", "source", "outlet", "title", *keys, "n_comments", "lang",
                  "url"],
    column_config={"url": st.column_config.LinkColumn("link", display_text="open"),
                   "published_at": st.column_config.DatetimeColumn(
                       "published", format="YYYY-MM-DD HH:mm"),
                   "n_comments": st.column_config.NumberColumn("comments"),
                   **score_columns(view.topic)},
)
selected = event.selection.rows if event and event.selection else []
if selected:
    st.query_params["doc"] = str(int(table.iloc[selected[0]]["id"]))
requested = st.query_params.get("doc", "")
detail = loaders.load_document_detail(document_id_param(requested)) if requested else None
if requested and detail is None:
    invalid_param("doc", requested, "the first document of the list")
if detail is None:
    detail = loaders.load_document_detail(int(table.iloc[0]["id"]))
elif detail["document"]["id"] not in matching:
    st.caption("The linked document is outside this view's filters; it is shown because the "
               "link asked for it.")
if detail is None:
    st.warning("That document no longer exists.")
    st.stop()
doc, analysis = detail["document"], detail["analysis"]
st.divider()
st.subheader(escape_md(doc["title"] or "(untitled)"))
st.caption(escape_md(f"{doc['source']} · {doc.get('outlet') or doc['provider']} · "
                     f"{doc['published_at']:%Y-%m-%d %H:%M} UTC"
                     f" · {doc['author'] or 'unknown author'}"))
link = safe_url(doc["url"])
if link:
    st.link_button("Open source", link)
left, right = st.columns([3, 2])
with left:
    st.markdown("**Text**")
    st.text(doc["text"])
with right:
    if analysis is None:
        empty_state("This document is not scored yet.", "python -m analytics score")
    else:
        st.markdown(f"**Summary** · {escape_md(analysis['backend'])} · "
                    f"{escape_md(analysis['model'])}")
        st.text(analysis["summary"] or "")
        st.plotly_chart(charts.document_scores(analysis["scores"], view.topic), width="stretch")
        for score in view.topic.scores:
            value = (analysis["scores"] or {}).get(score.key)
            shown = (f"{value:.1f}" if value is not None else stated_reason(
                (analysis["rationale"] or {}).get(score.key)) or NOT_ADDRESSED)
            with st.expander(f"{score.label}: {shown} — evidence"):
                badges.agreement_badge(view.topic, score.key)
                st.caption(score.scale)
                st.text((analysis["rationale"] or {}).get(score.key, ""))
                for passage in detail["evidence"].get(score.key, []):
                    st.text("› " + passage)
comments = detail["comments"]
st.markdown(f"**Comments** ({len(comments)})")
if comments.empty:
    st.caption("No comments.")
else:
    st.dataframe(comments, hide_index=True, width="stretch")
