"""Scoring workers on PostgreSQL: 1 worker vs N workers (separate processes), measured in
one run against the same local OpenAI-compatible stub (tests/support/openai_stub.py in
another process, a fixed latency per chat completion).

Each configuration gets its own database with the same demo corpus (so neither sees a
cache), then ``python -m analytics worker --exit-when-idle`` is started once or N times at
the same moment. Reported per configuration: wall time from launch to the last exit;
the scoring window (the first run's start, after interpreter start-up, to the last stored
analysis) and documents/s over it; chat calls the stub answered (must equal the number of
documents: nothing paid twice); the ledger's rows and cost (``llm_calls``) against the
stub's own token count × price (must be equal). Last line: one JSON object.

Needs a PostgreSQL server: ANALYTICS_TEST_POSTGRES_URL (a superuser URL, e.g. from
``source .ci/postgres.sh && pg_start``).

Run: .venv/bin/python benchmarks/worker_scaling.py [--documents 2000] [--latency 0.2]
     [--workers 4] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from analytics.core.topics import load_topic
from analytics.ingest.providers.demo import DemoCorpus
from analytics.ingest.runner import ingest_records
from analytics.store import Analysis, Run, session_scope
from analytics.store.engine import dispose_engines
from analytics.store.models import LLMCall

PRICE = (0.15, 0.60)


def stub_stats(base_url: str) -> dict:
    with urllib.request.urlopen(base_url + "/stats", timeout=10) as response:
        return json.load(response)


def start_stub(latency: float) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "support" / "openai_stub.py"), "--latency",
         str(latency)], stdout=subprocess.PIPE, text=True)
    return process, process.stdout.readline().strip()


def fresh_database(server_url: str, name: str) -> str:
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, name: str) -> None:
    dispose_engines()
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def run_workers(url: str, base_url: str, workers: int, concurrency: int) -> dict:
    env = {**os.environ, "ANALYTICS_DATABASE_URL": url, "ANALYTICS_SCORING_BACKEND": "openai",
           "ANALYTICS_OPENAI_BASE_URL": base_url, "ANALYTICS_OPENAI_MODEL": "bench-model",
           "ANALYTICS_OPENAI_EMBEDDING_MODEL": "bench-embed",
           "ANALYTICS_OPENAI_PRICES": json.dumps({"bench-model": PRICE}),
           "ANALYTICS_OPENAI_CONCURRENCY": str(concurrency),
           "ANALYTICS_OPENAI_REQUESTS_PER_MINUTE": "1000000",
           "ANALYTICS_OPENAI_TOKENS_PER_MINUTE": "1000000000",
           "ANALYTICS_OPENAI_TIMEOUT_S": "60", "ANALYTICS_OPENAI_MAX_RETRIES": "2",
           "ANALYTICS_DEMO_AUTOSTART": "false"}
    before = stub_stats(base_url)
    command = [sys.executable, "-m", "analytics", "worker", "--exit-when-idle", "--quiet",
               "--batch-size", str(2 * concurrency), "--poll", "0.5"]
    started = time.time()
    processes = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT) for _ in range(workers)]
    outputs = [p.communicate(timeout=3600)[0].decode() for p in processes]
    wall = time.time() - started
    codes = [p.returncode for p in processes]
    if any(codes):
        raise SystemExit(f"worker failed: {codes}\n" + "\n".join(o[-2000:] for o in outputs))
    after = stub_stats(base_url)
    usage = after["usage"][len(before["usage"]):]
    stub_cost = sum(i * PRICE[0] + o * PRICE[1] for i, o in usage) / 1e6
    with session_scope(url) as session:
        first = session.scalar(select(func.min(Run.started_at)).where(Run.kind == "score"))
        last = session.scalar(select(func.max(Analysis.created_at)))
        analyses = session.scalar(select(func.count(Analysis.id)))
        documents = session.scalar(select(func.count(func.distinct(Analysis.document_id))))
        ledger_rows = session.scalar(select(func.count(LLMCall.id)))
        ledger_cost = session.scalar(select(func.sum(LLMCall.cost_usd))) or 0.0
        run_calls = sum(r.counts.get("calls", 0) for r in session.scalars(
            select(Run).where(Run.kind == "score")))
    window = (last - first).total_seconds()
    return {"workers": workers, "wall_s": round(wall, 2), "scoring_window_s": round(window, 2),
            "docs_per_s": round(documents / window, 2), "analyses": analyses,
            "documents_scored": documents,
            "chat_calls": after["calls"].get("chat", 0) - before["calls"].get("chat", 0),
            "run_calls": run_calls, "ledger_rows": ledger_rows,
            "ledger_cost_usd": round(ledger_cost, 6), "stub_cost_usd": round(stub_cost, 6)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    server_url = os.environ.get("ANALYTICS_TEST_POSTGRES_URL")
    if not server_url:
        raise SystemExit("set ANALYTICS_TEST_POSTGRES_URL (source .ci/postgres.sh && pg_start)")
    topic = load_topic("nato")
    stub, base_url = start_stub(args.latency)
    names = {1: f"bench_workers_1_{os.getpid()}", args.workers:
             f"bench_workers_{args.workers}_{os.getpid()}"}
    results = {}
    try:
        urls = {n: fresh_database(server_url, name) for n, name in names.items()}
        for url in urls.values():  # the same corpus twice, so neither run sees a cache
            ingest_records(DemoCorpus(topic, args.documents, seed=42).documents(),
                           topic=topic.name, provider="demo", database_url=url)
        dispose_engines()
        for n, url in urls.items():
            results[n] = run_workers(url, base_url, n, args.concurrency)
            print(f"{n} worker(s):", results[n], flush=True)
    finally:
        stub.terminate()
        stub.wait(timeout=10)
        for name in names.values():
            drop_database(server_url, name)
    one, many = results[1], results[args.workers]
    print(json.dumps({
        "documents": args.documents, "latency_s": args.latency,
        "concurrency_per_worker": args.concurrency, "workers": args.workers,
        "one_worker_docs_per_s": one["docs_per_s"], "n_workers_docs_per_s": many["docs_per_s"],
        "throughput_ratio": round(many["docs_per_s"] / one["docs_per_s"], 2),
        "wall_ratio": round(one["wall_s"] / many["wall_s"], 2),
        "ideal_ratio": args.workers,
        "chat_calls_one": one["chat_calls"], "chat_calls_n": many["chat_calls"],
        "paid_twice_n": many["chat_calls"] - many["documents_scored"],
        "ledger_rows_n": many["ledger_rows"], "ledger_cost_n": many["ledger_cost_usd"],
        "stub_cost_n": many["stub_cost_usd"], "one": one, "n": many,
    }))


if __name__ == "__main__":
    main()
