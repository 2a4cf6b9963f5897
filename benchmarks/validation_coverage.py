"""Coverage of the naive vs the DSL-corrected trend interval, and the offline scorer's
agreement with human NewsMTSC labels.

Part 1 (simulation): >= 200 corpora of 10,000 documents over one year. Human opinion
declines by TRUE_SLOPE points per year; the surrogate (machine score) adds noise calibrated
to "85 % accuracy" (its negative / neutral / positive class, cut at 4 and 6, matches the
human's 85 % of the time when there is no bias) and a bias that drifts upward over the year.
300 gold labels are a simple random sample (pi = 300 / 10,000). For each corpus: the naive
OLS interval on the surrogate and the DSL interval (pseudo-outcomes + HC1 errors), both
nominal 95 %. A control with an unbiased surrogate runs side by side.

Part 2 (real human labels): the offline backend scores a fixed random subset of NewsMTSC
train sentences for sentiment toward the marked target (the one-score topic of
analytics.score.targeted: the mention is replaced by a placeholder);
human polarity 2/4/6 maps to 0/5/10. Krippendorff's alpha (interval), MAE and Spearman
against the human labels, with VADER on the same sentences as the baseline.

Run: .venv/bin/python benchmarks/validation_coverage.py [--reps 200] [--sentences 1500]
The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics import validate as v

TRUE_SLOPE = -1.0  # human opinion, points per year
DRIFT_PER_YEAR = 1.0  # surrogate bias rises by this much over the year
HUMAN_SD = 1.5
NEWSMTSC = Path(__file__).resolve().parents[2] / "shared" / "data" / "newsmtsc" / "train.jsonl"
POLARITY_TO_SCORE = {2.0: 0.0, 4.0: 5.0, 6.0: 10.0}


# --- part 1: coverage -------------------------------------------------------------------

def _classes(x: np.ndarray) -> np.ndarray:
    return np.digitize(x, [4.0, 6.0])


def calibrate_noise(target_accuracy: float = 0.85, seed: int = 0) -> float:
    """Noise sd at which the surrogate's 3-class agreement with the human is the target."""
    rng = np.random.default_rng(seed)
    human = 5.5 + rng.normal(0, HUMAN_SD, 400_000)
    z = rng.normal(0, 1, human.size)
    low, high = 0.01, 5.0
    for _ in range(40):
        mid = (low + high) / 2
        accuracy = np.mean(_classes(human + mid * z) == _classes(human))
        low, high = (mid, high) if accuracy > target_accuracy else (low, mid)
    return (low + high) / 2


def simulate(rng: np.random.Generator, noise_sd: float, drift: float, n: int, gold: int):
    years = rng.uniform(0, 1, n)
    human = 6.0 + TRUE_SLOPE * years + rng.normal(0, HUMAN_SD, n)
    machine = human + drift * (years - 0.5) + rng.normal(0, noise_sd, n)
    labelled = np.zeros(n, bool)
    labelled[rng.choice(n, gold, replace=False)] = True
    return years, machine, labelled, np.where(labelled, human, np.nan), np.full(n, gold / n)


def coverage(reps: int, noise_sd: float, drift: float, n: int, gold: int, seed: int) -> dict:
    covered = {"naive": 0, "corrected": 0}
    widths = {"naive": [], "corrected": []}
    slopes = {"naive": [], "corrected": []}
    for rep in range(reps):
        result = v.dsl_trend(*simulate(np.random.default_rng(seed + rep), noise_sd, drift, n,
                                       gold))
        for name, estimate in (("naive", result.naive), ("corrected", result.corrected)):
            covered[name] += estimate.covers(TRUE_SLOPE)
            widths[name].append(estimate.high - estimate.low)
            slopes[name].append(estimate.slope)
    out = {}
    for name, hits in covered.items():
        s = np.array(slopes[name])
        out[name] = {"coverage": hits / reps, "mean_width": float(np.mean(widths[name])),
                     "mean_slope": float(s.mean()),
                     "rmse": float(np.sqrt(np.mean((s - TRUE_SLOPE) ** 2)))}
    return out


# --- part 2: NewsMTSC -------------------------------------------------------------------

def load_newsmtsc(limit: int, seed: int) -> list[dict]:
    items = []
    for line in NEWSMTSC.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        for target in record["targets"]:
            items.append({"sentence": record["sentence_normalized"],
                          "start": target["from"], "end": target["to"],
                          "human": POLARITY_TO_SCORE[float(target["polarity"])]})
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(items), size=min(limit, len(items)), replace=False)
    return [items[i] for i in sorted(chosen)]


def newsmtsc_agreement(limit: int, seed: int) -> dict:
    """Offline backend on the lead's generic target topic (analytics.score.targeted):
    the marked mention is replaced by a placeholder, one topic serves every target."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from analytics.core.settings import get_settings
    from analytics.score.backends.offline import OfflineBackend
    from analytics.score.retrieval import Passage, PreparedDocument
    from analytics.score.targeted import mask_target, target_sentiment_topic

    items = load_newsmtsc(limit, seed)
    topic = target_sentiment_topic()
    backend = OfflineBackend(get_settings())
    documents = []
    for i, item in enumerate(items):
        text = mask_target(item["sentence"], item["start"], item["end"])
        documents.append(PreparedDocument(i, "", text, [], [Passage(0, "text", text)]))
    started = time.perf_counter()
    machine = np.full(len(items), np.nan)
    for first in range(0, len(documents), 512):
        outcomes = backend.score_batch(documents[first:first + 512], topic)
        for i, outcome in enumerate(outcomes, start=first):
            value = outcome.result.scores["sentiment"].value if outcome.result else None
            machine[i] = np.nan if value is None else value
    seconds = time.perf_counter() - started
    human = np.array([item["human"] for item in items])
    vader = SentimentIntensityAnalyzer()
    baseline = np.array([5 + 5 * vader.polarity_scores(item["sentence"])["compound"]
                         for item in items])

    def figures(scores: np.ndarray) -> dict:
        result = v.compare(scores, human)
        return {"pairs": result.pairs, "alpha": result.alpha, "mae": result.mae,
                "spearman": result.spearman, "bias": result.bias}

    return {
        "sentences": len(items),
        "offline_scored_share": float(np.mean(~np.isnan(machine))),
        "offline_addressed_only": figures(machine),
        "offline_null_as_neutral": figures(np.where(np.isnan(machine), 5.0, machine)),
        "vader_baseline": figures(baseline),
        "offline_seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--gold", type=int, default=300)
    parser.add_argument("--sentences", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=20240)
    parser.add_argument("--skip-newsmtsc", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    noise_sd = calibrate_noise()
    drifting = coverage(args.reps, noise_sd, DRIFT_PER_YEAR, args.documents, args.gold, args.seed)
    unbiased = coverage(args.reps, noise_sd, 0.0, args.documents, args.gold, args.seed)
    simulation_s = time.perf_counter() - started
    print(f"noise sd for 85% class accuracy: {noise_sd:.3f}")
    for label, result in (("drifting scorer", drifting), ("unbiased scorer", unbiased)):
        for name, r in result.items():
            print(f"{label:16s} {name:9s} coverage {r['coverage']:.3f}  width "
                  f"{r['mean_width']:.3f}  mean slope {r['mean_slope']:+.3f}  rmse {r['rmse']:.3f}")
    report = {
        "benchmark": "validation_coverage", "reps": args.reps, "documents": args.documents,
        "gold_labels": args.gold, "true_slope_per_year": TRUE_SLOPE,
        "drift_per_year": DRIFT_PER_YEAR, "noise_sd_85pct": round(noise_sd, 4),
        "nominal": 0.95,
        "drifting": drifting, "unbiased": unbiased, "simulation_seconds": round(simulation_s, 1),
    }
    if not args.skip_newsmtsc and NEWSMTSC.is_file():
        report["newsmtsc"] = newsmtsc_agreement(args.sentences, seed=0)
        print("NewsMTSC:", json.dumps(report["newsmtsc"]))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
