"""The one sentence per score that pages, reports and the scheduled report print: what the
trend did over the window, how sure the model is, the form that says so, and the agreement
with human coding behind it. Written once.

A headline obeys its validation (the same figures the Validation page shows):
- no human-coded documents: the trend is stated and the sentence says "not validated
  against human coding";
- agreement alpha >= 0.667 (Krippendorff's threshold for tentative conclusions): the trend
  is stated with alpha, its interval and the number of coded documents;
- alpha < 0.667: the direction comes from the bias-corrected (DSL) slope and its interval
  when the coded sample allows one; otherwise the sentence says plainly that the direction
  cannot be stated, and the machine-score trend is named as unreliable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.core.topics import ScoreDefinition

MAX_EVENTS_NAMED = 3
MIN_DAYS_FOR_YEARLY_RATE = 300


@dataclass
class Headline:
    score: str
    label: str
    sentence: str
    direction: str = ""  # rising | falling | no clear direction
    change: float | None = None  # points over the window
    change_low: float | None = None
    change_high: float | None = None
    slope: float | None = None  # underlying points per year (events excluded)
    p_decline: float | None = None
    form: str = ""
    diagnostics: str = ""
    agreement: str = ""
    validation: Validation | None = None


TENTATIVE_ALPHA = 0.667  # Krippendorff: below this, no conclusions from the machine scores
NOT_VALIDATED = "Not validated against human coding."
UNSTATED = "direction cannot be stated"


@dataclass
class Validation:
    """The agreement behind one score's headline (``headline_evidence`` builds it)."""

    pairs: int = 0  # human-coded documents paired with a machine score
    alpha: float = float("nan")
    alpha_low: float | None = None
    alpha_high: float | None = None
    verdict: str = ""
    scorer: str = ""  # the scorer version the agreement was measured on
    corrected_slope: float | None = None  # DSL, points per year
    corrected_low: float | None = None
    corrected_high: float | None = None
    corrected_level: float = 0.95
    gold_documents: int = 0
    cross_validated: bool = False  # alpha of a calibration fitted on these labels: K-fold

    @property
    def measured(self) -> bool:
        return self.pairs > 0 and bool(np.isfinite(self.alpha))

    @property
    def poor(self) -> bool:
        return self.measured and self.alpha < TENTATIVE_ALPHA

    @property
    def corrected(self) -> bool:
        return self.corrected_low is not None and bool(np.isfinite(self.corrected_low))

    def alpha_text(self) -> str:
        interval = (f" [{self.alpha_low:.2f}, {self.alpha_high:.2f}]"
                    if self.alpha_low is not None and np.isfinite(self.alpha_low) else "")
        basis = (", cross-validated: the calibration was fitted on them"
                 if self.cross_validated else "")
        return f"α = {self.alpha:.2f}{interval} on {self.pairs} coded documents{basis}"

    def sentence(self) -> str:
        """The agreement in words, as the badge and the headline say it."""
        if self.pairs == 0:
            return NOT_VALIDATED
        if not self.measured:
            return (f"Agreement with human coding not measurable yet ({self.pairs} coded "
                    "documents): not validated.")
        quality = "poor" if self.poor else "acceptable" if self.alpha < 0.8 else "good"
        return f"Agreement with human coding is {quality}: {self.alpha_text()}."


def direction(low: float, high: float) -> str:
    if low > 0:
        return "rising"
    if high < 0:
        return "falling"
    return "no clear direction"


def headline(score: ScoreDefinition, fit, validation: Validation | None = None,
             form_reason: str | None = None) -> Headline:
    """The headline of one score's fit (``trends.TrendFit``; None: nothing to say yet) and
    the agreement behind it (None = no human coding)."""
    validation = validation or Validation()
    agreement = validation.sentence()
    if fit is None:
        return Headline(score.key, score.label, f"{score.label}: no trend yet for this view "
                        f"(too few scored documents). {agreement}", agreement=agreement)
    change = fit.change()
    way = direction(change["hdi_low"], change["hdi_high"])
    span = f"{fit.start:%d %b %Y} to {fit.end:%d %b %Y}"
    machine = (f"{change['mean']:+.1f} points from {span} "
               f"(94% HDI {change['hdi_low']:+.1f} to {change['hdi_high']:+.1f}); "
               f"P(decline) = {fit.p_decline:.0%}")
    stated = way
    if not validation.poor:
        sentence = f"{score.label}: {way} — {machine}."
    elif validation.corrected:
        stated = direction(validation.corrected_low, validation.corrected_high)
        sentence = (f"{score.label}: {stated} by the bias-corrected (DSL) estimate — "
                    f"{validation.corrected_slope:+.2f} points per year "
                    f"({validation.corrected_level:.0%} CI {validation.corrected_low:+.2f} to "
                    f"{validation.corrected_high:+.2f}, from {validation.gold_documents} "
                    f"human-coded sample documents). The machine scores alone say {way} "
                    f"({machine}), but their agreement with human coding is poor.")
    else:
        stated = UNSTATED
        sentence = (f"{score.label}: the direction cannot be stated — agreement with human "
                    f"coding is poor and too few sample documents are coded for a "
                    f"bias-corrected estimate. The machine scores alone say {way} ({machine}); "
                    f"do not report that.")
    # A yearly rate is only stated for windows of most of a year; shorter windows report
    # the change over the window, never an extrapolation.
    slope = fit.slope().get("mean") if fit.window_days >= MIN_DAYS_FOR_YEARLY_RATE else None
    if slope is not None and not validation.poor:
        sentence += f" Underlying trend {slope:+.2f} points per year."
    events = fit.detected_changes()
    if not events.empty:
        named = [f"{'a shock' if e.kind == 'shock' else 'a turn'} of {e.size:+.1f} on "
                 f"{e.date:%d %b %Y}" for e in events.head(MAX_EVENTS_NAMED).itertuples()]
        sentence += " Dated events: " + "; ".join(named) + "."
    if form_reason:
        sentence += f" Form: {fit.form_label} ({form_reason})"
    sentence += f" {agreement}"
    if fit.stale:
        sentence += " (This fit is from earlier data; it is being refreshed.)"
    return Headline(score.key, score.label, sentence, stated, change["mean"], change["hdi_low"],
                    change["hdi_high"], slope, fit.p_decline, fit.form,
                    fit.diagnostics.plain_words(), agreement, validation)


def headline_evidence(session, topic, backend: str | None = None,
                      resamples: int = 400, seed: int = 0) -> dict[str, Validation]:
    """Per score the agreement the Validation page shows (same functions), alpha's 95%
    bootstrap interval over coded documents, the scorer version, and the DSL slope."""
    from sqlalchemy import func, select

    from analytics.store import Analysis
    from analytics.validate import agreement_per_score, corrected_trend_table, paired_ratings
    from analytics.validate.agreement import CROSS_VALIDATED
    from analytics.validate.metrics import krippendorff_alpha

    table = agreement_per_score(session, topic, backend)
    pairs = paired_ratings(session, topic)
    corrected = corrected_trend_table(session, topic, backend).set_index("score")
    version = session.execute(
        select(Analysis.scorer_version, func.count()).where(
            Analysis.topic == topic.name, Analysis.status == "ok")
        .group_by(Analysis.scorer_version).order_by(func.count().desc()).limit(1)).first()
    rng = np.random.default_rng(seed)
    out = {}
    for key in topic.score_keys:
        row = table.loc[key]
        v = Validation(pairs=int(row["pairs"]), verdict=str(row["verdict"]),
                       scorer=(version[0] or "") if version else "")
        if v.pairs and row["alpha_basis"] == CROSS_VALIDATED:
            v.alpha, v.cross_validated = float(row["alpha"]), True
            v.alpha_low, v.alpha_high = float(row["alpha_low"]), float(row["alpha_high"])
        elif v.pairs:
            v.alpha = float(row["alpha"])
            both = pairs[(pairs["score"] == key) & (pairs["model"] == row["model"])]
            both = both.dropna(subset=["machine", "human"])
            if len(both) >= 3 and np.isfinite(v.alpha):
                m, h = both["machine"].to_numpy(float), both["human"].to_numpy(float)
                draws = []
                for _ in range(resamples):
                    i = rng.integers(0, len(m), len(m))
                    draws.append(krippendorff_alpha(np.vstack([m[i], h[i]])))
                draws = np.array(draws)
                draws = draws[np.isfinite(draws)]
                if len(draws):
                    v.alpha_low, v.alpha_high = (float(x) for x in np.quantile(draws,
                                                                               [0.025, 0.975]))
        if key in corrected.index and np.isfinite(corrected.loc[key, "corrected_low"]):
            c = corrected.loc[key]
            v.corrected_slope, v.corrected_low = float(c["corrected_slope"]), float(
                c["corrected_low"])
            v.corrected_high, v.corrected_level = float(c["corrected_high"]), float(c["level"])
            v.gold_documents = int(c["gold_documents"])
        out[key] = v
    return out
