"""The one run record: every ingest, score, summary, fit, report and pipeline step.

``recorded_run`` creates the ``runs`` row, hands the caller a ``RunRecord`` to put counts
on, and closes the row whatever happens: ``ok``; ``stopped`` when the work ended early but
cleanly (a budget, a quota, Ctrl-C or SIGTERM — what was finished is kept); ``failed``
with a redacted error, the traceback going to the log. Parameters and errors are redacted
before they are stored.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from analytics import __version__
from analytics.core.redact import configured_secrets, redact, redact_data
from analytics.store.claims import Heartbeat, process_identity, release_claims
from analytics.store.engine import session_scope
from analytics.store.models import Run, utcnow

log = logging.getLogger("analytics.runs")
STATUSES = ("running", "ok", "failed", "stopped")


class StopRequested(KeyboardInterrupt):
    """The process was asked to stop (SIGTERM): runs end as ``stopped``, work is kept."""


def stop_on_sigterm() -> None:
    """Turn SIGTERM into ``StopRequested`` in the main thread (CLI entry points call this)."""
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum, _frame):
        raise StopRequested(f"stopped by signal {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, handler)


@dataclass
class RunRecord:
    """What a stage reports while it runs; written to its ``runs`` row at the end."""

    id: int
    kind: str
    database_url: str | None
    counts: dict[str, Any] = field(default_factory=dict)
    status: str | None = None  # None = decided by how the block ends
    note: str | None = None  # why the run stopped early, or a non-fatal summary

    def stop(self, reason: str) -> None:
        """Mark the run as ended early but cleanly (budget, quota...)."""
        self.status, self.note = "stopped", reason

    def save_progress(self) -> None:
        """Write the counts so far (others see a long run advance)."""
        with session_scope(self.database_url) as session:
            run = session.get(Run, self.id)
            if run is not None:
                run.counts = _jsonable(self.counts)


def _jsonable(counts: dict[str, Any]) -> dict[str, Any]:
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in counts.items()}


def describe_error(exc: BaseException) -> str:
    """One line for a user: the message of errors we raise on purpose, type + message else;
    secrets redacted (it is shown on pages, printed and stored)."""
    from analytics.core.errors import UserError
    from analytics.core.redact import redact_configured

    if isinstance(exc, UserError):
        return redact_configured(str(exc))
    return redact_configured(f"{type(exc).__name__}: {exc}")


@contextmanager
def recorded_run(kind: str, topic: str | None = None, provider: str | None = None,
                 parameters: dict[str, Any] | None = None, *,
                 database_url: str | None = None) -> Iterator[RunRecord]:
    """The run's row, with a heartbeat while it runs (see ``store.claims``)."""
    from analytics.core.settings import get_settings

    secrets = configured_secrets()
    with session_scope(database_url) as session:
        run = Run(kind=kind, topic=topic, provider=provider,
                  parameters=redact_data(parameters or {}, secrets), status="running",
                  software_version=__version__, heartbeat_at=utcnow(), **process_identity())
        session.add(run)
        session.flush()
        record = RunRecord(run.id, kind, database_url)
    settings = get_settings()
    heartbeat = Heartbeat(database_url, record.id, settings.run_heartbeat_s,
                          settings.run_dead_after_s).start()
    try:
        yield record
    except KeyboardInterrupt as exc:
        heartbeat.stop()
        reason = str(exc) or "interrupted (Ctrl-C)"
        _close(record, "stopped", f"stopped: {reason}; finished work is kept", secrets)
        raise
    except BaseException as exc:
        from analytics.core.errors import UserError

        heartbeat.stop()
        if isinstance(exc, UserError):  # the user acts on its message: no traceback shown
            log.info("%s run %s failed: %s", kind, record.id, describe_error(exc))
            log.debug("%s run %s failed", kind, record.id, exc_info=True)
        else:
            log.exception("%s run %s failed", kind, record.id)
        _close(record, "failed", describe_error(exc), secrets)
        raise
    else:
        heartbeat.stop()
        _close(record, record.status or "ok", record.note, secrets)


def _close(record: RunRecord, status: str, error: str | None, secrets: list[str]) -> None:
    """Close the row and release whatever the run still claims (one transaction)."""
    with session_scope(record.database_url) as session:
        run = session.get(Run, record.id)
        run.status = status
        run.counts = _jsonable(record.counts)
        run.error = redact(error[:4000], secrets) if error else None
        run.finished_at = utcnow()
        run.heartbeat_at = run.finished_at
        release_claims(session, record.id)
