"""Command line: ``python -m analytics <command>``. Long work shows a progress bar."""

from __future__ import annotations

import typer
from rich.table import Table
from tqdm import tqdm

from analytics.cli_common import console, topic_or_exit
from analytics.config import get_settings

app = typer.Typer(help="Opinion analytics: ingest, score, summarize and model media opinion.",
                  no_args_is_help=True, pretty_exceptions_enable=False)




def _bars():
    bars: dict[str, tqdm] = {}

    def update(stage: str, n: int, total: int) -> None:
        if stage not in bars:
            bars[stage] = tqdm(total=total, desc=stage, unit="doc")
        bars[stage].update(n)

    return update, bars


@app.command()
def demo(topic: str = typer.Option(None, help="Topic name (default: the configured topic)."),
         no_score: bool = typer.Option(False, "--no-score", help="Generate only, do not score."),
         no_models: bool = typer.Option(False, "--no-models",
                                        help="Skip summaries, trend fits and dynamics.")):
    """Generate the demo corpus (if missing), score it offline, and prepare every page:
    level-2 summaries, trend fits and the dynamics fit (each cached; re-runs are quick)."""
    from analytics.demo_setup import seed_demo

    topic_obj = topic_or_exit(topic)
    update, bars = _bars()
    result = seed_demo(topic_obj, progress=update, score=not no_score)
    for bar in bars.values():
        bar.close()
    if result:
        console.print(f"Demo scored: {result.scored} scored, {result.cached} from cache, "
                      f"{result.failed} failed.")
    if no_score or no_models:
        return
    from analytics.ingest.scheduled import demo_model_steps

    for name, step in demo_model_steps():
        with console.status(f"Preparing {name}…"):
            console.print(f"{name}: {step(topic_obj, get_settings())}")


@app.command()
def score(topic: str = typer.Option(None, help="Topic name."),
          backend: str = typer.Option(None, help="Scoring backend (default: setting)."),
          limit: int = typer.Option(None, help="Score at most this many documents."),
          dry_run: bool = typer.Option(False, "--dry-run",
                                       help="Print the number of calls and the estimated cost; "
                                       "send nothing."),
          budget: float = typer.Option(None, help="Cost cap of this run in USD (default: "
                                       "setting scoring_budget_usd).")):
    """Score every document that has no analysis for the current backend configuration."""
    from analytics.scoring.base import ScoringAbort
    from analytics.scoring.pipeline import estimate_run, score_topic

    topic_obj = topic_or_exit(topic)
    try:
        if dry_run:
            est = estimate_run(topic_obj, backend_name=backend, limit=limit)
            price = "" if est.price_known else " (model price unknown: add it to openai_prices)"
            console.print(
                f"Dry run, backend {est.backend}, model {est.model}: {est.documents} pending "
                f"document(s), {est.cached} from cache, {est.calls} call(s); about "
                f"{est.tokens_in:,} input + {est.tokens_out:,} output tokens; estimated cost "
                f"${est.cost_usd:.4f} (at most ${est.cost_max_usd:.4f} if every answer used "
                f"max tokens; repairs add calls){price}.")
            return
        bar = tqdm(desc="score", unit="doc")
        result = score_topic(topic_obj, backend_name=backend, limit=limit, progress=bar.update,
                             budget_usd=budget)
        bar.close()
    except ScoringAbort as exc:
        console.print(f"[red]Scoring stopped:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(result.counts())
    if result.stopped:
        console.print(f"[yellow]Stopped: {result.stopped}[/yellow]")
    if result.errors:
        console.print(f"[yellow]{len(result.errors)} failure(s); first: {result.errors[0]}[/yellow]")


@app.command()
def summarize(period: str = typer.Option("week", help="Period: week or month."),
              source: list[str] = typer.Option(None, help="Source(s) (default: all); repeat "  # noqa: B008
                                               "the option for several."),
              topic: str = typer.Option(None, help="Topic name."),
              backend: str = typer.Option(None, help="offline (extractive) or openai (LLM); "
                                          "default: the scoring_backend setting.")):
    """Level-2 summaries of the level-1 summaries, per period and source."""
    from analytics.scoring.base import ScoringAbort
    from analytics.summarize import summarize_topic

    bar = tqdm(desc="summarize", unit="period")

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        result = summarize_topic(topic_or_exit(topic), period, source or None, backend_name=backend,
                                 progress=update)
    except (ScoringAbort, ValueError) as exc:
        bar.close()
        console.print(f"[red]Summaries stopped:[/red] {exc}")
        raise typer.Exit(1) from exc
    bar.close()
    console.print(result.counts())
    if result.errors:
        console.print(f"[yellow]{len(result.errors)} failure(s); first: {result.errors[0]}[/yellow]")


@app.command()
def status(topic: str = typer.Option(None, help="Topic name.")):
    """Counts per source and month, scored vs unscored, and the last runs."""
    from analytics.store import queries as q
    from analytics.store import session_scope

    topic_obj = topic_or_exit(topic)
    with session_scope() as session:
        counts = q.topic_counts(session, topic_obj.name)
        monthly = q.monthly_counts(q.documents_frame(session, topic_obj.name))
        runs = q.runs_frame(session, limit=8)
    console.print(f"Topic [bold]{topic_obj.name}[/bold] — database {get_settings().database_url}")
    console.print(f"{counts['documents']} documents, {counts['scored']} scored, "
                  f"{counts['documents'] - counts['scored']} unscored, {counts['failed']} failed analyses")
    if not monthly.empty:
        pivot = monthly.pivot_table(index="month", columns="source", values="documents",
                                    fill_value=0)
        table = Table("month", *pivot.columns)
        for month, row in pivot.iterrows():
            table.add_row(month.strftime("%Y-%m"), *(str(int(v)) for v in row))
        console.print(table)
    table = Table("run", "kind", "provider", "status", "started", "counts")
    for run in runs.itertuples():
        table.add_row(str(run.id), run.kind, str(run.provider), run.status,
                      f"{run.started_at:%Y-%m-%d %H:%M}", str(run.counts))
    console.print(table)


from analytics.validation_cli import validate_app  # noqa: E402

app.add_typer(validate_app, name="validate")

from analytics.dynamics.cli import scenarios_app  # noqa: E402

app.add_typer(scenarios_app, name="scenarios")


def _when(value: str | None):
    import datetime as dt

    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        console.print(f"[red]Error:[/red] '{value}' is not a date (use YYYY-MM-DD[THH:MM]).")
        raise typer.Exit(2) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@app.command()
def ingest(source: str = typer.Option(..., help="Provider: gdelt|google|rss|file|youtube|reddit."),
           topic: str = typer.Option(None, help="Topic name."),
           query: str = typer.Option(None, help="One query (default: the topic's queries)."),
           since: str = typer.Option(None, help="Window start, UTC (default: 7 days ago)."),
           until: str = typer.Option(None, help="Window end, UTC (default: now)."),
           path: str = typer.Option(None, help="File to import (source 'file')."),
           option: list[str] = typer.Option(  # noqa: B008
               None, help="Provider option NAME=VALUE, e.g. preset=reddit_comments "
               "(repeatable).")):
    """Fetch documents from one provider and store them (one runs row, batch transactions)."""
    from analytics.ingest.base import UnknownProviderError
    from analytics.ingest.http import IngestError
    from analytics.ingest.runner import run_provider

    options = dict(item.split("=", 1) for item in option or [] if "=" in item)
    if path:
        options["path"] = path
    bar = tqdm(desc=f"ingest {source}", unit="doc")
    try:
        result = run_provider(source, topic_or_exit(topic), query=query, since=_when(since),
                              until=_when(until), options=options, progress=bar.update,
                              notes=lambda line: bar.write(line))
    except (IngestError, UnknownProviderError) as exc:
        bar.close()
        console.print(f"[red]Error:[/red] {exc}")
        raise typer.Exit(1) from exc
    bar.close()
    console.print(result.summary())


@app.command("scheduled-run")
def scheduled_run_command(topic: str = typer.Option(None, help="Topic name.")):
    """Ingest every configured source since its last successful run, then score (cron)."""
    from analytics.ingest.scheduled import AlreadyRunningError, scheduled_run

    try:
        scheduled_run(topic_or_exit(topic), echo=console.print)
    except AlreadyRunningError as exc:
        console.print(f"[yellow]{exc}[/yellow]")
        raise typer.Exit(3) from exc


@app.command()
def cron():
    """Print the crontab line that installs the scheduled run (see docs/INGESTION.md)."""
    from analytics.ingest.scheduled import cron_line

    typer.echo(cron_line())


@app.command()
def report(topic: str = typer.Option(None, help="Topic name."),
           window: str = typer.Option("90d", help="30d, 90d, 180d, 1y or all."),
           fmt: str = typer.Option("html", "--format", help="html, pdf, csv (zip) or xlsx."),
           out: str = typer.Option(None, help="Output file (default: the reports folder).")):
    """Write a trend report from what the stages stored (no sampling, no training)."""
    from pathlib import Path

    from analytics import reports

    topic_obj = topic_or_exit(topic)
    if fmt not in reports.FORMATS:
        console.print(f"[red]Error:[/red] unknown format '{fmt}'; use one of "
                      f"{', '.join(reports.FORMATS)}.")
        raise typer.Exit(2)
    settings = get_settings()
    try:
        data = reports.build_report(topic_obj, window, settings=settings)
    except ValueError as exc:
        console.print(f"[red]Error:[/red] {exc}")
        raise typer.Exit(2) from exc
    path = Path(out) if out else reports.default_report_path(settings, topic_obj.name, window, fmt)
    reports.write_report(data, fmt, path)
    for note in data.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    console.print(f"Report written to {path} ({path.stat().st_size / 1024:.0f} KiB)")


@app.command("trends")
def trends_command(
        topic: str = typer.Option(None, help="Topic name."),
        score: list[str] = typer.Option(None, "--score", help="Score key (repeatable; "  # noqa: B008
                                        "default: every score of the topic)."),
        window: str = typer.Option("all", help="Window ending at the newest document: "
                                   "30d, 90d, 180d, 1y or all."),
        form: str = typer.Option("both", help="Trend form: linear, changepoint or both."),
        force: bool = typer.Option(False, "--force", help="Sample again even when cached.")):
    """Fit (or reuse cached) Bayesian trends of the scores; the dashboard reads these fits."""
    from analytics.trends import FORMS, refresh_trends

    topic_obj = topic_or_exit(topic)
    forms = FORMS if form == "both" else (form,)
    if any(f not in FORMS for f in forms):
        console.print(f"[red]Error:[/red] unknown form '{form}'; use linear, changepoint or both.")
        raise typer.Exit(2)
    bar = tqdm(total=100, desc="trends", unit="%")

    def progress(message: str, done: float) -> None:
        bar.set_description(message[:60])
        bar.update(round(done * 100) - bar.n)

    try:
        fits = refresh_trends(topic_obj, scores=score or None, forms=forms, window=window,
                              force=force, progress=progress)
    except ValueError as exc:
        bar.close()
        console.print(f"[red]Error:[/red] {exc}")
        raise typer.Exit(2) from exc
    bar.close()
    table = Table("score", "form", "slope/yr (94% HDI)", "P(decline)", "turns", "sampler",
                  "docs", "source")
    for fit in fits:
        slope = fit.slope()
        turns = ", ".join(f"{e.date:%Y-%m-%d} {e.direction}"
                          for e in fit.detected_changes().itertuples()) or "—"
        table.add_row(fit.score, fit.form, f"{slope['mean']:+.2f} [{slope['hdi_low']:+.2f}, "
                      f"{slope['hdi_high']:+.2f}]", f"{fit.p_decline:.0%}",
                      turns if fit.form == "changepoint" else "", "ok" if fit.diagnostics.ok
                      else "; ".join(fit.diagnostics.problems), str(fit.n_documents),
                      "cache" if fit.from_cache else f"fitted {fit.timings.get('total_s')} s")
    console.print(table)
    if not fits:
        console.print("No score has enough scored documents; run `python -m analytics demo` "
                      "or `python -m analytics score` first.")


def main() -> None:
    app()
