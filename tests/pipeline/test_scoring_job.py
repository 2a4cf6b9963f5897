"""The Sources page's 'Score new documents' job: its progress (what the page's bar draws)
carries documents/s and an ETA while it runs, and the run row ends with the same."""

from __future__ import annotations

import time

from analytics.ingest.providers.demo import DemoCorpus
from analytics.ingest.runner import ingest_records
from analytics.pipeline.sources import start_scoring
from analytics.store import Run, session_scope


def test_background_scoring_reports_rate_and_eta(settings, topic, monkeypatch):
    from analytics.pipeline.jobs import BackgroundJob
    from analytics.score.backends.offline import OfflineBackend

    monkeypatch.setattr(OfflineBackend, "documents_per_batch", 6)
    ingest_records(DemoCorpus(topic, 20, seed=4).documents(), topic="nato", provider="demo")
    seen = []
    original = BackgroundJob.report
    monkeypatch.setattr(BackgroundJob, "report",
                        lambda job, update: (seen.append(update), original(job, update)))
    job = start_scoring(topic, settings)
    deadline = time.time() + 300
    while not job.done and time.time() < deadline:
        time.sleep(0.1)
    assert job.ok, job.error
    assert seen, "no progress reported"
    middle = [u for u in seen if u.done < u.total]
    assert all(u.rate > 0 and u.eta_s is not None and "doc/s" in u.text() and "left" in u.text()
               for u in middle)
    assert [u.done for u in seen] == [min(6 * k, job.progress.total)
                                      for k in range(1, len(seen) + 1)]
    assert job.progress.done == job.progress.total and len(middle) >= 2
    with session_scope() as session:
        run = session.query(Run).filter(Run.kind == "score").one()
        assert run.counts["docs_per_s"] > 0 and run.counts["eta_s"] == 0
        assert run.counts["done"] == run.counts["total"] == job.progress.total
