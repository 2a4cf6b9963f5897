"""Fitting one view's trends, from the cache when possible, and choosing the form the data
support: what pages, reports, the CLI and the scheduled run call."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from analytics.core.errors import BadInput
from analytics.core.progress import Progress, ProgressCallback
from analytics.core.settings import Settings, get_settings
from analytics.core.topics import Topic, load_topic
from analytics.core.views import normalise_sources
from analytics.store import queries, session_scope
from analytics.store.runs import recorded_run
from analytics.trends import choice
from analytics.trends.cache import find_fit, fit_key, load_fit, loo_path, save_fit
from analytics.trends.config import (
    DAYS_PER_YEAR,
    FORMS,
    EventsConfig,
    ModelConfig,
    SamplerConfig,
    default_events_config,
    default_model_config,
    default_sampler_config,
)
from analytics.trends.data import TrendData, compress, make_trend_data
from analytics.trends.events import fit_events
from analytics.trends.model import FitStep, model_inputs, sample_posterior
from analytics.trends.result import (
    TrendFit,
    add_derived,
    diagnose,
    empty_events,
    events_fit_parts,
    linear_change,
    linear_lines,
    software_versions,
    stack,
    summary_table,
)

MIN_DOCUMENTS = 10  # fewer documents with a score: no trend is fitted


def _fit_step(progress: ProgressCallback | None, stage: str, offset: float,
              total: float) -> FitStep:
    def step(message: str, fraction: float) -> None:
        if progress:
            progress(Progress(f"{stage}: {message}", offset + fraction, total, unit="fit"))
    return step


def configs(form: str, settings: Settings) -> tuple[ModelConfig | EventsConfig,
                                                    SamplerConfig | None]:
    """The model (and sampler) configuration of a form under these settings."""
    if form == "events":
        return default_events_config(settings), None
    if form == "linear":
        return default_model_config(settings), default_sampler_config(settings)
    raise BadInput(f"Unknown trend form '{form}'; use {', '.join(FORMS)}.")


def fit_trend(data: TrendData, config: ModelConfig | EventsConfig | None = None,
              sampler: SamplerConfig | None = None, settings: Settings | None = None,
              progress: ProgressCallback | None = None, use_cache: bool = True,
              refit: bool = False, view: dict | None = None,
              progress_span: tuple[float, float] = (0.0, 1.0)) -> TrendFit:
    """The posterior of one score's trend in one form (given by ``config``): from the cache
    when the same fit exists. ``refit`` fits again and replaces the cached fit;
    ``use_cache=False`` neither reads nor writes the cache (benchmarks, tests)."""
    settings = settings or get_settings()
    config = config or default_model_config(settings)
    form = "events" if isinstance(config, EventsConfig) else "linear"
    if form == "linear":
        sampler = sampler or default_sampler_config(settings)
    step = _fit_step(progress, f"{data.score} · {form}", *progress_span)
    key = fit_key(data, config, sampler if form == "linear" else None)
    if use_cache and not refit and (cached := load_fit(key, settings)) is not None:
        step("Loaded from cache", 1.0)
        return cached
    started = time.perf_counter()
    if form == "events":
        fit, idata, rows, elpd = _fit_events(data, config, key, step)
    else:
        fit, idata, rows, elpd = _fit_linear(data, config, sampler, key, step)
    fit.timings["total_s"] = round(time.perf_counter() - started, 3)
    if use_cache:
        step("Saving the fit", 0.95)
        save_fit(fit, idata, rows, view or view_dict(None, None), settings)
        choice.save_pointwise(loo_path(key, settings), *elpd)
    step("Done", 1.0)
    return fit


def _base_fields(data: TrendData, key: str, form: str, n_rows: int) -> dict:
    return {"key": key, "topic": data.topic, "score": data.score, "form": form,
            "start": data.start, "end": data.end, "sources": data.sources,
            "requested_sources": data.requested_sources, "n_documents": data.n_documents,
            "n_rows": n_rows, "versions": software_versions(),
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}


def _fit_linear(data: TrendData, config: ModelConfig, sampler: SamplerConfig, key: str,
                step: FitStep) -> tuple:
    rows = compress(data, config)
    inputs = model_inputs(data, rows, config)
    idata, timings = sample_posterior(inputs, config, sampler, len(data.sources), step)
    step("Summarising the posterior", 0.85)
    add_derived(idata, data, config)
    change = linear_change(idata, data, config)
    by_source = {}
    if config.per_source_slopes:
        source_slope = stack(idata, "source_slope")
        by_source = {s: float((source_slope[:, i] < 0).mean())
                     for i, s in enumerate(data.sources)}
    obs = choice.observations(data)
    elpd, k_max = _linear_elpd(idata, data, config, obs, sampler.seed)
    fit = TrendFit(
        **_base_fields(data, key, "linear", len(rows)), model_config=asdict(config),
        sampler_config=asdict(sampler), timings={k: round(v, 3) for k, v in timings.items()},
        p_decline=float((change < 0).mean()), p_decline_by_source=by_source,
        diagnostics=diagnose(idata, config, sampler), summary=summary_table(idata, config),
        line=linear_lines(idata, data, config, sampler.seed), events=empty_events(),
        change_draws=change[:: max(1, change.size // 2000)],
        loo=choice.summarise(elpd, obs, k_max))
    return fit, idata, rows, (obs, elpd)


def _linear_elpd(idata, data: TrendData, config: ModelConfig, obs: choice.Observations,
                 seed: int) -> tuple[np.ndarray, float]:
    keep = choice.thin(stack(idata, "sigma").shape[0], seed)
    level = stack(idata, "source_level")[keep]
    slopes = (stack(idata, "source_slope")[keep] if config.per_source_slopes
              else np.repeat(stack(idata, "slope")[keep][:, None], len(data.sources), axis=1))
    t = obs.t / DAYS_PER_YEAR - data.window_years / 2
    mu = level[:, obs.source] + slopes[:, obs.source] * t[None, :]
    sigma = stack(idata, "sigma")[keep][:, obs.source]
    nu = stack(idata, "nu")[keep][:, None] if config.likelihood == "student_t" else np.inf
    return choice.pointwise_elpd(choice.student_t_loglik(obs.y[None, :], mu, sigma, nu))


def _fit_events(data: TrendData, config: EventsConfig, key: str, step: FitStep) -> tuple:
    step("Searching for turning points and shocks (exact posterior)", 0.1)
    result = fit_events(data, config)
    step("Summarising the posterior", 0.8)
    parts = events_fit_parts(result, data)
    obs = choice.observations(data)
    elpd, k_max = _events_elpd(result, obs)
    fit = TrendFit(
        **_base_fields(data, key, "events", len(result.model.cell_y)),
        model_config=config.as_dict(),
        sampler_config={"method": "exact", "draws": config.draws, "seed": config.seed},
        timings=dict(result.timings) | {"evidence": {k: round(v, 3) for k, v in
                                                      result.evidence.items()}},
        loo=choice.summarise(elpd, obs, k_max), **parts)
    return fit, None, None, (obs, elpd)


def _events_elpd(result, obs: choice.Observations) -> tuple[np.ndarray, float]:
    model = result.model
    beta = result.beta[choice.thin(result.beta.shape[0], model.config.seed)]
    masks = np.zeros((model.S, len(obs.t)))
    masks[obs.source, np.arange(len(obs.t))] = 1.0
    X, *_ = model.design(result.components, t=obs.t, masks=masks)
    mu = beta @ X.T
    sigma = np.sqrt(model.sigma**2 + model.eta**2)[obs.source][None, :]
    return choice.pointwise_elpd(choice.student_t_loglik(obs.y[None, :], mu, sigma,
                                                         model.config.nu))


# --- views -------------------------------------------------------------------------------------


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
    """Cached fits of one form for a view: exact, stale, or None. Never fits."""
    settings = settings or get_settings()
    config, sampler = configs(form, settings)
    found = {}
    for score in scores:
        key = None
        if score in scored and scored[score].notna().sum() >= MIN_DOCUMENTS:
            data = make_trend_data(scored, topic.name, score, start, end, sources)
            key = fit_key(data, config, sampler)
        found[score] = find_fit(topic.name, score, form, start, end, sources, key, settings)
    return found


@dataclass
class ViewTrend:
    """One score's trend in a view: the fits of both forms and the form the data choose."""

    score: str
    fits: dict[str, TrendFit | None]
    choice: choice.Choice | None

    @property
    def chosen(self) -> TrendFit | None:
        """The fit to show by default: the data's choice, else whichever exists."""
        if self.choice is not None and self.fits.get(self.choice.form) is not None:
            return self.fits[self.choice.form]
        return self.fits.get("events") or self.fits.get("linear")

    def shown(self, form: str | None) -> TrendFit | None:
        """The fit of the form the user picked (None = the data's choice)."""
        return self.chosen if form in (None, "auto") else self.fits.get(form)


def lookup_view(topic: Topic, scored: pd.DataFrame, scores: Iterable[str],
                sources: Sequence[str], start: dt.date | None, end: dt.date | None,
                settings: Settings | None = None) -> dict[str, ViewTrend]:
    """Both forms' cached fits per score, and the data's choice between them."""
    settings = settings or get_settings()
    scores = list(scores)
    by_form = {form: lookup_fits(topic, scored, scores, form, sources, start, end, settings)
               for form in FORMS}
    return {score: view_trend(score, {form: by_form[form][score] for form in FORMS}, settings)
            for score in scores}


def view_trend(score: str, fits: dict[str, TrendFit | None],
               settings: Settings) -> ViewTrend:
    linear, events = fits.get("linear"), fits.get("events")
    decided = None
    if linear is not None and events is not None and not (linear.stale or events.stale):
        decided = choice.choose(choice.load_pointwise(loo_path(linear.key, settings)),
                                choice.load_pointwise(loo_path(events.key, settings)))
    return ViewTrend(score, fits, decided)


def refresh_trends(topic: Topic | str | None = None, settings: Settings | None = None,
                   scores: Sequence[str] | None = None, forms: Sequence[str] = FORMS,
                   window: str = "all", sources: Sequence[str] | None = None,
                   force: bool = False, progress: ProgressCallback | None = None,
                   start: dt.date | None = None, end: dt.date | None = None) -> list[TrendFit]:
    """Fit (or load from cache) every score × form of a view; what the CLI, pages, reports
    and the scheduled run call. Records a ``runs`` row of kind ``trends``."""
    settings = settings or get_settings()
    topic = topic if isinstance(topic, Topic) else load_topic(topic, settings)
    sources = tuple(sorted(normalise_sources(sources)))
    if start is None and end is None:
        start, end = resolve_window(topic.name, window, settings)
    scores = list(scores or topic.score_keys)
    unknown = [s for s in scores if s not in topic.score_keys]
    if unknown:
        raise BadInput(f"Unknown score(s) {unknown}; the topic has {topic.score_keys}.")
    for form in forms:
        configs(form, settings)  # refuses an unknown form before any work
    scored = load_scored(topic, sources, start, end, settings)
    parameters = {"scores": scores, "forms": list(forms), "window": window,
                  "sources": list(sources), "start": str(start), "end": str(end),
                  "model": asdict(default_model_config(settings)),
                  "sampler": asdict(default_sampler_config(settings)),
                  "events": default_events_config(settings).as_dict()}
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
            config, sampler = configs(form, settings)
            fit = fit_trend(data, config, sampler, settings, progress, refit=force,
                            view=view_dict(start, end, window), progress_span=(i, len(jobs)))
            run.counts["cached" if fit.from_cache else "fitted"] += 1
            fits.append(fit)
    return fits


def warm_up(settings: Settings | None = None) -> None:
    """Compile the straight-line model for the usual shapes (1 to 3 sources) so a first
    fit on the dashboard does not wait for it; safe to call from a background thread."""
    settings = settings or get_settings()
    rng = np.random.default_rng(0)
    config, sampler = configs("linear", settings)
    tiny = SamplerConfig(draws=50, tune=50, chains=1, seed=0, sampler=sampler.sampler)
    arviz_log = logging.getLogger("arviz")
    level = arviz_log.level
    arviz_log.setLevel(logging.ERROR)  # one chain of 50 draws is enough to compile
    try:
        _warm_shapes(rng, config, tiny, settings)
    finally:
        arviz_log.setLevel(level)


def _warm_shapes(rng, config, tiny, settings) -> None:
    for n_sources in (3, 2, 1):
        data = TrendData(topic="warm-up", score="s", start=dt.date(2026, 1, 1),
                         end=dt.date(2026, 12, 31), sources=tuple(f"s{i}" for i in
                                                                  range(n_sources)),
                         requested_sources=(), t=rng.uniform(0, 1, 60),
                         source=np.arange(60) % n_sources, y=rng.uniform(3, 7, 60))
        fit_trend(data, config, tiny, settings, use_cache=False)
