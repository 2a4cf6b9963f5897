"""Offline backend vs VADER alone on NewsMTSC (human sentiment toward a marked target).

Both read the same sentences. VADER alone: compound of the sentence, thresholds +-0.05
(its authors' convention). Offline backend: the generic target-sentiment topic, the mention
masked by a placeholder, scored 0-10 (null -> 5), neutral band 4-6. Reports macro-F1 over
negative/neutral/positive and Spearman with the human label. Last line: JSON.

Usage: .venv/bin/python benchmarks/offline_scorer_agreement.py [--limit N] [--seed S]
       [--code DIR (score with the analytics package in DIR, e.g. the code before a change)]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
# ../shared/data next to the project (or next to a folder above it, for a worktree)
SHARED = next((p / "shared" / "data" for p in ROOT.parents if (p / "shared" / "data").is_dir()),
              ROOT.parent / "shared" / "data")
DATA = SHARED / "newsmtsc" / "train.jsonl"
LABELS = {2.0: 0, 4.0: 1, 6.0: 2}  # negative, neutral, positive


def load_targets(limit: int | None, seed: int) -> list[dict]:
    rows = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        for target in item["targets"]:
            rows.append({"sentence": item["sentence_normalized"], "start": target["from"],
                         "end": target["to"], "label": LABELS[target["polarity"]]})
    if limit and limit < len(rows):
        order = np.random.default_rng(seed).permutation(len(rows))[:limit]
        rows = [rows[i] for i in sorted(order)]
    return rows


def macro_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    scores = []
    for label in (0, 1, 2):
        tp = np.sum((predicted == label) & (truth == label))
        precision = tp / max(np.sum(predicted == label), 1)
        recall = tp / max(np.sum(truth == label), 1)
        scores.append(0 if tp == 0 else 2 * precision * recall / (precision + recall))
    return float(np.mean(scores))


def vader_scores(rows: list[dict]) -> np.ndarray:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    return np.array([analyzer.polarity_scores(r["sentence"])["compound"] for r in rows])


def offline_scores(rows: list[dict]) -> np.ndarray:
    from analytics.core.settings import Settings
    from analytics.score.backends.offline import OfflineBackend
    from analytics.score.retrieval import Passage, PreparedDocument
    from analytics.score.targeted import mask_target, target_sentiment_topic

    topic = target_sentiment_topic()
    backend = OfflineBackend(Settings())
    docs = []
    for i, row in enumerate(rows):
        text = mask_target(row["sentence"], row["start"], row["end"])
        docs.append(PreparedDocument(i, "", text, [], [Passage(0, "text", text)]))
    values = []
    for start in range(0, len(docs), 512):
        for outcome in backend.score_batch(docs[start:start + 512], topic):
            value = outcome.result.scores["sentiment"].value
            values.append(5.0 if value is None else value)
    return np.array(values)


def to_classes(values: np.ndarray, low: float, high: float) -> np.ndarray:
    return np.where(values < low, 0, np.where(values > high, 2, 1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=None, help="sample this many targets")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--code", type=Path, default=None,
                        help="import the analytics package from this folder")
    args = parser.parse_args()
    sys.path.insert(0, str(args.code.resolve() if args.code else ROOT))
    if not DATA.is_file():
        sys.exit(f"NewsMTSC not found at {DATA}")
    rows = load_targets(args.limit, args.seed)
    truth = np.array([r["label"] for r in rows])

    started = time.perf_counter()
    vader = vader_scores(rows)
    vader_s = time.perf_counter() - started
    started = time.perf_counter()
    offline = offline_scores(rows)
    offline_s = time.perf_counter() - started

    result = {
        "targets": len(rows),
        "vader_macro_f1": round(macro_f1(truth, to_classes(vader, -0.05, 0.05)), 3),
        "vader_spearman": round(float(spearmanr(vader, truth)[0]), 3),
        "offline_macro_f1": round(macro_f1(truth, to_classes(offline, 4.0, 6.0)), 3),
        "offline_spearman": round(float(spearmanr(offline, truth)[0]), 3),
        "vader_s": round(vader_s, 1),
        "offline_s": round(offline_s, 1),
    }
    import analytics

    print(f"code: {Path(analytics.__file__).parents[1]}")
    print(f"label shares: {np.bincount(truth, minlength=3) / len(truth)}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
