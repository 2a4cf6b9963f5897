"""The provider protocol and registry. Adding a provider = one new module + one registry line."""

from __future__ import annotations

import datetime as dt
import importlib
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from analytics.core.errors import BadInput
from analytics.core.settings import Settings
from analytics.core.topics import Topic
from analytics.store.records import DocumentRecord


@dataclass(frozen=True)
class Option:
    """A declared provider option; the Sources page builds its form from these."""

    name: str
    type: type
    default: Any
    help: str


def _nothing_known(source: str, external_ids: Iterable[str]) -> set[str]:
    return set()


@dataclass
class RunContext:
    """What a provider reports to the runner besides the documents it yields.

    The runner creates one per run and passes it as the ``context`` option; it ends up in
    the run record (failed counts by reason, quota units, why the run stopped early).
    """

    failures: Counter = field(default_factory=Counter)  # reason -> documents
    quota_units: int = 0
    quota_budget: int | None = None  # units this run may still spend (None: no budget)
    stopped: str | None = None  # set when the provider stopped early but cleanly
    skipped_known: int = 0  # listed items already stored, not fetched again
    notes: list[str] = field(default_factory=list)
    # bad input rows (file import): {"row": n, "reason": ..., "detail": ...}, the first 100
    rejected: list[dict[str, Any]] = field(default_factory=list)
    known_ids: Callable[[str, Iterable[str]], set[str]] = _nothing_known
    progress: Callable[[str], None] | None = None  # a short line for the UI/CLI
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    def fail(self, reason: str, n: int = 1) -> None:
        with self._lock:
            self.failures[reason] += n

    def reject(self, row: int, reason: str, detail: str) -> None:
        """One input row could not be used: counted under ``reason``, kept with its number."""
        with self._lock:
            self.failures[reason] += 1
            if len(self.rejected) < 100:
                self.rejected.append({"row": row, "reason": reason, "detail": detail[:200]})

    def spend(self, units: int) -> None:
        with self._lock:
            self.quota_units += units

    def can_spend(self, units: int) -> bool:
        return self.quota_budget is None or self.quota_units + units <= self.quota_budget

    def note(self, message: str) -> None:
        self.notes.append(message)
        if self.progress:
            self.progress(message)


class Provider(Protocol):
    name: ClassVar[str]
    source: ClassVar[str]  # news | youtube | reddit
    options: ClassVar[tuple[Option, ...]]
    # Settings that must be set before the provider can run (shown on the Sources page).
    credentials: ClassVar[tuple[str, ...]]

    def __init__(self, settings: Settings, context: RunContext | None = None,
                 **options: Any) -> None: ...

    def fetch(
        self, topic: Topic, query: str | None, since: dt.datetime, until: dt.datetime
    ) -> Iterator[DocumentRecord]:
        """Yield documents (with their comments) for one query (None: the topic's own
        queries for this provider) and time window."""
        ...


# name -> "module:Class"; imported lazily so a provider's dependencies load only when used.
PROVIDERS: dict[str, str] = {
    "demo": "analytics.ingest.providers.demo:DemoProvider",
    "gdelt": "analytics.ingest.providers.gdelt:GdeltProvider",
    "google": "analytics.ingest.providers.google:GoogleSearchProvider",
    "rss": "analytics.ingest.providers.rss:RssProvider",
    "file": "analytics.ingest.providers.file:FileImportProvider",
    "youtube": "analytics.ingest.providers.youtube:YouTubeProvider",
    "reddit": "analytics.ingest.providers.reddit:RedditProvider",
}


class UnknownProviderError(BadInput):
    """A provider name that is not in the registry."""


def provider_class(name: str) -> type[Provider]:
    try:
        target = PROVIDERS[name]
    except KeyError as exc:
        known = ", ".join(sorted(PROVIDERS))
        raise UnknownProviderError(f"Unknown provider '{name}'. Known providers: {known}.") from exc
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


# --- which providers a topic configures, and whether they can run --------------------------

SOURCE_PROVIDERS = {"youtube": ["youtube"], "reddit": ["reddit"]}


def configured_providers(topic: Topic, settings: Settings) -> list[str]:
    """Providers for the topic's enabled sources ('news' maps to ``ingest.news_providers``)."""
    names: list[str] = []
    for key, source in topic.sources.items():
        if not source.enabled:
            continue
        if key == "news":
            names.extend(settings.ingest.news_providers)
        elif key in SOURCE_PROVIDERS:
            names.extend(SOURCE_PROVIDERS[key])
        elif key in PROVIDERS:
            names.append(key)
    return [n for n in dict.fromkeys(names) if n in PROVIDERS]


def missing_credentials(name: str, settings: Settings) -> list[str]:
    """Variables of the provider's declared credentials that are not set."""
    missing = []
    for setting in getattr(provider_class(name), "credentials", ()):
        value = getattr(settings.ingest, setting, None)
        if value is None or (hasattr(value, "get_secret_value") and not value.get_secret_value()):
            missing.append(f"ANALYTICS_{setting.upper()}")
    return missing


def skip_reason(name: str, topic: Topic, settings: Settings) -> str | None:
    """Why the provider cannot run for this topic now (None: it can)."""
    missing = missing_credentials(name, settings)
    if missing:
        return f"no credentials ({', '.join(missing)})"
    check = getattr(provider_class(name), "not_ready", None)
    return check(topic) if check else None
