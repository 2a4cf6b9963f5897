"""Language detection at ingest, the English-only offline scorers' null with a reason, and
the language filter of the shared view."""

from __future__ import annotations

import datetime as dt

from analytics.ingest.language import detect_language
from analytics.ingest.runner import ingest_records
from analytics.score.pipeline import score_topic
from analytics.store import queries, session_scope
from analytics.store.records import DocumentRecord

TEXTS = {
    "en": "NATO allies met in Brussels and agreed to raise their defence budgets next year.",
    "de": "Die NATO-Verbündeten trafen sich in Brüssel und einigten sich auf höhere "
          "Verteidigungshaushalte im nächsten Jahr.",
    "fr": "Les alliés de l'OTAN se sont réunis à Bruxelles et ont accepté d'augmenter leurs "
          "budgets de défense l'année prochaine.",
}


def records():
    day = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    out = [DocumentRecord(source="news", provider="t", external_id=lang, topic="nato", text=text,
                          published_at=day, lang="en" if lang == "de" else None)
           for lang, text in TEXTS.items()]
    out.append(DocumentRecord(source="news", provider="t", external_id="short", topic="nato",
                              text="NATO ok", published_at=day))
    return out


def test_detection_names_the_language_or_abstains_on_short_text():
    assert {lang: detect_language(text) for lang, text in TEXTS.items()} == {
        "en": "en", "de": "de", "fr": "fr"}
    assert detect_language("NATO ok") is None
    assert detect_language("") is None


def test_ingest_stores_the_detected_language_and_keeps_the_declared_one(settings):
    ingest_records(records(), topic="nato", provider="t")
    with session_scope() as session:
        frame = queries.documents_frame(session, "nato").set_index("external_id")
        assert frame["lang"].fillna("none").to_dict() == {"en": "en", "de": "de", "fr": "fr",
                                                          "short": "none"}
        from analytics.store import Document

        german = session.query(Document).filter_by(external_id="de").one()
        assert german.meta["declared_lang"] == "en"  # the provider's claim, overruled
        counts = queries.language_counts(session, "nato").set_index("language")["documents"]
        assert counts.to_dict() == {"de": 1, "en": 1, "fr": 1, "unknown": 1}
        only = queries.documents_frame(session, "nato", languages=["de", "unknown"])
        assert sorted(only["external_id"]) == ["de", "short"]


def test_offline_scores_of_other_languages_are_null_with_the_reason(settings, topic):
    ingest_records(records(), topic="nato", provider="t")
    score_topic(topic, settings=settings)
    with session_scope() as session:
        scored = queries.scored_frame(session, "nato", topic.score_keys).set_index("id")
        frame = queries.documents_frame(session, "nato").set_index("id")
        scored = scored.join(frame[["external_id"]])
        foreign = scored[scored["external_id"].isin(["de", "fr"])]
        assert foreign[topic.score_keys].isna().all().all()
        assert not foreign["on_topic"].any()
        english = scored[scored["external_id"] == "en"]
        assert english["sentiment"].notna().all()  # English is scored as before
        reasons = queries.unscored_reasons(session, "nato").set_index("reason")["documents"]
        assert reasons.to_dict() == {"language not supported (de)": 1,
                                     "language not supported (fr)": 1}
        by_language = queries.scored_frame(session, "nato", topic.score_keys,
                                           languages=["en"])
        assert len(by_language) == 1


def test_documents_table_says_why_a_document_has_no_scores(settings, topic):
    from analytics.dashboard.tables import documents_table, scores_as_text

    ingest_records(records(), topic="nato", provider="t")
    score_topic(topic, settings=settings)
    keys = tuple(topic.score_keys)
    with session_scope() as session:
        table = documents_table(queries.documents_frame(session, "nato"),
                                queries.scored_frame(session, "nato", keys), keys,
                                queries.unscored_documents(session, "nato"))
        ids = queries.documents_frame(session, "nato").set_index("id")["external_id"]
    shown = scores_as_text(table, keys).assign(external_id=table["id"].map(ids))
    shown = shown.set_index("external_id")
    assert (shown.loc["de", list(keys)] == "language not supported (de)").all()
    assert (shown.loc["fr", list(keys)] == "language not supported (fr)").all()
    assert not shown.loc["en", list(keys)].str.startswith("language").any()


def test_overview_counts_only_documents_with_scores_and_says_why_not(settings, topic):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    ingest_records(records(), topic="nato", provider="t")
    score_topic(topic, settings=settings)
    page = Path(__file__).resolve().parents[2] / "pages" / "overview.py"
    app = AppTest.from_file(str(page), default_timeout=120).run()
    assert not app.exception, [e.value for e in app.exception]
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Documents"] == "4"
    assert metrics["Scored"] == "2"  # English and the short text; not the de/fr ones
    assert any(i.value.startswith("2 document(s) could not be scored") for i in app.info)
