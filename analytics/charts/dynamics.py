"""Figures of the dynamics model: fitted paths with the hold-out test, skill, scenarios."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analytics.charts.events import add_events
from analytics.charts.theme import BOTTOM_LEGEND, apply, score_color

SCENARIO_COLORS = ["#444444", "#e76f51", "#2a9d8f", "#6a4c93", "#e9c46a", "#264653"]
# Tall stacked figures: the legend sits just below the last plot.
STACK_LEGEND = dict(BOTTOM_LEGEND, y=-0.04)


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _band(fig: go.Figure, x, low, high, color: str, name: str, row: int,
          show: bool) -> None:
    fig.add_trace(go.Scatter(x=x, y=high, mode="lines", line=dict(width=0), hoverinfo="skip",
                             showlegend=False, legendgroup=name), row=row, col=1)
    fig.add_trace(go.Scatter(x=x, y=low, mode="lines", line=dict(width=0), fill="tonexty",
                             fillcolor=_rgba(color, 0.18), name=f"{name} band",
                             hoverinfo="skip", showlegend=show, legendgroup=name),
                  row=row, col=1)


def _quantiles(values: np.ndarray, band: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    low, high = (1 - band) / 2, 1 - (1 - band) / 2
    return np.median(values, 0), np.quantile(values, low, 0), np.quantile(values, high, 0)


def fit_figure(fit, baselines: dict[str, np.ndarray], events: pd.DataFrame | None = None,
               title: str | None = "Fitted dynamics and hold-out test") -> go.Figure:
    """Per score: observed period means (size = documents), the fitted ensemble over the
    data, and the hold-out forecast of the validation fit next to the baselines' forecasts
    (label -> (hold-out periods, scores) array)."""
    series, band, n_train = fit.series, fit.config.band, fit.n_train
    dates = series.dates
    keys = series.score_keys
    fig = make_subplots(rows=len(keys), cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=series.score_labels)
    holdout_dates = dates[n_train:]
    dashes = ("dot", "dashdot", "longdash")
    for j, _key in enumerate(keys):
        row, color, first = j + 1, score_color(j), j == 0
        observed = series.counts[:, j] > 0
        sizes = 3 + 9 * np.sqrt(series.counts[observed, j] / max(series.counts[:, j].max(), 1))
        fig.add_trace(go.Scatter(
            x=dates[observed], y=series.means[observed, j], mode="markers",
            marker=dict(size=sizes, color=_rgba(color, 0.35)), name="observed mean",
            customdata=series.counts[observed, j], showlegend=first, legendgroup="obs",
            hovertemplate="%{y:.2f} (%{customdata:.0f} docs)<extra>observed</extra>"),
            row=row, col=1)
        median, low, high = _quantiles(fit.full.fitted[:, :, j], band)
        _band(fig, dates, low, high, color, "fitted", row, first)
        fig.add_trace(go.Scatter(x=dates, y=median, mode="lines", line=dict(color=color),
                                 name="fitted (all data)", showlegend=first,
                                 legendgroup="fitted"), row=row, col=1)
        if len(holdout_dates):
            median, low, high = _quantiles(fit.holdout[:, :, j], band)
            _band(fig, holdout_dates, low, high, "#111111", "ODE forecast", row, first)
            fig.add_trace(go.Scatter(x=holdout_dates, y=median, mode="lines",
                                     line=dict(color="#111111", dash="dash"),
                                     name="ODE hold-out forecast", showlegend=first,
                                     legendgroup="ODE forecast"), row=row, col=1)
            for (name, values), dash in zip(baselines.items(), dashes, strict=False):
                fig.add_trace(go.Scatter(x=holdout_dates, y=values[:, j], mode="lines",
                                         line=dict(color="#999999", dash=dash, width=1.5),
                                         name=name, showlegend=first, legendgroup=name),
                              row=row, col=1)
    rows = list(range(1, len(keys) + 1))
    if len(holdout_dates):
        for row in rows:
            fig.add_vline(x=holdout_dates[0], line=dict(color="#999999", width=1, dash="dot"),
                          row=row, col=1)
        fig.add_annotation(x=holdout_dates[0], y=1.0, yref="y domain", xanchor="left",
                           text="hold-out starts (forecast from here)", showarrow=False,
                           font=dict(size=11, color="#666666"), row=1, col=1)
    if events is not None and not events.empty:
        inside = events[(pd.to_datetime(events["date"]) >= dates[0])
                        & (pd.to_datetime(events["date"]) <= dates[-1])]
        add_events(fig, inside, y=9.6, rows=rows, label_row=1)
    for row in rows:
        fig.update_yaxes(title_text="score (0–10)", row=row, col=1)
    apply(fig, title, height=260 * len(keys) + 140)
    return fig.update_layout(margin=dict(t=70, b=90), legend=STACK_LEGEND)


def scenario_figure(result, fit=None, history_days: int = 90,
                    title: str | None = "Scenarios vs baseline",
                    events: pd.DataFrame | None = None) -> go.Figure:
    """Per score: recent observed means and, from the end of data, the median path and band
    of the baseline and of each scenario."""
    keys = result.score_keys
    fig = make_subplots(rows=len(keys), cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=result.score_labels)
    for j in range(len(keys)):
        row = j + 1
        if fit is not None:
            series = fit.series
            keep = max(1, history_days // series.period_days)
            dates = series.dates[-keep:]
            observed = series.counts[-keep:, j] > 0
            fig.add_trace(go.Scatter(x=dates[observed], y=series.means[-keep:, j][observed],
                                     mode="markers", marker=dict(color="#bbbbbb", size=5),
                                     name="observed mean", showlegend=j == 0,
                                     legendgroup="obs"), row=row, col=1)
        for b, name in enumerate(result.names):
            color = SCENARIO_COLORS[b % len(SCENARIO_COLORS)]
            steps = result.horizons[b] + 1
            median, low, high = result.quantiles(b, j)
            x = result.dates[:steps]
            _band(fig, x, low[:steps], high[:steps], color, name, row, j == 0)
            fig.add_trace(go.Scatter(x=x, y=median[:steps], mode="lines",
                                     line=dict(color=color, width=2.5 if b == 0 else 2),
                                     name=name, showlegend=j == 0, legendgroup=name),
                          row=row, col=1)
    rows = list(range(1, len(keys) + 1))
    for row in rows:
        fig.update_yaxes(title_text="score (0–10)", row=row, col=1)
        fig.add_vline(x=result.dates[0], line=dict(color="#999999", width=1, dash="dot"),
                      row=row, col=1)
    fig.add_annotation(x=result.dates[0], y=1.0, yref="y domain", xanchor="left",
                       text="end of the data", showarrow=False,
                       font=dict(size=11, color="#666666"), row=1, col=1)
    if events is not None and not events.empty:
        first = result.dates[0] - pd.Timedelta(days=history_days)
        inside = events[(pd.to_datetime(events["date"]) >= first)
                        & (pd.to_datetime(events["date"]) <= result.dates[-1])]
        add_events(fig, inside, y=9.6, rows=rows, label_row=1)
    apply(fig, title, height=250 * len(keys) + 140)
    return fig.update_layout(margin=dict(t=70, b=90), legend=STACK_LEGEND)
