"""The analyst's weekly question, in a real browser on the demo: "did NATO-unity opinion drop
after the February event, and in which outlets?" — Overview → click the event marker → the
event view names the outlets that moved (the demo's truth says which, and which way) →
click through to that period's documents. Every step must exist for the test to pass."""

import datetime as dt
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from analytics.charts.events import EVENT_TRACE
from analytics.core.settings import Settings
from analytics.ingest.providers.demo import OUTLETS
from tests.support.browser import chromium_page, streamlit_server, wait_for_app
from tests.support.databases import clone_database

FEBRUARY_EVENT = dt.date(2026, 2, 14)
RESPONSE = {o.name: o.response for outlets in OUTLETS.values() for o in outlets}


@pytest.fixture(scope="module")
def server(corpus_files, tmp_path_factory):
    folder = tmp_path_factory.mktemp("walk")
    database = clone_database(corpus_files(Settings().demo_documents), folder / "demo.db",
                              lasting=True)
    env = {"ANALYTICS_DATABASE_URL": database,
           "ANALYTICS_DATA_DIR": str(folder / "data"), "ANALYTICS_DEMO_AUTOSTART": "false",
           "ANALYTICS_TREND_WARM_UP": "false"}
    with streamlit_server(env) as base:
        yield base, database


def documents_between(database: str, first: str, last: str) -> int:
    """Original documents (not syndicated copies) published on the days from ``first`` to
    ``last`` (UTC), on either store."""
    from sqlalchemy import func, select

    from analytics.store import session_scope
    from analytics.store.models import Document

    start = dt.datetime.fromisoformat(first).replace(tzinfo=dt.UTC)
    end = dt.datetime.fromisoformat(last).replace(tzinfo=dt.UTC) + dt.timedelta(days=1)
    with session_scope(database) as session:
        return session.scalar(select(func.count(Document.id)).where(
            Document.published_at >= start, Document.published_at < end,
            Document.duplicate_of.is_(None)))


def click_event_marker(page, day: dt.date) -> None:
    """Click the marker of the event on ``day`` in the first chart that has event markers."""
    box = page.evaluate(
        """([name, day]) => {
            for (const plot of document.querySelectorAll('.js-plotly-plot')) {
                const index = plot.data.findIndex(t => t.name === name);
                if (index < 0) continue;
                const trace = plot._fullData[index];
                const k = trace.customdata.indexOf(day);
                if (k < 0) continue;
                // Plotly's own axis maps: data -> pixels inside the plot's SVG.
                const layout = plot._fullLayout;
                const xa = layout['xaxis' + trace.xaxis.slice(1)];
                const ya = layout['yaxis' + trace.yaxis.slice(1)];
                const r = plot.getBoundingClientRect();
                return {x: r.x + xa._offset + xa.d2p(trace.x[k]),
                        y: r.y + ya._offset + ya.d2p(trace.y[k])};
            }
            return null;
        }""", [EVENT_TRACE, str(day)])
    assert box is not None, "no event marker on the Overview charts"
    page.mouse.click(box["x"], box["y"])


def test_overview_event_marker_to_outlets_to_documents(server):
    server, database = server
    with chromium_page() as page:
        page.set_viewport_size({"width": 1440, "height": 1800})
        page.goto(server)
        wait_for_app(page)
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60000)

        # 1. The February event marker on the daily-score chart opens the event view.
        click_event_marker(page, FEBRUARY_EVENT)
        page.wait_for_url(re.compile(r"/event\?"), timeout=60000)
        wait_for_app(page)
        assert parse_qs(urlsplit(page.url).query)["date"] == [str(FEBRUARY_EVENT)]

        # 2. It names the outlets that moved on unity: the demo's responsive ones, falling.
        page.get_by_test_id("stRadio").get_by_text("NATO unity", exact=True).click()
        wait_for_app(page)
        main = page.get_by_test_id("stMain")
        sentence = main.get_by_text("Moved in the direction of the overall change").inner_text()
        moved = dict(re.findall(r"([^,:]+?) \(([+−-]\d+\.\d+)\)", sentence.split(":", 1)[1]))
        moved = {name.strip(): float(change.replace("−", "-")) for name, change in
                 moved.items()}
        assert len(moved) >= 2, sentence
        assert all(change < 0 for change in moved.values()), moved
        # Led by a responsive outlet, and more responsive on average than the rest (a calm
        # outlet can still move measurably on a −2.6 shock).
        assert RESPONSE[next(iter(moved))] >= 1.0, moved
        assert (sum(RESPONSE[n] for n in moved) / len(moved)
                > sum(RESPONSE[n] for n in set(RESPONSE) - set(moved))
                / len(set(RESPONSE) - set(moved))), moved

        # 3. One click reads the documents of that period.
        page.get_by_role("button", name=re.compile(r"^Read all documents of 14 Feb")).click()
        page.wait_for_url(re.compile(r"/documents\?"), timeout=60000)
        wait_for_app(page)
        drill = parse_qs(urlsplit(page.url).query)["drill"][0].split("~")
        assert drill[:2] == ["2026-02-14", "2026-02-27"]
        # The URL changes before the Documents run has drawn: wait for its banner.
        main.get_by_text("Opened from a chart: 14 Feb 2026 – 27 Feb 2026").wait_for(
            timeout=60000)
        main.get_by_text(f"{documents_between(database, '2026-02-14', '2026-02-27'):,} "
                         "documents ·").first.wait_for(timeout=60000)
        assert page.locator('[data-testid="stException"]').count() == 0
