"""Passages (``chunks``) and their MiniLM vectors: pgvector on PostgreSQL when the server has
the extension, plain bytes everywhere.

Every passage keeps its embedding as float32 bytes (``chunks.embedding``, both stores). On
PostgreSQL with the ``vector`` extension, ``chunks.embedding_vector`` (``vector(384)``, an
HNSW index with cosine distance) holds the same MiniLM vectors, so that retrieval is one
``ORDER BY embedding_vector <=> :q LIMIT k`` query with the view's filters in SQL.
Elsewhere (SQLite; PostgreSQL without pgvector) retrieval stays brute force in the process.

- ``enable_vectors``: create the extension, the column and the index and backfill the
  column from the bytes; idempotent. Migration 0007 runs it, and so does every start-up on
  PostgreSQL while the column is missing (a server that gets pgvector later gains it then).
- ``insert_chunks``: the one place passages are written; fills the vector too.
- ``vector_search``: which retrieval path this database takes, and why (``status``).
- ``passage_query`` / ``nearest``: the passages in a view, and the SQL nearest-neighbour
  search over them.
"""

from __future__ import annotations

import datetime as dt
import logging
import weakref
from dataclasses import dataclass

import numpy as np
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    func,
    insert,
    inspect,
    literal_column,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.types import UserDefinedType

from analytics.store.models import Chunk, Document

log = logging.getLogger(__name__)

DIMENSIONS = 384  # all-MiniLM-L6-v2 (analytics.llm.embeddings.MINILM_DIMENSIONS; a test pins it)
COLUMN = "embedding_vector"
INDEX = "ix_chunks_embedding_hnsw"
EF_SEARCH = 100  # HNSW candidates per query (pgvector's default is 40); k is at most this
BACKFILL_BATCH = 2000


class Vector(UserDefinedType):
    """pgvector's ``vector(n)``, bound from a numpy array or float32 bytes as its text form."""

    cache_ok = True

    def __init__(self, dimensions: int = DIMENSIONS) -> None:
        self.dimensions = dimensions

    def get_col_spec(self, **_kw) -> str:
        return f"vector({self.dimensions})"

    def bind_processor(self, dialect):
        return lambda value: None if value is None else vector_text(value)


def vector_text(value: bytes | np.ndarray) -> str:
    """pgvector's text input (``[0.1,0.2,…]``) of a float32 vector, exactly (each float32 is
    written as its double's shortest repr, which reads back as the same float32)."""
    array = np.frombuffer(value, dtype=np.float32) if isinstance(value, bytes) else value
    return "[" + ",".join(map(repr, np.asarray(array, dtype=np.float32).tolist())) + "]"


# The chunks table as written on PostgreSQL with pgvector: the ORM model's columns plus the
# vector (the model itself has no such column: SQLite has none).
_chunks_with_vector = Table(
    "chunks", MetaData(),
    Column("id", Integer, primary_key=True),
    Column("document_id", Integer),
    Column("idx", Integer),
    Column("kind", String(16)),
    Column("text", Text),
    Column("embedding", LargeBinary),
    Column(COLUMN, Vector()),
)


# --- enabling ----------------------------------------------------------------------------------

def _has_column(connection: Connection) -> bool:
    return connection.execute(text(
        "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = 'chunks' AND column_name = :column"), {"column": COLUMN}).first() \
        is not None


def extension_available(connection: Connection) -> bool:
    return connection.execute(text(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")).first() is not None


def enable_vectors(connection: Connection) -> str:
    """Give ``chunks`` its pgvector column, backfilled, and the HNSW index, when this is
    PostgreSQL and the server has the extension. Returns the outcome: ``enabled`` (done now
    or before), ``sqlite``, ``unavailable`` (no pgvector on the server) or ``not-permitted``
    (this user may not create the extension). Idempotent; runs inside the caller's
    transaction (the extension is tried under a savepoint, so a refusal changes nothing)."""
    if connection.dialect.name != "postgresql":
        return "sqlite"
    if "chunks" not in inspect(connection).get_table_names():
        return "unavailable"
    if _has_column(connection):
        return "enabled"
    if not extension_available(connection):
        return "unavailable"
    try:
        with connection.begin_nested():
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS vector")
    except DBAPIError as error:
        log.warning("pgvector is installed on the server, but CREATE EXTENSION vector failed "
                    "(%s): passage retrieval stays brute force", error.orig)
        return "not-permitted"
    connection.exec_driver_sql(
        f"ALTER TABLE chunks ADD COLUMN IF NOT EXISTS {COLUMN} vector({DIMENSIONS})")
    backfill(connection)
    # built after the backfill: one bulk build is much faster than row-by-row inserts
    connection.exec_driver_sql(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON chunks USING hnsw ({COLUMN} vector_cosine_ops)")
    return "enabled"


def disable_vectors(connection: Connection) -> None:
    """Drop the index and the column (the extension stays: other tables may use it)."""
    if connection.dialect.name == "postgresql" and _has_column(connection):
        connection.exec_driver_sql(f"DROP INDEX IF EXISTS {INDEX}")
        connection.exec_driver_sql(f"ALTER TABLE chunks DROP COLUMN {COLUMN}")


def backfill(connection: Connection) -> int:
    """Fill the vector of every passage that has MiniLM bytes and no vector yet (batches in
    id order). Returns how many rows it filled."""
    update = (_chunks_with_vector.update()
              .where(_chunks_with_vector.c.id == bindparam("row_id"))
              .values({COLUMN: bindparam("vector", type_=Vector())}))
    filled, last = 0, 0
    while True:
        rows = connection.execute(text(
            f"SELECT id, embedding FROM chunks WHERE id > :last AND {COLUMN} IS NULL "
            "AND embedding IS NOT NULL AND octet_length(embedding) = :size ORDER BY id "
            "LIMIT :batch"),
            {"last": last, "size": DIMENSIONS * 4, "batch": BACKFILL_BATCH}).all()
        if not rows:
            return filled
        connection.execute(update, [{"row_id": r.id, "vector": bytes(r.embedding)}
                                    for r in rows])
        filled += len(rows)
        last = rows[-1].id


# --- the path this database takes ------------------------------------------------------------

@dataclass(frozen=True)
class VectorSearch:
    enabled: bool  # True: SQL nearest-neighbour search (pgvector); False: brute force
    path: str  # "pgvector" | "brute force"
    note: str  # one line for people: what is used and, when relevant, why not pgvector
    version: str | None = None  # the extension's version when enabled


_states: weakref.WeakKeyDictionary[Engine, VectorSearch] = weakref.WeakKeyDictionary()


def vector_search(bind: Engine | Connection | Session) -> VectorSearch:
    """Which retrieval path this database takes (decided once per engine)."""
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    engine = engine.engine if isinstance(engine, Connection) else engine
    state = _states.get(engine)
    if state is None:
        state = _states[engine] = _detect(engine)
    return state


def _detect(engine: Engine) -> VectorSearch:
    if engine.dialect.name != "postgresql":
        return VectorSearch(False, "brute force",
                            "brute-force cosine over the stored MiniLM vectors (SQLite store)")
    with engine.connect() as connection:
        if _has_column(connection):
            version = connection.execute(text(
                "SELECT extversion FROM pg_extension WHERE extname = 'vector'")).scalar()
            return VectorSearch(True, "pgvector",
                                f"pgvector {version}: HNSW index, cosine distance, in SQL",
                                version)
        available = extension_available(connection)
    if available:
        note = ("brute-force cosine in the process: the server has pgvector but this database "
                "could not enable it (CREATE EXTENSION vector needs a superuser or the "
                "database owner; it is retried at the next start)")
    else:
        note = ("brute-force cosine in the process: this PostgreSQL server has no pgvector "
                "extension (install postgresql-NN-pgvector, see README; it is enabled at the "
                "next start)")
    log.info("passage retrieval: %s", note)
    return VectorSearch(False, "brute force", note)


# --- writes ------------------------------------------------------------------------------------

def insert_chunks(session: Session, rows: list[dict]) -> None:
    """Insert passages (``document_id``, ``idx``, ``kind``, ``text``, ``embedding`` bytes or
    None). With pgvector, the MiniLM ones get their vector in the same statement."""
    if not rows:
        return
    if vector_search(session).enabled:
        size = DIMENSIONS * 4
        session.execute(insert(_chunks_with_vector), [
            {**row, COLUMN: row["embedding"]
             if row.get("embedding") is not None and len(row["embedding"]) == size else None}
            for row in rows])
    else:
        session.execute(insert(Chunk), rows)


# --- reads -------------------------------------------------------------------------------------

def passage_query(columns, topic: str, sources: tuple[str, ...] | None = None,
                  start: dt.date | None = None, end: dt.date | None = None):
    """SELECT ``columns`` over the embedded passages of the topic's documents in the view
    (sources; published in [start, end], whole days, UTC)."""
    query = (select(*columns)
             .join(Document, Document.id == Chunk.document_id)
             .where(Document.in_topic(topic), Chunk.embedding.is_not(None)))
    if sources:
        query = query.where(Document.source.in_(list(sources)))
    if start is not None:
        query = query.where(Document.published_at >= dt.datetime.combine(start, dt.time(), dt.UTC))
    if end is not None:
        query = query.where(Document.published_at < dt.datetime.combine(
            end + dt.timedelta(days=1), dt.time(), dt.UTC))
    return query


PASSAGE_COLUMNS = (Chunk.document_id, Chunk.idx, Chunk.kind, Chunk.text, Document.title,
                   Document.source, Document.published_at)


def nearest_query(query_vector: np.ndarray, k: int, topic: str,
                  sources: tuple[str, ...] | None = None, start: dt.date | None = None,
                  end: dt.date | None = None):
    """The pgvector search: the k passages in the view nearest to the (normalised) query
    vector by cosine distance, with their ``similarity`` (1 − distance), best first."""
    distance = literal_column(f"chunks.{COLUMN}", Vector()).op("<=>", return_type=Float)(
        bindparam("query_vector", np.asarray(query_vector, dtype=np.float32), type_=Vector()))
    return (passage_query((*PASSAGE_COLUMNS, (1 - distance).label("similarity")), topic,
                          sources, start, end)
            .where(literal_column(f"chunks.{COLUMN}").is_not(None))
            .order_by(distance)  # the distance alone: what the HNSW index can return in order
            .limit(k))


def nearest(session: Session, query_vector: np.ndarray, k: int, topic: str,
            sources: tuple[str, ...] | None = None, start: dt.date | None = None,
            end: dt.date | None = None) -> list:
    """Run ``nearest_query`` (PostgreSQL with pgvector only). The HNSW scan considers
    ``EF_SEARCH`` candidates, and with pgvector ≥ 0.8 keeps scanning (in order) until k rows
    pass the view's filters."""
    session.execute(text(f"SET LOCAL hnsw.ef_search = {max(EF_SEARCH, k)}"))
    version = vector_search(session).version or "0"
    if tuple(int(p) for p in version.split(".")[:2] if p.isdigit()) >= (0, 8):
        session.execute(text("SET LOCAL hnsw.iterative_scan = strict_order"))
    return session.execute(nearest_query(query_vector, k, topic, sources, start, end)).all()


def count_passages(session: Session, topic: str, sources: tuple[str, ...] | None = None,
                   start: dt.date | None = None, end: dt.date | None = None) -> int:
    size = DIMENSIONS * 4
    return session.execute(passage_query((func.count(),), topic, sources, start, end)
                           .select_from(Chunk)
                           .where(func.length(Chunk.embedding) == size)).scalar_one()
