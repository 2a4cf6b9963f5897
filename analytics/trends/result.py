"""What a fit shows: the posterior summarised into plain tables (``TrendFit``), the
trend lines with their bands, the changepoint events, and the sampler diagnostics."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from analytics import __version__
from analytics.trends.config import (
    DAYS_PER_YEAR,
    EVENT_PROBABILITY,
    HDI_PROB,
    ModelConfig,
    SamplerConfig,
)
from analytics.trends.data import (
    TrendData,
    candidate_count,
    changepoint_times,
    hat_weights,
    knot_times,
)


@dataclass
class Diagnostics:
    max_r_hat: float
    min_ess_bulk: float
    divergences: int
    draws: int
    chains: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def plain_words(self) -> str:
        if self.ok:
            return (f"The sampler converged (R-hat ≤ {self.max_r_hat:.3f}, at least "
                    f"{self.min_ess_bulk:.0f} effective draws, no divergences): the bands can "
                    "be read as stated.")
        return "The sampler had trouble; treat with care: " + "; ".join(self.problems) + "."


# TrendFit's tables and their date columns (for the JSON sidecar)
TABLES = {"summary": (), "line": ("day",), "changepoints": ("date",),
          "events": ("date", "date_mean", "first", "last")}


@dataclass
class TrendFit:
    """Everything a page, report or CLI shows about one fit — plain data, JSON-able."""

    key: str
    topic: str
    score: str
    form: str
    start: dt.date
    end: dt.date
    sources: tuple[str, ...]
    requested_sources: tuple[str, ...]
    n_documents: int
    n_rows: int
    model_config: dict
    sampler_config: dict
    versions: dict
    created_at: str
    timings: dict
    p_decline: float
    p_decline_by_source: dict
    diagnostics: Diagnostics
    summary: pd.DataFrame  # parameter, source, mean, sd, hdi_low, hdi_high, r_hat, ess_bulk
    line: pd.DataFrame  # day, source ('all' = pooled), mean, low, high, pred_low, pred_high
    changepoints: pd.DataFrame  # per candidate date: slope change, share of change, event
    events: pd.DataFrame  # runs of same-direction change; ``detected`` when HDI excludes 0
    slope_draws: np.ndarray
    from_cache: bool = False
    stale: bool = False  # loaded for a view whose data have changed since the fit

    def slope(self, source: str = "all") -> dict:
        pooled = "average_slope" if self.model_config["per_source_slopes"] else "slope"
        name = pooled if source == "all" else "source_slope"
        rows = self.summary[(self.summary["parameter"] == name)
                            & (self.summary["source"] == ("" if source == "all" else source))]
        return rows.iloc[0].to_dict() if not rows.empty else {}

    def detected_changes(self) -> pd.DataFrame:
        """The dated turns the data insist on (empty for the linear form)."""
        return self.events[self.events["detected"].astype(bool)].reset_index(drop=True)

    def explain(self) -> list[str]:
        config = ModelConfig(**self.model_config)
        sampler = SamplerConfig(**self.sampler_config)
        lines = config.describe()
        lines.append(f"Sampler: {sampler.sampler}, {sampler.chains} chains × {sampler.draws} "
                     f"draws after {sampler.tune} tuning steps, seed {sampler.seed}.")
        lines.append(f"Fitted {self.created_at} on {self.n_documents} documents "
                     f"({self.n_rows} weighted rows), {self.start} → {self.end}, sources "
                     f"{', '.join(self.sources)}; software " +
                     ", ".join(f"{k} {v}" for k, v in self.versions.items()) + ".")
        return lines

    def to_json(self) -> dict:
        payload = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                   if f.name not in ("from_cache", "stale")}
        payload.update(start=str(self.start), end=str(self.end), diagnostics=asdict(
            self.diagnostics), slope_draws=np.round(self.slope_draws, 5).tolist())
        for name in TABLES:
            payload[name] = json.loads(getattr(self, name).to_json(orient="split",
                                                                   date_format="iso"))
        return payload

    @classmethod
    def from_json(cls, payload: dict) -> TrendFit:
        values = dict(payload)
        values.pop("view", None)  # the cache's own bookkeeping
        values["start"] = dt.date.fromisoformat(payload["start"])
        values["end"] = dt.date.fromisoformat(payload["end"])
        values["sources"] = tuple(payload["sources"])
        values["requested_sources"] = tuple(payload["requested_sources"])
        values["diagnostics"] = Diagnostics(**payload["diagnostics"])
        values["slope_draws"] = np.asarray(payload["slope_draws"], float)
        for name, dates in TABLES.items():
            split = payload[name]
            frame = pd.DataFrame(split["data"], columns=split["columns"])
            for column in dates:
                frame[column] = pd.to_datetime(frame[column])
            values[name] = frame
        return cls(**values)


def hdi_bounds(draws: np.ndarray, prob: float = HDI_PROB) -> tuple[np.ndarray, np.ndarray]:
    """Narrowest interval holding ``prob`` of the draws, per column (draws on axis 0)."""
    ordered = np.sort(draws, axis=0)
    n = ordered.shape[0]
    keep = max(1, math.floor(prob * n))
    widths = ordered[keep:] - ordered[: n - keep]
    first = np.argmin(widths, axis=0)
    columns = np.arange(ordered.shape[1]) if ordered.ndim > 1 else None
    if columns is None:
        return ordered[first], ordered[first + keep]
    return ordered[first, columns], ordered[first + keep, columns]


def stack(idata, name: str) -> np.ndarray:
    values = idata.posterior[name].values
    return values.reshape(-1, *values.shape[2:])


def _source_weights(data: TrendData) -> np.ndarray:
    return np.bincount(data.source, minlength=len(data.sources)) / max(data.n_documents, 1)


def add_derived(idata, data: TrendData, config: ModelConfig) -> None:
    """Reportable quantities. 'Pooled' means all documents together: the sources' lines
    averaged with their document shares (well identified), not the hyper-mean ``level``
    (the level of a hypothetical new source, uncertain with only a few sources).

    In the changepoint form ``slope`` is the net change per year between the window's first
    and last day; ``start_slope``/``end_slope`` are the first and last segments' slopes.
    """
    import xarray as xr

    post = idata.posterior.assign_coords(source=list(data.sources))
    weights = xr.DataArray(_source_weights(data), dims="source",
                           coords={"source": list(data.sources)})
    if config.form == "changepoint":
        knots = post["knot_value"]
        gaps = np.diff(knot_times(data, candidate_count(data, config)))
        post["slope"] = (knots.isel(knot=-1) - knots.isel(knot=0)) / data.window_years
        post["start_slope"] = (knots.isel(knot=1) - knots.isel(knot=0)) / gaps[0]
        post["end_slope"] = (knots.isel(knot=-1) - knots.isel(knot=-2)) / gaps[-1]
        post["source_intercept"] = post["source_level"] + knots.isel(knot=0)
    else:
        slope = post["source_slope"] if config.per_source_slopes else post["slope"]
        post["source_intercept"] = post["source_level"] - slope * data.window_years / 2
    post["intercept"] = (post["source_intercept"] * weights).sum("source")
    if config.per_source_slopes:
        post["average_slope"] = (post["source_slope"] * weights).sum("source")
    idata.posterior = post


def pooled_slope(idata, config: ModelConfig) -> np.ndarray:
    return stack(idata, "average_slope" if config.per_source_slopes else "slope")


def _sampled_names(config: ModelConfig) -> list[str]:
    names = ["level", "source_sd", "source_offset", "sigma"]
    names += ["nu"] if config.likelihood == "student_t" else []
    if config.form == "changepoint":
        return [*names, "knot_value"]
    names += ["slope"]
    extra = ["source_slope_deviation", "source_slope_sd"] if config.per_source_slopes else []
    return names + extra


def summary_table(idata, config: ModelConfig) -> pd.DataFrame:
    import arviz as az

    names = ["slope", "intercept", "level", "source_intercept", "source_offset", "source_sd",
             "sigma"]
    if config.likelihood == "student_t":
        names.append("nu")
    if config.per_source_slopes:
        names += ["average_slope", "source_slope", "source_slope_sd"]
    if config.form == "changepoint":
        names += ["start_slope", "end_slope"]
    table = az.summary(idata, var_names=names, hdi_prob=HDI_PROB)
    rows = []
    for label, row in table.iterrows():
        parameter, _, source = str(label).partition("[")
        rows.append({"parameter": parameter, "source": source.rstrip("]"),
                     "mean": row["mean"], "sd": row["sd"], "hdi_low": row["hdi_3%"],
                     "hdi_high": row["hdi_97%"], "r_hat": row["r_hat"],
                     "ess_bulk": row["ess_bulk"]})
    return pd.DataFrame(rows)


def diagnose(idata, config: ModelConfig,
                 sampler: SamplerConfig) -> Diagnostics:
    """Over every sampled parameter (R-hat, bulk ESS) and the sampler's divergences."""
    import arviz as az

    names = _sampled_names(config)
    posterior = idata.posterior[names]
    r_hat = float(az.rhat(posterior).to_array().max())
    ess = float(az.ess(posterior, method="bulk").to_array().min())
    divergences = int(idata.sample_stats["diverging"].values.sum())
    problems = []
    if not r_hat <= 1.01:
        problems.append(f"chains disagree (R-hat {r_hat:.3f} > 1.01)")
    if not ess >= 400:
        problems.append(f"few effective draws (bulk ESS {ess:.0f} < 400)")
    if divergences:
        problems.append(f"{divergences} divergent transition(s)")
    return Diagnostics(round(r_hat, 4), round(ess, 1), divergences, sampler.draws,
                       sampler.chains, problems)


def _grid(data: TrendData) -> tuple[pd.DatetimeIndex, np.ndarray]:
    days = (data.end - data.start).days
    offsets = np.unique(np.linspace(0, days, min(days + 1, 200)).round().astype(int))
    dates = pd.DatetimeIndex([pd.Timestamp(data.start) + pd.Timedelta(days=int(d))
                              for d in offsets])
    return dates, (offsets + 0.5) / DAYS_PER_YEAR


def trend_lines(idata, data: TrendData, config: ModelConfig,
                 seed: int) -> pd.DataFrame:
    """Mean, 94% HDI of the trend and 94% posterior predictive band, pooled and per source."""
    dates, t = _grid(data)
    if config.form == "changepoint":
        segment, position = hat_weights(t, knot_times(data, candidate_count(data, config)))
        knots = stack(idata, "knot_value")
        trend = (1 - position) * knots[:, segment] + position * knots[:, segment + 1]
        slope = np.zeros((knots.shape[0], 1))
    else:
        slope = stack(idata, "slope")[:, None]
        trend = slope * (t - data.window_years / 2)
    sigma = stack(idata, "sigma")  # (draws, sources)
    rng = np.random.default_rng(seed)
    if config.likelihood == "student_t":
        noise = rng.standard_t(stack(idata, "nu")[:, None], size=(sigma.shape[0], t.size))
    else:
        noise = rng.standard_normal((sigma.shape[0], t.size))
    weights = _source_weights(data)
    # The pooled predictive band is for a document of a random source (by document share).
    picked = rng.choice(len(data.sources), size=(sigma.shape[0], t.size), p=weights)
    source_level = stack(idata, "source_level")
    source_slope = stack(idata, "source_slope") if config.per_source_slopes else None
    lines = {}
    for i, name in enumerate(data.sources):
        own = 0.0 if source_slope is None else (source_slope[:, i:i + 1] - slope) * (
            t - data.window_years / 2)
        lines[name] = source_level[:, i:i + 1] + trend + own
    stacked = np.stack(list(lines.values()))  # (sources, draws, grid)
    lines = {"all": np.tensordot(weights, stacked, axes=1)} | lines
    scale = {"all": np.take_along_axis(sigma, picked, axis=1)} | {
        name: sigma[:, i:i + 1] for i, name in enumerate(data.sources)}
    draw = np.arange(sigma.shape[0])[:, None]
    centre = {"all": stacked[picked, draw, np.arange(t.size)[None, :]]} | lines
    frames = []
    for name, mu in lines.items():
        low, high = hdi_bounds(mu)
        pred_low, pred_high = hdi_bounds(centre[name] + scale[name] * noise)
        frames.append(pd.DataFrame({"day": dates, "source": name, "mean": mu.mean(axis=0),
                                    "low": low, "high": high, "pred_low": pred_low,
                                    "pred_high": pred_high}))
    return pd.concat(frames, ignore_index=True)


CANDIDATE_COLUMNS = ["date", "change_mean", "change_low", "change_high", "p_decrease",
                     "share", "event"]
EVENT_COLUMNS = ["date", "date_probability", "date_mean", "direction", "first", "last",
                 "slope_change", "change_low", "change_high", "share", "p_direction", "detected"]
# An event is reported when the posterior probability of its direction is at least this.
# Stricter than the 94% of the bands because ~20 runs per year are looked at: on simulated
# straight-line data, 94% flagged about one spurious turn per year, 99% none.


def changepoint_tables(idata, data: TrendData,
                        config: ModelConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per candidate date: the change of the slope (points per year) and its share of all
    change; and the change events built from them."""
    if config.form != "changepoint":
        return pd.DataFrame(columns=CANDIDATE_COLUMNS), pd.DataFrame(columns=EVENT_COLUMNS)
    change = stack(idata, "slope_change")
    size = np.abs(change)
    # Posterior mean share of all slope change at each date: where the trend turned.
    share = (size / np.clip(size.sum(axis=1, keepdims=True), 1e-12, None)).mean(axis=0)
    low, high = hdi_bounds(change)
    taus = changepoint_times(data, candidate_count(data, config))
    dates = pd.DatetimeIndex([pd.Timestamp(data.start) + pd.Timedelta(
        days=float(t * DAYS_PER_YEAR)) for t in taus]).normalize()
    events, membership = change_events(change, dates, share)
    candidates = pd.DataFrame({
        "date": dates, "change_mean": change.mean(axis=0), "change_low": low,
        "change_high": high, "p_decrease": (change < 0).mean(axis=0), "share": share,
        "event": membership})
    return candidates, events


def change_events(change: np.ndarray, dates: pd.DatetimeIndex,
                  share: np.ndarray) -> tuple[pd.DataFrame, list[int]]:
    """Runs of neighbouring candidates whose slope changes go the same way, as events.

    The shrinkage prior often spreads one turn over two or three neighbouring candidates,
    none of which is decisive alone, while their sum is. An event is a run of consecutive
    candidates with the same sign of posterior mean change; it is *detected* when the
    posterior probability that its summed change goes that way is ≥ EVENT_PROBABILITY.
    Its date comes from a posterior over the run's dates: in each draw, the candidate with
    the largest change in the event's direction; ``date`` is the most probable one
    (``date_probability``), ``date_mean`` the expected one; first/last give the span.
    Returns the events and, per candidate, the index of its event.
    """
    sign = np.sign(change.mean(axis=0))
    runs: list[list[int]] = []
    for i, value in enumerate(sign):
        if runs and sign[runs[-1][-1]] == value:
            runs[-1].append(i)
        else:
            runs.append([i])
    rows, membership = [], [0] * len(sign)
    for number, run in enumerate(runs):
        total = change[:, run].sum(axis=1)
        low, high = hdi_bounds(total[:, None])
        direction = -1.0 if total.mean() < 0 else 1.0
        p_direction = (direction * total > 0).mean()
        strongest = np.argmax(direction * change[:, run], axis=1)
        probability = np.bincount(strongest, minlength=len(run)) / change.shape[0]
        rows.append({"date": dates[run[int(np.argmax(probability))]],
                     "date_probability": float(probability.max()),
                     "date_mean": pd.Timestamp(int(np.dot(dates[run].asi8, probability))
                                               ).normalize(),
                     "direction": "down" if direction < 0 else "up",
                     "first": dates[run[0]], "last": dates[run[-1]],
                     "slope_change": float(total.mean()), "change_low": float(low[0]),
                     "change_high": float(high[0]), "share": float(share[run].sum()),
                     "p_direction": float(p_direction),
                     "detected": bool(p_direction >= EVENT_PROBABILITY)})
        for i in run:
            membership[i] = number
    return pd.DataFrame(rows, columns=EVENT_COLUMNS), membership


def software_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"analytics": __version__}
    for package in ("pymc", "pytensor", "nutpie", "arviz"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "absent"
    return found
