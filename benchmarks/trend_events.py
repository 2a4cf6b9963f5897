"""Shock dating on the demo and the first fit's latency: the Trends page's default model vs
a classical baseline, same run.

On a scored demo corpus (default: 3,000 documents, seed 42, offline scorer) for each score:
  - ours: the form the Trends page shows by default (the data's choice between the straight
    line and turning points and shocks, PSIS-LOO) and the events it dates;
  - baseline: binary segmentation of the daily means (least squares, the classical
    change-point method; as many segments as the truth has shocks + 1).
For every shock of the demo truth: the distance in days to the nearest dated event (None
when nothing is dated within 30 days). Also the wall time of each fit in this fresh
process: what a user waits for on the Trends page (the straight line's first fit includes
compiling its model; the dashboard compiles it in the background at start).

Usage: python benchmarks/trend_events.py [--database sqlite:///demo.db] [--documents 3000]
Without --database a demo corpus is generated and scored into a temporary folder.
The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WITHIN_DAYS = 30


def prepare(database: str | None, documents: int, folder: Path) -> None:
    os.environ["ANALYTICS_DATA_DIR"] = str(folder / "data")
    os.environ["ANALYTICS_TREND_WARM_UP"] = "false"
    if database:
        os.environ["ANALYTICS_DATABASE_URL"] = database
        return
    os.environ["ANALYTICS_DATABASE_URL"] = f"sqlite:///{folder / 'demo.db'}"
    os.environ["ANALYTICS_DEMO_DOCUMENTS"] = str(documents)
    from analytics.core.topics import load_topic
    from analytics.pipeline.demo import generate_demo
    from analytics.score.pipeline import score_topic

    topic = load_topic("nato")
    generate_demo(topic)
    score_topic(topic)


def binary_segmentation(daily: pd.Series, segments: int, margin: int = 7) -> list[dt.date]:
    """Split points of a daily series by greedy least-squares binary segmentation."""
    values = daily.to_numpy(float)
    cuts = [0, len(values)]
    found = []
    for _ in range(segments - 1):
        best = (0.0, None)
        for lo, hi in itertools.pairwise(cuts):
            part = values[lo:hi]
            if len(part) < 2 * margin:
                continue
            total = ((part - part.mean()) ** 2).sum()
            for k in range(margin, len(part) - margin):
                gain = total - ((part[:k] - part[:k].mean()) ** 2).sum() \
                    - ((part[k:] - part[k:].mean()) ** 2).sum()
                if gain > best[0]:
                    best = (gain, lo + k)
        if best[1] is None:
            break
        cuts = sorted([*cuts, best[1]])
        found.append(daily.index[best[1]].date())
    return found


def errors(found: list[dt.date], shocks: list[dt.date]) -> list[int | None]:
    out = []
    for shock in shocks:
        near = [abs((d - shock).days) for d in found if abs((d - shock).days) <= WITHIN_DAYS]
        out.append(min(near) if near else None)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database")
    parser.add_argument("--documents", type=int, default=3000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="trend-events-"))
    prepare(args.database, args.documents, folder)

    from analytics import trends
    from analytics.core.settings import get_settings
    from analytics.core.topics import load_topic
    from analytics.core.views import SOURCES
    from analytics.ingest.providers.demo import NATO_PATHS
    from analytics.store import queries

    settings, topic = get_settings(), load_topic("nato")
    scored = trends.load_scored(topic, SOURCES, None, None, settings)
    daily = queries.daily_scores(scored, topic.score_keys)
    result = {"documents": len(scored), "ours_error_days": {}, "baseline_error_days": {},
              "chosen_form": {}, "fit_s": {}, "within_days": WITHIN_DAYS}
    for score in topic.score_keys:
        data = trends.make_trend_data(scored, topic.name, score)
        fits = {}
        for form in ("events", "linear"):
            config, sampler = trends.configs(form, settings)
            started = time.perf_counter()
            fits[form] = trends.fit_trend(data, config, sampler, settings)
            result["fit_s"].setdefault(form, {})[score] = round(time.perf_counter() - started, 2)
        choice = trends.service.view_trend(score, fits, settings)
        shown = choice.chosen
        result["chosen_form"][score] = shown.form
        shocks = [s.date for s in NATO_PATHS[score].shocks]
        found = list(shown.detected_changes()["date"].dt.date) if not shown.events.empty else []
        series = daily[daily["score"] == score].set_index("day")["mean"].asfreq("D")
        baseline = binary_segmentation(series.interpolate().bfill().ffill(), len(shocks) + 1)
        result["ours_error_days"][score] = dict(zip(map(str, shocks), errors(found, shocks),
                                                    strict=True))
        result["baseline_error_days"][score] = dict(zip(map(str, shocks),
                                                        errors(baseline, shocks), strict=True))
        print(f"{score:16s} shown: {shown.form:7s} ours {found}  baseline {baseline}  "
              f"({choice.choice.reason if choice.choice else 'no choice'})")
    ours = [e for v in result["ours_error_days"].values() for e in v.values()]
    base = [e for v in result["baseline_error_days"].values() for e in v.values()]
    result["ours_dated"] = sum(e is not None for e in ours)
    result["baseline_dated"] = sum(e is not None for e in base)
    result["ours_max_error_days"] = max((e for e in ours if e is not None), default=None)
    result["baseline_max_error_days"] = max((e for e in base if e is not None), default=None)
    result["shocks"] = len(ours)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
