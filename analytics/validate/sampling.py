"""Validation samples with known inclusion probabilities (simple or stratified by source
and month), stored as ``gold_sample`` rows under a ``runs`` row that holds the design."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from analytics import __version__
from analytics.core.errors import BadInput
from analytics.core.settings import Settings, get_settings
from analytics.store import session_scope
from analytics.store.models import Document, GoldSample, Run
from analytics.store.runs import recorded_run

SAMPLE_RUN_KIND = "validation_sample"
DESIGNS = ("simple", "stratified")


def sampling_frame(session: Session, topic_name: str,
                   max_document_id: int | None = None) -> pd.DataFrame:
    """The documents a trend is about: originals (not syndicated copies) of the topic."""
    query = select(Document.id, Document.source, Document.published_at).where(
        Document.in_topic(topic_name), Document.duplicate_of.is_(None))
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
        raise BadInput(f"unknown sampling design {design!r}: use 'simple' or 'stratified'")
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


def draw_sample(topic_name: str, *, size: int | None = None, design: str | None = None,
                seed: int | None = None, min_per_stratum: int | None = None,
                settings: Settings | None = None) -> GoldSampleInfo:
    """Draw and store a new sample: a ``runs`` row holding the design, ``gold_sample`` rows."""
    settings = settings or get_settings()
    size = settings.validation.sample_size if size is None else int(size)
    design = design or settings.validation.sampling
    seed = settings.validation.seed if seed is None else int(seed)
    min_per_stratum = (settings.validation.min_per_stratum if min_per_stratum is None
                       else int(min_per_stratum))
    if size < 1:
        raise BadInput("the sample size must be at least 1")
    if design not in DESIGNS:
        raise BadInput(f"unknown sampling design {design!r}: use 'simple' or 'stratified'")
    url = settings.database_url
    with session_scope(url) as session:
        frame = sampling_frame(session, topic_name)
    if frame.empty:
        raise BadInput(f"topic '{topic_name}' has no documents to sample; ingest some first")
    sample, design_info = draw_sample_frame(frame, size, design, seed, min_per_stratum)
    parameters = {"design": design, "size": size, "seed": seed,
                  "min_per_stratum": min_per_stratum, "drawn": len(sample),
                  "frame_documents": len(frame), "frame_max_document_id": int(frame["id"].max()),
                  "strata": design_info, "software_version": __version__}
    with recorded_run(SAMPLE_RUN_KIND, topic_name, None, parameters, database_url=url) as run:
        with session_scope(url) as session:
            session.add_all(
                GoldSample(run_id=run.id, topic=topic_name, document_id=int(row.document_id),
                           stratum=str(row.stratum), position=int(row.position),
                           inclusion_probability=float(row.inclusion_probability))
                for row in sample.itertuples())
        run.counts = {"drawn": len(sample), "frame": len(frame)}
    with session_scope(url) as session:
        return latest_sample(session, topic_name)


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
