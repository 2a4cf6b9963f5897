"""Level-2 summaries (offline extractive and LLM map-reduce), 'ask the corpus', the page.

A small scored demo corpus (90 documents over a year) from the shared factory; the LLM paths
run against tests/support/openai_stub.py.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from analytics.core.settings import Settings
from analytics.llm.prompting import DATA_BEGIN, DATA_END
from analytics.store import Analysis, Summary, session_scope
from analytics.summarize import EXTRACTIVE_LABEL, summarize_topic, summary_detail
from analytics.summarize.ask import ask_corpus, load_index
from tests.support.openai_stub import OpenAIStub
from tests.support.paths import ROOT


@pytest.fixture
def url(scored_corpus) -> str:
    """This test's copy of a small scored demo corpus (90 documents over a year)."""
    return scored_corpus(90, seed=5).database_url


def llm_settings(stub: OpenAIStub, url: str, **overrides) -> Settings:
    return Settings.from_flat(**{"database_url": url, "scoring_backend": "openai",
                       "openai_base_url": stub.base_url, "openai_model": "stub-model",
                       "openai_prices": {"stub-model": (0.15, 0.6)}, **overrides})


def summaries(url: str) -> list[Summary]:
    with session_scope(url) as session:
        return list(session.scalars(select(Summary).order_by(Summary.id)))


def test_offline_extractive_monthly_summaries(url, topic):
    result = summarize_topic(topic, "month", settings=Settings(database_url=url),
                             backend_name="offline")
    rows = summaries(url)
    assert result.written == len(rows) > 12 and result.failed == 0 and result.calls == 0
    assert {r.source for r in rows} == {"news", "youtube", "reddit"}
    with session_scope(url) as session:
        analyses = {a.id: a for a in session.scalars(select(Analysis))}
    for row in rows:
        assert row.text.startswith(EXTRACTIVE_LABEL) and "Themes:" in row.text
        assert row.meta["method"] == "extractive" and row.meta["period"] == "month"
        assert (row.period_end - row.period_start).days in (28, 29, 30, 31)
        assert row.analysis_ids and len(row.analysis_ids) == len(row.document_ids)
        for analysis_id in row.analysis_ids:  # the analyses used are the period's documents
            assert analyses[analysis_id].document_id in row.document_ids
            assert analyses[analysis_id].on_topic
        quoted = [int(x) for x in __import__("re").findall(r"\[doc (\d+)\]", row.meta["summary"])]
        assert quoted and set(quoted) <= set(row.document_ids)
    later = [r for r in rows if r.meta["previous_stats"]]
    # a small source-month may address no score that its previous month addressed
    assert later and all("→" in r.meta["changes"] or "No score was addressed in both"
                         in r.meta["changes"] for r in later)
    assert any("→" in r.meta["changes"] for r in later)
    detail = summary_detail(rows[0].id, topic, url)
    assert len(detail["documents"]) == len(rows[0].document_ids)
    again = summarize_topic(topic, "month", settings=Settings(database_url=url),
                            backend_name="offline")
    assert again.written == 0 and again.unchanged == len(rows)


def test_llm_weekly_summary_map_reduces_and_is_cached(url, topic):
    with OpenAIStub() as stub:
        settings = llm_settings(stub, url, summary_context_tokens=500)
        result = summarize_topic(topic, "week", ["news"], settings=settings)
        rows = summaries(url)
        assert result.written == len(rows) > 15 and result.failed == 0
        assert stub.calls["chat"] == result.calls > len(rows)  # some weeks needed map-reduce
        assert any(r.meta["map_groups"] > 0 for r in rows)
        assert result.cost_usd == pytest.approx(
            sum(i * 0.15 + o * 0.6 for i, o in stub.state.usage) / 1e6)
        row = rows[0]
        assert row.backend == "openai" and row.model == "stub-model"
        assert row.meta["method"] == "llm" and row.meta["themes"]
        assert row.text.startswith("Themes:")
        # level-1 summaries (untrusted) travel only inside the data block
        final = next(r for r in stub.state.chat_requests
                     if r["response_format"]["json_schema"]["name"] == "period_summary")
        user = final["messages"][1]["content"]
        inside = user.split(DATA_BEGIN, 1)[1].split(DATA_END, 1)[0]
        assert "Source: news" in inside and "[doc " in inside
        assert "[doc " not in final["messages"][0]["content"]
        calls = stub.calls["chat"]
        again = summarize_topic(topic, "week", ["news"], settings=settings)
        assert again.written == 0 and stub.calls["chat"] == calls


def test_ask_the_corpus_offline_returns_passages_only(url, topic):
    index = load_index(topic.name, database_url=url)
    assert index.size > 90
    answer = ask_corpus(topic, "Would the allies defend a member under Article 5?",
                        settings=Settings(database_url=url), backend_name="offline",
                        index=index, k=5)
    assert answer.answer is None and len(answer.passages) == 5
    assert answer.passages["similarity"].is_monotonic_decreasing
    assert answer.passages["similarity"].iloc[0] > 0.3


def test_ask_the_corpus_llm_cites_retrieved_documents(url, topic):
    with OpenAIStub() as stub:
        answer = ask_corpus(topic, "Are NATO members united?", settings=llm_settings(stub, url),
                            k=4)
        assert answer.method == "llm" and answer.answer
        assert answer.cited_document_ids
        assert set(answer.cited_document_ids) <= set(answer.passages["document_id"])
        user = stub.state.chat_requests[0]["messages"][1]["content"]
        first = answer.passages.iloc[0]["text"]
        assert user.index(DATA_BEGIN) < user.index(first[:40]) < user.index(
            DATA_END)


def test_summaries_page_reads_and_builds(url):
    app = AppTest.from_file(str(ROOT / "pages" / "summaries.py"), default_timeout=120)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("No weekly summary" in i.value for i in app.info)
    app.button[0].click().run()  # build (offline, extractive) from the button
    assert not app.exception, [e.value for e in app.exception]
    assert app.subheader and any("Extractive summary" in i.value for i in app.info)
    app.text_input[0].input("Is Article 5 credible?")
    next(b for b in app.button if b.label == "Ask").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert len(app.dataframe) == 1  # documents behind the summary
    # retrieved passages, each whole with a button that opens its document
    assert any("similarity" in m.value for m in app.markdown)
    assert any(b.label == "Open document" for b in app.button)
