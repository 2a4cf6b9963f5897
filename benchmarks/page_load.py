"""Cold and warm load time of every dashboard page in headless Chromium, against the
2-second budget for a warm page (the figure issue 13 names).

Starts `streamlit run app.py` on 127.0.0.1 against a database (``--database URL``, default:
the configured one; seed it with `python -m analytics demo`, or build a large one with
`benchmarks/big_corpus.py`), opens each page twice in one browser — cold (first script run,
caches empty; a page that must fit its trends first includes the fit) and warm (caches
filled) — and times navigation until the script run has finished and charts are drawn.
Last line: JSON {"documents": N, "cold_s": {...}, "warm_s": {...}, "max_warm_s": x,
"budget_s": 2.0, "within_budget": bool}.
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


def document_count(url: str | None) -> int:
    from sqlalchemy import create_engine, text

    from analytics.core.settings import get_settings

    engine = create_engine(url or get_settings().database_url)
    with engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM documents")).scalar()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", help="SQLAlchemy URL (default: the configured one)")
    args = parser.parse_args()
    env = {"ANALYTICS_DEMO_AUTOSTART": "false"}
    if args.database:
        env["ANALYTICS_DATABASE_URL"] = args.database
    cold, warm, errors = {}, {}, {}
    with streamlit_server(env) as base, chromium_page() as page:
        for name in PAGES:
            url = f"{base}/{'' if name == PAGES[0] else name}"
            cold[name] = round(load(page, url), 2)
            warm[name] = round(load(page, url), 2)
            errors[name] = page.locator('[data-testid="stException"]').count()
            print(f"{name:12s} cold {cold[name]:6.2f} s   warm {warm[name]:6.2f} s   "
                  f"exceptions {errors[name]}")
    slowest = max(warm.values())
    print(json.dumps({"documents": document_count(args.database), "cold_s": cold,
                      "warm_s": warm, "max_warm_s": slowest, "budget_s": BUDGET_S,
                      "within_budget": slowest < BUDGET_S, "exceptions": errors}))


if __name__ == "__main__":
    main()
