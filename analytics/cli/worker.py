"""``worker``: one of any number of scoring workers sharing the database."""

from __future__ import annotations

import typer

from analytics.cli.common import Bars, console, handle_errors, topic_or_exit
from analytics.core.settings import get_settings


@handle_errors
def worker(topic: str = typer.Option(None, help="Topic name."),
           backend: str = typer.Option(None, help="Scoring backend (default: setting)."),
           batch_size: int = typer.Option(32, help="Documents claimed at a time."),
           budget: float = typer.Option(None, help="Cost cap in USD of the budget pool every "
                                        "worker shares (setting scoring_budget_pool); "
                                        "default: setting scoring_budget_usd."),
           reset_budget: bool = typer.Option(False, "--reset-budget",
                                             help="Start the pool's spend from 0."),
           poll: float = typer.Option(None, help="Seconds between looks for new documents "
                                      "when idle (default: setting worker_poll_s)."),
           exit_when_idle: bool = typer.Option(
               False, "--exit-when-idle", help="Exit when no document is pending and no "
               "other run holds one (default: run until stopped)."),
           retry_failed: bool = typer.Option(False, "--retry-failed",
                                             help="Also re-score failed analyses."),
           quiet: bool = typer.Option(False, "--quiet", help="No progress bar.")):
    """Score pending documents as one of any number of workers, on one or many machines
    sharing the database (PostgreSQL for several machines). Each document is claimed by one
    worker, so none is scored or paid for twice; the budget and the endpoint's rate limits
    are shared through the database. Stop with Ctrl-C or SIGTERM (finished work is kept);
    a worker killed outright is detected by its heartbeat and its documents are released."""
    from analytics.score.pipeline import score_topic

    settings = get_settings()
    budget = budget if budget is not None else settings.score.budget_usd
    bars = None if quiet else Bars()
    try:
        result = score_topic(
            topic_or_exit(topic), settings=settings, backend_name=backend,
            batch_size=batch_size, progress=bars, budget_usd=budget,
            budget_pool=settings.score.budget_pool if budget is not None else None,
            reset_budget=reset_budget, poll_s=poll or settings.score.worker_poll_s,
            until_idle=exit_when_idle, retry_failed=retry_failed)
    finally:
        if bars is not None:
            bars.close()
    console.print(result.counts())
    if result.stopped:
        console.print(f"[yellow]Stopped: {result.stopped}[/yellow]")


def register(app: typer.Typer) -> None:
    app.command()(worker)
