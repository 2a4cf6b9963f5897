"""Seed the embedded demo: generate the synthetic corpus, store its truth, score it offline."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select

from analytics.config import Settings, Topic, get_settings
from analytics.ingest.demo import DemoProvider, store_truth, truth_parameters
from analytics.ingest.runner import ingest_records
from analytics.scoring.pipeline import ScoreRunResult, score_topic
from analytics.store import Document, session_scope

Progress = Callable[[str, int, int], None]  # (stage, done_now, total)


def demo_document_count(topic: Topic, database_url: str | None = None) -> int:
    with session_scope(database_url) as session:
        return session.scalar(select(func.count(Document.id)).where(
            Document.topic == topic.name, Document.provider == "demo")) or 0


def seed_demo(topic: Topic, settings: Settings | None = None, progress: Progress | None = None,
              score: bool = True, database_url: str | None = None) -> ScoreRunResult | None:
    """Idempotent: generates only when the corpus is missing, scores only what is pending."""
    settings = settings or get_settings()
    url = database_url or settings.database_url
    total = settings.demo_documents
    if demo_document_count(topic, url) < total:
        provider = DemoProvider(settings)
        ingest_records(
            provider.fetch(topic), topic=topic.name, provider="demo",
            parameters={"seed": settings.demo_seed, "documents": total,
                        "truth": truth_parameters(topic)},
            progress=(lambda n: progress("generate", n, total)) if progress else None,
            database_url=url,
        )
        store_truth(topic, url)
    if not score:
        return None
    return score_topic(
        topic, settings=settings, database_url=url,
        progress=(lambda n: progress("score", n, total)) if progress else None,
    )
