"""Streamlit view helpers shared by every page: the sidebar, cached loaders, empty states.

Pages stay thin: they call ``sidebar()`` for the shared filters, load data through the
cached functions here (which call ``analytics.store.queries``), and draw figures built
by ``analytics.charts``. The filters live in ``st.query_params`` so a URL reopens a view.
"""

from __future__ import annotations

import datetime as dt
import runpy
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from analytics.config import Topic, TopicError, available_topics, get_settings, load_topic
from analytics.store import queries, session_scope

SOURCES = ("news", "youtube", "reddit")
WINDOWS = {"30d": 30, "90d": 90, "180d": 180, "1y": 365, "all": None}


@dataclass(frozen=True)
class View:
    """The shared filters of the sidebar."""

    topic: Topic
    window: str
    start: dt.date | None
    end: dt.date | None
    sources: tuple[str, ...]


@st.cache_data(ttl=60, show_spinner=False)
def data_range(topic: str) -> tuple[dt.date, dt.date] | None:
    with session_scope() as session:
        frame = queries.documents_frame(session, topic)
    if frame.empty:
        return None
    return frame["published_at"].min().date(), frame["published_at"].max().date()


def _param(name: str, default: str) -> str:
    return st.query_params.get(name, default)


ENTRYPOINT = Path(__file__).resolve().parent.parent / "app.py"
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


def sidebar() -> View | None:
    """Draw the shared filters; return None (after saying why) when no topic loads."""
    ensure_entrypoint()
    settings = get_settings()
    topics = available_topics(settings) or [settings.topic]
    with st.sidebar:
        st.markdown("### Filters")
        topic_name = st.selectbox(
            "Topic", topics, index=_index(topics, _param("topic", settings.topic)), key="topic")
        window = st.selectbox("Window (ending at the newest document)", list(WINDOWS),
                              index=_index(list(WINDOWS), _param("window", "all")), key="window")
        chosen = [s for s in _param("sources", ",".join(SOURCES)).split(",") if s in SOURCES]
        sources = st.multiselect("Sources", SOURCES, default=chosen or list(SOURCES),
                                 key="sources")
    st.query_params.update({"topic": topic_name, "window": window,
                            "sources": ",".join(sources)})
    try:
        topic = load_topic(topic_name, settings)
    except TopicError as exc:
        st.error(f"{exc} Fix the topic file, then reload the page.")
        return None
    start, end = _window_dates(topic.name, window)
    return View(topic, window, start, end, tuple(sources) or SOURCES)


def page_start(title: str, require: str = "documents",
               empty: str = "No documents for this topic yet.") -> tuple[View, dict]:
    """Sidebar, title and demo banner; stops the page, saying what to run, when the topic
    does not load or has no ``require`` (documents or scored documents)."""
    view = sidebar()
    st.title(title)
    if view is None:
        st.stop()
    status = load_status(view.topic.name)
    demo_banner(status)
    if status["counts"][require] == 0:
        empty_state(empty, "python -m analytics demo")
        st.stop()
    return view, status


def _index(options: list[str], value: str) -> int:
    return options.index(value) if value in options else 0


def _window_dates(topic: str, window: str) -> tuple[dt.date | None, dt.date | None]:
    bounds = data_range(topic)
    days = WINDOWS.get(window)
    if bounds is None or days is None:
        return None, None
    return bounds[1] - dt.timedelta(days=days - 1), bounds[1]


@st.cache_data(ttl=60, show_spinner=False)
def load_documents(topic: str, sources: tuple[str, ...], start, end) -> pd.DataFrame:
    with session_scope() as session:
        return queries.documents_frame(session, topic, sources, start, end)


@st.cache_data(ttl=60, show_spinner=False)
def load_scored(topic: str, score_keys: tuple[str, ...], sources: tuple[str, ...],
                start, end) -> pd.DataFrame:
    with session_scope() as session:
        return queries.scored_frame(session, topic, score_keys, sources, start, end)


@st.cache_data(ttl=60, show_spinner=False)
def load_truth(topic: str) -> pd.DataFrame:
    with session_scope() as session:
        return queries.demo_truth_frame(session, topic)


@st.cache_data(ttl=60, show_spinner=False)
def load_status(topic: str) -> dict:
    with session_scope() as session:
        return {
            "counts": queries.topic_counts(session, topic),
            "is_demo": queries.is_demo(session, topic),
            "backends": queries.scoring_backends(session, topic),
            "runs": queries.runs_frame(session, limit=10),
        }


def demo_banner(status: dict) -> None:
    if status["is_demo"]:
        st.info("**Demo data — offline scorer.** These documents are synthetic (generated "
                "by the demo provider with a known latent opinion path) and were scored by "
                "the offline heuristic backend, not an LLM.", icon=":material/science:")


def empty_state(what: str, command: str) -> None:
    """One sentence telling the user what to run when there is nothing to show."""
    st.warning(f"{what} Run `{command}` (or use the Sources page), then reload.")


def view_label(view: View) -> str:
    span = "all dates" if view.start is None else f"{view.start} → {view.end}"
    return f"{view.topic.title} · {span} · {', '.join(view.sources)}"


_MARKDOWN_SPECIAL = "\\`*_{}[]()#+-.!|<>~$:"


def escape_md(text: str | None) -> str:
    """Make untrusted text inert in st.markdown: no links, images, emphasis or HTML."""
    if not text:
        return ""
    return "".join(f"\\{ch}" if ch in _MARKDOWN_SPECIAL else ch for ch in str(text))


def safe_url(url: str | None) -> str | None:
    """Only http(s) links are offered to the user (no javascript: or data: URLs)."""
    if url and url.lower().startswith(("http://", "https://")):
        return url
    return None


@st.cache_data(ttl=60, show_spinner=False)
def load_document_detail(document_id: int) -> dict | None:
    with session_scope() as session:
        return queries.document_detail(session, document_id)


@st.cache_data(ttl=60, show_spinner=False)
def search_ids(topic: str, text: str) -> set[int]:
    with session_scope() as session:
        return queries.search_document_ids(session, topic, text)


def documents_table(documents: pd.DataFrame, scored: pd.DataFrame,
                    keys: tuple[str, ...]) -> pd.DataFrame:
    """Documents with their scores, newest first, for the Documents page table."""
    table = documents.merge(scored[["id", *keys]], on="id", how="left")
    table = table[table["duplicate_of"].isna()]
    columns = ["published_at", "source", "title", *keys, "n_comments", "url", "id"]
    return table[columns].sort_values("published_at", ascending=False).reset_index(drop=True)


def filter_documents(table: pd.DataFrame, topic: str, query: str,
                     ranges: dict[str, tuple[float, float]], require_all: bool) -> pd.DataFrame:
    """Text search, then score ranges; a narrowed range drops documents without that score."""
    if query.strip():
        table = table[table["id"].isin(search_ids(topic, query))]
    for key, (low, high) in ranges.items():
        if require_all or (low, high) != (0.0, 10.0):
            table = table[table[key].between(low, high)]
    return table


@st.cache_data(ttl=120, show_spinner="Gathering the report…")
def load_report(topic: str, window: str, sources: tuple[str, ...]):
    from analytics import reports

    return reports.build_report(load_topic(topic), window, sources)


@st.cache_data(ttl=120, show_spinner=False)
def report_html(topic: str, window: str, sources: tuple[str, ...]) -> str:
    from analytics import reports

    return reports.render_html(load_report(topic, window, sources))
