"""The deep-link guard: shared URLs keep navigation, layout and filters on a fresh server."""

from __future__ import annotations

import runpy
from pathlib import Path

import streamlit as st

ENTRYPOINT = Path(__file__).resolve().parents[2] / "app.py"
entrypoint_ran = False  # set by app.py; per process, like Streamlit's own navigation state


def ensure_entrypoint() -> None:
    """Run app.py when a deep link reached a page first (known Streamlit behaviour).

    Until app.py has run once in the server process, Streamlit serves a URL such as
    /documents by running pages/documents.py alone (automatic pages/ discovery), without our
    navigation, page config or query-param handling. Running app.py here registers
    st.navigation, which renders the requested page; this bare run then stops.
    """
    if entrypoint_ran:
        return
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx()
    main_script = getattr(context, "main_script_path", None) if context else None
    # Only when the server's entry script is app.py (a page tested on its own is fine).
    if main_script and Path(main_script).resolve() == ENTRYPOINT:
        runpy.run_path(str(ENTRYPOINT), run_name="__streamlit_entry__")
        st.stop()
