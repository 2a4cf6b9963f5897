"""Which form tells the story: leave-one-document-out cross-validation (PSIS-LOO).

Each fit scores every document by its leave-one-out predictive density (Pareto-smoothed
importance sampling over the posterior draws). Documents are grouped by (day, source, score)
— identical observations share one value, weighted by their count — so 100k documents cost
what ~40k distinct ones do. The straight line is the default: turning points and shocks are
chosen only when they predict held-out documents better by more than two standard errors of
the paired difference (the "one-standard-error rule", at two).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import special, stats

from analytics.trends.config import DAYS_PER_YEAR
from analytics.trends.data import TrendData

MAX_DRAWS = 500  # draws per fit for leave-one-out (exact posteriors need few)
SE_RULE = 2.0


@dataclass(frozen=True)
class Observations:
    """Distinct (day, source, score) observations of a fit's documents, with counts."""

    day: np.ndarray  # day index since the window start
    t: np.ndarray  # mean time (days since start) of the grouped documents
    source: np.ndarray
    y: np.ndarray
    weight: np.ndarray


def observations(data: TrendData) -> Observations:
    t_days = data.t * DAYS_PER_YEAR
    day = np.floor(t_days).astype(np.int64)
    y = np.round(data.y, 2)
    keys = np.stack([day, data.source.astype(np.int64), np.round(y * 100).astype(np.int64)])
    unique, inverse, counts = np.unique(keys, axis=1, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    t_mean = np.bincount(inverse, weights=t_days) / counts
    return Observations(unique[0], t_mean, unique[1], unique[2] / 100.0, counts.astype(float))


def pointwise_elpd(log_lik: np.ndarray) -> tuple[np.ndarray, float]:
    """PSIS-LOO elpd per observation from (draws, observations) log-likelihoods; and the
    largest Pareto k (above 0.7 the estimate is unreliable)."""
    log_weights, k = psis(-log_lik.T)
    return special.logsumexp(log_weights + log_lik.T, axis=1), float(np.max(k))


def psis(log_ratios: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pareto-smoothed importance sampling (Vehtari et al. 2024), vectorised over
    observations: (observations, draws) log ratios -> normalised smoothed log weights and
    the Pareto shape k of each row. The same algorithm as ``arviz.psislw`` (which loops in
    Python and takes seconds to import); a test checks the two agree."""
    x = log_ratios - log_ratios.max(axis=1, keepdims=True)
    n_obs, n_draws = x.shape
    tail = int(np.ceil(min(n_draws / 5.0, 3 * n_draws ** 0.5)))
    order = np.argsort(x, axis=1)
    rows = np.arange(n_obs)[:, None]
    tail_idx = order[:, -tail:]
    cutoff = np.maximum(x[rows, order[:, -tail - 1:-tail]],
                        np.log(np.finfo(float).tiny))  # (obs, 1)
    tail_values = np.exp(x[rows, tail_idx]) - np.exp(cutoff)
    # A row whose tail is flat (all exceedances zero) has no Pareto fit: it comes back NaN
    # and keeps its raw weights below, as ArviZ does.
    with np.errstate(divide="ignore", invalid="ignore"):
        k, sigma = _gpd_fit(tail_values)
    probs = (np.arange(tail) + 0.5) / tail
    smoothed = np.log(_gpd_quantile(probs, k, sigma) + np.exp(cutoff))
    fitted = np.isfinite(k) & (sigma > 0)
    x[rows[fitted], tail_idx[fitted]] = smoothed[fitted]
    x = np.minimum(x, 0.0)
    return x - special.logsumexp(x, axis=1, keepdims=True), k


def _gpd_fit(tail: np.ndarray, prior_bs: float = 3.0,
             prior_k: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """Zhang & Stephens' empirical-Bayes fit of a generalized Pareto distribution to each
    row of sorted, positive exceedances (rows: observations)."""
    n = tail.shape[1]
    m = 30 + int(n ** 0.5)
    b = 1 - np.sqrt(m / (np.arange(1, m + 1, dtype=float) - 0.5))
    b = b[None, :] / (prior_bs * tail[:, int(n / 4 + 0.5) - 1][:, None]) \
        + 1 / tail[:, -1][:, None]  # (obs, m)
    k_grid = np.log1p(-b[:, :, None] * tail[:, None, :]).mean(axis=2)
    length = n * (np.log(-(b / k_grid)) - k_grid - 1)
    weights = 1 / np.exp(length[:, None, :] - length[:, :, None]).sum(axis=2)
    weights = np.where(weights >= 10 * np.finfo(float).eps, weights, 0.0)
    weights /= weights.sum(axis=1, keepdims=True)
    b_post = (b * weights).sum(axis=1)
    k_post = np.log1p(-b_post[:, None] * tail).mean(axis=1)
    sigma = -k_post / b_post
    return (n * k_post + prior_k * 0.5) / (n + prior_k), sigma


def _gpd_quantile(probs: np.ndarray, k: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    k, sigma = k[:, None], sigma[:, None]
    small = np.abs(k) < np.finfo(float).eps
    safe_k = np.where(small, 1.0, k)
    general = np.expm1(-safe_k * np.log1p(-probs[None, :])) / safe_k
    return sigma * np.where(small, -np.log1p(-probs[None, :]), general)


def student_t_loglik(y: np.ndarray, mu: np.ndarray, sigma: np.ndarray,
                     nu: np.ndarray | float) -> np.ndarray:
    return stats.t.logpdf(y, df=nu, loc=mu, scale=sigma)


def summarise(elpd: np.ndarray, obs: Observations, k_max: float) -> dict:
    n = obs.weight.sum()
    total = float(obs.weight @ elpd)
    mean = total / n
    variance = float(obs.weight @ (elpd - mean) ** 2) / n
    return {"elpd": round(total, 2), "se": round(math.sqrt(n * variance), 2), "n": int(n),
            "k_max": round(k_max, 3)}


def thin(n_draws: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_draws, min(n_draws, MAX_DRAWS), replace=False))


def save_pointwise(path: Path, obs: Observations, elpd: np.ndarray) -> None:
    temporary = path.with_suffix(".tmp.npz")
    np.savez_compressed(temporary, day=obs.day, source=obs.source, y=obs.y,
                        weight=obs.weight, elpd=elpd.astype(np.float32))
    temporary.replace(path)


def load_pointwise(path: Path) -> dict[str, np.ndarray] | None:
    if not path.is_file():
        return None
    with np.load(path) as data:
        return {name: data[name] for name in data.files}


@dataclass
class Choice:
    form: str  # linear | events
    difference: float  # elpd(events) - elpd(linear)
    se: float
    reason: str


def choose(linear: dict[str, np.ndarray] | None,
           events: dict[str, np.ndarray] | None) -> Choice | None:
    """The form the data choose, from the two fits' pointwise elpd (None: cannot tell)."""
    if linear is None or events is None or len(linear["elpd"]) != len(events["elpd"]):
        return None
    same = all(np.array_equal(linear[name], events[name]) for name in ("day", "source", "y"))
    if not same:
        return None
    weight = linear["weight"]
    diff = events["elpd"].astype(float) - linear["elpd"].astype(float)
    n = weight.sum()
    total = float(weight @ diff)
    se = math.sqrt(n * float(weight @ (diff - total / n) ** 2) / n)
    if total > SE_RULE * se:
        return Choice("events", total, se, (
            f"Turning points and shocks predict held-out documents better than a straight "
            f"line (Δelpd = {total:+.1f} ± {se:.1f}, leave-one-out)."))
    return Choice("linear", total, se, (
        "A straight line predicts held-out documents as well as turning points and shocks "
        f"(Δelpd = {total:+.1f} ± {se:.1f}, leave-one-out): the simpler form is shown."))
