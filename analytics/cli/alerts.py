"""``alerts``: evaluate the alert rules now, list rules and history, send a test alert."""

from __future__ import annotations

import typer
from rich.table import Table

from analytics.cli.common import console, fail, handle_errors, topic_or_exit

app = typer.Typer(help="Alert rules: evaluate now, list them and their history, test a "
                  "channel.", no_args_is_help=True)


@app.command("run")
@handle_errors
def run(topic: str = typer.Option(None, help="Topic name.")):
    """Evaluate every active rule of the topic now (the scheduled run does this after its
    steps) and send what is new."""
    from analytics.pipeline.alerts import evaluate_rules

    report = evaluate_rules(topic_or_exit(topic))
    for alert in report.alerts:
        console.print(f"[{alert['state']}] {alert['rule']}: {alert['title']}", markup=False)
    console.print(report.line(), markup=False)
    if not report.ok:
        raise typer.Exit(1)


@app.command("rules")
@handle_errors
def rules(topic: str = typer.Option(None, help="Topic name.")):
    """List the rules."""
    from analytics.pipeline.alerts import next_evaluation, rules_table

    table = Table("id", "name", "kind", "parameters", "channels", "cool-down h", "paused")
    for rule in rules_table(topic=topic_or_exit(topic).name):
        table.add_row(str(rule["id"]), rule["name"], rule["kind"], str(rule["params"]),
                      ", ".join(rule["channels"]) or "—", f"{rule['cooldown_hours']:g}",
                      "yes" if rule["paused"] else "no")
    console.print(table)
    console.print(f"Next evaluation (scheduled run): {next_evaluation():%Y-%m-%d %H:%M %Z}")


@app.command("add-defaults")
@handle_errors
def add_defaults(topic: str = typer.Option(None, help="Topic name."),
                 channel: list[str] = typer.Option([], "--channel",  # noqa: B008
                                                   help="email and/or webhook.")):
    """Create the default rules (turning points, P(decline)/P(rise), volume, agreement,
    failing steps) with the default thresholds."""
    from analytics.pipeline.alerts import create_rule, default_rules

    for spec in default_rules(topic_or_exit(topic), channels=tuple(channel)):
        console.print(f"rule #{create_rule(spec)}: {spec.name}", markup=False)


@app.command("history")
@handle_errors
def history(topic: str = typer.Option(None, help="Topic name."),
            limit: int = typer.Option(20, help="Newest alerts shown.")):
    """The newest alerts with their state (sent, failed with the reason, suppressed)."""
    from analytics.pipeline.alerts import history as read

    table = Table("when", "rule", "state", "alert", "reason")
    for alert in read(topic=topic_or_exit(topic).name, limit=limit):
        table.add_row(f"{alert['created_at']:%Y-%m-%d %H:%M}", alert["rule"], alert["state"],
                      alert["title"], alert["reason"] or "")
    console.print(table)


@app.command("test")
@handle_errors
def test(channel: str = typer.Argument(..., help="email or webhook.")):
    """Send a test alert through a channel."""
    from analytics.pipeline.alerts import DeliveryError, send_test

    try:
        console.print(send_test(channel), markup=False)
    except DeliveryError as exc:
        raise fail(str(exc)) from None
