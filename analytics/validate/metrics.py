"""Reliability statistics: Krippendorff's alpha, machine-vs-human comparison, Cohen's kappa.

Plain numpy/scipy so every number can be checked against hand computations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

GOOD_ALPHA = 0.8  # Krippendorff: reliable enough to draw conclusions
TENTATIVE_ALPHA = 0.667  # Krippendorff: tentative conclusions only
MIN_PAIRS = 20  # fewer pairs than this: no verdict at all


def krippendorff_alpha(reliability: np.ndarray | Sequence[Sequence[float]],
                       level: Literal["interval", "nominal"] = "interval") -> float:
    """Krippendorff's alpha for a coders x units matrix; NaN marks a missing rating.

    alpha = 1 - D_o / D_e over pairable values (units with at least two ratings):
    D_o = (1/n) sum_u 1/(m_u - 1) sum_{i != j in u} delta(v_i, v_j),
    D_e = 1/(n (n - 1)) sum_{i != j over all pairable values} delta(v_i, v_j),
    delta = squared difference (interval) or inequality (nominal). NaN when undefined.
    """
    data = np.asarray(reliability, dtype=float)
    if data.ndim != 2:
        raise ValueError("reliability data must be a coders x units matrix")
    units = [column[~np.isnan(column)] for column in data.T]
    units = [values for values in units if len(values) >= 2]
    if not units:
        return float("nan")
    values = np.concatenate(units)
    n = len(values)
    if level == "interval":
        observed = sum(_interval_pair_sum(u) / (len(u) - 1) for u in units) / n
        expected = _interval_pair_sum(values) / (n * (n - 1))
    elif level == "nominal":
        observed = sum(_nominal_pair_sum(u) / (len(u) - 1) for u in units) / n
        expected = _nominal_pair_sum(values) / (n * (n - 1))
    else:
        raise ValueError(f"unknown level {level!r}")
    if expected == 0:
        return float("nan")  # every value identical: reliability is undefined
    return float(1.0 - observed / expected)


def _interval_pair_sum(values: np.ndarray) -> float:
    """Sum over ordered pairs i != j of (v_i - v_j)^2 = 2 n sum v^2 - 2 (sum v)^2."""
    centred = values - values.mean()  # same sum, better rounding
    return float(2 * len(values) * np.sum(centred ** 2) - 2 * np.sum(centred) ** 2)


def _nominal_pair_sum(values: np.ndarray) -> float:
    """Number of ordered pairs i != j with different values."""
    _, counts = np.unique(values, return_counts=True)
    return float(len(values) ** 2 - np.sum(counts ** 2))


def alpha_verdict(alpha: float, pairs: int) -> str:
    """Plain-language class: good / tentative / poor / too few labels."""
    if pairs < MIN_PAIRS or not np.isfinite(alpha):
        return "too few labels"
    if alpha >= GOOD_ALPHA:
        return "good"
    if alpha >= TENTATIVE_ALPHA:
        return "tentative"
    return "poor"


VERDICT_MEANING = {
    "good": "alpha ≥ 0.8: reliable; trends from these scores can be reported.",
    "tentative": "0.667 ≤ alpha < 0.8: tentative; report trends with the bias-corrected "
                 "interval and say the scores are only moderately reliable.",
    "poor": "alpha < 0.667: not reliable; do not report trends from these scores without "
            "the correction, and consider a better scorer or clearer rubric.",
    "too few labels": f"fewer than {MIN_PAIRS} documents coded by both: no verdict yet; "
                      "code more of the sample.",
}


@dataclass
class Agreement:
    """Machine vs human on one score: pairs are documents both rated as addressing it."""

    documents: int  # documents with both a machine and a human rating (addressed or not)
    pairs: int
    alpha: float
    mae: float
    spearman: float
    bias: float  # mean(machine - human)
    addressed_agreement: float  # share of documents where both agree on addressed-or-not
    addressed_kappa: float  # Cohen's kappa of that yes/no judgement

    @property
    def verdict(self) -> str:
        return alpha_verdict(self.alpha, self.pairs)

    def as_dict(self) -> dict:
        return {"documents": self.documents, "pairs": self.pairs, "alpha": self.alpha,
                "verdict": self.verdict, "mae": self.mae, "spearman": self.spearman,
                "bias": self.bias, "addressed_agreement": self.addressed_agreement,
                "addressed_kappa": self.addressed_kappa}


def compare(machine: Sequence[float | None], human: Sequence[float | None]) -> Agreement:
    """Agreement of two aligned ratings; NaN/None = "not addressed" by that rater."""
    m = np.asarray(machine, dtype=float)
    h = np.asarray(human, dtype=float)
    if m.shape != h.shape:
        raise ValueError("machine and human ratings must be aligned")
    both = ~np.isnan(m) & ~np.isnan(h)
    diff = m[both] - h[both]
    pairs = int(both.sum())
    return Agreement(
        documents=len(m), pairs=pairs,
        alpha=krippendorff_alpha(np.vstack([m[both], h[both]])) if pairs else float("nan"),
        mae=float(np.mean(np.abs(diff))) if pairs else float("nan"),
        spearman=_spearman(m[both], h[both]),
        bias=float(np.mean(diff)) if pairs else float("nan"),
        addressed_agreement=float(np.mean(np.isnan(m) == np.isnan(h))) if len(m) else float("nan"),
        addressed_kappa=cohen_kappa(~np.isnan(m), ~np.isnan(h)),
    )


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(stats.spearmanr(x, y).statistic)


def cohen_kappa(a: Sequence[bool], b: Sequence[bool]) -> float:
    """Cohen's kappa of two yes/no judgements; NaN when chance agreement is total."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if not len(a):
        return float("nan")
    observed = np.mean(a == b)
    chance = a.mean() * b.mean() + (1 - a.mean()) * (1 - b.mean())
    return float("nan") if chance >= 1 else float((observed - chance) / (1 - chance))
