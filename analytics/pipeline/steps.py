"""The stage steps the scheduled run and the demo preparation chain after ingestion.

Each step takes (topic, settings, progress) and returns one printable line; a step that
raises is reported as failed and the next step still runs. Each stage records its own
``runs`` row, so the steps add no bookkeeping of their own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from analytics.core.errors import UserError
from analytics.core.progress import ProgressCallback
from analytics.core.settings import Settings
from analytics.core.topics import Topic
from analytics.store.runs import describe_error

log = logging.getLogger("analytics.pipeline")
StepFunction = Callable[[Topic, Settings, ProgressCallback | None], str]


@dataclass(frozen=True)
class Step:
    name: str
    run: StepFunction


@dataclass
class StepOutcome:
    name: str
    ok: bool
    text: str


def score_new_documents(topic: Topic, settings: Settings,
                        progress: ProgressCallback | None = None) -> str:
    from analytics.score.pipeline import score_topic

    result = score_topic(topic, settings=settings, progress=progress,
                         retry_failed=settings.score.retry_failed)
    return (f"{result.scored} scored, {result.cached} from cache, {result.failed} failed"
            + (f" — stopped: {result.stopped}" if result.stopped else ""))


def refresh_summaries(topic: Topic, settings: Settings,
                      progress: ProgressCallback | None = None) -> str:
    from analytics.summarize import summarize_topic

    result = summarize_topic(topic, "week", settings=settings, progress=progress)
    return f"{result.written} weekly summaries written, {result.unchanged} unchanged"


def trend_step(window: str) -> StepFunction:
    def refresh(topic: Topic, settings: Settings, progress: ProgressCallback | None = None) -> str:
        from analytics.trends import refresh_trends

        fits = refresh_trends(topic, settings, window=window, progress=progress)
        fitted = sum(not f.from_cache for f in fits)
        return f"{len(fits)} trend fit(s) for window {window} current ({fitted} refitted)"

    return refresh


def refresh_dynamics(topic: Topic, settings: Settings,
                     progress: ProgressCallback | None = None) -> str:
    from analytics.dynamics import refresh_dynamics as refresh

    fit = refresh(topic, settings, progress=progress)
    return f"dynamics fit {fit.meta.get('key', '')} current"


def write_report(topic: Topic, settings: Settings,
                 progress: ProgressCallback | None = None) -> str:
    from analytics.report import scheduled_report

    return f"report written to {scheduled_report(topic, settings)}"


def scheduled_steps(settings: Settings) -> list[Step]:
    """After ingestion, in order; the report comes last so it reads the fresh fits."""
    return [Step("score", score_new_documents), Step("summaries", refresh_summaries),
            Step("trends", trend_step(settings.reports.window)),
            Step("dynamics", refresh_dynamics), Step("report", write_report)]


def demo_steps() -> list[Step]:
    """What the demo prepares after scoring so every page has content."""
    return [Step("summaries", refresh_summaries), Step("trends", trend_step("all")),
            Step("dynamics", refresh_dynamics)]


def run_steps(steps: Sequence[Step], topic: Topic, settings: Settings,
              progress: ProgressCallback | None = None,
              echo: Callable[[str], None] | None = None) -> list[StepOutcome]:
    outcomes = []
    for step in steps:
        try:
            outcome = StepOutcome(step.name, True, step.run(topic, settings, progress))
        except UserError as exc:
            outcome = StepOutcome(step.name, False, f"failed — {exc}")
        except Exception as exc:  # one step's failure must not stop the next
            log.exception("step %s failed", step.name)
            outcome = StepOutcome(step.name, False, f"failed — {describe_error(exc)}")
        outcomes.append(outcome)
        if echo:
            echo(f"{outcome.name}: {outcome.text}")
    return outcomes
