"""Bayesian trend lines of the opinion scores, with honest uncertainty.

Two forms: a straight line (PyMC + nutpie, ``model``) and turning points and shocks (dated
events with an exact conjugate posterior, ``events``); the data choose between them by
leave-one-document-out cross-validation (``choice``), and the user may override.

Modules: ``config`` (model, sampler and event configuration), ``data`` (observations and
their compression), ``model``, ``events``, ``choice``, ``result`` (``TrendFit``: summaries,
lines, events, change over the window, diagnostics), ``cache`` (netcdf + sidecar per fit,
an index of views, pruning), ``around`` (what changed around a date), ``service``.
"""

from analytics.trends.cache import (
    find_fit,
    fit_key,
    fit_paths,
    load_fit,
    load_inference_data,
    loo_path,
)
from analytics.trends.config import (
    FORMS,
    HDI_PROB,
    EventsConfig,
    ModelConfig,
    SamplerConfig,
    default_events_config,
    default_model_config,
    default_sampler_config,
)
from analytics.trends.data import TrendData, compress, make_trend_data
from analytics.trends.result import FORM_LABELS, Diagnostics, TrendFit
from analytics.trends.service import (
    MIN_DOCUMENTS,
    ViewTrend,
    configs,
    fit_trend,
    load_scored,
    lookup_fits,
    lookup_view,
    refresh_trends,
    resolve_window,
    warm_up,
)

__all__ = [
    "FORMS",
    "FORM_LABELS",
    "HDI_PROB",
    "MIN_DOCUMENTS",
    "Diagnostics",
    "EventsConfig",
    "ModelConfig",
    "SamplerConfig",
    "TrendData",
    "TrendFit",
    "ViewTrend",
    "compress",
    "configs",
    "default_events_config",
    "default_model_config",
    "default_sampler_config",
    "find_fit",
    "fit_key",
    "fit_paths",
    "fit_trend",
    "load_fit",
    "load_inference_data",
    "load_scored",
    "loo_path",
    "lookup_fits",
    "lookup_view",
    "make_trend_data",
    "refresh_trends",
    "resolve_window",
    "warm_up",
]
