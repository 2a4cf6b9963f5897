"""The scoring backend protocol and registry. A new backend = one module + one registry line."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Protocol

from analytics.core.errors import BadInput
from analytics.core.settings import Settings
from analytics.core.topics import Topic
from analytics.score.retrieval import PreparedDocument
from analytics.score.schema import DocumentScores


@dataclass
class ScoringOutcome:
    """What a backend returns for one document: a validated result or a failure reason."""

    result: DocumentScores | None
    error: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    temperature: float | None = None
    seed: int | None = None
    calls: int = 0  # requests sent to a paid endpoint (repairs included)
    # failed for a passing reason (rate limit, 5xx): store nothing, retry later
    transient: bool = False
    # requests sent for this document (``store.ledger.CallRecord``: ok, error, timeout)
    requests: list[Any] = field(default_factory=list)
    possibly_billed: int = 0  # requests that timed out after being sent
    possibly_billed_usd: float = 0.0  # their worst-case cost


class ScoringBackend(Protocol):
    name: str  # registry key, e.g. "offline"
    model: str  # recorded with every analysis
    label: str  # shown in the UI, e.g. "offline scorer (embeddings + lexicon)"

    def __init__(self, settings: Settings) -> None: ...

    def config_hash(self, topic: Topic) -> str:
        """Hash of the prompt/config: a change means old analyses are not reused."""
        ...

    def score_batch(self, documents: list[PreparedDocument], topic: Topic) -> list[ScoringOutcome]:
        """Score documents, one outcome each, in the same order. Must not raise per document."""
        ...


BACKENDS: dict[str, str] = {
    "offline": "analytics.score.backends.offline:OfflineBackend",
    "openai": "analytics.score.backends.openai_backend:OpenAIBackend",
}


class UnknownBackendError(BadInput):
    """A backend name that is not in the registry."""


def backend_class(name: str) -> type[ScoringBackend]:
    try:
        module_name, class_name = BACKENDS[name].split(":")
    except KeyError as exc:
        raise UnknownBackendError(
            f"Unknown scoring backend '{name}'. Known backends: {', '.join(sorted(BACKENDS))}."
        ) from exc
    return getattr(importlib.import_module(module_name), class_name)


def get_backend(settings: Settings, name: str | None = None) -> ScoringBackend:
    return backend_class(name or settings.score.backend)(settings)
