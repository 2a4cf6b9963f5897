"""The scoring backend protocol and registry. A new backend = one module + one registry line."""

from __future__ import annotations

import hashlib
import importlib
import json
from dataclasses import dataclass
from typing import Protocol

from analytics.config import Settings, Topic
from analytics.scoring.retrieval import PreparedDocument
from analytics.scoring.schema import DocumentScores


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
    transient: bool = False  # failed for a passing reason (rate limit, 5xx): store nothing, retry later


class ScoringAbort(RuntimeError):
    """The run cannot go on (bad API key, unreachable endpoint, unknown model).

    The message says what to do; the pipeline keeps what was already scored and the CLI and
    pages show the message alone, without a traceback.
    """


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
    "offline": "analytics.scoring.backends.offline:OfflineBackend",
    "openai": "analytics.scoring.backends.openai_backend:OpenAIBackend",
}


def backend_class(name: str) -> type[ScoringBackend]:
    try:
        module_name, class_name = BACKENDS[name].split(":")
    except KeyError as exc:
        raise ValueError(
            f"Unknown scoring backend '{name}'. Known backends: {', '.join(sorted(BACKENDS))}."
        ) from exc
    return getattr(importlib.import_module(module_name), class_name)


def get_backend(settings: Settings, name: str | None = None) -> ScoringBackend:
    return backend_class(name or settings.scoring_backend)(settings)


def stable_hash(payload: object) -> str:
    text = json.dumps(payload, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
