"""``trends``: fit (or reuse) the Bayesian trend lines the Trends page shows."""

from __future__ import annotations

import typer
from rich.table import Table

from analytics.cli.common import Bars, console, handle_errors, topic_or_exit
from analytics.core.settings import get_settings


@handle_errors
def trends(topic: str = typer.Option(None, help="Topic name."),
           score: list[str] = typer.Option(None, "--score", help="Score key (repeatable; "  # noqa: B008
                                           "default: every score of the topic)."),
           window: str = typer.Option("all", help="Window ending at the newest document: "
                                      "30d, 90d, 180d, 1y or all."),
           source: list[str] = typer.Option(None, "--source", help="Source (repeatable; "  # noqa: B008
                                            "default: all)."),
           form: str = typer.Option("both", help="Trend form: linear (straight line), events "
                                    "(turning points and shocks) or both (the data choose)."),
           force: bool = typer.Option(False, "--force", help="Fit again even when cached.")):
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
    table = Table("score", "form", "change over window (94% HDI)", "P(decline)",
                  "dated events", "diagnostics", "docs", "fit")
    for fit in fits:
        change = fit.change()
        events = ", ".join(f"{e.date:%Y-%m-%d} {e.kind} {e.size:+.1f}"
                           for e in fit.detected_changes().itertuples()) or "—"
        table.add_row(fit.score, fit.form_label,
                      f"{change['mean']:+.2f} [{change['hdi_low']:+.2f}, "
                      f"{change['hdi_high']:+.2f}]", f"{fit.p_decline:.0%}",
                      events if fit.form == "events" else "", "ok" if fit.diagnostics.ok
                      else "; ".join(fit.diagnostics.problems), str(fit.n_documents),
                      "cache" if fit.from_cache else f"fitted {fit.timings.get('total_s')} s")
    console.print(table)
    if not fits:
        console.print("No score has enough scored documents; run `python -m analytics demo` "
                      "or `python -m analytics score` first.")
    _print_headlines(topic_obj, fits)


def _print_headlines(topic, fits) -> None:
    """The sentence per score the Trends page and reports print, in the chosen form."""
    from analytics.report import headline
    from analytics.report.headlines import headline_evidence
    from analytics.store import session_scope
    from analytics.trends.service import view_trend

    with session_scope() as session:
        evidence = headline_evidence(session, topic)

    for key in dict.fromkeys(fit.score for fit in fits):
        by_form = {fit.form: fit for fit in fits if fit.score == key}
        trend = view_trend(key, by_form, get_settings())
        reason = trend.choice.reason if trend.choice else None
        console.print(headline(topic.score(key), trend.chosen, evidence.get(key),
                               form_reason=reason).sentence,
                      markup=False)


def register(app: typer.Typer) -> None:
    app.command("trends")(trends)
