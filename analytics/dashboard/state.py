"""The shared view (topic, period, sources, outlets): drawn once per run by app.py in the
sidebar, so it persists across pages, and mirrored in the URL so a link reopens it.

Pages call ``page_start`` (or ``current_view``); they never draw the filters themselves. An
empty source selection is an explicit empty state; when the view changes, selections that
belonged to the old view (the open document) are cleared.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import streamlit as st

from analytics.core.settings import get_settings
from analytics.core.topics import Topic, TopicError, available_topics, load_topic
from analytics.core.views import SOURCES, WINDOWS, window_dates
from analytics.dashboard import auth, loaders
from analytics.dashboard.navigation import ensure_entrypoint

CUSTOM = "custom"
WINDOW_LABELS = {"30d": "last 30 days", "90d": "last 90 days", "180d": "last 180 days",
                 "1y": "last year", "all": "all dates", CUSTOM: "custom dates"}
VIEW_KEY = "_view"
DRAWN_KEY = "_view_drawn"
PAGE_KEY = "_page_path"  # the url path of the page this run draws ('' = Overview)
GENERATION_KEY = "_filters_generation"  # new sidebar widgets after opening a link


def _key(name: str) -> str:
    """A sidebar widget's key. Opening a saved view or an alert's link starts a new
    generation of widgets: the browser keeps the old widgets' values and would send them
    back, overriding the link's state."""
    generation = st.session_state.get(GENERATION_KEY, 0)
    return name if not generation else f"{name}_{generation}"


@dataclass(frozen=True)
class View:
    """The shared filters."""

    topic: Topic
    window: str  # a WINDOWS key or "custom"
    start: dt.date | None
    end: dt.date | None
    sources: tuple[str, ...]
    outlets: tuple[str, ...] = ()  # empty = every outlet
    # empty = every language; "unknown" = no detected language. Documents, Overview and
    # their charts follow it; trend fits cover every language of the view's sources.
    languages: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        span = "all dates" if self.start is None else f"{self.start} → {self.end}"
        outlets = f" · {len(self.outlets)} outlet(s)" if self.outlets else ""
        languages = f" · language {', '.join(self.languages)}" if self.languages else ""
        return (f"{self.topic.title} · {span} · {', '.join(self.sources) or 'no source'}"
                f"{outlets}{languages}")

    @property
    def signature(self) -> tuple:
        return (self.topic.name, self.start, self.end, self.sources, self.outlets,
                self.languages)

    def params(self) -> dict[str, str]:
        """The view as URL query parameters."""
        values = {"topic": self.topic.name, "window": self.window,
                  "sources": ",".join(self.sources) or "none"}
        if self.window == CUSTOM and self.start:
            values.update({"from": str(self.start), "to": str(self.end)})
        if self.outlets:
            values["outlets"] = "|".join(self.outlets)
        if self.languages:
            values["languages"] = ",".join(self.languages)
        return values


def _param(name: str, default: str = "") -> str:
    return st.query_params.get(name, default)


def _date_param(name: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(_param(name))
    except ValueError:
        return None


def _index(options: list[str], value: str) -> int:
    return options.index(value) if value in options else 0


def sidebar() -> View | None:
    """Draw the shared filters (app.py does, every run); None (after saying why) when the
    topic cannot be loaded. The result is kept for the page of this run."""
    ensure_entrypoint()
    settings = get_settings()
    topics = available_topics(settings) or [settings.topic]
    windows = [*WINDOWS, CUSTOM]
    notices = []
    with st.sidebar:
        st.markdown("### View")
        requested_topic = _param("topic", settings.topic)
        if "topic" in st.query_params and requested_topic not in topics:
            notices.append(f"Unknown topic '{requested_topic}' in the link: showing "
                           f"'{topics[0]}'.")
        topic_name = st.selectbox("Topic", topics, index=_index(topics, requested_topic),
                                  key=_key("topic"))
        requested_window = _param("window", "all")
        if requested_window not in windows:
            notices.append(f"Unknown period '{requested_window[:40]}' in the link: showing "
                           "all dates.")
            requested_window = "all"
        window = st.selectbox("Period", windows, index=_index(windows, requested_window),
                              format_func=WINDOW_LABELS.get, key=_key("window"),
                              help="Windows end at the newest document of the topic.")
        try:
            topic = load_topic(topic_name, settings)
        except TopicError as exc:
            st.error(f"{exc} Fix the topic file, then reload the page.")
            return None
        start, end = _period(topic.name, window, notices)
        sources = _sources(notices)
        outlets = _outlets(topic.name)
        languages = _languages(topic.name)
    for notice in notices:
        st.toast(notice)
    view = View(topic, window, start, end, tuple(sources), tuple(outlets), tuple(languages))
    _forget_stale_selections(view)
    st.query_params.update(view.params())
    for name in ("from", "to", "outlets", "languages"):
        if name not in view.params() and name in st.query_params:
            del st.query_params[name]
    st.session_state[VIEW_KEY] = view
    st.session_state[DRAWN_KEY] = True  # consumed by the page of this run
    saved_views_panel()
    return view


def remember_page(url_path: str) -> None:
    """app.py tells which page this run draws (a saved view keeps it)."""
    st.session_state[PAGE_KEY] = url_path or ""


def page_file(url_path: str) -> str:
    """The script of a page from its url path (pages/<name>.py; '' = Overview)."""
    return f"pages/{url_path or 'overview'}.py"


def open_link(url_path: str, params: dict[str, str]) -> None:
    """Open a page with a URL state (a saved view, an alert's link): the sidebar widgets
    forget their values so the filters come from the URL, exactly as on a fresh server."""
    st.session_state[GENERATION_KEY] = st.session_state.get(GENERATION_KEY, 0) + 1
    st.session_state.pop("_view_signature", None)
    st.switch_page(page_file(url_path), query_params=params)


def saved_views_panel() -> None:
    """Name the current view (page + every filter + the page's own URL state), and open,
    rename or delete the saved ones (per user with a login, shared without)."""
    from analytics.dashboard import actions

    with st.sidebar.expander("Saved views", icon=":material/bookmark:"):
        name = st.text_input("Name this view", key="saved_view_name", max_chars=80,
                             placeholder="e.g. Unity, news, 90 days")
        if st.button("Save view", key="saved_view_save", disabled=not auth.can("viewer")):
            actions.save_view(name, st.session_state.get(PAGE_KEY, ""),
                              dict(st.query_params.to_dict()))
        views = loaders.saved_views(auth.owner())
        if not views:
            st.caption("No saved views yet.")
            return
        by_id = {v.id: v for v in views}
        chosen = st.selectbox("Saved view", list(by_id), key="saved_view_pick",
                              format_func=lambda i: by_id[i].name)
        left, right = st.columns(2)
        if left.button("Open view", key="saved_view_open", type="primary"):
            view = by_id[chosen]
            open_link(view.page, view.params)
        if right.button("Delete", key="saved_view_delete"):
            actions.delete_view(chosen)
            st.rerun()
        new_name = st.text_input("New name", key="saved_view_rename_to", max_chars=80)
        if st.button("Rename", key="saved_view_rename") and actions.rename_view(chosen,
                                                                               new_name):
            st.rerun()


def _period(topic: str, window: str, notices: list[str]
            ) -> tuple[dt.date | None, dt.date | None]:
    bounds = loaders.date_range(topic)
    if window != CUSTOM:
        return window_dates(window, bounds[1] if bounds else None)
    first, last = bounds or (dt.date.today(), dt.date.today())
    for name in ("from", "to"):
        if _param(name) and _date_param(name) is None:
            notices.append(f"The link's {name}={_param(name)[:40]!r} is not a date "
                           "(YYYY-MM-DD): using the topic's first/last day.")
    default = (_date_param("from") or first, _date_param("to") or last)
    chosen = st.date_input("From – to", default, min_value=first, max_value=last,
                           key=_key("date_range"))
    if isinstance(chosen, tuple) and len(chosen) == 2:
        return chosen
    return default


def _sources(notices: list[str]) -> list[str]:
    raw = _param("sources", ",".join(SOURCES))
    chosen = [] if raw == "none" else [s for s in raw.split(",") if s in SOURCES]
    unknown = [] if raw == "none" else [s for s in raw.split(",") if s not in SOURCES]
    if unknown:
        notices.append(f"Unknown source(s) {', '.join(repr(u[:20]) for u in unknown[:5])} in "
                       f"the link: showing {', '.join(chosen or SOURCES)}.")
    return st.multiselect("Sources", SOURCES,
                          default=chosen if chosen or raw == "none" else list(SOURCES),
                          key=_key("sources"))


def _outlets(topic: str) -> list[str]:
    counts = loaders.outlets(topic)
    if counts.empty:
        return []
    options = counts["outlet"].tolist()
    label = {row.outlet: f"{row.outlet} ({row.source}, {row.documents})"
             for row in counts.itertuples()}
    wanted = [o for o in _param("outlets").split("|") if o in label]
    return st.multiselect("Outlets", options, default=wanted, key=_key("outlets"),
                          format_func=label.get, placeholder="All outlets",
                          help="News sites, subreddits, YouTube channels and feeds.")


def _languages(topic: str) -> list[str]:
    counts = loaders.languages(topic)
    if counts.empty:
        return []
    label = {row.language: f"{row.language} ({row.documents})" for row in counts.itertuples()}
    wanted = [lang for lang in _param("languages").split(",") if lang in label]
    return st.multiselect("Languages", list(label), default=wanted, key="languages",
                          format_func=label.get, placeholder="All languages",
                          help="Detected at ingest (py3langid); 'unknown' = too short to "
                               "tell. The offline scorers read English only.")


def _forget_stale_selections(view: View) -> None:
    previous = st.session_state.get("_view_signature")
    if previous is not None and previous != view.signature:
        for key in ("doc", "drill"):
            if key in st.query_params:
                del st.query_params[key]
        for key in [k for k in st.session_state if str(k).startswith("select_")]:
            del st.session_state[key]
    st.session_state["_view_signature"] = view.signature


def current_view() -> View | None:
    """The view app.py drew in this run; a page run on its own (a deep link on a fresh
    server, AppTest after its first run) draws the filters itself."""
    if st.session_state.pop(DRAWN_KEY, False) and VIEW_KEY in st.session_state:
        return st.session_state[VIEW_KEY]
    view = sidebar()
    st.session_state.pop(DRAWN_KEY, None)
    return view


def page_start(title: str, require: str = "documents",
               empty: str = "No documents for this topic yet.") -> tuple[View, dict]:
    """Title, demo banner and the page's view; stops the page, saying what to do, when the
    topic does not load, no source is selected, or it has no ``require`` (documents or
    scored documents). On an empty database it starts (or shows) the demo preparation."""
    view = current_view()
    st.title(title)
    if view is None:
        st.stop()
    status = loaders.load_status(view.topic.name)
    preparing = demo_preparation_panel(view.topic, status)
    demo_banner(status)
    if not view.sources:
        st.warning("No source is selected: choose at least one source in the sidebar.")
        st.stop()
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
    # Preparing the demo ingests and scores: only for a visitor who may do that.
    if job is None and settings.demo_autostart and status["database_empty"] \
            and auth.can("admin"):
        job = start_demo_preparation(topic, settings)
    if job is not None and job.done and job.ok and status["database_empty"] \
            and not st.session_state.get("_demo_reread"):
        # This status was cached before the job finished (another session watched it).
        st.session_state["_demo_reread"] = True
        loaders.forget_cached_reads()
        st.rerun()
    if job is None or (job.done and job.ok):
        return False

    @st.fragment(run_every=3.0)
    def panel() -> None:
        if job.done:
            if job.error:
                st.error(f"Preparing the demo failed: {job.error} Run `python -m analytics "
                         "demo` in a terminal to see the details.")
            else:
                loaders.forget_cached_reads()
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
            loaders.forget_cached_reads()
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


def go_to_documents(start: dt.date | None, end: dt.date | None, source: str | None = None,
                    outlet: str | None = None) -> None:
    """Open the Documents page on a period (and a source or outlet) of the current view."""
    view = st.session_state.get(VIEW_KEY)
    params = dict(view.params()) if view else {}
    drill = [str(start or ""), str(end or ""), source or "", outlet or ""]
    st.switch_page("pages/documents.py", query_params={**params, "drill": "~".join(drill)})


def drill_down() -> dict | None:
    """The period/source/outlet a chart click asked the Documents page for, if any."""
    raw = _param("drill")
    if not raw:
        return None
    parts = [*raw.split("~"), "", "", "", ""][:4]
    try:
        start = dt.date.fromisoformat(parts[0]) if parts[0] else None
        end = dt.date.fromisoformat(parts[1]) if parts[1] else None
    except ValueError:
        st.toast("The link's period was not a date range; showing the whole view.")
        return None
    return {"start": start, "end": end, "source": parts[2] or None, "outlet": parts[3] or None}


def go_to_event(day: dt.date, label: str = "") -> None:
    view = st.session_state.get(VIEW_KEY)
    params = dict(view.params()) if view else {}
    st.switch_page("pages/event.py", query_params={**params, "date": str(day),
                                                   **({"label": label} if label else {})})
