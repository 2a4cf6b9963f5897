"""Sources: configured providers and queries, credentials, run history, quota, run now."""

import streamlit as st

from analytics import ui
from analytics.config import get_settings
from analytics.ingest import overview

view = ui.sidebar()
st.title("Sources")
if view is None:
    st.stop()
settings = get_settings()

st.subheader("Configured sources")
sources = overview.sources_frame(view.topic, settings)
if sources.empty:
    st.warning("The topic file configures no source. Add a `sources:` section to "
               f"`{view.topic.name}.yaml`, then reload.")
else:
    st.dataframe(sources, hide_index=True, width="stretch",
                 column_config={"ready": st.column_config.CheckboxColumn("ready")})
    st.caption("Keys come from the environment, `.env` or `.streamlit/secrets.toml` "
               "(see docs/INGESTION.md); they are never shown or stored.")

quota = overview.quota_today(settings)
st.metric("YouTube quota used today (Pacific day)", f"{quota['used']:,} / {quota['budget']:,} units")

st.subheader("Run ingestion now")
job = st.session_state.get("ingest_job")
ready = [] if sources.empty else sources.loc[sources["ready"], "provider"].tolist()
chosen = st.multiselect("Providers", ready, default=ready, key="ingest_providers",
                        help="Each runs for the window since its last successful run.")
running = job is not None and not job.done
if st.button("Run ingestion now", disabled=running or not chosen, type="primary"):
    st.session_state["ingest_job"] = overview.IngestJob(view.topic, settings, chosen).start()
    st.rerun()


@st.fragment(run_every=1.0)
def progress() -> None:
    current = st.session_state.get("ingest_job")
    if current is None:
        return
    label = (f"Ingesting… {current.documents:,} documents stored" if not current.done
             else f"Ingestion finished: {current.documents:,} documents stored")
    state = "running" if not current.done else ("error" if current.error else "complete")
    with st.status(label, state=state, expanded=not current.done):
        for line in current.lines[-30:]:
            st.text(line)
        if current.error:
            st.error(current.error)
    if current.done and not st.session_state.get("ingest_job_seen"):
        st.session_state["ingest_job_seen"] = True
        st.cache_data.clear()
        st.rerun(scope="app")


if job is not None:
    if running:
        st.session_state["ingest_job_seen"] = False
    progress()
    st.caption("Score the new documents with `python -m analytics score` (the scheduled run "
               "does it by itself).")

st.subheader("Run history")
runs = overview.ingest_runs(settings, view.topic.name)
if runs.empty:
    st.info("No ingestion run yet. Use the button above or run "
            "`python -m analytics ingest --source gdelt`.")
else:
    st.dataframe(runs, hide_index=True, width="stretch")
