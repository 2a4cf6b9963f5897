"""Validation: agreement statistics, sampling, DSL-corrected trends, the annotation page."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from analytics import validate as v
from analytics.core.topics import load_topic
from tests.conftest import TEST_SEED
from tests.support.paths import ROOT

nan = np.nan


# --- agreement statistics against hand computations -------------------------------------

def test_krippendorff_alpha_textbook_example():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", 4 coders x 12 units
    # with missing values: alpha = 0.743 (nominal), 0.849 (interval).
    data = [[1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
            [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan]]
    assert v.krippendorff_alpha(data, "nominal") == pytest.approx(0.743, abs=5e-4)
    assert v.krippendorff_alpha(data, "interval") == pytest.approx(0.849, abs=5e-4)


def test_krippendorff_alpha_small_example_with_missing_rating():
    # Units (1,2), (3,3), (5,-): the third is unpairable. Values 1,2,3,3 (n=4):
    # D_o = (1/4)(1+1+0+0) = 0.5; D_e = 2*(1+4+4+1+1+0)/(4*3) = 22/12; alpha = 8/11.
    assert v.krippendorff_alpha([[1, 3, 5], [2, 3, nan]]) == pytest.approx(8 / 11)
    assert np.isnan(v.krippendorff_alpha([[1, nan], [nan, 2]]))  # nothing pairable
    assert np.isnan(v.krippendorff_alpha([[4, 4], [4, 4]]))  # no variation: undefined


def test_compare_machine_and_human_by_hand():
    machine = [1, 2, None, 4, 6]
    human = [2, 2, 3, None, 5]  # None = not addressed
    result = v.compare(machine, human)
    # Pairs (1,2), (2,2), (6,5): MAE 2/3, bias 0; alpha = 1 - (4/6)/8 = 11/12.
    assert result.pairs == 3 and result.documents == 5
    assert result.mae == pytest.approx(2 / 3)
    assert result.bias == pytest.approx(0.0)
    assert result.alpha == pytest.approx(11 / 12)
    assert result.spearman == pytest.approx(np.sqrt(3) / 2)  # ranks (1,2,3) vs (1.5,1.5,3)
    assert result.addressed_agreement == pytest.approx(0.6)
    # kappa: p_o = 0.6, p_e = 0.8*0.8 + 0.2*0.2 = 0.68 -> (0.6 - 0.68) / 0.32 = -0.25
    assert result.addressed_kappa == pytest.approx(-0.25)
    assert result.verdict == "too few labels"


def test_verdict_thresholds():
    assert v.alpha_verdict(0.85, 50) == "good"
    assert v.alpha_verdict(0.70, 50) == "tentative"
    assert v.alpha_verdict(0.5, 50) == "poor"
    assert v.alpha_verdict(0.95, 5) == "too few labels"


def test_intercoder_alpha_with_two_annotators():
    topic = load_topic("nato")
    labels = pd.DataFrame({
        "document_id": [1, 1, 2, 2, 3, 4],
        "score": ["sentiment"] * 6,
        "value": [1.0, 3.0, 3.0, 3.0, 5.0, 7.0],
        "annotator": ["ann", "bob", "ann", "bob", "ann", "bob"],
    })
    table = v.intercoder_table(labels, topic).set_index("score")
    assert table.loc["sentiment", "documents"] == 2  # 3 and 4 are coded once only
    assert table.loc["sentiment", "alpha"] == pytest.approx(
        v.krippendorff_alpha([[1, 3], [3, 3]]))
    assert table.loc["unity", "documents"] == 0


# --- sampling ---------------------------------------------------------------------------

def _frame(n: int = 900, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed + TEST_SEED)
    days = rng.integers(0, 365, n)
    return pd.DataFrame({
        "id": np.arange(1, n + 1),
        "source": rng.choice(["news", "youtube", "reddit"], n, p=[0.7, 0.25, 0.05]),
        "published_at": pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(days, "D"),
    })


def test_stratified_sample_has_exact_inclusion_probabilities():
    frame = _frame()
    sample, info = v.draw_sample_frame(frame, 120, "stratified", seed=3, min_per_stratum=2)
    labels = v.strata(frame, "stratified")
    population = labels.value_counts()
    assert set(info) == set(population.index)
    for stratum, rows in sample.groupby("stratum"):
        expected = len(rows) / population[stratum]
        assert rows["inclusion_probability"].iloc[0] == pytest.approx(expected)
        assert len(rows) >= min(2, population[stratum])
    # Horvitz-Thompson estimate of the frame size is exact under this design.
    assert (1 / sample["inclusion_probability"]).sum() == pytest.approx(len(frame))
    assert sample["document_id"].is_unique
    assert sorted(sample["position"]) == list(range(len(sample)))
    simple, _ = v.draw_sample_frame(frame, 120, "simple", seed=3)
    assert len(simple) == 120 and np.allclose(simple["inclusion_probability"], 120 / 900)


# --- bias-corrected trend: simulated corpora --------------------------------------------

TRUE_SLOPE = -1.0  # points per year


def _corpus(rng: np.random.Generator, drift: float, n: int = 2000, gold: int = 250):
    """Human opinion declines 1 point/year; the scorer drifts upward by ``drift``/year.
    Gold labels oversample the second half of the year (pi differs by stratum)."""
    t = rng.uniform(0, 1, n)
    human = 6.0 + TRUE_SLOPE * t + rng.normal(0, 1.2, n)
    machine = human + drift * (t - 0.5) + rng.normal(0, 1.2, n)
    late = t >= 0.5
    pi = np.where(late, 1.5, 0.5) * gold / n
    labelled = rng.random(n) < pi  # Bernoulli sampling with known pi
    return t, machine, labelled, np.where(labelled, human, nan), pi


def _coverage(drift: float, reps: int = 50) -> tuple[float, float, float, float]:
    naive = corrected = 0
    slopes_n, slopes_c = [], []
    for rep in range(reps):
        result = v.dsl_trend(*_corpus(np.random.default_rng(1000 + rep + 10_000 * TEST_SEED),
                                      drift))
        naive += result.naive.covers(TRUE_SLOPE)
        corrected += result.corrected.covers(TRUE_SLOPE)
        slopes_n.append(result.naive.slope)
        slopes_c.append(result.corrected.slope)
    return naive / reps, corrected / reps, float(np.mean(slopes_n)), float(np.mean(slopes_c))


def test_drifting_scorer_naive_interval_misses_corrected_covers():
    naive, corrected, mean_naive, mean_corrected = _coverage(drift=2.0)
    assert naive <= 0.05, naive  # naive slope centres on -1 + 2 = +1
    assert corrected >= 0.86, corrected  # nominal 0.95; 50 reps -> sd ~0.03
    assert mean_naive == pytest.approx(TRUE_SLOPE + 2.0, abs=0.15)
    assert mean_corrected == pytest.approx(TRUE_SLOPE, abs=0.15)


def test_unbiased_scorer_both_agree():
    naive, corrected, mean_naive, mean_corrected = _coverage(drift=0.0)
    assert naive >= 0.86 and corrected >= 0.86, (naive, corrected)
    assert mean_naive == pytest.approx(mean_corrected, abs=0.1)
    result = v.dsl_trend(*_corpus(np.random.default_rng(7 + TEST_SEED), 0.0))
    assert result.corrected.se > result.naive.se  # the correction carries scorer error
    assert "agree" in result.verdict


def test_dsl_equals_ols_on_pseudo_outcomes_when_everything_is_addressed():
    t, machine, labelled, human, pi = _corpus(np.random.default_rng(3), 1.0, n=400, gold=80)
    pseudo = machine + np.where(labelled, (np.nan_to_num(human) - machine) / pi, 0.0)
    slope = np.polyfit(t, pseudo, 1)[0]
    assert v.dsl_trend(t, machine, labelled, human, pi).corrected.slope == pytest.approx(slope)


def test_few_gold_labels_give_no_corrected_slope():
    t, machine, _, human, pi = _corpus(np.random.default_rng(4), 1.0, n=300)
    labelled = np.zeros(300, bool)
    labelled[:5] = True
    result = v.dsl_trend(t, machine, labelled, human, pi)
    assert result.corrected is None and "too few" in result.verdict


# --- the database path, CSV, CLI and the page -------------------------------------------

@pytest.fixture
def small_db(scored_corpus):
    """This test's copy of 60 demo documents scored offline; samples of 30 by default."""
    return scored_corpus(60, seed=5, validation_sample_size=30)


def _code_sample_with_demo_truth(session, topic, annotator="truth", noise=0.0, seed=0):
    """A simulated coder: the demo's latent document opinion (absent = not addressed)."""
    from analytics.store import Document

    rng = np.random.default_rng(seed)
    sample = v.latest_sample(session, topic.name)
    for row in sample.documents.itertuples():
        opinion = session.get(Document, int(row.document_id)).meta.get("demo_opinion", {})
        values = {k: (None if k not in opinion else
                      float(np.clip(round(opinion[k] + rng.normal(0, noise), 1), 0, 10)))
                  for k in topic.score_keys}
        v.save_labels(session, topic, int(row.document_id), annotator, values,
                      row.inclusion_probability)
    return sample


def test_sample_labels_agreement_and_corrected_trend(small_db):
    from analytics.store import GoldLabel, session_scope

    topic = load_topic("nato")
    drawn = v.draw_sample(topic.name)
    assert len(drawn.documents) >= 30 and drawn.parameters["design"] == "stratified"
    with session_scope() as session:
        _code_sample_with_demo_truth(session, topic)
        _code_sample_with_demo_truth(session, topic, annotator="second", noise=0.5, seed=1)
        assert session.scalar(select(GoldLabel.annotator).limit(1)) == "truth"
        table = v.agreement_table(session, topic)
        badges = v.agreement_per_score(session, topic)
        coders = v.intercoder_table(v.labels_frame(session, topic.name), topic)
        trends = v.corrected_trend_table(session, topic)
    assert set(table["score"]) == set(topic.score_keys)
    assert (table["pairs"] > 0).all() and table["alpha"].between(-1, 1).all()
    assert list(badges.index) == topic.score_keys
    assert badges["note"].str.contains("Human agreement").all()
    assert (coders["documents"] >= 30).all() and (coders["alpha"] > 0.8).all()
    assert list(trends["score"]) == topic.score_keys
    assert trends["corrected_slope"].notna().all()
    assert (trends["corrected_low"] <= trends["corrected_high"]).all()


def test_labels_csv_roundtrip_and_bad_files(small_db):
    from analytics.store import session_scope

    topic = load_topic("nato")
    v.draw_sample(topic.name, size=10, design="simple")
    with session_scope() as session:
        sample = _code_sample_with_demo_truth(session, topic)
        exported = v.labels_csv(v.labels_frame(session, topic.name))
        sheet = v.coding_sheet_csv(session, topic)
    assert "not addressed" in exported or "demo_opinion" not in exported
    assert sheet.count("\n") > len(sample.documents) * len(topic.scores)
    renamed = exported.replace(",truth,", ",other,")
    with session_scope() as session:
        result = v.import_labels_csv(session, topic, renamed)
        labels = v.labels_frame(session, topic.name)
    assert result.stored == len(sample.documents) * 3
    assert set(labels["annotator"]) == {"truth", "other"}
    mine, theirs = (labels[labels["annotator"] == a].sort_values(["document_id", "score"])
                    for a in ("truth", "other"))
    assert np.array_equal(mine["value"].to_numpy(), theirs["value"].to_numpy(), equal_nan=True)
    first = int(sample.documents["document_id"].iloc[0])
    bad = f"document_id,score,value,annotator\n{first},sentiment,4,x\n{first},unity,11,x\n"
    with pytest.raises(v.LabelError, match="line 3"), session_scope() as session:
        v.import_labels_csv(session, topic, bad)
    with session_scope() as session:  # all-or-nothing: line 2 was not kept either
        assert "x" not in set(v.labels_frame(session, topic.name)["annotator"])
    with pytest.raises(v.LabelError, match="lacks column"), session_scope() as session:
        v.import_labels_csv(session, topic, "id,value\n1,2\n")


def test_cli_validate_commands(small_db):
    from typer.testing import CliRunner

    from analytics.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["validate", "sample", "--size", "12", "--design", "simple"])
    assert result.exit_code == 0, result.output
    assert "12 of" in result.output
    assert runner.invoke(app, ["validate", "agreement"]).exit_code == 0
    result = runner.invoke(app, ["validate", "corrected-trend"])
    assert result.exit_code == 0 and "too few" in result.output


def test_annotation_page_hides_machine_scores_until_saved(small_db):
    from streamlit.testing.v1 import AppTest

    from analytics.store import GoldLabel, session_scope

    topic = load_topic("nato")
    sample = v.draw_sample(topic.name, size=8, design="simple")
    first = int(sample.documents["document_id"].iloc[0])

    def machine_tables(app: AppTest) -> list:
        return [d for d in app.dataframe if any(str(c).startswith("machine")
                                                for c in d.value.columns)]

    app = AppTest.from_file(str(ROOT / "pages" / "validation.py"), default_timeout=60).run()
    assert not app.exception, [e.value for e in app.exception]
    app.text_input(key="annotator").input("Alice").run()
    assert app.selectbox(key="validation_doc").value == first
    assert not machine_tables(app)
    assert any("stay hidden" in c.value for c in app.caption)
    # Every score starts at "not addressed" until the coder says otherwise.
    assert app.checkbox(key=f"na_{first}_unity").value
    app.checkbox(key=f"na_{first}_sentiment").uncheck()
    app.slider(key=f"value_{first}_sentiment").set_value(8.0)
    next(b for b in app.button if b.label == "Save labels").click().run()
    assert not app.exception, [e.value for e in app.exception]
    with session_scope() as session:
        stored = {r.score: r for r in session.scalars(
            select(GoldLabel).where(GoldLabel.document_id == first))}
    assert stored["sentiment"].value == 8.0 and stored["sentiment"].annotator == "Alice"
    assert stored["unity"].value is None  # not addressed
    assert stored["sentiment"].sampling_probability == pytest.approx(8 / 60, rel=0.2)
    shown = machine_tables(app)
    assert len(shown) == 1
    assert shown[0].value.set_index("label").loc["Sentiment toward NATO", "yours"] == 8.0


def test_validation_page_shows_agreement_and_corrected_trends(small_db):
    from streamlit.testing.v1 import AppTest

    from analytics.store import session_scope

    topic = load_topic("nato")
    v.draw_sample(topic.name, size=30)
    with session_scope() as session:
        _code_sample_with_demo_truth(session, topic)
    app = AppTest.from_file(str(ROOT / "pages" / "validation.py"), default_timeout=60).run()
    assert not app.exception, [e.value for e in app.exception]
    assert len(app.get("plotly_chart")) == 2  # machine-vs-human scatter + slope comparison
    tables = [d.value for d in app.dataframe]
    assert any({"alpha", "mae", "spearman", "bias"} <= set(t.columns) for t in tables)
    assert any("corrected_slope" in t.columns for t in tables)
    assert any("Trust the corrected slope" in m.value or "agree within" in m.value
               for m in app.markdown)
