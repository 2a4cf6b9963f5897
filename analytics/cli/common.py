"""What every CLI module shares: one console, the topic loader, progress bars, and the
error handling that turns a user-caused failure into one message and an exit code.

Exit codes: 0 ok, 1 a step failed, 2 bad input or usage, 3 already running.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console
from tqdm import tqdm

from analytics.core.errors import EXIT_FAILED, UserError
from analytics.core.progress import Progress
from analytics.core.redact import redact_configured
from analytics.core.topics import Topic, load_topic

console = Console()


def handle_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """A command whose user-caused errors end in one red line and their exit code."""
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except UserError as exc:
            console.print(f"[red]Error:[/red] {redact_configured(str(exc))}")
            raise typer.Exit(exc.exit_code) from exc
    return wrapper


def fail(message: str, code: int = EXIT_FAILED) -> typer.Exit:
    console.print(f"[red]Error:[/red] {redact_configured(message)}")
    return typer.Exit(code)


def topic_or_exit(name: str | None) -> Topic:
    """The topic; a bad name or file raises TopicError (exit code 2 via handle_errors)."""
    return load_topic(name)


class Bars:
    """A ProgressCallback drawing one tqdm bar per stage unit (closed with ``close``)."""

    def __init__(self) -> None:
        self.bar: tqdm | None = None
        self.key: tuple | None = None

    def __call__(self, update: Progress) -> None:
        key = (update.unit, update.total)
        if key != self.key:
            self.close()
            self.key = key
            self.bar = tqdm(total=update.total, unit=update.unit, dynamic_ncols=True)
        self.bar.set_description(update.stage[:48], refresh=False)
        self.bar.n = round(update.done, 2) if update.unit == "fit" else int(update.done)
        self.bar.refresh()

    def write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line)
        else:
            console.print(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
