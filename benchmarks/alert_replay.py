"""The alert rules replayed day by day over the demo year: do they fire for the demo's known
shocks, how late, and how many false alerts do the default thresholds give?

On a scored demo corpus (default: 3,000 documents, seed 42, offline scorer), the default
rules (turning points, P(decline) ≥ 0.95, P(rise) ≥ 0.95, per-source and per-outlet volume
spikes and drops at alpha 0.001) are evaluated on the data up to day D, for every day D of
the year after a first month of baseline — the clock advances one day per evaluation, with
the de-duplication memory and cool-downs carried from day to day as in production. Trend
fits use a smaller posterior (300 draws, one refinement pass, five decays) so the replay
runs in minutes.

Truth: the demo generator's shocks (14 Feb: sentiment and unity fall; 20 Apr: Article 5
trust falls; 7 Jul: all three rise) and its news volume, which rises after every shock.
An alert is true when:
  - turning point: same score, same direction, dated within 14 days of a shock;
  - P(decline)/P(rise): the demo's latent opinion (its truth, news level) really moved that
    way over the fit's window (by at least 0.1 points) — a probability rule watches the
    change over the window, which the demo's slow trends and fading shocks drive too;
    the alerts raised within 60 days after a shock of the same score and direction are
    also counted per shock;
  - volume spike: its days start within 3 days before to 10 days after a shock;
otherwise it is false (every volume drop is false: the demo has none).

Baseline, same run: the same volume windows judged by a fixed rule ("at least twice the
baseline's daily mean"), the kind of fixed threshold the negative-binomial test replaces,
with the same de-duplication.

Usage: python benchmarks/alert_replay.py [--database sqlite:///demo.db] [--step 1]
Without --database a demo corpus is generated and scored into a temporary folder (about 5
minutes on 2 cores); a given SQLite database is copied, never written to.
The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TP_DAYS, P_DAYS, VOLUME_BEFORE, VOLUME_AFTER = 14, 60, 3, 10
REPLAY_OVERRIDES = {"draws": 300, "refine_passes": 1,
                    "decays": (7.0, 14.0, 30.0, 60.0, float("inf"))}


def prepare(database: str | None, folder: Path) -> None:
    os.environ["ANALYTICS_DATA_DIR"] = str(folder / "data")
    os.environ["ANALYTICS_TREND_WARM_UP"] = "false"
    os.environ["ANALYTICS_DEMO_AUTOSTART"] = "false"
    target = folder / "replay.db"
    os.environ["ANALYTICS_DATABASE_URL"] = f"sqlite:///{target}"
    if database:
        if not database.startswith("sqlite:///"):
            sys.exit("--database must be a SQLite URL (it is copied, never written to)")
        shutil.copy(database.removeprefix("sqlite:///"), target)
        return
    from analytics.core.topics import load_topic
    from analytics.pipeline.demo import generate_demo
    from analytics.score.pipeline import score_topic

    topic = load_topic("nato")
    generate_demo(topic)
    score_topic(topic)


def truth(topic) -> list[dict]:
    from analytics.ingest.providers.demo import truth_parameters

    shocks = []
    for score, path in truth_parameters(topic)["paths"].items():
        for shock in path["shocks"]:
            shocks.append({"score": score, "date": dt.date.fromisoformat(shock["date"]),
                           "direction": "down" if shock["size"] < 0 else "up"})
    return shocks


def latent_moved(alert: dict, latent, window_days: int) -> bool:
    """Whether the demo's latent path moved the way a probability alert says."""
    as_of = dt.date.fromisoformat(alert["as_of"])
    start = as_of - dt.timedelta(days=window_days - 1)
    path = latent[latent["score"] == alert["details"]["score"]].set_index("day")["value"]
    change = path.get(as_of, path.iloc[-1]) - path.get(start, path.iloc[0])
    return change <= -0.1 if "decline" in alert["key"] else change >= 0.1


def judge(alert: dict, shocks: list[dict]) -> dict | None:
    """The shock an alert belongs to (None: not tied to a shock)."""
    as_of = dt.date.fromisoformat(alert["as_of"])
    details, kind = alert["details"], alert["kind"]
    for shock in shocks:
        if kind == "turning_point":
            if (details["score"] == shock["score"] and details["direction"] ==
                    shock["direction"] and abs((dt.date.fromisoformat(details["date"])
                                                - shock["date"]).days) <= TP_DAYS):
                return shock
        elif kind == "probability":
            which = "down" if "decline" in alert["key"] else "up"
            if (details["score"] == shock["score"] and which == shock["direction"]
                    and 0 <= (as_of - shock["date"]).days <= P_DAYS):
                return shock
        elif kind == "volume" and details["direction"] == "spike":
            start = dt.date.fromisoformat(alert["date"])
            if -VOLUME_BEFORE <= (start - shock["date"]).days <= VOLUME_AFTER:
                return shock
    return None


def fixed_ratio_baseline(documents, days: list[dt.date], shocks: list[dict], recent: int,
                         baseline: int, by: str) -> dict:
    """Volume 'spikes' by a fixed rule: recent count ≥ 2 × baseline mean × recent days."""
    import pandas as pd

    group = documents["outlet"].fillna("(unknown)") if by == "outlet" else documents["source"]
    counts = pd.crosstab(group, documents["published_at"].dt.date)
    counts = counts.reindex(columns=pd.date_range(min(counts.columns), max(counts.columns))
                            .date, fill_value=0)
    alerts, last = [], {}
    for day in days:
        first = day - dt.timedelta(days=recent - 1)
        base = [first - dt.timedelta(days=i) for i in range(baseline, 0, -1)]
        window = [first + dt.timedelta(days=i) for i in range(recent)]
        if base[0] not in counts.columns:
            continue
        for name, row in counts.iterrows():
            mean = row[base].mean()
            if row[base].sum() < 10 or row[window].sum() < 2 * mean * recent:
                continue
            if name in last and (first - last[name]).days <= 14:
                last[name] = first
                continue
            last[name] = first
            alerts.append({"date": str(first), "group": name})
    true = [a for a in alerts if any(
        -VOLUME_BEFORE <= (dt.date.fromisoformat(a["date"]) - s["date"]).days <= VOLUME_AFTER
        for s in shocks)]
    return {"alerts": len(alerts), "true": len(true), "false": len(alerts) - len(true)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", help="a scored demo database (SQLite URL), copied")
    parser.add_argument("--step", type=int, default=1, help="days between evaluations")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="alert-replay-"))
    prepare(args.database, folder)

    from analytics.core.settings import get_settings
    from analytics.core.topics import load_topic
    from analytics.ingest.providers.demo import DEMO_DAYS, DEMO_START
    from analytics.pipeline.alerts import RuleSpec, create_rule, evaluate_rules

    settings, topic = get_settings(), load_topic("nato")
    specs = [RuleSpec("Turning points", "nato", "turning_point", {}),
             RuleSpec("Decline likely", "nato", "probability", {"which": "decline"}),
             RuleSpec("Rise likely", "nato", "probability", {"which": "rise"}),
             RuleSpec("Volume per source", "nato", "volume", {"by": "source"}),
             RuleSpec("Volume per outlet", "nato", "volume", {"by": "outlet"})]
    for spec in specs:
        create_rule(spec, settings)
    alerts_cfg = settings.alerts
    first = DEMO_START + dt.timedelta(days=alerts_cfg.volume_baseline_days
                                      + alerts_cfg.volume_recent_days + 4)
    days = [first + dt.timedelta(days=i) for i in
            range(0, (DEMO_START + dt.timedelta(days=DEMO_DAYS - 1) - first).days + 1,
                  args.step)]
    contexts: dict = {}
    found: list[dict] = []
    started = time.perf_counter()
    for i, day in enumerate(days):
        now = dt.datetime.combine(day, dt.time(23, 0), dt.UTC)
        report = evaluate_rules(topic, settings, now=now, as_of=day, use_cache=False,
                                events_overrides=REPLAY_OVERRIDES, contexts=contexts,
                                record_run=False)
        if report.errors:
            print("errors:", report.errors, file=sys.stderr)
        found += report.alerts
        if i % 30 == 0:
            print(f"{day}: {len(found)} alerts so far, {time.perf_counter() - started:.0f} s",
                  file=sys.stderr)
    seconds = time.perf_counter() - started

    from analytics.ingest.providers.demo import truth_frame

    shocks, latent = truth(topic), truth_frame(topic)
    per_kind: dict[str, dict] = {}
    for alert in found:
        shock = judge(alert, shocks)
        alert["truth"] = None if shock is None else f"{shock['score']} {shock['date']}"
        true = shock is not None
        if alert["kind"] == "probability":
            true = latent_moved(alert, latent, alerts_cfg.trend_window_days)
        kind = alert["kind"] + ("" if alert["kind"] != "volume" else
                                f" ({alert['details']['by']})")
        stats = per_kind.setdefault(kind, {"alerts": 0, "true": 0, "false": 0,
                                           "tied_to_a_shock": 0, "suppressed": 0})
        stats["alerts"] += 1
        stats["true" if true else "false"] += 1
        stats["tied_to_a_shock"] += shock is not None
        stats["suppressed"] += alert["state"] == "suppressed"
        print(f"{alert['as_of']} [{alert['state']}] {alert['title']} -> "
              f"{alert['truth'] or 'no shock'}; {'true' if true else 'FALSE'}")

    table = []
    for shock in shocks:
        row = {"score": shock["score"], "shock": str(shock["date"]),
               "direction": shock["direction"]}
        for kind in ("turning_point", "probability", "volume"):
            hits = [a for a in found if a["kind"] == kind and a.get("truth") ==
                    f"{shock['score']} {shock['date']}"]
            if kind == "volume":  # volume bumps follow every shock of the day, any score
                hits = [a for a in found if a["kind"] == "volume" and a.get("truth") and
                        a["truth"].endswith(str(shock["date"]))]
            first_hit = min((dt.date.fromisoformat(a["as_of"]) for a in hits), default=None)
            row[f"{kind}_alert"] = str(first_hit) if first_hit else None
            row[f"{kind}_lag_days"] = (first_hit - shock["date"]).days if first_hit else None
        table.append(row)
        print(json.dumps(row))

    from analytics.store import queries, session_scope

    with session_scope(settings.database_url) as session:
        documents = queries.documents_frame(session, "nato")
    baseline = {by: fixed_ratio_baseline(documents, days, shocks,
                                         alerts_cfg.volume_recent_days,
                                         alerts_cfg.volume_baseline_days, by)
                for by in ("source", "outlet")}
    ours = {by: per_kind.get(f"volume ({by})", {"alerts": 0, "true": 0, "false": 0,
                                                 "tied_to_a_shock": 0, "suppressed": 0})
            for by in ("source", "outlet")}
    print(json.dumps({
        "benchmark": "alert_replay", "days_replayed": len(days), "step_days": args.step,
        "first_day": str(days[0]), "last_day": str(days[-1]), "seconds": round(seconds, 1),
        "seconds_per_day": round(seconds / len(days), 2),
        "shocks": table, "by_kind": per_kind,
        "false_alerts_total": sum(k["false"] for k in per_kind.values()),
        "true_alerts_total": sum(k["true"] for k in per_kind.values()),
        "volume_nb_test": ours, "volume_fixed_ratio_baseline": baseline,
        "thresholds": {"p": alerts_cfg.p_threshold, "volume_alpha": alerts_cfg.volume_alpha,
                       "volume_recent_days": alerts_cfg.volume_recent_days,
                       "volume_baseline_days": alerts_cfg.volume_baseline_days,
                       "trend_window_days": alerts_cfg.trend_window_days,
                       "turning_point_recent_days": alerts_cfg.turning_point_recent_days},
    }, default=str))


if __name__ == "__main__":
    main()
