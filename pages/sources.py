"""Sources: configured providers and queries, credentials, run history, quota, run now."""

import streamlit as st

from analytics.core.settings import get_settings
from analytics.dashboard import actions, auth, loaders
from analytics.dashboard.state import current_view
from analytics.pipeline.sources import ingestion_job, scoring_estimate, scoring_job

view = current_view()
st.title("Sources")
if view is None:
    st.stop()
settings = get_settings()
data = loaders.sources_view(view.topic)

st.subheader("Configured sources")
sources = data["sources"]
if sources.empty:
    st.warning("The topic file configures no source. Add a `sources:` section to "
               f"`{view.topic.name}.yaml`, then reload.")
else:
    st.dataframe(sources, hide_index=True, width="stretch",
                 column_config={"ready": st.column_config.CheckboxColumn("ready")})
    st.caption("Keys come from the environment, `.env` or `.streamlit/secrets.toml` "
               "(see docs/INGESTION.md); they are never shown or stored.")

quota = data["quota"]
st.metric("YouTube quota used today (Pacific day)",
          f"{quota['used']:,} / {quota['budget']:,} units")

st.subheader("Run ingestion now")
job = ingestion_job(view.topic, settings)
ready = [] if sources.empty else sources.loc[sources["ready"], "provider"].tolist()
chosen = st.multiselect("Providers", ready, default=ready, key="ingest_providers",
                        help="Each runs for the window since its last successful run.")
running = job is not None and not job.done
if st.button("Run ingestion now", disabled=running or not chosen or not auth.can("admin"),
             type="primary", help=auth.why_not("admin")) \
        and actions.start_ingestion(view.topic, chosen) is not None:
    st.session_state["ingest_job_seen"] = False
    st.rerun()


@st.fragment(run_every=1.0)
def progress() -> None:
    current = ingestion_job(view.topic, settings)
    if current is None:
        return
    update = current.progress
    if not current.done:
        label, state = "Ingesting… " + (update.text() if update else ""), "running"
    elif current.error:
        label, state = "Ingestion failed", "error"
    else:
        label, state = f"Ingestion finished: {current.result}", "complete"
    with st.status(label, state=state, expanded=not current.done or bool(current.error)):
        for line in current.lines[-30:]:
            st.text(line)
        if current.error:
            st.error(current.error)
    if current.done and not st.session_state.get("ingest_job_seen"):
        st.session_state["ingest_job_seen"] = True
        loaders.forget_cached_reads()
        st.rerun(scope="app")


if job is not None:
    progress()
    st.caption("The scheduled run scores new documents by itself; score them now below.")

st.subheader("Score new documents")
scorer = scoring_job(view.topic, settings)
estimate = scoring_estimate(view.topic, settings)
if estimate.documents == 0:
    st.caption("Every document of the topic is scored with the current scorer.")
else:
    cost = ("" if estimate.backend == "offline" else
            f" About {estimate.calls} call(s), estimated ${estimate.cost_usd:.4f} (at most "
            f"${estimate.cost_max_usd:.4f})" + ("" if estimate.price_known else
                                                " — the model's price is unknown") + ".")
    cached = ("" if estimate.cached is None else
              f"; {estimate.cached:,} can be copied from the cache")
    st.markdown(f"{estimate.documents:,} document(s) have no analysis by the current scorer "
                f"({estimate.backend}, {estimate.model}){cached}.{cost}")
    busy = scorer is not None and not scorer.done
    if st.button(f"Score {estimate.documents:,} document(s)",
                 disabled=busy or not auth.can("admin"), help=auth.why_not("admin"),
                 key="score_pending") and actions.start_scoring(view.topic) is not None:
        st.session_state["score_job_seen"] = False
        st.rerun()


@st.fragment(run_every=1.0)
def scoring_progress() -> None:
    current = scoring_job(view.topic, settings)
    if current is None:
        return
    update = current.progress
    if not current.done:
        st.progress(update.fraction or 0.0 if update else 0.0,
                    text="Scoring… " + (update.text() if update else ""))
    elif current.error:
        st.error(f"Scoring failed: {current.error}")
    else:
        st.success(f"Scoring finished: {current.result}")
    if current.done and not st.session_state.get("score_job_seen"):
        st.session_state["score_job_seen"] = True
        loaders.forget_cached_reads()
        st.rerun(scope="app")


if scorer is not None:
    scoring_progress()

st.subheader("Run history")
runs = data["runs"]
if runs.empty:
    st.info("No ingestion run yet. Use the button above or run "
            "`python -m analytics ingest --source gdelt`.")
else:
    st.dataframe(runs, hide_index=True, width="stretch")

if auth.can("admin"):
    with st.expander("Settings in effect (admin)"):
        st.caption("Set through ANALYTICS_* variables, `.env` or `.streamlit/secrets.toml` "
                   "(docs/CONFIGURATION.md), then restart; secrets are left out here.")
        st.json(actions.settings_in_effect() or {}, expanded=1)
