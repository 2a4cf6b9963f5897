"""Calibration from the analysts' own coding, end to end (``validate calibrate`` and the
Validation page's Calibrate / Adopt buttons).

1. The gold labels (human consensus per document and score) of the topic.
2. The offline scorer reads those documents again and returns, per score, its uncalibrated
   value and the features a calibration reads (``OfflineBackend.score_with_features``); the
   *current* value is that value after the calibration adopted now, if any.
3. Per score ``analytics.validate.calibration.calibrate_score``: refusals (too few labels, one
   class only), K-fold cross-validated alpha and MAE of current vs calibrated with bootstrap
   intervals, and the decision rule.
4. ``adopt``: every calibration that beats the current scorer is saved as a content-keyed
   artefact (``analytics.store.calibrations``) and named in this run's record; the scorer's
   version (and the analyses' cache key) changes, and the topic is re-scored through the
   normal scoring pipeline (cached, resumable; ``rescore=False`` leaves that to the caller,
   e.g. a background job on the page).

Every call is one ``runs`` row of kind ``calibrate`` with the before/after figures per score.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.core.errors import BadInput
from analytics.core.progress import ProgressCallback
from analytics.core.settings import Settings, get_settings
from analytics.core.topics import Topic
from analytics.score.pipeline import ScoreRunResult, load_prepared, score_topic, scoring_backend
from analytics.store import session_scope
from analytics.store.calibrations import RUN_KIND, save_calibration
from analytics.store.runs import recorded_run
from analytics.validate.agreement import human_consensus
from analytics.validate.calibration import CalibrationResult, calibrate_score
from analytics.validate.labels import labels_frame

TABLE_COLUMNS = ["score", "labels", "alpha_current", "alpha_calibrated", "alpha_gain",
                 "mae_current", "mae_calibrated", "mae_change", "decision"]


@dataclass
class CalibrationReport:
    run_id: int
    scorer_before: str
    results: list[CalibrationResult] = field(default_factory=list)
    adopted: dict[str, str] = field(default_factory=dict)  # score -> artefact key
    scorer_after: str | None = None
    rescored: ScoreRunResult | None = None

    @property
    def proposable(self) -> list[str]:
        """Scores whose calibration beats the current scorer (what Adopt would adopt)."""
        return [r.score for r in self.results if r.beats]

    def table(self) -> pd.DataFrame:
        """Current vs calibrated, alpha and MAE with 95 % intervals, labels, decision."""
        return pd.DataFrame([r.row() for r in self.results], columns=TABLE_COLUMNS)


class CalibrationUnavailable(BadInput):
    """Calibration cannot run here (another backend, an unknown score, no labels)."""


def calibrate_topic(topic: Topic, *, scores: list[str] | None = None, adopt: bool = False,
                    rescore: bool = True, settings: Settings | None = None,
                    database_url: str | None = None,
                    progress: ProgressCallback | None = None) -> CalibrationReport:
    """Measure (and with ``adopt`` adopt) a calibration of each chosen score."""
    settings = settings or get_settings()
    database_url = database_url or settings.database_url
    config = settings.validation
    if settings.score.backend != "offline":
        raise CalibrationUnavailable(
            f"Calibration applies to the offline scorer; this installation scores with "
            f"'{settings.score.backend}'. Measure that backend's agreement on the Validation "
            "page instead.")
    chosen = scores or topic.score_keys
    unknown = [s for s in chosen if s not in topic.score_keys]
    if unknown:
        raise CalibrationUnavailable(f"Unknown score(s) {unknown} for topic '{topic.name}'; "
                                     f"expected some of {topic.score_keys}.")
    backend = scoring_backend(settings, topic, "offline", database_url)
    before = backend.scorer_version(topic)
    parameters = {"adopt": adopt, "scores": chosen, "scorer": before,
                  "min_labels": config.calibration_min_labels,
                  "folds": config.calibration_folds, "bootstrap": config.calibration_bootstrap,
                  "seed": config.calibration_seed}
    with recorded_run(RUN_KIND, topic.name, "offline", parameters,
                      database_url=database_url) as run:
        report = CalibrationReport(run_id=run.id, scorer_before=before)
        with session_scope(database_url) as session:
            consensus = human_consensus(labels_frame(session, topic.name))
            consensus = consensus[consensus["score"].isin(chosen)
                                  & consensus["human_addressed"]]
            ids = sorted(int(i) for i in consensus["document_id"].unique())
            prepared = [doc for first in range(0, len(ids), 256)
                        for doc in load_prepared(session, ids[first:first + 256], settings)]
        values, features = _read(backend, topic, prepared)
        active = backend.calibrations(topic)
        definitions = {d.key: d for d in topic.scores}
        for key in chosen:
            part = consensus[consensus["score"] == key].set_index("document_id")["human"]
            doc_ids = np.array([d.document_id for d in prepared], int)
            human = part.reindex(doc_ids).to_numpy(dtype=float)
            base = values[key]
            width = next((f.shape[0] for f in features[key] if f is not None), 1)
            x = np.vstack([f if f is not None else np.full(width, np.nan)
                           for f in features[key]]) if len(doc_ids) else np.zeros((0, width))
            current = base if key not in active else np.where(
                np.isnan(base), np.nan, active[key].predict(base, x))
            report.results.append(calibrate_score(
                key, doc_ids, human, current, x, base=base, topic=topic.name,
                base_scorer=backend.base_version(topic),
                feature_set=backend.feature_set(definitions[key]),
                min_labels=config.calibration_min_labels, folds=config.calibration_folds,
                draws=config.calibration_bootstrap, seed=config.calibration_seed))
            if key in active and not report.results[-1].refused:
                report.results[-1].decision += (
                    " (the current values come from the adopted calibration, fitted on these "
                    "same labels: its figures are optimistic)")
        if adopt:
            for result in report.results:
                if result.beats and result.calibration is not None:
                    report.adopted[result.score] = save_calibration(result.calibration, settings)
        run.counts = {"scores": {r.score: r.counts() for r in report.results},
                      "adopted": report.adopted, "scorer_before": before}
        if adopt and not report.adopted:
            run.note = "nothing adopted: no calibration beat the current scorer"
    if report.adopted:
        backend = scoring_backend(settings, topic, "offline", database_url)
        report.scorer_after = backend.scorer_version(topic)
        if rescore:
            report.rescored = score_topic(topic, settings=settings, backend_name="offline",
                                          database_url=database_url, progress=progress)
    return report


def _read(backend, topic: Topic, prepared: list) -> tuple[dict[str, np.ndarray], dict]:
    """Uncalibrated values and features per score, aligned with ``prepared``."""
    values = {k: [] for k in topic.score_keys}
    features: dict[str, list] = {k: [] for k in topic.score_keys}
    for first in range(0, len(prepared), 256):
        outcomes, feats = backend.score_with_features(prepared[first:first + 256], topic)
        for outcome, per_doc in zip(outcomes, feats, strict=True):
            for key in topic.score_keys:
                value = outcome.result.scores[key].value if outcome.result else None
                values[key].append(np.nan if value is None else value)
                features[key].append(per_doc.get(key) if value is not None else None)
    return {k: np.array(v, dtype=float) for k, v in values.items()}, features
