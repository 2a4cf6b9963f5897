"""What changed around a date: checked against a constructed truth, then on the demo, whose
outlets react to its shocks with known strength (``demo.OUTLETS``)."""

import datetime as dt

import numpy as np
import pandas as pd

from analytics.core.views import SOURCES
from analytics.ingest.providers.demo import OUTLETS
from analytics.trends import load_scored
from analytics.trends.around import around
from tests.conftest import TEST_SEED

DAY = dt.date(2026, 3, 1)


def constructed() -> pd.DataFrame:
    """Outlet 'mover' drops by 2 points on DAY, 'steady' does not, 'thin' has 2 documents."""
    rng = np.random.default_rng(TEST_SEED)
    rows = []
    for outlet, source, n, drop in (("mover", "news", 200, -2.0), ("steady", "reddit", 200, 0.0),
                                    ("thin", "news", 2, -5.0)):
        offsets = rng.integers(-14, 14, n)
        after = offsets >= 0
        rows.append(pd.DataFrame({
            "id": np.arange(n) + 1000 * len(rows), "source": source, "outlet": outlet,
            "title": "t", "published_at": pd.Timestamp(DAY, tz="UTC")
            + pd.to_timedelta(offsets, unit="D") + pd.Timedelta(hours=12),
            "s": 6.0 + drop * after + rng.normal(0, 1.0, n)}))
    return pd.concat(rows, ignore_index=True)


def test_changes_intervals_ranking_and_contributions_match_the_construction():
    result = around(constructed(), DAY, ["s"])
    overall = result.overall.iloc[0]
    assert overall["low"] < overall["change"] < overall["high"] < 0
    outlets = result.by_outlet.set_index("group")
    assert outlets.loc["mover", "low"] <= -2.0 <= outlets.loc["mover", "high"]
    assert outlets.loc["mover", "moved"] and not outlets.loc["steady", "moved"]
    assert not outlets.loc["thin", "moved"]  # too few documents to rank
    assert list(result.by_outlet["group"]) == ["mover", "steady", "thin"]
    assert list(result.movers("s")["group"]) == ["mover"]
    assert outlets.loc["mover", "source"] == "news"
    sources = result.by_source.set_index("group")
    assert sources.loc["news", "change"] < -1.5 and abs(sources.loc["reddit", "change"]) < 0.4
    # The documents that pulled the mean down most: the lowest after the date, mostly the
    # mover's (a steady outlet's rare outlier may be among them).
    frame = constructed()
    after = frame[frame["published_at"].dt.date >= DAY]
    top = result.documents
    assert set(top["id"]) == set(after.nsmallest(len(top), "s")["id"])
    assert (top["contribution"] < 0).all()
    assert (top["outlet"] != "steady").mean() >= 0.8


def test_demo_february_shock_moves_the_responsive_outlets_down(demo_settings, topic):
    """Unity's 14 Feb shock is −2.6 on the latent scale; each outlet takes it times its
    response, so even a calm outlet (response 0.25) may move measurably. The movers must
    fall, be led by a responsive outlet, and be more responsive on average than the rest."""
    scored = load_scored(topic, SOURCES, None, None, demo_settings)
    result = around(scored, dt.date(2026, 2, 14), topic.score_keys)
    response = {o.name: o.response for outlets in OUTLETS.values() for o in outlets}
    assert result.overall.set_index("score").loc["unity", "high"] < 0
    movers = result.movers("unity")
    assert len(movers) >= 2
    assert (movers["change"] < 0).all()
    assert response[movers["group"].iloc[0]] >= 1.0, list(movers["group"])
    still = set(response) - set(movers["group"])
    assert (np.mean([response[name] for name in movers["group"]])
            > np.mean([response[name] for name in still])), list(movers["group"])
    # The least responsive outlet of each source is never ranked above a responsive one.
    ranked = list(result.by_outlet[result.by_outlet["score"] == "unity"]["group"])
    for outlets in OUTLETS.values():
        calm = min(outlets, key=lambda o: o.response).name
        assert ranked.index(calm) > ranked.index(movers["group"].iloc[0])
