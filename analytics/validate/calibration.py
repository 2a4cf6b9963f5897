"""Calibration from the analysts' own coding: fit, cross-validate, decide.

For one score, the inputs are aligned per document: the human value (consensus of the gold
labels), the current scorer's value, and the scorer's features (the MiniLM vectors it read;
``analytics.score.backends.offline``). The model is

    human ~ a + b * current + ridge(standardised features)

with ``a`` and ``b`` not penalised (a plain linear recalibration is always available) and the
feature weights penalised; the penalty is chosen by an inner K-fold cross-validation over a
grid that includes "no features at all" (infinite penalty). Solved exactly: the linear part
is projected out of features and target (Frisch-Waugh), the ridge part through one SVD.
The fit is then stretched so that its inner out-of-fold predictions, regressed on the
coders' values, have slope 1 and their mean (least squares shrinks every change toward the
mean; see ``fit_calibration``). The result is one linear map, stored as such; values are clipped to
0-10.

Measurement: outer K-fold cross-validation over documents gives every labelled document a
calibrated value from a model that never saw its label. On those out-of-fold values and the
current values of the same documents: Krippendorff's alpha (interval) and MAE against the
human values, each with a 95 % percentile interval from a paired bootstrap over documents,
and the same for the differences (calibrated - current).

Decision rule (``beats``): alpha higher AND MAE lower (point estimates) AND the 95 %
bootstrap interval of the alpha difference lies above 0. A calibration that does not pass it
is reported and not adopted. Refusals (``CalibrationRefused``): fewer than the minimum labels
(``validation.calibration_min_labels``, default 100) or one class only (every human value
identical: nothing to calibrate towards).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from analytics import __version__
from analytics.core.errors import BadInput
from analytics.store.calibrations import Calibration

PENALTY_GRID = (np.inf, 3e4, 1e4, 3e3, 1e3, 3e2, 1e2, 3e1)  # ridge penalties tried
FOLDS = 5
BOOTSTRAP = 1000


class CalibrationRefused(BadInput):
    """Not enough labels, or labels with one class only: no calibration is fitted."""


# --- agreement with intervals -----------------------------------------------------------------

def alpha_pairs(machine: np.ndarray, human: np.ndarray) -> np.ndarray:
    """Krippendorff's alpha (interval) of two complete ratings along the last axis (the
    same number ``metrics.krippendorff_alpha`` gives for a 2 x n matrix)."""
    machine, human = np.asarray(machine, float), np.asarray(human, float)
    values = np.concatenate([machine, human], axis=-1)
    n = values.shape[-1]
    expected = 2 * ((values - values.mean(-1, keepdims=True)) ** 2).sum(-1) / (n - 1)
    observed = ((machine - human) ** 2).mean(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(expected > 0, 1 - observed / expected, np.nan)


@dataclass
class Figure:
    value: float
    low: float
    high: float

    def as_dict(self) -> dict:
        return {"value": round(self.value, 4), "low": round(self.low, 4),
                "high": round(self.high, 4)}

    def text(self, digits: int = 2) -> str:
        return f"{self.value:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def _interval(values: np.ndarray, point: float) -> Figure:
    low, high = np.nanpercentile(values, [2.5, 97.5])
    return Figure(float(point), float(low), float(high))


def paired_bootstrap(human: np.ndarray, current: np.ndarray, calibrated: np.ndarray,
                     draws: int = BOOTSTRAP, seed: int = 0) -> dict[str, Figure]:
    """alpha and MAE of both, and their differences, with 95 % intervals from one paired
    bootstrap over documents (the same resamples for every figure)."""
    human, current, calibrated = (np.asarray(a, float) for a in (human, current, calibrated))
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(human), size=(draws, len(human)))
    h, c, k = human[index], current[index], calibrated[index]
    alpha_c, alpha_k = alpha_pairs(c, h), alpha_pairs(k, h)
    mae_c, mae_k = np.abs(c - h).mean(1), np.abs(k - h).mean(1)
    point = {"alpha_current": float(alpha_pairs(current, human)),
             "alpha_calibrated": float(alpha_pairs(calibrated, human)),
             "mae_current": float(np.abs(current - human).mean()),
             "mae_calibrated": float(np.abs(calibrated - human).mean())}
    return {
        "alpha_current": _interval(alpha_c, point["alpha_current"]),
        "alpha_calibrated": _interval(alpha_k, point["alpha_calibrated"]),
        "mae_current": _interval(mae_c, point["mae_current"]),
        "mae_calibrated": _interval(mae_k, point["mae_calibrated"]),
        "alpha_gain": _interval(alpha_k - alpha_c,
                                point["alpha_calibrated"] - point["alpha_current"]),
        "mae_change": _interval(mae_k - mae_c, point["mae_calibrated"] - point["mae_current"]),
    }


def figure_with_interval(machine: np.ndarray, human: np.ndarray, draws: int = BOOTSTRAP,
                         seed: int = 0) -> dict[str, Figure]:
    """alpha and MAE of one scorer with bootstrap intervals (benchmarks, reports)."""
    out = paired_bootstrap(human, machine, machine, draws, seed)
    return {"alpha": out["alpha_current"], "mae": out["mae_current"]}


# --- the model --------------------------------------------------------------------------------

@dataclass
class _Fit:
    intercept: float
    slope: float
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    penalty: float

    def raw(self, current: np.ndarray, features: np.ndarray) -> np.ndarray:
        z = (features - self.mean) / self.scale
        return self.intercept + self.slope * current + z @ self.weights

    def predict(self, current: np.ndarray, features: np.ndarray) -> np.ndarray:
        return np.clip(self.raw(current, features), 0.0, 10.0)


def _linear(current: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Design [1, current] and its least-squares solution for the target(s)."""
    design = np.column_stack([np.ones_like(current), current])
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    return design, coef


def fit_ridge(current: np.ndarray, features: np.ndarray, human: np.ndarray,
              penalties: tuple[float, ...]) -> list[_Fit]:
    """One fit per penalty (shared SVD): unpenalised a + b * current, ridge on features."""
    mean = features.mean(0)
    scale = features.std(0) + 1e-6
    z = (features - mean) / scale
    design, _ = _linear(current, human)
    # Frisch-Waugh: residualise features and target on [1, current]
    _, coef_z = _linear(current, z)
    z_res = z - design @ coef_z
    _, coef_y = _linear(current, human)
    y_res = human - design @ coef_y
    u, s, vt = np.linalg.svd(z_res, full_matrices=False)
    uty = u.T @ y_res
    fits = []
    for penalty in penalties:
        if np.isinf(penalty):
            weights = np.zeros(z.shape[1])
        else:
            weights = vt.T @ (s / (s ** 2 + penalty) * uty)
        _, (a, b) = _linear(current, human - z @ weights)
        fits.append(_Fit(float(a), float(b), mean, scale, weights, float(penalty)))
    return fits


def _folds(n: int, k: int, rng: np.random.Generator) -> list[np.ndarray]:
    order = rng.permutation(n)
    return [order[i::k] for i in range(k)]


def choose_penalty(current: np.ndarray, features: np.ndarray, human: np.ndarray,
                   penalties: tuple[float, ...] = PENALTY_GRID, folds: int = FOLDS,
                   seed: int = 0) -> tuple[float, np.ndarray]:
    """The penalty with the lowest inner cross-validated squared error (first of ties:
    the grid starts with "no features"), and the unclipped out-of-fold predictions at it."""
    rng = np.random.default_rng(seed)
    errors = np.zeros(len(penalties))
    oof = np.zeros((len(penalties), len(human)))
    for held in _folds(len(human), folds, rng):
        train = np.setdiff1d(np.arange(len(human)), held)
        for i, fit in enumerate(fit_ridge(current[train], features[train], human[train],
                                          penalties)):
            oof[i, held] = fit.raw(current[held], features[held])
            errors[i] += np.sum((np.clip(oof[i, held], 0, 10) - human[held]) ** 2)
    best = int(np.argmin(errors))
    return float(penalties[best]), oof[best]


MAX_STRETCH = 5.0


def fit_calibration(current: np.ndarray, features: np.ndarray, human: np.ndarray, *,
                    penalties: tuple[float, ...] = PENALTY_GRID, folds: int = FOLDS,
                    seed: int = 0) -> _Fit:
    """Ridge fit at the inner-CV penalty, then stretched so that it does not shrink changes.

    Least squares predicts E[human | scorer], which is pulled toward the coders' mean by the
    scorer's error: regressed on the human values its predictions have a slope r^2 < 1, so
    every difference built from them (a trend, a shock, a gap between outlets) comes out
    r^2 times too small. Matching the coders' spread instead still leaves a factor r (the
    demo: a -1.20 points/yr truth read as -0.77). So the fit is stretched until its
    OUT-OF-FOLD predictions (inner CV, at the chosen penalty) regressed on the human values
    have slope 1 and the coders' mean: E[calibrated | human] = human, the property that
    keeps aggregates unbiased (stretch capped at 5). The price is document-level noise,
    which the outer cross-validation measures and the adoption rule weighs."""
    penalty, oof = choose_penalty(current, features, human, penalties, folds, seed)
    fit = fit_ridge(current, features, human, (penalty,))[0]
    slope = np.polyfit(human, oof, 1)[0] if human.std() > 0 else 0.0
    stretch = min(1.0 / slope, MAX_STRETCH) if slope > 1.0 / MAX_STRETCH else 1.0
    fit.intercept = float(human.mean() + stretch * (fit.intercept - oof.mean()))
    fit.slope = float(stretch * fit.slope)
    fit.weights = stretch * fit.weights
    return fit


# --- the whole procedure ----------------------------------------------------------------------

@dataclass
class CalibrationResult:
    """What ``calibrate_score`` found for one score."""

    score: str
    labels: int  # documents with a human value and a machine value (the pairs used)
    figures: dict[str, Figure] = field(default_factory=dict)
    beats: bool = False
    decision: str = ""
    penalty: float = float("nan")
    calibration: Calibration | None = None  # fitted on every label; None unless it beats
    refused: str | None = None  # why no calibration was fitted
    adopted_now: bool = False  # the calibration fitted is the one adopted now (same labels)

    def row(self) -> dict:
        f = self.figures
        out = {"score": self.score, "labels": self.labels}
        for name in ("alpha_current", "alpha_calibrated", "alpha_gain", "mae_current",
                     "mae_calibrated", "mae_change"):
            out[name] = f[name].text() if name in f else "—"
        out["decision"] = self.decision
        return out

    def counts(self) -> dict:
        """For the run record: labels, decision, every figure with its interval."""
        return {"labels": self.labels, "beats": self.beats, "decision": self.decision,
                "refused": self.refused, "penalty": None if not np.isfinite(self.penalty)
                else self.penalty,
                **{k: v.as_dict() for k, v in self.figures.items()}}


def labels_digest(document_ids: np.ndarray, human: np.ndarray) -> str:
    payload = ";".join(f"{int(d)}:{h:.6g}" for d, h in sorted(zip(document_ids, human,
                                                                   strict=True)))
    return hashlib.sha256(payload.encode()).hexdigest()


def calibrate_score(score: str, document_ids: np.ndarray, human: np.ndarray,
                    current: np.ndarray, features: np.ndarray, *, topic: str,
                    base_scorer: str, feature_set: str,
                    min_labels: int = 100, folds: int = FOLDS, draws: int = BOOTSTRAP,
                    seed: int = 0, penalties: tuple[float, ...] = PENALTY_GRID
                    ) -> CalibrationResult:
    """Cross-validate a calibration of one score against its gold labels and decide.

    ``current`` is the uncalibrated scorer's value: what the calibration reads and must
    beat. Rows with a NaN human or current value are not pairs (not addressed by one side).
    A user's situation raises nothing: a refusal is in the result's ``refused``."""
    human, current = np.asarray(human, float), np.asarray(current, float)
    features = np.asarray(features, float)
    document_ids = np.asarray(document_ids)
    usable = ~np.isnan(human) & ~np.isnan(current) & ~np.isnan(features).any(1)
    document_ids, human, current, features = (
        document_ids[usable], human[usable], current[usable], features[usable])
    result = CalibrationResult(score=score, labels=len(human))
    if len(human) < min_labels:
        result.refused = result.decision = (
            f"{len(human)} labelled documents the scorer also rated; calibration needs at "
            f"least {min_labels}. Code more documents of the sample.")
        return result
    if len(np.unique(human)) < 2:
        result.refused = result.decision = (
            f"the gold labels hold one class only (every value is {human[0]:g}); "
            "there is nothing to calibrate towards. Code documents with other values.")
        return result
    rng = np.random.default_rng(seed)
    calibrated = np.full(len(human), np.nan)
    for k, held in enumerate(_folds(len(human), folds, rng)):
        train = np.setdiff1d(np.arange(len(human)), held)
        fit = fit_calibration(current[train], features[train], human[train],
                              penalties=penalties, folds=folds, seed=seed + 1 + k)
        calibrated[held] = fit.predict(current[held], features[held])
    result.figures = paired_bootstrap(human, current, calibrated, draws, seed)
    f = result.figures
    gain, change = f["alpha_gain"], f["mae_change"]
    result.beats = bool(gain.value > 0 and change.value < 0 and gain.low > 0)
    if result.beats:
        result.decision = (f"beats the uncalibrated scorer: alpha +{gain.value:.2f} "
                           f"[{gain.low:+.2f}, {gain.high:+.2f}], MAE {change.value:+.2f}")
    else:
        why = ("alpha not higher" if gain.value <= 0 else "MAE not lower" if change.value >= 0
               else "the interval of the alpha gain includes 0")
        result.decision = f"not better ({why}): not adopted"
    final = fit_calibration(current, features, human, penalties=penalties, folds=folds,
                            seed=seed)
    result.penalty = final.penalty
    if result.beats:
        result.calibration = Calibration(
            topic=topic, score=score, base_scorer=base_scorer, features=feature_set,
            intercept=final.intercept, slope=final.slope, mean=final.mean,
            scale=final.scale, weights=final.weights, penalty=final.penalty,
            record={"labels_sha256": labels_digest(document_ids, human),
                    "labels": len(human), "seed": seed, "folds": folds,
                    "bootstrap": draws, "penalties": [str(p) for p in penalties],
                    "software_version": __version__,
                    "rule": "alpha higher, MAE lower and the 95 % bootstrap interval of the "
                            "alpha gain above 0 (K-fold cross-validated)",
                    "figures": {k: v.as_dict() for k, v in f.items()}})
    return result
