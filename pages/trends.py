"""Trends: each score's trend in the form its data choose (a straight line, or turning
points and shocks dated to the day), with its uncertainty, the events on it, per source.

Missing fits are fitted here, with progress (the event form takes seconds; the straight
line compiles once per process — a background warm-up at start usually has done it).
"""

import streamlit as st

from analytics import trends
from analytics.charts import trends as charts
from analytics.dashboard import actions, auth, badges, loaders
from analytics.dashboard.clicks import time_chart
from analytics.dashboard.safe import escape_md
from analytics.dashboard.state import page_start
from analytics.report import headline

FORM_CHOICES = {"auto": "chosen by the data", "linear": "straight line",
                "events": "turning points and shocks"}

view, status = page_start("Trends", "scored",
                          "Nothing is scored yet, so there is no trend to fit.")
labels = view.topic.score_labels
controls = st.columns([3, 2])
# One score by default: each score adds a fit, three charts' worth of browser work and a
# screenful; an analyst adds the others to compare them (Overview shows all at a glance).
chosen = controls[0].multiselect("Scores", list(labels), default=list(labels)[:1],
                                 format_func=labels.get, key="trend_scores",
                                 help="Add scores to see their trends one under the other "
                                      "and side by side per source.")
form = controls[1].radio("Trend form", list(FORM_CHOICES), horizontal=True, key="trend_form",
                         format_func=FORM_CHOICES.get,
                         help="By default the data choose: turning points and shocks are shown "
                              "only when they predict held-out documents better than a "
                              "straight line (leave-one-out cross-validation).")
switches = st.container(horizontal=True)  # its own row: readable at 800 px too
per_source = switches.toggle("Per source", value=False, key="trend_per_source")
# Off by default: the metrics state the change and its interval; each extra chart costs the
# browser a few hundred milliseconds, and this page already draws one per score.
densities = switches.toggle("Change posteriors", value=False, key="trend_densities",
                               help="Draw each score's posterior of the change over the window.")
st.caption(view.label)
if not chosen:
    st.info("Pick at least one score above.")
    st.stop()

views = loaders.trend_view(view.topic.name, tuple(chosen), view.sources, view.start, view.end)
scored = loaders.view_scored(view)
attempted = st.session_state.setdefault("_trend_fits_tried", set())
needed = [key for key, trend in views.items()
          if (trend.shown(form) is None or (form == "auto" and trend.choice is None))
          and scored[key].notna().sum() >= trends.MIN_DOCUMENTS
          and (view.signature, key, form) not in attempted]
refit = st.button("Refit now", disabled=not auth.can("analyst"),
                  help=auth.why_not("analyst") or "Fit again, ignoring the cached fits.")
if needed or refit:
    attempted.update((view.signature, key, form) for key in needed)
    forms = list(trends.FORMS) if form == "auto" else [form]
    if actions.fit_trends(view.topic, needed or chosen, forms, view.sources, view.start,
                          view.end, force=refit and not needed) is not None:
        st.rerun()
    st.stop()

truth = loaders.load_truth(view.topic.name) if status["is_demo"] else None
events = loaders.topic_events(view.topic.name)
if view.start is not None:
    events = events[(events["date"] >= view.start) & (events["date"] <= view.end)]
daily = loaders.view_daily(view, chosen, by_source=per_source)
shown = {}
evidence = loaders.headline_evidence(view.topic.name)
for key in chosen:
    trend = views[key]
    fit = trend.shown(form)
    if fit is None:
        st.subheader(labels[key])
        st.info("Too few scored documents in this view for a trend (at least "
                f"{trends.MIN_DOCUMENTS} are needed).")
        continue
    shown[key] = fit
    score = view.topic.score(key)
    st.subheader(score.label)
    badges.agreement_badge(view.topic, key)
    reason = trend.choice.reason if trend.choice and form == "auto" else None
    line = headline(score, fit, evidence.get(key), form_reason=reason)
    st.markdown(escape_md(line.sentence))
    if line.validation is not None and line.validation.poor:
        st.warning("The figures and chart below are the machine scores' own. Their agreement "
                   "with human coding is poor, so do not report them as the trend; see the "
                   "sentence above and the Validation page.", icon=":material/warning:")
    change = fit.change()
    cols = st.columns(4)
    # Short values: four metrics share a narrow (800 px) main column without truncation.
    cols[0].metric("Change (points)", f"{change['mean']:+.1f}",
                   help=f"From {fit.start} to {fit.end}; 94% HDI {change['hdi_low']:+.1f} to "
                        f"{change['hdi_high']:+.1f}. Score scale: {score.scale}.")
    cols[1].metric("P(decline)", f"{fit.p_decline:.0%}",
                   help="Posterior probability that the trend ends the window lower than it "
                        "started.")
    if line.slope is not None:  # windows of most of a year only
        cols[2].metric("Trend (points/yr)", f"{line.slope:+.2f}",
                       help="Slope of the trend without the dated events' effects.")
    else:
        cols[2].metric("Documents", f"{fit.n_documents:,}")
    short = {"linear": "line", "events": "shocks"}.get(fit.form, fit.form)
    cols[3].metric("Form", short, help=f"{fit.form_label}: {reason or 'picked above'}.")
    if reason:
        st.caption(reason)
    if fit.stale:
        st.info(f"This fit dates from {fit.created_at}; the data in this view have changed "
                "since. Press Refit now for an up-to-date fit.")
    score_daily = daily[daily["score"] == key]
    score_truth = None
    if truth is not None:
        score_truth = truth[truth["score"] == key]
        score_truth = score_truth[(score_truth["day"].dt.date >= fit.start)
                                  & (score_truth["day"].dt.date <= fit.end)]
    time_chart(charts.trend_figure(fit, score_daily, per_source, score_truth,
                                   title=f"{score.label}: trend, 94% credible band",
                                   scale=score.scale, events=events),
               key=f"select_trend_{key}")
    left, right = st.columns([2, 3]) if densities else (None, st.container())
    if densities:
        left.plotly_chart(charts.change_density(fit), width="stretch", key=f"change_{key}")
    found = fit.detected_changes()
    with right:
        if found.empty:
            st.markdown("**No dated event** is certain enough to report in this form.")
        else:
            st.markdown("**Dated events** (each event's day has its own posterior)")
            # A static table: a handful of rows, and far lighter for the browser than a grid.
            st.table(charts.dated_events_table(found), border="horizontal")
        st.caption("An event that is not reported is not proof of no change: a shift smaller "
                   "than about half a point in these scores is often missed. The offline "
                   "scorer compresses the scale (on the demo, a 1-point change of opinion "
                   "moves its Article 5 scores by about a third of a point).")
    with st.expander("Model, diagnostics and how this fit was made"):
        (st.success if fit.diagnostics.ok else st.warning)(fit.diagnostics.plain_words())
        for explanation in fit.explain():
            st.markdown(f"- {explanation}")
        if fit.loo:
            st.caption(f"Leave-one-out predictive density: elpd {fit.loo['elpd']:.1f} ± "
                       f"{fit.loo['se']:.1f} over {fit.loo['n']:,} documents (largest Pareto "
                       f"k {fit.loo['k_max']:.2f}).")
        st.table(charts.diagnostics_table(fit).set_index("parameter"), border="horizontal")

if len(shown) > 1:
    st.subheader("Per-source comparison")
    st.plotly_chart(charts.source_comparison(shown), width="stretch", key="sources_all")
