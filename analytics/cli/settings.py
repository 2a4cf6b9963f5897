"""``settings``: every setting with its variable, type, default and help (the docs' table)."""

from __future__ import annotations

import typer


def settings_command():
    """Print every setting as the Markdown table of docs/CONFIGURATION.md."""
    from analytics.core.settings import settings_markdown

    typer.echo(settings_markdown())


def register(app: typer.Typer) -> None:
    app.command("settings")(settings_command)
