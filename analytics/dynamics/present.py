"""Tables and sentences about a fit, shared by the page, the CLI and reports."""

from __future__ import annotations

import pandas as pd

from analytics.charts.dynamics import METHOD_LABELS


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
    band = f"{fit.config.band:.0%}"
    return [
        f"{row['label']}: without new shocks it settles near {row['settles_at']:.1f} ({band} "
        f"band {row['settles_low']:.1f}–{row['settles_high']:.1f}); the effect of a shock "
        f"halves within about {row['half_life_days']:.0f} days (relaxation part: equilibrium "
        f"{row['equilibrium']:.1f}, time constant {row['tau_days']:.0f} days)."
        for row in fit.readout
    ]


def parameters_frame(fit) -> pd.DataFrame:
    return pd.DataFrame([{
        "score": row["label"], "equilibrium": row["equilibrium"],
        "equilibrium band": f"{row['equilibrium_low']:.2f}–{row['equilibrium_high']:.2f}",
        "time constant (days)": row["tau_days"], "half-life of a shock (days)":
        row["half_life_days"], "settles at": row["settles_at"]} for row in fit.readout])
