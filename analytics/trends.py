"""Bayesian trend lines of the opinion scores, with honest uncertainty (PyMC).

For one topic score, every document that addressed it is one observation: its score (0–10),
its time in years from the window start and its source. Two forms:

* ``linear``: score = level of the source (partially pooled around a shared level)
  + slope × time (optionally a partially pooled slope per source) + noise.
* ``changepoint``: the same plus a piecewise-linear part: at each of a handful of evenly
  spaced candidate dates the slope may change; a Laplace (lasso-like) prior shrinks the
  changes toward zero, so only changes the data insist on survive. The posterior share of
  slope change per candidate date says where the trend turned.

Noise is Student-t (robust to outlying documents) or Normal. Priors are weakly informative
and stated on the 0–10 scale (see ``ModelConfig``).

Speed without changing the answer: documents are compressed to weighted rows before
sampling. Time is binned (at most ``time_bins`` bins per window; each row keeps the mean
time of its documents, so a linear trend is unaffected). With a Normal likelihood the rows
are exact sufficient statistics per (time bin, source): count, mean, within sum of squares.
With Student-t noise documents are grouped by (time bin, source, score rounded to
``score_resolution``) and weighted by their count — exact for scores on that grid (LLM
integer scores), a rounding of at most half a step otherwise. The row count is bounded by
bins × sources × score levels whatever the number of documents, so 100k documents sample
as fast as 10k. The model is compiled once per shape (nutpie, numba) and reused for every
fit of that shape through ``with_data``; PyMC's own NUTS is kept as an option.

Fits are cached on disk under ``<data_dir>/trends``: the ArviZ InferenceData (netcdf; its
attributes hold the model and sampler configuration and software versions, and a
``fit_data`` group holds the rows it was fitted on) plus a JSON sidecar with everything the
pages, reports and CLI show. The key is a hash of the input data and the configuration, so
an unchanged corpus is never sampled twice. Heavy libraries are imported inside functions.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from analytics import __version__
from analytics.config import Settings, Topic, get_settings

MODEL_REVISION = 1  # bump when the model's meaning changes: part of every cache key
HDI_PROB = 0.94
DAYS_PER_YEAR = 365.25
FORMS = ("linear", "changepoint")
DEFAULT_SOURCES = ("news", "youtube", "reddit")  # the sidebar's sources, in its order
Progress = Callable[[str, float], None]  # (stage message, fraction of this fit done)


# --- configuration -------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelConfig:
    """The model and its priors, on the 0–10 score scale. Stored with every fit."""

    form: Literal["linear", "changepoint"] = "linear"
    likelihood: Literal["student_t", "normal"] = "student_t"
    per_source_slopes: bool = False
    changepoint_spacing_days: float = 12.0  # candidates every ~12 days: turns dated to ±~12 d
    max_changepoints: int = 40
    time_bins: int = 60
    score_resolution: float = 0.25
    level_mu: float = 5.0  # shared level at the window's middle ~ Normal(5, 2.5): anywhere on 0–10
    level_sd: float = 2.5
    slope_sd_per_window: float = 5.0  # slope ~ Normal(0, 5 points per window length)
    source_sd: float = 0.5  # spread of source levels ~ Gamma(2, 2 / 0.5): mean 0.5 point
    source_slope_sd_share: float = 0.5  # spread of source slopes: mean 0.5 × slope prior sd
    changepoint_scale_share: float = 2.0  # slope change ~ Laplace(0, 2 × slope prior sd)
    changepoint_prior: Literal["laplace", "student_t"] = "laplace"
    changepoint_nu: float = 1.0
    sigma_sd: float = 2.5  # document noise ~ HalfNormal(2.5 points)
    nu_alpha: float = 2.0  # Student-t degrees of freedom ~ Gamma(2, 0.1) (mean 20)
    nu_beta: float = 0.1

    def __post_init__(self) -> None:
        if self.form == "changepoint" and self.per_source_slopes:
            # The changepoint form has one shared shape; per-source slopes do not apply.
            object.__setattr__(self, "per_source_slopes", False)

    def structure(self, n_sources: int, n_candidates: int) -> tuple:
        """What fixes the compiled model's shape; data and window enter as pm.Data."""
        return (self.form, self.likelihood, self.per_source_slopes, n_sources,
                n_candidates if self.form == "changepoint" else 0, self.level_mu,
                self.level_sd, self.source_sd, self.source_slope_sd_share,
                self.changepoint_scale_share, self.changepoint_prior, self.changepoint_nu,
                self.sigma_sd, self.nu_alpha, self.nu_beta)

    def describe(self) -> list[str]:
        """The model in plain sentences (for the page's 'explain this fit')."""
        noise = ("Student-t (robust: a few extreme documents barely move the line), "
                 f"degrees of freedom ~ Gamma({self.nu_alpha}, {self.nu_beta})"
                 if self.likelihood == "student_t" else "Normal")
        shape = ("piecewise-linear: its slope may change at candidate dates"
                 if self.form == "changepoint" else "a straight line")
        lines = [
            f"Each document's score = its source's level + a trend over time ({shape})"
            f"{' with a per-source slope' if self.per_source_slopes else ''} + noise.",
            f"Noise: {noise}; one scale per source ~ HalfNormal({self.sigma_sd}).",
            f"Mean level of the sources ~ Normal({self.level_mu}, {self.level_sd}); source "
            f"offsets (summing to zero) ~ Normal(0, spread), spread ~ Gamma(2, mean "
            f"{self.source_sd}) — partial pooling across sources.",
            f"Slope (points per year) ~ Normal(0, {self.slope_sd_per_window} points per window "
            "length): the trend may move the score by several points across the window, "
            "rarely by more than 10.",
        ]
        if self.per_source_slopes:
            lines.append("Source slopes = slope + zero-sum deviations ~ Normal(0, spread), "
                         f"spread ~ Gamma(2, mean {self.source_slope_sd_share} × slope sd).")
        if self.form == "changepoint":
            lines.append(f"Candidate dates every ~{self.changepoint_spacing_days:g} days (at "
                         f"most {self.max_changepoints}); the slope change at each ~ Laplace(0, "
                         f"{self.changepoint_scale_share} × slope prior sd), which shrinks "
                         "changes the data do not support toward 0. A turn is reported when "
                         f"its direction has ≥ {EVENT_PROBABILITY:.0%} posterior probability.")
        lines.append(f"Documents are compressed to weighted rows: at most {self.time_bins} time "
                     f"bins per window; scores rounded to {self.score_resolution} for the "
                     "Student-t likelihood (exact sufficient statistics for Normal).")
        return lines


@dataclass(frozen=True)
class SamplerConfig:
    """How the posterior is sampled. Stored with every fit."""

    sampler: Literal["nutpie", "pymc"] = "nutpie"
    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    seed: int = 20260101
    target_accept: float = 0.9
    # nutpie's low-rank mass matrix adapts to the correlated knot values of the changepoint
    # form (about half the leapfrog steps there); plain diagonal adaptation elsewhere.
    low_rank_mass_matrix: bool = False


def default_model_config(settings: Settings | None = None, **overrides: Any) -> ModelConfig:
    settings = settings or get_settings()
    base = ModelConfig(likelihood=settings.trend_likelihood,
                       per_source_slopes=settings.trend_per_source_slopes,
                       changepoint_spacing_days=settings.trend_changepoint_spacing_days,
                       time_bins=settings.trend_time_bins,
                       score_resolution=settings.trend_score_resolution)
    return dataclasses.replace(base, **overrides)


def default_sampler_config(settings: Settings | None = None, form: str = "linear",
                           **overrides: Any) -> SamplerConfig:
    settings = settings or get_settings()
    base = SamplerConfig(sampler=settings.trend_sampler, draws=settings.trend_draws,
                         tune=settings.trend_tune, chains=settings.trend_chains,
                         low_rank_mass_matrix=form == "changepoint")
    return dataclasses.replace(base, **overrides)


# --- input data ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendData:
    """The observations of one score in one window: one entry per document."""

    topic: str
    score: str
    start: dt.date
    end: dt.date
    sources: tuple[str, ...]  # sources present in the data, in this order (model index)
    requested_sources: tuple[str, ...]
    t: np.ndarray  # years since the window start (exact publication time)
    source: np.ndarray  # index into ``sources``
    y: np.ndarray  # the score, 0–10

    @property
    def n_documents(self) -> int:
        return int(self.y.size)

    @property
    def window_years(self) -> float:
        return ((self.end - self.start).days + 1) / DAYS_PER_YEAR

    def digest(self) -> str:
        order = np.lexsort((self.y, self.source, self.t))
        hasher = hashlib.sha256()
        for array in (self.t[order], self.source[order].astype(np.int64), self.y[order]):
            hasher.update(np.ascontiguousarray(array).tobytes())
        hasher.update(json.dumps([self.topic, self.score, str(self.start), str(self.end),
                                  self.sources, self.requested_sources]).encode())
        return hasher.hexdigest()


def make_trend_data(scored: pd.DataFrame, topic: str, score: str,
                    start: dt.date | None = None, end: dt.date | None = None,
                    requested_sources: Sequence[str] = ()) -> TrendData:
    """From ``queries.scored_frame`` output (published_at, source, score columns)."""
    frame = scored[["published_at", "source", score]].dropna(subset=[score])
    when = pd.to_datetime(frame["published_at"], utc=True)
    if frame.empty:
        raise ValueError(f"No document has a '{score}' score in this window.")
    start = start or when.min().date()
    end = end or when.max().date()
    origin = pd.Timestamp(start, tz="UTC")
    sources = tuple(sorted(frame["source"].unique()))
    return TrendData(
        topic=topic, score=score, start=start, end=end, sources=sources,
        requested_sources=tuple(sorted(requested_sources or sources)),
        t=((when - origin).dt.total_seconds() / 86400.0 / DAYS_PER_YEAR).to_numpy(float),
        source=frame["source"].map({s: i for i, s in enumerate(sources)}).to_numpy(np.int64),
        y=frame[score].to_numpy(float),
    )


def compress(data: TrendData, config: ModelConfig) -> pd.DataFrame:
    """Weighted rows (t, src, y, w, ss) that give the same likelihood as the documents.

    Normal: per (time bin, source) the count w, mean score y and within sum of squares ss.
    Student-t: per (time bin, source, rounded score) the count w (ss = 0).
    Each row's t is the mean time of its documents.
    """
    window_days = data.window_years * DAYS_PER_YEAR
    bin_days = max(1.0, math.ceil(window_days / max(config.time_bins, 1)))
    frame = pd.DataFrame({"bin": np.floor(data.t * DAYS_PER_YEAR / bin_days).astype(np.int64),
                          "src": data.source, "t": data.t, "y": data.y})
    if config.likelihood == "normal":
        grouped = frame.groupby(["bin", "src"], sort=True)
        rows = grouped.agg(t=("t", "mean"), y=("y", "mean"), w=("y", "size")).reset_index()
        within = frame["y"] - grouped["y"].transform("mean")
        rows["ss"] = (within**2).groupby([frame["bin"], frame["src"]], sort=True).sum().to_numpy()
    else:
        if config.score_resolution > 0:
            frame["y"] = np.round(frame["y"] / config.score_resolution) * config.score_resolution
        rows = (frame.groupby(["bin", "src", "y"], sort=True)
                .agg(t=("t", "mean"), w=("y", "size")).reset_index())
        rows["ss"] = 0.0
    rows["w"] = rows["w"].astype(float)
    return rows[["t", "src", "y", "w", "ss"]]


def candidate_count(data: TrendData, config: ModelConfig) -> int:
    """How many candidate dates fit the window at the configured spacing."""
    days = data.window_years * DAYS_PER_YEAR
    wanted = math.ceil(days / config.changepoint_spacing_days) - 1
    return int(min(config.max_changepoints, max(2, wanted)))


def changepoint_times(data: TrendData, n_changepoints: int) -> np.ndarray:
    """Candidate dates (years since start), evenly spaced strictly inside the window."""
    return knot_times(data, n_changepoints)[1:-1]


def knot_times(data: TrendData, n_changepoints: int) -> np.ndarray:
    """The window's first and last day plus the candidate dates, in years."""
    return np.linspace(0, data.window_years, n_changepoints + 2)


def hat_weights(t: np.ndarray, knots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Segment index and position inside it: h(t) = (1 - a) u[j] + a u[j + 1]."""
    segment = np.clip(np.searchsorted(knots, t, side="right") - 1, 0, knots.size - 2)
    position = (t - knots[segment]) / (knots[segment + 1] - knots[segment])
    return segment.astype(np.int64), position


# --- the model -------------------------------------------------------------------------------


def _model_inputs(data: TrendData, rows: pd.DataFrame, config: ModelConfig) -> dict[str, Any]:
    inputs = {
        "t": rows["t"].to_numpy(float), "src": rows["src"].to_numpy(np.int64),
        "y": rows["y"].to_numpy(float), "w": rows["w"].to_numpy(float),
        "ss": rows["ss"].to_numpy(float),
        "t_mid": np.array(data.window_years / 2), "slope_sd":
            np.array(config.slope_sd_per_window / data.window_years),
    }
    if config.form == "changepoint":
        knots = knot_times(data, candidate_count(data, config))
        inputs["segment"], inputs["position"] = hat_weights(inputs["t"], knots)
        inputs["knot_gap"] = np.diff(knots)
    return inputs


def _linear_mean(data: dict, config: ModelConfig, source_level):
    import pymc as pm

    t, src, t_mid, slope_sd = data["t"], data["src"], data["t_mid"], data["slope_sd"]
    slope = pm.Normal("slope", 0.0, slope_sd)
    if config.per_source_slopes:
        spread = pm.Gamma("source_slope_sd", alpha=2.0,
                          beta=2.0 / (config.source_slope_sd_share * slope_sd))
        deviation = pm.ZeroSumNormal("source_slope_deviation", sigma=spread, dims="source")
        source_slope = pm.Deterministic("source_slope", slope + deviation, dims="source")
        return source_level[src] + source_slope[src] * (t - t_mid)
    return source_level[src] + slope * (t - t_mid)


def _piecewise_mean(data: dict, config: ModelConfig, source_level):
    """Piecewise-linear shape sampled as its values at the knots (a hat basis).

    Sampling the knot values instead of the slope changes themselves keeps the posterior
    nearly uncorrelated (each knot is informed by the documents around it), which NUTS
    handles far better than the strongly collinear hinge basis. The priors are the model's:
    the first segment's slope ~ Normal(0, slope sd) and every slope change ~ Laplace; the
    map from (slope, changes) to knot values is linear, so the density is the same model.
    Knot values sum to zero, so each source level is its mean level across the window.
    """
    import pymc as pm
    import pytensor.tensor as pt

    knots = pm.ZeroSumNormal("knot_value", sigma=10.0, dims="knot")  # ~flat on 0–10 scale
    segment_slope = (knots[1:] - knots[:-1]) / data["knot_gap"]
    change = segment_slope[1:] - segment_slope[:-1]
    pm.Deterministic("slope_change", change, dims="changepoint")
    pm.Potential("slope_prior", pm.logp(pm.Normal.dist(0.0, data["slope_sd"]), segment_slope[0]))
    scale = config.changepoint_scale_share * data["slope_sd"]
    if config.changepoint_prior == "laplace":
        prior = pm.Laplace.dist(0.0, scale)
    else:
        prior = pm.StudentT.dist(nu=config.changepoint_nu, mu=0.0, sigma=scale)
    pm.Potential("change_prior", pm.logp(prior, change).sum())
    segment, position = data["segment"], data["position"]
    shape = (1 - position) * knots[segment] + position * knots[segment + 1]
    return source_level[data["src"]] + pt.as_tensor(shape)


def build_model(inputs: dict[str, Any], config: ModelConfig, n_sources: int):
    """The PyMC model; every data-dependent number is a pm.Data so one compile serves all."""
    import pymc as pm
    import pytensor.tensor as pt

    coords = {"source": list(range(n_sources))}
    if config.form == "changepoint":
        n_candidates = len(inputs["knot_gap"]) - 1
        coords["knot"] = list(range(n_candidates + 2))
        coords["changepoint"] = list(range(n_candidates))
    with pm.Model(coords=coords) as model:
        data = {name: pm.Data(name, value) for name, value in inputs.items()}
        # Partial pooling of the source levels as zero-sum offsets around their mean, so the
        # mean and the offsets are each pinned by the data. The spread's prior is zero at
        # zero (Gamma(2, ·)): with three sources the data cannot tell a tiny spread from a
        # small one, and a HalfNormal let the sampler into the funnel (divergences on the
        # demo corpus, centred and non-centred alike).
        level = pm.Normal("level", config.level_mu, config.level_sd)
        source_sd = pm.Gamma("source_sd", alpha=2.0, beta=2.0 / config.source_sd)
        offset = pm.ZeroSumNormal("source_offset", sigma=source_sd, dims="source")
        source_level = pm.Deterministic("source_level", level + offset, dims="source")
        if config.form == "changepoint":
            mu = _piecewise_mean(data, config, source_level)
        else:
            mu = _linear_mean(data, config, source_level)
        # Each source has its own noise scale: comment-averaged YouTube/Reddit scores vary
        # less than single articles.
        sigma = pm.HalfNormal("sigma", config.sigma_sd, dims="source")[data["src"]]
        y, w = data["y"], data["w"]
        if config.likelihood == "normal":
            loglik = (-w * pt.log(sigma) - 0.5 * w * np.log(2 * np.pi)
                      - (data["ss"] + w * (y - mu) ** 2) / (2 * sigma**2))
        else:
            nu = pm.Gamma("nu", config.nu_alpha, config.nu_beta)
            loglik = w * pm.logp(pm.StudentT.dist(nu=nu, mu=mu, sigma=sigma), y)
        pm.Potential("loglik", loglik.sum())
    return model


_COMPILED: dict[tuple, Any] = {}  # structure -> nutpie compiled model (one per process)


def _nutpie_model(inputs: dict[str, Any], config: ModelConfig, n_sources: int,
                  progress: Progress) -> tuple[Any, float]:
    """The compiled model for this shape, with this data; compiles only the first time."""
    import nutpie

    key = config.structure(n_sources, len(inputs.get("knot_gap", ())))
    started = time.perf_counter()
    if key not in _COMPILED:
        progress("Compiling the model (first fit of this shape in this process)", 0.05)
        _COMPILED[key] = nutpie.compile_pymc_model(build_model(inputs, config, n_sources))
        return _COMPILED[key], time.perf_counter() - started
    compiled = _COMPILED[key]
    # Inputs the likelihood does not use (e.g. ss for Student-t) were optimised away.
    used = {name: value for name, value in inputs.items() if name in compiled.shared_data}
    return compiled.with_data(**used), time.perf_counter() - started


def sample_posterior(inputs: dict[str, Any], config: ModelConfig, sampler: SamplerConfig,
                     n_sources: int, progress: Progress) -> tuple[Any, dict[str, float]]:
    """Run the sampler; returns the InferenceData (posterior + sample_stats) and timings."""
    import os

    cores = min(sampler.chains, os.cpu_count() or 1)
    if sampler.sampler == "nutpie":
        import nutpie

        compiled, compile_s = _nutpie_model(inputs, config, n_sources, progress)
        progress("Sampling the posterior (nutpie)", 0.2)
        started = time.perf_counter()
        idata = nutpie.sample(compiled, draws=sampler.draws, tune=sampler.tune,
                              chains=sampler.chains, cores=cores, seed=sampler.seed,
                              target_accept=sampler.target_accept, save_warmup=False,
                              progress_bar=False,
                              low_rank_modified_mass_matrix=sampler.low_rank_mass_matrix)
        return idata, {"compile_s": compile_s, "sample_s": time.perf_counter() - started}
    import pymc as pm

    progress("Sampling the posterior (PyMC NUTS)", 0.2)
    started = time.perf_counter()
    with build_model(inputs, config, n_sources):
        idata = pm.sample(draws=sampler.draws, tune=sampler.tune, chains=sampler.chains,
                          cores=cores, random_seed=sampler.seed,
                          target_accept=sampler.target_accept, progressbar=False,
                          compute_convergence_checks=False)
    return idata, {"compile_s": 0.0, "sample_s": time.perf_counter() - started}


# --- results -----------------------------------------------------------------------------------


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


def _stack(idata, name: str) -> np.ndarray:
    values = idata.posterior[name].values
    return values.reshape(-1, *values.shape[2:])


def _source_weights(data: TrendData) -> np.ndarray:
    return np.bincount(data.source, minlength=len(data.sources)) / max(data.n_documents, 1)


def _add_derived(idata, data: TrendData, config: ModelConfig) -> None:
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


def _pooled_slope(idata, config: ModelConfig) -> np.ndarray:
    return _stack(idata, "average_slope" if config.per_source_slopes else "slope")


def _sampled_names(config: ModelConfig) -> list[str]:
    names = ["level", "source_sd", "source_offset", "sigma"]
    names += ["nu"] if config.likelihood == "student_t" else []
    if config.form == "changepoint":
        return [*names, "knot_value"]
    names += ["slope"]
    extra = ["source_slope_deviation", "source_slope_sd"] if config.per_source_slopes else []
    return names + extra


def _summary_table(idata, config: ModelConfig) -> pd.DataFrame:
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


def _diagnostics(idata, config: ModelConfig,
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


def _trend_lines(idata, data: TrendData, config: ModelConfig,
                 seed: int) -> pd.DataFrame:
    """Mean, 94% HDI of the trend and 94% posterior predictive band, pooled and per source."""
    dates, t = _grid(data)
    if config.form == "changepoint":
        segment, position = hat_weights(t, knot_times(data, candidate_count(data, config)))
        knots = _stack(idata, "knot_value")
        trend = (1 - position) * knots[:, segment] + position * knots[:, segment + 1]
        slope = np.zeros((knots.shape[0], 1))
    else:
        slope = _stack(idata, "slope")[:, None]
        trend = slope * (t - data.window_years / 2)
    sigma = _stack(idata, "sigma")  # (draws, sources)
    rng = np.random.default_rng(seed)
    if config.likelihood == "student_t":
        noise = rng.standard_t(_stack(idata, "nu")[:, None], size=(sigma.shape[0], t.size))
    else:
        noise = rng.standard_normal((sigma.shape[0], t.size))
    weights = _source_weights(data)
    # The pooled predictive band is for a document of a random source (by document share).
    picked = rng.choice(len(data.sources), size=(sigma.shape[0], t.size), p=weights)
    source_level = _stack(idata, "source_level")
    source_slope = _stack(idata, "source_slope") if config.per_source_slopes else None
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
EVENT_PROBABILITY = 0.99


def _changepoint_tables(idata, data: TrendData,
                        config: ModelConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per candidate date: the change of the slope (points per year) and its share of all
    change; and the change events built from them."""
    if config.form != "changepoint":
        return pd.DataFrame(columns=CANDIDATE_COLUMNS), pd.DataFrame(columns=EVENT_COLUMNS)
    change = _stack(idata, "slope_change")
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


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"analytics": __version__}
    for package in ("pymc", "pytensor", "nutpie", "arviz"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "absent"
    return found


# --- fitting and the cache ------------------------------------------------------------------


def fit_key(data: TrendData, config: ModelConfig, sampler: SamplerConfig) -> str:
    payload = json.dumps({"data": data.digest(), "model": asdict(config),
                          "sampler": asdict(sampler), "revision": MODEL_REVISION},
                         sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def cache_dir(settings: Settings | None = None) -> Path:
    return Path((settings or get_settings()).data_dir) / "trends"


def _paths(key: str, settings: Settings | None) -> tuple[Path, Path]:
    folder = cache_dir(settings)
    return folder / f"{key}.nc", folder / f"{key}.json"


def load_fit(key: str, settings: Settings | None = None) -> TrendFit | None:
    _, sidecar = _paths(key, settings)
    if not sidecar.is_file():
        return None
    fit = TrendFit.from_json(json.loads(sidecar.read_text(encoding="utf-8")))
    fit.from_cache = True
    return fit


def load_inference_data(key: str, settings: Settings | None = None):
    """The full posterior of a cached fit (ArviZ InferenceData), for deeper analysis."""
    import arviz as az

    netcdf, _ = _paths(key, settings)
    return az.from_netcdf(netcdf)


def find_fit(topic: str, score: str, form: str, start: dt.date | None, end: dt.date | None,
             sources: Sequence[str], key: str | None = None,
             settings: Settings | None = None) -> TrendFit | None:
    """The fit for this exact data (key), else the newest fit of the same view (stale=True)."""
    if key:
        exact = load_fit(key, settings)
        if exact is not None:
            return exact
    folder = cache_dir(settings)
    wanted = (topic, score, form, tuple(sorted(sources)))
    newest: tuple[str, Path] | None = None
    for path in folder.glob("*.json") if folder.is_dir() else ():
        head = _sidecar_head(path)
        if head is None or (head["topic"], head["score"], head["form"],
                            tuple(head["requested_sources"])) != wanted:
            continue
        if start is not None and (head["view_start"], head["view_end"]) != (str(start), str(end)):
            continue
        if start is None and head["view_start"] is not None:
            continue
        if newest is None or head["created_at"] > newest[0]:
            newest = (head["created_at"], path)
    if newest is None:
        return None
    fit = load_fit(newest[1].stem, settings)
    if fit is not None:
        fit.stale = key is not None
    return fit


def _sidecar_head(path: Path) -> dict | None:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        return {k: payload.get(k) for k in ("topic", "score", "form", "requested_sources",
                                            "created_at")} | payload.get("view", {})
    except (OSError, ValueError):
        return None


def _save(fit: TrendFit, idata, rows: pd.DataFrame, view: dict,
          settings: Settings | None) -> None:
    import xarray as xr

    netcdf, sidecar = _paths(fit.key, settings)
    netcdf.parent.mkdir(parents=True, exist_ok=True)
    idata.posterior.attrs.update({
        "model_config": json.dumps(fit.model_config), "sampler_config": json.dumps(
            fit.sampler_config), "versions": json.dumps(fit.versions), "key": fit.key,
        "topic": fit.topic, "score": fit.score, "window": f"{fit.start}/{fit.end}",
        "sources": json.dumps(list(fit.sources)), "created_at": fit.created_at})
    if "fit_data" not in idata.groups():
        idata.add_groups(fit_data=xr.Dataset.from_dataframe(rows.reset_index(drop=True)))
    temporary = netcdf.with_suffix(".nc.tmp")
    idata.to_netcdf(str(temporary))
    temporary.replace(netcdf)
    payload = fit.to_json() | {"view": view}
    temporary = sidecar.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(payload, default=str), encoding="utf-8")
    temporary.replace(sidecar)  # the sidecar last: its presence means the fit is complete


def fit_trend(data: TrendData, config: ModelConfig | None = None,
              sampler: SamplerConfig | None = None, settings: Settings | None = None,
              progress: Progress | None = None, use_cache: bool = True, refit: bool = False,
              view: dict | None = None) -> TrendFit:
    """The posterior of one score's trend: from the cache when the same fit exists.

    ``refit`` samples again and replaces the cached fit; ``use_cache=False`` neither reads
    nor writes the cache (benchmarks).
    """
    settings = settings or get_settings()
    config = config or default_model_config(settings)
    sampler = sampler or default_sampler_config(settings, config.form)
    progress = progress or (lambda _message, _fraction: None)
    key = fit_key(data, config, sampler)
    if use_cache and not refit and (cached := load_fit(key, settings)) is not None:
        progress("Loaded from cache", 1.0)
        return cached
    started = time.perf_counter()
    rows = compress(data, config)
    inputs = _model_inputs(data, rows, config)
    idata, timings = sample_posterior(inputs, config, sampler, len(data.sources), progress)
    progress("Summarising the posterior", 0.85)
    _add_derived(idata, data, config)
    slope = _pooled_slope(idata, config)
    by_source = {}
    if config.per_source_slopes:
        source_slope = _stack(idata, "source_slope")
        by_source = {s: float((source_slope[:, i] < 0).mean())
                     for i, s in enumerate(data.sources)}
    candidates, events = _changepoint_tables(idata, data, config)
    fit = TrendFit(
        key=key, topic=data.topic, score=data.score, form=config.form, start=data.start,
        end=data.end, sources=data.sources, requested_sources=data.requested_sources,
        n_documents=data.n_documents, n_rows=len(rows), model_config=asdict(config),
        sampler_config=asdict(sampler), versions=_versions(),
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        timings={}, p_decline=float((slope < 0).mean()), p_decline_by_source=by_source,
        diagnostics=_diagnostics(idata, config, sampler),
        summary=_summary_table(idata, config),
        line=_trend_lines(idata, data, config, sampler.seed),
        changepoints=candidates, events=events,
        slope_draws=slope[:: max(1, slope.size // 2000)],
    )
    fit.timings = {k: round(v, 3) for k, v in timings.items()} | {
        "total_s": round(time.perf_counter() - started, 3)}
    if use_cache:
        progress("Saving the fit", 0.95)
        _save(fit, idata, rows, view or {"view_start": None, "view_end": None}, settings)
    progress("Done", 1.0)
    return fit


# --- views, refresh and the scheduled run ----------------------------------------------------


WINDOW_DAYS = {"30d": 30, "90d": 90, "180d": 180, "1y": 365, "all": None}


def resolve_window(topic: str, window: str,
                   settings: Settings | None = None) -> tuple[dt.date | None, dt.date | None]:
    """The dates of a named window ending at the newest document (as the sidebar does)."""
    from sqlalchemy import func, select

    from analytics.store import Document, session_scope

    if window not in WINDOW_DAYS:
        raise ValueError(f"Unknown window '{window}'; use one of {', '.join(WINDOW_DAYS)}.")
    days = WINDOW_DAYS[window]
    if days is None:
        return None, None
    settings = settings or get_settings()
    with session_scope(settings.database_url) as session:
        newest = session.scalar(select(func.max(Document.published_at))
                                .where(Document.topic == topic))
    if newest is None:
        return None, None
    return newest.date() - dt.timedelta(days=days - 1), newest.date()


def view_dict(start: dt.date | None, end: dt.date | None) -> dict:
    return {"view_start": str(start) if start else None, "view_end": str(end) if end else None}


def load_scored(topic: Topic, sources: Sequence[str], start: dt.date | None,
                end: dt.date | None, settings: Settings | None = None) -> pd.DataFrame:
    from analytics.store import queries, session_scope

    settings = settings or get_settings()
    with session_scope(settings.database_url) as session:
        return queries.scored_frame(session, topic.name, topic.score_keys, sources, start, end)


def lookup_fits(topic: Topic, scored: pd.DataFrame, scores: Iterable[str], form: str,
                sources: Sequence[str], start: dt.date | None, end: dt.date | None,
                settings: Settings | None = None) -> dict[str, TrendFit | None]:
    """Cached fits for a view (what the page shows): exact, stale, or None. Never samples."""
    settings = settings or get_settings()
    config = default_model_config(settings, form=form)
    sampler = default_sampler_config(settings, form)
    found = {}
    for score in scores:
        key = None
        if score in scored and scored[score].notna().any():
            data = make_trend_data(scored, topic.name, score, start, end, sources)
            key = fit_key(data, config, sampler)
        found[score] = find_fit(topic.name, score, form, start, end, sources, key, settings)
    return found


def refresh_trends(topic: Topic | str | None = None, settings: Settings | None = None,
                   scores: Sequence[str] | None = None, forms: Sequence[str] = FORMS,
                   window: str = "all", sources: Sequence[str] | None = None,
                   force: bool = False, progress: Progress | None = None,
                   start: dt.date | None = None, end: dt.date | None = None) -> list[TrendFit]:
    """Fit (or load from cache) every score × form of a view; what the CLI and the
    scheduled run call. Records a ``runs`` row of kind ``trends``."""
    from analytics.config import load_topic
    from analytics.store import session_scope
    from analytics.store.writes import finish_run, start_run

    settings = settings or get_settings()
    topic = topic if isinstance(topic, Topic) else load_topic(topic, settings)
    sources = tuple(sorted(sources or DEFAULT_SOURCES))
    if start is None and end is None:
        start, end = resolve_window(topic.name, window, settings)
    scored = load_scored(topic, sources, start, end, settings)
    scores = list(scores or topic.score_keys)
    unknown = [s for s in scores if s not in topic.score_keys]
    if unknown:
        raise ValueError(f"Unknown score(s) {unknown}; the topic has {topic.score_keys}.")
    with session_scope(settings.database_url) as session:
        run = start_run(session, "trends", topic.name, parameters={
            "scores": scores, "forms": list(forms), "window": window, "sources": list(sources),
            "model": asdict(default_model_config(settings)),
            "sampler": asdict(default_sampler_config(settings))})
        run_id = run.id
    fits, counts, error = [], {"fitted": 0, "cached": 0, "skipped": 0}, None
    jobs = [(s, f) for s in scores for f in forms]
    try:
        for i, (score, form) in enumerate(jobs):
            if score not in scored or scored[score].notna().sum() < 10:
                counts["skipped"] += 1
                continue
            data = make_trend_data(scored, topic.name, score, start, end, sources)

            def step(message: str, fraction: float, i: int = i, score: str = score,
                     form: str = form) -> None:
                if progress:
                    progress(f"{score} · {form}: {message}", (i + fraction) / len(jobs))

            fit = fit_trend(data, default_model_config(settings, form=form),
                            default_sampler_config(settings, form), settings, step,
                            refit=force, view=view_dict(start, end))
            counts["cached" if fit.from_cache else "fitted"] += 1
            fits.append(fit)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        with session_scope(settings.database_url) as session:
            from analytics.store import Run

            finish_run(session.get(Run, run_id), "failed" if error else "ok", counts, error)
    return fits
