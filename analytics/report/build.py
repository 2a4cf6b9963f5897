"""Gathering a trend report for people who never open the dashboard.

``build_report`` gathers what the stages already wrote (documents, analyses, trend fits,
level-2 summaries, cached dynamics fits). Trend fits the view lacks are fitted on the spot
(with progress: the headlines must never be a command to run); summaries and dynamics, which
take minutes, are left out with a note saying what to run when they do not exist yet. Every piece of
untrusted text is escaped: Jinja2 autoescaping in HTML/PDF, and formula neutralisation in
CSV cells.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd
import plotly.graph_objects as go

from analytics import __version__
from analytics.core.progress import ProgressCallback
from analytics.core.settings import Settings, get_settings
from analytics.core.topics import Topic
from analytics.core.views import normalise_sources
from analytics.report.headlines import Headline, headline
from analytics.store import queries, session_scope


@dataclass
class ReportData:
    topic: Topic
    window: str
    start: dt.date | None
    end: dt.date | None
    sources: tuple[str, ...]
    generated_at: dt.datetime
    is_demo: bool
    counts: dict
    coverage: pd.DataFrame
    documents: pd.DataFrame
    headlines: list[Headline] = field(default_factory=list)
    trend_table: pd.DataFrame = field(default_factory=pd.DataFrame)
    summaries: pd.DataFrame = field(default_factory=pd.DataFrame)
    scenario_lines: list[str] = field(default_factory=list)
    figures: dict[str, go.Figure] = field(default_factory=dict)
    events: pd.DataFrame = field(default_factory=pd.DataFrame)  # date, label (in the window)
    provenance: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def window_label(self) -> str:
        return "all dates" if self.start is None else f"{self.start} → {self.end}"


# --- gathering --------------------------------------------------------------------------------


def build_report(topic: Topic, window: str = "90d", sources: tuple[str, ...] | None = None,
                 settings: Settings | None = None,
                 progress: ProgressCallback | None = None) -> ReportData:
    """Gather a report of a view; trend fits it needs and does not find are fitted (with
    progress), everything else is read as the stages stored it."""
    settings = settings or get_settings()
    sources = normalise_sources(sources)
    with session_scope(settings.database_url) as session:
        start, end = queries.resolve_window(session, topic.name, window)
        documents = queries.documents_frame(session, topic.name, sources, start, end)
        scored = queries.scored_frame(session, topic.name, topic.score_keys, sources, start, end)
        counts = queries.topic_counts(session, topic.name)
        is_demo = queries.is_demo(session, topic.name)
        backends = queries.scoring_backends(session, topic.name)
        truth = queries.demo_truth_frame(session, topic.name) if is_demo else None
        stored = queries.stored_events(session, topic.name)
    data = ReportData(
        topic=topic, window=window, start=start, end=end, sources=sources,
        generated_at=dt.datetime.now(dt.UTC).replace(microsecond=0), is_demo=is_demo,
        counts=counts, coverage=coverage_table(documents, scored),
        documents=_documents_export(documents, scored, topic),
        events=_events(topic, stored, start, end),
    )
    data.provenance = {
        "software_version": __version__,
        "scoring": backends.to_dict("records"),
        "database": "PostgreSQL" if settings.database_url.startswith("postgres") else "SQLite",
        "window": data.window_label,
        "sources": ", ".join(sources),
        "generated_at": data.generated_at.isoformat(),
    }
    if documents.empty:
        data.notes.append("No documents in this window: run `python -m analytics ingest` "
                          "(or `python -m analytics demo`).")
        return data
    _add_overview_figures(data, documents, scored, truth)
    _add_trends(data, scored, settings, progress)
    _add_summaries(data, settings)
    _add_scenarios(data, settings)
    return data


def _events(topic: Topic, stored: pd.DataFrame, start: dt.date | None,
            end: dt.date | None) -> pd.DataFrame:
    """The topic's and the analysts' events inside the window."""
    rows = [{"date": e.date, "label": e.label} for e in topic.events]
    rows += [{"date": r.date, "label": r.label} for r in stored.itertuples()]
    frame = pd.DataFrame(rows, columns=["date", "label"])
    if start is not None:
        frame = frame[(frame["date"] >= start) & (frame["date"] <= end)]
    return frame.sort_values("date").reset_index(drop=True)


def coverage_table(documents: pd.DataFrame, scored: pd.DataFrame) -> pd.DataFrame:
    """Documents per source per week, and the share of them that were scored."""
    columns = ["week", "source", "documents", "scored", "share_scored"]
    if documents.empty:
        return pd.DataFrame(columns=columns)
    originals = documents[documents["duplicate_of"].isna()]
    week = originals["published_at"].dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period("W")
    frame = originals.assign(week=week.dt.start_time.dt.date,
                             scored=originals["id"].isin(set(scored["id"])))
    table = frame.groupby(["week", "source"]).agg(documents=("id", "size"),
                                                  scored=("scored", "sum")).reset_index()
    table["share_scored"] = (table["scored"] / table["documents"]).round(3)
    return table[columns]


def _documents_export(documents: pd.DataFrame, scored: pd.DataFrame, topic: Topic) -> pd.DataFrame:
    keep = ["id", "backend", "model", "summary", *topic.score_keys]
    merged = documents.merge(scored[keep], on="id", how="left") if not scored.empty else \
        documents.assign(**{k: None for k in keep if k != "id"})
    columns = ["id", "published_at", "source", "provider", "title", "url", "n_comments",
               *topic.score_keys, "summary", "backend", "model", "duplicate_of"]
    return merged[columns].sort_values("published_at").reset_index(drop=True)


def _add_overview_figures(data: ReportData, documents: pd.DataFrame, scored: pd.DataFrame,
                          truth: pd.DataFrame | None) -> None:
    from analytics.charts import overview

    data.figures["volume"] = overview.monthly_volume(queries.monthly_counts(documents),
                                                     data.events)
    if not scored.empty:
        daily = queries.daily_scores(scored, data.topic.score_keys)
        if truth is not None and data.start is not None:
            truth = truth[truth["day"].dt.date.between(data.start, data.end)]
        data.figures["daily"] = overview.daily_means(daily, data.topic, truth,
                                                     events=data.events)


def _add_trends(data: ReportData, scored: pd.DataFrame, settings: Settings,
                progress: ProgressCallback | None) -> None:
    """Each score's trend in the form its data choose, fitted first when missing."""
    from analytics import trends
    from analytics.charts import trends as trend_charts

    if scored.empty:
        data.notes.append("Nothing is scored yet, so there are no trends: run "
                          "`python -m analytics score`.")
        return
    views = trends.lookup_view(data.topic, scored, data.topic.score_keys, data.sources,
                               data.start, data.end, settings)
    if any(v.chosen is None or v.choice is None for v in views.values()):
        trends.refresh_trends(data.topic, settings, sources=data.sources, start=data.start,
                              end=data.end, progress=progress)
        views = trends.lookup_view(data.topic, scored, data.topic.score_keys, data.sources,
                                   data.start, data.end, settings)
    evidence = _headline_evidence(data.topic, settings)
    daily = queries.daily_scores(scored, data.topic.score_keys, by_source=True)
    rows = []
    for score in data.topic.scores:
        view = views[score.key]
        fit = view.chosen
        line = headline(score, fit, evidence.get(score.key),
                        view.choice.reason if view.choice else None)
        data.headlines.append(line)
        if fit is None:
            continue
        rows.append({"score": score.key, "form": fit.form, "change_points": line.change,
                     "hdi_low": line.change_low, "hdi_high": line.change_high,
                     "p_decline": line.p_decline, "slope_per_year": line.slope,
                     "events": "; ".join(f"{e.date:%Y-%m-%d} {e.kind} {e.size:+.2f}"
                                         for e in fit.detected_changes().itertuples()),
                     "documents": fit.n_documents, "diagnostics_ok": fit.diagnostics.ok,
                     "fit_key": fit.key[:12]})
        data.figures[f"trend_{score.key}"] = trend_charts.trend_figure(
            fit, daily[daily["score"] == score.key], per_source=True,
            title=f"{score.label}: trend per source with 94% credible bands",
            scale=score.scale, events=data.events)
    data.trend_table = pd.DataFrame(rows)


def _headline_evidence(topic: Topic, settings: Settings) -> dict:
    """Per score the agreement with human coding its headline must obey."""
    from analytics.report.headlines import headline_evidence

    with session_scope(settings.database_url) as session:
        return headline_evidence(session, topic)


def _add_summaries(data: ReportData, settings: Settings) -> None:
    from analytics import summarize

    frame = summarize.summaries_frame(data.topic.name, database_url=settings.database_url)
    if frame.empty:
        data.notes.append("No level-2 summaries yet: run `python -m analytics summarize "
                          "--period week`.")
        return
    if data.start is not None:
        starts = pd.to_datetime(frame["period_start"], utc=True).dt.date
        frame = frame[(starts >= data.start) & (starts <= data.end)]
    data.summaries = frame.sort_values("period_start").tail(12)


def _add_scenarios(data: ReportData, settings: Settings) -> None:
    from analytics.dynamics import latest_fit, present

    fit = latest_fit(settings, data.topic.name)
    if fit is None:
        data.notes.append("Scenario section left out: no dynamics fit yet. Run "
                          "`python -m analytics scenarios fit`.")
        return
    data.scenario_lines = present.model_sentences(fit)
    data.scenario_lines += [sentence for _ok, sentence in present.verdicts(fit)]
