"""What calibration from the analysts' own coding gains: N = 100, 200, 400 human labels of a
shared data set as the gold coding of a custom topic, calibrated, measured on the REST.

Data: RUW stance (tweets, stance toward Russia and toward Ukraine; FAVOR / NONE / AGAINST ->
10 / 5 / 0), only the held-out part that ``train-attitude`` never reads (split rule in
``benchmarks/scorer_agreement.py``). The custom topic is the one written as a user would
(``scorer_agreement.RUW_TOPIC``: two ``kind: attitude`` scores, the learned scorer); the same
two scores as zero-shot prototype scores (``RUW_ZERO_SHOT``) are a second scorer to calibrate
(the path of scores nobody has public labels for, like ``unity``).

For each scorer, target, N and draw (``--draws`` seeds): N labelled tweets are drawn at
random from the tweets the scorer rates (a null "not addressed" has no features and is left
as it is); ``analytics.validate.calibration.calibrate_score`` runs exactly as
``validate calibrate`` does (inner-CV ridge, 5-fold cross-validated alpha/MAE on the N
labels, the adoption rule); the calibration fitted on all N is then applied to every OTHER
rated tweet and compared with the human labels there. Baseline = the uncalibrated scorer on
the same remaining tweets, in the same run. Figures on the rest: Krippendorff's alpha
(interval) and MAE with 95 % paired-bootstrap intervals (over tweets), macro-F1 (0-10 value:
< 4 against, > 6 favour, else none). "adopted" = the product's rule said yes on the N labels.

Run: .venv/bin/python benchmarks/calibration_gain.py [--sizes 100 200 400] [--draws 3]
     [--bootstrap 1000] [--details every-draw.json]
Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scorer_agreement as sa  # helpers: data, topics, split


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 200, 400])
    parser.add_argument("--draws", type=int, default=3, help="random label draws per size")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--details", help="write every draw's figures to this JSON file")
    return parser.parse_known_args()[0]


def score_pool(tweets: list[str], topic_text: str) -> tuple[dict, dict]:
    """Uncalibrated values and calibration features per score, as the product reads them."""
    from analytics.core.settings import Settings
    from analytics.score.backends.offline import OfflineBackend
    from analytics.score.retrieval import prepare

    topic = sa.topic(topic_text)
    backend = OfflineBackend(Settings())
    values = {k: [] for k in topic.score_keys}
    features = {k: [] for k in topic.score_keys}
    for first in range(0, len(tweets), 256):
        docs = [prepare(i, None, t, []) for i, t in enumerate(tweets[first:first + 256], first)]
        outcomes, feats = backend.score_with_features(docs, topic)
        for outcome, per_doc in zip(outcomes, feats, strict=True):
            for k in topic.score_keys:
                value = outcome.result.scores[k].value
                values[k].append(np.nan if value is None else value)
                features[k].append(per_doc.get(k))
    return ({k: np.array(v, float) for k, v in values.items()}, features)


def macro_f1(values: np.ndarray, human: np.ndarray) -> float:
    from analytics.score.attitude_train import macro_f1 as f1
    from analytics.score.attitude_train import to_classes

    return round(f1(np.round(human / 5).astype(int), to_classes(values)), 4)


def one_draw(values: np.ndarray, features: list, human: np.ndarray, n: int, seed: int,
             draws: int) -> dict | None:
    from analytics.validate.calibration import calibrate_score, fit_calibration, paired_bootstrap

    rated = np.flatnonzero(~np.isnan(values))
    if len(rated) < n + 100:
        return None
    rng = np.random.default_rng(seed)
    gold = np.sort(rng.choice(rated, size=n, replace=False))
    rest = np.setdiff1d(rated, gold)
    x = np.vstack([features[i] for i in rated])
    where = {int(i): j for j, i in enumerate(rated)}
    xg, xr = x[[where[i] for i in gold]], x[[where[i] for i in rest]]
    result = calibrate_score("s", gold, human[gold], values[gold], xg, topic="bench",
                             base_scorer="bench", feature_set="bench", min_labels=100,
                             draws=draws, seed=seed)
    fit = fit_calibration(values[gold], xg, human[gold], seed=seed)
    calibrated = fit.predict(values[rest], xr)
    figures = paired_bootstrap(human[rest], values[rest], calibrated, draws, seed)
    return {"n_gold": n, "n_rest": len(rest), "seed": seed, "adopted": result.beats,
            "cv_on_gold": {k: f.as_dict() for k, f in result.figures.items()},
            "penalty": None if not np.isfinite(fit.penalty) else fit.penalty,
            "rest": {k: f.as_dict() for k, f in figures.items()},
            "macro_f1_rest": {"current": macro_f1(values[rest], human[rest]),
                              "calibrated": macro_f1(calibrated, human[rest])}}


def main() -> None:
    args = _args()
    if not (sa.SHARED / "ruw_stance").is_dir():
        sys.exit(f"shared data not found at {sa.SHARED}")
    started = time.perf_counter()
    tweets, truth = sa.ruw_tweets()
    human = {k: np.array([0.0, 5.0, 10.0])[v] for k, v in truth.items()}
    out: dict = {"data": "RUW stance, held-out tweets", "tweets": len(tweets), "runs": []}
    summary: dict = {}
    for scorer, text in (("learned", sa.RUW_TOPIC), ("zero_shot", sa.RUW_ZERO_SHOT)):
        values, features = score_pool(tweets, text)
        print(f"scored {len(tweets)} tweets with the {scorer} scorer "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
        for target in ("russia", "ukraine"):
            key = f"attitude_{target}"
            for n in args.sizes:
                rows = [one_draw(values[key], features[key], human[target], n, 1000 * d + n,
                                 args.bootstrap) for d in range(args.draws)]
                rows = [r for r in rows if r is not None]
                if not rows:
                    print(f"{scorer} {target} N={n}: too few rated tweets for N + 100")
                    continue
                for r in rows:
                    out["runs"].append({"scorer": scorer, "target": target, **r})
                rest = [r["rest"] for r in rows]
                mean = {m: round(float(np.mean([x[m]["value"] for x in rest])), 4) for m in (
                    "alpha_current", "alpha_calibrated", "alpha_gain", "mae_current",
                    "mae_calibrated", "mae_change")}
                f1 = {m: round(float(np.mean([r["macro_f1_rest"][m] for r in rows])), 4)
                      for m in ("current", "calibrated")}
                first = rows[0]["rest"]
                summary[f"{scorer}/{target}/N={n}"] = {
                    **mean, "macro_f1_current": f1["current"],
                    "macro_f1_calibrated": f1["calibrated"],
                    "alpha_gain_interval_draw1": [first["alpha_gain"]["low"],
                                                  first["alpha_gain"]["high"]],
                    "gain_interval_excludes_0": f"{sum(x['alpha_gain']['low'] > 0 for x in rest)}"
                                                f"/{len(rest)}",
                    "adopted": f"{sum(r['adopted'] for r in rows)}/{len(rows)}",
                    "n_rest": rows[0]["n_rest"]}
                s = summary[f"{scorer}/{target}/N={n}"]
                print(f"{scorer:9s} {target:8s} N={n:3d} rest={s['n_rest']:4d}  alpha "
                      f"{s['alpha_current']:.3f} -> {s['alpha_calibrated']:.3f} "
                      f"(draw 1 gain [{first['alpha_gain']['low']:+.3f}, "
                      f"{first['alpha_gain']['high']:+.3f}])  MAE {s['mae_current']:.3f} -> "
                      f"{s['mae_calibrated']:.3f}  macro-F1 {f1['current']:.3f} -> "
                      f"{f1['calibrated']:.3f}  adopted {s['adopted']}", flush=True)
    out["seconds"] = round(time.perf_counter() - started, 1)
    if args.details:
        Path(args.details).write_text(json.dumps(out, indent=1), encoding="utf-8")
    print(json.dumps({"baseline": "uncalibrated scorer on the same remaining tweets",
                      "data": out["data"], "tweets": out["tweets"], "draws": args.draws,
                      "summary": summary, "seconds": out["seconds"]}))


if __name__ == "__main__":
    main()
