"""Summaries: level-2 summaries per source and period, the documents behind them, and
'ask the corpus'. Building summaries is heavy work and only runs from the button.

Untrusted text (summaries, LLM output, passages, titles) is shown with escaped markdown,
st.text or st.dataframe, never as HTML.
"""

import streamlit as st

from analytics.core.settings import get_settings
from analytics.dashboard import actions, auth, loaders
from analytics.dashboard.safe import escape_md
from analytics.dashboard.state import page_start
from analytics.summarize import EXTRACTIVE_LABEL, PERIODS
from analytics.summarize.ask import OFFLINE_LABEL

view, status = page_start("Summaries", "scored", "No scored documents for this topic yet.")
topic = view.topic
settings = get_settings()
offline = settings.score.backend == "offline"
st.caption("Level 2: a summary of the level-1 (per-document) summaries for one source and one "
           "period — main themes, what changed since the previous period, and disagreements "
           "with the other sources. " + (EXTRACTIVE_LABEL if offline else
                                          f"Written by {settings.llm.model}."))

left, right = st.columns(2)
period = left.radio("Period", PERIODS, horizontal=True, key="summary_period")
source = right.selectbox("Source", view.sources, key="summary_source")

with st.expander("Build or refresh summaries", expanded=False):
    st.write(f"Builds {period}ly summaries for the sources selected in the sidebar; periods "
             "whose documents did not change are skipped.")
    if st.button("Build summaries", type="primary", disabled=not auth.can("analyst"),
                 help=auth.why_not("analyst")):
        actions.build_summaries(topic, period, list(view.sources))

summaries = loaders.load_summaries(topic.name, period)
mine = summaries[summaries["source"] == source] if not summaries.empty else summaries
if view.start is not None and not mine.empty:
    start = mine["period_start"].map(lambda t: t.date())
    mine = mine[(start >= view.start) & (start <= view.end)]

if mine.empty:
    st.info(f"No {period}ly summary for {source} yet: press **Build summaries** above, or run "
            f"`python -m analytics summarize --period {period}`.")
else:
    labels = {f"{row.period_start:%Y-%m-%d} → {row.period_end:%Y-%m-%d} "
              f"({row.documents} documents)": row.id for row in mine.iloc[::-1].itertuples()}
    chosen = st.selectbox("Period", list(labels), key="summary_choice")
    detail = loaders.load_summary_detail(labels[chosen], topic.name)
    meta = detail["meta"]
    st.subheader(f"{source} · {chosen}")
    if meta.get("method") == "extractive":
        st.info(EXTRACTIVE_LABEL, icon=":material/format_quote:")
    else:
        st.caption(f"{meta.get('label', '')} · {meta.get('calls', 0)} call(s), "
                   f"${meta.get('cost_usd', 0):.4f}")
    st.markdown("**Main themes:** " + escape_md("; ".join(meta.get("themes", [])) or "—"))
    st.markdown("**Summary**")
    st.markdown(escape_md(meta.get("summary", "")))
    st.markdown("**What changed since the previous period**")
    st.markdown(escape_md(meta.get("changes", "")))
    st.markdown("**Disagreements with other sources**")
    st.markdown(escape_md(meta.get("disagreements", "")))

    st.markdown("**Documents behind this summary** (select a row to read it)")
    picked = st.dataframe(detail["documents"], hide_index=True, width="stretch",
                          on_select="rerun", selection_mode="single-row", key="summary_docs")
    rows = picked.selection.rows if picked else []
    if rows:
        document = loaders.load_document_detail(int(detail["documents"].iloc[rows[0]]["id"]))
        if document:
            doc = document["document"]
            st.markdown(f"**{escape_md(doc['title'])}** · {doc['source']} · "
                        f"{doc['published_at']:%Y-%m-%d}")
            st.text(doc["text"])
            if document["analysis"]:
                st.caption("Level-1 summary: " + escape_md(document["analysis"]["summary"]))

st.divider()
st.subheader("Ask the corpus")
st.caption("Finds the passages most similar to your question (MiniLM embeddings of the stored "
           "chunks, within the sidebar's window and sources). " + (
               OFFLINE_LABEL if offline else
               f"{settings.llm.model} then answers from those passages only, with citations."))
with st.form("ask"):
    question = st.text_input("Question", placeholder="Do commenters trust Article 5?")
    asked = st.form_submit_button("Ask", disabled=not auth.can("analyst"),
                                  help=auth.why_not("analyst"))
if asked and question.strip():
    index = loaders.chunk_index(topic.name, view.sources, view.start, view.end)
    answer = actions.ask_corpus(topic, question, index)
    if answer is None:
        st.stop()
    if answer.passages.empty:
        st.warning("No embedded passages in this window: score documents first "
                   "(`python -m analytics score`).")
    else:
        st.caption(answer.label)
        if answer.answer:
            st.markdown(escape_md(answer.answer))
            st.caption("Cited documents: " + (", ".join(
                f"doc {i}" for i in answer.cited_document_ids) or "none"))
        for rank, hit in enumerate(answer.passages.itertuples(), start=1):
            with st.container(border=True):
                head, action = st.columns([5, 1])
                head.markdown(f"**{rank}. {escape_md(hit.title or '(untitled)')}** · "
                              f"{escape_md(hit.source)} · {hit.published_at:%Y-%m-%d} · "
                              f"{hit.kind} passage · similarity {hit.similarity:.2f}")
                if action.button("Open document", key=f"ask_open_{hit.document_id}_{rank}"):
                    st.switch_page("pages/documents.py", query_params={
                        **view.params(), "doc": str(int(hit.document_id))})
                st.text(hit.text)
