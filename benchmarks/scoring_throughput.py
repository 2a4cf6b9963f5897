"""Throughput of the 'openai' scoring backend against a local server with fixed latency.

1,000 demo documents (DemoCorpus) in a temporary SQLite database, a local
OpenAI-compatible server (tests/openai_stub.py, another process) that answers every chat
completion after a fixed 200 ms. Measured in one run:
  (a) baseline: one call at a time (concurrency 1, the paper's sequential way), same pipeline,
  (b) this backend at concurrency 16,
  the ratio b/a, the fraction of the ideal bound (concurrency / latency docs/s) that b
  reaches, and the calls an immediate re-run makes (must be 0: the cache).
Embeddings come from the server's /v1/embeddings without added latency, so both runs do
the same retrieval work. Last line: one JSON object.

Run: .venv/bin/python benchmarks/scoring_throughput.py [--documents 1000] [--latency 0.2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analytics.core.settings import Settings
from analytics.core.topics import load_topic
from analytics.ingest.providers.demo import DemoCorpus
from analytics.ingest.runner import ingest_records
from analytics.score.pipeline import score_topic


def chat_calls(base_url: str) -> int:
    with urllib.request.urlopen(base_url + "/stats", timeout=10) as response:
        return json.load(response)["calls"].get("chat", 0)


def start_server(latency: float) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "support" / "openai_stub.py"), "--latency",
         str(latency)],
        stdout=subprocess.PIPE, text=True)
    return process, process.stdout.readline().strip()


def settings_for(url: str, base_url: str, concurrency: int) -> Settings:
    return Settings.from_flat(
        database_url=url, scoring_backend="openai", openai_base_url=base_url,
        openai_model="bench-model", openai_embedding_model="bench-embed",
        openai_prices={"bench-model": (0.15, 0.60)}, openai_concurrency=concurrency,
        openai_requests_per_minute=100_000, openai_tokens_per_minute=100_000_000,
        openai_timeout_s=30, openai_max_retries=2)


def timed_run(topic, settings: Settings, base_url: str) -> dict:
    calls_before = chat_calls(base_url)
    started = time.perf_counter()
    result = score_topic(topic, settings=settings, batch_size=64)
    wall = time.perf_counter() - started
    done = result.scored + result.failed
    return {"wall_s": round(wall, 2), "documents": done, "docs_per_s": round(done / wall, 2),
            "calls": chat_calls(base_url) - calls_before, "failed": result.failed,
            "cost_usd": round(result.cost_usd, 4)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    topic = load_topic("nato")
    folder = Path(tempfile.mkdtemp(prefix="scoring-bench-"))
    server, base_url = start_server(args.latency)
    try:
        base_db, ours_db = f"sqlite:///{folder / 'baseline.db'}", f"sqlite:///{folder / 'ours.db'}"
        for url in (base_db, ours_db):  # the same corpus twice, so neither run sees a cache
            ingest_records(DemoCorpus(topic, args.documents, seed=42).documents(),
                           topic=topic.name, provider="demo", database_url=url)

        baseline = timed_run(topic, settings_for(base_db, base_url, 1), base_url)
        print("baseline (concurrency 1):", baseline, flush=True)
        ours_settings = settings_for(ours_db, base_url, args.concurrency)
        ours = timed_run(topic, ours_settings, base_url)
        print(f"ours (concurrency {args.concurrency}):", ours, flush=True)
        rerun = timed_run(topic, ours_settings, base_url)
        print("immediate re-run:", rerun, flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)
    ideal = args.concurrency / args.latency
    print(json.dumps({
        "documents": args.documents, "latency_s": args.latency, "concurrency": args.concurrency,
        "baseline_wall_s": baseline["wall_s"], "baseline_docs_per_s": baseline["docs_per_s"],
        "ours_wall_s": ours["wall_s"], "ours_docs_per_s": ours["docs_per_s"],
        "speedup_b_over_a": round(ours["docs_per_s"] / baseline["docs_per_s"], 2),
        "ideal_docs_per_s": ideal,
        "fraction_of_ideal": round(ours["docs_per_s"] / ideal, 3),
        "baseline_fraction_of_its_ideal": round(baseline["docs_per_s"] * args.latency, 3),
        "rerun_calls": rerun["calls"], "rerun_wall_s": rerun["wall_s"],
        "calls_baseline": baseline["calls"], "calls_ours": ours["calls"],
    }))


if __name__ == "__main__":
    main()
