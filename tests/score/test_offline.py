import pytest
from pydantic import ValidationError
from scipy.stats import spearmanr
from sqlalchemy import func, select

from analytics.ingest.providers.demo import DemoCorpus
from analytics.ingest.runner import ingest_records
from analytics.score.backends.offline import OfflineBackend
from analytics.score.pipeline import score_topic
from analytics.score.retrieval import prepare
from analytics.score.schema import DocumentScores, ScoreValue
from analytics.store import Analysis, Chunk, session_scope
from analytics.store import queries as q


def test_out_of_range_score_is_rejected():
    with pytest.raises(ValidationError):
        ScoreValue(value=11)
    with pytest.raises(ValidationError):
        ScoreValue(value=-0.5)


def test_long_summary_is_rejected():
    with pytest.raises(ValidationError):
        DocumentScores(on_topic=True, summary="word " * 121, scores={})


def test_off_topic_result_has_no_scores():
    result = DocumentScores(on_topic=False, summary="x", scores={"unity": ScoreValue(value=7)})
    assert result.scores["unity"].value is None


def test_score_keys_must_match_topic():
    result = DocumentScores(on_topic=True, summary="x", scores={"unity": ScoreValue(value=7)})
    with pytest.raises(ValueError, match="missing"):
        result.check_keys(["unity", "sentiment"])


def test_offline_backend_reads_direction_and_nulls(settings, topic):
    backend = OfflineBackend(settings)
    docs = [
        prepare(1, "Allies show rare unity", "The allies stand fully united and speak with one "
                "voice. Every member signed on, presenting a completely united front.", []),
        prepare(2, "Rifts", "The allies are bitterly divided and openly feuding with one another. "
                "Germany threatened to leave NATO as the rift between members deepened.", []),
        prepare(3, "Weekend roundup", "The football season opened with a surprise win. "
                "A heatwave is expected across southern Europe.", []),
    ]
    united, divided, off_topic = (o.result for o in backend.score_batch(docs, topic))
    assert united.scores["unity"].value > 6 > 4 > divided.scores["unity"].value
    assert united.scores["unity"].evidence and united.scores["unity"].rationale
    assert not off_topic.on_topic and off_topic.scores["unity"].value is None


def test_rescoring_is_a_cache_hit(settings, topic):
    ingest_records(DemoCorpus(topic, 40, seed=5).documents(), topic="nato", provider="demo")
    first = score_topic(topic, settings=settings)
    assert first.scored == 40 - first.skipped_duplicates and first.failed == 0
    second = score_topic(topic, settings=settings)
    assert second.scored == second.cached == 0
    with session_scope() as session:
        assert session.scalar(select(func.count(Analysis.id))) == first.scored
        assert session.scalar(select(func.count(Chunk.id))) > first.scored
        row = session.scalar(select(Analysis).limit(1))
        assert row.backend == "offline" and row.prompt_hash and row.software_version
        assert row.latency_s is not None


def test_syndicated_copies_are_not_scored_again(settings, topic):
    docs = list(DemoCorpus(topic, 5, seed=9).documents())
    ingest_records(docs, topic="nato", provider="demo")
    score_topic(topic, settings=settings)
    for doc in docs:  # the same texts arrive again from another source: linked, not re-scored
        doc.external_id += "-mirror"
        doc.source = "reddit" if doc.source != "reddit" else "news"
    ingest_records(docs, topic="nato", provider="demo")
    with session_scope() as session:
        assert session.scalar(select(func.count(Analysis.id))) == 5


def test_offline_scores_recover_the_demo_unity_path(demo_settings, topic):
    """Spearman(daily mean of offline unity scores, latent unity) must be at least 0.6."""
    with session_scope() as session:
        scored = q.scored_frame(session, "nato", topic.score_keys)
        truth = q.demo_truth_frame(session, "nato")
    daily = q.daily_scores(scored, topic.score_keys)
    merged = daily[daily["score"] == "unity"].merge(truth[truth["score"] == "unity"], on="day")
    rho = spearmanr(merged["mean"], merged["value"])[0]
    print(f"recovery spearman(unity daily mean, latent) = {rho:.3f} over {len(merged)} days")
    assert len(merged) > 300
    assert rho >= 0.6


def test_learned_sentiment_recovers_the_demo_sentiment_path(demo_settings, topic):
    """NATO 'sentiment' is scored by the learned attitude scorer. Measured on the 3,000-doc
    demo (seed 42): Spearman(daily mean, latent) 0.550 with 78 % of documents addressed,
    against 0.453 and 61 % for the zero-shot scorer it replaced; it must not fall below
    the zero-shot level."""
    with session_scope() as session:
        scored = q.scored_frame(session, "nato", topic.score_keys)
        truth = q.demo_truth_frame(session, "nato")
    daily = q.daily_scores(scored, topic.score_keys)
    merged = daily[daily["score"] == "sentiment"].merge(
        truth[truth["score"] == "sentiment"], on="day")
    rho = spearmanr(merged["mean"], merged["value"])[0]
    print(f"recovery spearman(sentiment daily mean, latent) = {rho:.3f} over {len(merged)} days")
    assert len(merged) > 300
    assert rho >= 0.45
    assert scored["sentiment"].notna().mean() >= 0.7
