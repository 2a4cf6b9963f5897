"""``python -m analytics scenarios fit|run``: fit the dynamics ensemble, run saved scenarios."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from analytics.cli.common import Bars, console, fail, handle_errors, topic_or_exit

app = typer.Typer(help="Opinion dynamics (neural ODE) and what-if scenarios.",
                  no_args_is_help=True)


def _print_skill(fit) -> None:
    from analytics.dynamics import present

    if not fit.skill:
        console.print("No hold-out (ANALYTICS_DYNAMICS_HOLDOUT_FRACTION = 0): no validation.")
        return
    table = Table("score", "periods", "ODE", "persistence", "linear trend", "best")
    for row in fit.skill:
        table.add_row(row["label"], str(row["periods"]), f"{row['ode']:.3f}",
                      f"{row['persistence']:.3f}", f"{row['linear_trend']:.3f}", str(row["best"]))
    console.print("Hold-out RMSE (lower is better):")
    console.print(table)
    for ok, sentence in present.verdicts(fit):
        console.print(sentence if ok else f"[yellow]{sentence}[/yellow]")


@app.command("fit")
@handle_errors
def fit_command(topic: str = typer.Option(None, help="Topic name."),
                force: bool = typer.Option(False, "--force", help="Refit even if cached.")):
    """Fit (or load from cache) the topic's dynamics ensemble and print its hold-out skill."""
    from analytics.core.settings import get_settings
    from analytics.dynamics import present, refresh_dynamics

    bars = Bars()
    try:
        fit = refresh_dynamics(topic_or_exit(topic), get_settings(), progress=bars, force=force)
    finally:
        bars.close()
    console.print(f"Fit {fit.meta['key']} ({fit.meta['created_at']}, "
                  f"{fit.meta['fit_seconds']} s, version {fit.meta['software_version']}).")
    _print_skill(fit)
    for sentence in present.model_sentences(fit):
        console.print(sentence)


@app.command("run")
@handle_errors
def run_command(scenario: list[Path] = typer.Option(..., "--scenario", help="Scenario file "  # noqa: B008
                                                    "(YAML or JSON); repeat to compare."),
                topic: str = typer.Option(None, help="Topic name.")):
    """Simulate scenarios with the cached fit (no retraining) and print the readout."""
    from analytics.core.settings import get_settings
    from analytics.dynamics import cached_fit, load_series, readout_sentences, run_scenarios
    from analytics.dynamics.fit import DynamicsConfig
    from analytics.dynamics.scenarios import Scenario

    settings, topic_obj = get_settings(), topic_or_exit(topic)
    config = DynamicsConfig.from_settings(settings)
    series = load_series(topic_obj, settings, config.resolution)
    fit = cached_fit(series, config, settings) if series is not None else None
    if fit is None:
        raise fail("no fitted dynamics model for the current data. Run "
                   "`python -m analytics scenarios fit` first.")
    scenarios = [Scenario.load(path) for path in scenario]
    result = run_scenarios(fit, scenarios)
    for item in scenarios:
        console.print(f"[bold]{item.name}[/bold]")
        for sentence in readout_sentences(result, item):
            console.print(f"- {sentence}")
