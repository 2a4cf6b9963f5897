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
train sentences for "sentiment toward <target mention>" (a one-score topic built here);
human polarity 2/4/6 maps to 0/5/10. Krippendorff's alpha (interval), MAE and Spearman
against the human labels, with VADER on the same sentences as the baseline.

Run: .venv/bin/python benchmarks/validation_coverage.py [--reps 200] [--sentences 1500]
The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics import validation as v

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

def target_topic(mention: str):
    """A one-score topic: sentiment toward the marked target of a sentence."""
    from analytics.config import ScoreDefinition, Topic

    digest = hashlib.sha1(mention.lower().encode()).hexdigest()[:12]
    score = ScoreDefinition(
        key="sentiment", label=f"Sentiment toward {mention}",
        question=f"How does the text portray {mention}: favourably or unfavourably?",
        low=f"0 = {mention} is portrayed very negatively: criticized, blamed or attacked",
        high=f"10 = {mention} is portrayed very positively: praised, supported or admired",
        anchors_low=[f"{mention} was criticized.", f"{mention} is blamed for the failure.",
                     f"{mention} lied and acted badly."],
        anchors_high=[f"{mention} was praised.", f"{mention} did an excellent job.",
                      f"{mention} is admired and respected."],
    )
    return Topic(name=f"target_{digest}", title=f"Sentiment toward {mention}", target=mention,
                 keywords=[mention], scores=[score])


def load_newsmtsc(limit: int, seed: int) -> list[dict]:
    items = []
    for line in NEWSMTSC.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        for target in record["targets"]:
            items.append({"sentence": record["sentence_normalized"],
                          "mention": target["mention"],
                          "human": POLARITY_TO_SCORE[float(target["polarity"])]})
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(items), size=min(limit, len(items)), replace=False)
    return [items[i] for i in sorted(chosen)]


def newsmtsc_agreement(limit: int, seed: int, threads: int = 1) -> dict:
    import torch
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from analytics.config import get_settings
    from analytics.scoring.backends.offline import OfflineBackend
    from analytics.scoring.retrieval import prepare

    # Thousands of tiny encode calls (each target's anchors): one thread avoids the
    # oversubscription that made them ~9x slower on the shared 2-core machine.
    torch.set_num_threads(threads)
    items = load_newsmtsc(limit, seed)
    backend = OfflineBackend(get_settings())
    machine = np.full(len(items), np.nan)
    by_topic: dict[str, list[int]] = {}
    topics = {}
    for i, item in enumerate(items):
        topic = target_topic(item["mention"])
        topics[topic.name] = topic
        by_topic.setdefault(topic.name, []).append(i)
    started = time.perf_counter()
    for name, rows in by_topic.items():
        documents = [prepare(i, None, items[i]["sentence"], []) for i in rows]
        for i, outcome in zip(rows, backend.score_batch(documents, topics[name]), strict=True):
            if outcome.result is not None:
                value = outcome.result.scores["sentiment"].value
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
        "sentences": len(items), "distinct_targets": len(by_topic),
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
    parser.add_argument("--torch-threads", type=int, default=1)
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
        report["newsmtsc"] = newsmtsc_agreement(args.sentences, seed=0,
                                                threads=args.torch_threads)
        print("NewsMTSC:", json.dumps(report["newsmtsc"]))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
