"""``trends``: fit (or reuse) the Bayesian trend lines the Trends page shows."""

from __future__ import annotations

import typer
from rich.table import Table

from analytics.cli.common import Bars, console, handle_errors, topic_or_exit


@handle_errors
def trends(topic: str = typer.Option(None, help="Topic name."),
           score: list[str] = typer.Option(None, "--score", help="Score key (repeatable; "  # noqa: B008
                                           "default: every score of the topic)."),
           window: str = typer.Option("all", help="Window ending at the newest document: "
                                      "30d, 90d, 180d, 1y or all."),
           source: list[str] = typer.Option(None, "--source", help="Source (repeatable; "  # noqa: B008
                                            "default: all)."),
           form: str = typer.Option("both", help="Trend form: linear, changepoint or both."),
           force: bool = typer.Option(False, "--force", help="Sample again even when cached.")):
    """Fit (or reuse cached) Bayesian trends of the scores; the dashboard reads these fits."""
    from analytics.trends import FORMS, refresh_trends

    topic_obj = topic_or_exit(topic)
    forms = FORMS if form == "both" else (form,)
    bars = Bars()
    try:
        fits = refresh_trends(topic_obj, scores=score or None, forms=forms, window=window,
                              sources=source or None, force=force, progress=bars)
    finally:
        bars.close()
    table = Table("score", "form", "slope/yr (94% HDI)", "P(decline)", "turns", "sampler",
                  "docs", "source")
    for fit in fits:
        slope = fit.slope()
        turns = ", ".join(f"{e.date:%Y-%m-%d} {e.direction}"
                          for e in fit.detected_changes().itertuples()) or "—"
        table.add_row(fit.score, fit.form, f"{slope['mean']:+.2f} [{slope['hdi_low']:+.2f}, "
                      f"{slope['hdi_high']:+.2f}]", f"{fit.p_decline:.0%}",
                      turns if fit.form == "changepoint" else "", "ok" if fit.diagnostics.ok
                      else "; ".join(fit.diagnostics.problems), str(fit.n_documents),
                      "cache" if fit.from_cache else f"fitted {fit.timings.get('total_s')} s")
    console.print(table)
    if not fits:
        console.print("No score has enough scored documents; run `python -m analytics demo` "
                      "or `python -m analytics score` first.")


def register(app: typer.Typer) -> None:
    app.command("trends")(trends)
