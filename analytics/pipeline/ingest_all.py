"""Ingest every source a topic configures, each for the window since its last successful
run: what the cron job and the Sources page's button both run (under the same lock)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select

from analytics.core.errors import UserError
from analytics.core.progress import ProgressCallback
from analytics.core.settings import Settings
from analytics.core.topics import Topic
from analytics.ingest.base import configured_providers, skip_reason
from analytics.ingest.runner import IngestResult, run_provider
from analytics.store import session_scope
from analytics.store.models import Run
from analytics.store.runs import describe_error


@dataclass
class ProviderOutcome:
    """One provider's part of an ingestion: skipped, failed (with why) or its run."""

    name: str
    status: str  # ok | stopped | failed | skipped
    text: str
    result: IngestResult | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "skipped")


@dataclass
class IngestAllResult:
    outcomes: list[ProviderOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)

    @property
    def new_documents(self) -> int:
        return sum((o.result.counts.get("new", 0) if o.result else 0) for o in self.outcomes)

    def lines(self) -> list[str]:
        return [f"{o.name}: {o.text}" for o in self.outcomes]


def last_successful_until(topic: str, provider: str, database_url: str) -> dt.datetime | None:
    """Where the last successful run of this provider ended (the next run starts there)."""
    with session_scope(database_url) as session:
        run = session.scalar(select(Run).where(
            Run.kind == "ingest", Run.topic == topic, Run.provider == provider,
            Run.status == "ok").order_by(Run.id.desc()).limit(1))
        value = (run.parameters or {}).get("until") if run else None
    return dt.datetime.fromisoformat(value) if value else None


def ingest_all(topic: Topic, settings: Settings, *, providers: list[str] | None = None,
               until: dt.datetime | None = None, progress: ProgressCallback | None = None,
               echo: Callable[[str], None] | None = None) -> IngestAllResult:
    """Run every configured (or the given) provider; a failing one never stops the next."""
    until = until or dt.datetime.now(dt.UTC)
    result = IngestAllResult()
    say = echo or (lambda _line: None)
    for name in providers or configured_providers(topic, settings):
        reason = skip_reason(name, topic, settings)
        if reason:
            outcome = ProviderOutcome(name, "skipped", f"skipped — {reason}")
        else:
            since = last_successful_until(topic.name, name, settings.database_url)
            try:
                run = run_provider(name, topic, since=since, until=until, settings=settings,
                                   progress=progress, notes=say)
                outcome = ProviderOutcome(name, run.status, run.summary(), run)
            except UserError as exc:
                outcome = ProviderOutcome(name, "failed", f"failed — {exc}")
            except Exception as exc:  # one provider's bug must not stop the others
                outcome = ProviderOutcome(name, "failed", f"failed — {describe_error(exc)}")
        result.outcomes.append(outcome)
        say(f"{outcome.name}: {outcome.text}")
    return result
