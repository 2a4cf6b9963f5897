"""What the Sources page shows, and the background work its admin buttons start: ingestion
(the same ``ingest_all`` as the cron job, under the same lock) and scoring (the same
claim-based ``score_topic`` as ``analytics score`` and the workers, so it never pays twice
for a document another run is scoring)."""

from __future__ import annotations

import pandas as pd

from analytics.core.errors import UserError
from analytics.core.settings import Settings
from analytics.core.topics import Topic
from analytics.ingest.base import (
    configured_providers,
    missing_credentials,
    provider_class,
    skip_reason,
)
from analytics.pipeline.ingest_all import ingest_all
from analytics.pipeline.jobs import BackgroundJob, current_job, start_job
from analytics.pipeline.locks import INGEST_LOCK, exclusive


def sources_frame(topic: Topic, settings: Settings) -> pd.DataFrame:
    """One row per provider the topic configures: queries, feeds, credentials, readiness."""
    from analytics.ingest.providers.rss import feed_urls

    rows = []
    for name in configured_providers(topic, settings):
        key = "news" if name in settings.ingest.news_providers else name
        source = topic.sources.get(key) or topic.sources.get(name)
        missing = missing_credentials(name, settings)
        needs = bool(getattr(provider_class(name), "credentials", ()))
        rows.append({
            "provider": name,
            "source": key,
            "queries": ", ".join(source.queries) if source else "",
            "feeds / subreddits": ", ".join(feed_urls(topic) if name == "rss" else
                                            (source.subreddits if source else [])),
            "credentials": "not needed" if not needs else (
                "missing: " + ", ".join(missing) if missing else "set"),
            "ready": skip_reason(name, topic, settings) is None,
        })
    return pd.DataFrame(rows, columns=["provider", "source", "queries", "feeds / subreddits",
                                       "credentials", "ready"])


def quota_today(settings: Settings) -> dict[str, int]:
    from analytics.ingest.providers.youtube import quota_used_today

    used = quota_used_today(settings.database_url)
    return {"used": used, "budget": settings.ingest.youtube_daily_quota}


def start_ingestion(topic: Topic, settings: Settings, providers: list[str]) -> BackgroundJob:
    """Ingest the chosen providers in the background, under the cron job's lock."""
    def target(job: BackgroundJob) -> str:
        with exclusive(settings, INGEST_LOCK, "A scheduled run or an ingestion"):
            result = ingest_all(topic, settings, providers=providers, progress=job.report,
                                echo=job.say)
        if not result.ok:
            failed = [o for o in result.outcomes if not o.ok]
            raise IngestionFailed("; ".join(f"{o.name} {o.text}" for o in failed))
        return f"{result.new_documents} new document(s) stored"

    return start_job(f"ingest:{topic.name}:{settings.database_url}", target)


def ingestion_job(topic: Topic, settings: Settings) -> BackgroundJob | None:
    return current_job(f"ingest:{topic.name}:{settings.database_url}")


def scoring_estimate(topic: Topic, settings: Settings):
    """What scoring the pending documents would do (calls and cost for paid backends)."""
    from analytics.score.pipeline import estimate_run

    return estimate_run(topic, settings=settings, count_cached=False)


def start_scoring(topic: Topic, settings: Settings) -> BackgroundJob:
    """Score the topic's pending documents in the background (resumable, cached)."""
    from analytics.score.pipeline import score_topic

    def target(job: BackgroundJob) -> str:
        result = score_topic(topic, settings=settings, progress=job.report)
        for error in result.errors[:10]:
            job.say(error)
        summary = (f"{result.scored} scored, {result.cached} from cache, {result.failed} "
                   f"failed, ${result.cost_usd:.4f}")
        return summary + (f" — stopped: {result.stopped}" if result.stopped else "")

    return start_job(f"score:{topic.name}:{settings.database_url}", target)


def scoring_job(topic: Topic, settings: Settings) -> BackgroundJob | None:
    return current_job(f"score:{topic.name}:{settings.database_url}")


class IngestionFailed(UserError):
    """At least one provider failed; the message lists them with their reasons."""


def ingest_runs(settings: Settings, topic: str, limit: int = 30) -> pd.DataFrame:
    """Recent ingest runs of a topic with their counts as columns (newest first)."""
    from analytics.store import queries, session_scope

    with session_scope(settings.database_url) as session:
        runs = queries.runs_frame(session, limit=limit * 3, kind="ingest")
    runs = runs[runs["topic"] == topic].head(limit)
    columns = ["fetched", "new", "updated", "unchanged", "duplicate", "failed", "quota"]
    rows = []
    for run in runs.itertuples():
        counts = run.counts or {}
        rows.append({"run": run.id, "provider": run.provider, "status": run.status,
                     "started": run.started_at, "finished": run.finished_at,
                     **{c: counts.get(c, 0) for c in columns},
                     "failures": ", ".join(f"{k}: {v}" for k, v in
                                           (counts.get("failures") or {}).items()),
                     "rejected rows": "; ".join(
                         f"row {r['row']}: {r['reason']} ({r['detail']})"
                         for r in (counts.get("rejected") or [])[:20]),
                     "cleaned": ", ".join(f"{k.replace('_', ' ')}: {counts[k]}" for k in
                                          ("nul_bytes_removed", "truncated") if counts.get(k)),
                     "error": run.error if isinstance(run.error, str) else ""})
    return pd.DataFrame(rows, columns=["run", "provider", "status", "started", "finished",
                                       *columns, "failures", "rejected rows", "cleaned",
                                       "error"])
