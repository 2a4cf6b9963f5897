"""Trend model and sampler configuration, stored with every fit so it can be reloaded.

Settings-backed values (likelihood, draws, ...) take their defaults from
``analytics.core.sections.TrendSettings``: declared once, there. The priors below are the
model's own and are not settings.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

from analytics.core.sections import TrendSettings
from analytics.core.settings import Settings, get_settings

MODEL_REVISION = 2  # bump when the model's meaning changes: part of every cache key
HDI_PROB = 0.94
DAYS_PER_YEAR = 365.25
FORMS = ("linear", "events")  # straight line (PyMC); turning points and shocks (exact)
_DEFAULTS = TrendSettings()


@dataclass(frozen=True)
class ModelConfig:
    """The model and its priors, on the 0–10 score scale. Stored with every fit."""

    form: Literal["linear"] = "linear"
    likelihood: Literal["student_t", "normal"] = _DEFAULTS.likelihood
    per_source_slopes: bool = _DEFAULTS.per_source_slopes
    time_bins: int = _DEFAULTS.time_bins
    score_resolution: float = _DEFAULTS.score_resolution
    level_mu: float = 5.0  # shared level at the window's middle ~ Normal(5, 2.5): anywhere on 0–10
    level_sd: float = 2.5
    slope_sd_per_window: float = 5.0  # slope ~ Normal(0, 5 points per window length)
    source_sd: float = 0.5  # spread of source levels ~ Gamma(2, 2 / 0.5): mean 0.5 point
    source_slope_sd_share: float = 0.5  # spread of source slopes: mean 0.5 × slope prior sd
    sigma_sd: float = 2.5  # document noise ~ HalfNormal(2.5 points)
    nu_alpha: float = 2.0  # Student-t degrees of freedom ~ Gamma(2, 0.1) (mean 20)
    nu_beta: float = 0.1

    def structure(self, n_sources: int) -> tuple:
        """What fixes the compiled model's shape; data and window enter as pm.Data."""
        return (self.likelihood, self.per_source_slopes, n_sources, self.level_mu,
                self.level_sd, self.source_sd, self.source_slope_sd_share, self.sigma_sd,
                self.nu_alpha, self.nu_beta)

    def describe(self) -> list[str]:
        """The model in plain sentences (for the page's 'explain this fit')."""
        noise = ("Student-t (robust: a few extreme documents barely move the line), "
                 f"degrees of freedom ~ Gamma({self.nu_alpha}, {self.nu_beta})"
                 if self.likelihood == "student_t" else "Normal")
        lines = [
            "Each document's score = its source's level + a straight-line trend over time"
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
        lines.append(f"Documents are compressed to weighted rows: at most {self.time_bins} time "
                     f"bins per window; scores rounded to {self.score_resolution} for the "
                     "Student-t likelihood (exact sufficient statistics for Normal).")
        return lines


@dataclass(frozen=True)
class SamplerConfig:
    """How the posterior is sampled. Stored with every fit."""

    sampler: Literal["nutpie", "pymc"] = _DEFAULTS.sampler
    draws: int = _DEFAULTS.draws
    tune: int = _DEFAULTS.tune
    chains: int = _DEFAULTS.chains
    seed: int = _DEFAULTS.seed
    target_accept: float = 0.9
    low_rank_mass_matrix: bool = False  # nutpie's option; diagonal adaptation suffices here


DECAYS = (3.0, 7.0, 14.0, 21.0, 30.0, 45.0, 60.0, 90.0, 150.0, math.inf)


@dataclass(frozen=True)
class EventsConfig:
    """The event model and its priors (stored with every fit)."""

    decays: tuple[float, ...] = DECAYS
    kinks: bool = True
    margin_days: int = 7  # no onset in the first or last week of the window
    per_source: bool = True  # per-source levels, slopes and event sizes (partially pooled)
    level_mu: float = 5.0
    level_sd: float = 2.5
    source_sd: float = 0.5
    slope_sd_per_window: float = 5.0
    source_slope_share: float = 0.5
    size_sd: float = 3.0
    source_size_share: float = 0.25
    kink_share: float = 2.0
    prior_k: float = 0.2  # prior odds of one more event
    accept_odds: float = 20.0  # posterior odds needed to keep one more event
    max_components: int = 5
    robust: bool = True
    nu: float = 5.0
    overdispersion: bool = True
    refine_passes: int = 4
    draws: int = 2000  # posterior draws for bands and summaries
    seed: int = 0

    def as_dict(self) -> dict:
        values = dataclasses.asdict(self)
        values["decays"] = [d if math.isfinite(d) else "inf" for d in self.decays]
        return values

    @classmethod
    def from_dict(cls, values: dict) -> EventsConfig:
        values = dict(values)
        values["decays"] = tuple(math.inf if d == "inf" else float(d) for d in values["decays"])
        return cls(**values)

    def describe(self) -> list[str]:
        finite = [f"{d:g}" for d in self.decays if math.isfinite(d)]
        return [
            "Each document's score = its source's level + its source's slope × time + the "
            "effect of dated events + noise; sources share their levels, slopes and event "
            "sizes partially (they may differ, and diverge after an event).",
            f"An event is a shock (a jump that fades exponentially, to about a third after "
            f"{', '.join(finite)} days — chosen by the data — or never: a lasting step) or a "
            "turning point (the slope changes). Its day is any day of the window (daily "
            "resolution).",
            f"Each extra event must earn its place: prior odds {self.prior_k:g} against it, and "
            f"it is kept only when the posterior odds exceed {self.accept_odds:g}:1.",
            "Noise: Student-t (robust to outlying documents, by reweighting), one scale per "
            "source, plus day-to-day overdispersion estimated from the data.",
            "The posterior is exact given the events' days (a conjugate Gaussian model); each "
            "event's day has its own posterior, conditional on the others.",
        ]



def _from_settings(cls: type, settings: Settings | None, overrides: dict[str, Any]):
    """The config with every field the trend settings declare taken from them."""
    trends = (settings or get_settings()).trends
    names = {f.name for f in dataclasses.fields(cls)} & set(type(trends).model_fields)
    return cls(**{name: getattr(trends, name) for name in names} | overrides)


def default_model_config(settings: Settings | None = None, **overrides: Any) -> ModelConfig:
    return _from_settings(ModelConfig, settings, overrides)


def default_sampler_config(settings: Settings | None = None, **overrides: Any) -> SamplerConfig:
    return _from_settings(SamplerConfig, settings, overrides)


def default_events_config(settings: Settings | None = None, **overrides: Any) -> EventsConfig:
    trends = (settings or get_settings()).trends
    return EventsConfig(**{"seed": trends.seed} | overrides)
