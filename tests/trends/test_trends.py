"""Bayesian trends: recovery of known truth, robustness, demo shocks, cache, CLI and page.

Small draws keep this fast; the compiled models are reused across tests in one process.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from analytics import trends
from analytics.core.views import SOURCES
from analytics.ingest.providers.demo import NATO_PATHS, truth_parameters
from analytics.store import queries
from tests.conftest import TEST_SEED
from tests.support.paths import ROOT

SMALL = trends.SamplerConfig(draws=400, tune=400, chains=2, seed=7 + TEST_SEED)
START, END = dt.date(2025, 11, 1), dt.date(2026, 10, 31)
OFFSETS = {"news": 0.0, "youtube": -0.4, "reddit": -0.8}


def simulate(n: int, slope: float, seed: int = 0, outliers: int = 0,
             noise: float = 1.2) -> pd.DataFrame:
    """Documents over one year: 6 + slope × years + source offset + N(0, noise) noise."""
    rng = np.random.default_rng(seed + 1000 * TEST_SEED)
    days = rng.uniform(0, 365, n)
    source = rng.choice(list(OFFSETS), n, p=[0.5, 0.2, 0.3])
    score = 6 + slope * days / 365.25 + pd.Series(source).map(OFFSETS).to_numpy() \
        + rng.normal(0, noise, n)
    if outliers:  # hostile spam at the end of the window: all zeros
        last = np.argsort(days)[-outliers * 4:]
        score[rng.choice(last, outliers, replace=False)] = 0.0
    when = pd.Timestamp(START, tz="UTC") + pd.to_timedelta(days, unit="D")
    return pd.DataFrame({"published_at": when, "source": source, "s": np.clip(score, 0, 10)})


def fit(frame: pd.DataFrame, **config) -> trends.TrendFit:
    data = trends.make_trend_data(frame, "t", "s", START, END)
    return trends.fit_trend(data, trends.ModelConfig(**config), SMALL, use_cache=False)


def test_known_slope_and_offsets_are_covered_by_the_94_percent_hdi():
    result = fit(simulate(2000, -1.2))
    slope = result.slope()
    assert slope["hdi_low"] <= -1.2 <= slope["hdi_high"]
    assert slope["hdi_high"] - slope["hdi_low"] < 0.6  # informative, not vacuous
    rows = result.summary[result.summary["parameter"] == "source_offset"].set_index("source")
    centred = {s: v - np.mean(list(OFFSETS.values())) for s, v in OFFSETS.items()}
    for source, truth in centred.items():
        assert rows.loc[source, "hdi_low"] <= truth <= rows.loc[source, "hdi_high"], source
    assert result.p_decline > 0.95
    assert set(result.line["source"]) == {"all", *OFFSETS}
    pooled = result.line[result.line["source"] == "all"]
    assert (pooled["low"] <= pooled["mean"]).all() and (pooled["mean"] <= pooled["high"]).all()
    assert (pooled["pred_high"] - pooled["pred_low"] > pooled["high"] - pooled["low"]).all()
    assert result.diagnostics.divergences == 0


def test_zero_slope_is_not_called_a_decline():
    result = fit(simulate(2000, 0.0, seed=3))
    assert 0.05 < result.p_decline < 0.95
    slope = result.slope()
    assert slope["hdi_low"] < 0 < slope["hdi_high"]


def test_outliers_move_student_t_far_less_than_normal():
    # 30 hostile zeros among the last ~120 documents. With document noise 0.6 they lie ~8
    # noise scales away. (On a bounded 0–10 scale with noise 1.2 they can be only ~4 scales
    # away, and Student-t then removes only about a third of their pull: measured 0.69.)
    frame = simulate(2000, -1.2, seed=5, outliers=30, noise=0.6)
    robust = fit(frame, likelihood="student_t").slope()["mean"]
    normal = fit(frame, likelihood="normal").slope()["mean"]
    assert abs(normal + 1.2) > 0.3  # the spam really drags a Normal fit down
    assert abs(robust + 1.2) < 0.3 * abs(normal + 1.2)


def test_normal_rows_are_exact_sufficient_statistics():
    frame = simulate(500, -1.0, seed=2)
    data = trends.make_trend_data(frame, "t", "s", START, END)
    rows = trends.compress(data, trends.ModelConfig(likelihood="normal"))
    assert rows["w"].sum() == 500
    total = (rows["ss"] + rows["w"] * rows["y"] ** 2).sum()
    assert total == pytest.approx((data.y**2).sum())


def fit_events(frame: pd.DataFrame, **config) -> trends.TrendFit:
    data = trends.make_trend_data(frame, "t", "s", START, END)
    return trends.fit_trend(data, trends.EventsConfig(seed=TEST_SEED, **config),
                            use_cache=False)


def with_shock(frame: pd.DataFrame, day: dt.date, size: float,
               sources: tuple[str, ...] = tuple(OFFSETS)) -> pd.DataFrame:
    """The same documents with a lasting step of ``size`` from ``day`` in some sources."""
    hit = (frame["published_at"].dt.date >= day) & frame["source"].isin(sources)
    return frame.assign(s=np.clip(frame["s"] + size * hit, 0, 10))


def test_event_model_finds_no_event_in_a_straight_line():
    result = fit_events(simulate(2000, -1.2, seed=11))
    assert result.detected_changes().empty
    assert result.slope()["hdi_low"] <= -1.2 <= result.slope()["hdi_high"]
    assert result.diagnostics.ok and result.diagnostics.method == "exact"


def test_event_model_dates_a_step_to_the_day_and_sources_may_diverge():
    day = dt.date(2026, 2, 16)
    frame = with_shock(simulate(3000, 0.0, seed=13, noise=1.0), day, -2.0, ("news",))
    events = fit_events(frame).detected_changes()
    assert len(events) == 1
    event = events.iloc[0]
    assert abs((event["date"].date() - day).days) <= 1
    assert event["direction"] == "down" and event["p_direction"] > 0.99
    # Only news moved: its own size is near -2, the others' near 0.
    by_source = event["size_by_source"]
    assert by_source["news"] < -1.4
    assert abs(by_source["reddit"]) < 0.7 and abs(by_source["youtube"]) < 0.7


def test_choice_prefers_the_straight_line_unless_events_predict_better(settings):
    straight = simulate(1500, -1.0, seed=17)
    stepped = with_shock(straight, dt.date(2026, 4, 1), -2.0)
    chosen = {}
    for name, frame in {"straight": straight, "stepped": stepped}.items():
        data = trends.make_trend_data(frame, "t", "s", START, END)
        fits = {form: trends.fit_trend(data, *(
            (trends.EventsConfig(seed=TEST_SEED),) if form == "events" else
            (trends.ModelConfig(), SMALL)), settings=settings) for form in trends.FORMS}
        chosen[name] = trends.service.view_trend("s", fits, settings).choice
    assert chosen["straight"].form == "linear"
    assert chosen["stepped"].form == "events"
    assert chosen["stepped"].difference > 2 * chosen["stepped"].se
    assert "leave-one-out" in chosen["stepped"].reason


def test_vectorised_psis_equals_arviz():
    import arviz as az

    from analytics.trends import choice

    rng = np.random.default_rng(TEST_SEED)
    log_lik = rng.standard_t(3, size=(800, 40)) * rng.uniform(0.2, 3.0, 40)
    ours, k = choice.psis(-log_lik.T)
    theirs, k_arviz = az.psislw(-log_lik.T.copy())
    np.testing.assert_allclose(ours, theirs, atol=1e-10)
    np.testing.assert_allclose(k, k_arviz, atol=1e-10)


# The offline scorer carries only ~0.3 of a point per latent point of Article 5 trust, so the
# +1.2 July shock reaches the scores as ~+0.35 points, within the day-to-day noise of the
# news cycle: no form dates it from these scores, so it is not asserted (with the documents'
# true opinions it is found). The five other shocks are dated to the day on every seed tried.
UNDETECTABLE = {("article5_trust", dt.date(2026, 7, 7))}


def test_demo_slopes_have_the_sign_of_the_truth_and_events_date_the_shocks(
        demo_settings, topic):
    scored = trends.load_scored(topic, SOURCES, None, None, demo_settings)
    truth = truth_parameters(topic)["paths"]
    daily = queries.daily_scores(scored, topic.score_keys)
    for score in topic.score_keys:
        data = trends.make_trend_data(scored, topic.name, score)
        linear = trends.fit_trend(data, trends.ModelConfig(), SMALL, use_cache=False)
        assert np.sign(linear.slope()["mean"]) == np.sign(truth[score]["slope_per_year"])
        # The straight line is the wrong shape for these shocks, so its certainty is modest:
        # unity's P(decline) is ~0.9 at test size; it must still lean the truth's way clearly.
        assert linear.p_decline > 0.75, score
        found = trends.fit_trend(data, trends.EventsConfig(seed=TEST_SEED),
                                 use_cache=False).detected_changes()
        for shock in NATO_PATHS[score].shocks:
            if (score, shock.date) in UNDETECTABLE:
                assert abs(jump(daily, score, shock.date)) < 0.5  # why: the scores barely move
                continue
            errors = (found["date"].dt.date - shock.date).map(lambda d: abs(d.days))
            assert not errors.empty and errors.min() <= 3, (
                f"{score}: no event within 3 days of the shock on {shock.date}; "
                f"found {list(found['date'].dt.date)}")
            event = found.iloc[int(errors.to_numpy().argmin())]
            assert np.sign(event["size"]) == np.sign(shock.size), (score, shock.date)


def jump(daily: pd.DataFrame, score: str, day: dt.date, days: int = 14) -> float:
    """Mean daily score in the two weeks after a date minus the two weeks before."""
    rows = daily[daily["score"] == score]
    when = rows["day"].dt.date
    after = rows[(when >= day) & (when < day + dt.timedelta(days=days))]["mean"].mean()
    before = rows[(when < day) & (when >= day - dt.timedelta(days=days))]["mean"].mean()
    return after - before


def test_cache_second_call_does_not_sample_and_round_trips(settings):
    data = trends.make_trend_data(simulate(600, -1.0, seed=4), "t", "s", START, END)
    config = trends.ModelConfig()
    first = trends.fit_trend(data, config, SMALL, settings)
    netcdf, sidecar = trends.fit_paths(first.key, settings)
    stamp = (netcdf.stat().st_mtime_ns, sidecar.stat().st_mtime_ns)
    stages: list[str] = []
    second = trends.fit_trend(data, config, SMALL, settings,
                              progress=lambda update: stages.append(update.stage))
    assert stages == ["s · linear: Loaded from cache"]
    assert second.from_cache and not first.from_cache
    assert (netcdf.stat().st_mtime_ns, sidecar.stat().st_mtime_ns) == stamp
    assert second.p_decline == first.p_decline
    pd.testing.assert_frame_equal(second.summary, first.summary)
    assert list(second.line["day"]) == list(first.line["day"])
    # The saved fit explains itself: configuration and versions in the netcdf attributes.
    idata = trends.load_inference_data(first.key, settings)
    assert json.loads(idata.posterior.attrs["model_config"])["likelihood"] == "student_t"
    assert json.loads(idata.posterior.attrs["versions"])["analytics"]
    assert "fit_data" in idata.groups()
    assert any("Student-t" in line for line in second.explain())
    # A different configuration is a different fit.
    assert trends.fit_key(data, trends.ModelConfig(likelihood="normal"), SMALL) != first.key


def test_refresh_records_a_run_and_the_page_reads_the_cached_fit(scored_corpus, topic):
    from streamlit.testing.v1 import AppTest

    from analytics.store import queries, session_scope

    settings = scored_corpus(300, trend_draws=200, trend_tune=200, trend_chains=2)
    fits = trends.refresh_trends(topic, settings, scores=["unity"], forms=["linear"])
    assert len(fits) == 1 and not fits[0].from_cache
    again = trends.refresh_trends(topic, settings, scores=["unity"], forms=["linear"])
    assert again[0].from_cache
    with session_scope(settings.database_url) as session:
        runs = queries.runs_frame(session, kind="trends")
    assert list(runs["status"][:2]) == ["ok", "ok"]
    assert runs["counts"].iloc[0] == {"fitted": 0, "cached": 1, "skipped": 0}

    app = AppTest.from_file(str(ROOT / "pages" / "trends.py"), default_timeout=60)
    app.session_state["trend_scores"] = ["unity"]
    app.session_state["trend_form"] = "linear"
    app.run()
    assert not app.exception
    text = " ".join(m.value for m in app.markdown) + " ".join(s.value for s in app.success)
    text += " ".join(w.value for w in app.warning)
    assert "P(decline)" in [m.label for m in app.metric]
    assert "sampler" in text.lower()
    assert not [w for w in app.warning if "python -m analytics" in w.value]
    # The event form has no fit yet: the page fits it (no command to copy) and shows it.
    app.session_state["trend_form"] = "events"
    app.run()
    assert not app.exception
    assert not [w for w in app.warning if "python -m analytics" in w.value]
    assert "shocks" in [m.value for m in app.metric]  # the turns-and-shocks form


def test_cli_trends_rejects_unknown_score(settings):
    from typer.testing import CliRunner

    from analytics.cli import app

    result = CliRunner().invoke(app, ["trends", "--score", "nonsense", "--form", "linear"])
    assert result.exit_code == 2
    assert "Unknown score" in result.output


def test_cache_index_serves_views_and_prunes_unreachable_fits(settings):
    """Fits are found through the index; an older fit of the same view, and views older
    than the newest two of a window, are deleted when a new fit is saved."""
    from analytics.trends import cache

    frame = simulate(300, -1.0, seed=12)
    keys = []
    for days in (0, 1, 2):  # the same 90-day window moving on by a day: three views
        end = END - dt.timedelta(days=2 - days)
        data = trends.make_trend_data(frame, "t", "s", end - dt.timedelta(days=89), end)
        fit = trends.fit_trend(data, trends.ModelConfig(), SMALL, settings,
                               view={"window": "90d", "view_start": str(data.start),
                                     "view_end": str(data.end)})
        keys.append(fit.key)
    index = cache.read_index(settings)
    assert keys[0] not in index and set(keys[1:]) <= set(index)
    assert not trends.fit_paths(keys[0], settings)[1].exists()
    found = trends.find_fit("t", "s", "linear", data.start, data.end, data.requested_sources,
                            settings=settings)
    assert found.key == keys[2]
