"""Fitting one view's trends, from the cache when possible: what pages, reports, the CLI
and the scheduled run call."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict

import pandas as pd

from analytics.core.errors import BadInput
from analytics.core.progress import Progress, ProgressCallback
from analytics.core.settings import Settings, get_settings
from analytics.core.topics import Topic, load_topic
from analytics.core.views import normalise_sources
from analytics.store import queries, session_scope
from analytics.store.runs import recorded_run
from analytics.trends.cache import find_fit, fit_key, load_fit, save_fit
from analytics.trends.config import (
    FORMS,
    ModelConfig,
    SamplerConfig,
    default_model_config,
    default_sampler_config,
)
from analytics.trends.data import TrendData, compress, make_trend_data
from analytics.trends.model import FitStep, model_inputs, sample_posterior
from analytics.trends.result import (
    TrendFit,
    add_derived,
    changepoint_tables,
    diagnose,
    pooled_slope,
    software_versions,
    stack,
    summary_table,
    trend_lines,
)

MIN_DOCUMENTS = 10  # fewer documents with a score: no trend is fitted


def _fit_step(progress: ProgressCallback | None, stage: str, offset: float,
              total: float) -> FitStep:
    def step(message: str, fraction: float) -> None:
        if progress:
            progress(Progress(f"{stage}: {message}", offset + fraction, total, unit="fit"))
    return step


def fit_trend(data: TrendData, config: ModelConfig | None = None,
              sampler: SamplerConfig | None = None, settings: Settings | None = None,
              progress: ProgressCallback | None = None, use_cache: bool = True,
              refit: bool = False, view: dict | None = None,
              progress_span: tuple[float, float] = (0.0, 1.0)) -> TrendFit:
    """The posterior of one score's trend: from the cache when the same fit exists.

    ``refit`` samples again and replaces the cached fit; ``use_cache=False`` neither reads
    nor writes the cache (benchmarks).
    """
    settings = settings or get_settings()
    config = config or default_model_config(settings)
    sampler = sampler or default_sampler_config(settings, config.form)
    progress = _fit_step(progress, f"{data.score} · {config.form}", *progress_span)
    key = fit_key(data, config, sampler)
    if use_cache and not refit and (cached := load_fit(key, settings)) is not None:
        progress("Loaded from cache", 1.0)
        return cached
    started = time.perf_counter()
    rows = compress(data, config)
    inputs = model_inputs(data, rows, config)
    idata, timings = sample_posterior(inputs, config, sampler, len(data.sources), progress)
    progress("Summarising the posterior", 0.85)
    add_derived(idata, data, config)
    slope = pooled_slope(idata, config)
    by_source = {}
    if config.per_source_slopes:
        source_slope = stack(idata, "source_slope")
        by_source = {s: float((source_slope[:, i] < 0).mean())
                     for i, s in enumerate(data.sources)}
    candidates, events = changepoint_tables(idata, data, config)
    fit = TrendFit(
        key=key, topic=data.topic, score=data.score, form=config.form, start=data.start,
        end=data.end, sources=data.sources, requested_sources=data.requested_sources,
        n_documents=data.n_documents, n_rows=len(rows), model_config=asdict(config),
        sampler_config=asdict(sampler), versions=software_versions(),
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        timings={}, p_decline=float((slope < 0).mean()), p_decline_by_source=by_source,
        diagnostics=diagnose(idata, config, sampler),
        summary=summary_table(idata, config),
        line=trend_lines(idata, data, config, sampler.seed),
        changepoints=candidates, events=events,
        slope_draws=slope[:: max(1, slope.size // 2000)],
    )
    fit.timings = {k: round(v, 3) for k, v in timings.items()} | {
        "total_s": round(time.perf_counter() - started, 3)}
    if use_cache:
        progress("Saving the fit", 0.95)
        save_fit(fit, idata, rows, view or {"view_start": None, "view_end": None}, settings)
    progress("Done", 1.0)
    return fit


def resolve_window(topic: str, window: str,
                   settings: Settings | None = None) -> tuple[dt.date | None, dt.date | None]:
    """The dates of a named window ending at the newest document (as the sidebar does)."""
    settings = settings or get_settings()
    with session_scope(settings.database_url) as session:
        return queries.resolve_window(session, topic, window)


def view_dict(start: dt.date | None, end: dt.date | None, window: str | None = None) -> dict:
    """What the cache index records about the view a fit serves."""
    return {"window": window, "view_start": str(start) if start else None,
            "view_end": str(end) if end else None}


def load_scored(topic: Topic, sources: Sequence[str], start: dt.date | None,
                end: dt.date | None, settings: Settings | None = None) -> pd.DataFrame:
    settings = settings or get_settings()
    with session_scope(settings.database_url) as session:
        return queries.scored_frame(session, topic.name, topic.score_keys, sources, start, end)


def lookup_fits(topic: Topic, scored: pd.DataFrame, scores: Iterable[str], form: str,
                sources: Sequence[str], start: dt.date | None, end: dt.date | None,
                settings: Settings | None = None) -> dict[str, TrendFit | None]:
    """Cached fits for a view (what the page shows): exact, stale, or None. Never samples."""
    settings = settings or get_settings()
    config = default_model_config(settings, form=form)
    sampler = default_sampler_config(settings, form)
    found = {}
    for score in scores:
        key = None
        if score in scored and scored[score].notna().any():
            data = make_trend_data(scored, topic.name, score, start, end, sources)
            key = fit_key(data, config, sampler)
        found[score] = find_fit(topic.name, score, form, start, end, sources, key, settings)
    return found


def refresh_trends(topic: Topic | str | None = None, settings: Settings | None = None,
                   scores: Sequence[str] | None = None, forms: Sequence[str] = FORMS,
                   window: str = "all", sources: Sequence[str] | None = None,
                   force: bool = False, progress: ProgressCallback | None = None,
                   start: dt.date | None = None, end: dt.date | None = None) -> list[TrendFit]:
    """Fit (or load from cache) every score × form of a view; what the CLI and the
    scheduled run call. Records a ``runs`` row of kind ``trends``."""
    settings = settings or get_settings()
    topic = topic if isinstance(topic, Topic) else load_topic(topic, settings)
    sources = tuple(sorted(normalise_sources(sources)))
    if start is None and end is None:
        start, end = resolve_window(topic.name, window, settings)
    scores = list(scores or topic.score_keys)
    unknown = [s for s in scores if s not in topic.score_keys]
    if unknown:
        raise BadInput(f"Unknown score(s) {unknown}; the topic has {topic.score_keys}.")
    bad_forms = [f for f in forms if f not in FORMS]
    if bad_forms:
        raise BadInput(f"Unknown trend form(s) {bad_forms}; use {', '.join(FORMS)}.")
    scored = load_scored(topic, sources, start, end, settings)
    parameters = {"scores": scores, "forms": list(forms), "window": window,
                  "sources": list(sources), "model": asdict(default_model_config(settings)),
                  "sampler": asdict(default_sampler_config(settings))}
    jobs = [(s, f) for s in scores for f in forms]
    fits: list[TrendFit] = []
    with recorded_run("trends", topic.name, None, parameters,
                      database_url=settings.database_url) as run:
        run.counts = {"fitted": 0, "cached": 0, "skipped": 0}
        for i, (score, form) in enumerate(jobs):
            if score not in scored or scored[score].notna().sum() < MIN_DOCUMENTS:
                run.counts["skipped"] += 1
                continue
            data = make_trend_data(scored, topic.name, score, start, end, sources)
            fit = fit_trend(data, default_model_config(settings, form=form),
                            default_sampler_config(settings, form), settings, progress,
                            refit=force, view=view_dict(start, end, window),
                            progress_span=(i, len(jobs)))
            run.counts["cached" if fit.from_cache else "fitted"] += 1
            fits.append(fit)
    return fits

