"""Neural-ODE fit: the naive baseline vs the product, on the demo and on real Reddit comments.

Baseline (as measured in ENVIRONMENT.md): one model, state = the scores, MLP S->32->S,
dopri5 with default tolerances over the full training trajectory, Adam, 300 iterations.
Product: ``fit_dynamics`` with the default configuration (hybrid relaxation + network,
ensemble of 8 trained together, multiple shooting, fixed-step solver on the period grid):
the validation fit (hold-out = last 20 %), then the production fit on all periods.

Data: the demo's 365-day series from the configured database (seeded into a temporary one
when it holds no scored documents), and the Reddit sample in ../shared/data (each comment
scored as a short document by the offline backend, aggregated per day and per week; the
scores are cached under <data_dir>/benchmarks/ so reruns skip the scoring).

Prints per dataset: fit seconds (baseline and product), hold-out RMSE per score (ODE,
persistence, linear trend, and the naive baseline), one scenario re-simulation time.
The last line is one JSON object.

Run: ANALYTICS_DATABASE_URL=sqlite:////tmp/x.db ANALYTICS_DATA_DIR=/tmp/x-data \
     .venv/bin/python benchmarks/node_fit.py [--naive-iterations 300] [--skip-reddit]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analytics.core.settings import get_settings
from analytics.core.topics import load_topic
from analytics.dynamics import (
    DriverChange,
    DynamicsConfig,
    Scenario,
    ScenarioShock,
    build_series,
    fit_dynamics,
    load_series,
    run_scenarios,
)
from analytics.dynamics.fit import split_point

REDDIT_CSV = ROOT.parent / "shared" / "data" / "reddit_nato" / "comments_nato_sample_300pm.csv"


# --- data ------------------------------------------------------------------------------

def demo_series(topic, settings):
    series = load_series(topic, settings, "day")
    if series is not None:
        return series
    from analytics.core.settings import reset_settings_cache
    from analytics.pipeline.demo import prepare_demo

    folder = Path(tempfile.mkdtemp(prefix="node-fit-demo-"))
    import os

    os.environ["ANALYTICS_DATABASE_URL"] = f"sqlite:///{folder / 'demo.db'}"
    reset_settings_cache()
    settings = get_settings()
    print(f"no scored demo in the configured database: seeding one in {folder} ...", flush=True)
    prepare_demo(topic, settings, models=False)
    return load_series(topic, settings, "day")


def reddit_scored(topic, settings) -> pd.DataFrame:
    """Each comment = a short document scored offline; cached by file + scorer config."""
    from analytics.score.backends.offline import OfflineBackend
    from analytics.score.retrieval import prepare

    backend = OfflineBackend(settings)
    raw = REDDIT_CSV.read_bytes()
    key = hashlib.sha256(raw + backend.config_hash(topic).encode()).hexdigest()[:12]
    cache = Path(settings.data_dir) / "benchmarks" / f"reddit_offline_scores_{key}.csv"
    if cache.is_file():
        frame = pd.read_csv(cache)
    else:
        comments = pd.read_csv(REDDIT_CSV)
        rows, batch = [], 256
        started = time.perf_counter()
        for offset in range(0, len(comments), batch):
            chunk = comments.iloc[offset:offset + batch]
            docs = [prepare(i, "", str(body), [], settings.score.chunk_size,
                            settings.score.chunk_overlap)
                    for i, body in zip(chunk.index, chunk["body"], strict=True)]
            for (_, comment), outcome in zip(chunk.iterrows(), backend.score_batch(docs, topic),
                                             strict=True):
                result = outcome.result
                rows.append({"created_utc": comment["created_utc"],
                             "on_topic": bool(result and result.on_topic),
                             **{k: (result.scores[k].value if result else None)
                                for k in topic.score_keys}})
            print(f"  scored {min(offset + batch, len(comments))}/{len(comments)} comments "
                  f"({time.perf_counter() - started:.0f} s)", flush=True)
        frame = pd.DataFrame(rows)
        cache.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(cache, index=False)
    frame["published_at"] = pd.to_datetime(frame["created_utc"], unit="s", utc=True)
    frame["source"] = "reddit"
    return frame


# --- naive baseline -----------------------------------------------------------------------

def naive_fit(series, n_fit: int, iterations: int) -> tuple[float, list[float]]:
    """dopri5, default tolerances, full training trajectory, MLP S->32->S, Adam."""
    import torch
    from torchdiffeq import odeint

    torch.manual_seed(0)
    s = len(series.score_keys)
    observed = torch.as_tensor(series.counts[:n_fit] > 0)
    target = torch.as_tensor(np.nan_to_num(series.means[:n_fit]), dtype=torch.float32)
    center = float(np.nanmean(series.means[:n_fit]))
    net = torch.nn.Sequential(torch.nn.Linear(s, 32), torch.nn.Tanh(), torch.nn.Linear(32, s))

    def func(t, x):
        return net(x - center)

    first = np.array([np.nanmean(series.means[:7, j]) if np.isfinite(series.means[:7, j]).any()
                      else center for j in range(s)])
    x0 = torch.nn.Parameter(torch.as_tensor(first, dtype=torch.float32))
    grid = torch.arange(n_fit, dtype=torch.float32)
    optimizer = torch.optim.Adam([*net.parameters(), x0], lr=0.01)
    started = time.perf_counter()
    for _ in range(iterations):
        optimizer.zero_grad()
        path = odeint(func, x0, grid, method="dopri5")
        loss = ((path - target) ** 2)[observed].mean()
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - started
    with torch.no_grad():
        full = odeint(func, x0, torch.arange(series.n_periods, dtype=torch.float32),
                      method="dopri5").numpy()
    rmse = []
    for j in range(s):
        mask = series.counts[n_fit:, j] > 0
        error = full[n_fit:, j][mask] - series.means[n_fit:, j][mask]
        rmse.append(float(np.sqrt(np.mean(error ** 2))) if mask.any() else float("nan"))
    return seconds, rmse


# --- product ------------------------------------------------------------------------------

def product_fit(series, config: DynamicsConfig) -> dict:
    marks: dict[str, float] = {}

    def progress(stage: str, done: int, total: int) -> None:
        marks.setdefault(stage, time.perf_counter())

    started = time.perf_counter()
    fit = fit_dynamics(series, config, progress)
    total = time.perf_counter() - started
    validation = marks.get("full fit", started + total) - started
    end = fit.series.end
    scenario = Scenario(name="bench", horizon_days=90, shocks=[ScenarioShock(
        date=end + dt.timedelta(days=10 * series.period_days), score=series.score_keys[1],
        size=-1.0)], driver_changes=[DriverChange(start=end + dt.timedelta(days=1), days=30,
                                                   factor=1.5)])
    run_scenarios(fit, [scenario])  # warm
    times = []
    for _ in range(5):
        tick = time.perf_counter()
        run_scenarios(fit, [scenario])
        times.append(time.perf_counter() - tick)
    return {"fit": fit, "validation_seconds": validation, "total_seconds": total,
            "scenario_seconds": statistics.median(times)}


def run_dataset(name: str, series, config: DynamicsConfig, naive_iterations: int) -> dict:
    n_fit = split_point(series, config.holdout_fraction)
    unit = {"day": "days", "week": "weeks"}[series.resolution]
    print(f"\n== {name}: {series.n_periods} {unit} "
          f"({series.observed_periods()} observed), train {n_fit}, hold-out "
          f"{series.n_periods - n_fit}; mean documents per period "
          f"{series.counts.mean(0).round(1).tolist()}", flush=True)
    product = product_fit(series, config)
    fit = product["fit"]
    print(f"product: validation fit {product['validation_seconds']:.1f} s, validation + "
          f"production fits + readout {product['total_seconds']:.1f} s "
          f"({config.ensemble_size} members, {config.iterations} it, {config.solver})", flush=True)
    naive_seconds, naive_rmse = naive_fit(series, n_fit, naive_iterations)
    print(f"naive dopri5: {naive_seconds:.1f} s ({naive_iterations} it, one model)", flush=True)
    print(f"{'score':16} {'ODE':>7} {'persist':>8} {'trend':>7} {'naive':>7}  best")
    rmse = {}
    for row, naive in zip(fit.skill, naive_rmse, strict=True):
        rmse[row["score"]] = {"ode": round(row["ode"], 4),
                              "persistence": round(row["persistence"], 4),
                              "linear_trend": round(row["linear_trend"], 4),
                              "naive_dopri5": round(naive, 4)}
        print(f"{row['score']:16} {row['ode']:7.3f} {row['persistence']:8.3f} "
              f"{row['linear_trend']:7.3f} {naive:7.3f}  {row['best']}")
    print(f"scenario re-simulation (baseline + 1 scenario, 90 days, {config.ensemble_size} "
          f"members): {product['scenario_seconds'] * 1000:.1f} ms")
    return {
        "periods": series.n_periods, "resolution": series.resolution, "train": n_fit,
        "naive_fit_s": round(naive_seconds, 2), "naive_iterations": naive_iterations,
        "product_validation_fit_s": round(product["validation_seconds"], 2),
        "product_total_fit_s": round(product["total_seconds"], 2),
        "speedup_validation_fit": round(naive_seconds / product["validation_seconds"], 1),
        "scenario_resim_ms": round(product["scenario_seconds"] * 1000, 1),
        "holdout_rmse": rmse,
        "ode_beats_persistence": {r["score"]: r["ode_beats_persistence"] for r in fit.skill},
        "ode_beats_trend": {r["score"]: r["ode_beats_trend"] for r in fit.skill},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--naive-iterations", type=int, default=300)
    parser.add_argument("--skip-reddit", action="store_true")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # both sides; the product sets the same in fit_dynamics
    settings, topic = get_settings(), load_topic("nato")
    config = DynamicsConfig.from_settings(settings)
    results = {"config": config.model_dump(), "machine_note": "shared 2-core machine; "
               "timings are noisy, the ratio is measured side by side in one run"}
    results["demo_day"] = run_dataset("demo (daily)", demo_series(topic, settings), config,
                                      args.naive_iterations)
    if not args.skip_reddit and REDDIT_CSV.is_file():
        scored = reddit_scored(topic, settings)
        print(f"\nReddit sample: {len(scored)} comments, {int(scored['on_topic'].sum())} on "
              f"topic (offline scorer)", flush=True)
        for resolution in ("day", "week"):
            series = build_series(scored, topic, resolution)
            results[f"reddit_{resolution}"] = run_dataset(
                f"reddit ({ {'day': 'daily', 'week': 'weekly'}[resolution]})", series,
                config.model_copy(update={"resolution": resolution}), args.naive_iterations)
    elif not args.skip_reddit:
        print(f"\nReddit sample absent ({REDDIT_CSV}): skipped.")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
