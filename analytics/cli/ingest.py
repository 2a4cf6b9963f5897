"""``ingest``: fetch documents from one provider."""

from __future__ import annotations

import datetime as dt

import typer

from analytics.cli.common import Bars, console, fail, handle_errors, topic_or_exit
from analytics.core.errors import EXIT_BAD_INPUT


def _when(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise fail(f"'{value}' is not a date (use YYYY-MM-DD[THH:MM]).", EXIT_BAD_INPUT) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@handle_errors
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
    from analytics.ingest.runner import run_provider

    options = dict(item.split("=", 1) for item in option or [] if "=" in item)
    if path:
        options["path"] = path
    bars = Bars()
    try:
        result = run_provider(source, topic_or_exit(topic), query=query, since=_when(since),
                              until=_when(until), options=options, progress=bars,
                              notes=bars.write)
    finally:
        bars.close()
    console.print(result.summary())
    if result.status == "failed":
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(ingest)
