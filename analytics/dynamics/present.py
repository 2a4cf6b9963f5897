"""Tables, sentences and forecasts about a fit, shared by the page, the CLI and reports.
The verdict sentences are written here once; figures receive what they draw."""

from __future__ import annotations

import numpy as np
import pandas as pd

METHOD_LABELS = {"ode": "neural ODE", "persistence": "persistence (last value)",
                 "linear_trend": "linear trend"}


def skill_frame(fit) -> pd.DataFrame:
    """Hold-out RMSE per score and method, side by side, with the winner."""
    rows = [{"score": row["label"], "hold-out periods": row["periods"],
             **{METHOD_LABELS[m]: row[m] for m in METHOD_LABELS},
             "best": METHOD_LABELS.get(row["best"], "—")} for row in fit.skill]
    return pd.DataFrame(rows)


def verdicts(fit) -> list[tuple[bool, str]]:
    """One sentence per score: does the ODE beat both baselines on the hold-out? Losses
    are stated, never hidden."""
    out = []
    for row in fit.skill:
        beaten = [METHOD_LABELS[m] for m, ok in (("persistence", row["ode_beats_persistence"]),
                                                  ("linear_trend", row["ode_beats_trend"]))
                  if not ok]
        if not beaten:
            out.append((True, f"{row['label']}: the ODE forecast the hold-out better than "
                              f"persistence and the linear trend (RMSE {row['ode']:.2f})."))
        else:
            out.append((False, f"{row['label']}: the ODE did NOT beat {' or '.join(beaten)} on "
                               f"the hold-out (ODE RMSE {row['ode']:.2f}, persistence "
                               f"{row['persistence']:.2f}, linear trend "
                               f"{row['linear_trend']:.2f}); treat its scenarios with care."))
    return out


def model_sentences(fit) -> list[str]:
    """'Opinion returns to X within about N days' for each score."""
    from analytics.dynamics.service import readout_sentence

    return [row.get("text") or readout_sentence(row, fit.config.band) for row in fit.readout]


def parameters_frame(fit) -> pd.DataFrame:
    return pd.DataFrame([{
        "score": row["label"], "equilibrium": row["equilibrium"],
        "equilibrium band": f"{row['equilibrium_low']:.2f}–{row['equilibrium_high']:.2f}",
        "time constant (days)": row["tau_days"], "half-life of a shock (days)":
        row["half_life_days"], "settles at": row["settles_at"]} for row in fit.readout])


def holdout_baselines(fit) -> dict[str, np.ndarray]:
    """The two baselines' hold-out forecasts, (H, S) each, keyed by their label."""
    from analytics.dynamics.fit import linear_trend_forecast, persistence_forecast

    return {"persistence": persistence_forecast(fit.series, fit.n_train),
            "linear trend": linear_trend_forecast(fit.series, fit.n_train)}
