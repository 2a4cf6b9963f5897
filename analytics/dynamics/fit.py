"""Fitting the hybrid ODE ensemble: multiple shooting on the period grid, validated on a hold-out.

Scheme (chosen for speed and stability; see docs/ARCHITECTURE.md, "Dynamics"):
- the training part is cut into windows of ``window_days`` (multiple shooting); each window
  starts from a learned state (initialised from nearby observations) and all windows of all
  members are integrated together, in one batched fixed-step call on the period grid;
- loss = count-weighted squared error on observed periods only (missing periods are masked,
  never filled) + a continuity penalty tying each window's end to the next window's start
  + a penalty on the network term (keeps the relaxation interpretable);
- each ensemble member has its own seed and its own bootstrap resample of the windows.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from pydantic import ConfigDict, Field

from analytics.core.progress import Progress, ProgressCallback
from analytics.core.sections import DynamicsSettings
from analytics.dynamics.series import DynamicsSeries

RECENT_VOLUME_DAYS = 28  # future volume = mean of this many days before the start


class DynamicsConfig(DynamicsSettings):
    """Everything that changes a fit; part of the cache key. The settings-backed fields are
    declared once, in ``DynamicsSettings``; the training constants below are the model's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    learning_rate: float = Field(default=0.03, gt=0)
    bootstrap: bool = True
    network_penalty: float = 100.0
    continuity_weight: float = 4.0

    @classmethod
    def from_settings(cls, settings, **overrides) -> DynamicsConfig:
        return cls(**settings.dynamics.model_dump() | overrides)


@dataclass
class Ensemble:
    """A trained ensemble: numpy parameters plus what is needed to integrate it again."""

    parameters: dict[str, np.ndarray]  # HybridODE parameters, leading axis = member
    center: np.ndarray  # (S,) state standardisation
    scale: np.ndarray
    volume_center: np.ndarray  # (V,) mean log1p(volume) of the training part
    fitted: np.ndarray  # (E, T_fit, S) piecewise (per window) fitted path
    end_state: np.ndarray  # (E, S) state at the last fitted period
    n_fit: int  # periods the ensemble was trained on
    solver: str

    def model(self):
        from analytics.dynamics.model import HybridODE

        return HybridODE.from_numpy(self.parameters, self.center, self.scale)

    def tau_periods(self) -> np.ndarray:
        low, high = math.log(1.0), math.log(1.0e4)
        return np.exp(np.clip(self.parameters["log_tau"], low, high))


# --- drivers ---------------------------------------------------------------------------

def recent_volume(series: DynamicsSeries, until: int) -> np.ndarray:
    """Mean raw volume per source over the last ~4 weeks before period ``until``."""
    periods = max(1, round(RECENT_VOLUME_DAYS / series.period_days))
    window = series.volume[max(0, until - periods):until]
    return window.mean(0) if len(window) else np.zeros(series.volume.shape[1])


def driver_grid(series: DynamicsSeries, n_periods: int, volume_center: np.ndarray,
                known_until: int, future_volume: np.ndarray | None = None,
                volume_factor: np.ndarray | None = None) -> np.ndarray:
    """(n_periods, D) drivers on the absolute grid. Periods >= known_until use
    ``future_volume`` (the recent mean by default): the model never sees future volumes.
    ``volume_factor`` (n_periods, V) multiplies raw volume (scenario driver changes)."""
    volume = np.zeros((n_periods, series.volume.shape[1]))
    known = min(known_until, n_periods, series.n_periods)
    volume[:known] = series.volume[:known]
    if future_volume is None:
        future_volume = recent_volume(series, known_until)
    volume[known:] = future_volume
    if volume_factor is not None:
        volume = volume * volume_factor
    centred = np.log1p(volume) - volume_center
    return np.concatenate([centred, series.event_pulses(n_periods)], axis=1).astype(np.float32)


# --- training --------------------------------------------------------------------------

def _weighted_stats(means: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    observed = counts > 0
    center, scale = np.zeros(means.shape[1]), np.ones(means.shape[1])
    for j in range(means.shape[1]):
        values, weights = means[observed[:, j], j], counts[observed[:, j], j]
        if len(values):
            center[j] = np.average(values, weights=weights)
            scale[j] = max(0.5, math.sqrt(np.average((values - center[j]) ** 2, weights=weights)))
        else:
            center[j] = 5.0
    return center, scale


def _windows(n_fit: int, length: int) -> tuple[list[int], int]:
    length = max(1, min(length, n_fit - 1))
    starts = list(range(0, n_fit - 1 - length + 1, length)) or [0]
    if starts[-1] + length < n_fit - 1:
        starts.append(n_fit - 1 - length)  # last window ends on the last fitted period
    return starts, length


def _initial_states(means: np.ndarray, counts: np.ndarray, starts: list[int], half: int,
                    fallback: np.ndarray) -> np.ndarray:
    states = np.tile(fallback, (len(starts), 1))
    for k, start in enumerate(starts):
        lo, hi = max(0, start - half), start + half + 1
        for j in range(means.shape[1]):
            weights = counts[lo:hi, j]
            if weights.sum() > 0:
                states[k, j] = np.average(np.nan_to_num(means[lo:hi, j]), weights=weights)
    return states


def observation_weights(counts: np.ndarray) -> np.ndarray:
    """More documents = more weight, saturating: a period's mean also varies day to day."""
    positive = counts[counts > 0]
    half = float(np.median(positive)) if len(positive) else 1.0
    return counts / (counts + half)


def fit_ensemble(series: DynamicsSeries, config: DynamicsConfig, n_fit: int,
                 progress: ProgressCallback | None = None, stage: str = "fit") -> Ensemble:
    """Train ``config.ensemble_size`` members on periods [0, n_fit)."""
    import torch

    from analytics.dynamics.model import HybridODE, integrate

    means, counts = series.means[:n_fit], series.counts[:n_fit]
    center, scale = _weighted_stats(means, counts)
    volume_center = np.log1p(series.volume[:n_fit]).mean(0)
    drivers = torch.as_tensor(driver_grid(series, n_fit + 1, volume_center, n_fit))
    starts, length = _windows(n_fit, max(6, round(config.window_days / series.period_days)))
    index = torch.as_tensor(starts)[:, None] + torch.arange(length + 1)[None, :]  # (K, L+1)
    window_drivers = drivers[index[:, 1:]]  # step k of a window reads period start+k+1
    targets = torch.as_tensor(np.nan_to_num(means), dtype=torch.float32)[index]
    weights = torch.as_tensor(observation_weights(counts), dtype=torch.float32)[index]

    generator = torch.Generator().manual_seed(config.seed)
    members, n_windows = config.ensemble_size, len(starts)
    if config.bootstrap and n_windows > 1:
        draws = torch.randint(0, n_windows, (members, n_windows), generator=generator)
        resample = torch.stack([torch.bincount(d, minlength=n_windows) for d in draws]).float()
    else:
        resample = torch.ones(members, n_windows)
    tau_init = max(2.0, 14.0 / series.period_days)
    model = HybridODE(members, len(series.score_keys), drivers.shape[1], config.hidden,
                      center, scale, tau_init, generator)
    first = _initial_states(means, counts, starts, max(1, length // 4), center)
    states = torch.nn.Parameter(torch.as_tensor(first, dtype=torch.float32)
                                .expand(members, -1, -1).clone())
    optimizer = torch.optim.Adam([*model.parameters(), states], lr=config.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.iterations, 0.1 *
                                                          config.learning_rate)
    cell = (resample[:, :, None, None] * weights[None]).expand(-1, -1, -1, targets.shape[-1])
    cell_total = cell.sum((1, 2, 3)).clamp_min(1e-9)
    gap = torch.as_tensor(np.diff(starts).astype(np.int64))
    center_t = torch.as_tensor(center, dtype=torch.float32)
    scale_t = torch.as_tensor(scale, dtype=torch.float32)
    for iteration in range(config.iterations):
        optimizer.zero_grad()
        path = integrate(model, states, window_drivers, method=config.solver)  # (E,K,L+1,S)
        data = ((path - targets[None]) ** 2 * cell).sum((1, 2, 3)) / cell_total
        loss = data.sum()
        if n_windows > 1:
            ends = path[:, torch.arange(n_windows - 1), gap]  # previous window at next start
            jumps = ((ends - states[:, 1:]) ** 2).mean((1, 2))
            loss = loss + config.continuity_weight * jumps.sum()
        if config.network_penalty:
            flat = path[:, :, :-1].reshape(members, -1, path.shape[-1])
            rows = window_drivers.reshape(-1, window_drivers.shape[-1])
            # also off the fitted paths (states up to 3 sd away), so that the network does
            # not invent strong pushes where a scenario shock will take the state
            probe = scale_t * (6 * torch.rand(flat.shape, generator=generator) - 3) + center_t
            g = torch.cat([model.network(flat, rows), model.network(probe, rows)], dim=1)
            loss = loss + config.network_penalty * (g ** 2).mean((1, 2)).sum()
        loss.backward()
        optimizer.step()
        schedule.step()
        if progress and (iteration % 10 == 9 or iteration == config.iterations - 1):
            progress(Progress(stage, iteration + 1, config.iterations, unit="iteration"))
    with torch.no_grad():
        path = integrate(model, states, window_drivers, method=config.solver).numpy()
    fitted = np.zeros((members, n_fit, path.shape[-1]), dtype=np.float32)
    for k, start in enumerate(starts):  # later windows overwrite the overlap
        fitted[:, start:start + length + 1] = path[:, k]
    return Ensemble(parameters=model.numpy_parameters(), center=center, scale=scale,
                    volume_center=volume_center, fitted=fitted, end_state=fitted[:, -1].copy(),
                    n_fit=n_fit, solver=config.solver)


# --- forecasting -----------------------------------------------------------------------

def simulate(ensemble: Ensemble, start_state: np.ndarray, drivers: np.ndarray,
             forcing: np.ndarray | None = None) -> np.ndarray:
    """Integrate every member from start_state (E, S) for B driver paths (B, H, D) with
    optional forcing (B, H, S). Returns (E, B, H+1, S); no training happens here."""
    import torch

    from analytics.dynamics.model import integrate

    model = ensemble.model()
    batch = drivers.shape[0]
    x0 = torch.as_tensor(start_state, dtype=torch.float32)[:, None, :].expand(-1, batch, -1)
    force = None if forcing is None else torch.as_tensor(forcing, dtype=torch.float32)
    with torch.no_grad():
        path = integrate(model, x0.contiguous(), torch.as_tensor(drivers), force,
                         method=ensemble.solver)
    return path.numpy()


def holdout_forecast(ensemble: Ensemble, series: DynamicsSeries) -> np.ndarray:
    """(E, H, S) forecast of the periods after the training part, from its end state, with
    known event dates and the recent training volume (future volumes are not used)."""
    steps = series.n_periods - ensemble.n_fit
    grid = driver_grid(series, series.n_periods, ensemble.volume_center, ensemble.n_fit)
    drivers = grid[ensemble.n_fit:][None]
    return simulate(ensemble, ensemble.end_state, drivers)[:, 0, 1:steps + 1]


# --- baselines and skill ---------------------------------------------------------------

def persistence_forecast(series: DynamicsSeries, n_fit: int) -> np.ndarray:
    """(H, S): the last observed training value of each score, held flat."""
    out = np.full((series.n_periods - n_fit, len(series.score_keys)), np.nan)
    for j in range(out.shape[1]):
        observed = np.flatnonzero(series.counts[:n_fit, j] > 0)
        if len(observed):
            out[:, j] = series.means[observed[-1], j]
    return out


def linear_trend_forecast(series: DynamicsSeries, n_fit: int) -> np.ndarray:
    """(H, S): count-weighted least-squares line over the training part, extrapolated."""
    future = np.arange(n_fit, series.n_periods)
    out = np.full((len(future), len(series.score_keys)), np.nan)
    for j in range(out.shape[1]):
        observed = np.flatnonzero(series.counts[:n_fit, j] > 0)
        if len(observed) >= 2:
            slope, intercept = np.polyfit(observed, series.means[observed, j], 1,
                                          w=np.sqrt(series.counts[observed, j]))
            out[:, j] = intercept + slope * future
        elif len(observed):
            out[:, j] = series.means[observed[-1], j]
    return out


def _rmse(forecast: np.ndarray, actual: np.ndarray, observed: np.ndarray) -> float:
    if not observed.any():
        return float("nan")
    return float(np.sqrt(np.mean((forecast[observed] - actual[observed]) ** 2)))


def skill_table(series: DynamicsSeries, n_fit: int, ode: np.ndarray) -> list[dict]:
    """Hold-out RMSE per score: ODE (ensemble mean) vs persistence vs linear trend."""
    actual, counts = series.means[n_fit:], series.counts[n_fit:]
    persistence = persistence_forecast(series, n_fit)
    trend = linear_trend_forecast(series, n_fit)
    rows = []
    for j, key in enumerate(series.score_keys):
        observed = counts[:, j] > 0
        row = {"score": key, "label": series.score_labels[j], "periods": int(observed.sum()),
               "ode": _rmse(ode.mean(0)[:, j], actual[:, j], observed),
               "persistence": _rmse(persistence[:, j], actual[:, j], observed),
               "linear_trend": _rmse(trend[:, j], actual[:, j], observed)}
        finite = {m: row[m] for m in ("ode", "persistence", "linear_trend")
                  if math.isfinite(row[m])}
        row["best"] = min(finite, key=finite.get) if finite else None
        row["ode_beats_persistence"] = bool(finite) and row["ode"] < row["persistence"]
        row["ode_beats_trend"] = bool(finite) and row["ode"] < row["linear_trend"]
        row["ode_wins"] = row["ode_beats_persistence"] and row["ode_beats_trend"]
        rows.append(row)
    return rows


def split_point(series: DynamicsSeries, holdout_fraction: float) -> int:
    """Number of training periods: at least 8, leaving the requested share for hold-out."""
    if holdout_fraction <= 0:
        return series.n_periods
    return max(8, round(series.n_periods * (1 - holdout_fraction)))


@dataclass
class Timer:
    started: float = 0.0

    def __enter__(self) -> Timer:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.started
