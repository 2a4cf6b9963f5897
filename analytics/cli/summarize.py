"""``summarize``: level-2 summaries per period and source."""

from __future__ import annotations

import typer

from analytics.cli.common import Bars, console, handle_errors, topic_or_exit


@handle_errors
def summarize(period: str = typer.Option("week", help="Period: week or month."),
              source: list[str] = typer.Option(None, help="Source(s) (default: all); repeat "  # noqa: B008
                                               "the option for several."),
              topic: str = typer.Option(None, help="Topic name."),
              backend: str = typer.Option(None, help="offline (extractive) or openai (LLM); "
                                          "default: the scoring_backend setting.")):
    """Level-2 summaries of the level-1 summaries, per period and source."""
    from analytics.summarize import summarize_topic

    bars = Bars()
    try:
        result = summarize_topic(topic_or_exit(topic), period, source or None,
                                 backend_name=backend, progress=bars)
    finally:
        bars.close()
    console.print(result.counts())
    if result.errors:
        console.print(f"[yellow]{len(result.errors)} failure(s); first: {result.errors[0]}"
                      "[/yellow]")


def register(app: typer.Typer) -> None:
    app.command()(summarize)
