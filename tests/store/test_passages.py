"""Passage retrieval: pgvector on PostgreSQL (SQL nearest-neighbour search over an HNSW
index), brute force on SQLite; both return the same passages as an exact cosine search
computed here from the stored bytes.

Run on both stores:
    nice -n 19 .venv/bin/python -m pytest -q tests/store/test_passages.py
    source .ci/postgres.sh && pg_start && ANALYTICS_TEST_DATABASE=postgresql \
        nice -n 19 .venv/bin/python -m pytest -q tests/store/test_passages.py; pg_stop
(.ci/pgvector.sh installs the extension into the local server first.)
"""

from __future__ import annotations

import datetime as dt
import os

import numpy as np
import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from analytics.cli import app
from analytics.llm.embeddings import MINILM_DIMENSIONS
from analytics.store import Chunk, Document, DocumentTopic, get_engine, passages, session_scope
from analytics.store.engine import dispose_engine
from analytics.store.migrate import alembic_config, current_revision, head_revision
from analytics.summarize.ask import load_index, nearest_passages
from tests.support import databases
from tests.support.databases import requires_postgres, requires_sqlite

TOPIC = "nato"


@pytest.fixture
def corpus(scored_corpus):
    """This test's copy of a small scored demo corpus (90 documents, ~a year)."""
    return scored_corpus(90, seed=5)


def exact_top_k(url: str, query: np.ndarray, k: int, sources=None, start=None, end=None):
    """The reference: exact cosine over every stored MiniLM vector of the view (numpy)."""
    query_rows = (select(Chunk.document_id, Chunk.idx, Chunk.embedding, Document.source,
                         Document.published_at)
                  .join(Document, Document.id == Chunk.document_id)
                  .join(DocumentTopic, DocumentTopic.document_id == Document.id)
                  .where(DocumentTopic.topic == TOPIC, Chunk.embedding.is_not(None)))
    with session_scope(url) as session:
        rows = [r for r in session.execute(query_rows)
                if len(r.embedding) == MINILM_DIMENSIONS * 4
                and (not sources or r.source in sources)
                and (start is None or r.published_at.date() >= start)
                and (end is None or r.published_at.date() <= end)]
    vectors = np.stack([np.frombuffer(r.embedding, np.float32) for r in rows])
    similarity = vectors @ query
    order = np.argsort(-similarity)[:k]
    every = {(r.document_id, r.idx): float(s) for r, s in zip(rows, similarity, strict=True)}
    return [(rows[i].document_id, rows[i].idx) for i in order], similarity[order], every


def queries(url: str, count: int = 6) -> list[np.ndarray]:
    """Query vectors: stored passages' own vectors and random unit vectors."""
    with session_scope(url) as session:
        blobs = session.scalars(select(Chunk.embedding).where(Chunk.embedding.is_not(None))
                                .order_by(Chunk.id).limit(count // 2)).all()
    rng = np.random.default_rng(7)
    randoms = rng.normal(size=(count - len(blobs), MINILM_DIMENSIONS)).astype(np.float32)
    randoms /= np.linalg.norm(randoms, axis=1, keepdims=True)
    return [np.frombuffer(b, np.float32) for b in blobs] + list(randoms)


def test_the_store_and_the_embedder_agree_on_the_dimensions():
    assert passages.DIMENSIONS == MINILM_DIMENSIONS


@pytest.mark.parametrize("view", [
    {},
    {"sources": ("news",)},
    {"sources": ("reddit", "youtube"), "start": "month-3", "end": "month-8"},
])
def test_retrieval_returns_the_exact_top_k_on_either_store(corpus, view):
    url = corpus.database_url
    with session_scope(url) as session:
        first = session.scalar(select(Document.published_at).order_by(Document.published_at))
    window = {key: (first + dt.timedelta(days=30 * int(value.split("-")[1]))).date()
              for key, value in view.items() if key in ("start", "end")}
    view = {**view, **window}
    index = load_index(TOPIC, database_url=url, **view)
    assert index.path == ("pgvector" if databases.POSTGRES else "brute force")
    for k in (1, 5, 20):
        for query in queries(url):
            expected, similarity, every = exact_top_k(url, query, k, **view)
            hits = nearest_passages(index, query, k)
            got = list(zip(hits["document_id"].astype(int), hits["idx"].astype(int),
                           strict=True))
            assert len(got) == len(expected) == min(k, index.size)
            # the same similarities, best first (those of passages computed here exactly)
            assert np.allclose(hits["similarity"], similarity, atol=1.5e-3)
            # a true top k: distinct passages, none less similar than the exact k-th (equal
            # ones may swap places: the demo corpus has passages with identical text)
            assert len(set(got)) == len(got)
            assert all(every[p] >= similarity[-1] - 1e-5 for p in got)
            assert np.allclose([every[p] for p in got], similarity, atol=1e-5)
            docs = {int(i) for i in hits["document_id"]}
            with session_scope(url) as session:
                rows = session.execute(select(Document.source, Document.published_at)
                                       .where(Document.id.in_(docs))).all()
            assert all(not view.get("sources") or r.source in view["sources"] for r in rows)
            assert all(view.get("start") is None or r.published_at.date() >= view["start"]
                       for r in rows)


@requires_sqlite
def test_sqlite_uses_brute_force_and_status_says_so(corpus):
    state = passages.vector_search(get_engine(corpus.database_url))
    assert not state.enabled and state.path == "brute force" and "SQLite" in state.note
    result = CliRunner().invoke(app, ["status", "--topic", TOPIC])
    assert result.exit_code == 0, result.output
    assert "Passage retrieval: brute-force cosine" in result.output


def _vector_counts(url: str) -> tuple[int, int, int]:
    with session_scope(url) as session:
        return session.execute(text(
            f"SELECT count(*) FILTER (WHERE octet_length(embedding) = {MINILM_DIMENSIONS * 4}),"
            f" count({passages.COLUMN}), count(*) FROM chunks")).one()


@requires_postgres
def test_postgres_searches_with_pgvector_and_its_index(corpus):
    url = corpus.database_url
    state = passages.vector_search(get_engine(url))
    assert state.enabled and state.path == "pgvector" and state.version
    # written by the scoring pipeline: every MiniLM passage got its vector on insert
    minilm, with_vector, total = _vector_counts(url)
    assert minilm == with_vector > 90 and total >= minilm
    with session_scope(url) as session:
        row = session.execute(text(
            f"SELECT embedding, {passages.COLUMN}::text AS v FROM chunks "
            f"WHERE {passages.COLUMN} IS NOT NULL ORDER BY id LIMIT 1")).one()
    stored = np.array(row.v.strip("[]").split(","), dtype=np.float32)
    assert np.array_equal(stored, np.frombuffer(row.embedding, np.float32))
    # the plan of the retrieval query can use the HNSW index for its ORDER BY … LIMIT (on so
    # few rows a sort is cheaper, so sorting is switched off to see the index serve it)
    statement = passages.nearest_query(queries(url, 2)[0], 5, TOPIC).compile(
        dialect=get_engine(url).dialect)
    params = {key: passages.vector_text(value) if isinstance(value, np.ndarray) else value
              for key, value in statement.params.items()}
    with get_engine(url).connect() as connection:
        connection.exec_driver_sql("ANALYZE")
        connection.exec_driver_sql("SET enable_sort = off")
        plan = "\n".join(r[0] for r in connection.exec_driver_sql(
            f"EXPLAIN {statement}", params))
    assert f"Index Scan using {passages.INDEX} on chunks" in plan, plan
    assert "Order By: (embedding_vector <=>" in plan, plan
    result = CliRunner().invoke(app, ["status", "--topic", TOPIC])
    assert result.exit_code == 0, result.output
    assert f"Passage retrieval: pgvector {state.version}" in result.output


@requires_postgres
def test_migration_0007_backfills_existing_passages(corpus):
    url = corpus.database_url
    minilm, with_vector, _ = _vector_counts(url)
    assert minilm == with_vector > 0
    with get_engine(url).connect() as connection:  # back to 0006: no vector column
        command.downgrade(alembic_config(connection), "0006")
        connection.commit()
        columns = connection.execute(text(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'chunks'"
        )).scalars().all()
    assert passages.COLUMN not in columns
    dispose_engine(url)
    assert current_revision(get_engine(url)) == head_revision() == "0007"  # reopened: up
    assert _vector_counts(url)[:2] == (minilm, minilm)  # every existing passage backfilled
    assert passages.vector_search(get_engine(url)).enabled
    index = load_index(TOPIC, database_url=url)
    query = queries(url, 1)[0]
    _, similarity, every = exact_top_k(url, query, 3)
    hits = nearest_passages(index, query, 3)
    assert index.path == "pgvector"
    got = zip(hits["document_id"].astype(int), hits["idx"].astype(int), strict=True)
    assert np.allclose([every[p] for p in got], similarity, atol=1e-5)


@requires_postgres
def test_postgres_without_pgvector_rights_keeps_brute_force():
    """A user that may not create the extension (pgvector is not a trusted extension): the
    database opens, retrieval is brute force, and status says why."""
    name = f"novector_{os.getpid()}"
    role = f"{name}_owner"
    databases._execute(f"CREATE ROLE {role} LOGIN PASSWORD 'pw-{name}'",
                       f'CREATE DATABASE "{name}" OWNER {role}')
    target_url = make_url(databases.url_of(name)).set(
        username=role, password=f"pw-{name}").render_as_string(hide_password=False)
    try:
        engine = get_engine(target_url)  # migrations run; the extension is refused
        state = passages.vector_search(engine)
        assert not state.enabled and "could not enable it" in state.note
        with engine.connect() as connection:
            assert connection.execute(text(
                "SELECT count(*) FROM pg_extension WHERE extname = 'vector'")).scalar() == 0
            assert current_revision(engine) == head_revision()
        index = load_index(TOPIC, database_url=target_url)
        assert index.path == "brute force" and index.size == 0
    finally:
        dispose_engine(target_url)
        databases._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                           f"DROP ROLE IF EXISTS {role}")
