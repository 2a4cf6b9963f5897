"""The one sentence per score that pages, reports and the scheduled report print: what the
trend did over the window, how sure the model is, and the form that says so. Written once.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def direction(low: float, high: float) -> str:
    if low > 0:
        return "rising"
    if high < 0:
        return "falling"
    return "no clear direction"


def headline(score: ScoreDefinition, fit, agreement: str = "",
             form_reason: str | None = None) -> Headline:
    """The headline of one score's fit (``trends.TrendFit``; None: nothing to say yet)."""
    if fit is None:
        return Headline(score.key, score.label, f"{score.label}: no trend yet for this view "
                        "(too few scored documents).", agreement=agreement)
    change = fit.change()
    way = direction(change["hdi_low"], change["hdi_high"])
    span = f"{fit.start:%d %b %Y} to {fit.end:%d %b %Y}"
    sentence = (f"{score.label}: {way} — {change['mean']:+.1f} points from {span} "
                f"(94% HDI {change['hdi_low']:+.1f} to {change['hdi_high']:+.1f}); "
                f"P(decline) = {fit.p_decline:.0%}.")
    # A yearly rate is only stated for windows of most of a year; shorter windows report
    # the change over the window, never an extrapolation.
    slope = fit.slope().get("mean") if fit.window_days >= MIN_DAYS_FOR_YEARLY_RATE else None
    if slope is not None:
        sentence += f" Underlying trend {slope:+.2f} points per year."
    events = fit.detected_changes()
    if not events.empty:
        named = [f"{'a shock' if e.kind == 'shock' else 'a turn'} of {e.size:+.1f} on "
                 f"{e.date:%d %b %Y}" for e in events.head(MAX_EVENTS_NAMED).itertuples()]
        sentence += " Dated events: " + "; ".join(named) + "."
    if form_reason:
        sentence += f" Form: {fit.form_label} ({form_reason})"
    if fit.stale:
        sentence += " (This fit is from earlier data; it is being refreshed.)"
    return Headline(score.key, score.label, sentence, way, change["mean"], change["hdi_low"],
                    change["hdi_high"], slope, fit.p_decline, fit.form,
                    fit.diagnostics.plain_words(), agreement)
