"""'Ask the corpus': retrieve the passages most relevant to a question, answer with citations.

Passages are the ``chunks`` rows whose MiniLM embeddings the offline scorer (and the
openai backend, when it retrieves with MiniLM) stored. The question is embedded with the
same model and the nearest passages are returned with their documents: on PostgreSQL with
pgvector by one SQL query (HNSW index, cosine distance, the view's filters in SQL), else by
brute-force cosine over the view's vectors in the process (``nearest_passages`` decides).
The offline backend stops there (the passages are the answer); the openai backend asks the
LLM to answer from those passages only, citing ``[doc N]``; cited ids outside the retrieved
set are dropped.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.core.settings import Settings, get_settings
from analytics.core.topics import Topic
from analytics.llm.client import ChatClient
from analytics.llm.embeddings import MINILM_DIMENSIONS, get_embedder, top_k
from analytics.llm.prompting import response_format, strip_fences
from analytics.store import Chunk, passages, session_scope
from analytics.summarize import prompts

OFFLINE_LABEL = "Offline backend: the retrieved passages are the answer (no LLM)."


@dataclass
class ChunkIndex:
    """The embedded passages of a view (topic, sources, window) and how they are searched.

    ``path`` "pgvector" (PostgreSQL with the extension): nothing is loaded, each search is
    one SQL nearest-neighbour query with the view's filters. ``path`` "brute force" (SQLite;
    PostgreSQL without pgvector): the MiniLM vectors are loaded once and searched in the
    process."""

    topic: str
    sources: tuple[str, ...] | None
    start: dt.date | None
    end: dt.date | None
    database_url: str | None
    path: str  # "pgvector" | "brute force"
    size: int  # embedded passages in the view
    vectors: np.ndarray | None = None  # brute force: (n, 384), normalised
    passages: pd.DataFrame | None = None  # brute force: document_id, idx, kind, text, ...


@dataclass
class CorpusAnswer:
    question: str
    passages: pd.DataFrame  # the retrieved passages, best first, with "similarity"
    answer: str | None
    cited_document_ids: list[int] = field(default_factory=list)
    method: str = "retrieval"
    label: str = OFFLINE_LABEL
    cost_usd: float = 0.0


PASSAGE_FIELDS = ["document_id", "idx", "kind", "text", "title", "source", "published_at"]


def load_index(topic: str, sources: tuple[str, ...] | None = None, start: dt.date | None = None,
               end: dt.date | None = None, database_url: str | None = None) -> ChunkIndex:
    """The view's passages, ready to search: with pgvector only their count, otherwise all
    their vectors (one query either way)."""
    sources = tuple(sources) if sources else None
    with session_scope(database_url) as session:
        if passages.vector_search(session).enabled:
            size = passages.count_passages(session, topic, sources, start, end)
            return ChunkIndex(topic, sources, start, end, database_url, "pgvector", size)
        rows = session.execute(
            passages.passage_query((*passages.PASSAGE_COLUMNS, Chunk.embedding), topic,
                                   sources, start, end)
            .order_by(Chunk.document_id, Chunk.idx)).all()
    size = MINILM_DIMENSIONS * 4
    rows = [r for r in rows if len(r.embedding) == size]  # MiniLM vectors only
    vectors = (np.frombuffer(b"".join(r.embedding for r in rows), dtype=np.float32)
               .reshape(len(rows), MINILM_DIMENSIONS) if rows
               else np.zeros((0, MINILM_DIMENSIONS), np.float32))
    frame = pd.DataFrame([tuple(r)[:len(PASSAGE_FIELDS)] for r in rows], columns=PASSAGE_FIELDS)
    return ChunkIndex(topic, sources, start, end, database_url, "brute force", len(rows),
                      vectors, frame)


def nearest_passages(index: ChunkIndex, query: np.ndarray, k: int = 8) -> pd.DataFrame:
    """The k passages of the index nearest to a normalised query vector, best first, with
    their cosine ``similarity``: in SQL with pgvector, else brute force over the loaded
    vectors. The one place that chooses; callers never branch."""
    if index.path == "pgvector":
        with session_scope(index.database_url) as session:
            rows = passages.nearest(session, query, k, index.topic, index.sources,
                                    index.start, index.end)
        hits = pd.DataFrame([tuple(r) for r in rows], columns=[*PASSAGE_FIELDS, "similarity"])
    else:
        found = top_k(query, index.vectors, k)
        hits = index.passages.iloc[[i for i, _ in found]].copy()
        hits["similarity"] = [s for _, s in found]
    hits["similarity"] = hits["similarity"].astype(float).round(3)
    return hits.reset_index(drop=True)


def search(index: ChunkIndex, question: str, k: int = 8) -> pd.DataFrame:
    if not question.strip() or index.size == 0:
        return pd.DataFrame(columns=[*PASSAGE_FIELDS, "similarity"])
    return nearest_passages(index, get_embedder().encode([question.strip()])[0], k)


def passage_lines(hits: pd.DataFrame) -> list[str]:
    return [f"[doc {int(r.document_id)}] ({r.source}, {pd.Timestamp(r.published_at):%Y-%m-%d}, "
            f"passage {int(r.idx)}, {r.kind}) {r.text}" for r in hits.itertuples()]


def ask_corpus(topic: Topic, question: str, *, settings: Settings | None = None,
               backend_name: str | None = None, index: ChunkIndex | None = None, k: int = 8,
               database_url: str | None = None) -> CorpusAnswer:
    """Retrieve passages for the question; with the openai backend also answer from them."""
    settings = settings or get_settings()
    index = index if index is not None else load_index(
        topic.name, database_url=database_url or settings.database_url)
    hits = search(index, question, k)
    if (backend_name or settings.score.backend) != "openai" or hits.empty:
        return CorpusAnswer(question, hits, None)
    return asyncio.run(_llm_answer(topic, question, hits, settings))


async def _llm_answer(topic: Topic, question: str, hits: pd.DataFrame,
                      settings: Settings) -> CorpusAnswer:
    client = ChatClient(settings)
    allowed = {int(i) for i in hits["document_id"]}

    def parse(content: str | None) -> prompts.CorpusAnswer:
        answer = prompts.CorpusAnswer.model_validate_json(strip_fences(content or ""))
        answer.cited_document_ids = sorted(set(answer.cited_document_ids) & allowed)
        return answer

    async with client.connection():
        answer, error, usage = await client.complete_json(
            prompts.question_messages(topic, question, passage_lines(hits)),
            response_format("corpus_answer", prompts.CorpusAnswer), parse)
    label = f"Answer by {settings.llm.model} from the retrieved passages only."
    if answer is None:
        return CorpusAnswer(question, hits, None, [], "retrieval",
                            f"The LLM answer failed ({error}); the passages are shown instead.",
                            usage.cost)
    return CorpusAnswer(question, hits, answer.answer, answer.cited_document_ids, "llm", label,
                        usage.cost)
