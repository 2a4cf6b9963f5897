"""Trend model and sampler configuration, stored with every fit so it can be reloaded.

Settings-backed values (likelihood, draws, ...) take their defaults from
``analytics.core.sections.TrendSettings``: declared once, there. The priors below are the
model's own and are not settings.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from analytics.core.sections import TrendSettings
from analytics.core.settings import Settings, get_settings

MODEL_REVISION = 1  # bump when the model's meaning changes: part of every cache key
HDI_PROB = 0.94
DAYS_PER_YEAR = 365.25
FORMS = ("linear", "changepoint")
# An event is reported when the posterior probability of its direction is at least this.
# Stricter than the 94% of the bands because ~20 runs per year are looked at: on simulated
# straight-line data, 94% flagged about one spurious turn per year, 99% none.
EVENT_PROBABILITY = 0.99
_DEFAULTS = TrendSettings()


@dataclass(frozen=True)
class ModelConfig:
    """The model and its priors, on the 0–10 score scale. Stored with every fit."""

    form: Literal["linear", "changepoint"] = "linear"
    likelihood: Literal["student_t", "normal"] = _DEFAULTS.likelihood
    per_source_slopes: bool = _DEFAULTS.per_source_slopes
    changepoint_spacing_days: float = _DEFAULTS.changepoint_spacing_days
    max_changepoints: int = 40
    time_bins: int = _DEFAULTS.time_bins
    score_resolution: float = _DEFAULTS.score_resolution
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

    sampler: Literal["nutpie", "pymc"] = _DEFAULTS.sampler
    draws: int = _DEFAULTS.draws
    tune: int = _DEFAULTS.tune
    chains: int = _DEFAULTS.chains
    seed: int = _DEFAULTS.seed
    target_accept: float = 0.9
    # nutpie's low-rank mass matrix adapts to the correlated knot values of the changepoint
    # form (about half the leapfrog steps there); plain diagonal adaptation elsewhere.
    low_rank_mass_matrix: bool = False


def _from_settings(cls: type, settings: Settings | None, overrides: dict[str, Any]):
    """The config with every field the trend settings declare taken from them."""
    trends = (settings or get_settings()).trends
    names = {f.name for f in dataclasses.fields(cls)} & set(type(trends).model_fields)
    return cls(**{name: getattr(trends, name) for name in names} | overrides)


def default_model_config(settings: Settings | None = None, **overrides: Any) -> ModelConfig:
    return _from_settings(ModelConfig, settings, overrides)


def default_sampler_config(settings: Settings | None = None, form: str = "linear",
                           **overrides: Any) -> SamplerConfig:
    return _from_settings(SamplerConfig, settings,
                          {"low_rank_mass_matrix": form == "changepoint"} | overrides)
