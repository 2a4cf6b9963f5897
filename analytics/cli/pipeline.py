"""``demo``, ``scheduled-run``, ``cron`` and ``status``: the whole pipeline at once."""

from __future__ import annotations

import typer
from rich.table import Table

from analytics.cli.common import Bars, console, handle_errors, topic_or_exit
from analytics.core.settings import get_settings


@handle_errors
def demo(topic: str = typer.Option(None, help="Topic name (default: the configured topic)."),
         no_score: bool = typer.Option(False, "--no-score", help="Generate only, do not score."),
         no_models: bool = typer.Option(False, "--no-models",
                                        help="Skip summaries, trend fits and dynamics.")):
    """Generate the demo corpus (if missing), score it offline, and prepare every page:
    level-2 summaries, trend fits and the dynamics fit (each cached; re-runs are quick)."""
    from analytics.pipeline.demo import prepare_demo

    bars = Bars()
    try:
        done = prepare_demo(topic_or_exit(topic), progress=bars, echo=bars.write,
                            score=not no_score, models=not no_models)
    finally:
        bars.close()
    if not done.ok:
        raise typer.Exit(1)


@handle_errors
def scheduled_run(topic: str = typer.Option(None, help="Topic name.")):
    """Ingest every configured source since its last successful run, then score, summarize,
    refit and write the report (what cron runs). Exits 1 when any step failed."""
    from analytics.pipeline.scheduled import scheduled_run as run

    report = run(topic_or_exit(topic), echo=console.print)
    if not report.ok:
        console.print("[red]At least one step failed (see above).[/red]")
        raise typer.Exit(1)


def cron():
    """Print the crontab line that installs the scheduled run (see docs/INGESTION.md)."""
    from analytics.pipeline.scheduled import cron_line

    typer.echo(cron_line())


@handle_errors
def status(topic: str = typer.Option(None, help="Topic name.")):
    """Counts per source and month, scored vs unscored, and the last runs."""
    from analytics.core.redact import redact
    from analytics.store import queries as q
    from analytics.store import session_scope
    from analytics.store.passages import vector_search

    topic_obj = topic_or_exit(topic)
    with session_scope() as session:
        counts = q.topic_counts(session, topic_obj.name)
        monthly = q.monthly_counts(q.documents_frame(session, topic_obj.name))
        runs = q.runs_frame(session, limit=8)
        retrieval = vector_search(session)
    console.print(f"Topic [bold]{topic_obj.name}[/bold] — database "
                  f"{redact(get_settings().database_url)}")
    console.print(f"Passage retrieval: {retrieval.note}", markup=False)
    console.print(f"{counts['documents']} documents, {counts['scored']} scored, "
                  f"{counts['documents'] - counts['scored']} unscored, {counts['failed']} "
                  "failed analyses")
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


def register(app: typer.Typer) -> None:
    app.command()(demo)
    app.command("scheduled-run")(scheduled_run)
    app.command()(cron)
    app.command()(status)
