"""Calibration from the analysts' coding: the statistics on known truth, the refusals, and
the whole path (store, scorer version, re-scoring, CLI, page) on a tiny scored corpus."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.validate import calibration as cal
from analytics.validate.metrics import krippendorff_alpha
from tests.conftest import TEST_SEED


def _known_truth(n: int, seed: int, bias: bool = True):
    """Human values on 0-10; a scorer that compresses and shifts them (bias) or tracks them;
    features that carry part of what the scorer misses."""
    rng = np.random.default_rng(seed)
    human = np.clip(rng.normal(5, 2.5, n), 0, 10)
    signal = rng.normal(0, 1, n)
    human = np.clip(human + 1.0 * signal, 0, 10)
    features = np.column_stack([signal + rng.normal(0, 0.3, n), rng.normal(0, 1, (n, 20))])
    if bias:
        current = np.clip(7.0 + 0.3 * (human - 5) - 1.0 * signal + rng.normal(0, 0.5, n), 0, 10)
    else:
        current = human.copy()
    return np.arange(n), human, current, features


def test_alpha_pairs_equals_krippendorff():
    rng = np.random.default_rng(1)
    a, b = rng.normal(5, 2, 50), rng.normal(5, 2, 50)
    assert cal.alpha_pairs(a, b) == pytest.approx(krippendorff_alpha(np.vstack([a, b])))


def test_calibration_beats_a_biased_scorer_on_known_truth():
    ids, human, current, features = _known_truth(200, 10 + TEST_SEED)
    result = cal.calibrate_score("s", ids, human, current, features, topic="t",
                                 base_scorer="base", feature_set="f", draws=400,
                                 seed=TEST_SEED)
    f = result.figures
    assert result.refused is None and result.labels == 200
    assert result.beats, result.decision
    assert f["alpha_calibrated"].value > f["alpha_current"].value + 0.3
    assert f["mae_calibrated"].value < f["mae_current"].value
    assert f["alpha_gain"].low > 0
    assert np.isfinite(result.penalty)  # the informative feature was used
    # the fitted artefact reproduces the truth better than the scorer on fresh data
    _, h2, c2, x2 = _known_truth(300, 99 + TEST_SEED)
    fresh = result.calibration.predict(c2, x2)
    assert np.mean(np.abs(fresh - h2)) < np.mean(np.abs(c2 - h2))


def _two_periods(n: int, seed: int):
    """Coders' values 2 points lower in period 0 than in period 1; a scorer that reads them
    with classical error (no bias, noise sd 1.5) and features that carry nothing."""
    rng = np.random.default_rng(seed)
    period = rng.integers(0, 2, n)
    human = np.clip(rng.normal(4 + 2 * period, 1.5), 0, 10)
    current = np.clip(human + rng.normal(0, 1.5, n), 0, 10)
    return period, human, current, rng.normal(0, 1, (n, 10))


def test_calibration_does_not_shrink_changes():
    """A change between periods read through the calibration keeps its size: least squares
    (E[human | scorer]) would shrink the 2-point change by the scorer's reliability."""
    _, human, current, features = _two_periods(400, 20 + TEST_SEED)
    fit = cal.fit_calibration(current, features, human, seed=TEST_SEED)
    fresh_period, fresh_human, fresh_current, fresh_features = _two_periods(4000, 21 + TEST_SEED)

    def change(values):
        return values[fresh_period == 1].mean() - values[fresh_period == 0].mean()

    truth = change(fresh_human)
    least_squares = np.polyval(np.polyfit(current, human, 1), fresh_current)
    assert change(least_squares) < truth - 0.4  # the baseline does shrink it
    assert change(fit.predict(fresh_current, fresh_features)) == pytest.approx(truth, abs=0.25)


def test_calibration_of_a_perfect_scorer_is_not_adopted():
    ids, human, current, features = _known_truth(150, 3 + TEST_SEED, bias=False)
    result = cal.calibrate_score("s", ids, human, current, features, topic="t",
                                 base_scorer="base", feature_set="f", draws=300)
    assert not result.beats and result.calibration is None
    assert "not adopted" in result.decision


def test_refusals_too_few_labels_and_one_class():
    ids, human, current, features = _known_truth(150, 4)
    few = cal.calibrate_score("s", ids[:99], human[:99], current[:99], features[:99],
                              topic="t", base_scorer="b", feature_set="f")
    assert few.refused and "at least 100" in few.refused and not few.beats
    human_nan = human.copy()
    human_nan[:60] = np.nan  # not addressed by the coder: not a pair
    partial = cal.calibrate_score("s", ids, human_nan, current, features, topic="t",
                                  base_scorer="b", feature_set="f")
    assert partial.labels == 90 and partial.refused
    one = cal.calibrate_score("s", ids, np.full(150, 7.0), current, features, topic="t",
                              base_scorer="b", feature_set="f")
    assert one.refused and "one class" in one.refused and one.calibration is None


def test_penalty_grid_includes_plain_recalibration():
    """With pure-noise features the inner CV keeps the linear recalibration only."""
    rng = np.random.default_rng(5 + TEST_SEED)
    human = rng.uniform(0, 10, 300)
    current = 2 + 0.5 * human + rng.normal(0, 0.3, 300)
    noise = rng.normal(0, 1, (300, 50))
    fit = cal.fit_calibration(current, noise, human, seed=1)
    assert fit.penalty >= 1e3
    assert fit.slope == pytest.approx(2.0, rel=0.15)


def test_artefact_key_changes_with_the_fitted_map():
    """Same labels, seed and software but another fitted map (e.g. a changed fitting rule):
    another key, so neither the artefact nor the analyses cached under it are reused."""
    from analytics.store.calibrations import Calibration

    def calibration(weight: float) -> Calibration:
        return Calibration(topic="t", score="s", base_scorer="b", features="f", intercept=1.0,
                           slope=0.9, mean=np.zeros(3), scale=np.ones(3),
                           weights=np.full(3, weight), penalty=np.inf,
                           record={"labels_sha256": "x", "seed": 0})

    assert calibration(0.1).content_key() == calibration(0.1).content_key()
    assert calibration(0.1).content_key() != calibration(0.2).content_key()
