"""Human gold labels: sampling, agreement with the machine scores, bias-corrected trends.

Machine scores (LLM or heuristic) are surrogates of what a careful human coder would say.
Used directly in a regression they give biased slopes and intervals that are too narrow
whenever the scorer's error changes over time (Egami et al. 2023, "design-based supervised
learning", DSL; Angelopoulos et al. 2023, prediction-powered inference). This module:

1. draws a sample of documents with known inclusion probabilities (simple random, or
   stratified by source and month) and stores it (``gold_sample`` rows + a ``runs`` row);
2. stores human labels (``gold_labels``), imports/exports them as CSV;
3. measures agreement (Krippendorff's alpha, MAE, Spearman, bias, addressed-or-not);
4. estimates the trend slope with the DSL correction next to the naive slope.

Everything statistical is plain numpy/scipy so it can be checked against hand computations.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats
from sqlalchemy import select
from sqlalchemy.orm import Session

from analytics import __version__
from analytics.config import Settings, Topic, get_settings
from analytics.store.models import (
    Analysis,
    Document,
    GoldLabel,
    GoldSample,
    Run,
    utcnow,
)
from analytics.store.writes import finish_run, start_run

SAMPLE_RUN_KIND = "validation_sample"
GOOD_ALPHA = 0.8  # Krippendorff: reliable enough to draw conclusions
TENTATIVE_ALPHA = 0.667  # Krippendorff: tentative conclusions only
MIN_PAIRS = 20  # fewer pairs than this: no verdict at all
MIN_GOLD_FOR_CORRECTION = 10  # fewer labelled sampled documents: no corrected slope
DAYS_PER_YEAR = 365.0
NOT_ADDRESSED_TOKENS = {"not addressed", "not_addressed", "na", "n/a", "none", "null"}
LABEL_CSV_COLUMNS = ["document_id", "score", "value", "annotator", "sampling_probability",
                     "created_at"]


# ======================================================================================
# Reliability statistics
# ======================================================================================

def krippendorff_alpha(reliability: np.ndarray | Sequence[Sequence[float]],
                       level: Literal["interval", "nominal"] = "interval") -> float:
    """Krippendorff's alpha for a coders x units matrix; NaN marks a missing rating.

    alpha = 1 - D_o / D_e over pairable values (units with at least two ratings):
    D_o = (1/n) sum_u 1/(m_u - 1) sum_{i != j in u} delta(v_i, v_j),
    D_e = 1/(n (n - 1)) sum_{i != j over all pairable values} delta(v_i, v_j),
    delta = squared difference (interval) or inequality (nominal). NaN when undefined.
    """
    data = np.asarray(reliability, dtype=float)
    if data.ndim != 2:
        raise ValueError("reliability data must be a coders x units matrix")
    units = [column[~np.isnan(column)] for column in data.T]
    units = [values for values in units if len(values) >= 2]
    if not units:
        return float("nan")
    values = np.concatenate(units)
    n = len(values)
    if level == "interval":
        observed = sum(_interval_pair_sum(u) / (len(u) - 1) for u in units) / n
        expected = _interval_pair_sum(values) / (n * (n - 1))
    elif level == "nominal":
        observed = sum(_nominal_pair_sum(u) / (len(u) - 1) for u in units) / n
        expected = _nominal_pair_sum(values) / (n * (n - 1))
    else:
        raise ValueError(f"unknown level {level!r}")
    if expected == 0:
        return float("nan")  # every value identical: reliability is undefined
    return float(1.0 - observed / expected)


def _interval_pair_sum(values: np.ndarray) -> float:
    """Sum over ordered pairs i != j of (v_i - v_j)^2 = 2 n sum v^2 - 2 (sum v)^2."""
    centred = values - values.mean()  # same sum, better rounding
    return float(2 * len(values) * np.sum(centred ** 2) - 2 * np.sum(centred) ** 2)


def _nominal_pair_sum(values: np.ndarray) -> float:
    """Number of ordered pairs i != j with different values."""
    _, counts = np.unique(values, return_counts=True)
    return float(len(values) ** 2 - np.sum(counts ** 2))


def alpha_verdict(alpha: float, pairs: int) -> str:
    """Plain-language class: good / tentative / poor / too few labels."""
    if pairs < MIN_PAIRS or not np.isfinite(alpha):
        return "too few labels"
    if alpha >= GOOD_ALPHA:
        return "good"
    if alpha >= TENTATIVE_ALPHA:
        return "tentative"
    return "poor"


VERDICT_MEANING = {
    "good": "alpha ≥ 0.8: reliable; trends from these scores can be reported.",
    "tentative": "0.667 ≤ alpha < 0.8: tentative; report trends with the bias-corrected "
                 "interval and say the scores are only moderately reliable.",
    "poor": "alpha < 0.667: not reliable; do not report trends from these scores without "
            "the correction, and consider a better scorer or clearer rubric.",
    "too few labels": f"fewer than {MIN_PAIRS} documents coded by both: no verdict yet; "
                      "code more of the sample.",
}


@dataclass
class Agreement:
    """Machine vs human on one score: pairs are documents both rated as addressing it."""

    documents: int  # documents with both a machine and a human rating (addressed or not)
    pairs: int
    alpha: float
    mae: float
    spearman: float
    bias: float  # mean(machine - human)
    addressed_agreement: float  # share of documents where both agree on addressed-or-not
    addressed_kappa: float  # Cohen's kappa of that yes/no judgement

    @property
    def verdict(self) -> str:
        return alpha_verdict(self.alpha, self.pairs)

    def as_dict(self) -> dict:
        return {"documents": self.documents, "pairs": self.pairs, "alpha": self.alpha,
                "verdict": self.verdict, "mae": self.mae, "spearman": self.spearman,
                "bias": self.bias, "addressed_agreement": self.addressed_agreement,
                "addressed_kappa": self.addressed_kappa}


def compare(machine: Sequence[float | None], human: Sequence[float | None]) -> Agreement:
    """Agreement of two aligned ratings; NaN/None = "not addressed" by that rater."""
    m = np.asarray(machine, dtype=float)
    h = np.asarray(human, dtype=float)
    if m.shape != h.shape:
        raise ValueError("machine and human ratings must be aligned")
    both = ~np.isnan(m) & ~np.isnan(h)
    diff = m[both] - h[both]
    pairs = int(both.sum())
    return Agreement(
        documents=len(m), pairs=pairs,
        alpha=krippendorff_alpha(np.vstack([m[both], h[both]])) if pairs else float("nan"),
        mae=float(np.mean(np.abs(diff))) if pairs else float("nan"),
        spearman=_spearman(m[both], h[both]),
        bias=float(np.mean(diff)) if pairs else float("nan"),
        addressed_agreement=float(np.mean(np.isnan(m) == np.isnan(h))) if len(m) else float("nan"),
        addressed_kappa=cohen_kappa(~np.isnan(m), ~np.isnan(h)),
    )


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(stats.spearmanr(x, y).statistic)


def cohen_kappa(a: Sequence[bool], b: Sequence[bool]) -> float:
    """Cohen's kappa of two yes/no judgements; NaN when chance agreement is total."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if not len(a):
        return float("nan")
    observed = np.mean(a == b)
    chance = a.mean() * b.mean() + (1 - a.mean()) * (1 - b.mean())
    return float("nan") if chance >= 1 else float((observed - chance) / (1 - chance))


# ======================================================================================
# Sampling with known inclusion probabilities
# ======================================================================================

def sampling_frame(session: Session, topic_name: str,
                   max_document_id: int | None = None) -> pd.DataFrame:
    """The documents a trend is about: originals (not syndicated copies) of the topic."""
    query = select(Document.id, Document.source, Document.published_at).where(
        Document.topic == topic_name, Document.duplicate_of.is_(None))
    if max_document_id is not None:
        query = query.where(Document.id <= max_document_id)
    frame = pd.DataFrame(session.execute(query.order_by(Document.id)).all(),
                         columns=["id", "source", "published_at"])
    frame["published_at"] = pd.to_datetime(frame["published_at"], utc=True)
    return frame


def strata(frame: pd.DataFrame, design: str) -> pd.Series:
    """'all' for simple random sampling, '<source>|<YYYY-MM>' when stratified."""
    if design == "simple":
        return pd.Series("all", index=frame.index, dtype=object)
    if design != "stratified":
        raise ValueError(f"unknown sampling design {design!r}: use 'simple' or 'stratified'")
    month = frame["published_at"].dt.strftime("%Y-%m")
    return frame["source"].astype(str) + "|" + month


def allocate(population: pd.Series, size: int, min_per_stratum: int = 0) -> pd.Series:
    """Proportional allocation (largest remainder), at least ``min_per_stratum`` each."""
    total = int(population.sum())
    if total == 0:
        return population * 0
    raw = population * min(size, total) / total
    counts = np.floor(raw).astype(int)
    shortfall = int(min(size, total) - counts.sum())
    order = (raw - counts).sort_values(ascending=False, kind="stable").index[:shortfall]
    counts[order] += 1
    return np.minimum(np.maximum(counts, min_per_stratum), population).astype(int)


def draw_sample_frame(frame: pd.DataFrame, size: int, design: str, seed: int,
                      min_per_stratum: int = 0) -> tuple[pd.DataFrame, dict]:
    """Sample without replacement inside each stratum; pi = n_h / N_h is exact."""
    rng = np.random.default_rng(seed)
    labels = strata(frame, design)
    population = labels.value_counts().sort_index()
    counts = allocate(population, size, min_per_stratum if design == "stratified" else 0)
    parts = []
    for stratum, n_h in counts.items():
        members = frame.loc[labels == stratum, "id"].to_numpy()
        chosen = rng.choice(members, size=int(n_h), replace=False) if n_h else []
        parts.append(pd.DataFrame({"document_id": chosen, "stratum": stratum,
                                   "inclusion_probability": n_h / len(members)}))
    sample = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["document_id", "stratum", "inclusion_probability"])
    sample["position"] = rng.permutation(len(sample))  # coding order: random, not by stratum
    sample = sample.sort_values("position").reset_index(drop=True)
    design_info = {stratum: {"population": int(population[stratum]),
                             "sampled": int(counts[stratum])} for stratum in population.index}
    return sample, design_info


@dataclass
class GoldSampleInfo:
    """The newest validation sample of a topic: its design and its documents in coding order."""

    run_id: int
    parameters: dict
    created_at: dt.datetime
    documents: pd.DataFrame  # document_id, stratum, position, inclusion_probability

    @property
    def design(self) -> str:
        return self.parameters.get("design", "simple")


def draw_sample(session: Session, topic_name: str, *, size: int | None = None,
                design: str | None = None, seed: int | None = None,
                min_per_stratum: int | None = None,
                settings: Settings | None = None) -> GoldSampleInfo:
    """Draw and store a new sample (a runs row + gold_sample rows) in the caller's transaction."""
    settings = settings or get_settings()
    size = settings.validation_sample_size if size is None else int(size)
    design = design or settings.validation_sampling
    seed = settings.validation_seed if seed is None else int(seed)
    min_per_stratum = (settings.validation_min_per_stratum if min_per_stratum is None
                       else int(min_per_stratum))
    if size < 1:
        raise ValueError("the sample size must be at least 1")
    frame = sampling_frame(session, topic_name)
    if frame.empty:
        raise ValueError(f"topic '{topic_name}' has no documents to sample; ingest some first")
    sample, design_info = draw_sample_frame(frame, size, design, seed, min_per_stratum)
    parameters = {"design": design, "size": size, "seed": seed,
                  "min_per_stratum": min_per_stratum, "drawn": len(sample),
                  "frame_documents": len(frame), "frame_max_document_id": int(frame["id"].max()),
                  "strata": design_info, "software_version": __version__}
    run = start_run(session, SAMPLE_RUN_KIND, topic_name, None, parameters)
    session.add_all(
        GoldSample(run_id=run.id, topic=topic_name, document_id=int(row.document_id),
                   stratum=str(row.stratum), position=int(row.position),
                   inclusion_probability=float(row.inclusion_probability))
        for row in sample.itertuples())
    finish_run(run, "ok", {"drawn": len(sample), "frame": len(frame)})
    session.flush()
    return GoldSampleInfo(run.id, parameters, run.started_at, sample)


def latest_sample(session: Session, topic_name: str) -> GoldSampleInfo | None:
    run = session.scalar(select(Run).where(Run.kind == SAMPLE_RUN_KIND, Run.topic == topic_name,
                                           Run.status == "ok").order_by(Run.id.desc()).limit(1))
    if run is None:
        return None
    rows = session.execute(
        select(GoldSample.document_id, GoldSample.stratum, GoldSample.position,
               GoldSample.inclusion_probability)
        .where(GoldSample.run_id == run.id).order_by(GoldSample.position)).all()
    documents = pd.DataFrame(rows, columns=["document_id", "stratum", "position",
                                            "inclusion_probability"])
    return GoldSampleInfo(run.id, dict(run.parameters or {}), run.started_at, documents)


# ======================================================================================
# Labels: store, read, CSV
# ======================================================================================

class LabelError(ValueError):
    """A label or a label file that cannot be stored; the message says what to fix."""


def _check_value(value: float | None, where: str = "") -> float | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    value = float(value)
    if not 0.0 <= value <= 10.0:
        raise LabelError(f"{where}value {value:g} is outside 0-10")
    return value


def save_labels(session: Session, topic: Topic, document_id: int, annotator: str,
                values: Mapping[str, float | None],
                sampling_probability: float | None = None) -> int:
    """Store one annotator's scores of one document (None = not addressed).

    Saving again replaces that annotator's earlier value of the same score; a second
    annotator gets rows of their own (inter-coder reliability).
    """
    annotator = (annotator or "").strip()
    if not annotator:
        raise LabelError("Enter your name as annotator before saving.")
    unknown = set(values) - set(topic.score_keys)
    if unknown:
        raise LabelError(f"unknown score key(s) {sorted(unknown)} for topic '{topic.name}'")
    if session.get(Document, document_id) is None:
        raise LabelError(f"document {document_id} does not exist")
    existing = {row.score: row for row in session.scalars(select(GoldLabel).where(
        GoldLabel.document_id == document_id, GoldLabel.topic == topic.name,
        GoldLabel.annotator == annotator))}
    now = utcnow()
    for key, raw in values.items():
        value = _check_value(raw, f"score '{key}': ")
        row = existing.get(key) or GoldLabel(document_id=document_id, topic=topic.name,
                                             score=key, annotator=annotator)
        row.value, row.created_at = value, now
        row.sampling_probability = sampling_probability
        session.add(row)
    session.flush()
    return len(values)


def labels_frame(session: Session, topic_name: str) -> pd.DataFrame:
    rows = session.execute(
        select(GoldLabel.id, GoldLabel.document_id, GoldLabel.score, GoldLabel.value,
               GoldLabel.annotator, GoldLabel.sampling_probability, GoldLabel.created_at)
        .where(GoldLabel.topic == topic_name).order_by(GoldLabel.id)).all()
    return pd.DataFrame(rows, columns=["id", *LABEL_CSV_COLUMNS[:2], "value", "annotator",
                                       "sampling_probability", "created_at"])


def labels_csv(labels: pd.DataFrame) -> str:
    """Labels as CSV; 'not addressed' is written out, never left blank."""
    out = labels.reindex(columns=LABEL_CSV_COLUMNS).copy()
    out["value"] = out["value"].map(lambda v: "not addressed" if pd.isna(v) else f"{v:g}")
    return out.to_csv(index=False)


def coding_sheet_csv(session: Session, topic: Topic) -> str:
    """The sample as a sheet to code outside the app: one row per document and score."""
    sample = latest_sample(session, topic.name)
    if sample is None:
        return ""
    documents = {d.id: d for d in session.scalars(
        select(Document).where(Document.id.in_(sample.documents["document_id"].tolist())))}
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*LABEL_CSV_COLUMNS[:5], "question", "source", "published_at", "title",
                     "text_and_comments"])
    for row in sample.documents.itertuples():
        document = documents.get(int(row.document_id))
        if document is None:
            continue
        body = document.text + "".join(f"\n--- comment: {c.text}" for c in document.comments)
        for score in topic.scores:
            writer.writerow([document.id, score.key, "", "", f"{row.inclusion_probability:.6g}",
                             score.question, document.source, document.published_at.isoformat(),
                             document.title or "", body])
    return buffer.getvalue()


@dataclass
class ImportResult:
    stored: int = 0
    skipped_blank: int = 0
    documents: set[int] = field(default_factory=set)


def import_labels_csv(session: Session, topic: Topic, text: str,
                      annotator: str | None = None) -> ImportResult:
    """Read labels (our export or a filled coding sheet). All-or-nothing: any bad row
    raises LabelError naming the row, and nothing is stored (the caller's transaction)."""
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise LabelError(f"The file is not a readable CSV ({exc}).") from exc
    missing = {"document_id", "score", "value"} - set(frame.columns)
    if missing:
        raise LabelError(f"The CSV lacks column(s) {sorted(missing)}; export a coding sheet "
                         "to see the expected layout.")
    if "annotator" not in frame.columns:
        frame["annotator"] = ""
    sample = latest_sample(session, topic.name)
    sampled_pi = ({} if sample is None else dict(zip(
        sample.documents["document_id"], sample.documents["inclusion_probability"], strict=True)))
    grouped: dict[tuple[int, str, float | None], dict[str, float | None]] = {}
    result = ImportResult()
    for number, row in enumerate(frame.to_dict("records"), start=2):  # line 1 = header
        where = f"line {number}: "
        raw_value = row["value"].strip()
        if not raw_value:
            result.skipped_blank += 1  # not coded yet
            continue
        try:
            document_id = int(row["document_id"])
        except ValueError as exc:
            raise LabelError(f"{where}document_id {row['document_id']!r} is not a number") from exc
        who = (row["annotator"] or annotator or "").strip()
        if not who:
            raise LabelError(f"{where}no annotator (fill the annotator column or give a name)")
        if row["score"] not in topic.score_keys:
            raise LabelError(f"{where}unknown score {row['score']!r}; expected one of "
                             f"{topic.score_keys}")
        value = _parse_value(raw_value, where)
        pi = _parse_probability(row.get("sampling_probability", ""), where)
        pi = sampled_pi.get(document_id, pi)
        grouped.setdefault((document_id, who, pi), {})[row["score"]] = value
    for (document_id, who, pi), values in grouped.items():
        try:
            result.stored += save_labels(session, topic, document_id, who, values, pi)
        except LabelError as exc:
            raise LabelError(f"document {document_id}: {exc}") from exc
        result.documents.add(document_id)
    return result


def _parse_value(raw: str, where: str) -> float | None:
    if raw.lower() in NOT_ADDRESSED_TOKENS:
        return None
    try:
        return _check_value(float(raw), where)
    except ValueError as exc:
        raise LabelError(f"{where}value {raw!r} is neither a number 0-10 nor "
                         "'not addressed'") from exc


def _parse_probability(raw: str | None, where: str) -> float | None:
    if raw is None or not str(raw).strip():
        return None
    try:
        pi = float(raw)
    except ValueError as exc:
        raise LabelError(f"{where}sampling_probability {raw!r} is not a number") from exc
    if not 0 < pi <= 1:
        raise LabelError(f"{where}sampling_probability {pi:g} must be in (0, 1]")
    return pi


# ======================================================================================
# Agreement tables
# ======================================================================================

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
    columns = ["document_id", "backend", "model", "score", "machine"]
    if not len(document_ids):
        return pd.DataFrame(columns=columns)
    rows = session.execute(
        select(Analysis.id, Analysis.document_id, Analysis.backend, Analysis.model,
               Analysis.scores)
        .where(Analysis.topic == topic.name, Analysis.status == "ok",
               Analysis.document_id.in_([int(i) for i in document_ids]))).all()
    frame = pd.DataFrame(rows, columns=["id", "document_id", "backend", "model", "scores"])
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame = frame.sort_values("id").groupby(["document_id", "backend", "model"]).tail(1)
    long = [{"document_id": r.document_id, "backend": r.backend, "model": r.model, "score": key,
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


def agreement_table(session: Session, topic: Topic) -> pd.DataFrame:
    """One row per score and backend/model: alpha, verdict, MAE, Spearman, bias, addressed."""
    pairs = paired_ratings(session, topic)
    rows = []
    for (key, backend, model), group in pairs.groupby(["score", "backend", "model"], sort=False):
        stats_ = compare(group["machine"], group["human"])
        rows.append({"score": key, "backend": backend, "model": model, **stats_.as_dict()})
    columns = ["score", "backend", "model", *Agreement(0, 0, *[np.nan] * 6).as_dict()]
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


# ======================================================================================
# Bias-corrected trend (design-based supervised learning)
# ======================================================================================

@dataclass
class SlopeEstimate:
    slope: float  # score points per year
    se: float
    low: float
    high: float
    documents: int

    def covers(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass
class TrendComparison:
    naive: SlopeEstimate
    corrected: SlopeEstimate | None
    gold_documents: int  # labelled sampled documents used by the correction
    difference_z: float  # (naive - corrected) / sd of the difference
    verdict: str


def _sandwich(design: np.ndarray, target: np.ndarray, weights: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """Solve sum_i w_i x_i x_i' b = sum_i x_i target_i; return b and each row's influence.

    The moment of row i is psi_i = x_i (target_i - w_i x_i' b); the influence is
    B^-1 psi_i with B = sum w x x', and the HC1 covariance is n/(n-p) sum infl infl'.
    """
    bread = (design * weights[:, None]).T @ design
    beta = np.linalg.solve(bread, design.T @ target)
    psi = design * (target - weights * (design @ beta))[:, None]
    influence = np.linalg.solve(bread, psi.T).T
    return beta, influence


def _estimate(beta: np.ndarray, influence: np.ndarray, level: float) -> SlopeEstimate:
    n, p = influence.shape
    covariance = influence.T @ influence * n / max(n - p, 1)
    se = float(np.sqrt(covariance[1, 1]))
    z = stats.norm.ppf(0.5 + level / 2)
    return SlopeEstimate(float(beta[1]), se, float(beta[1] - z * se), float(beta[1] + z * se), n)


def dsl_trend(years: Sequence[float], machine: Sequence[float], labelled: Sequence[bool],
              human: Sequence[float], probability: Sequence[float],
              level: float = 0.95) -> TrendComparison:
    """Naive vs design-corrected linear trend of a score over time.

    ``years``: each document's time in years; ``machine``: the surrogate (NaN = machine says
    not addressed); ``labelled``: R, whether the document is in the coded sample;
    ``human``: Y for labelled documents (NaN = human says not addressed; ignored when
    R = 0); ``probability``: pi, the document's inclusion probability (used when R = 1).

    The estimand is the slope among documents that a human would say address the score.
    With A = addressed (human) and Â = addressed (machine), pseudo-outcomes
    Ã = Â + (R/pi)(A - Â) and (AY)~ = ÂŶ + (R/pi)(AY - ÂŶ) are unbiased for A and AY
    whatever the scorer's errors, so solving sum x (AY)~ = sum Ã x x' b is unbiased for the
    human slope (DSL; with A = Â = 1 it is OLS of Ŷ + (R/pi)(Y - Ŷ) on time). Standard
    errors are heteroskedasticity-robust (HC1 sandwich). The naive fit is OLS of Ŷ on time
    over machine-addressed documents, also with HC1 errors.
    """
    t = np.asarray(years, dtype=float)
    yhat = np.asarray(machine, dtype=float)
    r = np.asarray(labelled, dtype=bool)
    y = np.asarray(human, dtype=float)
    pi = np.asarray(probability, dtype=float)
    design = np.column_stack([np.ones_like(t), t])
    a_hat = (~np.isnan(yhat)).astype(float)
    ay_hat = np.where(a_hat > 0, yhat, 0.0)
    naive_rows = a_hat > 0
    if naive_rows.sum() < 3:
        raise ValueError("fewer than 3 machine-scored documents: no trend to estimate")
    beta_n, infl_n = _sandwich(design[naive_rows], ay_hat[naive_rows], a_hat[naive_rows])
    naive = _estimate(beta_n, infl_n, level)
    gold = int(r.sum())
    if gold < MIN_GOLD_FOR_CORRECTION:
        return TrendComparison(naive, None, gold, float("nan"), _trust_sentence(naive, None, gold,
                                                                                np.nan))
    if np.any(~np.isfinite(pi[r])) or np.any(pi[r] <= 0):
        raise ValueError("every labelled document needs an inclusion probability in (0, 1]")
    a = (~np.isnan(y)).astype(float)
    ay = np.where(a > 0, y, 0.0)
    weight = np.where(r, 1.0 / np.where(r, pi, 1.0), 0.0)
    a_tilde = a_hat + weight * (a - a_hat)
    ay_tilde = ay_hat + weight * (ay - ay_hat)
    beta_c, infl_c = _sandwich(design, ay_tilde, a_tilde)
    corrected = _estimate(beta_c, infl_c, level)
    full_naive = np.zeros_like(infl_c)
    full_naive[naive_rows] = infl_n
    difference = full_naive[:, 1] - infl_c[:, 1]
    n = len(t)
    sd = float(np.sqrt(np.sum(difference ** 2) * n / max(n - 2, 1)))
    z = (naive.slope - corrected.slope) / sd if sd > 0 else float("nan")
    return TrendComparison(naive, corrected, gold, z, _trust_sentence(naive, corrected, gold, z))


def _trust_sentence(naive: SlopeEstimate, corrected: SlopeEstimate | None, gold: int,
                    z: float) -> str:
    if corrected is None:
        return (f"Only {gold} coded sample document(s): too few for a corrected slope "
                f"(need {MIN_GOLD_FOR_CORRECTION}+). The naive slope is unverified — it "
                "assumes the scorer makes no errors that change over time.")
    direction = ("excludes zero" if corrected.low > 0 or corrected.high < 0
                 else "includes zero: no clear trend")
    if np.isfinite(z) and abs(z) >= 1.96:
        return (f"Trust the corrected slope. The naive slope differs from it by more than "
                f"chance (z = {z:.1f}): the machine scores drift relative to human coding, so "
                f"the naive trend is biased and its interval too narrow. The corrected "
                f"interval {direction}.")
    return (f"Naive and corrected slopes agree within their uncertainty (z = {z:.1f}). "
            f"Report the corrected interval: it is wider because it carries the scorer's "
            f"error, which the naive interval ignores. The corrected interval {direction}.")


def _effective_probability(sample: GoldSampleInfo, labelled: pd.DataFrame) -> pd.Series:
    """pi of each labelled document: its stratum's design pi times the share of the
    stratum's sampled documents that have been coded so far. Coding follows the sample's
    random order, so a partly coded stratum is itself a random sample of it."""
    if labelled.empty:
        return pd.Series(dtype=float, index=labelled.index)
    strata_info = sample.parameters.get("strata", {})
    coded = labelled.groupby("stratum")["document_id"].transform("size").astype(float)
    sampled = labelled["stratum"].map(
        lambda s: strata_info.get(s, {}).get("sampled", np.nan)).astype(float)
    population = labelled["stratum"].map(
        lambda s: strata_info.get(s, {}).get("population", np.nan)).astype(float)
    fallback = labelled["inclusion_probability"] * coded / sampled
    return (coded / population).where(population.notna(), fallback)


def corrected_trend_table(session: Session, topic: Topic, backend: str | None = None,
                          level: float = 0.95) -> pd.DataFrame:
    """Naive and corrected slope (points per year) per score, over the sample's frame."""
    from analytics.store.queries import scored_frame

    columns = ["score", "naive_slope", "naive_low", "naive_high", "corrected_slope",
               "corrected_low", "corrected_high", "gold_documents", "documents", "difference_z",
               "verdict", "level", "software_version"]
    sample = latest_sample(session, topic.name)
    if sample is None:
        return pd.DataFrame(columns=columns)
    frame = sampling_frame(session, topic.name, sample.parameters.get("frame_max_document_id"))
    scored = scored_frame(session, topic.name, topic.score_keys, backend=backend)
    frame = frame.merge(scored[["id", *topic.score_keys]], on="id", how="left")
    consensus = human_consensus(labels_frame(session, topic.name))
    start = frame["published_at"].min()
    years = ((frame["published_at"] - start).dt.total_seconds() / 86400 / DAYS_PER_YEAR).to_numpy()
    rows = []
    for key in topic.score_keys:
        human = consensus[consensus["score"] == key]
        coded = sample.documents[sample.documents["document_id"].isin(human["document_id"])]
        coded = coded.assign(pi=_effective_probability(sample, coded))
        merged = frame[["id"]].merge(coded[["document_id", "pi"]], left_on="id",
                                     right_on="document_id", how="left").merge(
            human[["document_id", "human"]], on="document_id", how="left")
        labelled = merged["pi"].notna().to_numpy()
        try:
            result = dsl_trend(years, frame[key].to_numpy(dtype=float), labelled,
                               merged["human"].to_numpy(dtype=float),
                               merged["pi"].fillna(1.0).to_numpy(dtype=float), level)
        except ValueError:
            continue
        corrected = result.corrected
        rows.append({
            "score": key, "naive_slope": result.naive.slope, "naive_low": result.naive.low,
            "naive_high": result.naive.high,
            "corrected_slope": corrected.slope if corrected else np.nan,
            "corrected_low": corrected.low if corrected else np.nan,
            "corrected_high": corrected.high if corrected else np.nan,
            "gold_documents": result.gold_documents, "documents": len(frame),
            "difference_z": result.difference_z, "verdict": result.verdict, "level": level,
            "software_version": __version__,
        })
    return pd.DataFrame(rows, columns=columns)


# ======================================================================================
# What the annotation page needs (no machine score leaves here before a label is saved)
# ======================================================================================

def coding_queue(sample: GoldSampleInfo, labels: pd.DataFrame, annotator: str) -> pd.DataFrame:
    """The sample in its random coding order, with who has coded each document."""
    queue = sample.documents[["document_id", "position", "stratum",
                              "inclusion_probability"]].copy()
    coded = labels.groupby("document_id")["annotator"].agg(lambda a: sorted(set(a)))
    queue["annotators"] = queue["document_id"].map(coded).apply(
        lambda a: a if isinstance(a, list) else [])
    queue["coded_by_you"] = queue["annotators"].apply(lambda a: annotator.strip() in a)
    return queue.reset_index(drop=True)


def next_uncoded(queue: pd.DataFrame, after: int | None = None) -> int | None:
    """The first document (in coding order, after ``after`` if given) you have not coded."""
    todo = queue[~queue["coded_by_you"]]
    if after is not None and after in set(queue["document_id"]):
        position = int(queue.loc[queue["document_id"] == after, "position"].iloc[0])
        later = todo[todo["position"] > position]
        todo = later if not later.empty else todo
    return None if todo.empty else int(todo["document_id"].iloc[0])


def document_for_coding(session: Session, document_id: int) -> dict | None:
    """Text and comments of a document, deliberately without any analysis."""
    document = session.get(Document, document_id)
    if document is None:
        return None
    comments = pd.DataFrame(
        [{"author": c.author, "likes": c.likes, "text": c.text} for c in document.comments],
        columns=["author", "likes", "text"])
    return {"id": document.id, "source": document.source, "title": document.title or "",
            "published_at": document.published_at, "text": document.text or "",
            "comments": comments}


def saved_labels(session: Session, topic: Topic, document_id: int,
                 annotator: str) -> dict[str, float | None]:
    """This annotator's saved values of the document (absent key = not saved yet)."""
    rows = session.execute(select(GoldLabel.score, GoldLabel.value).where(
        GoldLabel.topic == topic.name, GoldLabel.document_id == document_id,
        GoldLabel.annotator == annotator.strip())).all()
    return {score: value for score, value in rows}


def revealed_scores(session: Session, topic: Topic, document_id: int,
                    annotator: str) -> pd.DataFrame | None:
    """Your values next to the machine's, or None while you have not saved all scores."""
    yours = saved_labels(session, topic, document_id, annotator)
    if not annotator.strip() or set(yours) != set(topic.score_keys):
        return None
    machine = machine_scores(session, topic, [document_id])
    table = pd.DataFrame({"score": topic.score_keys,
                          "label": [s.label for s in topic.scores],
                          "yours": [yours[k] for k in topic.score_keys]})
    for (backend, model), rows in machine.groupby(["backend", "model"]):
        values = rows.set_index("score")["machine"]
        table[f"machine: {backend} ({model})"] = table["score"].map(values)
    return table
