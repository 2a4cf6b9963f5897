"""The learned offline attitude scorer: mentions, the topic schema, the backend, training."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from pydantic import ValidationError
from sqlalchemy import select

from analytics.core.errors import BadInput
from analytics.core.topics import Topic
from analytics.ingest.runner import ingest_records
from analytics.score.attitude import ARTEFACT, AttitudeModel, find_mentions
from analytics.score.backends.offline import OfflineBackend
from analytics.score.pipeline import score_topic
from analytics.score.retrieval import prepare
from analytics.store import Analysis, session_scope
from analytics.store.records import DocumentRecord
from tests.support.paths import SHARED_DATA

USER_TOPIC = """
name: russia_ukraine
title: Russia and Ukraine
target: Russia and Ukraine
keywords: [Russia, Ukraine]
scores:
  - key: attitude_russia
    label: Attitude toward Russia
    kind: attitude
    target: Russia
    aliases: [Putin, Kremlin]
    question: What attitude toward Russia does the text express?
    low: "0 = hostile"
    high: "10 = favourable"
  - key: attitude_ukraine
    label: Attitude toward Ukraine
    kind: attitude
    target: Ukraine
    aliases: [Zelensky, Kyiv]
    question: What attitude toward Ukraine does the text express?
    low: "0 = hostile"
    high: "10 = favourable"
"""


def user_topic() -> Topic:
    return Topic.model_validate(yaml.safe_load(USER_TOPIC))


def spans_text(text: str, target: str, aliases=()) -> list[str]:
    return [text[a:b] for a, b in find_mentions(text, target, aliases)]


def test_mentions_follow_the_generic_rule():
    text = ("Russia's army and Russian troops; #StandWithUkraine, Ukrainians rally; "
            "the Kremlin said; Prussia is no match; NATO's summit, NATOs, natoistic")
    assert spans_text(text, "Russia", ["Kremlin"]) == ["Russia's", "Russian", "Kremlin"]
    assert spans_text(text, "Ukraine") == ["Ukraine", "Ukrainians"]
    assert spans_text(text, "NATO") == ["NATO's", "NATOs"]  # an acronym gets no derived form
    assert find_mentions("Nothing here.", "NATO", ["the alliance"]) == []


def test_topic_schema_accepts_attitude_scores_and_rejects_unknown_kinds(topic):
    parsed = user_topic()
    assert [s.kind for s in parsed.scores] == ["attitude", "attitude"]
    assert parsed.scores[0].attitude_target(parsed.target) == "Russia"
    assert topic.score("sentiment").kind == "attitude"  # the NATO topic uses it
    assert topic.score("unity").kind == "prototype"
    raw = yaml.safe_load(USER_TOPIC)
    raw["scores"][0]["kind"] = "stance"
    with pytest.raises(ValidationError):
        Topic.model_validate(raw)


def test_packaged_artefact_is_small_and_recorded():
    record = json.loads(ARTEFACT.with_suffix(".json").read_text())
    assert ARTEFACT.stat().st_size <= 5 * 1024 * 1024
    model = AttitudeModel()
    assert record["artefact_sha256"] == model.sha256  # the record describes these weights
    assert {"data", "split_rule", "seed", "software", "held_out"} <= record.keys()
    assert model.version.startswith("attitude-") and model.sha256[:8] in model.version


def test_scoring_needs_no_training_dependency():
    """scikit-learn is a training-only dependency: scoring with the specific (n-gram) heads
    must not import it."""
    import subprocess
    import sys

    code = ("import sys; from analytics.score.attitude import AttitudeModel, AttitudeTarget; "
            "m = AttitudeModel(); h = m.specific_head(AttitudeTarget('Russia')); "
            "p = m.lexical_probabilities('Russia shelled the city again.', h); "
            "assert abs(p.sum() - 1) < 1e-5; "
            "print(sorted(k for k in sys.modules if k.split('.')[0] == 'sklearn'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_backend_reads_attitude_toward_the_named_target(settings):
    backend = OfflineBackend(settings)
    docs = [
        prepare(1, None, "Ukraine is defending itself bravely and deserves all our support. "
                "Russia is a brutal aggressor committing war crimes.", []),
        prepare(2, None, "Putin is a great leader who protects his people. Zelensky is a "
                "corrupt puppet who keeps begging for money.", []),
        prepare(3, None, "The football season opened with a surprise win.", []),
    ]
    first, second, neither = (o.result for o in backend.score_batch(docs, user_topic()))
    assert first.scores["attitude_ukraine"].value > 5 > first.scores["attitude_russia"].value
    assert second.scores["attitude_russia"].value > 5 > second.scores["attitude_ukraine"].value
    assert first.scores["attitude_ukraine"].evidence == [0]
    assert "mention Ukraine" in first.scores["attitude_ukraine"].rationale
    assert neither.scores["attitude_russia"].value is None  # not addressed
    assert not neither.on_topic
    # one pass: the stored chunk vectors equal the plain encoder's
    from analytics.llm.embeddings import get_embedder

    plain = get_embedder().encode([docs[0].passages[0].text.split(". ")[0] + "."])
    assert docs[0].embeddings is not None and docs[0].embeddings.shape == (1, 384)
    assert np.isfinite(plain).all()


def test_span_encoder_gives_the_plain_sentence_vectors():
    from analytics.llm.embeddings import get_embedder

    texts = ["NATO allies met in Brussels.", "Short.", "A longer sentence about Ukraine and "
             "Russia, with a few more words to pad it out a little."]
    sentence, mention, _context, has = get_embedder().encode_with_spans(
        texts, [[[(0, 4)]], [[]], [[(36, 43)]]])
    assert np.allclose(sentence, get_embedder().encode(texts), atol=1e-5)
    assert has.tolist() == [[True], [False], [True]]
    assert mention.shape == (3, 1, 2, 384) and not mention[1].any()


def test_analyses_record_the_scorer_version_and_the_cache_key_follows_it(settings, tmp_path,
                                                                         monkeypatch, topic):
    import datetime as dt

    records = [DocumentRecord(source="news", provider="t", external_id=str(i), topic="nato",
                              text=text, published_at=dt.datetime(2026, 1, 1 + i, tzinfo=dt.UTC))
               for i, text in enumerate(["NATO keeps Europe safe and deserves praise.",
                                         "NATO is a reckless, aggressive bloc."])]
    ingest_records(records, topic="nato", provider="t")
    first = score_topic(topic, settings=settings)
    assert first.scored == 2
    with session_scope() as session:
        rows = session.scalars(select(Analysis)).all()
        versions = {r.scorer_version for r in rows}
        values = sorted(r.scores["sentiment"] for r in rows)
    model = AttitudeModel()
    assert versions == {f"zero-shot-{__import__('analytics').__version__}+{model.version}"}
    assert values[0] < 5 < values[1]
    # other weights -> another scorer version -> another cache key: everything is re-scored
    other = tmp_path / "other.npz"
    with np.load(ARTEFACT) as data:
        np.savez(other, **{k: data[k] * np.float16(0.5) for k in data.files})
    backend = OfflineBackend(settings)
    before = backend.config_hash(topic)
    monkeypatch.setenv("ANALYTICS_ATTITUDE_MODEL", str(other))
    from analytics.core.settings import get_settings, reset_settings_cache

    reset_settings_cache()
    assert OfflineBackend(get_settings()).config_hash(topic) != before
    again = score_topic(topic, settings=get_settings())
    assert again.scored == 2 and again.cached == 0


def test_training_refuses_a_single_class():
    from analytics.score.attitude_train import train_head

    x = np.random.default_rng(0).normal(size=(40, 8)).astype(np.float32)
    with pytest.raises(BadInput, match="one class only"):
        train_head(x, np.ones(40, int), np.ones(40, np.float32), seed=0)


def test_training_is_deterministic_given_the_seed():
    from analytics.score.attitude_train import train_head

    rng = np.random.default_rng(1)
    x = rng.normal(size=(120, 16)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int) * 2
    w = np.ones(120, np.float32)
    a, b = (train_head(x, y, w, seed=3, hyper={"epochs": 3}) for _ in range(2))
    c = train_head(x, y, w, seed=4, hyper={"epochs": 3})
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["w1"], c["w1"])


@pytest.mark.skipif(not (SHARED_DATA / "ruw_stance").is_dir(),
                    reason="needs ../shared/data (NewsMTSC and RUW)")
def test_training_command_writes_weights_and_record(tmp_path):
    from typer.testing import CliRunner

    from analytics.cli import app

    out = tmp_path / "attitude.npz"
    result = CliRunner().invoke(app, ["train-attitude", "--data", str(SHARED_DATA), "--out",
                                      str(out), "--limit", "40", "--threads", "1"])
    assert result.exit_code == 0, result.output
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["train_units"]["newsmtsc"] <= 40 and record["limit"] == 40
    assert record["artefact_sha256"] == AttitudeModel(out).sha256
    assert 0 <= record["held_out"]["newsmtsc"]["macro_f1"] <= 1
    assert "data/ruw_stance/train.csv" in record["data"]
    assert {h["key"] for h in record["specific_heads"]} == {"russia", "ukraine"}
    assert "scikit-learn" in record["software"]


def test_training_alpha_is_the_validation_stage_alpha():
    from analytics.score.attitude_train import alpha_two_coders
    from analytics.validate.metrics import krippendorff_alpha

    rng = np.random.default_rng(0)
    a = rng.uniform(0, 10, 60)
    b = a + rng.normal(0, 2, 60)
    assert alpha_two_coders(a, b) == pytest.approx(krippendorff_alpha(np.vstack([a, b])))


# --- target-specific heads (RUW's Russia and Ukraine) -----------------------------------------

def test_specific_heads_serve_only_targets_with_human_labels():
    from analytics.score.attitude import AttitudeTarget

    model = AttitudeModel()
    record = json.loads(ARTEFACT.with_suffix(".json").read_text())
    heads = {h["key"]: h for h in record["specific_heads"]}
    assert set(heads) == {"russia", "ukraine"} and all("RUW" in h["data"] for h in heads.values())
    russia = model.specific_head(AttitudeTarget("Russia", ("Putin",)))
    assert russia is not None and model.heads[russia].key == "russia"
    # matched through an alias, case-insensitive
    assert model.specific_head(AttitudeTarget("Russian Federation", ("russia",))) == russia
    ukraine = model.specific_head(AttitudeTarget("Ukraine"))
    assert ukraine is not None and ukraine != russia
    for general in ("NATO", "the European Union", "Putin's party"):
        assert model.specific_head(AttitudeTarget(general)) is None
    assert len(model.extra) == len(record["extra_seeds"]) >= 1
    assert model.lexical["coef"].shape[:2] == (2, 3)


def test_specific_head_is_used_by_the_backend_and_the_general_one_elsewhere(settings, topic):
    backend = OfflineBackend(settings)
    docs = [prepare(1, None, "Russia is a brutal aggressor committing war crimes. Ukraine is "
                    "defending itself bravely and deserves our support.", [])]
    result = backend.score_batch(docs, user_topic())[0].result
    assert "target-specific head" in result.scores["attitude_russia"].rationale
    assert result.scores["attitude_russia"].value < 5 < result.scores["attitude_ukraine"].value
    nato = backend.score_batch([prepare(2, None, "NATO is a reckless, aggressive bloc.", [])],
                               topic)[0].result
    assert "target-specific head" not in nato.scores["sentiment"].rationale
    # the specific head is deterministic: the same text, the same value
    again = backend.score_batch(docs, user_topic())[0].result
    assert again.scores["attitude_russia"].value == result.scores["attitude_russia"].value


def test_hashed_ngrams_are_scikit_learns_ngrams():
    from sklearn.feature_extraction.text import TfidfVectorizer

    from analytics.score.lexical import char_grams, word_grams

    text = "Stand with #Ukraine!  Putin's war -- a 'special operation'? No.\nSlava Ukraini"
    words = TfidfVectorizer(ngram_range=(1, 2)).build_analyzer()(text)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)).build_analyzer()(text)
    assert sorted(word_grams(text)) == sorted(words)
    assert sorted(char_grams(text)) == sorted(chars)


def test_lexical_heads_train_deterministically_and_refuse_one_class():
    from analytics.score.attitude_train import train_lexical

    texts = ["Russia is to blame", "Russia is right", "nothing here", "Ukraine is brave",
             "blame Russia again", "Russia right again"] * 3
    labels = {"russia": np.array([0, 2, 1, 1, 0, 2] * 3)}
    a, b = train_lexical(texts, labels), train_lexical(texts, labels)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    with pytest.raises(BadInput, match="one class only"):
        train_lexical(texts, {"russia": np.ones(len(texts), int)})


@pytest.mark.skipif(not (SHARED_DATA / "ruw_stance").is_dir(),
                    reason="needs ../shared/data (NewsMTSC and RUW)")
def test_packaged_record_names_the_data_it_was_trained_on():
    import hashlib

    record = json.loads(ARTEFACT.with_suffix(".json").read_text())
    for relative, digest in record["data"].items():
        path = SHARED_DATA.parent / relative
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, relative
    assert record["version"] == "2" and record["held_out"]["ruw"].keys() == {"russia", "ukraine"}
