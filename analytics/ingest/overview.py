"""What the Sources page shows, and the background ingestion job its button starts."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pandas as pd

from analytics.config import Settings, Topic
from analytics.ingest.scheduled import (
    configured_providers,
    missing_credentials,
    skip_reason,
)


def sources_frame(topic: Topic, settings: Settings) -> pd.DataFrame:
    """One row per provider the topic configures: queries, feeds, credentials, readiness."""
    from analytics.ingest.rss import feed_urls

    rows = []
    for name in configured_providers(topic, settings):
        key = "news" if name in settings.news_providers else name
        source = topic.sources.get(key) or topic.sources.get(name)
        missing = missing_credentials(name, settings)
        rows.append({
            "provider": name,
            "source": key,
            "queries": ", ".join(source.queries) if source else "",
            "feeds / subreddits": ", ".join(feed_urls(topic) if name == "rss" else
                                            (source.subreddits if source else [])),
            "credentials": "not needed" if not _needs(name) else (
                "missing: " + ", ".join(missing) if missing else "set"),
            "ready": skip_reason(name, topic, settings) is None,
        })
    return pd.DataFrame(rows, columns=["provider", "source", "queries", "feeds / subreddits",
                                       "credentials", "ready"])


def _needs(name: str) -> bool:
    from analytics.ingest.base import provider_class

    return bool(getattr(provider_class(name), "credentials", ()))


def quota_today(settings: Settings) -> dict[str, int]:
    from analytics.ingest.youtube import quota_used_today

    used = quota_used_today(settings.database_url)
    return {"used": used, "budget": settings.youtube_daily_quota}


@dataclass
class IngestJob:
    """An ingestion running in a background thread, so the page stays responsive.

    The page keeps the job (e.g. in ``st.session_state``) and polls ``lines``/``done``.
    """

    topic: Topic
    settings: Settings
    providers: list[str]
    lines: list[str] = field(default_factory=list)
    documents: int = 0
    done: bool = False
    error: str | None = None
    started: float = field(default_factory=time.time)
    thread: threading.Thread | None = None

    def start(self) -> IngestJob:
        self.thread = threading.Thread(target=self._run, name="ingest-job", daemon=True)
        self.thread.start()
        return self

    def _progress(self, n: int) -> None:
        self.documents += n

    def _run(self) -> None:
        from analytics.ingest.http import IngestError
        from analytics.ingest.runner import run_provider
        from analytics.ingest.scheduled import last_successful_until

        try:
            for name in self.providers:
                reason = skip_reason(name, self.topic, self.settings)
                if reason:
                    self.lines.append(f"{name}: skipped — {reason}")
                    continue
                self.lines.append(f"{name}: running…")
                since = last_successful_until(self.topic.name, name, self.settings.database_url)
                try:
                    result = run_provider(name, self.topic, since=since, settings=self.settings,
                                          progress=self._progress, notes=self.lines.append)
                    self.lines.append(f"{name}: {result.summary()}")
                except IngestError as exc:
                    self.lines.append(f"{name}: failed — {exc}")
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.done = True


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
                     "error": run.error or ""})
    return pd.DataFrame(rows, columns=["run", "provider", "status", "started", "finished",
                                       *columns, "failures", "error"])
