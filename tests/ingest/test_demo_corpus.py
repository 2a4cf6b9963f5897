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
