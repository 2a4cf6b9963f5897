"""Bias-corrected trend: design-based supervised learning (Egami et al. 2023).

Machine scores are surrogates of what a careful human coder would say. Used directly in a
regression they give biased slopes and intervals that are too narrow whenever the scorer's
error changes over time; the human labels of a random sample with known inclusion
probabilities correct both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sqlalchemy.orm import Session

from analytics import __version__
from analytics.core.topics import Topic
from analytics.validate.agreement import human_consensus
from analytics.validate.labels import labels_frame
from analytics.validate.sampling import GoldSampleInfo, latest_sample, sampling_frame

MIN_GOLD_FOR_CORRECTION = 10  # fewer labelled sampled documents: no corrected slope
DAYS_PER_YEAR = 365.0


@dataclass
class SlopeEstimate:
    slope: float  # score points per year
    se: float
    low: float
    high: float
    documents: int

    def covers(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass
class TrendComparison:
    naive: SlopeEstimate
    corrected: SlopeEstimate | None
    gold_documents: int  # labelled sampled documents used by the correction
    difference_z: float  # (naive - corrected) / sd of the difference
    verdict: str


def _sandwich(design: np.ndarray, target: np.ndarray, weights: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """Solve sum_i w_i x_i x_i' b = sum_i x_i target_i; return b and each row's influence.

    The moment of row i is psi_i = x_i (target_i - w_i x_i' b); the influence is
    B^-1 psi_i with B = sum w x x', and the HC1 covariance is n/(n-p) sum infl infl'.
    """
    bread = (design * weights[:, None]).T @ design
    beta = np.linalg.solve(bread, design.T @ target)
    psi = design * (target - weights * (design @ beta))[:, None]
    influence = np.linalg.solve(bread, psi.T).T
    return beta, influence


def _estimate(beta: np.ndarray, influence: np.ndarray, level: float) -> SlopeEstimate:
    n, p = influence.shape
    covariance = influence.T @ influence * n / max(n - p, 1)
    se = float(np.sqrt(covariance[1, 1]))
    z = stats.norm.ppf(0.5 + level / 2)
    return SlopeEstimate(float(beta[1]), se, float(beta[1] - z * se), float(beta[1] + z * se), n)


def dsl_trend(years: Sequence[float], machine: Sequence[float], labelled: Sequence[bool],
              human: Sequence[float], probability: Sequence[float],
              level: float = 0.95) -> TrendComparison:
    """Naive vs design-corrected linear trend of a score over time.

    ``years``: each document's time in years; ``machine``: the surrogate (NaN = machine says
    not addressed); ``labelled``: R, whether the document is in the coded sample;
    ``human``: Y for labelled documents (NaN = human says not addressed; ignored when
    R = 0); ``probability``: pi, the document's inclusion probability (used when R = 1).

    The estimand is the slope among documents that a human would say address the score.
    With A = addressed (human) and Â = addressed (machine), pseudo-outcomes
    Ã = Â + (R/pi)(A - Â) and (AY)~ = ÂŶ + (R/pi)(AY - ÂŶ) are unbiased for A and AY
    whatever the scorer's errors, so solving sum x (AY)~ = sum Ã x x' b is unbiased for the
    human slope (DSL; with A = Â = 1 it is OLS of Ŷ + (R/pi)(Y - Ŷ) on time). Standard
    errors are heteroskedasticity-robust (HC1 sandwich). The naive fit is OLS of Ŷ on time
    over machine-addressed documents, also with HC1 errors.
    """
    t = np.asarray(years, dtype=float)
    yhat = np.asarray(machine, dtype=float)
    r = np.asarray(labelled, dtype=bool)
    y = np.asarray(human, dtype=float)
    pi = np.asarray(probability, dtype=float)
    design = np.column_stack([np.ones_like(t), t])
    a_hat = (~np.isnan(yhat)).astype(float)
    ay_hat = np.where(a_hat > 0, yhat, 0.0)
    naive_rows = a_hat > 0
    if naive_rows.sum() < 3:
        raise ValueError("fewer than 3 machine-scored documents: no trend to estimate")
    beta_n, infl_n = _sandwich(design[naive_rows], ay_hat[naive_rows], a_hat[naive_rows])
    naive = _estimate(beta_n, infl_n, level)
    gold = int(r.sum())
    if gold < MIN_GOLD_FOR_CORRECTION:
        return TrendComparison(naive, None, gold, float("nan"), _trust_sentence(naive, None, gold,
                                                                                np.nan))
    if np.any(~np.isfinite(pi[r])) or np.any(pi[r] <= 0):
        raise ValueError("every labelled document needs an inclusion probability in (0, 1]")
    a = (~np.isnan(y)).astype(float)
    ay = np.where(a > 0, y, 0.0)
    weight = np.where(r, 1.0 / np.where(r, pi, 1.0), 0.0)
    a_tilde = a_hat + weight * (a - a_hat)
    ay_tilde = ay_hat + weight * (ay - ay_hat)
    beta_c, infl_c = _sandwich(design, ay_tilde, a_tilde)
    corrected = _estimate(beta_c, infl_c, level)
    full_naive = np.zeros_like(infl_c)
    full_naive[naive_rows] = infl_n
    difference = full_naive[:, 1] - infl_c[:, 1]
    n = len(t)
    sd = float(np.sqrt(np.sum(difference ** 2) * n / max(n - 2, 1)))
    z = (naive.slope - corrected.slope) / sd if sd > 0 else float("nan")
    return TrendComparison(naive, corrected, gold, z, _trust_sentence(naive, corrected, gold, z))


def _trust_sentence(naive: SlopeEstimate, corrected: SlopeEstimate | None, gold: int,
                    z: float) -> str:
    if corrected is None:
        return (f"Only {gold} coded sample document(s): too few for a corrected slope "
                f"(need {MIN_GOLD_FOR_CORRECTION}+). The naive slope is unverified — it "
                "assumes the scorer makes no errors that change over time.")
    direction = ("excludes zero" if corrected.low > 0 or corrected.high < 0
                 else "includes zero: no clear trend")
    if np.isfinite(z) and abs(z) >= 1.96:
        return (f"Trust the corrected slope. The naive slope differs from it by more than "
                f"chance (z = {z:.1f}): the machine scores drift relative to human coding, so "
                f"the naive trend is biased and its interval too narrow. The corrected "
                f"interval {direction}.")
    return (f"Naive and corrected slopes agree within their uncertainty (z = {z:.1f}). "
            f"Report the corrected interval: it is wider because it carries the scorer's "
            f"error, which the naive interval ignores. The corrected interval {direction}.")


def _effective_probability(sample: GoldSampleInfo, labelled: pd.DataFrame) -> pd.Series:
    """pi of each labelled document: its stratum's design pi times the share of the
    stratum's sampled documents that have been coded so far. Coding follows the sample's
    random order, so a partly coded stratum is itself a random sample of it."""
    if labelled.empty:
        return pd.Series(dtype=float, index=labelled.index)
    strata_info = sample.parameters.get("strata", {})
    coded = labelled.groupby("stratum")["document_id"].transform("size").astype(float)
    sampled = labelled["stratum"].map(
        lambda s: strata_info.get(s, {}).get("sampled", np.nan)).astype(float)
    population = labelled["stratum"].map(
        lambda s: strata_info.get(s, {}).get("population", np.nan)).astype(float)
    fallback = labelled["inclusion_probability"] * coded / sampled
    return (coded / population).where(population.notna(), fallback)


def corrected_trend_table(session: Session, topic: Topic, backend: str | None = None,
                          level: float = 0.95) -> pd.DataFrame:
    """Naive and corrected slope (points per year) per score, over the sample's frame."""
    from analytics.store.queries import scored_frame

    columns = ["score", "naive_slope", "naive_low", "naive_high", "corrected_slope",
               "corrected_low", "corrected_high", "gold_documents", "documents", "difference_z",
               "verdict", "level", "software_version"]
    sample = latest_sample(session, topic.name)
    if sample is None:
        return pd.DataFrame(columns=columns)
    frame = sampling_frame(session, topic.name, sample.parameters.get("frame_max_document_id"))
    scored = scored_frame(session, topic.name, topic.score_keys, backend=backend)
    frame = frame.merge(scored[["id", *topic.score_keys]], on="id", how="left")
    consensus = human_consensus(labels_frame(session, topic.name))
    start = frame["published_at"].min()
    years = ((frame["published_at"] - start).dt.total_seconds() / 86400 / DAYS_PER_YEAR).to_numpy()
    rows = []
    for key in topic.score_keys:
        human = consensus[consensus["score"] == key]
        coded = sample.documents[sample.documents["document_id"].isin(human["document_id"])]
        coded = coded.assign(pi=_effective_probability(sample, coded))
        merged = frame[["id"]].merge(coded[["document_id", "pi"]], left_on="id",
                                     right_on="document_id", how="left").merge(
            human[["document_id", "human"]], on="document_id", how="left")
        labelled = merged["pi"].notna().to_numpy()
        try:
            result = dsl_trend(years, frame[key].to_numpy(dtype=float), labelled,
                               merged["human"].to_numpy(dtype=float),
                               merged["pi"].fillna(1.0).to_numpy(dtype=float), level)
        except ValueError:
            continue
        corrected = result.corrected
        rows.append({
            "score": key, "naive_slope": result.naive.slope, "naive_low": result.naive.low,
            "naive_high": result.naive.high,
            "corrected_slope": corrected.slope if corrected else np.nan,
            "corrected_low": corrected.low if corrected else np.nan,
            "corrected_high": corrected.high if corrected else np.nan,
            "gold_documents": result.gold_documents, "documents": len(frame),
            "difference_z": result.difference_z, "verdict": result.verdict, "level": level,
            "software_version": __version__,
        })
    return pd.DataFrame(rows, columns=columns)
