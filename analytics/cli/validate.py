"""``validate sample|agreement|corrected-trend|calibrate|withdraw``: human gold labels and
what they show, and calibration of the offline scorer from them."""

from __future__ import annotations

import math

import typer
from rich.table import Table

from analytics.cli.common import console, handle_errors, topic_or_exit
from analytics.core.settings import get_settings

app = typer.Typer(help="Human gold labels: sample, agreement, bias-corrected trends.",
                  no_args_is_help=True)

def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.2f}"
    return str(value)


@app.command("sample")
@handle_errors
def sample(topic: str = typer.Option(None, help="Topic name."),
           size: int = typer.Option(None, help="Documents to draw (default: setting)."),
           design: str = typer.Option(None, help="'simple' or 'stratified' (default: setting)."),
           seed: int = typer.Option(None, help="RNG seed (default: setting).")):
    """Draw a validation sample with known inclusion probabilities and store it."""
    from analytics.validate import draw_sample

    topic_obj = topic_or_exit(topic)
    drawn = draw_sample(topic_obj.name, size=size, design=design, seed=seed,
                        settings=get_settings())
    p = drawn.parameters
    console.print(f"Sample run {drawn.run_id}: {p['design']}, {p['drawn']} of "
                  f"{p['frame_documents']} documents, seed {p['seed']}, "
                  f"{len(p['strata'])} stratum/strata. Code them on the Validation page or "
                  "fill the coding sheet exported there.")


@app.command("agreement")
@handle_errors
def agreement(topic: str = typer.Option(None, help="Topic name.")):
    """Machine vs human agreement per score and model; inter-coder alpha."""
    from analytics.store import session_scope
    from analytics.validate import agreement_table, intercoder_table, labels_frame

    topic_obj = topic_or_exit(topic)
    with session_scope() as session:
        table = agreement_table(session, topic_obj)
        coders = intercoder_table(labels_frame(session, topic_obj.name), topic_obj)
    if table.empty:
        console.print("No document has both a human label and a machine score yet.")
        raise typer.Exit(0)
    shown = ["score", "model", "pairs", "alpha", "verdict", "mae", "spearman", "bias",
             "addressed_agreement"]
    out = Table(*shown[:-1], "addressed")
    for row in table[shown].itertuples(index=False):
        out.add_row(*(_fmt(x) for x in row))
    console.print(out)
    out = Table(*coders.columns, title="inter-coder reliability")
    for row in coders.itertuples(index=False):
        out.add_row(*(_fmt(x) for x in row))
    console.print(out)
    console.print("alpha ≥ 0.8 good · ≥ 0.667 tentative · below: poor")


@app.command("corrected-trend")
@handle_errors
def corrected_trend(topic: str = typer.Option(None, help="Topic name."),
                    backend: str = typer.Option(None, help="Only analyses of this backend.")):
    """Naive vs bias-corrected trend slope (points per year, 95% intervals) per score."""
    from analytics.store import session_scope
    from analytics.validate import corrected_trend_table

    topic_obj = topic_or_exit(topic)
    with session_scope() as session:
        trends = corrected_trend_table(session, topic_obj, backend=backend)
    if trends.empty:
        console.print("No validation sample yet: run `python -m analytics validate sample`.")
        raise typer.Exit(0)
    out = Table("score", "naive slope [95%]", "corrected slope [95%]", "gold", "z")
    for row in trends.itertuples():
        naive = f"{row.naive_slope:+.2f} [{row.naive_low:+.2f}, {row.naive_high:+.2f}]"
        out.add_row(row.score, naive,
                    "—" if math.isnan(row.corrected_slope) else
                    f"{row.corrected_slope:+.2f} [{row.corrected_low:+.2f}, "
                    f"{row.corrected_high:+.2f}]",
                    str(row.gold_documents), _fmt(row.difference_z))
    console.print(out)
    for row in trends.itertuples():
        console.print(f"[bold]{row.score}[/bold]: {row.verdict}")


@app.command("calibrate")
@handle_errors
def calibrate(topic: str = typer.Option(None, help="Topic name."),
              score: list[str] = typer.Option(None, "--score",  # noqa: B008
                                              help="Score key (repeatable; default: all)."),
              adopt: bool = typer.Option(False, "--adopt", help="Adopt every calibration that "
                                         "beats the uncalibrated scorer, then re-score the topic."),
              rescore: bool = typer.Option(True, help="With --adopt: re-score now (cached, "
                                           "resumable); --no-rescore leaves it to "
                                           "`python -m analytics score`.")):
    """Fit a per-score calibration on the gold labels, cross-validate it against the current
    scorer (alpha and MAE with 95% bootstrap intervals) and, with --adopt, adopt it."""
    from analytics.cli.common import Bars
    from analytics.pipeline.calibrate import calibrate_topic

    topic_obj = topic_or_exit(topic)
    settings = get_settings()
    bars = Bars()
    try:
        report = calibrate_topic(topic_obj, scores=score or None, adopt=adopt,
                                 rescore=rescore, settings=settings, progress=bars)
    finally:
        bars.close()
    table = report.table()
    out = Table("score", "labels", "alpha uncalibrated", "alpha calibrated", "alpha gain",
                "MAE uncalibrated", "MAE calibrated", "MAE change", "decision",
                title=f"calibration run {report.run_id} · scorer {report.scorer_before}")
    for row in table.itertuples(index=False):
        out.add_row(*(str(x) for x in row))
    console.print(out)
    console.print(f"Rule: adopt when alpha is higher, MAE lower and the 95% interval of the "
                  f"alpha gain is above 0 ({settings.validation.calibration_folds}-fold "
                  f"cross-validation; intervals: {settings.validation.calibration_bootstrap} "
                  "bootstrap resamples of the documents).")
    if report.adopted:
        console.print(f"Adopted {sorted(report.adopted)}; scorer version now "
                      f"{report.scorer_after}.")
        if report.rescored is not None:
            r = report.rescored
            console.print(f"Re-scored: {r.scored} scored, {r.cached} from cache, {r.failed} "
                          "failed.")
        else:
            console.print("Re-score with `python -m analytics score` (cached, resumable).")
    elif adopt:
        console.print("Nothing adopted: no calibration beat the uncalibrated scorer.")
    elif report.proposable:
        console.print(f"{sorted(report.proposable)} would improve; adopt with --adopt.")


@app.command("withdraw")
@handle_errors
def withdraw(topic: str = typer.Option(None, help="Topic name."),
             score: list[str] = typer.Option(None, "--score",  # noqa: B008
                                             help="Score key (repeatable; default: every "
                                             "adopted calibration)."),
             rescore: bool = typer.Option(True, help="Re-score now (cached: the uncalibrated "
                                          "analyses become current again); --no-rescore "
                                          "leaves it to `python -m analytics score`.")):
    """Withdraw an adopted calibration: the offline scorer reports uncalibrated values again."""
    from analytics.cli.common import Bars
    from analytics.pipeline.calibrate import withdraw_calibrations

    bars = Bars()
    try:
        report = withdraw_calibrations(topic_or_exit(topic), scores=score or None,
                                       rescore=rescore, progress=bars)
    finally:
        bars.close()
    console.print(f"Withdrew {sorted(report.withdrawn)} (run {report.run_id}); scorer version "
                  f"now {report.scorer_after}.")
    if report.rescored is not None:
        r = report.rescored
        console.print(f"Re-scored: {r.reinstated} uncalibrated analyses current again, "
                      f"{r.scored} scored, {r.cached} from cache, {r.failed} failed.")
    else:
        console.print("Re-score with `python -m analytics score` (cached, resumable).")
