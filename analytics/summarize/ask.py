"""'Ask the corpus': retrieve the passages most relevant to a question, answer with citations.

Passages are the ``chunks`` rows whose MiniLM embeddings the offline scorer (and the
openai backend, when it retrieves with MiniLM) stored. The question is embedded with the
same model and the nearest passages are returned with their documents. The offline backend
stops there (the passages are the answer); the openai backend asks the LLM to answer from
those passages only, citing ``[doc N]``; cited ids outside the retrieved set are dropped.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import select

from analytics.core.settings import Settings, get_settings
from analytics.core.topics import Topic
from analytics.llm.client import ChatClient
from analytics.llm.embeddings import MINILM_DIMENSIONS, get_embedder, top_k
from analytics.llm.prompting import response_format, strip_fences
from analytics.store import Chunk, Document, session_scope
from analytics.summarize import prompts

OFFLINE_LABEL = "Offline backend: the retrieved passages are the answer (no LLM)."


@dataclass
class ChunkIndex:
    vectors: np.ndarray  # (n, 384), normalised
    passages: pd.DataFrame  # document_id, idx, kind, text, title, source, published_at


@dataclass
class CorpusAnswer:
    question: str
    passages: pd.DataFrame  # the retrieved passages, best first, with "similarity"
    answer: str | None
    cited_document_ids: list[int] = field(default_factory=list)
    method: str = "retrieval"
    label: str = OFFLINE_LABEL
    cost_usd: float = 0.0


def load_index(topic: str, sources: tuple[str, ...] | None = None, start: dt.date | None = None,
               end: dt.date | None = None, database_url: str | None = None) -> ChunkIndex:
    """All embedded passages of the topic's documents in the window (one query)."""
    query = (
        select(Chunk.document_id, Chunk.idx, Chunk.kind, Chunk.text, Chunk.embedding,
               Document.title, Document.source, Document.published_at)
        .join(Document, Document.id == Chunk.document_id)
        .where(Document.in_topic(topic), Chunk.embedding.is_not(None))
        .order_by(Chunk.document_id, Chunk.idx)
    )
    if sources:
        query = query.where(Document.source.in_(list(sources)))
    if start is not None:
        query = query.where(Document.published_at >= dt.datetime.combine(start, dt.time(), dt.UTC))
    if end is not None:
        query = query.where(Document.published_at < dt.datetime.combine(
            end + dt.timedelta(days=1), dt.time(), dt.UTC))
    with session_scope(database_url) as session:
        rows = session.execute(query).all()
    size = MINILM_DIMENSIONS * 4
    rows = [r for r in rows if len(r.embedding) == size]  # MiniLM vectors only
    vectors = (np.frombuffer(b"".join(r.embedding for r in rows), dtype=np.float32)
               .reshape(len(rows), MINILM_DIMENSIONS) if rows
               else np.zeros((0, MINILM_DIMENSIONS), np.float32))
    passages = pd.DataFrame(
        [(r.document_id, r.idx, r.kind, r.text, r.title, r.source, r.published_at) for r in rows],
        columns=["document_id", "idx", "kind", "text", "title", "source", "published_at"])
    return ChunkIndex(vectors, passages)


def search(index: ChunkIndex, question: str, k: int = 8) -> pd.DataFrame:
    if not question.strip() or len(index.vectors) == 0:
        return index.passages.head(0).assign(similarity=pd.Series(dtype=float))
    query = get_embedder().encode([question.strip()])[0]
    hits = top_k(query, index.vectors, k)
    rows = index.passages.iloc[[i for i, _ in hits]].copy()
    rows["similarity"] = [round(s, 3) for _, s in hits]
    return rows.reset_index(drop=True)


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
