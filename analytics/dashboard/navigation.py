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


def narrow_sidebar() -> None:
    """A narrower sidebar, so an 800-px window keeps most of its width for the charts.
    (Our own constant CSS: no untrusted text reaches it.)"""
    st.html("<style>section[data-testid='stSidebar'] {width: 15.5rem !important; "
            "min-width: 15.5rem !important;}</style>")


_warm_up_started = False


def start_warm_up() -> None:
    """Compile the straight-line trend model in the background once per server process,
    so a first trend fit does not wait for the compiler."""
    global _warm_up_started
    from analytics.core.settings import get_settings

    if _warm_up_started or not get_settings().trends.warm_up:
        return
    _warm_up_started = True
    import threading

    from analytics.trends import warm_up

    threading.Thread(target=_quietly, args=(warm_up,), name="trend-warm-up",
                     daemon=True).start()


def _quietly(work) -> None:
    import logging

    try:
        work()
    except Exception:  # a failed warm-up only means the first fit compiles itself
        logging.getLogger("analytics.dashboard").warning("trend warm-up failed",
                                                         exc_info=True)
