"""Headlines obey validation: the agreement behind every trend sentence, the DSL estimate or
a plain "cannot be stated" when agreement is poor, "not validated" without labels."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from analytics.core.topics import load_topic
from analytics.report.headlines import NOT_VALIDATED, UNSTATED, Validation, headline
from analytics.store import Analysis


@dataclass
class Diagnostics:
    def plain_words(self) -> str:
        return "sampler healthy"


@dataclass
class FallingFit:
    """What ``headline`` reads from a TrendFit: a clearly falling machine-score trend."""

    start: dt.date = dt.date(2026, 1, 1)
    end: dt.date = dt.date(2026, 3, 31)
    window_days: int = 90
    p_decline: float = 0.99
    form: str = "linear"
    form_label: str = "straight line"
    stale: bool = False
    diagnostics: Diagnostics = field(default_factory=Diagnostics)

    def change(self):
        return {"mean": -1.4, "hdi_low": -2.0, "hdi_high": -0.8}

    def slope(self):
        return {"mean": -5.6}

    def detected_changes(self):
        return pd.DataFrame()


@pytest.fixture
def score():
    return load_topic("nato").score("unity")


def test_without_labels_the_headline_says_not_validated(score):
    line = headline(score, FallingFit())
    assert line.sentence.startswith("NATO unity: falling — -1.4 points")
    assert line.sentence.endswith(NOT_VALIDATED) and line.direction == "falling"


def test_good_agreement_states_the_trend_with_alpha_interval_and_n(score):
    good = Validation(pairs=120, alpha=0.84, alpha_low=0.78, alpha_high=0.89, verdict="good")
    line = headline(score, FallingFit(), good)
    assert line.direction == "falling" and "P(decline) = 99%" in line.sentence
    assert "α = 0.84 [0.78, 0.89] on 120 coded documents" in line.sentence
    assert "not validated" not in line.sentence.lower()


def test_poor_agreement_uses_the_bias_corrected_estimate(score):
    poor = Validation(pairs=60, alpha=0.43, alpha_low=0.30, alpha_high=0.55,
                      corrected_slope=-0.3, corrected_low=-1.2, corrected_high=0.6,
                      gold_documents=60)
    line = headline(score, FallingFit(), poor)
    assert line.direction == "no clear direction"  # the DSL interval includes zero
    assert line.sentence.startswith("NATO unity: no clear direction by the bias-corrected "
                                    "(DSL) estimate — -0.30 points per year (95% CI -1.20 to "
                                    "+0.60")
    assert "agreement with human coding is poor" in line.sentence
    assert "α = 0.43 [0.30, 0.55] on 60 coded documents" in line.sentence
    # a year-long window: the machine-score yearly rate is not stated either
    assert "Underlying trend" not in headline(score, FallingFit(window_days=365), poor).sentence
    assert "Underlying trend" in headline(score, FallingFit(window_days=365)).sentence


def test_poor_agreement_without_a_corrected_estimate_states_no_direction(score):
    poor = Validation(pairs=30, alpha=0.2)
    line = headline(score, FallingFit(), poor)
    assert line.direction == UNSTATED
    assert line.sentence.startswith("NATO unity: the direction cannot be stated")
    assert not line.sentence.startswith("NATO unity: falling")


def test_labels_too_few_to_measure_are_not_called_validated(score):
    few = Validation(pairs=1, alpha=float("nan"))
    line = headline(score, FallingFit(), few)
    assert "not validated" in line.sentence and line.direction == "falling"
    assert np.isnan(few.alpha)


def test_evidence_is_the_validation_pages_agreement(settings, topic):
    from analytics.ingest.providers.demo import DemoCorpus
    from analytics.ingest.runner import ingest_records
    from analytics.report.headlines import headline_evidence
    from analytics.score.pipeline import score_topic
    from analytics.store import queries, session_scope
    from analytics.validate import agreement_per_score, save_labels

    ingest_records(DemoCorpus(topic, 80, seed=3).documents(), topic="nato", provider="demo")
    score_topic(topic, settings=settings)
    rng = np.random.default_rng(0)
    with session_scope() as session:
        scored = queries.scored_frame(session, "nato", topic.score_keys)
        rows = scored[scored["unity"].notna()].head(30)
        for row in rows.itertuples():
            human = float(np.clip(row.unity + rng.normal(0, 0.3), 0, 10))
            save_labels(session, topic, int(row.id), "A", {"unity": human})
    with session_scope() as session:
        evidence = headline_evidence(session, topic)
        page = agreement_per_score(session, topic)
        version = session.scalars(select(Analysis.scorer_version)).first()
    unity = evidence["unity"]
    assert unity.pairs == page.loc["unity", "pairs"] == 30
    assert unity.alpha == pytest.approx(page.loc["unity", "alpha"])
    assert unity.alpha_low <= unity.alpha <= unity.alpha_high
    assert not unity.poor and unity.scorer == version and "attitude-" in version
    assert evidence["sentiment"].pairs == 0
    assert headline(topic.score("sentiment"), FallingFit(), evidence["sentiment"]
                    ).sentence.endswith(NOT_VALIDATED)
