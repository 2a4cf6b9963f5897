"""Cold and warm load time of every dashboard page in headless Chromium.

Starts `streamlit run app.py` on 127.0.0.1 against the configured database (seed it first:
`python -m analytics demo`), opens each page twice in one browser — cold (first script run,
caches empty) and warm (caches filled) — and times navigation until the script run has
finished and charts are drawn. Last line: JSON {"cold_s": {...}, "warm_s": {...}}.
"""

from __future__ import annotations

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
    started = time.perf_counter()
    page.goto(url)
    wait_for_app(page, timeout_ms=180000)
    if page.locator(".js-plotly-plot").count():
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60000)
    return time.perf_counter() - started - 0.5  # wait_for_app's settle pause


def main() -> None:
    cold, warm, errors = {}, {}, {}
    with streamlit_server({}) as base, chromium_page() as page:
        for name in PAGES:
            url = f"{base}/{'' if name == PAGES[0] else name}"
            cold[name] = round(load(page, url), 2)
            warm[name] = round(load(page, url), 2)
            errors[name] = page.locator('[data-testid="stException"]').count()
            print(f"{name:12s} cold {cold[name]:6.2f} s   warm {warm[name]:6.2f} s   "
                  f"exceptions {errors[name]}")
    print(json.dumps({"cold_s": cold, "warm_s": warm, "exceptions": errors}))


if __name__ == "__main__":
    main()
