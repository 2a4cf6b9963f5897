"""Documents: filter, search, and read one document with its scores, evidence and comments."""

import streamlit as st

from analytics.charts import overview as charts
from analytics.dashboard import loaders
from analytics.dashboard.safe import escape_md, safe_url
from analytics.dashboard.state import empty_state, page_start
from analytics.dashboard.tables import documents_table, filter_documents

view, status = page_start("Documents")

keys = tuple(view.topic.score_keys)
documents = loaders.load_documents(view.topic.name, view.sources, view.start, view.end)
scored = loaders.load_scored(view.topic.name, keys, view.sources, view.start, view.end)
table = documents_table(documents, scored, keys)

with st.expander("Filter by text and score", expanded=False):
    query = st.text_input("Text search (title and body)", key="doc_search")
    ranges = {}
    score_columns = st.columns(len(view.topic.scores))
    for column, score in zip(score_columns, view.topic.scores, strict=True):
        ranges[score.key] = column.slider(score.label, 0.0, 10.0, (0.0, 10.0), 0.5,
                                          key=f"range_{score.key}")
    only_scored = st.checkbox("Only documents that address every score", value=False)
hits = loaders.search_ids(view.topic.name, query) if query.strip() else None
table = filter_documents(table, hits, ranges, only_scored)

st.caption(f"{len(table):,} documents · {view.label}")
if table.empty:
    st.warning("No document matches these filters.")
    st.stop()
event = st.dataframe(
    table, hide_index=True, width="stretch", height=360, on_select="rerun",
    selection_mode="single-row",
    column_config={"url": st.column_config.LinkColumn("link"),
                   "published_at": st.column_config.DatetimeColumn(
                       "published", format="YYYY-MM-DD HH:mm"),
                   "n_comments": st.column_config.NumberColumn("comments"),
                   **{k: st.column_config.NumberColumn(k, format="%.1f") for k in keys}},
)
selected = event.selection.rows if event and event.selection else []
if selected:
    st.query_params["doc"] = str(int(table.iloc[selected[0]]["id"]))
requested = st.query_params.get("doc", "")
document_id = int(requested) if requested.isdigit() else int(table.iloc[0]["id"])

detail = loaders.load_document_detail(document_id)
if detail is None:
    st.warning("That document no longer exists.")
    st.stop()
doc, analysis = detail["document"], detail["analysis"]
st.divider()
st.subheader(escape_md(doc["title"] or "(untitled)"))
st.caption(escape_md(f"{doc['source']} · {doc['provider']} · "
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
            with st.expander(f"{score.label}: evidence"):
                st.text((analysis["rationale"] or {}).get(score.key, ""))
                for passage in detail["evidence"].get(score.key, []):
                    st.text("› " + passage)
comments = detail["comments"]
st.markdown(f"**Comments** ({len(comments)})")
if comments.empty:
    st.caption("No comments.")
else:
    st.dataframe(comments, hide_index=True, width="stretch")
