"""Calibration from the analysts' own coding, end to end (``validate calibrate`` /
``validate withdraw`` and the Validation page's Calibrate / Adopt / Withdraw buttons).

1. The gold labels (human consensus per document and score) of the topic.
2. The offline scorer reads those documents again and returns, per score, its uncalibrated
   value and the features a calibration reads (``OfflineBackend.score_with_features``).
3. Per score ``analytics.validate.calibration.calibrate_score``: refusals (too few labels, one
   class only), K-fold cross-validated alpha and MAE of the uncalibrated scorer vs the
   calibration with bootstrap intervals, and the decision rule. A calibration adopted now is
   not the yardstick: it was fitted on these labels, so its agreement with them flatters it.
4. ``adopt_measured``: every calibration the measurement found better is saved as a
   content-keyed artefact (``analytics.store.calibrations``) and named in an adopting run;
   the scorer's version (and the analyses' cache key) changes, and the topic is re-scored
   through the normal scoring pipeline (cached, resumable; ``rescore=False`` leaves that to
   the caller, e.g. a background job on the page). ``withdraw_calibrations`` records an
   adopting run that names none, and the re-score makes the uncalibrated analyses current.

Every measurement, adoption and withdrawal is one ``runs`` row of kind ``calibrate``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.core.errors import BadInput
from analytics.core.progress import ProgressCallback
from analytics.core.settings import Settings, get_settings
from analytics.core.topics import Topic
from analytics.score.base import get_backend
from analytics.score.pipeline import ScoreRunResult, load_prepared, score_topic, scoring_backend
from analytics.store import session_scope
from analytics.store.calibrations import RUN_KIND, adopted_keys, calibration_dir, save_calibration
from analytics.store.runs import recorded_run
from analytics.validate.agreement import human_consensus
from analytics.validate.calibration import CalibrationResult, Figure, calibrate_score
from analytics.validate.labels import labels_frame

TABLE_COLUMNS = ["score", "labels", "alpha_current", "alpha_calibrated", "alpha_gain",
                 "mae_current", "mae_calibrated", "mae_change", "decision"]


@dataclass
class CalibrationReport:
    run_id: int
    scorer_before: str
    results: list[CalibrationResult] = field(default_factory=list)
    adopted: dict[str, str] = field(default_factory=dict)  # score -> artefact key
    withdrawn: dict[str, str] = field(default_factory=dict)  # score -> withdrawn key
    scorer_after: str | None = None
    rescored: ScoreRunResult | None = None

    @property
    def proposable(self) -> list[str]:
        """Scores whose calibration beats the uncalibrated scorer (what Adopt would adopt)."""
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
    """Measure a calibration of each chosen score (one ``calibrate`` run) and, with
    ``adopt``, adopt those that beat the scorer (``adopt_measured``)."""
    settings = settings or get_settings()
    database_url = database_url or settings.database_url
    backend = _offline_backend(topic, settings, database_url)
    chosen = _chosen_scores(topic, scores)
    config = settings.validation
    before = backend.scorer_version(topic)
    parameters = {"adopt": False, "scores": chosen, "scorer": before,
                  "min_labels": config.calibration_min_labels,
                  "folds": config.calibration_folds, "bootstrap": config.calibration_bootstrap,
                  "seed": config.calibration_seed}
    with recorded_run(RUN_KIND, topic.name, "offline", parameters,
                      database_url=database_url) as run:
        report = CalibrationReport(run_id=run.id, scorer_before=before)
        report.results = _measure(topic, chosen, backend, settings, database_url)
        run.counts = {"scores": {r.score: r.counts() for r in report.results},
                      "adopted": {}, "scorer_before": before}
    if adopt:
        return adopt_measured(topic, report, rescore=rescore, settings=settings,
                              database_url=database_url, progress=progress)
    return report


def adopt_measured(topic: Topic, report: CalibrationReport, *, rescore: bool = True,
                   settings: Settings | None = None, database_url: str | None = None,
                   progress: ProgressCallback | None = None) -> CalibrationReport:
    """Adopt the calibrations a measurement found better (exactly those shown to the
    analyst, not a re-fit): save each artefact, record an adopting run naming the measuring
    run and the figures, then re-score (``rescore``) so the scorer version changes."""
    settings = settings or get_settings()
    database_url = database_url or settings.database_url
    chosen = [r for r in report.results if r.beats and r.calibration is not None]
    parameters = {"adopt": True, "measured_in_run": report.run_id,
                  "scores": [r.score for r in chosen], "scorer": report.scorer_before}
    with recorded_run(RUN_KIND, topic.name, "offline", parameters,
                      database_url=database_url) as run:
        report.adopted = {r.score: save_calibration(r.calibration, settings) for r in chosen}
        run.counts = {"scores": {r.score: r.counts() for r in chosen},
                      "adopted": report.adopted, "scorer_before": report.scorer_before}
        if not report.adopted:
            run.note = "nothing adopted: no calibration beat the uncalibrated scorer"
    return _rescore(topic, report, rescore, settings, database_url, progress)


def withdraw_calibrations(topic: Topic, scores: list[str] | None = None, *,
                          rescore: bool = True, settings: Settings | None = None,
                          database_url: str | None = None,
                          progress: ProgressCallback | None = None) -> CalibrationReport:
    """Withdraw the adopted calibration of each chosen score (default: every adopted one):
    an adopting run that names no calibration for it, then a re-score, which makes the
    uncalibrated analyses current again (cached: nothing is computed twice)."""
    settings = settings or get_settings()
    database_url = database_url or settings.database_url
    backend = _offline_backend(topic, settings, database_url)
    with session_scope(database_url) as session:
        adopted = adopted_keys(session, topic.name)
    chosen = _chosen_scores(topic, scores or sorted(adopted))
    missing = [s for s in chosen if s not in adopted]
    if missing or not chosen:
        raise CalibrationUnavailable(
            f"No adopted calibration to withdraw for {missing or 'any score'} of topic "
            f"'{topic.name}'" + (f"; adopted now: {sorted(adopted)}." if adopted else "."))
    before = backend.scorer_version(topic)
    parameters = {"adopt": True, "withdraw": chosen, "scorer": before}
    with recorded_run(RUN_KIND, topic.name, "offline", parameters,
                      database_url=database_url) as run:
        report = CalibrationReport(run_id=run.id, scorer_before=before,
                                   withdrawn={s: adopted[s] for s in chosen})
        run.counts = {"adopted": dict.fromkeys(chosen), "withdrawn": report.withdrawn,
                      "scorer_before": before}
    return _rescore(topic, report, rescore, settings, database_url, progress)


ADOPTED_COLUMNS = ["score", "calibration", "labels", "alpha_before", "alpha_cross_validated",
                   "mae_before", "mae_cross_validated", "status"]


def adopted_table(topic: Topic, settings: Settings | None = None,
                  database_url: str | None = None) -> pd.DataFrame:
    """The calibrations adopted now: score, key, labels, the figures measured at adoption
    (cross-validated) and whether the scorer applies it: not when its artefact is missing
    here, nor when it was fitted on another base scorer (e.g. before the attitude model was
    retrained; measure and adopt again)."""
    settings = settings or get_settings()
    database_url = database_url or settings.database_url
    with session_scope(database_url) as session:
        keys = adopted_keys(session, topic.name)
    base = get_backend(settings, "offline").base_version(topic) if keys else ""
    rows = []
    for score, key in keys.items():
        path = calibration_dir(settings) / f"{key}.json"
        record = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        figures = {k: Figure(**v) for k, v in record.get("figures", {}).items()}
        text = {k: figures[k].text() if k in figures else "—" for k in (
            "alpha_current", "alpha_calibrated", "mae_current", "mae_calibrated")}
        status = ("artefact missing on this machine" if not record
                  else "applied" if record.get("base_scorer") == base
                  else f"not applied: fitted on {record.get('base_scorer')}, the scorer is now "
                       f"{base}; calibrate again")
        rows.append({"score": score, "calibration": key[:12], "labels": record.get("labels"),
                     "alpha_before": text["alpha_current"],
                     "alpha_cross_validated": text["alpha_calibrated"],
                     "mae_before": text["mae_current"],
                     "mae_cross_validated": text["mae_calibrated"], "status": status})
    return pd.DataFrame(rows, columns=ADOPTED_COLUMNS)


def _offline_backend(topic: Topic, settings: Settings, database_url: str):
    if settings.score.backend != "offline":
        raise CalibrationUnavailable(
            f"Calibration applies to the offline scorer; this installation scores with "
            f"'{settings.score.backend}'. Measure that backend's agreement on the Validation "
            "page instead.")
    return scoring_backend(settings, topic, "offline", database_url)


def _chosen_scores(topic: Topic, scores: list[str] | None) -> list[str]:
    chosen = scores or topic.score_keys
    unknown = [s for s in chosen if s not in topic.score_keys]
    if unknown:
        raise CalibrationUnavailable(f"Unknown score(s) {unknown} for topic '{topic.name}'; "
                                     f"expected some of {topic.score_keys}.")
    return chosen


def _measure(topic: Topic, chosen: list[str], backend, settings: Settings,
             database_url: str) -> list[CalibrationResult]:
    """Per score: K-fold calibration against the uncalibrated scorer. An adopted calibration
    was fitted on these same labels, so its agreement with them is no yardstick; both arms
    are measured out of sample against the scorer without calibration."""
    config = settings.validation
    with session_scope(database_url) as session:
        consensus = human_consensus(labels_frame(session, topic.name))
        consensus = consensus[consensus["score"].isin(chosen) & consensus["human_addressed"]]
        ids = sorted(int(i) for i in consensus["document_id"].unique())
        prepared = [doc for first in range(0, len(ids), 256)
                    for doc in load_prepared(session, ids[first:first + 256], settings)]
    values, features = _read(backend, topic, prepared)
    active = backend.calibrations(topic)
    definitions = {d.key: d for d in topic.scores}
    doc_ids = np.array([d.document_id for d in prepared], int)
    results = []
    for key in chosen:
        part = consensus[consensus["score"] == key].set_index("document_id")["human"]
        human = part.reindex(doc_ids).to_numpy(dtype=float)
        width = next((f.shape[0] for f in features[key] if f is not None), 1)
        x = np.vstack([f if f is not None else np.full(width, np.nan)
                       for f in features[key]]) if len(doc_ids) else np.zeros((0, width))
        result = calibrate_score(
            key, doc_ids, human, values[key], x, topic=topic.name,
            base_scorer=backend.base_version(topic),
            feature_set=backend.feature_set(definitions[key]),
            min_labels=config.calibration_min_labels, folds=config.calibration_folds,
            draws=config.calibration_bootstrap, seed=config.calibration_seed)
        if key in active:
            _against_adopted(result, active[key])
        results.append(result)
    return results


def _against_adopted(result: CalibrationResult, adopted) -> None:
    """Say how a measurement relates to the calibration adopted now for its score."""
    fitted_on = adopted.record.get("labels", "?")
    if result.calibration is not None and result.calibration.content_key() == adopted.key:
        result.beats, result.adopted_now = False, True
        result.decision = ("adopted now: the same labels give the same calibration; these are "
                           "its cross-validated figures against the uncalibrated scorer")
    elif result.beats:
        result.decision += (f" (adopting replaces the calibration adopted now, fitted on "
                            f"{fitted_on} labels)")
    elif not result.refused:
        result.decision += (f"; the calibration adopted now (fitted on {fitted_on} labels) no "
                            "longer earns its place: consider withdrawing it")


def _rescore(topic: Topic, report: CalibrationReport, rescore: bool, settings: Settings,
             database_url: str, progress: ProgressCallback | None) -> CalibrationReport:
    if report.adopted or report.withdrawn:
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
