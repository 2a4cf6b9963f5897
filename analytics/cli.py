"""Command line: ``python -m analytics <command>``. Long work shows a progress bar."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from analytics.config import TopicError, get_settings, load_topic

app = typer.Typer(help="Opinion analytics: ingest, score, summarize and model media opinion.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
console = Console()


def _topic(name: str | None):  # noqa: ANN202
    try:
        return load_topic(name)
    except TopicError as exc:
        console.print(f"[red]Error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _bars():  # noqa: ANN202
    bars: dict[str, tqdm] = {}

    def update(stage: str, n: int, total: int) -> None:
        if stage not in bars:
            bars[stage] = tqdm(total=total, desc=stage, unit="doc")
        bars[stage].update(n)

    return update, bars


@app.command()
def demo(topic: str = typer.Option(None, help="Topic name (default: the configured topic)."),
         no_score: bool = typer.Option(False, "--no-score", help="Generate only, do not score.")):
    """Generate the synthetic demo corpus (if missing) and score it with the offline backend."""
    from analytics.demo_setup import seed_demo

    update, bars = _bars()
    result = seed_demo(_topic(topic), progress=update, score=not no_score)
    for bar in bars.values():
        bar.close()
    if result:
        console.print(f"Demo ready: {result.scored} scored, {result.cached} from cache, "
                      f"{result.failed} failed.")


@app.command()
def score(topic: str = typer.Option(None, help="Topic name."),
          backend: str = typer.Option(None, help="Scoring backend (default: setting)."),
          limit: int = typer.Option(None, help="Score at most this many documents.")):
    """Score every document that has no analysis for the current backend configuration."""
    from analytics.scoring.pipeline import score_topic

    bar = tqdm(desc="score", unit="doc")
    result = score_topic(_topic(topic), backend_name=backend, limit=limit, progress=bar.update)
    bar.close()
    console.print(result.counts())
    if result.errors:
        console.print(f"[yellow]{len(result.errors)} failure(s); first: {result.errors[0]}[/yellow]")


@app.command()
def status(topic: str = typer.Option(None, help="Topic name.")):
    """Counts per source and month, scored vs unscored, and the last runs."""
    from analytics.store import session_scope
    from analytics.store import queries as q

    topic_obj = _topic(topic)
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


def main() -> None:
    app()
