"""Real-browser helpers: start `streamlit run` on 127.0.0.1 and drive Debian's Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.paths import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def streamlit_server(env: dict[str, str], port: int | None = None,
                     extra: tuple[str, ...] = ()):
    port = port or free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
               "--server.address", "127.0.0.1", "--server.port", str(port),
               "--server.headless", "true", "--browser.gatherUsageStats", "false", *extra]
    # The server's output goes to a file: an unread pipe fills at 64 kB and then blocks the
    # script thread that logs (a page seems to hang forever).
    log = Path(tempfile.mkstemp(prefix="streamlit-", suffix=".log")[1])
    with log.open("w") as output:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env},
                                   stdout=output, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"{base}/_stcore/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise RuntimeError("streamlit did not start within 60 s")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        report_server_errors(log)


def report_server_errors(log: Path) -> None:
    """Print the tail of a server log that holds a traceback (it shows in pytest's output
    of a failing test and in a benchmark's console), then remove the log."""
    text = log.read_text(errors="replace")
    log.unlink(missing_ok=True)
    if "Traceback" in text:
        print(f"--- streamlit server log (last 4000 characters) ---\n{text[-4000:]}",
              file=sys.stderr)


@contextmanager
def chromium_page():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 2600})
        try:
            yield page
        finally:
            browser.close()


def wait_for_app(page, timeout_ms: int = 60000) -> float:
    """Wait until the script run has finished and the main block has content; returns when
    (epoch seconds, browser clock) the app became idle."""
    page.wait_for_selector('[data-testid="stMain"]', timeout=timeout_ms)
    # Until app.py has run, Streamlit shows its automatic pages/ list (file names); our
    # st.navigation titles ("Overview") mean the entry script has run.
    nav = page.get_by_test_id("stSidebarNav").get_by_text("Overview", exact=True)
    nav.wait_for(timeout=timeout_ms)
    # The running indicator appears only some time after a run starts, so "not running" must
    # hold for a while (1.5 s) before the run counts as finished.
    page.wait_for_function(
        """() => {
            const busy = document.querySelector(
                '[data-testid="stStatusWidget"], [data-testid="stAppSkeleton"]');
            const main = document.querySelector('[data-testid="stMain"]');
            if (busy || !main || main.innerText.trim().length <= 20) {
                window.__idleSince = null;
                return false;
            }
            window.__idleSince = window.__idleSince || Date.now();
            return Date.now() - window.__idleSince > 1500;
        }""",
        timeout=timeout_ms,
        polling=200,
    )
    return page.evaluate("() => window.__idleSince") / 1000
