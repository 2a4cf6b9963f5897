"""What each rule kind looks for in the data up to a day (``as_of``): a list of findings,
each one change with what changed, by how much, and the interval behind it.

- turning_point: the turning-point model (``trends``, form "events") fitted on the trailing
  ``alert_trend_window_days``; every detected shock or turn dated within the last
  ``alert_turning_point_recent_days`` is a finding.
- probability: P(decline) (or P(rise) = 1 − P(decline)) of the same fit at or above the
  threshold.
- volume: per source or outlet, the documents of the last ``recent_days`` against the
  ``baseline_days`` before them. The baseline's daily counts give a negative binomial
  (method of moments: mean m, variance v, size k = m²/(v − m); a Poisson when v ≤ m); the
  sum of ``recent_days`` independent days is negative binomial with size ``recent_days``·k
  and the same p. A spike is reported when P(X ≥ observed) is below alpha / (number of
  groups × directions tested) (Bonferroni), a drop when P(X ≤ observed) is. Groups with
  fewer than ``MIN_BASELINE_DOCUMENTS`` in their baseline are not tested.
- agreement: Krippendorff's α of a score (machine vs human coding) below the threshold.
- step_failed: a step of the scheduled run that just failed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.core.settings import Settings
from analytics.core.topics import Topic
from analytics.core.views import SOURCES

MIN_BASELINE_DOCUMENTS = 10
MIN_TREND_DOCUMENTS = 30


@dataclass
class Finding:
    """One change a rule found."""

    key: str  # what changed (de-duplication: the same key and a near date = the same change)
    date: dt.date | None  # when it happened (None: a state, e.g. a probability above a line)
    title: str
    what: str  # what changed and by how much, one or two sentences
    facts: list[tuple[str, str]] = field(default_factory=list)  # interval, agreement, ...
    event_date: dt.date | None = None  # the day the event view should open on
    score: str | None = None
    details: dict = field(default_factory=dict)


@dataclass
class Context:
    """The data one evaluation reads, loaded once and shared by the rules."""

    topic: Topic
    settings: Settings
    as_of: dt.date
    sources: tuple[str, ...] = SOURCES
    outlets: tuple[str, ...] = ()
    step_outcomes: list | None = None
    use_cache: bool = True
    events_overrides: dict = field(default_factory=dict)
    scored: pd.DataFrame | None = None  # every scored document of the topic (all dates)
    documents: pd.DataFrame | None = None
    fits: dict = field(default_factory=dict)
    agreement: pd.DataFrame | None = None

    def scored_until(self) -> pd.DataFrame:
        if self.scored is None:
            from analytics.store import queries, session_scope

            with session_scope(self.settings.database_url) as session:
                self.scored = queries.scored_frame(session, self.topic.name,
                                                   self.topic.score_keys)
        return _until(self.scored, self.as_of, self.sources, self.outlets)

    def documents_until(self) -> pd.DataFrame:
        if self.documents is None:
            from analytics.store import queries, session_scope

            with session_scope(self.settings.database_url) as session:
                self.documents = queries.documents_frame(session, self.topic.name)
        return _until(self.documents, self.as_of, self.sources, self.outlets)

    def agreement_table(self) -> pd.DataFrame:
        if self.agreement is None:
            from analytics.store import session_scope
            from analytics.validate.agreement import agreement_per_score

            with session_scope(self.settings.database_url) as session:
                self.agreement = agreement_per_score(session, self.topic)
        return self.agreement

    def agreement_note(self, score: str) -> str:
        try:
            table = self.agreement_table()
        except Exception:  # agreement is context, never a reason to lose the alert
            return "Agreement unavailable."
        return str(table.loc[score, "note"]) if score in table.index else ""


def _until(frame: pd.DataFrame, as_of: dt.date, sources, outlets) -> pd.DataFrame:
    days = frame["published_at"].dt.date
    keep = (days <= as_of) & frame["source"].isin(sources)
    if outlets:
        keep &= frame["outlet"].isin(outlets)
    return frame[keep]


def _scores(topic: Topic, params: dict) -> list[str]:
    return topic.score_keys if params.get("score", "all") == "all" else [params["score"]]


def trend_fit(context: Context, score: str):
    """The turning-point fit of one score on the trailing window (shared by the rules)."""
    if score in context.fits:
        return context.fits[score]
    from analytics.trends import default_events_config, fit_trend, make_trend_data

    settings = context.settings
    start = context.as_of - dt.timedelta(days=settings.alerts.trend_window_days - 1)
    scored = context.scored_until()
    scored = scored[scored["published_at"].dt.date >= start]
    fit = None
    if score in scored and scored[score].notna().sum() >= MIN_TREND_DOCUMENTS:
        data = make_trend_data(scored, context.topic.name, score, start, context.as_of,
                               tuple(sorted(context.sources)))
        config = default_events_config(settings, **context.events_overrides)
        fit = fit_trend(data, config, None, settings, use_cache=context.use_cache)
    context.fits[score] = fit
    return fit


def _label(topic: Topic, score: str) -> str:
    return next((s.label for s in topic.scores if s.key == score), score)


def turning_points(rule_params: dict, context: Context) -> list[Finding]:
    out = []
    recent = context.as_of - dt.timedelta(days=context.settings.alerts.turning_point_recent_days)
    for score in _scores(context.topic, rule_params):
        fit = trend_fit(context, score)
        if fit is None:
            continue
        for event in fit.detected_changes().itertuples():
            day = pd.Timestamp(event.date).date()
            if day < recent or abs(event.size) < rule_params.get("min_size", 0.0):
                continue
            if rule_params["direction"] != "any" and event.direction != rule_params["direction"]:
                continue
            label = _label(context.topic, score)
            way = "fall" if event.direction == "down" else "rise"
            if event.kind == "shock":
                kind = "shock"
                lasting = ("a lasting step" if not np.isfinite(event.decay_days)
                           else f"fading over about {event.decay_days:.0f} days")
                size = (f"{event.size:+.2f} points (94% HDI {event.size_low:+.2f} to "
                        f"{event.size_high:+.2f})")
                what = (f"The trend model found a shock in “{label}” on {day:%d %b %Y}: "
                        f"{event.size:+.2f} points, {lasting}.")
            else:  # a kink: its size is the change of slope, in points per year
                kind = "turning point"
                size = (f"{event.size / 12:+.2f} points per month (94% HDI "
                        f"{event.size_low / 12:+.2f} to {event.size_high / 12:+.2f})")
                what = (f"The trend model found a turning point in “{label}” on "
                        f"{day:%d %b %Y}: from then on the trend changes by "
                        f"{event.size / 12:+.2f} points per month.")
            out.append(Finding(
                key=f"turning_point:{score}:{event.direction}", date=day,
                title=f"{label}: a {way} ({kind}) around {day:%d %b %Y}",
                what=what,
                facts=[("Size", size),
                       ("Date", f"{day} (90% between {pd.Timestamp(event.first).date()} and "
                                f"{pd.Timestamp(event.last).date()})"),
                       ("P(direction)", f"{event.p_direction:.0%}"),
                       ("Agreement", context.agreement_note(score)),
                       ("Model", f"{fit.form_label}, {fit.n_documents} documents "
                                 f"{fit.start} → {fit.end}")],
                event_date=day, score=score,
                details={"score": score, "date": str(day), "size": round(event.size, 3),
                         "size_low": round(event.size_low, 3),
                         "size_high": round(event.size_high, 3), "kind": event.kind,
                         "direction": event.direction}))
    return out


def probabilities(rule_params: dict, context: Context) -> list[Finding]:
    out = []
    which, threshold = rule_params["which"], rule_params["threshold"]
    for score in _scores(context.topic, rule_params):
        fit = trend_fit(context, score)
        if fit is None:
            continue
        p = fit.p_decline if which == "decline" else 1.0 - fit.p_decline
        if p < threshold:
            continue
        change = fit.change()
        label = _label(context.topic, score)
        events = fit.detected_changes()
        biggest = (events.iloc[events["size"].abs().argmax()] if not events.empty else None)
        out.append(Finding(
            key=f"probability:{which}:{score}", date=None,
            title=f"{label}: P({which}) = {p:.0%} (threshold {threshold:.0%})",
            what=(f"{label} changed by {change['mean']:+.2f} points from {fit.start:%d %b} "
                  f"to {fit.end:%d %b %Y}; the probability of a {which} is now {p:.0%}, "
                  f"at or above the rule's {threshold:.0%}."),
            facts=[("Change", f"{change['mean']:+.2f} points (94% HDI "
                              f"{change['hdi_low']:+.2f} to {change['hdi_high']:+.2f})"),
                   (f"P({which})", f"{p:.1%}"),
                   ("Agreement", context.agreement_note(score)),
                   ("Model", f"{fit.form_label}, {fit.n_documents} documents")],
            event_date=(pd.Timestamp(biggest["date"]).date() if biggest is not None
                        else context.as_of),
            score=score,
            details={"score": score, "p": round(p, 4), "threshold": threshold,
                     "change": round(change["mean"], 3),
                     "change_low": round(change["hdi_low"], 3),
                     "change_high": round(change["hdi_high"], 3)}))
    return out


def volume_test(baseline: np.ndarray, observed: int, recent_days: int) -> dict:
    """Tail probabilities of ``observed`` documents in ``recent_days`` days under a negative
    binomial (or Poisson) fitted to the baseline's daily counts (see the module doc)."""
    from scipy import stats

    mean = float(np.mean(baseline))
    var = float(np.var(baseline, ddof=1)) if len(baseline) > 1 else mean
    expected = mean * recent_days
    if var > mean * 1.0001:
        size = mean * mean / (var - mean)
        dist = stats.nbinom(size * recent_days, size / (size + mean))
        model = "negative binomial"
    else:
        dist = stats.poisson(expected)
        model = "Poisson"
    return {"expected": expected, "observed": int(observed),
            "p_spike": float(dist.sf(observed - 1)), "p_drop": float(dist.cdf(observed)),
            "model": model, "baseline_mean": mean, "baseline_var": var,
            "interval": tuple(float(x) for x in dist.interval(0.95))}


def volumes(rule_params: dict, context: Context) -> list[Finding]:
    by, recent_days = rule_params["by"], rule_params["recent_days"]
    baseline_days = rule_params["baseline_days"]
    directions = ["spike", "drop"] if rule_params["direction"] == "both" \
        else [rule_params["direction"]]
    docs = context.documents_until()
    if docs.empty:
        return []
    first_recent = context.as_of - dt.timedelta(days=recent_days - 1)
    first_base = first_recent - dt.timedelta(days=baseline_days)
    days = docs["published_at"].dt.date
    window = docs[(days >= first_base) & (days <= context.as_of)]
    group = window["outlet"].fillna("(unknown)") if by == "outlet" else window["source"]
    counts = (pd.crosstab(group, window["published_at"].dt.date)
              .reindex(columns=pd.date_range(first_base, context.as_of).date, fill_value=0))
    earliest = days.min()
    if earliest > first_base:  # not enough history for a baseline yet
        return []
    base_cols = counts.columns[:baseline_days]
    tested = [(name, row) for name, row in counts.iterrows()
              if row[base_cols].sum() >= MIN_BASELINE_DOCUMENTS]
    if not tested:
        return []
    level = rule_params["alpha"] / (len(tested) * len(directions))
    out = []
    for name, row in tested:
        result = volume_test(row[base_cols].to_numpy(float), int(row.iloc[baseline_days:].sum()),
                             recent_days)
        for direction in directions:
            p = result["p_spike" if direction == "spike" else "p_drop"]
            if p >= level:
                continue
            ratio = result["observed"] / result["expected"] if result["expected"] else np.inf
            what_group = "outlet" if by == "outlet" else "source"
            low, high = result["interval"]
            out.append(Finding(
                key=f"volume:{direction}:{by}:{name}", date=first_recent,
                title=f"Volume {direction} in {what_group} {name}: {result['observed']} "
                      f"documents in {recent_days} day(s), {result['expected']:.1f} expected",
                what=(f"{what_group.capitalize()} {name} published {result['observed']} "
                      f"documents from {first_recent:%d %b} to {context.as_of:%d %b %Y}, "
                      f"{ratio:.1f}× its baseline of {result['baseline_mean']:.2f} per day over "
                      f"the {baseline_days} days before."),
                facts=[("Expected", f"{result['expected']:.1f} documents (95% range "
                                    f"{low:.0f}–{high:.0f}, {result['model']})"),
                       ("Tail probability", f"{p:.2g} (reported below {level:.2g}: alpha "
                                            f"{rule_params['alpha']:g} / {len(tested)} groups "
                                            f"× {len(directions)} direction(s))")],
                event_date=first_recent,
                details={"group": str(name), "by": by, "direction": direction, "p": p,
                         "level": level, "observed": result["observed"],
                         "expected": round(result["expected"], 3), "model": result["model"]}))
    return out


def agreement(rule_params: dict, context: Context) -> list[Finding]:
    table = context.agreement_table()
    out = []
    for score in _scores(context.topic, rule_params):
        if score not in table.index:
            continue
        row = table.loc[score]
        alpha = float(row["alpha"]) if pd.notna(row.get("alpha")) else float("nan")
        if not np.isfinite(alpha) or alpha >= rule_params["threshold"]:
            continue
        label = _label(context.topic, score)
        out.append(Finding(
            key=f"agreement:{score}", date=None,
            title=f"{label}: agreement α = {alpha:.2f}, below {rule_params['threshold']:.2f}",
            what=(f"Human and machine scores of “{label}” agree less than the rule "
                  f"allows: α = {alpha:.2f} on {int(row['pairs'])} coded documents "
                  f"(threshold {rule_params['threshold']:.2f})."),
            facts=[("Agreement", str(row["note"]))], score=score,
            details={"score": score, "alpha": round(alpha, 4), "pairs": int(row["pairs"]),
                     "threshold": rule_params["threshold"]}))
    return out


def step_failures(rule_params: dict, context: Context) -> list[Finding]:
    out = []
    for outcome in context.step_outcomes or []:
        if outcome.ok or rule_params["step"] not in ("any", outcome.name):
            continue
        out.append(Finding(
            key=f"step_failed:{outcome.name}", date=None,
            title=f"Scheduled run: step '{outcome.name}' failed",
            what=f"The scheduled run's step '{outcome.name}' failed: {outcome.text}",
            details={"step": outcome.name}))
    return out


CONDITIONS = {"turning_point": turning_points, "probability": probabilities,
              "volume": volumes, "agreement": agreement, "step_failed": step_failures}
