"""The scheduled (cron) run: ingest every configured source since its last successful
run, then the stage steps (score, summaries, trends, dynamics, report), then the alert
rules (which also see which steps failed). It holds the ingestion lock, so an overlapping
invocation (or the Sources page) exits with a message. Alerts never fail the other steps:
a rule or channel that fails is reported in its own line and in the alert history."""

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
        report.steps.append(alert_step(topic, settings, report, now, echo))
    return report


def alert_step(topic: Topic, settings: Settings, report: ScheduledReport,
               now: dt.datetime | None, echo: Callable[[str], None] | None) -> StepOutcome:
    """Evaluate the alert rules after the steps, telling them which steps failed."""
    from analytics.pipeline.alerts import evaluate_rules

    failed_sources = [StepOutcome(f"ingest {o.name}", False, o.text)
                      for o in report.ingestion.outcomes if not o.ok]
    try:
        result = evaluate_rules(topic, settings, now=now,
                                step_outcomes=[*failed_sources, *report.steps])
        outcome = StepOutcome("alerts", result.ok, result.line())
    except Exception as exc:  # alerts must never take the run's results down with them
        from analytics.store.runs import describe_error

        outcome = StepOutcome("alerts", False, f"failed — {describe_error(exc)}")
    if echo:
        echo(f"{outcome.name}: {outcome.text}")
    return outcome


def cron_line(settings: Settings | None = None) -> str:
    """The crontab line that runs the scheduled run with this interpreter and project."""
    settings = settings or get_settings()
    log = Path(settings.data_dir) / "scheduled-run.log"
    return (f"{settings.pipeline.cron_schedule} cd {shlex.quote(str(PROJECT_ROOT))} && "
            f"{shlex.quote(sys.executable)} -m analytics scheduled-run "
            f">> {shlex.quote(str(log))} 2>&1")
