import datetime as dt

import numpy as np

from analytics.ingest.providers.demo import DEMO_DAYS, DemoCorpus, truth_frame, truth_parameters


def _signature(corpus):
    return [(d.external_id, d.published_at, d.title, d.text, [c.text for c in d.comments])
            for d in corpus.documents()]


def test_same_seed_same_corpus(topic):
    assert _signature(DemoCorpus(topic, 150, seed=3)) == _signature(DemoCorpus(topic, 150, seed=3))


def test_other_seed_other_corpus(topic):
    assert _signature(DemoCorpus(topic, 150, seed=3)) != _signature(DemoCorpus(topic, 150, seed=4))


def test_corpus_shape(topic):
    docs = list(DemoCorpus(topic, 3000, seed=42).documents())
    days = {d.published_at.date() for d in docs}
    assert len(docs) >= 1500 and len(days) > 330
    assert (max(days) - min(days)).days >= 360
    by_source = {s: [d for d in docs if d.source == s] for s in ("news", "youtube", "reddit")}
    assert all(by_source.values())
    assert all(d.comments for d in by_source["youtube"] + by_source["reddit"])
    assert any(c.parent_external_id for d in by_source["reddit"] for c in d.comments)
    partial = [d for d in docs if 0 < len(d.meta["demo_opinion"]) < 3]
    off_topic = [d for d in docs if d.meta["off_topic"]]
    assert len(partial) > 300 and 50 < len(off_topic) < 400


def test_truth_has_trend_and_shocks(topic):
    truth = truth_frame(topic)
    assert len(truth) == DEMO_DAYS * 3
    params = truth_parameters(topic)
    for key in topic.score_keys:
        assert len(params["paths"][key]["shocks"]) >= 2
        values = truth[truth["score"] == key]["value"].to_numpy()
        assert np.abs(np.diff(values)).max() > 1.0  # a shock is a jump, not a drift


def test_wording_reflects_latent_values(topic):
    docs = list(DemoCorpus(topic, 400, seed=1).documents())
    low = [d.text for d in docs if d.meta["demo_opinion"].get("unity", 5) < 3]
    high = [d.text for d in docs if d.meta["demo_opinion"].get("unity", 5) > 7]
    assert low and high
    assert sum("united" in t or "solidarity" in t for t in high) > sum(
        "united" in t or "solidarity" in t for t in low)


def test_outlets_follow_their_shares_and_react_with_their_response(topic):
    """Every document has an outlet of its source; outlets take the shocks times their
    response, so a calm outlet's documents move less after the February shock."""
    from analytics.ingest.providers.demo import OUTLETS

    docs = list(DemoCorpus(topic, 3000, seed=42).documents())
    names = {s: {o.name for o in outlets} for s, outlets in OUTLETS.items()}
    assert all(d.outlet in names[d.source] for d in docs)
    news = [d for d in docs if d.source == "news"]
    share = sum(d.outlet == "atlantic-herald.example" for d in news) / len(news)
    assert 0.2 < share < 0.3  # declared share 0.25

    shock = dt.date(2026, 2, 14)

    def unity_after_shock(outlet: str) -> float:
        values = [d.meta["demo_opinion"]["unity"] for d in docs if d.outlet == outlet
                  and "unity" in d.meta["demo_opinion"]
                  and 0 <= (d.published_at.date() - shock).days < 14]
        return float(np.mean(values))

    assert unity_after_shock("baltic-observer.example") < unity_after_shock(
        "frontier-news.example") - 1.0


def test_outlet_of_reads_domain_subreddit_channel_and_feed():
    from analytics.ingest.outlets import outlet_of
    from analytics.store.records import DocumentRecord

    def record(source, **extra):
        return DocumentRecord(source=source, provider="p", external_id="x", topic="t",
                              published_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), text="t",
                              **extra)

    assert outlet_of(record("news", meta={"domain": "www.example.org"})) == "example.org"
    assert outlet_of(record("news", meta={"site": "news.example"})) == "news.example"
    assert outlet_of(record("news", meta={"feed": "https://m.feeds.example/rss"})) == \
        "feeds.example"
    assert outlet_of(record("news", url="https://www.paper.example/a/b")) == "paper.example"
    assert outlet_of(record("reddit", meta={"subreddit": "europe"})) == "r/europe"
    assert outlet_of(record("youtube", author="Channel X", meta={"channel_id": "UC1"})) == \
        "Channel X"
    assert outlet_of(record("youtube", meta={"channel_id": "UC1"})) == "UC1"
    assert outlet_of(record("news")) is None
