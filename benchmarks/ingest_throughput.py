"""Ingest throughput: 5,000 GDELT articles replayed from a local server (ArtList JSON in
time slices + one HTML page per article, extracted with trafilatura), stored in a fresh
SQLite database; then the same window again.

Figures (documents/s, wall clock, including HTTP, extraction, shingling and upserts):
- first_run_docs_per_s: everything new;
- rerun_docs_per_s: the same window again, known URLs skipped (the default);
- rerun_refetch_docs_per_s: the same window again with ANALYTICS_REFETCH_KNOWN_ARTICLES=1
  (every page fetched and extracted again, all rows unchanged) — the naive re-run, as the
  baseline of the re-run figure.

Run: .venv/bin/python benchmarks/ingest_throughput.py [--documents 5000]
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

START = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
PER_HOUR = 100
WORDS = [
    "allies", "ministers", "defence", "budget", "summit", "alliance", "treaty", "members",
    "security", "army", "border", "talks", "pledge", "spending", "support", "vote",
    "parliament", "government", "leaders", "agreement", "troops", "exercise", "region",
    "pressure", "plan", "meeting", "officials", "policy", "threat", "response", "cooperation",
    "unity", "capital", "foreign", "minister", "report", "analysts", "sanctions",
]


def page(i: int) -> bytes:
    rng = random.Random(i)
    paragraphs = "".join(
        "<p>NATO " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(25, 40))) + ".</p>"
        for _ in range(8))
    date = (START + dt.timedelta(minutes=36 * i // 60)).date().isoformat()
    return (f"<html><head><title>Story {i}</title><meta property=\"article:published_time\" "
            f"content=\"{date}T08:00:00Z\"><meta name=\"author\" content=\"Reporter {i % 17}\">"
            f"</head><body><nav>Home | World | Europe</nav><article><h1>Story {i}</h1>"
            f"{paragraphs}</article><aside>Most read</aside><footer>(c) News</footer>"
            f"</body></html>").encode()


def serve(port_queue, documents: int) -> None:
    def seen(i: int) -> dt.datetime:
        return START + dt.timedelta(seconds=3600 * i / PER_HOUR)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            parts = urlsplit(self.path)
            if parts.path == "/gdelt":
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                start = dt.datetime.strptime(query["startdatetime"], "%Y%m%d%H%M%S").replace(
                    tzinfo=dt.UTC)
                end = dt.datetime.strptime(query["enddatetime"], "%Y%m%d%H%M%S").replace(
                    tzinfo=dt.UTC)
                base = f"http://127.0.0.1:{self.server.server_address[1]}"
                articles = [{"url": f"{base}/story/{i}", "title": f"Story {i}",
                             "seendate": seen(i).strftime("%Y%m%dT%H%M%SZ"),
                             "domain": "127.0.0.1", "language": "English",
                             "sourcecountry": "United States", "url_mobile": "",
                             "socialimage": ""}
                            for i in range(documents) if start <= seen(i) < end]
                body = json.dumps({"articles": articles[: int(query["maxrecords"])]}).encode()
                kind = "application/json"
            else:
                body, kind = page(int(parts.path.rsplit("/", 1)[1])), "text/html; charset=utf-8"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_queue.put(server.server_address[1])
    server.serve_forever()


def timed_run(topic, until: dt.datetime, refetch: bool) -> tuple[float, dict]:
    from analytics.core.settings import get_settings, reset_settings_cache
    from analytics.ingest.runner import run_provider

    os.environ["ANALYTICS_REFETCH_KNOWN_ARTICLES"] = "1" if refetch else "0"
    reset_settings_cache()
    started = time.perf_counter()
    result = run_provider("gdelt", topic, query="NATO", since=START, until=until,
                          settings=get_settings())
    return time.perf_counter() - started, result.counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=5000)
    args = parser.parse_args()
    ports: multiprocessing.Queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(ports, args.documents), daemon=True)
    server.start()
    port = ports.get(timeout=30)
    folder = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    os.environ.update({
        "ANALYTICS_DATABASE_URL": f"sqlite:///{folder / 'bench.db'}",
        "ANALYTICS_DATA_DIR": str(folder / "data"),
        "ANALYTICS_GDELT_BASE_URL": f"http://127.0.0.1:{port}/gdelt",
        "ANALYTICS_GDELT_REQUESTS_PER_SECOND": "0", "ANALYTICS_ARTICLE_REQUESTS_PER_SECOND": "0",
        "ANALYTICS_GDELT_SLICE_HOURS": "2", "ANALYTICS_INGEST_BATCH_SIZE": "100",
    })
    from analytics.core.topics import load_topic

    topic = load_topic("nato")
    until = START + dt.timedelta(hours=args.documents / PER_HOUR + 1)
    first_s, first = timed_run(topic, until, refetch=False)
    rerun_s, rerun = timed_run(topic, until, refetch=False)
    refetch_s, refetch = timed_run(topic, until, refetch=True)
    server.terminate()
    print(f"first run: {first}\nre-run: {rerun}\nre-run with refetch: {refetch}")
    n = args.documents
    assert first["new"] + first["duplicate"] == n, first
    assert rerun["new"] == refetch["new"] == 0 and rerun["unchanged"] == n
    print(json.dumps({
        "documents": n,
        "first_run_docs_per_s": round(n / first_s, 1),
        "rerun_docs_per_s": round(n / rerun_s, 1),
        "rerun_refetch_docs_per_s": round(n / refetch_s, 1),
        "first_run_s": round(first_s, 1), "rerun_s": round(rerun_s, 2),
        "rerun_refetch_s": round(refetch_s, 1),
        "article_fetch_workers": int(os.environ.get("ANALYTICS_ARTICLE_FETCH_WORKERS", "4")),
    }))


if __name__ == "__main__":
    main()
