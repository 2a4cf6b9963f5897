"""The scoring run: the model scores one batch while the previous one is stored; progress
and the run row carry documents/s and an ETA after every committed batch, on the caller's
thread; the batching does not change what is stored."""

from __future__ import annotations

import threading

from sqlalchemy import select

from analytics.ingest.providers.demo import DemoCorpus
from analytics.ingest.runner import ingest_records
from analytics.score.backends.offline import OfflineBackend
from analytics.score.pipeline import score_topic
from analytics.store import Analysis, Chunk, Document, Run, session_scope


def test_progress_and_run_row_report_throughput_after_each_commit(settings, topic):
    ingest_records(DemoCorpus(topic, 30, seed=7).documents(), topic="nato", provider="demo")
    caller, updates = threading.get_ident(), []

    def progress(update):
        assert threading.get_ident() == caller  # bars draw on the caller's thread
        with session_scope() as session:  # the batch and the run row are already committed
            analyses = len(session.scalars(select(Analysis.id)).all())
            run = session.scalars(select(Run).order_by(Run.id.desc())).first()
        updates.append((update, analyses, dict(run.counts)))

    result = score_topic(topic, settings=settings, batch_size=8, progress=progress)
    assert [u.done for u, *_ in updates] == [min(8 * k, result.total)
                                             for k in range(1, len(updates) + 1)]
    assert len(updates) == -(-result.total // 8) >= 3
    for update, analyses, counts in updates:
        assert update.total == result.total and update.rate > 0 and update.eta_s is not None
        assert analyses == update.done == counts["done"]
        assert counts["docs_per_s"] > 0 and counts["eta_s"] is not None
        assert counts["total"] == result.total
    assert "doc/s" in updates[0][0].text()
    with session_scope() as session:
        run = session.get(Run, result.run_id)
        assert run.status == "ok" and run.parameters["batch_size"] == 8
        assert run.counts["done"] == run.counts["total"] == result.total == result.scored
        assert run.counts["docs_per_s"] > 0 and run.counts["eta_s"] == 0


def test_offline_batches_default_to_the_backend_size(settings, topic):
    ingest_records(DemoCorpus(topic, 5, seed=3).documents(), topic="nato", provider="demo")
    result = score_topic(topic, settings=settings)
    with session_scope() as session:
        batch_size = session.get(Run, result.run_id).parameters["batch_size"]
    assert batch_size == OfflineBackend.documents_per_batch == 256


def _stored(url: str) -> tuple[dict, dict]:
    with session_scope(url) as session:
        analyses = {ext: (a.scores, a.on_topic, a.summary, a.evidence) for ext, a in
                    session.execute(select(Document.external_id, Analysis)
                                    .join(Analysis, Analysis.document_id == Document.id))}
        chunks = {(ext, idx): text for ext, idx, text in session.execute(
            select(Document.external_id, Chunk.idx, Chunk.text)
            .join(Chunk, Chunk.document_id == Document.id))}
    return analyses, chunks


def test_batching_and_overlap_do_not_change_what_is_stored(settings, topic, tmp_path):
    documents = list(DemoCorpus(topic, 24, seed=11).documents())
    stored = []
    for batch_size in (5, 64):
        url = f"sqlite:///{tmp_path / f'batch{batch_size}.db'}"
        ingest_records(documents, topic="nato", provider="demo", database_url=url)
        score_topic(topic, settings=settings, batch_size=batch_size, database_url=url)
        stored.append(_stored(url))
    (small, small_chunks), (one, one_chunks) = stored
    assert small.keys() == one.keys() and small_chunks == one_chunks and len(small_chunks) > 24
    for key, (scores, on_topic, summary, evidence) in small.items():
        other = one[key]
        assert (on_topic, summary, evidence) == other[1:]
        assert all(abs((v or 0) - (other[0][k] or 0)) <= 0.01 and (v is None) == (other[0][k]
                   is None) for k, v in scores.items())
