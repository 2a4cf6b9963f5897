"""Work the pages start from buttons: it runs with a progress bar, a failure the user can
fix ends in one red message (never a traceback), and the cached reads are cleared after.
Each action checks the visitor's role first (``dashboard.auth``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import streamlit as st

from analytics.core.errors import UserError
from analytics.core.progress import Progress, ProgressCallback
from analytics.core.redact import redact_configured
from analytics.core.settings import get_settings
from analytics.core.topics import Topic
from analytics.dashboard import auth, loaders
from analytics.store import session_scope

log = logging.getLogger("analytics.dashboard")


def progress_bar(label: str = "Starting…") -> ProgressCallback:
    """A ProgressCallback drawing one st.progress bar with the rate and ETA as text."""
    bar = st.progress(0.0, text=label)

    def update(p: Progress) -> None:
        bar.progress(p.fraction if p.fraction is not None else 0.0, text=p.text())

    return update


def run_with_status(label: str, work: Callable[[ProgressCallback], Any],
                    done: Callable[[Any], str] = lambda _result: "Done") -> Any | None:
    """Run ``work(progress)`` inside st.status; None (after one message) when it failed."""
    with st.status(label, expanded=True) as box:
        progress = progress_bar()
        try:
            result = work(progress)
        except UserError as exc:
            box.update(label="Stopped", state="error")
            st.error(redact_configured(str(exc)))
            return None
        except Exception as exc:  # the run row and the log hold the details
            log.exception("%s failed", label)
            box.update(label="Failed", state="error")
            st.error(f"{label.rstrip('…')} failed ({type(exc).__name__}). Nothing was half "
                     "written; the run history and the server log have the details.")
            return None
        box.update(label=done(result), state="complete", expanded=False)
    loaders.forget_cached_reads()
    return result


def fit_trends(topic: Topic, scores: list[str], forms: list[str], sources: tuple[str, ...],
               start, end, force: bool = False) -> Any | None:
    from analytics.trends import refresh_trends

    # Fitting what a view lacks is part of reading the page (cached, no money spent);
    # refitting on purpose is an analyst's.
    if force and not auth.require("analyst", "Refitting trends"):
        return None
    return run_with_status("Fitting trends…", lambda progress: refresh_trends(
        topic, get_settings(), scores=scores, forms=forms, sources=sources, start=start,
        end=end, force=force, progress=progress), lambda fits: f"Fitted {len(fits)} trend(s)")


def fit_dynamics(topic: Topic) -> Any | None:
    from analytics.dashboard.loaders import dynamics_fit
    from analytics.dynamics import refresh_dynamics

    if not auth.require("analyst", "Fitting the dynamics model"):
        return None
    result = run_with_status("Fitting the dynamics ensemble…", lambda progress: refresh_dynamics(
        topic, get_settings(), progress=progress, force=True), lambda _fit: "Fitted")
    dynamics_fit.clear()
    return result


def build_summaries(topic: Topic, period: str, sources: list[str]) -> Any | None:
    from analytics.summarize import summarize_topic

    if not auth.require("analyst", "Building summaries"):
        return None
    return run_with_status("Building summaries…", lambda progress: summarize_topic(
        topic, period, sources, progress=progress),
        lambda r: f"Done: {r.written} written, {r.unchanged} unchanged, {r.failed} failed")


def ask_corpus(topic: Topic, question: str, index) -> Any | None:
    from analytics.summarize.ask import ask_corpus as ask

    if not auth.require("analyst", "Asking the corpus"):
        return None
    try:
        with st.spinner("Searching…"):
            return ask(topic, question, index=index)
    except UserError as exc:
        st.error(redact_configured(str(exc)))
        return None


def save_labels(topic: Topic, document_id: int, annotator: str, values: dict,
                probability: float) -> bool:
    from analytics import validate

    if not auth.require("analyst", "Coding labels"):
        return False
    try:
        with session_scope() as session:
            validate.save_labels(session, topic, document_id, annotator, values, probability)
    except UserError as exc:
        st.error(str(exc))
        return False
    st.toast(f"Saved your labels of document {document_id}.", icon="✅")
    return True


def draw_sample(topic: Topic, size: int, design: str, seed: int) -> bool:
    from analytics import validate

    if not auth.require("analyst", "Drawing a validation sample"):
        return False
    try:
        drawn = validate.draw_sample(topic.name, size=size, design=design, seed=seed,
                                     settings=get_settings())
    except UserError as exc:
        st.error(str(exc))
        return False
    st.success(f"Drew {len(drawn.documents)} documents. Reload to code them.")
    return True


def import_labels(topic: Topic, raw: bytes, annotator: str | None) -> bool:
    from analytics import validate

    if not auth.require("analyst", "Importing labels"):
        return False
    try:
        with session_scope() as session:
            result = validate.import_labels_csv(session, topic, raw.decode("utf-8-sig"),
                                                annotator)
    except (UserError, UnicodeDecodeError) as exc:
        st.error(f"Nothing was imported: {exc}")
        return False
    st.success(f"Imported {result.stored} labels of {len(result.documents)} documents "
               f"({result.skipped_blank} blank rows skipped).")
    return True


def calibrate(topic: Topic) -> Any | None:
    """Measure a calibration of each score from the gold labels (analyst or above); nothing
    changes until the analyst adopts what is shown."""
    from analytics.pipeline.calibrate import calibrate_topic

    if not auth.require("analyst", "Calibration"):
        return None
    settings = get_settings()
    return run_with_status(
        "Calibrating…",
        lambda progress: calibrate_topic(topic, rescore=False, settings=settings,
                                         progress=progress),
        lambda report: "Calibration measured")


def adopt_calibration(topic: Topic, measured: Any) -> Any | None:
    """Adopt exactly the calibrations the shown measurement found better (no re-fit); the
    topic is re-scored in the background (cached, resumable)."""
    from analytics.pipeline.calibrate import adopt_measured

    return _recalibrate(topic, "Adopting the calibration…", lambda settings: adopt_measured(
        topic, measured, rescore=False, settings=settings))


def withdraw_calibration(topic: Topic, scores: list[str]) -> Any | None:
    """Withdraw adopted calibrations; the re-score makes the uncalibrated analyses current."""
    from analytics.pipeline.calibrate import withdraw_calibrations

    return _recalibrate(topic, "Withdrawing the calibration…", lambda settings:
                        withdraw_calibrations(topic, scores, rescore=False, settings=settings))


def _recalibrate(topic: Topic, label: str, change) -> Any | None:
    from analytics.pipeline.sources import start_scoring

    if not auth.require("analyst", "Calibration"):
        return None
    settings = get_settings()

    def work(progress: ProgressCallback):
        report = change(settings)
        if report.adopted or report.withdrawn:
            start_scoring(topic, settings)
        return report

    def done(report) -> str:
        changed = sorted(report.adopted or report.withdrawn)
        verb = "Adopted" if report.adopted else "Withdrew"
        if not changed:
            return "Nothing changed"
        return f"{verb} {', '.join(changed)}; re-scoring in the background"

    return run_with_status(label, work, done)


def add_event(topic: Topic, day, label: str, author: str) -> bool:
    """Store an analyst's dated event (drawn on every time chart from now on)."""
    from sqlalchemy.exc import IntegrityError

    from analytics.store import Event

    if not auth.require("analyst", "Adding an event"):
        return False
    label = (label or "").strip()
    if not label:
        st.error("Say what happened: the event needs a label.")
        return False
    try:
        with session_scope() as session:
            session.add(Event(topic=topic.name, date=day, label=label,
                              created_by=(author or "").strip() or None))
    except IntegrityError:
        st.error("That event is already recorded for this date.")
        return False
    loaders.forget_cached_reads()
    st.success(f"Added {day}: {label}")
    return True


def start_ingestion(topic: Topic, providers: list[str]) -> Any | None:
    """The Sources page's ingestion (admin only), in the background under the ingest lock."""
    from analytics.pipeline.sources import start_ingestion as start

    if not auth.require("admin", "Ingestion"):
        return None
    return start(topic, get_settings(), providers)


def start_scoring(topic: Topic) -> Any | None:
    """The Sources page's scoring of pending documents (admin only), in the background."""
    from analytics.pipeline.sources import start_scoring as start

    if not auth.require("admin", "Scoring"):
        return None
    return start(topic, get_settings())


def settings_in_effect() -> dict | None:
    """The settings this server runs with, secrets left out (admin only)."""
    if not auth.require("admin", "Viewing the settings"):
        return None
    return get_settings().public_dict()


# --- saved views --------------------------------------------------------------------------------


def save_view(name: str, page: str, params: dict) -> bool:
    from analytics.store.saved_views import save_view as save

    if not auth.require("viewer", "Saving a view"):
        return False
    try:
        with session_scope() as session:
            saved = save(session, name, page, params, auth.owner())
    except UserError as exc:
        st.error(str(exc))
        return False
    st.toast(f"Saved the view '{saved.name}'.", icon="✅")
    return True


def rename_view(view_id: int, name: str) -> bool:
    from analytics.store.saved_views import rename_view as rename

    if not auth.require("viewer", "Renaming a view"):
        return False
    try:
        with session_scope() as session:
            rename(session, view_id, name, auth.owner())
    except UserError as exc:
        st.error(str(exc))
        return False
    return True


def delete_view(view_id: int) -> bool:
    from analytics.store.saved_views import delete_view as delete

    if not auth.require("viewer", "Deleting a view"):
        return False
    try:
        with session_scope() as session:
            delete(session, view_id, auth.owner())
    except UserError as exc:
        st.error(str(exc))
        return False
    return True


# --- alerts -------------------------------------------------------------------------------------


def save_rule(name: str, topic: str, kind: str, params: dict, channels: list[str],
              cooldown_hours: float, saved_view_id: int | None = None,
              rule_id: int | None = None) -> bool:
    """Create (or, with ``rule_id``, edit) an alert rule; a bad threshold is refused with
    one message and nothing is stored."""
    from analytics.pipeline.alerts import RuleSpec, create_rule, update_rule

    if not auth.require("analyst", "Editing alert rules"):
        return False
    spec = RuleSpec(name, topic, kind, params, tuple(channels), cooldown_hours, saved_view_id)
    try:
        if rule_id is None:
            rule_id = create_rule(spec, owner=auth.owner())
        else:
            update_rule(rule_id, spec)
    except UserError as exc:
        st.error(str(exc))
        return False
    st.toast(f"Saved rule #{rule_id}: {spec.name}", icon="✅")
    return True


def pause_rule(rule_id: int, paused: bool) -> bool:
    from analytics.pipeline.alerts import set_paused

    if not auth.require("analyst", "Pausing alert rules"):
        return False
    try:
        set_paused(rule_id, paused)
    except UserError as exc:
        st.error(str(exc))
        return False
    return True


def delete_rule(rule_id: int) -> bool:
    from analytics.pipeline.alerts import delete_rule as delete

    if not auth.require("analyst", "Deleting alert rules"):
        return False
    try:
        delete(rule_id)
    except UserError as exc:
        st.error(str(exc))
        return False
    return True


def run_alerts(topic: Topic) -> Any | None:
    from analytics.pipeline.alerts import evaluate_rules

    if not auth.require("analyst", "Evaluating alert rules"):
        return None
    return run_with_status("Evaluating alert rules…",
                           lambda _progress: evaluate_rules(topic, get_settings()),
                           lambda report: report.line())


def send_test_alert(channel: str) -> bool:
    from analytics.pipeline.alerts import DeliveryError, send_test

    if not auth.require("analyst", "Sending a test alert"):
        return False
    try:
        with st.spinner(f"Sending a test through {channel}…"):
            detail = send_test(channel)
    except (UserError, DeliveryError) as exc:
        st.error(f"The test failed: {redact_configured(str(exc))}")
        return False
    st.success(f"Test sent: {detail}")
    return True
