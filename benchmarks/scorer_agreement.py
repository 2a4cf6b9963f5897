"""Agreement with human labels on held-out data: VADER alone vs the zero-shot offline scorer
vs the learned attitude scorer, side by side, plus the scoring rate vs raw MiniLM.

Held-out part (the one ``python -m analytics train-attitude`` never reads): a text is held
out when int(sha256(normalise(text)).hexdigest()[:8], 16) % 5 == 0 (normalise = lower-case,
whitespace collapsed): NewsMTSC split by sentence (all targets of a sentence together), RUW
train.csv + val.csv pooled and split by tweet. See analytics/score/attitude_train.py.

- NewsMTSC (sentiment toward a marked person in news sentences; 2/4/6 -> neg/neu/pos):
  VADER alone = 5 + 5 * compound of the sentence; zero-shot = the offline backend's generic
  target-sentiment topic with the mention masked (as before this benchmark); learned = the
  attitude model reading the sentence with the marked mention.
- RUW (stance toward Russia and toward Ukraine in tweets): one document per tweet, scored by
  the product's offline backend with a topic file written as a user would (RUW_TOPIC below:
  two ``kind: attitude`` scores naming the target and a few aliases); the zero-shot column
  uses the same two scores as ``kind: prototype`` with rubric ends and anchor sentences
  (RUW_ZERO_SHOT). A null ("not addressed": the tweet does not mention the target) counts
  as NONE. VADER alone scores the tweet.
- Figures: macro-F1 over 3 classes (0-10 value: < 4 negative/against, > 6 positive/favour,
  else neutral/none), Spearman and Krippendorff's alpha (interval) against the human label
  on 0/5/10. Targets: NewsMTSC macro-F1 >= 0.65 and Spearman >= 0.60; RUW macro-F1 >= 0.55
  averaged over both targets.
- Speed: the product's offline backend scoring the held-out tweets with the two-score
  attitude topic (every sentence that mentions a target goes through the span encoder),
  and the learned scorer on NewsMTSC sentences, each against the packaged MiniLM alone
  (sentence-transformers encode, batch 32) on exactly the same sentences, in this run,
  interleaved, median of --reps. ratio = raw seconds / scorer seconds (target >= 0.70).

Run: .venv/bin/python benchmarks/scorer_agreement.py [--speed-texts 600] [--reps 3]
     [--threads 2] [--quality-only | --speed-only]
Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = next((p / "shared" / "data" for p in ROOT.parents if (p / "shared" / "data").is_dir()),
              ROOT.parent / "shared" / "data")

RUW_TOPIC = """
name: russia_ukraine
title: Russia and Ukraine
target: Russia and Ukraine
keywords: [Russia, Ukraine, Putin, Zelensky, Kremlin, Kyiv]
scores:
  - key: attitude_russia
    label: Attitude toward Russia
    kind: attitude
    target: Russia
    aliases: [Putin, Kremlin, Moscow]
    question: What attitude toward Russia does the text express?
    low: "0 = hostile: Russia is condemned or opposed."
    high: "10 = favourable: Russia is supported or praised."
  - key: attitude_ukraine
    label: Attitude toward Ukraine
    kind: attitude
    target: Ukraine
    aliases: [Zelensky, Zelenskyy, Kyiv, Kiev]
    question: What attitude toward Ukraine does the text express?
    low: "0 = hostile: Ukraine is condemned or opposed."
    high: "10 = favourable: Ukraine is supported or praised."
"""

RUW_ZERO_SHOT = """
name: russia_ukraine_zero_shot
title: Russia and Ukraine
target: Russia and Ukraine
keywords: [Russia, Ukraine, Putin, Zelensky, Kremlin, Kyiv, war in Ukraine]
scores:
  - key: attitude_russia
    label: Attitude toward Russia
    question: What attitude toward Russia does the text express?
    low: "0 = hostile: Russia is condemned, blamed or portrayed negatively."
    high: "10 = favourable: Russia is supported, praised or portrayed positively."
    anchors_low:
      - Russia is condemned as an aggressor and its actions are criminal.
      - Putin's regime is to blame and must be stopped.
      - People oppose Russia and disapprove of the Kremlin.
    anchors_high:
      - Russia is right and deserves support.
      - Putin is a strong leader defending his country.
      - People support Russia and approve of the Kremlin.
  - key: attitude_ukraine
    label: Attitude toward Ukraine
    question: What attitude toward Ukraine does the text express?
    low: "0 = hostile: Ukraine is condemned, blamed or portrayed negatively."
    high: "10 = favourable: Ukraine is supported, praised or portrayed positively."
    anchors_low:
      - Ukraine is to blame and its government is corrupt.
      - Zelensky is a puppet and should not get any more aid.
      - People oppose Ukraine and disapprove of Kyiv.
    anchors_high:
      - Ukraine deserves our support; stand with Ukraine.
      - Zelensky is a brave leader defending his country.
      - People support Ukraine and admire its resistance.
"""


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="cores for every side")
    parser.add_argument("--speed-texts", type=int, default=600,
                        help="held-out tweets / sentences per speed workload")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--quality-only", action="store_true")
    parser.add_argument("--speed-only", action="store_true")
    # known args only: benchmarks/calibration_gain.py imports this module's helpers
    return parser.parse_known_args()[0]


ARGS = _args()
os.environ["ANALYTICS_EMBEDDING_THREADS"] = str(ARGS.threads)
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def topic(text: str):
    import yaml

    from analytics.core.topics import Topic

    return Topic.model_validate(yaml.safe_load(text))


def vader(texts: list[str]) -> np.ndarray:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    return np.array([5 + 5 * analyzer.polarity_scores(t)["compound"] for t in texts])


def backend_values(documents, topic_obj, keys: list[str]) -> dict[str, np.ndarray]:
    from analytics.core.settings import Settings
    from analytics.score.backends.offline import OfflineBackend

    backend = OfflineBackend(Settings())
    out: dict[str, list[float]] = {k: [] for k in keys}
    for first in range(0, len(documents), 256):
        for outcome in backend.score_batch(documents[first:first + 256], topic_obj):
            for k in keys:
                value = outcome.result.scores[k].value if outcome.result else None
                out[k].append(np.nan if value is None else value)
    return {k: np.array(v, dtype=float) for k, v in out.items()}


def newsmtsc_quality() -> dict:
    from analytics.llm.embeddings import get_embedder
    from analytics.score.attitude import AttitudeTarget, get_attitude_model, score_sentences
    from analytics.score.attitude_train import figures, load_newsmtsc
    from analytics.score.retrieval import Passage, PreparedDocument
    from analytics.score.targeted import mask_target, target_sentiment_topic

    rows = [r for r in load_newsmtsc(SHARED) if r["held_out"]]
    truth = np.array([r["label"] for r in rows])
    texts = [r["text"] for r in rows]
    out = {"n": len(rows), "vader": figures(vader(texts), truth)}
    docs = []
    for i, r in enumerate(rows):
        masked = mask_target(r["text"], *r["units"][0][1][0])
        docs.append(PreparedDocument(i, "", masked, [], [Passage(0, "text", masked)]))
    out["zero_shot"] = figures(backend_values(docs, target_sentiment_topic(), ["sentiment"])[
        "sentiment"], truth)
    _, probs = score_sentences(get_embedder(), texts, [AttitudeTarget("(marked)")],
                               get_attitude_model(), spans=[[r["units"][0][1]] for r in rows])
    values = np.where(np.isnan(probs[:, 0, 0]), np.nan, 5 + 5 * (probs[:, 0, 2] - probs[:, 0, 0]))
    out["learned"] = figures(values, truth)
    return out


def ruw_tweets() -> tuple[list[str], dict[str, np.ndarray]]:
    from analytics.score.attitude_train import load_ruw

    rows = [r for r in load_ruw(SHARED) if r["held_out"]]
    tweets = sorted({r["text"] for r in rows})
    label = {(r["text"], r["target"]): r["label"] for r in rows}
    return tweets, {k: np.array([label[(t, k)] for t in tweets]) for k in ("russia", "ukraine")}


def ruw_quality() -> dict:
    from analytics.score.attitude_train import figures
    from analytics.score.retrieval import prepare

    tweets, truth = ruw_tweets()
    docs = [prepare(i, None, t, []) for i, t in enumerate(tweets)]
    keys = ["attitude_russia", "attitude_ukraine"]
    learned = backend_values(docs, topic(RUW_TOPIC), keys)
    docs = [prepare(i, None, t, []) for i, t in enumerate(tweets)]
    zero = backend_values(docs, topic(RUW_ZERO_SHOT), keys)
    lexicon = vader(tweets)
    out: dict = {"tweets": len(tweets)}
    for key, name in zip(keys, ("russia", "ukraine"), strict=True):
        out[name] = {"vader": figures(lexicon, truth[name]),
                     "zero_shot": figures(zero[key], truth[name]),
                     "learned": figures(learned[key], truth[name])}
    out["mean_over_targets"] = {
        m: {f: round(float(np.mean([out[t][m][f] for t in ("russia", "ukraine")])), 4)
            for f in ("macro_f1", "spearman", "alpha")}
        for m in ("vader", "zero_shot", "learned")}
    return out


def speed() -> dict:
    """Scorer vs raw MiniLM on the same sentences, interleaved, median of reps."""
    import torch

    from analytics.llm.embeddings import get_embedder
    from analytics.score.attitude import AttitudeTarget, get_attitude_model, score_sentences
    from analytics.score.attitude_train import load_newsmtsc
    from analytics.score.backends.offline import OfflineBackend
    from analytics.score.retrieval import prepare, split_sentences

    torch.set_num_threads(ARGS.threads)
    from analytics.core.settings import Settings

    embedder = get_embedder()
    model = embedder._model

    def raw(texts):
        model.encode(texts, batch_size=32, normalize_embeddings=True,
                     show_progress_bar=False, convert_to_numpy=True)

    tweets, _ = ruw_tweets()
    tweets = tweets[:ARGS.speed_texts]
    backend = OfflineBackend(Settings())
    ruw_topic = topic(RUW_TOPIC)

    def product():
        docs = [prepare(i, None, t, []) for i, t in enumerate(tweets)]
        backend.score_batch(docs, ruw_topic)

    sentences = [s for t in tweets for s in split_sentences(prepare(0, None, t, []).text)]
    news = [r for r in load_newsmtsc(SHARED) if r["held_out"]][:ARGS.speed_texts]
    news_texts = [r["text"] for r in news]
    news_spans = [[r["units"][0][1]] for r in news]
    attitude = get_attitude_model()

    def learned_news():
        score_sentences(embedder, news_texts, [AttitudeTarget("(marked)")], attitude,
                        spans=news_spans)

    product(), raw(sentences[:64])  # warm-up
    out = {}
    for name, texts, run in (("ruw_tweets_two_attitude_scores", sentences, product),
                             ("newsmtsc_sentences_one_target", news_texts, learned_news)):
        raw_s, scorer_s = [], []
        for _ in range(ARGS.reps):
            started = time.perf_counter()
            raw(texts)
            raw_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            run()
            scorer_s.append(time.perf_counter() - started)
        r, s = statistics.median(raw_s), statistics.median(scorer_s)
        out[name] = {"sentences": len(texts), "raw_minilm_per_s": round(len(texts) / r, 1),
                     "scorer_per_s": round(len(texts) / s, 1), "ratio": round(r / s, 3),
                     "raw_s": [round(x, 2) for x in raw_s],
                     "scorer_s": [round(x, 2) for x in scorer_s]}
        print("speed", name, json.dumps(out[name]), flush=True)
    return out


def main() -> None:
    if not (SHARED / "newsmtsc").is_dir() or not (SHARED / "ruw_stance").is_dir():
        sys.exit(f"shared data not found at {SHARED}")
    from analytics.score.attitude import get_attitude_model

    model = get_attitude_model()
    result: dict = {"scorer_version": model.version, "threads": ARGS.threads,
                    "split": "held out iff sha256(normalised text)[:8] % 5 == 0 (training "
                             "never reads it)"}
    started = time.perf_counter()
    if not ARGS.speed_only:
        result["newsmtsc"] = newsmtsc_quality()
        print("newsmtsc", json.dumps(result["newsmtsc"]), flush=True)
        result["ruw"] = ruw_quality()
        print("ruw", json.dumps(result["ruw"]), flush=True)
    if not ARGS.quality_only:
        result["speed"] = speed()
    result["seconds"] = round(time.perf_counter() - started, 1)
    summary = {}
    if "newsmtsc" in result:
        n, r = result["newsmtsc"], result["ruw"]["mean_over_targets"]
        print(f"\n{'':28s}{'VADER':>8s}{'zero-shot':>11s}{'learned':>9s}")
        for label, f in (("NewsMTSC macro-F1", "macro_f1"), ("NewsMTSC Spearman", "spearman"),
                         ("NewsMTSC alpha", "alpha")):
            print(f"{label:28s}{n['vader'][f]:8.3f}{n['zero_shot'][f]:11.3f}"
                  f"{n['learned'][f]:9.3f}")
        for label, f in (("RUW macro-F1 (mean)", "macro_f1"), ("RUW Spearman (mean)", "spearman"),
                         ("RUW alpha (mean)", "alpha")):
            print(f"{label:28s}{r['vader'][f]:8.3f}{r['zero_shot'][f]:11.3f}{r['learned'][f]:9.3f}")
        summary.update({
            "newsmtsc_macro_f1": {m: n[m]["macro_f1"] for m in ("vader", "zero_shot", "learned")},
            "newsmtsc_spearman": {m: n[m]["spearman"] for m in ("vader", "zero_shot", "learned")},
            "newsmtsc_alpha": {m: n[m]["alpha"] for m in ("vader", "zero_shot", "learned")},
            "ruw_macro_f1_mean": {m: r[m]["macro_f1"] for m in ("vader", "zero_shot", "learned")},
            "ruw_spearman_mean": {m: r[m]["spearman"] for m in ("vader", "zero_shot", "learned")},
            "ruw_alpha_mean": {m: r[m]["alpha"] for m in ("vader", "zero_shot", "learned")},
            "targets_met": {
                "newsmtsc_macro_f1>=0.65": n["learned"]["macro_f1"] >= 0.65,
                "newsmtsc_spearman>=0.60": n["learned"]["spearman"] >= 0.60,
                "ruw_macro_f1>=0.55": r["learned"]["macro_f1"] >= 0.55},
        })
    if "speed" in result:
        summary["speed_ratio"] = {k: v["ratio"] for k, v in result["speed"].items()}
    print(json.dumps({"scorer_version": model.version, **summary,
                      "seconds": result["seconds"]}))


if __name__ == "__main__":
    main()
