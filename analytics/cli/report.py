"""``report``: write a trend report from what the stages stored."""

from __future__ import annotations

from pathlib import Path

import typer

from analytics.cli.common import console, fail, handle_errors, topic_or_exit
from analytics.core.errors import EXIT_BAD_INPUT
from analytics.core.settings import get_settings


@handle_errors
def report(topic: str = typer.Option(None, help="Topic name."),
           window: str = typer.Option("90d", help="30d, 90d, 180d, 1y or all."),
           fmt: str = typer.Option("html", "--format", help="html, pdf, csv (zip) or xlsx."),
           out: str = typer.Option(None, help="Output file (default: the reports folder).")):
    """Write a trend report from what the stages stored (no sampling, no training)."""
    from analytics import report as reports

    topic_obj = topic_or_exit(topic)
    if fmt not in reports.FORMATS:
        raise fail(f"unknown format '{fmt}'; use one of {', '.join(reports.FORMATS)}.",
                   EXIT_BAD_INPUT)
    settings = get_settings()
    data = reports.build_report(topic_obj, window, settings=settings)
    path = Path(out) if out else reports.default_report_path(settings, topic_obj.name, window, fmt)
    reports.write_report(data, fmt, path)
    for note in data.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    console.print(f"Report written to {path} ({path.stat().st_size / 1024:.0f} KiB)")


def register(app: typer.Typer) -> None:
    app.command()(report)
