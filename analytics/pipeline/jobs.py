"""Work the dashboard starts in a background thread (ingestion, demo preparation), so a
page stays responsive and shows live progress. One job per key per process."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from analytics.core.errors import UserError
from analytics.core.progress import Progress
from analytics.core.redact import redact_configured
from analytics.store.runs import StopRequested, describe_error

log = logging.getLogger("analytics.jobs")


@dataclass
class BackgroundJob:
    """A function run in a daemon thread; pages poll ``lines``, ``progress`` and ``done``."""

    name: str
    target: Callable[[BackgroundJob], str | None]
    lines: list[str] = field(default_factory=list)
    progress: Progress | None = None
    done: bool = False
    error: str | None = None  # set when the job failed; the message is for the user
    result: str | None = None
    started: float = field(default_factory=time.time)
    thread: threading.Thread | None = None

    @property
    def ok(self) -> bool:
        return self.done and self.error is None

    def say(self, line: str) -> None:
        self.lines.append(line)

    def report(self, update: Progress) -> None:
        self.progress = update

    def start(self) -> BackgroundJob:
        self.thread = threading.Thread(target=self._run, name=f"job-{self.name}", daemon=True)
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            self.result = self.target(self)
        except UserError as exc:
            self.error = redact_configured(str(exc))
        except StopRequested as exc:  # the server is shutting down: the run row says so
            self.error = str(exc)
        except Exception as exc:
            log.exception("background job %s failed", self.name)
            self.error = describe_error(exc)
        finally:
            self.done = True


_jobs: dict[str, BackgroundJob] = {}
_jobs_lock = threading.Lock()


def start_job(key: str, target: Callable[[BackgroundJob], str | None],
              restart_finished: bool = True) -> BackgroundJob:
    """Start the job under this key unless one is running; return the current one."""
    with _jobs_lock:
        job = _jobs.get(key)
        if job is not None and (not job.done or not restart_finished):
            return job
        _jobs[key] = job = BackgroundJob(key, target).start()
        return job


def current_job(key: str) -> BackgroundJob | None:
    return _jobs.get(key)
