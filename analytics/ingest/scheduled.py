"""The scheduled (cron) run: every configured source since its last successful run, then
the post-ingest steps (score, summaries, trends, dynamics, report; see
``POST_INGEST_STEPS``). A lock file makes overlapping invocations exit with a message."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from analytics.config import PROJECT_ROOT, Settings, Topic, get_settings
from analytics.ingest.base import PROVIDERS, provider_class
from analytics.ingest.http import IngestError
from analytics.ingest.runner import IngestResult, run_provider
from analytics.store import session_scope
from analytics.store.models import Run

SOURCE_PROVIDERS = {"youtube": ["youtube"], "reddit": ["reddit"]}


class AlreadyRunningError(RuntimeError):
    pass


# --- post-ingest steps -----------------------------------------------------------------

PostIngestStep = Callable[[Topic, Settings], Any]


def _score_new_documents(topic: Topic, settings: Settings) -> Any:
    from analytics.scoring.pipeline import score_topic

    return score_topic(topic, settings=settings, database_url=settings.database_url).counts()


def _refresh_summaries(topic: Topic, settings: Settings) -> Any:
    from analytics.summarize import summarize_topic

    return summarize_topic(topic, "week", settings=settings,
                           database_url=settings.database_url).counts()


def _refresh_trends(topic: Topic, settings: Settings) -> Any:
    from analytics.trends import refresh_trends

    fits = refresh_trends(topic, settings, window=settings.reports_window)
    return f"{len(fits)} trend fit(s) current"


def _refresh_dynamics(topic: Topic, settings: Settings) -> Any:
    from analytics.dynamics.service import refresh_dynamics

    fit = refresh_dynamics(topic, settings)
    return f"dynamics fit {fit.meta.get('key', '')} current"


def _write_report(topic: Topic, settings: Settings) -> Any:
    from analytics.reports import scheduled_report

    return f"report written to {scheduled_report(topic, settings)}"


# (name, step) in order; each gets (topic, settings) and returns something printable.
# A failing step is reported and does not stop the next. The report comes last so it
# reads the fits refreshed just before it.
POST_INGEST_STEPS: list[tuple[str, PostIngestStep]] = [
    ("score", _score_new_documents),
    ("summaries", _refresh_summaries),
    ("trends", _refresh_trends),
    ("dynamics", _refresh_dynamics),
    ("report", _write_report),
]


def demo_model_steps() -> list[tuple[str, PostIngestStep]]:
    """What `python -m analytics demo` prepares after scoring so every page has content."""
    steps = dict(POST_INGEST_STEPS)
    return [("summaries", steps["summaries"]),
            ("trends", lambda topic, settings: _fit_trends_all(topic, settings)),
            ("dynamics", steps["dynamics"])]


def _fit_trends_all(topic: Topic, settings: Settings) -> str:
    from analytics.trends import refresh_trends

    return f"{len(refresh_trends(topic, settings, window='all'))} trend fit(s) current"


def post_ingest_steps() -> list[tuple[str, PostIngestStep]]:
    """The steps run after ingestion, in order (see ``POST_INGEST_STEPS``)."""
    return list(POST_INGEST_STEPS)


# --- which providers a topic configures ------------------------------------------------

def configured_providers(topic: Topic, settings: Settings) -> list[str]:
    """Providers for the topic's enabled sources ('news' maps to ``news_providers``)."""
    names: list[str] = []
    for key, source in topic.sources.items():
        if not source.enabled:
            continue
        if key == "news":
            names.extend(settings.news_providers)
        elif key in SOURCE_PROVIDERS:
            names.extend(SOURCE_PROVIDERS[key])
        elif key in PROVIDERS:
            names.append(key)
    return [n for n in dict.fromkeys(names) if n in PROVIDERS]


def missing_credentials(name: str, settings: Settings) -> list[str]:
    cls = provider_class(name)
    missing = []
    for setting in getattr(cls, "credentials", ()):
        value = getattr(settings, setting, None)
        if value is None or (hasattr(value, "get_secret_value") and not value.get_secret_value()):
            missing.append(f"ANALYTICS_{setting.upper()}")
    return missing


def skip_reason(name: str, topic: Topic, settings: Settings) -> str | None:
    missing = missing_credentials(name, settings)
    if missing:
        return f"no credentials ({', '.join(missing)})"
    if name == "rss":
        from analytics.ingest.rss import feed_urls

        if not feed_urls(topic):
            return "no feeds in the topic file"
    return None


def last_successful_until(topic: str, provider: str, database_url: str) -> dt.datetime | None:
    with session_scope(database_url) as session:
        runs = session.scalars(select(Run).where(
            Run.kind == "ingest", Run.topic == topic, Run.provider == provider,
            Run.status == "ok").order_by(Run.id.desc()).limit(1))
        for run in runs:
            value = (run.parameters or {}).get("until")
            if value:
                return dt.datetime.fromisoformat(value)
    return None


# --- the run ---------------------------------------------------------------------------

@dataclass
class ScheduledReport:
    ingests: dict[str, IngestResult | str] = field(default_factory=dict)
    steps: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"{name}: {r if isinstance(r, str) else r.summary()}"
               for name, r in self.ingests.items()]
        out += [f"{name}: {text}" for name, text in self.steps.items()]
        return out


def lock_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / "scheduled-run.lock"


@contextmanager
def run_lock(path: Path) -> Iterator[None]:
    """An exclusive, non-blocking lock; released by the OS even if the process dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise AlreadyRunningError(
            f"A scheduled run is already in progress ({holder}; lock {path}). "
            "This invocation exits without doing anything.") from exc
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} UTC")
        handle.flush()
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def scheduled_run(topic: Topic, settings: Settings | None = None,
                  echo: Callable[[str], None] = print,
                  providers: list[str] | None = None,
                  now: dt.datetime | None = None) -> ScheduledReport:
    """Ingest every configured source for the window since its last successful run, then
    run the post-ingest steps. Raises ``AlreadyRunningError`` when another run holds the
    lock."""
    settings = settings or get_settings()
    report = ScheduledReport()
    with run_lock(lock_path(settings)):
        now = now or dt.datetime.now(dt.UTC)
        for name in providers or configured_providers(topic, settings):
            reason = skip_reason(name, topic, settings)
            if reason:
                report.ingests[name] = f"skipped: {reason}"
                echo(f"{name}: skipped — {reason}")
                continue
            since = last_successful_until(topic.name, name, settings.database_url)
            try:
                result = run_provider(name, topic, since=since, until=now, settings=settings)
            except IngestError as exc:
                report.ingests[name] = f"failed: {exc}"
            except Exception as exc:
                report.ingests[name] = f"failed: {type(exc).__name__}: {exc}"
            else:
                report.ingests[name] = result
            outcome = report.ingests[name]
            echo(f"{name}: {outcome if isinstance(outcome, str) else outcome.summary()}")
        for step_name, step in post_ingest_steps():
            try:
                report.steps[step_name] = str(step(topic, settings))
            except Exception as exc:
                report.steps[step_name] = f"failed: {type(exc).__name__}: {exc}"
            echo(f"{step_name}: {report.steps[step_name]}")
    return report


def cron_line(settings: Settings | None = None) -> str:
    """The crontab line that runs the scheduled run with this interpreter and project."""
    settings = settings or get_settings()
    log = Path(settings.data_dir) / "scheduled-run.log"
    return (f"{settings.cron_schedule} cd {shlex.quote(str(PROJECT_ROOT))} && "
            f"{shlex.quote(sys.executable)} -m analytics scheduled-run "
            f">> {shlex.quote(str(log))} 2>&1")
