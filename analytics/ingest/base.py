"""The provider protocol and registry. Adding a provider = one new module + one registry line."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from analytics.config import Settings, Topic
from analytics.store.records import DocumentRecord


@dataclass(frozen=True)
class Option:
    """A declared provider option; the Sources page builds its form from these."""

    name: str
    type: type
    default: Any
    help: str


class Provider(Protocol):
    name: ClassVar[str]
    source: ClassVar[str]  # news | youtube | reddit
    options: ClassVar[tuple[Option, ...]]

    def __init__(self, settings: Settings, **options: Any) -> None: ...

    def fetch(
        self, topic: Topic, query: str | None, since: dt.datetime, until: dt.datetime
    ) -> Iterator[DocumentRecord]:
        """Yield documents (with their comments) for one query and time window."""
        ...


# name -> "module:Class"; imported lazily so a provider's dependencies load only when used.
PROVIDERS: dict[str, str] = {
    "demo": "analytics.ingest.demo:DemoProvider",
}


class UnknownProviderError(ValueError):
    pass


def provider_class(name: str) -> type[Provider]:
    try:
        target = PROVIDERS[name]
    except KeyError as exc:
        known = ", ".join(sorted(PROVIDERS))
        raise UnknownProviderError(f"Unknown provider '{name}'. Known providers: {known}.") from exc
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)
