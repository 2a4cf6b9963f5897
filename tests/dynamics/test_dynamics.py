"""Dynamics (hybrid neural ODE) and scenarios, with small settings to stay fast.

Synthetic data come from a known ODE: relaxation toward an equilibrium plus a dated shock,
observed through noisy documents. The fit must forecast the hold-out better than
persistence; scenarios must be exact (zero size = baseline), directional and reproducible.
"""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
import pandas as pd
import pytest

from analytics.core.topics import TopicEvent, load_topic
from analytics.dynamics import (
    DriverChange,
    DynamicsConfig,
    Scenario,
    ScenarioError,
    ScenarioShock,
    build_series,
    describe,
    fit_dynamics,
    refresh_dynamics,
    run_scenarios,
)
from analytics.dynamics.fit import fit_ensemble, split_point
from tests.conftest import TEST_SEED
from tests.support.paths import ROOT

SMALL = DynamicsConfig(ensemble_size=4, iterations=300, hidden=8, seed=TEST_SEED)
START = dt.date(2025, 1, 1)
DAYS, SHOCK_DAY, TAU, EQUILIBRIUM, SHOCK = 180, 130, 15.0, 6.0, -2.5


def known_path() -> np.ndarray:
    """Relaxation toward EQUILIBRIUM (tau = TAU days) from 5.5, shock at SHOCK_DAY."""
    x, out = 5.5, []
    for day in range(DAYS):
        if day == SHOCK_DAY:
            x += SHOCK
        out.append(x)
        x += (EQUILIBRIUM - x) / TAU
    return np.array(out)


@pytest.fixture(scope="module")
def synthetic():
    topic = load_topic("nato")
    topic = topic.model_copy(update={"events": [
        TopicEvent(date=START + dt.timedelta(days=SHOCK_DAY), label="known shock")]})
    rng = np.random.default_rng(7 + 100 * TEST_SEED)
    latent = known_path()
    rows = []
    for day in range(DAYS):
        if day % 17 == 5:  # a gap: no documents at all that day
            continue
        for _ in range(8):
            value = latent[day] + rng.normal(0, 0.6)
            rows.append({"published_at": pd.Timestamp(START, tz="UTC") + pd.Timedelta(days=day,
                         hours=int(rng.integers(0, 24))),
                         "source": str(rng.choice(["news", "reddit"])), "on_topic": True,
                         **{key: value + rng.normal(0, 0.2) for key in topic.score_keys}})
    series = build_series(pd.DataFrame(rows), topic, "day")
    return topic, series, latent


@pytest.fixture(scope="module")
def synthetic_fit(synthetic):
    return fit_dynamics(synthetic[1], SMALL)


def test_series_masks_gaps_instead_of_filling(synthetic):
    _, series, _ = synthetic
    assert series.n_periods == DAYS
    gap_days = [d for d in range(DAYS) if d % 17 == 5]
    assert np.isnan(series.means[gap_days]).all() and (series.counts[gap_days] == 0).all()
    assert series.volume[gap_days].sum() == 0
    assert series.driver_names[-1] == "event:known shock"


def test_fit_beats_persistence_on_known_ode(synthetic_fit):
    for row in synthetic_fit.skill:
        assert row["ode"] < row["persistence"], row
    readout = synthetic_fit.readout[0]
    assert 5.3 < readout["settles_at"] < 6.7
    assert 3 <= readout["half_life_days"] <= 40


def test_zero_size_scenario_reproduces_baseline_exactly(synthetic_fit):
    end = synthetic_fit.series.end
    zero = Scenario(name="nothing", horizon_days=60,
                    shocks=[ScenarioShock(date=end + dt.timedelta(days=5), score="unity", size=0)],
                    driver_changes=[DriverChange(start=end + dt.timedelta(days=1), days=20,
                                                 factor=1.0)])
    result = run_scenarios(synthetic_fit, [zero])
    assert np.array_equal(result.paths[:, 0], result.paths[:, 1])
    assert all(row["difference"] == 0 for row in result.readout())


def test_negative_shock_lowers_the_trajectory(synthetic_fit):
    end = synthetic_fit.series.end
    day = end + dt.timedelta(days=10)
    scenario = Scenario(name="drop", horizon_days=30,
                        shocks=[ScenarioShock(date=day, score="unity", size=-1.5)])
    started = time.perf_counter()
    result = run_scenarios(synthetic_fit, [scenario])
    assert time.perf_counter() - started < 2.0  # re-integration only, fast enough for sliders
    unity = synthetic_fit.series.score_keys.index("unity")
    base, low = result.paths[:, 0, :, unity], result.paths[:, 1, :, unity]
    assert np.array_equal(base[:, :10], low[:, :10])  # nothing changes before the shock
    assert (low[:, 10:20] < base[:, 10:20]).all()  # every member, in the days after it
    assert (np.median(low, 0)[10:] < np.median(base, 0)[10:]).all()  # the ensemble: to the end
    row = next(r for r in result.readout() if r["score"] == "unity")
    assert row["difference"] < 0 and row["low"] <= row["difference"] <= row["high"]
    assert "lower than the baseline after 30 days" in describe(row, result.band)


def test_readout_has_one_sentence_per_moved_score_and_no_causal_volume_claim(synthetic_fit):
    from analytics.dynamics.scenarios import changed, readout_sentences

    end = synthetic_fit.series.end
    scenario = Scenario(name="shock and volume", horizon_days=40,
                        shocks=[ScenarioShock(date=end + dt.timedelta(days=5), score="unity",
                                              size=-2.5)],
                        driver_changes=[DriverChange(start=end + dt.timedelta(days=1), days=30,
                                                     factor=3.0)])
    result = run_scenarios(synthetic_fit, [scenario])
    rows = [r for r in result.readout() if r["scenario"] == scenario.name]
    sentences = readout_sentences(result, scenario)
    moved = [r for r in rows if changed(r)]
    assert any(r["score"] == "unity" for r in moved)
    for row in moved:  # exactly one sentence names each moved score
        assert sum(s.startswith("Under '") and f" {row['label']} " in s
                   and f"after {row['days']} days" in s for s in sentences) == 1, sentences
    untouched = [r["label"] for r in rows if not changed(r) and r["score"] != "unity"]
    if untouched:
        assert any("does not carry over" in s and all(u in s for u in untouched)
                   for s in sentences)
    assert any("not an estimate of what publishing more would cause" in s for s in sentences)
    text = " ".join(sentences)
    assert "-0.0" not in text and "−0.0" not in text
    assert "raises" not in text and "causes" not in text


def test_same_seed_same_result_other_seed_differs(synthetic):
    _, series, _ = synthetic
    config = DynamicsConfig(ensemble_size=2, iterations=15, hidden=4)
    n_fit = split_point(series, 0.2)
    first, second = fit_ensemble(series, config, n_fit), fit_ensemble(series, config, n_fit)
    other = fit_ensemble(series, config.model_copy(update={"seed": config.seed + 1}), n_fit)
    assert np.array_equal(first.fitted, second.fitted)
    assert all(np.array_equal(first.parameters[k], second.parameters[k]) for k in first.parameters)
    assert not np.array_equal(first.fitted, other.fitted)


def test_scenario_files_round_trip_and_errors(tmp_path, synthetic_fit):
    scenario = Scenario(name="Summit fails", horizon_days=60,
                        shocks=[ScenarioShock(date=dt.date(2025, 7, 10), score="unity", size=-1)],
                        driver_changes=[DriverChange(source="news", start=dt.date(2025, 7, 1),
                                                     days=30, factor=1.5)])
    for suffix in (".yaml", ".json"):
        assert Scenario.load(scenario.save(tmp_path / f"s{suffix}")) == scenario
    (tmp_path / "bad.yaml").write_text("name: x\nshocks: [{date: 2025-07-10, size: 1}]\n")
    with pytest.raises(ScenarioError, match=r"shocks\.0\.score"):
        Scenario.load(tmp_path / "bad.yaml")
    past = Scenario(name="past", shocks=[ScenarioShock(date=START, score="unity", size=-1)])
    with pytest.raises(ScenarioError, match="outside the scenario window"):
        run_scenarios(synthetic_fit, [past])
    wrong = Scenario(name="wrong", shocks=[ScenarioShock(date=dt.date(2025, 7, 10),
                                                         score="nope", size=1)])
    with pytest.raises(ScenarioError, match="unknown score"):
        run_scenarios(synthetic_fit, [wrong])


@pytest.fixture
def small_demo(scored_corpus):
    """A small scored demo corpus and a small, quick ensemble."""
    return scored_corpus(300, dynamics_iterations=60, dynamics_ensemble_size=4,
                         dynamics_hidden=8)


def test_demo_fit_is_cached_and_drives_cli_and_page(small_demo, tmp_path):
    from streamlit.testing.v1 import AppTest
    from typer.testing import CliRunner

    from analytics.cli import app
    from analytics.store import queries, session_scope

    topic = load_topic("nato")
    started = time.perf_counter()
    fit = refresh_dynamics(topic, small_demo)
    assert time.perf_counter() - started < 120
    assert fit.series.n_periods >= 300 and len(fit.skill) == 3
    assert fit.meta["software_version"] and fit.meta["config"]["iterations"] == 60
    started = time.perf_counter()
    again = refresh_dynamics(topic, small_demo)  # cache hit: no training
    assert again.meta["key"] == fit.meta["key"] and time.perf_counter() - started < 10
    with session_scope(small_demo.database_url) as session:
        runs = queries.runs_frame(session, kind="fit")
    assert (runs["provider"] == "dynamics").sum() == 1

    path = Scenario(name="Volume surge", horizon_days=60, shocks=[ScenarioShock(
        date=fit.series.end + dt.timedelta(days=3), score="unity", size=-1)],
        driver_changes=[DriverChange(start=fit.series.end + dt.timedelta(days=1), days=30,
                                     factor=1.5)]).save(tmp_path / "surge.yaml")
    result = CliRunner().invoke(app, ["scenarios", "run", "--scenario", str(path)])
    assert result.exit_code == 0, result.output
    assert "Under 'Volume surge', NATO unity ends" in result.output

    page = AppTest.from_file(str(ROOT / "pages" / "scenarios.py"), default_timeout=120).run()
    assert not page.exception, [e.value for e in page.exception]
    assert len(page.dataframe) >= 1 and any("Under 'My scenario'" in m.value
                                            for m in page.markdown)
