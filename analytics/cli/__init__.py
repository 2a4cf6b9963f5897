"""Command line: ``python -m analytics <command>`` (also the ``analytics`` console script).

One module per stage registers its commands here. Long work shows a progress bar; a
failure the user can fix ends in one message and an exit code: 0 ok, 1 a step failed,
2 bad input or usage, 3 already running.
"""

from __future__ import annotations

import logging

import typer

from analytics.cli import (
    alerts,
    ingest,
    pipeline,
    report,
    scenarios,
    score,
    settings,
    summarize,
    trends,
    validate,
    worker,
)

app = typer.Typer(help="Opinion analytics: ingest, score, summarize and model media opinion.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
for module in (pipeline, ingest, score, worker, summarize, trends, report, settings):
    module.register(app)
app.add_typer(validate.app, name="validate")
app.add_typer(scenarios.app, name="scenarios")
app.add_typer(alerts.app, name="alerts")


def main() -> None:
    from analytics.core.redact import install_log_redaction
    from analytics.store.runs import stop_on_sigterm

    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_redaction()  # keys, passwords and URL user-info never reach the log
    stop_on_sigterm()  # SIGTERM ends a run as 'stopped', keeping finished work
    app()
