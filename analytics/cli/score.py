"""``score``: level-1 scoring of every pending document."""

from __future__ import annotations

import typer

from analytics.cli.common import Bars, console, handle_errors, topic_or_exit


@handle_errors
def score(topic: str = typer.Option(None, help="Topic name."),
          backend: str = typer.Option(None, help="Scoring backend (default: setting)."),
          limit: int = typer.Option(None, help="Score at most this many documents."),
          dry_run: bool = typer.Option(False, "--dry-run",
                                       help="Print the number of calls and the estimated cost; "
                                       "send nothing."),
          budget: float = typer.Option(None, help="Cost cap of this run in USD (default: "
                                       "setting scoring_budget_usd)."),
          retry_failed: bool = typer.Option(False, "--retry-failed",
                                            help="Also re-score documents whose analysis "
                                            "failed (the failed analysis is replaced).")):
    """Score every document that has no analysis for the current backend configuration.

    Safe to run while other `score` runs or workers are running: each document is claimed
    by one run, so none is scored or paid for twice."""
    from analytics.score.pipeline import estimate_run, score_topic

    topic_obj = topic_or_exit(topic)
    if dry_run:
        est = estimate_run(topic_obj, backend_name=backend, limit=limit)
        price = "" if est.price_known else " (model price unknown: add it to openai_prices)"
        console.print(
            f"Dry run, backend {est.backend}, model {est.model}: {est.documents} pending "
            f"document(s), {est.cached} from cache, {est.calls} call(s); about "
            f"{est.tokens_in:,} input + {est.tokens_out:,} output tokens; estimated cost "
            f"${est.cost_usd:.4f} (at most ${est.cost_max_usd:.4f} if every answer used "
            f"max tokens; repairs add calls){price}.")
        return
    bars = Bars()
    try:
        result = score_topic(topic_obj, backend_name=backend, limit=limit, progress=bars,
                             budget_usd=budget, retry_failed=retry_failed)
    finally:
        bars.close()
    console.print(result.counts())
    if result.stopped:
        console.print(f"[yellow]Stopped: {result.stopped}[/yellow]")
    if result.errors:
        console.print(f"[yellow]{len(result.errors)} failure(s); first: {result.errors[0]}"
                      "[/yellow]")
    if result.possibly_billed:
        console.print(f"[yellow]{result.possibly_billed} request(s) timed out after being sent "
                      f"and may have been billed (at most ${result.possibly_billed_usd:.4f}; "
                      "recorded in the ledger).[/yellow]")


@handle_errors
def train_attitude(
        data: str = typer.Option(None, help="The shared data folder (default: shared/data "
                                 "next to the project or a folder above it)."),
        out: str = typer.Option(None, help="Where to write the .npz (default: the packaged "
                                "analytics/score/models/attitude.npz); the .json record "
                                "goes next to it."),
        seed: int = typer.Option(0, help="Random seed (same seed + threads = same weights)."),
        threads: int = typer.Option(2, help="CPU cores to use."),
        limit: int = typer.Option(None, help="Smoke run: at most this many training rows "
                                  "(and held-out rows) per data set.")):
    """Train the learned attitude scorer (score kind 'attitude') from the human labels of
    NewsMTSC and RUW; writes the weights and a record of data, split, seed, software and
    held-out figures. 4-10 minutes on 2 cores; no network."""
    import json
    from importlib.util import find_spec
    from pathlib import Path

    from analytics.core.errors import BadInput
    from analytics.score.attitude import ARTEFACT
    from analytics.score.attitude_train import find_shared_data, train

    if find_spec("sklearn") is None:
        raise BadInput("Training needs scikit-learn (the scorer itself does not): "
                       "pip install -r requirements-dev.txt, or pip install -e '.[train]'.")
    folder = Path(data) if data else find_shared_data()
    target = Path(out) if out else ARTEFACT
    record = train(folder, target, seed=seed, threads=threads, limit=limit,
                   log=lambda line: console.print(line))
    console.print(f"Wrote {target} ({record['artefact_bytes']:,} bytes) and "
                  f"{target.with_suffix('.json').name}; held-out figures:")
    console.print(json.dumps(record["held_out"], indent=1))


def register(app: typer.Typer) -> None:
    app.command()(score)
    app.command("train-attitude")(train_attitude)
