"""Cached reads for the pages. Pages never open database sessions themselves: they call
these. The caches live until the data change: every script run first compares the store's
fingerprint (``refresh_on_new_data``, a few index lookups at most every
``FINGERPRINT_EVERY_S``) and clears them when a run ended or rows were added, whoever wrote
them (the dashboard, the CLI, the cron job, a worker elsewhere)."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pandas as pd
import streamlit as st

from analytics.core.settings import get_settings
from analytics.core.topics import Topic, load_topic
from analytics.store import queries, session_scope

# Re-exported so pages import only the dashboard layer: frame helpers for data pages already
# hold, and the search syntax help.
from analytics.store.queries import daily_scores as daily_scores
from analytics.store.queries import monthly_counts as monthly_counts
from analytics.store.search import HELP as SEARCH_HELP  # noqa: F401

TTL = 3600  # a backstop only: new data clear the caches at once (refresh_on_new_data)
FINGERPRINT_EVERY_S = 2.0
_fingerprint: dict = {"seen": None, "checked": 0.0}
_fingerprint_lock = threading.Lock()


def refresh_on_new_data() -> None:
    """Clear every cached read when the store changed since the last look."""
    with _fingerprint_lock:
        now = time.monotonic()
        if now - _fingerprint["checked"] < FINGERPRINT_EVERY_S:
            return
        _fingerprint["checked"] = now
        with session_scope() as session:
            version = (get_settings().database_url, queries.data_version(session))
        changed = _fingerprint["seen"] is not None and version != _fingerprint["seen"]
        _fingerprint["seen"] = version
    if changed:
        forget_cached_reads()


@st.cache_data(ttl=TTL, show_spinner=False)
def date_range(topic: str) -> tuple[dt.date, dt.date] | None:
    with session_scope() as session:
        return queries.date_range(session, topic)


@st.cache_data(ttl=TTL, show_spinner=False)
def load_status(topic: str) -> dict:
    with session_scope() as session:
        counts = queries.topic_counts(session, topic)
        return {
            "counts": counts,
            "database_empty": counts["documents"] == 0 and queries.document_total(session) == 0,
            "is_demo": queries.is_demo(session, topic),
            "backends": queries.scoring_backends(session, topic),
            "runs": queries.runs_frame(session, limit=10),
        }


@st.cache_data(ttl=TTL, show_spinner=False)
def outlets(topic: str) -> pd.DataFrame:
    with session_scope() as session:
        return queries.outlet_counts(session, topic)


@st.cache_data(ttl=TTL, show_spinner=False)
def languages(topic: str) -> pd.DataFrame:
    with session_scope() as session:
        return queries.language_counts(session, topic)


@st.cache_data(ttl=TTL, show_spinner=False)
def unscored_reasons(topic: str) -> pd.DataFrame:
    with session_scope() as session:
        return queries.unscored_reasons(session, topic)


@st.cache_data(ttl=TTL, show_spinner=False)
def unscored_documents(topic: str) -> dict[int, str]:
    """Document id -> why the scorer left every score null (once per topic, not per view)."""
    with session_scope() as session:
        return queries.unscored_documents(session, topic)


@st.cache_data(ttl=TTL, show_spinner=False)
def load_documents(topic: str, sources: tuple[str, ...], start, end,
                   outlets: tuple[str, ...] = (), languages: tuple[str, ...] = ()
                   ) -> pd.DataFrame:
    with session_scope() as session:
        return queries.documents_frame(session, topic, sources, start, end, outlets,
                                       languages)


@st.cache_data(ttl=TTL, show_spinner=False)
def load_scored(topic: str, score_keys: tuple[str, ...], sources: tuple[str, ...],
                start, end, outlets: tuple[str, ...] = (), languages: tuple[str, ...] = ()
                ) -> pd.DataFrame:
    with session_scope() as session:
        return queries.scored_frame(session, topic, score_keys, sources, start, end,
                                    outlets=outlets, languages=languages)


def view_documents(view) -> pd.DataFrame:
    return load_documents(view.topic.name, view.sources, view.start, view.end, view.outlets,
                          view.languages)


@st.cache_data(ttl=TTL, show_spinner=False)
def documents_with_scores(topic: str, score_keys: tuple[str, ...], sources: tuple[str, ...],
                          start, end, outlets: tuple[str, ...] = (),
                          languages: tuple[str, ...] = ()) -> pd.DataFrame:
    """The Documents page's table for a view (built once per view, not on every click)."""
    from analytics.dashboard.tables import documents_table

    return documents_table(
        load_documents(topic, sources, start, end, outlets, languages),
        load_scored(topic, score_keys, sources, start, end, outlets, languages),
        score_keys, unscored_documents(topic))


def view_documents_with_scores(view) -> pd.DataFrame:
    return documents_with_scores(view.topic.name, tuple(view.topic.score_keys), view.sources,
                                 view.start, view.end, view.outlets, view.languages)


@st.cache_data(ttl=TTL, show_spinner=False)
def daily_means(topic: str, score_keys: tuple[str, ...], sources: tuple[str, ...], start, end,
                outlets: tuple[str, ...], keys: tuple[str, ...],
                by_source: bool) -> pd.DataFrame:
    """Daily mean and count per score (and source) of a view: cached, since a large corpus
    takes a noticeable moment to group."""
    scored = load_scored(topic, score_keys, sources, start, end, outlets)
    return queries.daily_scores(scored, keys, by_source=by_source)


def view_daily(view, keys, by_source: bool = False) -> pd.DataFrame:
    return daily_means(view.topic.name, tuple(view.topic.score_keys), view.sources, view.start,
                       view.end, view.outlets, tuple(keys), by_source)


def view_scored(view) -> pd.DataFrame:
    return load_scored(view.topic.name, tuple(view.topic.score_keys), view.sources,
                       view.start, view.end, view.outlets, view.languages)


@st.cache_data(ttl=TTL, show_spinner=False)
def topic_events(topic_name: str) -> pd.DataFrame:
    """The topic's dated events: from its YAML file and added by analysts."""
    topic = load_topic(topic_name)
    rows = [{"date": e.date, "label": e.label, "origin": "topic file", "id": None}
            for e in topic.events]
    with session_scope() as session:
        stored = queries.stored_events(session, topic_name)
    rows += [{"date": r.date, "label": r.label, "id": r.id,
              "origin": f"added by {r.created_by or 'an analyst'}"}
             for r in stored.itertuples()]
    frame = pd.DataFrame(rows, columns=["date", "label", "origin", "id"])
    return frame.sort_values("date").reset_index(drop=True)


@st.cache_data(ttl=TTL, show_spinner=False)
def load_truth(topic: str) -> pd.DataFrame:
    with session_scope() as session:
        return queries.demo_truth_frame(session, topic)


@st.cache_data(ttl=TTL, show_spinner=False)
def load_document_detail(document_id: int) -> dict | None:
    with session_scope() as session:
        return queries.document_detail(session, document_id)


@st.cache_data(ttl=TTL, show_spinner=False)
def search_ids(topic: str, text: str) -> dict[int, float]:
    """Full-text matches of the topic: document id -> relevance."""
    with session_scope() as session:
        return queries.search_document_ids(session, topic, text)


# --- trends -----------------------------------------------------------------------------------

@st.cache_data(ttl=TTL, show_spinner=False)
def trend_view(topic_name: str, scores: tuple[str, ...], sources: tuple[str, ...],
               start, end) -> dict:
    """Both forms' cached fits per score and the data's choice; never fits."""
    from analytics.trends import lookup_view

    topic = load_topic(topic_name)
    scored = load_scored(topic_name, tuple(topic.score_keys), sources, start, end)
    return lookup_view(topic, scored, scores, sources, start, end, get_settings())


def cached_headlines(view) -> list:
    """The headline of each score whose trend is already fitted for this view (the Overview
    never fits; the Trends page does), worded by ``report.headline`` with its agreement."""
    from analytics.report import headline

    topic = view.topic
    views = trend_view(topic.name, tuple(topic.score_keys), view.sources, view.start, view.end)
    evidence = headline_evidence(topic.name)
    out = []
    for key, trend in views.items():
        if trend.chosen is not None:
            reason = trend.choice.reason if trend.choice else None
            out.append(headline(topic.score(key), trend.chosen, evidence.get(key), reason))
    return out


# --- dynamics ---------------------------------------------------------------------------------

@st.cache_resource(ttl=TTL, show_spinner=False)
def dynamics_fit(topic_name: str, config_json: str):
    """(fit for the current data or None, newest older fit or None). Reads the cache only."""
    from analytics.dynamics import DynamicsConfig, cached_fit, latest_fit, load_series

    settings = get_settings()
    config = DynamicsConfig.model_validate_json(config_json)
    series = load_series(load_topic(topic_name), settings, config.resolution)
    if series is None:
        return None, None
    current = cached_fit(series, config, settings)
    return current, None if current else latest_fit(settings, topic_name)


@st.cache_data(ttl=600, show_spinner=False, max_entries=64)
def simulate(fit_key: str, scenarios_json: tuple[str, ...], _fit):
    from analytics.dynamics import Scenario, run_scenarios

    return run_scenarios(_fit, [Scenario.model_validate_json(s) for s in scenarios_json])


def saved_scenarios(topic: str) -> dict:
    from analytics.dynamics import saved_scenarios as saved

    return saved(get_settings(), topic)


# --- summaries --------------------------------------------------------------------------------

@st.cache_data(ttl=TTL, show_spinner=False)
def load_summaries(topic_name: str, period: str) -> pd.DataFrame:
    from analytics.summarize import summaries_frame

    return summaries_frame(topic_name, period=period)


@st.cache_data(ttl=TTL, show_spinner=False)
def load_summary_detail(summary_id: int, topic_name: str) -> dict | None:
    from analytics.summarize import summary_detail

    return summary_detail(summary_id, load_topic(topic_name))


@st.cache_resource(ttl=TTL, show_spinner=False)
def chunk_index(topic_name: str, sources: tuple[str, ...], start, end):
    from analytics.summarize.ask import load_index

    return load_index(topic_name, sources, start, end)


# --- validation -------------------------------------------------------------------------------

def validation_state(topic: Topic) -> dict:
    """The current sample and every label (uncached: coding changes them constantly)."""
    from analytics import validate

    with session_scope() as session:
        return {"sample": validate.latest_sample(session, topic.name),
                "labels": validate.labels_frame(session, topic.name)}


def coding_view(topic: Topic, document_id: int, annotator: str) -> dict:
    """A document for coding, this annotator's saved labels, and (only once they are all
    saved) the machine's scores."""
    from analytics import validate

    with session_scope() as session:
        return {
            "document": validate.document_for_coding(session, document_id),
            "previous": (validate.saved_labels(session, topic, document_id, annotator)
                         if annotator else {}),
            "revealed": validate.revealed_scores(session, topic, document_id, annotator),
        }


def agreement_view(topic: Topic) -> dict:
    from analytics import validate

    with session_scope() as session:
        return {"agreement": validate.agreement_table(session, topic),
                "pairs": validate.paired_ratings(session, topic),
                "corrected": validate.corrected_trend_table(session, topic),
                "coding_sheet": validate.coding_sheet_csv(session, topic)}


def adopted_calibrations(topic: Topic) -> pd.DataFrame:
    from analytics.pipeline.calibrate import adopted_table

    return adopted_table(topic)


@st.cache_data(ttl=TTL, show_spinner=False)
def headline_evidence(topic_name: str) -> dict:
    """Per score the agreement with human coding behind its headline and badge (the same
    figures the Validation page shows)."""
    from analytics.report.headlines import headline_evidence as evidence

    with session_scope() as session:
        return evidence(session, load_topic(topic_name))


# --- reports and sources ----------------------------------------------------------------------

@st.cache_data(ttl=TTL, show_spinner="Gathering the report…")
def load_report(topic: str, window: str, sources: tuple[str, ...]):
    from analytics.report import build_report

    return build_report(load_topic(topic), window, sources)


@st.cache_data(ttl=TTL, show_spinner=False)
def report_html(topic: str, window: str, sources: tuple[str, ...]) -> str:
    from analytics.report import render_html

    return render_html(load_report(topic, window, sources))


def sources_view(topic: Topic) -> dict:
    from analytics.pipeline.sources import ingest_runs, quota_today, sources_frame

    settings = get_settings()
    return {"sources": sources_frame(topic, settings), "quota": quota_today(settings),
            "runs": ingest_runs(settings, topic.name)}


@st.cache_data(ttl=TTL, show_spinner="Comparing before and after…")
def around(topic_name: str, sources: tuple[str, ...], outlets: tuple[str, ...],
           day: dt.date, days: int):
    """What changed around a date in the view (``trends.around``)."""
    from analytics.trends.around import around as compute

    topic = load_topic(topic_name)
    with session_scope() as session:
        scored = queries.scored_frame(session, topic_name, topic.score_keys, sources,
                                      day - dt.timedelta(days=days),
                                      day + dt.timedelta(days=days), outlets=outlets)
    return compute(scored, day, topic.score_keys, days)


def forget_cached_reads() -> None:
    """After a write (a finished job, new labels): every page reads afresh."""
    st.cache_data.clear()
    dynamics_fit.clear()
    chunk_index.clear()


# --- saved views and alerts (small tables, read fresh: they change by the visitor's clicks) ---


def saved_views(owner: str | None) -> list:
    from analytics.store.saved_views import list_views

    with session_scope() as session:
        return list_views(session, owner)


def alert_rules(topic: str) -> list[dict]:
    from analytics.pipeline.alerts import rules_table

    return rules_table(topic=topic)


def alert_history(topic: str, limit: int = 200) -> pd.DataFrame:
    from analytics.pipeline.alerts import history

    rows = history(topic=topic, limit=limit)
    columns = ["created_at", "rule", "state", "title", "reason", "as_of", "link", "kind", "id"]
    return pd.DataFrame(rows, columns=[*columns, "rule_id", "text", "deliveries",
                                       "details"])[columns].fillna({"reason": ""})


def next_alert_evaluation() -> dt.datetime | None:
    from analytics.core.errors import BadInput
    from analytics.pipeline.alerts import next_evaluation

    try:
        return next_evaluation()
    except BadInput:
        return None


def alert_channels() -> dict[str, str]:
    """Which channels are configured, described without secrets."""
    from analytics.pipeline.alerts.channels import webhook_target

    alerts = get_settings().alerts
    email = (f"{alerts.smtp_host}:{alerts.smtp_port} ({alerts.smtp_security}) → "
             f"{', '.join(alerts.email_recipients)}"
             if alerts.smtp_host and alerts.email_recipients else "not configured")
    hook = webhook_target(get_settings()) if alerts.webhook_url.get_secret_value() \
        else "not configured"
    return {"email": email, "webhook": hook}


def alert_kinds() -> dict[str, str]:
    from analytics.pipeline.alerts import KINDS

    return dict(KINDS)


def alert_defaults(kind: str) -> dict:
    from analytics.pipeline.alerts import default_params

    return default_params(kind, get_settings())
