"""Passage search on PostgreSQL: pgvector (HNSW, SQL) vs brute force (the baseline: the
view's vectors loaded into the process and searched with NumPy), in one run on one database.

A synthetic corpus of ``--passages`` 384-d unit vectors (clustered like sentence embeddings:
``--clusters`` centres plus noise) in ``--passages / 5`` documents of one topic, three sources
and a year, written through the store's one write path (``passages.insert_chunks``, which
fills the vector column); the HNSW index is then built once, as migration 0007 does after
its backfill. Queries are noisy copies of stored vectors. Reported: the index build time;
for the whole topic and for a filtered view (one source, three months): brute force's load
time (what the dashboard caches) and per-query time, pgvector's per-query median and p95,
and pgvector's recall@k against the exact (brute force) top k. Last line: one JSON object.

Needs a PostgreSQL server with pgvector: ANALYTICS_TEST_POSTGRES_URL (a superuser URL,
e.g. ``bash .ci/pgvector.sh; source .ci/postgres.sh && pg_start``).

Run: .venv/bin/python benchmarks/passage_search.py [--passages 100000] [--queries 30] [--k 8]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from analytics.store import Document, DocumentTopic, get_engine, passages, session_scope
from analytics.store.engine import dispose_engines
from analytics.summarize.ask import load_index, nearest_passages

TOPIC = "nato"
START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def admin(server_url: str, *statements: str) -> None:
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with engine.connect() as connection:
        for statement in statements:
            connection.execute(text(statement))
    engine.dispose()


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def build(url: str, count: int, clusters: int, rng: np.random.Generator) -> float:
    documents = max(1, count // 5)
    centres = unit(rng.normal(size=(clusters, passages.DIMENSIONS)))
    with session_scope(url) as session:
        session.execute(text(f"DROP INDEX IF EXISTS {passages.INDEX}"))
        session.execute(insert(Document), [
            {"id": i + 1, "source": ("news", "reddit", "youtube")[i % 3], "provider": "bench",
             "external_id": f"b{i}", "title": f"Document {i}", "text": "",
             "published_at": START + dt.timedelta(hours=(i * 8760) // documents),
             "content_hash": f"{i:064x}", "meta": {}} for i in range(documents)])
        session.execute(insert(DocumentTopic), [
            {"document_id": i + 1, "topic": TOPIC} for i in range(documents)])
    for first in range(0, count, 20_000):
        size = min(20_000, count - first)
        vectors = unit(centres[rng.integers(0, clusters, size)]
                       + 0.6 * rng.normal(size=(size, passages.DIMENSIONS))
                       / np.sqrt(passages.DIMENSIONS))
        with session_scope(url) as session:
            passages.insert_chunks(session, [
                {"document_id": (first + j) // 5 + 1, "idx": (first + j) % 5, "kind": "text",
                 "text": f"passage {first + j}", "embedding": vectors[j].tobytes()}
                for j in range(size)])
    began = time.perf_counter()
    with get_engine(url).connect() as connection:
        connection.exec_driver_sql("SET maintenance_work_mem = '512MB'")
        connection.exec_driver_sql(
            f"CREATE INDEX {passages.INDEX} ON chunks USING hnsw "
            f"({passages.COLUMN} vector_cosine_ops)")
        connection.exec_driver_sql("ANALYZE")
        connection.commit()
    return time.perf_counter() - began


def measure(url: str, view: dict, queries: list[np.ndarray], k: int) -> dict:
    engine = get_engine(url)
    pgvector_state = passages.vector_search(engine)
    assert pgvector_state.enabled, pgvector_state.note
    passages._states[engine] = passages.VectorSearch(False, "brute force", "baseline")
    began = time.perf_counter()
    brute = load_index(TOPIC, database_url=url, **view)
    load_s = time.perf_counter() - began
    passages._states[engine] = pgvector_state
    vector = load_index(TOPIC, database_url=url, **view)
    assert brute.path == "brute force" and vector.path == "pgvector"
    brute_times, vector_times, recalls = [], [], []
    for query in queries:
        began = time.perf_counter()
        exact = nearest_passages(brute, query, k)
        brute_times.append(time.perf_counter() - began)
        began = time.perf_counter()
        found = nearest_passages(vector, query, k)
        vector_times.append(time.perf_counter() - began)
        truth = set(zip(exact["document_id"], exact["idx"], strict=True))
        recalls.append(len(truth & set(zip(found["document_id"], found["idx"], strict=True)))
                       / max(1, len(truth)))
    return {
        "passages": brute.size,
        "brute_force_load_s": round(load_s, 3),
        "brute_force_query_ms_median": round(1000 * statistics.median(brute_times), 2),
        "pgvector_query_ms_median": round(1000 * statistics.median(vector_times), 2),
        "pgvector_query_ms_p95": round(1000 * float(np.percentile(vector_times, 95)), 2),
        "pgvector_recall_at_k": round(float(np.mean(recalls)), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--k", type=int, default=8)
    args = parser.parse_args()
    server = os.environ.get("ANALYTICS_TEST_POSTGRES_URL")
    if not server:
        sys.exit("Set ANALYTICS_TEST_POSTGRES_URL (source .ci/postgres.sh && pg_start)")
    name = f"bench_passages_{os.getpid()}"
    admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    rng = np.random.default_rng(11)
    try:
        began = time.perf_counter()
        index_build_s = build(url, args.passages, args.clusters, rng)
        build_s = time.perf_counter() - began
        with session_scope(url) as session:
            stored = session.execute(text(
                f"SELECT embedding FROM chunks ORDER BY random() LIMIT {args.queries}")).scalars()
            queries = list(unit(np.stack([np.frombuffer(b, np.float32) for b in stored])
                                + 0.3 * rng.normal(size=(args.queries, passages.DIMENSIONS))
                                / np.sqrt(passages.DIMENSIONS)))
        whole = measure(url, {}, queries, args.k)
        filtered = measure(url, {"sources": ("news",), "start": dt.date(2025, 3, 1),
                                 "end": dt.date(2025, 5, 31)}, queries, args.k)
        for label, figures in (("whole topic", whole), ("news, Mar-May", filtered)):
            print(f"{label:>14}: {figures}")
        print(json.dumps({
            "benchmark": "passage_search", "baseline": "brute force (NumPy, vectors loaded)",
            "passages": args.passages, "k": args.k, "queries": args.queries,
            "corpus_build_s": round(build_s, 1), "hnsw_index_build_s": round(index_build_s, 1),
            "pgvector": passages.vector_search(get_engine(url)).version,
            "whole_topic": whole, "filtered_view": filtered,
        }))
    finally:
        dispose_engines()
        admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
