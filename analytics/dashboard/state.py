"""The shared sidebar and the view it defines (topic, window, sources), mirrored in the URL
so a link reopens the same view; the page preamble every page starts with."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import streamlit as st

from analytics.core.settings import get_settings
from analytics.core.topics import Topic, TopicError, available_topics, load_topic
from analytics.core.views import SOURCES, WINDOWS, window_dates
from analytics.dashboard import loaders
from analytics.dashboard.navigation import ensure_entrypoint


@dataclass(frozen=True)
class View:
    """The shared filters of the sidebar."""

    topic: Topic
    window: str
    start: dt.date | None
    end: dt.date | None
    sources: tuple[str, ...]

    @property
    def label(self) -> str:
        span = "all dates" if self.start is None else f"{self.start} → {self.end}"
        return f"{self.topic.title} · {span} · {', '.join(self.sources)}"


def _param(name: str, default: str) -> str:
    return st.query_params.get(name, default)


def _index(options: list[str], value: str) -> int:
    return options.index(value) if value in options else 0


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
    bounds = loaders.date_range(topic.name)
    start, end = window_dates(window, bounds[1] if bounds else None)
    return View(topic, window, start, end, tuple(sources) or SOURCES)


def page_start(title: str, require: str = "documents",
               empty: str = "No documents for this topic yet.") -> tuple[View, dict]:
    """Sidebar, title and demo banner; stops the page, saying what to run, when the topic
    does not load or has no ``require`` (documents or scored documents). On an empty
    database it starts (or shows) the demo preparation."""
    view = sidebar()
    st.title(title)
    if view is None:
        st.stop()
    status = loaders.load_status(view.topic.name)
    preparing = demo_preparation_panel(view.topic, status)
    demo_banner(status)
    if status["counts"][require] == 0:
        if not preparing:
            empty_state(empty, "python -m analytics demo")
        st.stop()
    return view, status


def demo_preparation_panel(topic: Topic, status: dict) -> bool:
    """Start the background demo preparation on an empty database and show its progress;
    True while it runs. The page's charts refresh as documents get scored."""
    from analytics.pipeline.demo import demo_preparation, start_demo_preparation

    settings = get_settings()
    job = demo_preparation(topic, settings)
    if job is None and settings.demo_autostart and status["database_empty"]:
        job = start_demo_preparation(topic, settings)
    if job is None or (job.done and job.ok):
        return False

    @st.fragment(run_every=3.0)
    def panel() -> None:
        if job.done:
            if job.error:
                st.error(f"Preparing the demo failed: {job.error} Run `python -m analytics "
                         "demo` in a terminal to see the details.")
            else:
                st.cache_data.clear()
                st.rerun(scope="app")
            return
        update = job.progress
        st.info("**Preparing the demo** (synthetic data, offline scorer): charts fill in as "
                "documents are scored; summaries, trend fits and the dynamics model follow. "
                + (update.text() if update else "Starting…"), icon=":material/hourglass_top:")
        if update and update.fraction is not None:
            st.progress(update.fraction)
        if update and update.done != st.session_state.get("_demo_seen"):
            st.session_state["_demo_seen"] = update.done
            st.cache_data.clear()
            st.rerun(scope="app")

    panel()
    return not job.done


def demo_banner(status: dict) -> None:
    if status["is_demo"]:
        st.info("**Demo data — offline scorer.** These documents are synthetic (generated "
                "by the demo provider with a known latent opinion path) and were scored by "
                "the offline heuristic backend, not an LLM.", icon=":material/science:")


def empty_state(what: str, command: str) -> None:
    """One sentence telling the user what to run when there is nothing to show."""
    st.warning(f"{what} Run `{command}` (or use the Sources page), then reload.")
