"""Agreement tables: machine vs human per score and model, inter-coder reliability, and
the one sentence per score that pages and reports print next to a trend."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from analytics.core.topics import Topic
from analytics.store.calibrations import adopted_figures
from analytics.store.models import Analysis
from analytics.validate.labels import labels_frame
from analytics.validate.metrics import Agreement, alpha_verdict, compare, krippendorff_alpha


def human_consensus(labels: pd.DataFrame) -> pd.DataFrame:
    """Per document and score: addressed by majority of annotators (ties count as
    addressed), value = mean of the annotators who rated it."""
    columns = ["document_id", "score", "human", "human_addressed", "annotators"]
    if labels.empty:
        return pd.DataFrame(columns=columns)
    grouped = labels.groupby(["document_id", "score"])["value"]
    out = pd.DataFrame({
        "human": grouped.mean(),
        "human_addressed": grouped.apply(lambda v: v.notna().mean() >= 0.5),
        "annotators": grouped.size(),
    }).reset_index()
    out.loc[~out["human_addressed"], "human"] = np.nan
    return out[columns]


def machine_scores(session: Session, topic: Topic, document_ids: Sequence[int]) -> pd.DataFrame:
    """Latest successful analysis per document, backend and model; one row per score."""
    columns = ["document_id", "backend", "model", "scorer_version", "score", "machine"]
    if not len(document_ids):
        return pd.DataFrame(columns=columns)
    rows = session.execute(
        select(Analysis.id, Analysis.document_id, Analysis.backend, Analysis.model,
               Analysis.scorer_version, Analysis.scores)
        .where(Analysis.topic == topic.name, Analysis.status == "ok",
               Analysis.document_id.in_([int(i) for i in document_ids]))).all()
    frame = pd.DataFrame(rows, columns=["id", "document_id", "backend", "model",
                                        "scorer_version", "scores"])
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame = frame.sort_values("id").groupby(["document_id", "backend", "model"]).tail(1)
    long = [{"document_id": r.document_id, "backend": r.backend, "model": r.model,
             "scorer_version": r.scorer_version or "", "score": key,
             "machine": (r.scores or {}).get(key)} for r in frame.itertuples()
            for key in topic.score_keys]
    out = pd.DataFrame(long, columns=columns)
    out["machine"] = pd.to_numeric(out["machine"], errors="coerce")
    return out


def paired_ratings(session: Session, topic: Topic) -> pd.DataFrame:
    """Human consensus next to each backend/model's machine score, per document and score."""
    consensus = human_consensus(labels_frame(session, topic.name))
    machine = machine_scores(session, topic, consensus["document_id"].unique().tolist())
    return consensus.merge(machine, on=["document_id", "score"], how="inner")


IN_SAMPLE = "these labels"
CROSS_VALIDATED = "cross-validated at adoption (the calibration was fitted on these labels)"


def agreement_table(session: Session, topic: Topic) -> pd.DataFrame:
    """One row per score and backend/model: alpha (with its interval where known), verdict,
    MAE, Spearman, bias, addressed, and ``alpha_basis``: what alpha was measured on.

    A score whose machine values come from an adopted calibration was fitted on these very
    labels, so agreement on them flatters it: its alpha and MAE are the K-fold figures
    measured when it was adopted (stored with the adopting run)."""
    pairs = paired_ratings(session, topic)
    calibrated = adopted_figures(session, topic.name)
    rows = []
    for (key, backend, model), group in pairs.groupby(["score", "backend", "model"], sort=False):
        row = {"score": key, "backend": backend, "model": model,
               **compare(group["machine"], group["human"]).as_dict(),
               "alpha_low": np.nan, "alpha_high": np.nan, "alpha_basis": IN_SAMPLE}
        figures = calibrated.get(key)
        if figures and group["scorer_version"].str.contains("+cal-", regex=False).all():
            alpha, mae = figures["alpha_calibrated"], figures["mae_calibrated"]
            row.update(alpha=alpha["value"], alpha_low=alpha["low"], alpha_high=alpha["high"],
                       mae=mae["value"], alpha_basis=CROSS_VALIDATED,
                       verdict=alpha_verdict(alpha["value"], row["pairs"]))
        rows.append(row)
    columns = ["score", "backend", "model", *Agreement(0, 0, *[np.nan] * 6).as_dict(),
               "alpha_low", "alpha_high", "alpha_basis"]
    table = pd.DataFrame(rows, columns=columns)
    order = {k: i for i, k in enumerate(topic.score_keys)}
    return table.sort_values("score", key=lambda s: s.map(order), kind="stable").reset_index(
        drop=True)


def intercoder_table(labels: pd.DataFrame, topic: Topic) -> pd.DataFrame:
    """Krippendorff's alpha between human annotators, per score (documents coded twice+)."""
    rows = []
    for key in topic.score_keys:
        part = labels[labels["score"] == key]
        multi = part.groupby("document_id")["annotator"].transform("nunique") >= 2
        part = part[multi]
        if part.empty:
            rows.append({"score": key, "documents": 0, "annotators": 0, "alpha": np.nan,
                         "verdict": alpha_verdict(np.nan, 0), "addressed_agreement": np.nan})
            continue
        matrix = part.pivot_table(index="annotator", columns="document_id", values="value",
                                  aggfunc="last", dropna=False)
        addressed = part.assign(addressed=part["value"].notna()).groupby("document_id")[
            "addressed"].agg(lambda a: a.all() or not a.any())
        pairable = int((matrix.notna().sum(axis=0) >= 2).sum())
        alpha = krippendorff_alpha(matrix.to_numpy(dtype=float))
        rows.append({"score": key, "documents": int(matrix.shape[1]),
                     "annotators": int(matrix.shape[0]), "alpha": alpha,
                     "verdict": alpha_verdict(alpha, pairable),
                     "addressed_agreement": float(addressed.mean())})
    return pd.DataFrame(rows, columns=["score", "documents", "annotators", "alpha", "verdict",
                                       "addressed_agreement"])


def agreement_note(row: Mapping) -> str:
    """One plain sentence for a trend chart's caption or a report."""
    if row is None or not row.get("pairs"):
        return "Not validated: no human-coded documents for this score yet."
    verdict = row["verdict"]
    alpha = "n/a" if not np.isfinite(row["alpha"]) else f"{row['alpha']:.2f}"
    return (f"Human agreement: α = {alpha} ({verdict}) on {row['pairs']} documents; "
            f"MAE {row['mae']:.2f}, machine − human bias {row['bias']:+.2f} ({row['model']}).")


def agreement_per_score(session: Session, topic: Topic,
                        backend: str | None = None) -> pd.DataFrame:
    """Agreement for showing next to each trend: one row per score of the topic.

    Indexed by score key, with alpha, verdict, MAE, Spearman, bias, addressed agreement,
    pairs, the backend/model it refers to and ``note`` (a plain sentence). When several
    models were validated, the one with the most coded pairs is shown (optionally only
    models of ``backend``). Scores without labels get a row saying they are not validated.
    """
    table = agreement_table(session, topic)
    if backend:
        table = table[table["backend"] == backend]
    best = (table.sort_values("pairs", ascending=False, kind="stable")
            .drop_duplicates("score").set_index("score"))
    best = best.reindex(topic.score_keys)
    best.index.name = "score"
    best["pairs"] = best["pairs"].fillna(0).astype(int)
    best["verdict"] = best["verdict"].fillna("too few labels")
    best["note"] = [agreement_note({**row, "pairs": row["pairs"]}) for row in
                    best.reset_index().to_dict("records")]
    return best
