"""Fit, validate, cache and load dynamics ensembles: what pages, the CLI and schedules call.

``refresh_dynamics(topic, settings)`` is the one entry point for a scheduled run: it reads
the topic's series, and fits only when no cached fit exists for this data and configuration.
A fit = a validation ensemble on the first part (scored on the hold-out against persistence
and a linear trend) + a production ensemble on all periods (used for the fitted paths and
every scenario). Fits are cached under ``<data_dir>/dynamics/<topic>/<key>/`` where the key
hashes the data, the configuration and the software version; each folder holds
``meta.json`` (configuration, version, skill, readout) and ``arrays.npz``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analytics import __version__
from analytics.core.errors import UserError
from analytics.core.progress import ProgressCallback
from analytics.dynamics.fit import (
    DynamicsConfig,
    Ensemble,
    fit_ensemble,
    holdout_forecast,
    skill_table,
    split_point,
)
from analytics.dynamics.series import DynamicsSeries, load_series

MIN_OBSERVED_PERIODS = 12
READOUT_HORIZON_DAYS = 365


class DynamicsError(UserError):
    """Fitting is impossible with this data; the message says what to do."""


@dataclass
class DynamicsFit:
    """A cached fit: its series, the validation result and the production ensemble."""

    meta: dict
    series: DynamicsSeries
    full: Ensemble
    holdout: np.ndarray  # (E, H, S) validation forecast of the hold-out periods
    validation_fitted: np.ndarray  # (E, n_train, S)

    @property
    def config(self) -> DynamicsConfig:
        return DynamicsConfig(**self.meta["config"])

    @property
    def n_train(self) -> int:
        return int(self.meta["n_train"])

    @property
    def skill(self) -> list[dict]:
        return self.meta["skill"]

    @property
    def readout(self) -> list[dict]:
        return self.meta["readout"]


def cache_key(series: DynamicsSeries, config: DynamicsConfig) -> str:
    payload = json.dumps({"data": series.data_hash(), "config": config.model_dump(),
                          "version": __version__}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def cache_root(settings, topic: str) -> Path:
    return Path(settings.data_dir) / "dynamics" / topic


def fit_dynamics(series: DynamicsSeries, config: DynamicsConfig,
                 progress: ProgressCallback | None = None) -> DynamicsFit:
    """Validation fit + production fit of one series (no database, no cache)."""
    if series.observed_periods() < MIN_OBSERVED_PERIODS:
        raise DynamicsError(
            f"Only {series.observed_periods()} {series.resolution}s with scored documents; "
            f"the dynamics model needs at least {MIN_OBSERVED_PERIODS}. Ingest and score more "
            "documents, or use the daily resolution.")
    _quiet_torch()
    started = time.perf_counter()
    n_train = split_point(series, config.holdout_fraction)
    if n_train < series.n_periods:
        validation = fit_ensemble(series, config, n_train, progress, stage="validation fit")
        holdout = holdout_forecast(validation, series)
        skill = skill_table(series, n_train, holdout)
        validation_fitted = validation.fitted
    else:
        holdout = np.zeros((config.ensemble_size, 0, len(series.score_keys)), np.float32)
        skill, validation_fitted = [], np.zeros((config.ensemble_size, 0, 0), np.float32)
    full = fit_ensemble(series, config, series.n_periods, progress, stage="full fit")
    meta = {
        "key": cache_key(series, config), "topic": series.topic,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "software_version": __version__, "config": config.model_dump(),
        "data_hash": series.data_hash(), "n_train": n_train,
        "fit_seconds": round(time.perf_counter() - started, 3),
        "series": {"topic": series.topic, "resolution": series.resolution,
                   "start": series.start.isoformat(), "score_keys": series.score_keys,
                   "score_labels": series.score_labels, "sources": series.sources,
                   "events": [[d.isoformat(), label] for d, label in series.events]},
        "skill": skill,
    }
    fit = DynamicsFit(meta, series, full, holdout, validation_fitted)
    meta["readout"] = model_readout(fit)
    return fit


def _quiet_torch() -> None:
    import torch

    # Tiny tensors: extra threads only add overhead, and the machine is shared.
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)  # the network term shrinks toward zero: avoid denormals


def model_readout(fit: DynamicsFit) -> list[dict]:
    """Per score: equilibrium and time constant of the relaxation part, and, simulated with
    the whole model, the level it settles at and the days a +1 shock takes to halve."""
    from analytics.dynamics.scenarios import Scenario, ScenarioShock, run_scenarios

    series, config = fit.series, fit.config
    low, high = (1 - config.band) / 2, 1 - (1 - config.band) / 2
    first_day = series.end + dt.timedelta(days=series.period_days)
    shocks = [Scenario(name=f"unit:{key}", horizon_days=READOUT_HORIZON_DAYS,
                       shocks=[ScenarioShock(date=first_day, score=key, size=1.0)])
              for key in series.score_keys]
    result = run_scenarios(fit, shocks)
    tau_days = fit.full.tau_periods() * series.period_days
    rows = []
    for j, key in enumerate(series.score_keys):
        response = result.paths[:, j + 1, 1:, j] - result.paths[:, 0, 1:, j]  # (E, H)
        halved = [int(np.argmax(r <= 0.5)) + 1 if (r <= 0.5).any() else math.inf
                  for r in response]
        settle = result.paths[:, 0, -1, j]
        x_eq = fit.full.parameters["x_eq"][:, j]
        rows.append({
            "score": key, "label": series.score_labels[j],
            "equilibrium": float(np.median(x_eq)), "equilibrium_low": float(np.quantile(x_eq, low)),
            "equilibrium_high": float(np.quantile(x_eq, high)),
            "tau_days": float(np.median(tau_days[:, j])),
            "half_life_days": float(np.median(halved)) * series.period_days,
            "settles_at": float(np.median(settle)), "settles_low": float(np.quantile(settle, low)),
            "settles_high": float(np.quantile(settle, high)),
        })
        rows[-1]["text"] = readout_sentence(rows[-1], config.band)
    return rows


def readout_sentence(row: dict, band: float) -> str:
    """'Opinion returns to X within about N days', from one readout row."""
    return (f"{row['label']}: without new shocks it settles near {row['settles_at']:.1f} "
            f"({band:.0%} band {row['settles_low']:.1f}–{row['settles_high']:.1f}); the effect "
            f"of a shock halves within about {row['half_life_days']:.0f} days (relaxation "
            f"part: equilibrium {row['equilibrium']:.1f}, time constant "
            f"{row['tau_days']:.0f} days).")


# --- cache ---------------------------------------------------------------------------

_ENSEMBLE_ARRAYS = ("center", "scale", "volume_center", "fitted", "end_state")


def save_fit(fit: DynamicsFit, root: Path) -> Path:
    """Write atomically: a half-written fit never looks valid."""
    folder = root / fit.meta["key"]
    partial = root / f".{fit.meta['key']}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    arrays = {f"param.{k}": v for k, v in fit.full.parameters.items()}
    arrays.update({f"full.{k}": getattr(fit.full, k) for k in _ENSEMBLE_ARRAYS})
    arrays.update({"means": fit.series.means, "counts": fit.series.counts,
                   "volume": fit.series.volume, "holdout": fit.holdout,
                   "validation_fitted": fit.validation_fitted})
    np.savez_compressed(partial / "arrays.npz", **arrays)
    meta = dict(fit.meta, full_n_fit=fit.full.n_fit, solver=fit.full.solver)
    (partial / "meta.json").write_text(json.dumps(meta, indent=1, default=_json_default))
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    return folder


def _json_default(value):
    if isinstance(value, float | np.floating) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(type(value))


def load_fit(folder: Path) -> DynamicsFit:
    meta = json.loads((folder / "meta.json").read_text())
    with np.load(folder / "arrays.npz") as data:
        arrays = {k: data[k] for k in data.files}
    info = meta["series"]
    series = DynamicsSeries(
        topic=info["topic"], resolution=info["resolution"],
        start=dt.date.fromisoformat(info["start"]), score_keys=info["score_keys"],
        score_labels=info["score_labels"], sources=info["sources"], means=arrays["means"],
        counts=arrays["counts"], volume=arrays["volume"],
        events=[(dt.date.fromisoformat(d), label) for d, label in info["events"]])
    full = Ensemble(
        parameters={k.removeprefix("param."): v for k, v in arrays.items()
                    if k.startswith("param.")},
        n_fit=meta["full_n_fit"], solver=meta["solver"],
        **{k: arrays[f"full.{k}"] for k in _ENSEMBLE_ARRAYS})
    return DynamicsFit(meta, series, full, arrays["holdout"], arrays["validation_fitted"])


def cached_fit(series: DynamicsSeries, config: DynamicsConfig, settings) -> DynamicsFit | None:
    folder = cache_root(settings, series.topic) / cache_key(series, config)
    return load_fit(folder) if (folder / "meta.json").is_file() else None


def latest_fit(settings, topic: str) -> DynamicsFit | None:
    """The newest cached fit of a topic, whatever its data (for when the data moved on)."""
    root = cache_root(settings, topic)
    folders = [p for p in root.glob("*") if (p / "meta.json").is_file()] if root.is_dir() else []
    if not folders:
        return None
    return load_fit(max(folders, key=lambda p: (p / "meta.json").stat().st_mtime))


def refresh_dynamics(topic, settings, progress: ProgressCallback | None = None,
                     force: bool = False, config: DynamicsConfig | None = None) -> DynamicsFit:
    """Fit the topic's dynamics if its data or configuration changed; return the fit.

    Safe to call from a schedule: a cache hit costs one query and no training. Each real
    fit is recorded as a ``runs`` row (kind ``fit``, provider ``dynamics``).
    """
    from analytics.store.runs import recorded_run

    config = config or DynamicsConfig.from_settings(settings)
    series = load_series(topic, settings, config.resolution)
    if series is None:
        raise DynamicsError(f"No scored documents for topic '{topic.name}'. Run "
                            "`python -m analytics demo` or ingest and score documents first.")
    if not force and (hit := cached_fit(series, config, settings)) is not None:
        return hit
    with recorded_run("fit", topic.name, "dynamics",
                      {"config": config.model_dump(), "data_hash": series.data_hash()},
                      database_url=settings.database_url) as run:
        fit = fit_dynamics(series, config, progress)
        save_fit(fit, cache_root(settings, topic.name))
        run.counts = {"periods": series.n_periods, "train": fit.n_train,
                      "seconds": fit.meta["fit_seconds"]}
    return fit
