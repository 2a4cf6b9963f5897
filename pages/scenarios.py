"""Scenarios: the fitted opinion dynamics (neural ODE), its hold-out skill, what-if runs."""

import datetime as dt

import streamlit as st

from analytics.charts import dynamics as charts
from analytics.core.settings import get_settings
from analytics.dashboard import actions, auth, badges, loaders
from analytics.dashboard.safe import escape_md
from analytics.dashboard.state import page_start
from analytics.dynamics import (
    DriverChange,
    DynamicsConfig,
    Scenario,
    ScenarioError,
    ScenarioShock,
    present,
    readout_sentences,
    scenarios_dir,
)

view, status = page_start("Scenarios", "scored",
                          "Nothing is scored yet, so there is no opinion series to model.")
st.caption("Opinion dynamics: each score follows a relaxation toward an equilibrium plus a small "
           "neural network of the scores and the drivers (document volume per source, the "
           "topic's dated events), integrated with torchdiffeq. It uses every source and date "
           "of the topic: the sidebar's window and source filters do not apply here.")

settings = get_settings()
config = DynamicsConfig.from_settings(settings)
fit, older = loaders.dynamics_fit(view.topic.name, config.model_dump_json())

if st.button("Fit dynamics model", type="primary" if fit is None else "secondary",
             disabled=not auth.can("analyst"), help=auth.why_not("analyst") or
             "Trains the validation and the production ensembles (seconds to a minute)."):
    if actions.fit_dynamics(view.topic) is not None:
        st.rerun()
    st.stop()

if fit is None and older is None:
    st.info("No fitted dynamics model for this topic yet. Press **Fit dynamics model** above "
            "or run `python -m analytics scenarios fit`.")
    st.stop()
if fit is None:
    st.warning(f"The data changed since the last fit ({older.meta['created_at']}); showing that "
               "fit. Press **Fit dynamics model** to refit on the current data.")
    fit = older

meta = fit.meta
st.caption(f"Fit {meta['key']} · {meta['created_at']} · version {meta['software_version']} · "
           f"{ {'day': 'daily', 'week': 'weekly'}[fit.series.resolution]} series, "
           f"{fit.series.n_periods} periods, "
           f"{fit.n_train} for training · ensemble of {fit.config.ensemble_size} · "
           f"{fit.config.solver} solver · {meta['fit_seconds']} s")
st.plotly_chart(charts.fit_figure(fit, present.holdout_baselines(fit),
                                  events=loaders.topic_events(view.topic.name)),
                width="stretch")
badges.agreement_badges(view.topic)  # the model learns from these scores: how good are they

st.subheader("Hold-out skill against simple baselines")
if not fit.skill:
    st.info("No hold-out was kept (ANALYTICS_DYNAMICS_HOLDOUT_FRACTION = 0), so the model is "
            "not validated.")
else:
    st.dataframe(present.skill_frame(fit), hide_index=True, width="stretch")
    for ok, sentence in present.verdicts(fit):
        (st.success if ok else st.warning)(sentence)

st.subheader("What the model says")
for sentence in present.model_sentences(fit):
    st.markdown(f"- {sentence}")
with st.expander("Model parameters"):
    st.dataframe(present.parameters_frame(fit), hide_index=True, width="stretch")

st.subheader("Scenario builder")
series = fit.series
first = series.end + dt.timedelta(days=series.period_days)
left, right = st.columns(2)
name = left.text_input("Scenario name", "My scenario", max_chars=80)
horizon = right.slider("Horizon (days after the data)", 14, 365, 90, step=7)
last = series.end + dt.timedelta(days=horizon)
shocks, changes = [], []
left, right = st.columns(2)
with left:
    st.markdown("**Shocks** (a sudden change of one score)")
    for i in range(int(st.number_input("Number of shocks", 0, 5, 1, key="n_shocks"))):
        a, b, c = st.columns(3)
        day = a.date_input("Date", min(first + dt.timedelta(days=7), last), first, last,
                           key=f"shock_day_{i}")
        score = b.selectbox("Score", series.score_keys, key=f"shock_score_{i}",
                            format_func=dict(zip(series.score_keys, series.score_labels,
                                                 strict=True)).get)
        size = c.slider("Size (points)", -3.0, 3.0, -1.0, 0.1, key=f"shock_size_{i}")
        shocks.append(ScenarioShock(date=day, score=score, size=size))
with right:
    st.markdown("**Driver changes** (document volume × factor)")
    for i in range(int(st.number_input("Number of driver changes", 0, 5, 0, key="n_changes"))):
        a, b, c, d = st.columns(4)
        source = a.selectbox("Source", ["all", *series.sources], key=f"change_source_{i}")
        start = b.date_input("From", first, first, last, key=f"change_start_{i}")
        days = c.slider("Days", 1, horizon, min(30, horizon), key=f"change_days_{i}")
        factor = d.slider("Factor", 0.0, 3.0, 1.5, 0.05, key=f"change_factor_{i}")
        changes.append(DriverChange(source=source, start=start, days=days, factor=factor))
scenario = Scenario(name=name.strip() or "My scenario", horizon_days=horizon, shocks=shocks,
                    driver_changes=changes)
saved = loaders.saved_scenarios(view.topic.name)
left, right = st.columns([1, 2])
if left.button("Save scenario"):
    path = scenario.save(scenarios_dir(settings, view.topic.name) / f"{scenario.slug}.yaml")
    st.toast(f"Saved to {path.name}")
    saved[scenario.name] = scenario
compare = right.multiselect("Compare with saved scenarios",
                            [n for n in saved if n != scenario.name])

runnable = [scenario]
for other in compare:
    runnable.append(saved[other])
try:
    result = loaders.simulate(meta["key"], tuple(s.model_dump_json() for s in runnable), fit)
except ScenarioError as exc:
    st.error(f"{exc} Change the scenario (or drop that saved one from the comparison).")
    st.stop()
st.plotly_chart(charts.scenario_figure(result, fit, events=loaders.topic_events(
    view.topic.name)), width="stretch")
st.markdown("**Readout** (median of the ensemble; the band is the ensemble's spread, not a "
            "forecast interval for single days)")
for shown in runnable:
    st.markdown(f"**{escape_md(shown.name)}**")
    for sentence in readout_sentences(result, shown):
        st.markdown(f"- {escape_md(sentence)}")
