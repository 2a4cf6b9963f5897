"""How long an analyst waits for a first trend fit: with the server's start-up warm-up vs without.

The Trends page fits what a view lacks (both forms, so the data can choose). Each side runs
in a fresh process on the same scored database (``--database``, e.g. the demo) and fits one
view nobody has fitted yet (``--window``, ``--source``; every score, both forms, no cache):
- baseline: a fresh process fits at once (the model compiles inside the first fit),
- ours: the process first runs ``trends.warm_up()`` — what the dashboard does in a
  background thread when it starts — and then fits; the analyst waits only for the fit.
Figures: seconds per score for the first fit (the wait after pressing the button), and how
long the warm-up itself took. Last line: one JSON object; target ``first_fit_s`` ≤ 10.

Usage: python benchmarks/first_fit.py --database sqlite:///data/analytics.db [--window 90d]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 10.0

CHILD = r"""
import json, sys, time
from analytics.core.settings import get_settings
from analytics.core.topics import load_topic
from analytics.trends import refresh_trends, resolve_window, warm_up
settings = get_settings()
topic = load_topic("nato")
warm_s = None
if sys.argv[1] == "warm":
    started = time.perf_counter(); warm_up(settings); warm_s = time.perf_counter() - started
start, end = resolve_window(topic.name, sys.argv[2])
per_score = {}
for key in topic.score_keys:
    started = time.perf_counter()
    refresh_trends(topic, settings, scores=[key], forms=["linear", "events"],
                   sources=(sys.argv[3],), start=start, end=end, force=True)
    per_score[key] = round(time.perf_counter() - started, 2)
print(json.dumps({"warm_up_s": None if warm_s is None else round(warm_s, 1),
                  "fit_s": per_score}))
"""


def run(mode: str, args, data_dir: str) -> dict:
    env = {**os.environ, "ANALYTICS_DATA_DIR": data_dir}
    if args.database:
        env["ANALYTICS_DATABASE_URL"] = args.database
    done = subprocess.run([sys.executable, "-c", CHILD, mode, args.window, args.source],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", help="SQLAlchemy URL of a scored database")
    parser.add_argument("--window", default="90d")
    parser.add_argument("--source", default="news")
    args = parser.parse_args()
    results = {}
    for mode in ("cold", "warm"):
        with tempfile.TemporaryDirectory() as data_dir:  # no cached fit on either side
            results[mode] = run(mode, args, data_dir)
            print(mode, results[mode], flush=True)
    first = max(results["warm"]["fit_s"].values())
    print(json.dumps({
        "view": f"{args.window}, {args.source}, every score, both forms",
        "baseline_first_fit_s": results["cold"]["fit_s"],
        "ours_first_fit_s": results["warm"]["fit_s"],
        "warm_up_s": results["warm"]["warm_up_s"],
        "first_fit_s": first, "target_s": TARGET_S, "within_target": first <= TARGET_S}))


if __name__ == "__main__":
    main()
