"""Level-1 scoring with an LLM behind any OpenAI-compatible endpoint (RAG, zero-shot).

Per document: the passages (text chunks + comments) are embedded (packaged MiniLM, or the
endpoint's /v1/embeddings when ``openai_embedding_model`` is set), the top passages for
each score question are retrieved, and one chat completion with a JSON-schema response
format returns summary, scores, rationales and cited passage ids. An invalid answer gets
one repair request; a second invalid answer marks the document failed with the reason.

HTTP 429/5xx/timeouts are retried by the openai SDK (exponential backoff, Retry-After
honoured, ``openai_max_retries``); a document that still fails is left unscored for the
next run. 401/403, an unknown model or an unreachable endpoint stop the run
(``ScoringAbort``) with one message. Calls run concurrently (``openai_concurrency``) under
client-side request and token rate limits; cost comes from the ``openai_prices`` table.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import numpy as np

from analytics.config import Settings, Topic
from analytics.scoring import prompts
from analytics.scoring.base import ScoringAbort, ScoringOutcome, stable_hash
from analytics.scoring.retrieval import Passage, PreparedDocument, get_embedder, top_k

CHARS_PER_TOKEN = 3.5  # conservative (real text is ~4): estimates err on the expensive side
OPENAI_HOST = "api.openai.com"


def estimate_tokens(text: str) -> int:
    return int(len(text) / CHARS_PER_TOKEN) + 1


def messages_tokens(messages: list[dict[str, str]]) -> int:
    return sum(estimate_tokens(m["content"]) + 4 for m in messages)


# --- cost ---------------------------------------------------------------------------------

def price_of(settings: Settings, model: str) -> tuple[float, float] | None:
    return settings.openai_prices.get(model)


def cost_usd(settings: Settings, model: str, tokens_in: int, tokens_out: int) -> float:
    price = price_of(settings, model)
    if price is None:
        return 0.0
    return (tokens_in * price[0] + tokens_out * price[1]) / 1_000_000


class Budget:
    """Run cost cap. A call reserves its worst-case cost first; the real cost settles it."""

    def __init__(self, limit_usd: float | None):
        self.limit = limit_usd
        self.spent = 0.0
        self.reserved = 0.0
        self.exhausted = False

    def reserve(self, amount: float) -> bool:
        if self.limit is not None and self.spent + self.reserved + amount > self.limit:
            self.exhausted = True
            return False
        self.reserved += amount
        return True

    def settle(self, reserved: float, actual: float) -> None:
        self.reserved = max(self.reserved - reserved, 0.0)
        self.spent += actual


# --- rate limits --------------------------------------------------------------------------

class RateLimiter:
    """Two token buckets (requests and tokens per minute), refilled continuously."""

    def __init__(self, requests_per_minute: int, tokens_per_minute: int):
        self.capacity = (float(requests_per_minute), float(tokens_per_minute))
        self.level = list(self.capacity)
        self.updated = time.monotonic()
        self._lock: asyncio.Lock | None = None

    def _refill(self) -> None:
        now = time.monotonic()
        elapsed, self.updated = now - self.updated, now
        for i, cap in enumerate(self.capacity):
            self.level[i] = min(cap, self.level[i] + elapsed * cap / 60.0)

    def wait_needed(self, tokens: float) -> float:
        self._refill()
        need = (1.0, min(tokens, self.capacity[1]))
        return max(0.0, *((n - lvl) * 60.0 / cap
                          for n, lvl, cap in zip(need, self.level, self.capacity, strict=True)))

    async def acquire(self, tokens: float) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # first come, first served
            while (wait := self.wait_needed(tokens)) > 0:
                await asyncio.sleep(wait)
            self.level[0] -= 1.0
            self.level[1] -= min(tokens, self.capacity[1])

    def correct(self, estimated: float, actual: float) -> None:
        """Charge the difference once the real token count is known."""
        self.level[1] -= actual - min(estimated, self.capacity[1])


# --- clients ------------------------------------------------------------------------------

def _api_key(settings: Settings) -> str:
    if settings.openai_api_key is not None:
        return settings.openai_api_key.get_secret_value()
    if OPENAI_HOST in settings.openai_base_url:
        raise ScoringAbort(
            "No API key for the OpenAI endpoint: set ANALYTICS_OPENAI_API_KEY (environment) or "
            "openai_api_key in .streamlit/secrets.toml, or point ANALYTICS_OPENAI_BASE_URL at a "
            "local server (Ollama, vLLM, llama.cpp), or use the offline backend.")
    return "not-needed"  # local servers ignore the key but the SDK wants one


def make_client(settings: Settings, asynchronous: bool = True):
    import openai

    cls = openai.AsyncOpenAI if asynchronous else openai.OpenAI
    return cls(api_key=_api_key(settings), base_url=settings.openai_base_url,
               timeout=settings.openai_timeout_s, max_retries=settings.openai_max_retries)


def abort_for(exc: Exception, settings: Settings) -> ScoringAbort | None:
    """The run-stopping message for an SDK error, or None when only this call failed."""
    import openai

    where = settings.openai_base_url
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return ScoringAbort(
            f"The endpoint {where} refused the API key (HTTP {exc.status_code}). Check "
            "ANALYTICS_OPENAI_API_KEY (environment or .streamlit/secrets.toml) and its access "
            "to the model. Nothing more was sent; documents scored so far are kept.")
    if isinstance(exc, openai.NotFoundError):
        return ScoringAbort(
            f"The endpoint {where} does not know model '{settings.openai_model}' or the path "
            "(HTTP 404). Check ANALYTICS_OPENAI_MODEL and ANALYTICS_OPENAI_BASE_URL (it usually "
            "ends in /v1).")
    if isinstance(exc, openai.APIConnectionError) and not isinstance(exc, openai.APITimeoutError):
        return ScoringAbort(
            f"Cannot reach the endpoint {where} ({exc.__cause__ or exc}). Check "
            "ANALYTICS_OPENAI_BASE_URL and that the server is running. Documents scored so far "
            "are kept; re-run to continue.")
    return None


def _is_transient(exc: Exception) -> bool:
    import openai

    return isinstance(exc, openai.RateLimitError | openai.InternalServerError |
                      openai.APITimeoutError | openai.ConflictError) or (
        isinstance(exc, openai.APIStatusError) and exc.status_code in (408, 409, 429, 502, 503))


class EndpointEmbedder:
    """Embeddings from the endpoint's /v1/embeddings (synchronous, batched)."""

    batch_size = 256

    def __init__(self, settings: Settings):
        self.settings = settings
        self.model = settings.openai_embedding_model
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
                raise abort_for(exc, self.settings) or ScoringAbort(
                    f"The embeddings request to {self.settings.openai_base_url} failed: "
                    f"{type(exc).__name__}: {exc}. Re-run later, or unset "
                    "ANALYTICS_OPENAI_EMBEDDING_MODEL to use the offline MiniLM.") from exc
            self.tokens += response.usage.prompt_tokens if response.usage else 0
            rows.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
        vectors = np.asarray(rows, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)

    def close(self) -> None:
        self._client.close()


# --- the backend --------------------------------------------------------------------------

@dataclass
class _Call:
    content: str | None
    tokens_in: int
    tokens_out: int
    refusal: str | None = None


class OpenAIBackend:
    name = "openai"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.model = settings.openai_model
        self.label = f"LLM {self.model} via {settings.openai_base_url} (RAG, zero-shot)"
        self.concurrency = settings.openai_concurrency
        self.calls = 0  # chat completions sent (repairs included) by this backend object
        self._client = None
        self._semaphore: asyncio.Semaphore | None = None
        self._limiter = RateLimiter(settings.openai_requests_per_minute,
                                    settings.openai_tokens_per_minute)
        self._query_vectors: dict[tuple[str, str], np.ndarray] = {}
        self._embedder = None
        self._abort: ScoringAbort | None = None  # once set, no further call is sent

    # --- configuration ------------------------------------------------------------------
    @property
    def embedding_name(self) -> str:
        return self.settings.openai_embedding_model or self.settings.embedding_model

    def config_hash(self, topic: Topic) -> str:
        """Prompt version hash; the cache key also covers temperature, seed and max tokens."""
        s = self.settings
        return stable_hash({
            "version": prompts.PROMPT_VERSION, "system": prompts.scoring_system_prompt(topic),
            "schema": prompts.scoring_response_format(topic), "model": self.model,
            "temperature": s.openai_temperature, "seed": s.openai_seed,
            "max_tokens": s.openai_max_tokens, "top_k": s.retrieval_top_k,
            "chunk": [s.chunk_size, s.chunk_overlap], "embedding": self.embedding_name,
            "max_comments": s.max_comments_per_document,
        })

    def price_known(self) -> bool:
        return price_of(self.settings, self.model) is not None

    # --- retrieval ----------------------------------------------------------------------
    def _get_embedder(self):
        if self._embedder is None:
            self._embedder = (EndpointEmbedder(self.settings)
                              if self.settings.openai_embedding_model else get_embedder())
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
        k = self.settings.retrieval_top_k
        if len(passages) <= k:
            return [p.idx for p in passages]
        chosen = {passages[i].idx for q in queries for i, _ in top_k(q, vectors, k)}
        return sorted(chosen)

    def _passages(self, doc: PreparedDocument) -> list[Passage]:
        wanted = doc.meta.get("retrieved")
        if wanted is None:
            return doc.passages[: self.settings.retrieval_top_k * 3]
        wanted = set(wanted)
        return [p for p in doc.passages if p.idx in wanted]

    def messages(self, doc: PreparedDocument, topic: Topic) -> list[dict[str, str]]:
        return prompts.scoring_messages(topic, doc.title, self._passages(doc))

    def estimate(self, doc: PreparedDocument, topic: Topic) -> tuple[int, float]:
        """Estimated prompt tokens and the worst-case cost of one call (full max tokens)."""
        tokens_in = messages_tokens(self.messages(doc, topic))
        return tokens_in, cost_usd(self.settings, self.model, tokens_in,
                                   self.settings.openai_max_tokens)

    # --- calls --------------------------------------------------------------------------
    @asynccontextmanager
    async def connection(self) -> AsyncIterator[OpenAIBackend]:
        """Open the async client (and the concurrency limit) for one event loop."""
        self._client = make_client(self.settings)
        self._semaphore = asyncio.Semaphore(self.concurrency)
        self._limiter._lock = None  # asyncio primitives belong to one event loop
        self._abort = None
        try:
            yield self
        finally:
            client, self._client = self._client, None
            await client.close()

    async def _complete(self, messages: list[dict[str, str]], response_format: dict,
                        estimated_in: int) -> _Call:
        s = self.settings
        await self._limiter.acquire(estimated_in + s.openai_max_tokens)
        if self._abort is not None:  # another call hit a run-stopping error meanwhile
            raise self._abort
        self.calls += 1
        extra = {"seed": s.openai_seed} if s.openai_seed is not None else {}
        response = await self._client.chat.completions.create(
            model=self.model, messages=messages, temperature=s.openai_temperature,
            max_tokens=s.openai_max_tokens, response_format=response_format, **extra)
        usage = response.usage
        tokens_in = usage.prompt_tokens if usage else estimated_in
        tokens_out = usage.completion_tokens if usage else 0
        self._limiter.correct(estimated_in + s.openai_max_tokens, tokens_in + tokens_out)
        message = response.choices[0].message if response.choices else None
        return _Call(message.content if message else None, tokens_in, tokens_out,
                     getattr(message, "refusal", None) if message else None)

    async def complete_json(self, messages: list[dict[str, str]], response_format: dict,
                            parse, budget: Budget | None = None):
        """One structured call with one repair; returns (parsed | None, error, usage dict).

        Raises ScoringAbort for run-stopping errors; transient errors come back as
        ``error`` with ``usage['transient'] = True``.
        """
        usage = {"tokens_in": 0, "tokens_out": 0, "cost": 0.0, "transient": False, "calls": 0}
        error = "no call made"
        for attempt in range(2):
            estimated_in = messages_tokens(messages)
            reserve = cost_usd(self.settings, self.model, estimated_in,
                               self.settings.openai_max_tokens)
            if budget is not None and not budget.reserve(reserve):
                usage["transient"] = True
                return None, "run budget reached before this call", usage
            actual = 0.0
            try:
                call = await self._complete(messages, response_format, estimated_in)
            except Exception as exc:
                if budget is not None:
                    budget.settle(reserve, 0.0)
                stop = exc if isinstance(exc, ScoringAbort) else abort_for(exc, self.settings)
                if stop is not None:
                    self._abort = stop
                    raise stop from exc
                usage["transient"] = _is_transient(exc)
                return None, _describe(exc), usage
            actual = cost_usd(self.settings, self.model, call.tokens_in, call.tokens_out)
            if budget is not None:
                budget.settle(reserve, actual)
            usage["calls"] += 1
            usage["tokens_in"] += call.tokens_in
            usage["tokens_out"] += call.tokens_out
            usage["cost"] += actual
            if call.refusal:
                return None, f"the model refused: {call.refusal[:300]}", usage
            try:
                return parse(call.content), None, usage
            except ValueError as exc:  # pydantic's ValidationError is a ValueError
                error = _short_error(exc)
                if attempt == 0:
                    messages = [*messages, {"role": "assistant", "content": call.content or ""},
                                prompts.repair_message(error)]
        return None, f"invalid answer after one repair request: {error}", usage

    async def ascore(self, doc: PreparedDocument, topic: Topic,
                     budget: Budget | None = None) -> ScoringOutcome:
        """Score one document; never raises except ScoringAbort (and cancellation)."""
        if self._client is None:
            raise RuntimeError("use 'async with backend.connection()' before ascore")
        passages = self._passages(doc)
        ids = {p.idx for p in passages}
        started = time.perf_counter()
        async with self._semaphore:
            result, error, usage = await self.complete_json(
                prompts.scoring_messages(topic, doc.title, passages),
                prompts.scoring_response_format(topic),
                lambda content: prompts.parse_scores(content, topic, ids), budget)
        return ScoringOutcome(
            result=result, error=error, tokens_in=usage["tokens_in"],
            tokens_out=usage["tokens_out"],
            cost_usd=usage["cost"] + doc.meta.get("embedding_cost", 0.0),
            latency_s=time.perf_counter() - started, temperature=self.settings.openai_temperature,
            seed=self.settings.openai_seed, transient=usage["transient"], calls=usage["calls"])

    def score_batch(self, documents: list[PreparedDocument], topic: Topic) -> list[ScoringOutcome]:
        """The synchronous protocol method: prepare, then score concurrently."""
        self.prepare(documents, topic)

        async def run() -> list[ScoringOutcome]:
            async with self.connection():
                return list(await asyncio.gather(*(self.ascore(d, topic) for d in documents)))

        return asyncio.run(run())


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    label = f"HTTP {status}" if status else type(exc).__name__
    return f"endpoint error after retries ({label}): {str(exc)[:300]}"


def _short_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "(top level)"
        more = f" (+{len(errors()) - 1} more)" if len(errors()) > 1 else ""
        return f"{where}: {first.get('msg')}{more}"
    return str(exc)[:300]

