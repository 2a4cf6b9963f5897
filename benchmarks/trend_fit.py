"""Trend fit speed and accuracy: vanilla ``pm.sample()`` vs this product's fit, same run.

For N simulated scored documents (one year, three sources, slope -1.2/yr, noise 1.2):
  (a) the straightforward document-level PyMC model (Student-t likelihood, one row per
      document) sampled with ``pm.sample()`` and its default settings;
  (b) ``analytics.trends.fit_trend`` with the product defaults (compressed weighted rows,
      nutpie, compiled once per shape, 4 chains × 1000 draws).
Each runs in a fresh process (cold: imports excluded, compilation included) and then fits
a second data set of the same size in that process (warm). Also: the relative difference
of each posterior mean slope from the closed-form least-squares slope (source fixed
effects + time), and the Trends page load time with a cached fit (AppTest, needs a scored
database at ANALYTICS_DATABASE_URL; skipped otherwise).

Usage: python benchmarks/trend_fit.py [--sizes 10000 100000] [--timeout 600]
The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OFFSETS = {"news": 0.0, "youtube": -0.4, "reddit": -0.8}
TRUE_SLOPE = -1.2


def simulate(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = rng.uniform(0, 365, n)
    source = rng.choice(list(OFFSETS), n, p=[0.5, 0.2, 0.3])
    score = (6 + TRUE_SLOPE * days / 365.25 + pd.Series(source).map(OFFSETS).to_numpy()
             + rng.normal(0, 1.2, n))
    when = pd.Timestamp("2025-11-01", tz="UTC") + pd.to_timedelta(days, unit="D")
    return pd.DataFrame({"published_at": when, "source": source, "s": np.clip(score, 0, 10)})


def least_squares_slope(frame: pd.DataFrame) -> float:
    """Closed form: y ~ source dummies + years (exact document times)."""
    years = ((frame["published_at"] - pd.Timestamp("2025-11-01", tz="UTC"))
             .dt.total_seconds() / 86400 / 365.25).to_numpy()
    dummies = pd.get_dummies(frame["source"]).to_numpy(float)
    design = np.column_stack([dummies, years])
    coefficients, *_ = np.linalg.lstsq(design, frame["s"].to_numpy(), rcond=None)
    return float(coefficients[-1])


def vanilla_fit(frame: pd.DataFrame) -> float:
    """The straightforward model: one Student-t row per document, pm.sample() defaults."""
    import pymc as pm

    sources = sorted(OFFSETS)
    index = frame["source"].map({s: i for i, s in enumerate(sources)}).to_numpy()
    years = ((frame["published_at"] - pd.Timestamp("2025-11-01", tz="UTC"))
             .dt.total_seconds() / 86400 / 365.25).to_numpy()
    with pm.Model():
        level = pm.Normal("level", 5, 2.5)
        slope = pm.Normal("slope", 0, 5)
        spread = pm.HalfNormal("source_sd", 1)
        offset = pm.Normal("offset", 0, spread, shape=len(sources))
        sigma = pm.HalfNormal("sigma", 2.5)
        nu = pm.Gamma("nu", 2, 0.1)
        pm.StudentT("y", nu=nu, mu=level + offset[index] + slope * years, sigma=sigma,
                    observed=frame["s"].to_numpy())
        idata = pm.sample(progressbar=False)
    return float(idata.posterior["slope"].mean())


def product_fit(frame: pd.DataFrame) -> tuple[float, dict]:
    from analytics import trends

    data = trends.make_trend_data(frame, "bench", "s")
    fit = trends.fit_trend(data, trends.ModelConfig(), trends.SamplerConfig(), use_cache=False)
    return float(fit.slope()["mean"]), {**fit.timings, "rows": fit.n_rows,
                                        "diagnostics_ok": fit.diagnostics.ok,
                                        "problems": fit.diagnostics.problems}


def worker(which: str, n: int) -> None:
    """Two fits of the same size in this process: the first cold, the second warm."""
    import warnings

    warnings.filterwarnings("ignore")
    for attempt, seed in enumerate((1, 2)):
        frame = simulate(n, seed)
        started = time.perf_counter()
        if which == "vanilla":
            slope, extra = vanilla_fit(frame), {}
        else:
            slope, extra = product_fit(frame)
        seconds = time.perf_counter() - started
        reference = least_squares_slope(frame)
        print(json.dumps({"fit": "cold" if attempt == 0 else "warm", "seconds": seconds,
                          "slope": slope, "ls_slope": reference,
                          "rel_diff": abs(slope - reference) / abs(reference), **extra}),
              flush=True)


def run_worker(which: str, n: int, timeout: float) -> dict:
    """Runs ``worker`` in a fresh process; keeps what finished before the timeout."""
    command = [sys.executable, __file__, "--worker", which, "--n", str(n)]
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL, cwd=ROOT)
        try:
            process.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            timed_out = True
        out.seek(0)
        lines = [json.loads(line) for line in out if line.startswith("{")]
    result = {line["fit"]: line for line in lines}
    result["process_seconds"] = time.perf_counter() - started
    result["timed_out"] = timed_out
    return result


def page_load_seconds(repeats: int = 3) -> dict:
    """AppTest run time of pages/trends.py reading a cached fit (demo or any scored DB)."""
    import warnings

    warnings.filterwarnings("ignore")
    from streamlit.testing.v1 import AppTest

    from analytics import trends
    from analytics.core.settings import get_settings
    from analytics.core.topics import load_topic

    settings = get_settings()
    topic = load_topic(None, settings)
    try:
        fits = trends.refresh_trends(topic, settings, scores=topic.score_keys[:1],
                                     forms=["linear"])
    except Exception as exc:  # no database or no scores: say so in the JSON
        return {"seconds": None, "note": f"no cached fit possible: {exc}"}
    if not fits:
        return {"seconds": None, "note": "no scored documents in ANALYTICS_DATABASE_URL"}
    times = []
    for _ in range(repeats):
        app = AppTest.from_file(str(ROOT / "pages" / "trends.py"), default_timeout=120)
        started = time.perf_counter()
        app.run()
        times.append(time.perf_counter() - started)
        assert not app.exception, app.exception
    return {"seconds_first": times[0], "seconds_median": float(np.median(times)),
            "documents": fits[0].n_documents, "database": settings.database_url}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="Seconds allowed per process (two fits) before it is killed.")
    parser.add_argument("--worker", choices=["vanilla", "product"])
    parser.add_argument("--n", type=int)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.n)
        return
    figures: dict = {"cpus": os.cpu_count(), "true_slope": TRUE_SLOPE, "sizes": {}}
    for n in args.sizes:
        product = run_worker("product", n, args.timeout)
        vanilla = run_worker("vanilla", n, args.timeout)
        entry = {"product": product, "vanilla": vanilla}
        for kind in ("cold", "warm"):
            a, b = vanilla.get(kind), product.get(kind)
            entry[f"speedup_{kind}"] = (a["seconds"] / b["seconds"]) if a and b else None
            if kind == "cold" and a is None and b is not None and vanilla["timed_out"]:
                # a lower bound: the vanilla cold fit had not finished at the timeout
                entry["speedup_cold"] = f"> {args.timeout / b['seconds']:.0f} (vanilla timed out)"
            elif a is None and vanilla["timed_out"]:
                entry[f"speedup_{kind}"] = "not measured (vanilla timed out before this fit)"
        figures["sizes"][str(n)] = entry
        print(f"n={n}: product cold {product.get('cold', {}).get('seconds')} s, warm "
              f"{product.get('warm', {}).get('seconds')} s; vanilla cold "
              f"{vanilla.get('cold', {}).get('seconds')} s, warm "
              f"{vanilla.get('warm', {}).get('seconds')} s (timed out: {vanilla['timed_out']})",
              flush=True)
    figures["page_load"] = page_load_seconds()
    print(json.dumps(figures, default=str))


if __name__ == "__main__":
    main()
