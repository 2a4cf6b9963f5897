"""Bayesian trend lines of the opinion scores, with honest uncertainty (PyMC + nutpie).

Modules: ``config`` (model and sampler configuration), ``data`` (observations and their
compression to weighted rows), ``model`` (the PyMC model, compiled once per shape),
``result`` (``TrendFit``: summaries, lines, turns, diagnostics), ``cache`` (netcdf +
sidecar per fit, an index of views, pruning), ``service`` (``fit_trend``,
``lookup_fits``, ``refresh_trends``).
"""

from analytics.trends.cache import find_fit, fit_key, fit_paths, load_fit, load_inference_data
from analytics.trends.config import (
    EVENT_PROBABILITY,
    FORMS,
    HDI_PROB,
    ModelConfig,
    SamplerConfig,
    default_model_config,
    default_sampler_config,
)
from analytics.trends.data import TrendData, compress, make_trend_data
from analytics.trends.result import Diagnostics, TrendFit
from analytics.trends.service import (
    fit_trend,
    load_scored,
    lookup_fits,
    refresh_trends,
    resolve_window,
)

__all__ = [
    "EVENT_PROBABILITY", "FORMS", "HDI_PROB", "Diagnostics", "ModelConfig", "SamplerConfig",
    "TrendData", "TrendFit", "compress", "default_model_config", "default_sampler_config",
    "find_fit", "fit_key", "fit_paths", "fit_trend", "load_fit", "load_inference_data",
    "load_scored", "lookup_fits", "make_trend_data", "refresh_trends", "resolve_window",
]
