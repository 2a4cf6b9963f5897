"""Figures of Bayesian trend fits (``analytics.trends.TrendFit``), shared by page and reports."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analytics.charts.events import add_events
from analytics.charts.theme import BOTTOM_LEGEND, TRUTH_COLOR, apply, source_color


def _rgba(hex_color: str, alpha: float) -> str:
    red, green, blue = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def _band(fig: go.Figure, x: pd.Series, low: pd.Series, high: pd.Series, color: str,
          name: str, alpha: float, legend: bool) -> None:
    fig.add_scatter(x=list(x) + list(x[::-1]), y=list(high) + list(low[::-1]), fill="toself",
                    fillcolor=_rgba(color, alpha), line=dict(width=0), hoverinfo="skip",
                    name=name, showlegend=legend)


def trend_figure(fit, daily: pd.DataFrame | None = None,
                 per_source: bool = False, truth: pd.DataFrame | None = None,
                 title: str | None = None, scale: str = "score 0–10",
                 events: pd.DataFrame | None = None) -> go.Figure:
    """Daily means (dot size ~ count; select them to read the documents), the posterior mean
    trend, its 94% HDI band and the 94% posterior predictive band (where single documents
    fall), pooled or per source; the topic's events and the turns the model found.

    ``daily``: day, [source,] mean, count (``queries.daily_scores``). ``truth``: day, value
    (the demo's latent path at the news level). ``scale``: the y axis title."""
    fig = go.Figure()
    groups = list(fit.sources) if per_source else ["all"]
    for group in groups:
        color = source_color(group)
        rows = fit.line[fit.line["source"] == group].sort_values("day")
        label = "all sources" if group == "all" else group
        if not per_source:
            _band(fig, rows["day"], rows["pred_low"], rows["pred_high"], color,
                  "94% predictive band (single documents)", 0.08, True)
        _band(fig, rows["day"], rows["low"], rows["high"], color,
              f"94% HDI of the trend ({label})", 0.25, True)
        if daily is not None and not daily.empty:
            points = daily if group == "all" else daily[daily["source"] == group]
            fig.add_scatter(
                x=points["day"], y=points["mean"], mode="markers",
                marker=dict(color=color, opacity=0.35,
                            size=(points["count"].clip(upper=12) + 3).tolist()),
                customdata=points["count"], name=f"daily mean ({label})",
                hovertemplate="%{x|%d %b %Y}: %{y:.2f} (n=%{customdata}; select to read them)")
        fig.add_scatter(x=rows["day"], y=rows["mean"], mode="lines",
                        line=dict(color=color, width=3), name=f"trend ({label})",
                        hovertemplate="%{y:.2f}")
    if truth is not None and not truth.empty:
        fig.add_scatter(x=truth["day"], y=truth["value"], mode="lines",
                        line=dict(color=TRUTH_COLOR, dash="dash", width=1.5),
                        name="demo truth (latent path, news level)", hovertemplate="%{y:.2f}")
    marks = [] if events is None else [events.assign(kind="topic")]
    found = fit.detected_changes()
    if not found.empty:
        marks.append(pd.DataFrame({"date": found["date"], "kind": "found",
                                   "label": [_found_label(e) for e in found.itertuples()]}))
    if marks:
        add_events(fig, pd.concat(marks, ignore_index=True), y=10.1)
    fig.update_layout(yaxis=dict(range=[0, 10.4], title=scale), xaxis_title=None,
                      legend=BOTTOM_LEGEND, margin=dict(b=90))
    return apply(fig, title or f"{fit.score}: trend with 94% credible band", height=470)


def _found_label(event) -> str:
    what = "shock" if event.kind == "shock" else "turn"
    return f"{what} {event.size:+.1f}"


def change_density(fit, title: str | None = None) -> go.Figure:
    """Posterior density of the trend's change over the window (score points), with
    P(decline) written on it."""
    draws = np.asarray(fit.change_draws, float)
    grid, density = _kde(draws)
    fig = go.Figure()
    below = grid <= 0
    fig.add_scatter(x=grid, y=density, mode="lines", line=dict(color="#264653", width=2),
                    name="posterior density", hovertemplate="%{x:+.2f} points")
    if below.any():
        fig.add_scatter(x=grid[below], y=density[below], fill="tozeroy", mode="none",
                        fillcolor=_rgba("#e76f51", 0.35), name="decline", hoverinfo="skip")
    fig.add_vline(x=0, line=dict(color="#888888", width=1))
    change = fit.change()
    fig.add_annotation(x=0.98, y=0.95, xref="paper", yref="paper", showarrow=False,
                       align="right", font=dict(size=14),
                       text=f"P(decline) = {fit.p_decline:.1%}<br>{change['mean']:+.2f} points,"
                            f" 94% HDI [{change['hdi_low']:+.2f}, {change['hdi_high']:+.2f}]")
    fig.update_layout(xaxis_title="change over the window (points)",
                      yaxis_title="density", hovermode="closest", showlegend=False)
    return apply(fig, title or "How much the trend changed over the window", height=320)


def _kde(draws: np.ndarray, points: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian kernel density (Silverman bandwidth), numpy only."""
    spread = draws.std() or 1e-3
    bandwidth = 1.06 * spread * draws.size ** (-1 / 5)
    grid = np.linspace(draws.min() - 3 * bandwidth, draws.max() + 3 * bandwidth, points)
    z = (grid[:, None] - draws[None, :]) / bandwidth
    density = np.exp(-0.5 * z**2).sum(axis=1) / (draws.size * bandwidth * np.sqrt(2 * np.pi))
    return grid, density


def source_comparison(fits: dict, parameter: str = "source_intercept",
                      title: str | None = None) -> go.Figure:
    """Per score and source: posterior mean and 94% HDI of a per-source parameter."""
    fig = go.Figure()
    for score, fit in fits.items():
        rows = fit.summary[fit.summary["parameter"] == parameter]
        fig.add_scatter(
            x=rows["mean"], y=[f"{score} · {s}" for s in rows["source"]], mode="markers",
            marker=dict(size=10, color=[source_color(s) for s in rows["source"]]),
            error_x=dict(type="data", symmetric=False,
                         array=(rows["hdi_high"] - rows["mean"]).tolist(),
                         arrayminus=(rows["mean"] - rows["hdi_low"]).tolist()),
            name=score, showlegend=False, hovertemplate="%{x:.2f}")
    label = {"source_intercept": "level at the window start",
             "source_slope": "slope per year"}.get(parameter, parameter)
    fig.update_layout(xaxis_title=label, yaxis=dict(autorange="reversed"),
                      hovermode="closest")
    return apply(fig, title or f"Per-source comparison: {label} (94% HDI)",
                 height=120 + 40 * sum(len(f.sources) for f in fits.values()))


def dated_events_table(found: pd.DataFrame) -> pd.DataFrame:
    """The dated events a fit reports, as display text (one row each, by date)."""
    def day(value) -> str:
        return f"{value:%d %b %Y}"

    def fades(days: float) -> str:
        return "lasting" if days == float("inf") else ("—" if days != days else f"{days:g} days")

    return pd.DataFrame({
        "date": found["date"].map(day), "kind": found["kind"],
        "size, points (94% interval)": [
            f"{size:+.2f} ({lo:+.2f} to {hi:+.2f})" for size, lo, hi in
            zip(found["size"], found["size_low"], found["size_high"], strict=True)],
        "fades over": found["decay_days"].map(fades),
        "date: P(this day), 90% range": [
            f"{p:.2f}; {a:%d %b} – {b:%d %b}" for p, a, b in
            zip(found["date_probability"], found["first"], found["last"], strict=True)],
    }).set_index("date")


def diagnostics_table(fit) -> pd.DataFrame:
    """The posterior summary as a table for st.dataframe / reports."""
    table = fit.summary.copy()
    table["parameter"] = table["parameter"] + np.where(table["source"] != "",
                                                       " · " + table["source"], "")
    return table.drop(columns=["source"]).round(3)
