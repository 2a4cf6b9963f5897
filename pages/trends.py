"""Trends: Bayesian trend of each score with its uncertainty, changepoints, per-source view.

The page only reads cached fits (``analytics.trends``); the Refit button samples again
with progress. ``python -m analytics trends`` and the scheduled run refresh the cache.
"""

import streamlit as st

from analytics import trends
from analytics.charts import trends as charts
from analytics.dashboard import actions, loaders
from analytics.dashboard.state import empty_state, page_start
from analytics.store import queries

view, status = page_start("Trends", "scored",
                          "Nothing is scored yet, so there is no trend to fit.")

labels = view.topic.score_labels
controls = st.columns([3, 2, 2])
chosen = controls[0].multiselect("Scores", list(labels), default=list(labels)[:1],
                                 format_func=labels.get, key="trend_scores")
form = controls[1].radio("Trend form", trends.FORMS, horizontal=True, key="trend_form",
                         format_func={"linear": "straight line",
                                      "changepoint": "with turning points"}.get)
per_source = controls[2].toggle("Per source", value=False, key="trend_per_source")
st.caption(view.label)
if not chosen:
    st.info("Pick at least one score above.")
    st.stop()

scored = loaders.load_scored(view.topic.name, tuple(view.topic.score_keys), view.sources,
                             view.start, view.end)
fits = loaders.trend_fits(view.topic.name, tuple(chosen), form, view.sources, view.start,
                          view.end)

if st.button("Refit now", help="Sample the posterior again for the chosen scores and view "
             "(seconds per score once the model is compiled; the first fit compiles it)."):
    if actions.refit_trends(view.topic, chosen, form, view.sources, view.start,
                            view.end) is not None:
        st.rerun()
    st.stop()

missing = [labels[k] for k, fit in fits.items() if fit is None]
if missing:
    empty_state(f"No trend fit yet for {', '.join(missing)} in this view.",
                   f"python -m analytics trends --window {view.window} --form {form}")
fits = {k: fit for k, fit in fits.items() if fit is not None}
if not fits:
    st.stop()

truth = loaders.load_truth(view.topic.name) if status["is_demo"] else None
daily = queries.daily_scores(scored, list(fits), by_source=per_source)
for key, fit in fits.items():
    st.subheader(labels[key])
    if fit.stale:
        st.info(f"This fit dates from {fit.created_at} ({fit.n_documents:,} documents); the "
                "data in this view have changed since. Press Refit for an up-to-date fit.")
    slope = fit.slope()
    cols = st.columns(4)
    cols[0].metric("Slope per year", f"{slope['mean']:+.2f}",
                   help="Posterior mean; the 94% HDI is on the density plot.")
    cols[1].metric("P(decline)", f"{fit.p_decline:.0%}")
    cols[2].metric("Documents", f"{fit.n_documents:,}")
    cols[3].metric("Sampler", "OK" if fit.diagnostics.ok else "check")
    if fit.diagnostics.ok:
        st.success(fit.diagnostics.plain_words())
    else:
        st.warning(fit.diagnostics.plain_words())
    score_daily = daily[daily["score"] == key]
    score_truth = None
    if truth is not None:
        score_truth = truth[truth["score"] == key]
        score_truth = score_truth[(score_truth["day"].dt.date >= fit.start)
                                  & (score_truth["day"].dt.date <= fit.end)]
    st.plotly_chart(charts.trend_figure(fit, score_daily, per_source, score_truth,
                                        title=f"{labels[key]}: trend, 94% credible band"),
                    width="stretch", key=f"trend_{key}")
    left, right = st.columns(2)
    left.plotly_chart(charts.slope_density(fit), width="stretch", key=f"slope_{key}")
    if form == "changepoint":
        right.plotly_chart(charts.changepoint_figure(fit), width="stretch", key=f"cp_{key}")
        changes = fit.detected_changes()
        if changes.empty:
            st.write("No turn in the trend is certain enough to report (each needs a "
                     f"{trends.EVENT_PROBABILITY:.0%} posterior probability of its direction).")
        else:
            st.dataframe(changes[["date", "direction", "p_direction", "date_probability",
                                  "first", "last", "slope_change"]], hide_index=True,
                         width="stretch")
        st.caption("A turn that is not reported is not proof of no change: a shift smaller "
                   "than about half a point in these scores is often missed. The offline "
                   "scorer compresses the scale (on the demo, a 1-point change of opinion "
                   "moves its Article 5 scores by about a third of a point).")
    else:
        right.plotly_chart(charts.source_comparison({key: fit}), width="stretch",
                           key=f"sources_{key}")
    with st.expander("Model, diagnostics and how this fit was made"):
        for line in fit.explain():
            st.markdown(f"- {line}")
        st.dataframe(charts.diagnostics_table(fit), hide_index=True, width="stretch")

if len(fits) > 1:
    st.subheader("Per-source comparison")
    st.plotly_chart(charts.source_comparison(fits), width="stretch", key="sources_all")
