"""The straight-line trend form in PyMC: score = level of the source (partially pooled
around a shared level) + slope × time (optionally a partially pooled slope per source) +
noise (Student-t, robust to outlying documents, or Normal). Priors are weakly informative
and stated on the 0–10 scale (see ``ModelConfig``). The other form, turning points and
shocks, has an exact posterior and lives in ``events``.

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
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from analytics.trends.config import ModelConfig, SamplerConfig
from analytics.trends.data import TrendData

# pytensor's C backend warns at import when it finds no BLAS to link; the fits run through
# nutpie's numba backend (or PyMC's own sampler), which does not use it.
warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS",
                        category=UserWarning)
warnings.filterwarnings("ignore", message="ArviZ is undergoing a major refactor",
                        category=FutureWarning)

# Inside one fit: (what is happening, fraction of this fit done); the service turns it into
# the product's Progress.
FitStep = Callable[[str, float], None]


def model_inputs(data: TrendData, rows: pd.DataFrame, config: ModelConfig) -> dict[str, Any]:
    return {
        "t": rows["t"].to_numpy(float), "src": rows["src"].to_numpy(np.int64),
        "y": rows["y"].to_numpy(float), "w": rows["w"].to_numpy(float),
        "ss": rows["ss"].to_numpy(float),
        "t_mid": np.array(data.window_years / 2), "slope_sd":
            np.array(config.slope_sd_per_window / data.window_years),
    }


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


def build_model(inputs: dict[str, Any], config: ModelConfig, n_sources: int):
    """The PyMC model; every data-dependent number is a pm.Data so one compile serves all."""
    import pymc as pm
    import pytensor.tensor as pt

    coords = {"source": list(range(n_sources))}
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


def portable_numerics() -> None:
    """Same seed, same draws on every x86 machine.

    pytensor compiles the model through numba with fast-math and host-tuned vectorisation,
    which reorders floating-point sums per CPU model: one seed then gives different draws
    on, say, a Zen 3 and a Skylake machine, and NUTS amplifies the last-bit differences into
    different posteriors. Without fast-math the draws are bit-identical across CPUs
    (measured: native, generic and skylake targets), for 6–15% more sampling time.
    """
    import pytensor

    pytensor.config.numba__fastmath = False


def _nutpie_model(inputs: dict[str, Any], config: ModelConfig, n_sources: int,
                  progress: FitStep) -> tuple[Any, float]:
    """The compiled model for this shape, with this data; compiles only the first time."""
    import nutpie

    portable_numerics()
    key = config.structure(n_sources)
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
                     n_sources: int, progress: FitStep) -> tuple[Any, dict[str, float]]:
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
