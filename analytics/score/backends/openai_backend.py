"""Level-1 scoring with an LLM behind any OpenAI-compatible endpoint (RAG, zero-shot).

Per document: the passages (text chunks + comments) are embedded (packaged MiniLM, or the
endpoint's /v1/embeddings when ``llm.embedding_model`` is set), the top passages for each
score question are retrieved, and one chat completion with a JSON-schema response format
returns summary, scores, rationales and cited passage ids (``analytics.llm.client``: one
repair of an invalid answer, transient errors deferred, run-stopping errors raised).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import numpy as np

from analytics.core.hashing import stable_hash
from analytics.core.settings import Settings
from analytics.core.topics import Topic
from analytics.llm.client import ChatClient
from analytics.llm.costs import Budget, cost_usd, messages_tokens
from analytics.llm.embeddings import EndpointEmbedder, get_embedder, top_k
from analytics.score import prompts
from analytics.score.base import ScoringOutcome
from analytics.score.retrieval import Passage, PreparedDocument


class OpenAIBackend:
    name = "openai"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.client = ChatClient(settings, purpose="score")
        self.model = self.client.model
        self.label = f"LLM {self.model} via {settings.llm.base_url} (RAG, zero-shot)"
        self.concurrency = settings.llm.concurrency
        self._semaphore: asyncio.Semaphore | None = None
        self._query_vectors: dict[tuple[str, str], np.ndarray] = {}
        self._embedder = None

    @property
    def calls(self) -> int:
        return self.client.calls

    # --- configuration ------------------------------------------------------------------
    @property
    def embedding_name(self) -> str:
        return self.settings.llm.embedding_model or self.settings.score.embedding_model

    def config_hash(self, topic: Topic) -> str:
        """Prompt version hash; the cache key also covers temperature, seed and max tokens."""
        llm, score = self.settings.llm, self.settings.score
        return stable_hash({
            "version": prompts.PROMPT_VERSION, "system": prompts.scoring_system_prompt(topic),
            "schema": prompts.scoring_response_format(topic), "model": self.model,
            "temperature": llm.temperature, "seed": llm.seed,
            "max_tokens": llm.max_tokens, "top_k": score.retrieval_top_k,
            "chunk": [score.chunk_size, score.chunk_overlap], "embedding": self.embedding_name,
            "max_comments": score.max_comments_per_document,
        })

    def price_known(self) -> bool:
        return self.client.price_known()

    # --- retrieval ----------------------------------------------------------------------
    def _get_embedder(self):
        if self._embedder is None:
            self._embedder = (EndpointEmbedder(self.settings)
                              if self.settings.llm.embedding_model else get_embedder())
        return self._embedder

    def prepare(self, documents: list[PreparedDocument], topic: Topic) -> None:
        """Embed every passage of the batch at once and pick each document's passages."""
        if not documents:
            return
        embedder = self._get_embedder()
        tokens_before = getattr(embedder, "tokens", 0)
        key = (topic.name, self.embedding_name)
        if key not in self._query_vectors:
            self._query_vectors[key] = embedder.encode(prompts.retrieval_queries(topic))
        queries = self._query_vectors[key]
        texts = [p.text for doc in documents for p in doc.passages]
        vectors = embedder.encode(texts)
        spent_tokens = getattr(embedder, "tokens", 0) - tokens_before
        embed_cost = cost_usd(self.settings, self.embedding_name, spent_tokens, 0)
        total_chars = max(sum(len(t) for t in texts), 1)
        offset = 0
        for doc in documents:
            doc_vectors = vectors[offset:offset + len(doc.passages)]
            offset += len(doc.passages)
            if isinstance(embedder, EndpointEmbedder):
                doc.meta["embedding_cost"] = embed_cost * sum(
                    len(p.text) for p in doc.passages) / total_chars
            else:  # MiniLM vectors go to the chunks table (the corpus search reads them)
                doc.embeddings = doc_vectors
            doc.meta["retrieved"] = self.select_passages(doc.passages, doc_vectors, queries)

    def select_passages(self, passages: list[Passage], vectors: np.ndarray,
                        queries: np.ndarray) -> list[int]:
        k = self.settings.score.retrieval_top_k
        if len(passages) <= k:
            return [p.idx for p in passages]
        chosen = {passages[i].idx for q in queries for i, _ in top_k(q, vectors, k)}
        return sorted(chosen)

    def _passages(self, doc: PreparedDocument) -> list[Passage]:
        wanted = doc.meta.get("retrieved")
        if wanted is None:
            return doc.passages[: self.settings.score.retrieval_top_k * 3]
        wanted = set(wanted)
        return [p for p in doc.passages if p.idx in wanted]

    def messages(self, doc: PreparedDocument, topic: Topic) -> list[dict[str, str]]:
        return prompts.scoring_messages(topic, doc.title, self._passages(doc))

    def estimate(self, doc: PreparedDocument, topic: Topic) -> tuple[int, float]:
        """Estimated prompt tokens and the worst-case cost of one call (full max tokens)."""
        tokens_in = messages_tokens(self.messages(doc, topic))
        return tokens_in, self.client.worst_cost(tokens_in)

    # --- calls --------------------------------------------------------------------------
    @asynccontextmanager
    async def connection(self) -> AsyncIterator[OpenAIBackend]:
        """Open the async client (and the concurrency limit) for one event loop."""
        self._semaphore = asyncio.Semaphore(self.concurrency)
        async with self.client.connection():
            yield self

    async def ascore(self, doc: PreparedDocument, topic: Topic,
                     budget: Budget | None = None) -> ScoringOutcome:
        """Score one document; never raises except LLMAbort (and cancellation)."""
        if self._semaphore is None:
            raise RuntimeError("use 'async with backend.connection()' before ascore")
        passages = self._passages(doc)
        ids = {p.idx for p in passages}
        started = time.perf_counter()
        async with self._semaphore:
            result, error, usage = await self.client.complete_json(
                prompts.scoring_messages(topic, doc.title, passages),
                prompts.scoring_response_format(topic),
                lambda content: prompts.parse_scores(content, topic, ids), budget)
        return ScoringOutcome(
            result=result, error=error, tokens_in=usage.tokens_in, tokens_out=usage.tokens_out,
            cost_usd=usage.cost + doc.meta.get("embedding_cost", 0.0),
            latency_s=time.perf_counter() - started, temperature=self.settings.llm.temperature,
            seed=self.settings.llm.seed, transient=usage.transient, calls=usage.calls,
            requests=usage.requests, possibly_billed=usage.possibly_billed,
            possibly_billed_usd=usage.possibly_billed_usd)

    def score_batch(self, documents: list[PreparedDocument], topic: Topic) -> list[ScoringOutcome]:
        """The synchronous protocol method: prepare, then score concurrently."""
        self.prepare(documents, topic)

        async def run() -> list[ScoringOutcome]:
            async with self.connection():
                return list(await asyncio.gather(*(self.ascore(d, topic) for d in documents)))

        return asyncio.run(run())
