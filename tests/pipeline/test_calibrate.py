"""Calibration end to end on a tiny scored store: refusals, adoption (artefact, scorer
version, re-scoring through the pipeline, run record), the CLI and the Validation page."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from analytics import validate as v
from analytics.core.topics import load_topic
from analytics.report.headlines import headline_evidence
from analytics.store import Run

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tiny(scored_corpus):
    """60 demo documents scored offline; calibration from 20 labels, fewer resamples."""
    return scored_corpus(60, seed=5, validation_calibration_min_labels=20,
                         validation_calibration_bootstrap=200)


def _machine(session, topic) -> dict[int, dict]:
    from analytics.store import Analysis

    rows = session.execute(select(Analysis.document_id, Analysis.scores).where(
        Analysis.topic == topic.name, Analysis.status == "ok").order_by(Analysis.id)).all()
    return {doc: scores for doc, scores in rows}


def _code(topic, sentiment="reversed", unity="one class", article5="same") -> int:
    """A coder whose sentiment is the scorer's reversed (a deliberately biased scorer: the
    truth is known), unity always 7 (one class), article5_trust exactly the scorer's."""
    from analytics.store import session_scope

    coded = 0
    with session_scope() as session:
        for doc, scores in _machine(session, topic).items():
            values = {}
            if scores.get("sentiment") is not None and sentiment == "reversed":
                values["sentiment"] = round(10 - scores["sentiment"], 1)
            if scores.get("unity") is not None and unity == "one class":
                values["unity"] = 7.0
            if scores.get("article5_trust") is not None and article5 == "same":
                values["article5_trust"] = round(scores["article5_trust"], 2)
            if values:
                v.save_labels(session, topic, doc, "coder", values)
                coded += 1
    return coded


def test_refusals_and_not_better(tiny, monkeypatch):
    from analytics.pipeline.calibrate import CalibrationUnavailable, calibrate_topic
    from analytics.store import Run, session_scope

    topic = load_topic("nato")
    assert _code(topic) >= 20
    report = calibrate_topic(topic, adopt=True)
    by = {r.score: r for r in report.results}
    assert by["sentiment"].beats
    assert by["unity"].refused and "one class" in by["unity"].refused
    assert not by["article5_trust"].beats and "not adopted" in by["article5_trust"].decision
    with session_scope() as session:
        run = session.get(Run, report.run_id)
        assert run.kind == "calibrate" and run.status == "ok"
        assert run.counts["scores"]["sentiment"]["alpha_current"]["value"] < 0
        assert run.counts["scores"]["sentiment"]["alpha_calibrated"]["value"] > 0.5
        assert run.counts["adopted"] == {}  # measuring; the adopting run is the next one
        adopting = session.scalars(select(Run).where(Run.kind == "calibrate")
                                   .order_by(Run.id.desc())).first()
        assert adopting.parameters["measured_in_run"] == report.run_id
        assert set(adopting.counts["adopted"]) == {"sentiment"}
        assert set(adopting.counts["scores"]) == {"sentiment"}  # the adopted one's figures
    # the default minimum (100 labels) refuses on this small store, naming the count
    monkeypatch.setenv("ANALYTICS_VALIDATION_CALIBRATION_MIN_LABELS", "100")
    from analytics.core.settings import reset_settings_cache

    reset_settings_cache()
    few = calibrate_topic(topic, scores=["sentiment"])
    assert few.results[0].refused and "at least 100" in few.results[0].refused
    assert not few.adopted
    with pytest.raises(CalibrationUnavailable, match="Unknown score"):
        calibrate_topic(topic, scores=["nope"])


def test_adopt_changes_scorer_version_and_rescores(tiny):
    from analytics.pipeline.calibrate import calibrate_topic
    from analytics.score.pipeline import score_topic
    from analytics.store import Analysis, session_scope
    from analytics.store.calibrations import adopted_keys, calibration_dir

    topic = load_topic("nato")
    _code(topic, unity="none", article5="none")
    with session_scope() as session:
        before = _machine(session, topic)
        versions = set(session.scalars(select(Analysis.scorer_version).distinct()))
    assert len(versions) == 1
    measured = calibrate_topic(topic)  # measuring alone adopts nothing
    assert measured.proposable == ["sentiment"] and not measured.adopted
    assert not calibration_dir().exists() or not any(calibration_dir().iterdir())
    report = calibrate_topic(topic, scores=["sentiment"], adopt=True)
    key = report.adopted["sentiment"]
    assert (calibration_dir() / f"{key}.npz").is_file()
    assert report.scorer_after != report.scorer_before
    assert report.scorer_after.startswith(report.scorer_before + "+cal-")
    assert report.rescored is not None and report.rescored.scored == len(before)
    with session_scope() as session:
        assert adopted_keys(session, topic.name) == {"sentiment": key}
        after = _machine(session, topic)
        latest = session.scalar(select(Analysis.scorer_version).order_by(Analysis.id.desc())
                                .limit(1))
        agreement = v.agreement_table(session, topic).set_index("score")
    assert latest == report.scorer_after
    # the calibrated scorer now follows the (reversed) coding: values moved the other way
    moved = [(before[d]["sentiment"], after[d]["sentiment"]) for d in before
             if before[d].get("sentiment") is not None]
    assert np.corrcoef(np.array(moved).T)[0, 1] < -0.5
    assert agreement.loc["sentiment", "alpha"] > 0.5
    # fitted on these labels: the honest alpha is the K-fold one measured at adoption, not
    # agreement on the same labels (which flatters it)
    with session_scope() as session:
        run = session.get(Run, report.run_id)
        cv_alpha = run.counts["scores"]["sentiment"]["alpha_calibrated"]
        in_sample = compare_on_same_labels(session, topic)
        evidence = headline_evidence(session, topic)["sentiment"]
    assert agreement.loc["sentiment", "alpha_basis"] == v.CROSS_VALIDATED
    assert agreement.loc["sentiment", "alpha"] == pytest.approx(cv_alpha["value"])
    assert agreement.loc["sentiment", "alpha_low"] == pytest.approx(cv_alpha["low"])
    assert in_sample > cv_alpha["value"]  # what it would have claimed
    assert evidence.cross_validated and evidence.alpha == pytest.approx(cv_alpha["value"])
    assert "cross-validated" in evidence.sentence()
    others = agreement.drop(index="sentiment")["alpha_basis"]  # scores not calibrated
    assert (others == v.IN_SAMPLE).all()
    # re-running the scorer finds nothing pending (cached), the same key again (content)
    assert score_topic(topic).scored == 0
    # measured again on the same labels: against the uncalibrated scorer (the adopted one
    # was fitted on them), the same calibration, so nothing new to adopt
    again = calibrate_topic(topic, scores=["sentiment"])
    assert again.results[0].figures["alpha_current"].value == pytest.approx(
        cv_before := run.counts["scores"]["sentiment"]["alpha_current"]["value"], abs=1e-4)
    assert cv_before < 0 and "adopted now" in again.results[0].decision
    assert not again.proposable and again.results[0].adopted_now
    with session_scope() as session:
        assert session.scalar(select(func.count(Analysis.id))) == 2 * len(before)
    # the page's "Adopted now" says whether the scorer applies it: not once the base scorer
    # it was fitted on is gone (here: the record names another one)
    import json

    from analytics.pipeline.calibrate import adopted_table

    table = adopted_table(topic)
    assert list(table["status"]) == ["applied"] and table["labels"].iloc[0] >= 20
    assert table["alpha_cross_validated"].iloc[0].startswith(f"{cv_alpha['value']:.2f} [")
    record_path = calibration_dir() / f"{key}.json"
    record = json.loads(record_path.read_text())
    record_path.write_text(json.dumps({**record, "base_scorer": "zero-shot-0.0.1"}))
    assert adopted_table(topic)["status"].iloc[0].startswith(
        "not applied: fitted on zero-shot-0.0.1")
    record_path.unlink()
    assert adopted_table(topic)["status"].iloc[0] == "artefact missing on this machine"


def test_withdraw_makes_the_uncalibrated_analyses_current_again(tiny):
    from analytics.pipeline.calibrate import (
        CalibrationUnavailable,
        calibrate_topic,
        withdraw_calibrations,
    )
    from analytics.store import Analysis, session_scope
    from analytics.store.calibrations import adopted_keys

    topic = load_topic("nato")
    _code(topic, unity="none", article5="none")
    with session_scope() as session:
        before = _machine(session, topic)
        rows = session.scalar(select(func.count(Analysis.id)))
    with pytest.raises(CalibrationUnavailable, match="No adopted calibration"):
        withdraw_calibrations(topic)
    adopted = calibrate_topic(topic, scores=["sentiment"], adopt=True)
    withdrawn = withdraw_calibrations(topic)
    assert withdrawn.withdrawn == adopted.adopted
    assert withdrawn.scorer_after == adopted.scorer_before  # the uncalibrated scorer again
    assert withdrawn.rescored.reinstated == len(before) and withdrawn.rescored.scored == 0
    with session_scope() as session:
        assert adopted_keys(session, topic.name) == {}
        assert _machine(session, topic) == before  # the newest analyses: uncalibrated
        agreement = v.agreement_table(session, topic).set_index("score")
        assert session.scalar(select(func.count(Analysis.id))) == 2 * rows  # moved, not copied
    assert (agreement["alpha_basis"] == v.IN_SAMPLE).all()
    assert agreement.loc["sentiment", "alpha"] < 0  # the biased scorer, honestly
    # adopting it again computes nothing: the calibrated analyses come back from the cache
    again = calibrate_topic(topic, scores=["sentiment"], adopt=True)
    assert again.adopted == adopted.adopted
    assert again.rescored.reinstated == len(before) and again.rescored.scored == 0
    with session_scope() as session:
        latest = session.scalar(select(Analysis.scorer_version).order_by(Analysis.id.desc())
                                .limit(1))
    assert latest == adopted.scorer_after


def test_cli_calibrate_end_to_end(tiny):
    from typer.testing import CliRunner

    from analytics.cli import app

    topic = load_topic("nato")
    _code(topic)
    runner = CliRunner()
    result = runner.invoke(app, ["validate", "calibrate"], env={"COLUMNS": "240"})
    assert result.exit_code == 0, result.output
    assert "would improve" in result.output and "one class only" in result.output
    result = runner.invoke(app, ["validate", "calibrate", "--score", "sentiment", "--adopt",
                                 "--no-rescore"], env={"COLUMNS": "240"})
    assert result.exit_code == 0, result.output
    assert "Adopted ['sentiment']" in result.output and "+cal-" in result.output
    result = runner.invoke(app, ["validate", "calibrate", "--score", "bogus"])
    assert result.exit_code != 0 and "Unknown score" in result.output
    result = runner.invoke(app, ["validate", "withdraw", "--no-rescore"],
                           env={"COLUMNS": "240"})
    assert result.exit_code == 0, result.output
    assert "Withdrew ['sentiment']" in result.output and "+cal-" not in result.output
    result = runner.invoke(app, ["validate", "withdraw"])
    assert result.exit_code != 0 and "No adopted calibration" in result.output


def test_validation_page_calibrate_and_adopt(tiny):
    from streamlit.testing.v1 import AppTest

    from analytics.store import session_scope
    from analytics.store.calibrations import adopted_keys

    topic = load_topic("nato")
    _code(topic)
    app = AppTest.from_file(str(ROOT / "pages" / "validation.py"), default_timeout=300).run()
    assert not app.exception, [e.value for e in app.exception]
    assert not [b for b in app.button if b.label.startswith("Adopt")]
    next(b for b in app.button if b.label == "Calibrate").click().run()
    assert not app.exception, [e.value for e in app.exception]
    table = next(d.value for d in app.dataframe if "α calibrated [95%]" in d.value.columns)
    assert list(table["score"]) == [s.label for s in topic.scores] and (table["n labels"] >= 20).all()
    assert any("one class only" in w.value for w in app.warning)
    assert any("not adopted" in i.value for i in app.info)
    assert any("beats the uncalibrated scorer" in s.value for s in app.success)
    adopt = next(b for b in app.button if b.label.startswith("Adopt"))
    assert adopt.label == f"Adopt ({topic.score('sentiment').label})"
    adopt.click().run()
    assert not app.exception, [e.value for e in app.exception]
    with session_scope() as session:
        assert set(adopted_keys(session, topic.name)) == {"sentiment"}
    assert any("Scorer version now" in s.value for s in app.success)
    assert any("calibration" in d.value.columns for d in app.dataframe)
    # adopting started the re-scoring in the background: it ends with the new version
    latest = _newest_scorer_version_after_job(topic)
    assert "+cal-" in latest
    # the Agreement tab now reports the calibrated score's cross-validated alpha, and says so
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    agreement = next(d.value for d in app.dataframe if "alpha_basis" in d.value.columns)
    assert v.CROSS_VALIDATED in set(agreement["alpha_basis"])
    assert any("fitted on these same labels" in c.value for c in app.caption)
    # withdrawing it from the page: the uncalibrated analyses become current again
    app.multiselect(key="withdraw_scores").set_value(["sentiment"]).run()
    app.button(key="withdraw_calibration").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("Withdrew the calibration" in s.value for s in app.success)
    with session_scope() as session:
        assert adopted_keys(session, topic.name) == {}
    latest = _newest_scorer_version_after_job(topic)
    assert "+cal-" not in latest


def _newest_scorer_version_after_job(topic) -> str:
    """Wait for the page's background re-scoring to end; the newest analysis's scorer version."""
    from analytics.core.settings import get_settings
    from analytics.pipeline.sources import scoring_job
    from analytics.store import Analysis, session_scope

    job = scoring_job(topic, get_settings())
    deadline = time.time() + 300
    while not job.done and time.time() < deadline:
        time.sleep(0.5)
    assert job.ok, job.error
    with session_scope() as session:
        return session.scalar(select(Analysis.scorer_version).order_by(Analysis.id.desc())
                              .limit(1))


def test_viewer_cannot_calibrate(tiny, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from analytics.core.settings import reset_settings_cache

    monkeypatch.setenv("ANALYTICS_DASHBOARD_ANONYMOUS_ROLE", "viewer")
    reset_settings_cache()
    app = AppTest.from_file(str(ROOT / "pages" / "validation.py"), default_timeout=60).run()
    assert not app.exception, [e.value for e in app.exception]
    assert next(b for b in app.button if b.label == "Calibrate").disabled


def compare_on_same_labels(session, topic) -> float:
    """Alpha of the latest (calibrated) sentiment values on the labels it was fitted on."""
    pairs = v.paired_ratings(session, topic)
    part = pairs[pairs["score"] == "sentiment"]
    return v.compare(part["machine"], part["human"]).alpha
