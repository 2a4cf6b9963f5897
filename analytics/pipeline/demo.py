"""The embedded demo: generate the synthetic corpus and its truth, score it offline, then
prepare summaries, trend fits and the dynamics fit so every page has content.

``prepare_demo`` is what ``python -m analytics demo`` runs; the dashboard runs the same in
the background on an empty database (``start_demo_preparation``), scoring documents in an
order spread over the year so the first charts cover the whole period within seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select

from analytics.core.progress import ProgressCallback
from analytics.core.settings import Settings, get_settings
from analytics.core.topics import Topic
from analytics.ingest.providers.demo import DemoProvider, store_truth, truth_parameters
from analytics.ingest.runner import ingest_records
from analytics.pipeline.jobs import BackgroundJob, current_job, start_job
from analytics.pipeline.locks import exclusive
from analytics.pipeline.steps import StepOutcome, demo_steps, run_steps
from analytics.score.pipeline import ScoreRunResult, score_topic
from analytics.store import Document, session_scope

DEMO_LOCK = "demo"


@dataclass
class DemoPreparation:
    generated: int = 0
    scoring: ScoreRunResult | None = None
    steps: list[StepOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps)


def demo_document_count(topic: Topic, database_url: str | None = None) -> int:
    with session_scope(database_url) as session:
        return session.scalar(select(func.count(Document.id)).where(
            Document.in_topic(topic.name), Document.provider == "demo")) or 0


def generate_demo(topic: Topic, settings: Settings,
                  progress: ProgressCallback | None = None) -> int:
    """Write the corpus and its truth when missing (idempotent); the documents written."""
    url = settings.database_url
    total = settings.demo_documents
    if demo_document_count(topic, url) >= total:
        return 0
    ingest_records(
        DemoProvider(settings).fetch(topic), topic=topic.name, provider="demo",
        parameters={"seed": settings.demo_seed, "documents": total,
                    "truth": truth_parameters(topic)},
        progress=progress, total=total, database_url=url)
    store_truth(topic, url)
    return total


def prepare_demo(topic: Topic, settings: Settings | None = None, *,
                 progress: ProgressCallback | None = None,
                 echo: Callable[[str], None] | None = None,
                 score: bool = True, models: bool = True) -> DemoPreparation:
    """Generate, score and prepare every page's inputs. Idempotent: re-runs are quick."""
    settings = settings or get_settings()
    say = echo or (lambda _line: None)
    done = DemoPreparation()
    with exclusive(settings, DEMO_LOCK, "The demo preparation"):
        done.generated = generate_demo(topic, settings, progress)
        if done.generated:
            say(f"generate: {done.generated} demo documents written")
        if not score:
            return done
        done.scoring = score_topic(topic, settings=settings, progress=progress, order="spread")
        say(f"score: {done.scoring.scored} scored, {done.scoring.cached} from cache, "
            f"{done.scoring.failed} failed")
        if models:
            done.steps = run_steps(demo_steps(), topic, settings, progress, echo=say)
    return done


def start_demo_preparation(topic: Topic, settings: Settings) -> BackgroundJob:
    """The dashboard's background preparation on an empty database (one per process)."""
    def target(job: BackgroundJob) -> str:
        result = prepare_demo(topic, settings, progress=job.report, echo=job.say)
        return "ready" if result.ok else "ready, with failed steps"

    return start_job(f"demo:{topic.name}:{settings.database_url}", target,
                     restart_finished=False)


def demo_preparation(topic: Topic, settings: Settings) -> BackgroundJob | None:
    return current_job(f"demo:{topic.name}:{settings.database_url}")
