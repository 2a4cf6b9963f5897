"""Calibrations fitted on the analysts' own coding: the artefacts and which one is adopted.

A calibration maps the offline scorer's value of one score and its features (see
``analytics.score.backends.offline``: the MiniLM vectors the scorer read) to a new 0-10 value:

    value = clip(intercept + slope * current + ((features - mean) / scale) @ weights, 0, 10)

It is fitted and measured by ``analytics.validate.calibration`` and adopted through
``analytics.pipeline.calibrate``. The artefact lives under ``<data_dir>/calibrations/``:
``<key>.npz`` (the arrays) and ``<key>.json`` (provenance: topic, score, the base scorer it
was fitted on, the hash of the gold labels, features, seed, software version, and the
cross-validated figures of the current and the calibrated scorer). The key is a hash of
that content, so the same labels, features and seed give the same artefact.

Adoption is a ``runs`` row of kind ``calibrate`` whose parameters say ``adopt: true`` and
whose counts name the adopted keys per score (``adopted``) next to the before/after figures:
the adopted calibration of a score is the one named by the newest such run (no extra table).
The offline backend applies an adopted calibration only while the base scorer is the one it
was fitted on; its ``scorer_version`` (and so the cache key) then names the calibration.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from analytics.core.errors import BadInput
from analytics.core.settings import Settings, get_settings
from analytics.store.models import Run

RUN_KIND = "calibrate"


class CalibrationMissing(BadInput):
    """An adopted calibration whose artefact is not in this machine's data folder."""


@dataclass
class Calibration:
    """A fitted linear calibration of one score (see the module docstring)."""

    topic: str
    score: str
    base_scorer: str  # the scorer_version whose values and features it was fitted on
    features: str  # name of the feature set, e.g. "attitude-1539" or "prototype-384"
    intercept: float
    slope: float  # weight of the current value
    mean: np.ndarray  # (d,) standardisation of the features
    scale: np.ndarray
    weights: np.ndarray  # (d,) ridge weights of the standardised features
    penalty: float  # the ridge penalty chosen by inner cross-validation (inf = none used)
    record: dict[str, Any] = field(default_factory=dict)  # provenance and figures
    key: str = ""

    def predict(self, current: np.ndarray, features: np.ndarray) -> np.ndarray:
        """Calibrated 0-10 values; NaN where the current value is NaN."""
        current = np.asarray(current, dtype=float)
        x = (np.asarray(features, dtype=float) - self.mean) / self.scale
        raw = self.intercept + self.slope * current + np.nan_to_num(x) @ self.weights
        return np.where(np.isnan(current), np.nan, np.clip(raw, 0.0, 10.0))

    def content_key(self) -> str:
        """Hash of what the calibration is made of: labels, features, seed, software, and
        the fitted map itself (rounded), so a change in how it is fitted never reuses an
        older artefact, or the analyses cached under it, that the same inputs once gave."""
        provenance = {k: self.record.get(k) for k in (
            "labels_sha256", "seed", "software_version", "folds", "penalties")}
        fitted = hashlib.sha256(np.round(np.concatenate([
            [self.intercept, self.slope, min(self.penalty, 1e300)], self.mean, self.scale,
            self.weights]).astype(float), 8).tobytes()).hexdigest()
        payload = json.dumps({"topic": self.topic, "score": self.score,
                              "base_scorer": self.base_scorer, "features": self.features,
                              "fitted": fitted, **provenance}, sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()


def calibration_dir(settings: Settings | None = None) -> Path:
    return Path((settings or get_settings()).data_dir) / "calibrations"


def save_calibration(calibration: Calibration, settings: Settings | None = None) -> str:
    """Write the artefact (atomically: temporary files renamed); returns its key."""
    folder = calibration_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    key = calibration.key = calibration.content_key()
    arrays = {"mean": calibration.mean, "scale": calibration.scale,
              "weights": calibration.weights,
              "linear": np.array([calibration.intercept, calibration.slope, calibration.penalty])}
    record = {**calibration.record, "key": key, "topic": calibration.topic,
              "score": calibration.score, "base_scorer": calibration.base_scorer,
              "features": calibration.features}
    tmp_npz, tmp_json = folder / f".{key}.npz.tmp", folder / f".{key}.json.tmp"
    with tmp_npz.open("wb") as handle:
        np.savez(handle, **arrays)
    tmp_json.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp_npz, folder / f"{key}.npz")
    os.replace(tmp_json, folder / f"{key}.json")
    return key


def load_calibration(key: str, settings: Settings | None = None) -> Calibration:
    folder = calibration_dir(settings)
    arrays_path, record_path = folder / f"{key}.npz", folder / f"{key}.json"
    if not arrays_path.is_file() or not record_path.is_file():
        raise CalibrationMissing(
            f"The adopted calibration {key[:12]} is not in {folder}. Copy that folder from "
            "the machine that adopted it, or run `python -m analytics validate calibrate "
            "--adopt` here.")
    record = json.loads(record_path.read_text(encoding="utf-8"))
    with np.load(arrays_path) as data:
        intercept, slope, penalty = (float(x) for x in data["linear"])
        return Calibration(topic=record["topic"], score=record["score"],
                           base_scorer=record["base_scorer"], features=record["features"],
                           intercept=intercept, slope=slope, mean=data["mean"],
                           scale=data["scale"], weights=data["weights"], penalty=penalty,
                           record=record, key=key)


def _adoptions(session: Session, topic: str) -> dict[str, tuple[str | None, dict]]:
    """Score key -> (adopted key or None when withdrawn, the run's figures for that score);
    the newest adopting run wins per score."""
    runs = session.scalars(select(Run).where(Run.kind == RUN_KIND, Run.topic == topic,
                                             Run.status == "ok").order_by(Run.id))
    adopted: dict[str, tuple[str | None, dict]] = {}
    for run in runs:
        if (run.parameters or {}).get("adopt"):
            counts = run.counts or {}
            adopted.update((score, (key, (counts.get("scores") or {}).get(score) or {}))
                           for score, key in (counts.get("adopted") or {}).items())
    return adopted


def adopted_keys(session: Session, topic: str) -> dict[str, str]:
    """Score key -> the adopted calibration's key (newest adopting run wins per score; a
    run that adopted ``None`` for a score withdrew its calibration)."""
    return {score: key for score, (key, _) in _adoptions(session, topic).items() if key}


def adopted_figures(session: Session, topic: str) -> dict[str, dict]:
    """Score key -> the cross-validated figures measured when its calibration was adopted
    (``alpha_calibrated``, ``mae_calibrated``, …: value, low, high). The calibration was
    fitted on the gold labels, so these, not agreement on the same labels, are its honest
    agreement."""
    return {score: figures for score, (key, figures) in _adoptions(session, topic).items()
            if key and figures}


def adopted_calibrations(session: Session, topic: str,
                         settings: Settings | None = None) -> dict[str, Calibration]:
    return {score: load_calibration(key, settings)
            for score, key in adopted_keys(session, topic).items()}
