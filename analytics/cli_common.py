"""What every CLI module shares: one console and the topic loader that exits cleanly."""

from __future__ import annotations

import typer
from rich.console import Console

from analytics.config import Topic, TopicError, load_topic

console = Console()


def topic_or_exit(name: str | None) -> Topic:
    """The topic, or one clear error line and exit code 2 (no traceback)."""
    try:
        return load_topic(name)
    except TopicError as exc:
        console.print(f"[red]Error:[/red] {exc}")
        raise typer.Exit(2) from exc
