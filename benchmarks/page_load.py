"""Cold and warm load time of every dashboard page in headless Chromium, against the
2-second budget for a warm page (the figure issue 13 names).

Starts `streamlit run app.py` on 127.0.0.1 against a database (``--database URL``, default:
the configured one; seed it with `python -m analytics demo`, or build a large one with
`benchmarks/big_corpus.py`) and times, for each page, until the script run has finished and
its charts are drawn:
- cold: the first visit (a browser load; caches empty; a page that must fit its trends
  first includes the fit),
- warm reload: the same URL loaded again in the browser (caches filled; includes the
  browser starting Streamlit's front end again),
- warm navigation: arriving from another page through the sidebar, as an analyst moves
  around (caches filled, front end loaded). The budget applies to this figure.
The server compiles the trend model in a background thread for its first ~1–2 minutes
(so a first fit is fast); pages load slower while it runs. ``--settle S`` waits S seconds
after the cold pass so the warm figures are those of a server that has finished starting.
Last line: JSON {"documents": N, "cold_s": {...}, "warm_reload_s": {...},
"warm_s": {...}, "max_warm_s": x, "budget_s": 2.0, "within_budget": bool}.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.browser import chromium_page, streamlit_server, wait_for_app

PAGES = re.findall(r'st\.Page\("pages/([a-z_]+)\.py"', (ROOT / "app.py").read_text())


def load(page, url: str) -> float:
    started = time.time()
    page.goto(url)
    idle = wait_for_app(page, timeout_ms=180000)  # when the run ended, not when it was seen
    if page.locator(".js-plotly-plot").count():
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60000)
    return idle - started


BUDGET_S = 2.0
TITLES = dict(re.findall(r'st\.Page\("pages/([a-z_]+)\.py", title="([^"]+)"',
                         (ROOT / "app.py").read_text()))


def heading(name: str) -> str:
    """The page's own title (what its script writes first)."""
    source = (ROOT / "pages" / f"{name}.py").read_text()
    found = re.search(r'(?:page_start|st\.title)\("([^"]+)"', source)
    return found.group(1) if found else TITLES[name]


def navigate(page, name: str) -> float:
    """Click the page in the sidebar; time until its script run ended and charts drew."""
    page.evaluate("() => { window.__idleSince = null; }")
    started = time.time()
    page.get_by_test_id("stSidebarNav").get_by_text(TITLES[name], exact=True).click()
    page.locator('[data-testid="stMain"] h1', has_text=heading(name)).first.wait_for(
        timeout=180000)
    idle = wait_for_app(page, timeout_ms=180000)
    if page.locator(".js-plotly-plot").count():
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60000)
    return idle - started


def document_count(url: str | None) -> int:
    from sqlalchemy import create_engine, text

    from analytics.core.settings import get_settings

    engine = create_engine(url or get_settings().database_url)
    with engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM documents")).scalar()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", help="SQLAlchemy URL (default: the configured one)")
    parser.add_argument("--settle", type=float, default=0.0,
                        help="Seconds to wait after the cold pass (the start-up warm-up).")
    args = parser.parse_args()
    env = {"ANALYTICS_DEMO_AUTOSTART": "false"}
    if args.database:
        env["ANALYTICS_DATABASE_URL"] = args.database
    cold, reload, warm, errors = {}, {}, {}, {}
    with streamlit_server(env) as base, chromium_page() as page:
        for name in PAGES:
            url = f"{base}/{'' if name == PAGES[0] else name}"
            cold[name] = round(load(page, url), 2)
            reload[name] = round(load(page, url), 2)
            errors[name] = page.locator('[data-testid="stException"]').count()
        time.sleep(args.settle)
        for name in PAGES[1:] + PAGES[:1]:  # each from the page before it
            warm[name] = round(navigate(page, name), 2)
            errors[name] += page.locator('[data-testid="stException"]').count()
        for name in PAGES:
            print(f"{name:12s} cold {cold[name]:6.2f} s   warm reload {reload[name]:6.2f} s   "
                  f"warm navigation {warm[name]:6.2f} s   exceptions {errors[name]}")
    slowest = max(warm.values())
    print(json.dumps({"documents": document_count(args.database), "settle_s": args.settle,
                      "cold_s": cold,
                      "warm_reload_s": reload, "warm_s": warm, "max_warm_s": slowest,
                      "budget_s": BUDGET_S, "within_budget": slowest < BUDGET_S,
                      "exceptions": errors}))


if __name__ == "__main__":
    main()
