"""Full-text search: the web-search syntax, its FTS5 translation, and an index that follows
every insert, edit and delete (SQLite here; the PostgreSQL path is in tests/store/test_postgres)."""

import datetime as dt

import pytest
from sqlalchemy import delete, select

from analytics.store import Document, queries, session_scope
from analytics.store.records import DocumentRecord
from analytics.store.search import SearchError, fts5_expression, tsquery_sql
from analytics.store.writes import upsert_documents

TEXTS = {
    "a": "NATO allies pledge unity at the summit in Vilnius.",
    "b": "Article 5 guarantees are questioned by several members.",
    "c": "The summit ended without agreement on defence spending.",
    "d": "Unity among allies is a recurring theme of the alliance.",
    "e": "Fishing quotas were discussed in Brussels.",
}


def _store(topic: str = "nato") -> dict[str, int]:
    records = [DocumentRecord(source="news", provider="test", external_id=key, topic=topic,
                              published_at=dt.datetime(2026, 1, i + 1, tzinfo=dt.UTC),
                              title=f"Story {key}", text=text)
               for i, (key, text) in enumerate(TEXTS.items())]
    with session_scope() as session:
        upsert_documents(session, records)
    with session_scope() as session:
        return dict(session.execute(select(Document.external_id, Document.id)).all())


def _found(query: str, topic: str = "nato") -> set[str]:
    with session_scope() as session:
        ids = queries.search_document_ids(session, topic, query)
        names = dict(session.execute(select(Document.id, Document.external_id)).all())
    return {names[i] for i in ids}


@pytest.mark.parametrize(("query", "expression"), [
    ("nato unity", '"nato" "unity"'),
    ('"article 5" guarantees', '"article 5" "guarantees"'),
    ("unity OR agreement", '"unity" OR "agreement"'),
    ("summit -vilnius", '("summit") NOT ("vilnius")'),
    ('allies -"recurring theme"', '("allies") NOT ("recurring theme")'),
    ("defen*", '"defen"*'),
    ('nato") OR NEAR(x', '"nato" OR "NEAR x"'),  # syntax in the input stays text
])
def test_web_syntax_becomes_a_quoted_fts5_expression(query, expression):
    assert fts5_expression(query) == expression


@pytest.mark.parametrize("query", ["-summit", "OR", '""', "   "])
def test_a_query_without_a_positive_word_says_how_to_search(query):
    with pytest.raises(SearchError, match="at least one word"):
        fts5_expression(query)
    with pytest.raises(SearchError, match="at least one word"):
        tsquery_sql(query)


def test_postgresql_gets_the_same_terms_as_bound_parameters():
    expression, params = tsquery_sql('allies "article 5" OR defen* -vilnius -"x:* | y"')
    assert expression == (
        "((phraseto_tsquery('english', :term0) && phraseto_tsquery('english', :term1) || "
        "to_tsquery('english', :term3)) && !!(phraseto_tsquery('english', :term4) || "
        "phraseto_tsquery('english', :term5)))")
    assert params == {"term0": "allies", "term1": "article 5", "term3": "defen:*",
                      "term4": "vilnius", "term5": "x y"}


def test_search_finds_words_phrases_alternatives_exclusions_and_prefixes(settings):
    _store()
    assert _found("allies unity") == {"a", "d"}
    assert _found('"article 5"') == {"b"}
    assert _found("vilnius OR brussels") == {"a", "e"}
    assert _found("summit -vilnius") == {"c"}
    assert _found("defen*") == {"c"}
    assert _found("pledges") == {"a"}  # stemming: pledges ~ pledge
    assert _found("story") == set(TEXTS)  # titles are searched too
    assert _found("allies", topic="other") == set()


def test_the_index_follows_edits_and_deletes(settings):
    ids = _store()
    with session_scope() as session:
        session.get(Document, ids["e"]).text = "Allies met in Brussels to discuss unity."
    assert _found("allies unity") == {"a", "d", "e"}
    with session_scope() as session:
        session.execute(delete(Document).where(Document.id == ids["a"]))
    assert _found("allies unity") == {"d", "e"}
    assert _found("vilnius") == set()


def test_relevance_ranks_the_denser_match_first(settings):
    _store()
    dense = DocumentRecord(source="news", provider="test", external_id="f", topic="nato",
                           published_at=dt.datetime(2026, 2, 1, tzinfo=dt.UTC), title="Unity",
                           text="Unity, unity, unity: the allies speak of nothing but unity.")
    with session_scope() as session:
        upsert_documents(session, [dense])
    with session_scope() as session:
        ranked = queries.search_document_ids(session, "nato", "unity")
        names = dict(session.execute(select(Document.id, Document.external_id)).all())
    order = [names[i] for i in ranked]
    assert order[0] == "f" and set(order) == {"a", "d", "f"}
    assert all(score > 0 for score in ranked.values())
