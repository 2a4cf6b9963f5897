"""``python -m analytics scenarios fit|run``: fit the dynamics ensemble, run saved scenarios."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from analytics.cli_common import console, topic_or_exit

scenarios_app = typer.Typer(help="Opinion dynamics (neural ODE) and what-if scenarios.",
                            no_args_is_help=True)




def _print_skill(fit) -> None:
    if not fit.skill:
        console.print("No hold-out (ANALYTICS_DYNAMICS_HOLDOUT_FRACTION = 0): no validation.")
        return
    table = Table("score", "periods", "ODE", "persistence", "linear trend", "best")
    for row in fit.skill:
        table.add_row(row["label"], str(row["periods"]), f"{row['ode']:.3f}",
                      f"{row['persistence']:.3f}", f"{row['linear_trend']:.3f}", str(row["best"]))
    console.print("Hold-out RMSE (lower is better):")
    console.print(table)
    for row in fit.skill:
        if not (row["ode_beats_persistence"] and row["ode_beats_trend"]):
            console.print(f"[yellow]The ODE does not beat every baseline on {row['label']}.[/]")


@scenarios_app.command("fit")
def fit_command(topic: str = typer.Option(None, help="Topic name."),
                force: bool = typer.Option(False, "--force", help="Refit even if cached.")):
    """Fit (or load from cache) the topic's dynamics ensemble and print its hold-out skill."""
    from tqdm import tqdm

    from analytics.config import get_settings
    from analytics.dynamics import DynamicsError, refresh_dynamics

    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.setdefault(stage, tqdm(total=total, desc=stage, unit="it"))
        bar.update(done - bar.n)

    try:
        fit = refresh_dynamics(topic_or_exit(topic), get_settings(), progress=progress, force=force)
    except DynamicsError as exc:
        console.print(f"[red]Error:[/red] {exc}")
        raise typer.Exit(1) from exc
    finally:
        for bar in bars.values():
            bar.close()
    console.print(f"Fit {fit.meta['key']} ({fit.meta['created_at']}, "
                  f"{fit.meta['fit_seconds']} s, version {fit.meta['software_version']}).")
    _print_skill(fit)
    for row in fit.readout:
        console.print(f"{row['label']}: settles near {row['settles_at']:.1f} "
                      f"({row['settles_low']:.1f}–{row['settles_high']:.1f}); a shock halves "
                      f"within about {row['half_life_days']:.0f} days "
                      f"(tau {row['tau_days']:.0f} d).")


@scenarios_app.command("run")
def run_command(scenario: list[Path] = typer.Option(..., "--scenario", help="Scenario file "  # noqa: B008
                                                    "(YAML or JSON); repeat to compare."),
                topic: str = typer.Option(None, help="Topic name.")):
    """Simulate scenarios with the cached fit (no retraining) and print the readout."""
    from analytics.config import get_settings
    from analytics.dynamics import (
        ScenarioError,
        cached_fit,
        describe,
        load_series,
        run_scenarios,
    )
    from analytics.dynamics.fit import DynamicsConfig
    from analytics.dynamics.scenarios import Scenario

    settings, topic_obj = get_settings(), topic_or_exit(topic)
    config = DynamicsConfig.from_settings(settings)
    series = load_series(topic_obj, settings, config.resolution)
    fit = cached_fit(series, config, settings) if series is not None else None
    if fit is None:
        console.print("[red]Error:[/red] no fitted dynamics model for the current data. Run "
                      "`python -m analytics scenarios fit` first.")
        raise typer.Exit(1)
    try:
        result = run_scenarios(fit, [Scenario.load(path) for path in scenario])
    except ScenarioError as exc:
        console.print(f"[red]Error:[/red] {exc}")
        raise typer.Exit(2) from exc
    for row in result.readout():
        console.print(describe(row, result.band))
