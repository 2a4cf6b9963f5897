"""Build a large scored SQLite corpus for load benchmarks by repeating a scored one.

Scoring 100k documents offline takes hours on two cores, and page-load time depends on the
number of rows, not on their wording; so each copy k of a scored corpus (e.g. the 3,000-
document demo) gets new ids and external ids, its dates shifted by k hours (the same year,
so windows stay meaningful) and a copy of every analysis. Comments and passages are not
copied (copies show 0 comments); the full-text index follows through the triggers.

Usage: python benchmarks/big_corpus.py SOURCE.db TARGET.db [--copies 34]
Last line: JSON {"documents": N, "analyses": M, "seconds": S}.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time


def columns(connection: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in connection.execute(f"PRAGMA table_info({table})")]


def repeat(source: str, target: str, copies: int) -> dict:
    started = time.perf_counter()
    with sqlite3.connect(source) as original, sqlite3.connect(target) as copy:
        original.backup(copy)
    connection = sqlite3.connect(target)
    step = connection.execute("SELECT max(id) FROM documents").fetchone()[0] + 1
    step_a = connection.execute("SELECT max(id) FROM analyses").fetchone()[0] + 1
    doc_cols = [c for c in columns(connection, "documents") if c != "id"]
    ana_cols = [c for c in columns(connection, "analyses") if c not in ("id", "document_id")]
    link_cols = [c for c in columns(connection, "document_topics") if c != "document_id"]
    shifted = {"external_id": "external_id || '#' || :k",
               "published_at": "datetime(published_at, '+' || :k || ' hours')",
               "duplicate_of": "NULL", "run_id": "NULL"}
    select_doc = ", ".join(shifted.get(c, c) for c in doc_cols)
    with connection:
        for k in range(1, copies):
            connection.execute(
                f"INSERT INTO documents (id, {', '.join(doc_cols)}) SELECT id + :k * :step, "
                f"{select_doc} FROM documents WHERE id < :step AND duplicate_of IS NULL",
                {"k": k, "step": step})
            connection.execute(
                f"INSERT INTO document_topics (document_id, {', '.join(link_cols)}) "
                f"SELECT document_id + :k * :step, {', '.join(link_cols)} FROM document_topics "
                "WHERE document_id IN (SELECT id FROM documents WHERE id < :step AND "
                "duplicate_of IS NULL)", {"k": k, "step": step})
            connection.execute(
                f"INSERT INTO analyses (id, document_id, {', '.join(ana_cols)}) SELECT "
                f"id + :k * :step_a, document_id + :k * :step, {', '.join(ana_cols)} "
                "FROM analyses WHERE id < :step_a AND document_id IN (SELECT id FROM "
                "documents WHERE id < :step AND duplicate_of IS NULL)",
                {"k": k, "step": step, "step_a": step_a})
    connection.execute("ANALYZE")
    counts = {"documents": connection.execute("SELECT count(*) FROM documents").fetchone()[0],
              "analyses": connection.execute("SELECT count(*) FROM analyses").fetchone()[0]}
    connection.close()
    return {**counts, "seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("source")
    parser.add_argument("target")
    parser.add_argument("--copies", type=int, default=34)
    args = parser.parse_args()
    print(json.dumps(repeat(args.source, args.target, args.copies)))


if __name__ == "__main__":
    main()
