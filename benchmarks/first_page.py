"""Clone -> first page with charts: the README's run command on a clean clone, timed.

Clones this repository into a temporary folder, runs the README's first command there
verbatim (venv + install + `streamlit run app.py`, which prepares the demo in the
background on the empty database), and opens the dashboard in headless Chromium until the
Overview draws plotly charts. The baseline is the target of 180 s; the console output of
the server is scanned for warning floods. Last line: one JSON object.

Run: .venv/bin/python benchmarks/first_page.py [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.browser import chromium_page, free_port

TARGET_S = 180.0
WARNING_PATTERNS = ("Inotify", "BLAS", "Warning", "WARNING", "Traceback")


def run_command() -> str:
    """The first fenced bash block of the README: what a newcomer pastes."""
    blocks = re.findall(r"```bash\n(.*?)\n```", (ROOT / "README.md").read_text(), re.S)
    return blocks[0].strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", action="store_true", help="Keep the clone afterwards.")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="first-page-"))
    clone = folder / "clone"
    port = free_port()
    command = run_command()
    started = time.perf_counter()
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    log = (folder / "console.log").open("w")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANALYTICS_")}
    env["STREAMLIT_SERVER_PORT"] = str(port)
    server = subprocess.Popen(["bash", "-c", command], cwd=clone, env=env, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    marks: dict[str, float] = {}
    try:
        with chromium_page() as page:
            while time.perf_counter() - started < args.timeout:
                if server.poll() is not None:
                    raise RuntimeError(f"the command ended ({server.returncode}); see {log.name}")
                text = (folder / "console.log").read_text(errors="replace")
                if "server_up_s" not in marks and "URL:" in text:
                    marks["server_up_s"] = time.perf_counter() - started
                if "server_up_s" in marks:
                    try:
                        page.goto(f"http://127.0.0.1:{port}/", timeout=30000)
                        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60000)
                        marks["first_chart_s"] = time.perf_counter() - started
                        page.screenshot(path=str(folder / "first_page.png"), full_page=True)
                        break
                    except Exception:  # not drawn yet: the demo is still being prepared
                        pass
                time.sleep(2)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
    console = (folder / "console.log").read_text(errors="replace").splitlines()
    server_lines = [line for line in console if not line.startswith(
        ("Requirement already", "Collecting", "Downloading", "Installing", "Using cached",
         "Obtaining", "Building", "Successfully", "  ", "WARNING: Location"))]
    warnings = [line for line in server_lines if any(p in line for p in WARNING_PATTERNS)]
    for line in server_lines[-25:]:
        print("console:", line)
    result = {"command": command, "first_chart_s": round(marks.get("first_chart_s", -1), 1),
              "server_up_s": round(marks.get("server_up_s", -1), 1), "target_s": TARGET_S,
              "within_target": 0 < marks.get("first_chart_s", 1e9) <= TARGET_S,
              "console_warning_lines": len(warnings), "screenshot": str(folder / "first_page.png")}
    if warnings:
        print("warnings:", *warnings[:10], sep="\n  ")
    if not args.keep:
        shutil.rmtree(clone, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
