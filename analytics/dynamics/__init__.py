"""Opinion dynamics: a hybrid neural ODE (relaxation + small network, torchdiffeq) fitted to
the per-period score series, validated on a hold-out, with an ensemble for uncertainty and
what-if scenarios. Torch is imported only when something is fitted or simulated.

Modules: ``series`` (data on a period grid), ``model`` (the ODE), ``fit`` (training,
baselines, skill), ``scenarios`` (definitions and simulation), ``service`` (cache,
``refresh_dynamics`` for schedules and the page's fit button).
"""

from analytics.dynamics.fit import DynamicsConfig
from analytics.dynamics.scenarios import (
    BASELINE,
    DriverChange,
    Scenario,
    ScenarioError,
    ScenarioResult,
    ScenarioShock,
    describe,
    readout_sentences,
    run_scenarios,
    saved_scenarios,
    scenarios_dir,
)
from analytics.dynamics.series import DynamicsSeries, build_series, load_series
from analytics.dynamics.service import (
    DynamicsError,
    DynamicsFit,
    cached_fit,
    fit_dynamics,
    latest_fit,
    load_fit,
    refresh_dynamics,
)

__all__ = [
    "BASELINE", "DriverChange", "DynamicsConfig", "DynamicsError", "DynamicsFit",
    "DynamicsSeries", "Scenario", "ScenarioError", "ScenarioResult", "ScenarioShock",
    "build_series", "cached_fit", "describe", "fit_dynamics", "latest_fit", "load_fit",
    "load_series", "readout_sentences", "refresh_dynamics", "run_scenarios", "saved_scenarios",
    "scenarios_dir",
]
