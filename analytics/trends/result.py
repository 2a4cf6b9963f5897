"""What a fit shows, whatever its form: the posterior summarised into plain tables
(``TrendFit``), the trend lines with their bands, the dated events, the change over the
window, and how trustworthy the computation is (sampler diagnostics, or "exact")."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from analytics import __version__
from analytics.trends.config import DAYS_PER_YEAR, HDI_PROB, ModelConfig, SamplerConfig
from analytics.trends.data import TrendData
from analytics.trends.events import EVENT_COLUMNS, EventsConfig, EventsResult, source_lines
from analytics.trends.events import events_table as build_events_table

FORM_LABELS = {"linear": "straight line", "events": "turning points and shocks"}


@dataclass
class Diagnostics:
    max_r_hat: float
    min_ess_bulk: float
    divergences: int
    draws: int
    chains: int
    problems: list[str] = field(default_factory=list)
    method: str = "nuts"  # nuts | exact

    @property
    def ok(self) -> bool:
        return not self.problems

    def plain_words(self) -> str:
        if self.method == "exact":
            return ("Exact posterior (a conjugate model given the events' days): no sampler, "
                    "nothing to converge; the bands can be read as stated.")
        if self.ok:
            return (f"The sampler converged (R-hat ≤ {self.max_r_hat:.3f}, at least "
                    f"{self.min_ess_bulk:.0f} effective draws, no divergences): the bands can "
                    "be read as stated.")
        return "The sampler had trouble; treat with care: " + "; ".join(self.problems) + "."


# TrendFit's tables and their date columns (for the JSON sidecar)
TABLES = {"summary": (), "line": ("day",), "events": ("date", "first", "last")}


@dataclass
class TrendFit:
    """Everything a page, report or CLI shows about one fit — plain data, JSON-able."""

    key: str
    topic: str
    score: str
    form: str  # linear | events
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
    p_decline: float  # P(the trend is lower at the window's end than at its start)
    p_decline_by_source: dict
    diagnostics: Diagnostics
    summary: pd.DataFrame  # parameter, source, mean, sd, hdi_low, hdi_high, r_hat, ess_bulk
    line: pd.DataFrame  # day, source ('all' = pooled), mean, low, high, pred_low, pred_high
    events: pd.DataFrame  # dated events (EVENT_COLUMNS); empty for the straight line
    change_draws: np.ndarray  # change of the trend over the window, score points
    loo: dict = field(default_factory=dict)  # elpd, se, n (leave-one-document-out)
    from_cache: bool = False
    stale: bool = False  # loaded for a view whose data have changed since the fit

    @property
    def window_days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def form_label(self) -> str:
        return FORM_LABELS.get(self.form, self.form)

    def slope(self, source: str = "all") -> dict:
        """The underlying slope in points per year (the events' effects excluded)."""
        name = "slope" if source == "all" else "source_slope"
        rows = self.summary[(self.summary["parameter"] == name)
                            & (self.summary["source"] == ("" if source == "all" else source))]
        return rows.iloc[0].to_dict() if not rows.empty else {}

    def change(self) -> dict:
        """The change of the (pooled) trend from the window's first to its last day, in
        score points, with its 94% HDI: what a short window should report."""
        draws = np.asarray(self.change_draws, float)
        low, high = hdi_bounds(draws)
        return {"mean": float(draws.mean()), "hdi_low": float(low), "hdi_high": float(high)}

    def detected_changes(self) -> pd.DataFrame:
        """The dated events the data insist on (empty for the straight line)."""
        if self.events.empty:
            return self.events
        return self.events[self.events["detected"].astype(bool)].reset_index(drop=True)

    def explain(self) -> list[str]:
        if self.form == "events":
            lines = EventsConfig.from_dict(self.model_config).describe()
            lines.append(f"Posterior draws for the bands: {self.sampler_config.get('draws')}, "
                         f"seed {self.sampler_config.get('seed')}.")
        else:
            lines = ModelConfig(**self.model_config).describe()
            sampler = SamplerConfig(**self.sampler_config)
            lines.append(f"Sampler: {sampler.sampler}, {sampler.chains} chains × "
                         f"{sampler.draws} draws after {sampler.tune} tuning steps, seed "
                         f"{sampler.seed}.")
        lines.append(f"Fitted {self.created_at} on {self.n_documents} documents "
                     f"({self.n_rows} weighted rows), {self.start} → {self.end}, sources "
                     f"{', '.join(self.sources)}; software " +
                     ", ".join(f"{k} {v}" for k, v in self.versions.items()) + ".")
        return lines

    def to_json(self) -> dict:
        payload = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                   if f.name not in ("from_cache", "stale")}
        payload.update(start=str(self.start), end=str(self.end), diagnostics=asdict(
            self.diagnostics), change_draws=np.round(self.change_draws, 5).tolist())
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
        values["change_draws"] = np.asarray(payload["change_draws"], float)
        for name, dates in TABLES.items():
            split = payload[name]
            frame = pd.DataFrame(split["data"], columns=split["columns"])
            for column in dates:
                if column in frame:
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


def source_weights(data: TrendData) -> np.ndarray:
    return np.bincount(data.source, minlength=len(data.sources)) / max(data.n_documents, 1)


def grid(data: TrendData) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """At most 200 days of the window (all of them for windows up to 200 days)."""
    days = (data.end - data.start).days
    offsets = np.unique(np.linspace(0, days, min(days + 1, 200)).round().astype(int))
    dates = pd.DatetimeIndex([pd.Timestamp(data.start) + pd.Timedelta(days=int(d))
                              for d in offsets])
    return dates, offsets.astype(float)


def band_frame(dates: pd.DatetimeIndex, data: TrendData, lines: np.ndarray,
               sigma: np.ndarray, noise: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Mean, 94% HDI of the trend and 94% predictive band, pooled and per source.

    ``lines``: (sources, draws, days) mean score per source; ``sigma``: (draws, sources)
    noise scales; ``noise``: (draws, days) standardised noise draws. The pooled predictive
    band is for a document of a random source (by document share)."""
    weights = source_weights(data)
    n_draws, n_days = noise.shape
    picked = rng.choice(len(data.sources), size=(n_draws, n_days), p=weights)
    pooled = np.tensordot(weights, lines, axes=1)
    draw = np.arange(n_draws)[:, None]
    series = {"all": (pooled, lines[picked, draw, np.arange(n_days)[None, :]],
                      np.take_along_axis(sigma, picked, axis=1))}
    series |= {name: (lines[i], lines[i], sigma[:, i:i + 1])
               for i, name in enumerate(data.sources)}
    frames = []
    for name, (mu, centre, scale) in series.items():
        low, high = hdi_bounds(mu)
        pred_low, pred_high = hdi_bounds(centre + scale * noise)
        frames.append(pd.DataFrame({"day": dates, "source": name, "mean": mu.mean(axis=0),
                                    "low": low, "high": high, "pred_low": pred_low,
                                    "pred_high": pred_high}))
    return pd.concat(frames, ignore_index=True)


def summary_rows(parameter: str, draws: np.ndarray, sources: tuple[str, ...] | None = None
                 ) -> list[dict]:
    """Summary rows of exact-posterior draws (no sampler: R-hat and ESS do not apply)."""
    draws = draws if draws.ndim > 1 else draws[:, None]
    names = sources if sources is not None else ("",)
    low, high = hdi_bounds(draws)
    return [{"parameter": parameter, "source": name, "mean": float(draws[:, i].mean()),
             "sd": float(draws[:, i].std()), "hdi_low": float(low[i]),
             "hdi_high": float(high[i]), "r_hat": math.nan, "ess_bulk": math.nan}
            for i, name in enumerate(names)]


# --- the straight line (PyMC) ---------------------------------------------------------------


def add_derived(idata, data: TrendData, config: ModelConfig) -> None:
    """Reportable quantities. 'Pooled' means all documents together: the sources' lines
    averaged with their document shares (well identified), not the hyper-mean ``level``
    (the level of a hypothetical new source, uncertain with only a few sources)."""
    import xarray as xr

    post = idata.posterior.assign_coords(source=list(data.sources))
    weights = xr.DataArray(source_weights(data), dims="source",
                           coords={"source": list(data.sources)})
    slope = post["source_slope"] if config.per_source_slopes else post["slope"]
    post["source_intercept"] = post["source_level"] - slope * data.window_years / 2
    post["intercept"] = (post["source_intercept"] * weights).sum("source")
    if config.per_source_slopes:
        post["average_slope"] = (post["source_slope"] * weights).sum("source")
    idata.posterior = post


def pooled_slope(idata, config: ModelConfig) -> np.ndarray:
    return stack(idata, "average_slope" if config.per_source_slopes else "slope")


def _sampled_names(config: ModelConfig) -> list[str]:
    names = ["level", "source_sd", "source_offset", "sigma", "slope"]
    names += ["nu"] if config.likelihood == "student_t" else []
    if config.per_source_slopes:
        names += ["source_slope_deviation", "source_slope_sd"]
    return names


def summary_table(idata, config: ModelConfig) -> pd.DataFrame:
    import arviz as az

    names = ["slope", "intercept", "level", "source_intercept", "source_offset", "source_sd",
             "sigma"]
    if config.likelihood == "student_t":
        names.append("nu")
    if config.per_source_slopes:
        names += ["average_slope", "source_slope", "source_slope_sd"]
    table = az.summary(idata, var_names=names, hdi_prob=HDI_PROB)
    rows = []
    for label, row in table.iterrows():
        parameter, _, source = str(label).partition("[")
        rows.append({"parameter": parameter, "source": source.rstrip("]"),
                     "mean": row["mean"], "sd": row["sd"], "hdi_low": row["hdi_3%"],
                     "hdi_high": row["hdi_97%"], "r_hat": row["r_hat"],
                     "ess_bulk": row["ess_bulk"]})
    frame = pd.DataFrame(rows)
    if config.per_source_slopes:  # the pooled slope is the share-weighted average
        frame = frame[frame["parameter"] != "slope"]
        frame.loc[frame["parameter"] == "average_slope", "parameter"] = "slope"
    return frame.reset_index(drop=True)


def diagnose(idata, config: ModelConfig, sampler: SamplerConfig) -> Diagnostics:
    """Over every sampled parameter (R-hat, bulk ESS) and the sampler's divergences."""
    import arviz as az

    posterior = idata.posterior[_sampled_names(config)]
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


def linear_lines(idata, data: TrendData, config: ModelConfig, seed: int) -> pd.DataFrame:
    dates, days = grid(data)
    t = (days + 0.5) / DAYS_PER_YEAR - data.window_years / 2
    source_level = stack(idata, "source_level")  # (draws, sources)
    slopes = (stack(idata, "source_slope") if config.per_source_slopes
              else np.repeat(stack(idata, "slope")[:, None], len(data.sources), axis=1))
    lines = source_level.T[:, :, None] + slopes.T[:, :, None] * t[None, None, :]
    sigma = stack(idata, "sigma")
    rng = np.random.default_rng(seed)
    if config.likelihood == "student_t":
        noise = rng.standard_t(stack(idata, "nu")[:, None], size=(sigma.shape[0], t.size))
    else:
        noise = rng.standard_normal((sigma.shape[0], t.size))
    return band_frame(dates, data, lines, sigma, noise, rng)


def linear_change(idata, data: TrendData, config: ModelConfig) -> np.ndarray:
    return pooled_slope(idata, config) * ((data.end - data.start).days / DAYS_PER_YEAR)


# --- turning points and shocks (exact) --------------------------------------------------------


def events_fit_parts(result: EventsResult, data: TrendData) -> dict:
    """TrendFit fields of the event form from its exact posterior draws."""
    model, beta, comps, post = result.model, result.beta, result.components, result.posterior
    weights = source_weights(data)
    dates, days = grid(data)
    lines = source_lines(model, comps, beta, days).transpose(1, 0, 2)  # (sources, draws, days)
    rng = np.random.default_rng(model.config.seed + 1)
    sigma_docs = np.sqrt(model.sigma**2 + model.eta**2)
    noise = rng.standard_t(model.config.nu, size=(beta.shape[0], len(days)))
    line = band_frame(dates, data, lines, np.tile(sigma_docs, (beta.shape[0], 1)), noise, rng)
    ends = source_lines(model, comps, beta, np.array([0.0, float(model.days - 1)]))
    change_by_source = ends[:, :, 1] - ends[:, :, 0]  # (draws, sources)
    change = change_by_source @ weights
    slope_columns = [j for j, name in enumerate(post.names) if name[0] == "slope"]
    slopes = beta[:, slope_columns]
    pooled_slopes = slopes @ weights if slopes.shape[1] == len(weights) else slopes[:, 0]
    summary = summary_rows("slope", pooled_slopes)
    if slopes.shape[1] == len(weights):
        summary += summary_rows("source_slope", slopes, data.sources)
    summary += summary_rows("intercept", ends[:, :, 0] @ weights)
    summary += summary_rows("source_intercept", ends[:, :, 0], data.sources)
    summary += summary_rows("sigma", np.tile(sigma_docs, (2, 1)), data.sources)
    return {
        "p_decline": float((change < 0).mean()),
        "p_decline_by_source": {s: float((change_by_source[:, i] < 0).mean())
                                for i, s in enumerate(data.sources)},
        "summary": pd.DataFrame(summary), "line": line,
        "events": build_events_table(model, comps, post, beta, weights),
        "change_draws": change[:: max(1, change.size // 2000)],
        "diagnostics": Diagnostics(math.nan, math.nan, 0, beta.shape[0], 0, [], "exact"),
    }


def empty_events() -> pd.DataFrame:
    return pd.DataFrame(columns=EVENT_COLUMNS)


def software_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"analytics": __version__}
    for package in ("pymc", "pytensor", "nutpie", "arviz"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "absent"
    return found
