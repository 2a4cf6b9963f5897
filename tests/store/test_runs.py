"""The one run record: ok / failed (redacted error, traceback logged) / stopped, and a real
`score` process killed with SIGTERM or SIGINT ends 'stopped' with its finished work kept."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from analytics.core.errors import UserError
from analytics.store import Analysis, Run, session_scope
from analytics.store.runs import recorded_run
from tests.support.paths import ROOT


def _run(run_id: int) -> Run:
    with session_scope() as session:
        return session.get(Run, run_id)


def test_ok_run_records_counts_and_note(settings):
    with recorded_run("score", "nato", "offline", {"x": 1}) as run:
        run.counts = {"scored": 3}
        run.note = "2 documents failed"
    row = _run(run.id)
    assert (row.status, row.counts, row.error) == ("ok", {"scored": 3}, "2 documents failed")
    assert row.finished_at is not None and row.software_version


def test_failed_run_is_redacted_and_logged(settings, caplog, monkeypatch):
    monkeypatch.setenv("ANALYTICS_OPENAI_API_KEY", "sk-planted-secret-123456")
    from analytics.core.settings import reset_settings_cache

    reset_settings_cache()
    caplog.set_level(logging.ERROR, logger="analytics.runs")
    with pytest.raises(RuntimeError), recorded_run(
            "ingest", "nato", "gdelt", {"url": "https://user:hunter22@example.org/x"}) as run:
        raise RuntimeError("server said: invalid key sk-planted-secret-123456")
    row = _run(run.id)
    assert row.status == "failed" and "RuntimeError" in row.error
    assert "sk-planted" not in row.error and "hunter22" not in str(row.parameters)
    assert "Traceback" in caplog.text or caplog.records[0].exc_info


def test_user_error_is_stored_as_its_message(settings):
    with pytest.raises(UserError), recorded_run("ingest", "nato") as run:
        raise UserError("Set ANALYTICS_GOOGLE_API_KEY.")
    assert _run(run.id).error == "Set ANALYTICS_GOOGLE_API_KEY."


def test_budget_stop_and_interrupt_end_as_stopped(settings):
    with recorded_run("score", "nato") as run:
        run.stop("budget reached")
    assert (_run(run.id).status, _run(run.id).error) == ("stopped", "budget reached")
    with pytest.raises(KeyboardInterrupt), recorded_run("score", "nato") as run:
        raise KeyboardInterrupt
    assert _run(run.id).status == "stopped"


@pytest.mark.parametrize("sent", [signal.SIGTERM, signal.SIGINT])
def test_killed_score_process_is_stopped_and_keeps_finished_work(scored_corpus, tmp_path, sent):
    # Offline scoring works in pipelined batches of 256 documents: 1,000 documents leave
    # several batches to interrupt after the first one is stored.
    settings = scored_corpus(1000)
    with session_scope() as session:  # start from nothing scored: a long run to interrupt
        session.execute(Analysis.__table__.delete())
    env = {**os.environ, "ANALYTICS_DATABASE_URL": settings.database_url,
           "ANALYTICS_DATA_DIR": str(settings.data_dir)}
    process = subprocess.Popen([sys.executable, "-m", "analytics", "score"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        with session_scope() as session:
            if session.scalar(select(func.count(Analysis.id))):
                break
        time.sleep(0.2)
    assert process.poll() is None, process.stdout.read().decode()[-2000:]
    process.send_signal(sent)
    output = process.communicate(timeout=60)[0].decode()
    with session_scope() as session:
        run = session.scalar(select(Run).where(Run.kind == "score").order_by(Run.id.desc()))
        kept = session.scalar(select(func.count(Analysis.id)))
    assert run.status == "stopped", (run.status, run.error, output[-2000:])
    assert "stopped" in run.error and run.finished_at is not None
    assert 0 < kept < 1000 and run.counts["scored"] == kept
