"""The scheduled (cron) run: ingest every configured source since its last successful
run, then the stage steps (score, summaries, trends, dynamics, report). It holds the
ingestion lock, so an overlapping invocation (or the Sources page) exits with a message."""

from __future__ import annotations

import datetime as dt
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from analytics.core.sections import PROJECT_ROOT
from analytics.core.settings import Settings, get_settings
from analytics.core.topics import Topic
from analytics.pipeline.ingest_all import IngestAllResult, ingest_all
from analytics.pipeline.locks import INGEST_LOCK, exclusive
from analytics.pipeline.steps import StepOutcome, run_steps, scheduled_steps


@dataclass
class ScheduledReport:
    ingestion: IngestAllResult = field(default_factory=IngestAllResult)
    steps: list[StepOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.ingestion.ok and all(s.ok for s in self.steps)

    def lines(self) -> list[str]:
        return self.ingestion.lines() + [f"{s.name}: {s.text}" for s in self.steps]


def scheduled_run(topic: Topic, settings: Settings | None = None,
                  echo: Callable[[str], None] = print, providers: list[str] | None = None,
                  now: dt.datetime | None = None) -> ScheduledReport:
    """Raises ``AlreadyRunning`` when another run (or a dashboard ingestion) holds the lock."""
    settings = settings or get_settings()
    with exclusive(settings, INGEST_LOCK, "A scheduled run or an ingestion"):
        report = ScheduledReport()
        report.ingestion = ingest_all(topic, settings, providers=providers, until=now,
                                      echo=echo)
        report.steps = run_steps(scheduled_steps(settings), topic, settings, echo=echo)
    return report


def cron_line(settings: Settings | None = None) -> str:
    """The crontab line that runs the scheduled run with this interpreter and project."""
    settings = settings or get_settings()
    log = Path(settings.data_dir) / "scheduled-run.log"
    return (f"{settings.pipeline.cron_schedule} cd {shlex.quote(str(PROJECT_ROOT))} && "
            f"{shlex.quote(sys.executable)} -m analytics scheduled-run "
            f">> {shlex.quote(str(log))} 2>&1")
