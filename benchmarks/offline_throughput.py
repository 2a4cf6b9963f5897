"""Offline scoring throughput on real comments vs the raw MiniLM embedding rate.

The shared r/worldnews sample (../shared/data/reddit_nato/comments_nato_sample_300pm.csv)
is imported with the product's file provider as one document per comment (id, date, text
mapped, like `ingest --source file --option id=id --option date=created_utc
--option text=body --option source=reddit`) into a fresh SQLite database, then scored with
the NATO topic by the product's pipeline (`score_topic`, backend offline). Every text the
scorer hands to MiniLM is recorded; in the same process the packaged MiniLM alone then
encodes exactly those texts (one `encode` call, twice, right after the product run; the
ratio uses their mean, so load from other processes shifts both sides alike).

  ratio = product sentences/s / raw sentences/s  (= raw seconds / product seconds)

Also printed: cpu_ratio (raw CPU seconds / product CPU seconds: what the ratio would be on
one core, hardly moved by other processes) and ratio_own_encoder (the product's own
MiniLMEmbedder.encode on the same texts in one call / product: the cost of everything
around the model, whatever the encoder's configuration).

Target: ratio >= 0.70. The model is loaded and warmed before anything is timed (a CLI run
pays ~9 s more to load it). Last line: one JSON object.

Other corpus: --corpus newsmtsc scores NewsMTSC sentences (one short news sentence per
document) with the one-score target-sentiment topic (the "single sentence" case).

Before/after: run it once with ``--code DIR`` (a checkout of the code before the change,
e.g. ``git archive main analytics | tar -x -C DIR``) and ``--dump-scores before.json``, then
with the current code and ``--dump-scores after.json --compare-with before.json``: the last
run also prints how many stored scores, summaries, evidence lists and chunk vectors differ.

Run: .venv/bin/python benchmarks/offline_throughput.py [--limit 2000] [--repeat 1]
     [--dump-scores scores.json] [--compare-with earlier.json] [--code DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# ../shared/data next to the project (or next to a folder above it, for a worktree)
SHARED = next((p / "shared" / "data" for p in ROOT.parents if (p / "shared" / "data").is_dir()),
              ROOT.parent / "shared" / "data")
CSV = SHARED / "reddit_nato" / "comments_nato_sample_300pm.csv"
NEWSMTSC = SHARED / "newsmtsc" / "train.jsonl"


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", choices=["reddit", "newsmtsc"], default="reddit")
    parser.add_argument("--csv", type=Path, default=CSV)
    parser.add_argument("--limit", type=int, default=2000, help="documents scored (0 = all)")
    parser.add_argument("--repeat", type=int, default=1, help="product runs (fresh DB each)")
    parser.add_argument("--raw-batch-size", type=int, default=32,
                        help="batch size of the raw MiniLM call (sentence-transformers default)")
    parser.add_argument("--workdir", type=Path, default=None, help="folder for the databases")
    parser.add_argument("--dump-scores", type=Path, default=None,
                        help="write every analysis (by external id) of the last run here")
    parser.add_argument("--code", type=Path, default=None,
                        help="import the analytics package from this folder (e.g. a baseline)")
    parser.add_argument("--threads", type=int, default=0,
                        help="cores for both sides: torch threads of the raw encode (and of a "
                        "baseline's encoder) and ANALYTICS_EMBEDDING_THREADS (0 = defaults); "
                        "--threads 1 compares the work per core, unaffected by other processes")
    parser.add_argument("--compare-with", type=Path, default=None,
                        help="a --dump-scores file of an earlier run: print what differs")
    parser.add_argument("--profile", type=Path, default=None,
                        help="cProfile the (last) product run into this .prof file")
    return parser.parse_args()


ARGS = _args()
if ARGS.threads:
    os.environ["ANALYTICS_EMBEDDING_THREADS"] = str(ARGS.threads)
sys.path.insert(0, str(ARGS.code.resolve() if ARGS.code else ROOT))

from analytics.core.settings import Settings
from analytics.core.topics import load_topic
from analytics.llm.embeddings import get_embedder


def import_reddit(url: str, settings: Settings, topic) -> None:
    from analytics.ingest.runner import run_provider

    result = run_provider("file", topic, settings=settings, database_url=url, options={
        "path": str(ARGS.csv), "id": "id", "date": "created_utc", "text": "body",
        "source": "reddit"})
    print(f"imported: {result.counts}", flush=True)


def import_newsmtsc(url: str, limit: int) -> None:
    import datetime as dt

    from analytics.ingest.runner import ingest_records
    from analytics.score.targeted import mask_target
    from analytics.store.records import DocumentRecord

    records, day = [], dt.datetime(2022, 1, 1, tzinfo=dt.UTC)
    for n, line in enumerate(NEWSMTSC.read_text(encoding="utf-8").splitlines()):
        item = json.loads(line)
        target = item["targets"][0]
        text = mask_target(item["sentence_normalized"], target["from"], target["to"])
        records.append(DocumentRecord(source="news", provider="bench", external_id=str(n),
                                      topic="target_sentiment", text=text,
                                      published_at=day + dt.timedelta(minutes=n)))
        if limit and len(records) >= limit:
            break
    ingest_records(records, topic="target_sentiment", provider="bench", database_url=url)
    print(f"imported: {len(records)} NewsMTSC sentences", flush=True)


class Recorder:
    """Wraps the shared embedder's encode (and encode_with_spans, the one-pass encoder of the
    learned attitude scorer, where the code has it) and keeps every text it is given."""

    def __init__(self) -> None:
        self.embedder = get_embedder()
        self.methods = [m for m in ("encode", "encode_with_spans") if hasattr(self.embedder, m)]
        self.texts: list[str] = []
        self.calls = 0

    def __enter__(self) -> Recorder:
        for name in self.methods:
            original = getattr(self.embedder, name)

            def wrapped(texts, *args, _original=original, **kwargs):
                self.texts.extend(texts)
                self.calls += 1
                return _original(texts, *args, **kwargs)

            setattr(self.embedder, name, wrapped)
        return self

    def __exit__(self, *exc) -> None:
        for name in self.methods:
            delattr(self.embedder, name)  # back to the class method


def raw_encode(texts: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of the packaged model alone (its defaults) on the texts."""
    model = get_embedder()._model
    cpu, started = time.process_time(), time.perf_counter()
    model.encode(texts, batch_size=ARGS.raw_batch_size, normalize_embeddings=True,
                 show_progress_bar=False, convert_to_numpy=True)
    return time.perf_counter() - started, time.process_time() - cpu


def own_encode(texts: list[str]) -> float:
    """Wall seconds of the product's own encoder (MiniLMEmbedder.encode) in one call."""
    started = time.perf_counter()
    get_embedder().encode(texts)
    return time.perf_counter() - started


def dump_scores(url: str, path: Path) -> None:
    from sqlalchemy import select

    from analytics.store import Analysis, Chunk, Document, session_scope

    with session_scope(url) as session:
        rows = session.execute(select(Document.external_id, Analysis).join(
            Analysis, Analysis.document_id == Document.id)).all()
        out = {ext: {"scores": a.scores, "on_topic": a.on_topic, "summary": a.summary,
                     "evidence": a.evidence, "rationale": a.rationale, "status": a.status}
               for ext, a in rows}
        chunks = session.execute(
            select(Document.external_id, Chunk.idx, Chunk.text, Chunk.embedding)
            .join(Chunk, Chunk.document_id == Document.id)).all()
    path.write_text(json.dumps(out, sort_keys=True, indent=0), encoding="utf-8")
    import numpy as np

    chunks.sort(key=lambda row: (row[0], row[1]))
    np.savez_compressed(path.with_suffix(".chunks.npz"),
                        keys=np.array([f"{ext}:{idx}:{text}" for ext, idx, text, _ in chunks]),
                        vectors=np.stack([np.frombuffer(e, np.float32) for *_, e in chunks]))
    print(f"scores of {len(out)} documents written to {path}", flush=True)


def compare_dumps(earlier: Path, now: Path) -> None:
    """How many stored results differ between two --dump-scores files (same corpus)."""
    import numpy as np

    a = json.loads(earlier.read_text(encoding="utf-8"))
    b = json.loads(now.read_text(encoding="utf-8"))
    if a.keys() != b.keys():
        print(f"compare: different documents ({len(a)} vs {len(b)})", flush=True)
        return
    values = differing = null_mismatch = 0
    largest = 0.0
    fields = {"on_topic": 0, "summary": 0, "evidence": 0, "rationale": 0, "status": 0}
    for key, x in a.items():
        y = b[key]
        for score, u in x["scores"].items():
            v = y["scores"].get(score)
            if (u is None) != (v is None):
                null_mismatch += 1
            elif u is not None:
                values += 1
                differing += u != v
                largest = max(largest, abs(u - v))
        for name in fields:
            fields[name] += x[name] != y[name]
    line = (f"compare with {earlier.name}: {len(a)} documents, {values} non-null scores, "
            f"{differing} differ (max |diff| {largest}), {null_mismatch} null mismatches; "
            f"other fields differing: {fields}")
    ca, cb = earlier.with_suffix(".chunks.npz"), now.with_suffix(".chunks.npz")
    if ca.is_file() and cb.is_file():
        x, y = np.load(ca), np.load(cb)
        if x["keys"].shape == y["keys"].shape and (x["keys"] == y["keys"]).all():
            line += (f"; {len(x['keys'])} chunks, same texts, max |diff| of stored vectors "
                     f"{np.abs(x['vectors'] - y['vectors']).max():.1e}")
        else:
            line += "; stored chunks differ"
    print(line, flush=True)


def main() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if ARGS.corpus == "reddit" and not ARGS.csv.is_file():
        sys.exit(f"Reddit sample not found at {ARGS.csv}")
    if ARGS.corpus == "newsmtsc" and not NEWSMTSC.is_file():
        sys.exit(f"NewsMTSC not found at {NEWSMTSC}")
    import torch

    from analytics.score.pipeline import score_topic

    if ARGS.threads:
        torch.set_num_threads(ARGS.threads)

    if ARGS.corpus == "reddit":
        topic = load_topic("nato")
    else:
        from analytics.score.targeted import target_sentiment_topic

        topic = target_sentiment_topic()
    workdir = ARGS.workdir or Path(tempfile.mkdtemp(prefix="offline-throughput-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"code: {sys.path[0]}; torch threads {torch.get_num_threads()}, "
          f"cpus {os.cpu_count()}; workdir {workdir}", flush=True)

    started = time.perf_counter()
    get_embedder().encode(["Warm-up sentence about NATO."] * 8)
    print(f"model load + warm-up: {time.perf_counter() - started:.1f} s", flush=True)

    runs = []
    for rep in range(ARGS.repeat):
        url = f"sqlite:///{workdir / f'run{rep}-{time.time_ns()}.db'}"
        settings = Settings.from_flat(database_url=url, data_dir=workdir / "data",
                                      scoring_backend="offline")
        if ARGS.corpus == "reddit":
            import_reddit(url, settings, topic)
        else:
            import_newsmtsc(url, ARGS.limit)
        profiler = None
        if ARGS.profile and rep == ARGS.repeat - 1:
            import cProfile

            profiler = cProfile.Profile()
        with Recorder() as recorder:
            if profiler:
                profiler.enable()
            cpu, started = time.process_time(), time.perf_counter()
            result = score_topic(topic, settings=settings, limit=ARGS.limit or None)
            product_s = time.perf_counter() - started
            product_cpu = time.process_time() - cpu
            if profiler:
                profiler.disable()
                profiler.dump_stats(ARGS.profile)
        texts = recorder.texts
        docs = result.scored + result.failed + result.cached
        # raw MiniLM on exactly those texts, twice
        (raw_a, cpu_a), (raw_b, cpu_b) = raw_encode(texts), raw_encode(texts)
        raw_s, raw_cpu = (raw_a + raw_b) / 2, (cpu_a + cpu_b) / 2
        own_s = own_encode(texts)
        run = {
            "docs": docs, "sentences": len(texts), "encode_calls": recorder.calls,
            "product_s": round(product_s, 2), "raw_s": round(raw_s, 2),
            "raw_s_each": [round(raw_a, 2), round(raw_b, 2)],
            "product_docs_per_s": round(docs / product_s, 2),
            "product_sentences_per_s": round(len(texts) / product_s, 1),
            "raw_sentences_per_s": round(len(texts) / raw_s, 1),
            "ratio": round(raw_s / product_s, 3),
            "own_encoder_s": round(own_s, 2), "ratio_own_encoder": round(own_s / product_s, 3),
            "product_cpu_s": round(product_cpu, 2), "raw_cpu_s": round(raw_cpu, 2),
            "cpu_ratio": round(raw_cpu / product_cpu, 3), "load": round(os.getloadavg()[0], 1),
            "counts": result.counts(),
        }
        runs.append(run)
        print(f"run {rep + 1}: {docs} docs in {product_s:.1f} s = {run['product_docs_per_s']} "
              f"docs/s, {run['product_sentences_per_s']} sentences/s ({len(texts)} texts, "
              f"{recorder.calls} encode calls); raw MiniLM {raw_a:.1f}/{raw_b:.1f} s = "
              f"{run['raw_sentences_per_s']} sentences/s; ratio {run['ratio']:.3f}; CPU s product "
              f"{product_cpu:.1f} raw {raw_cpu:.1f} (cpu ratio {run['cpu_ratio']:.3f}); "
              f"load {run['load']}; the product's encoder alone {own_s:.1f} s (ratio "
              f"{run['ratio_own_encoder']:.3f})", flush=True)
        if ARGS.dump_scores and rep == ARGS.repeat - 1:
            dump_scores(url, ARGS.dump_scores)
            if ARGS.compare_with:
                compare_dumps(ARGS.compare_with, ARGS.dump_scores)

    ratios = [r["ratio"] for r in runs]
    last = runs[-1]
    print(json.dumps({
        "corpus": ARGS.corpus, "docs": last["docs"], "sentences": last["sentences"],
        "product_docs_per_s": round(statistics.median(r["product_docs_per_s"] for r in runs), 2),
        "raw_sentences_per_s": round(statistics.median(r["raw_sentences_per_s"] for r in runs), 1),
        "product_sentences_per_s": round(statistics.median(r["product_sentences_per_s"]
                                                           for r in runs), 1),
        "ratio": round(statistics.median(ratios), 3), "ratios": ratios,
        "product_s": [r["product_s"] for r in runs], "raw_s": [r["raw_s"] for r in runs],
        "cpu_ratio": round(statistics.median(r["cpu_ratio"] for r in runs), 3),
        "ratio_own_encoder": round(statistics.median(r["ratio_own_encoder"] for r in runs), 3),
        "load": [r["load"] for r in runs],
        "torch_threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
