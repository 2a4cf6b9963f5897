"""What-if scenarios: named, saveable definitions re-integrated with a fitted ensemble.

A scenario starts where the data ends. It adds shocks (a date, a score, a size in score
points) and driver changes (document volume of one source, or all, times a factor for a
number of days) to the baseline, which continues with the recent volume and the topic's
dated events. Simulating re-integrates the trained ensemble only: nothing is retrained.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from analytics.core.errors import BadInput

BASELINE = "baseline"


class ScenarioError(BadInput):
    """A scenario that cannot be run or read; the message says what to change."""


class ScenarioShock(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: dt.date
    score: str
    size: float = Field(ge=-10, le=10, description="Score points added during that period.")


class DriverChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(default="all", description="A source name, or 'all'.")
    start: dt.date
    days: int = Field(default=30, ge=1, le=3650)
    factor: float = Field(default=1.0, ge=0, le=20, description="Volume multiplier.")


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80)
    description: str = ""
    horizon_days: int = Field(default=90, ge=1, le=3650)
    shocks: list[ScenarioShock] = Field(default_factory=list)
    driver_changes: list[DriverChange] = Field(default_factory=list)

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-") or "scenario"

    def save(self, path: Path) -> Path:
        """Write YAML (``.yaml``/``.yml``) or JSON (any other suffix)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = self.model_dump(mode="json")
        if path.suffix in (".yaml", ".yml"):
            path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        else:
            path.write_text(json.dumps(data, indent=2), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path) -> Scenario:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
            raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except FileNotFoundError as exc:
            raise ScenarioError(f"Scenario file {path} does not exist.") from exc
        except (yaml.YAMLError, json.JSONDecodeError) as exc:
            raise ScenarioError(f"Scenario file {path.name} is not valid YAML/JSON.") from exc
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(top level)"
            raise ScenarioError(f"Scenario file {path.name}: field '{where}': {first['msg']}") \
                from exc


def scenarios_dir(settings, topic: str) -> Path:
    return Path(settings.data_dir) / "scenarios" / topic


def saved_scenarios(settings, topic: str) -> dict[str, Scenario]:
    """Scenarios saved for a topic, by name (unreadable files are skipped)."""
    found: dict[str, Scenario] = {}
    folder = scenarios_dir(settings, topic)
    for path in sorted(folder.glob("*.y*ml")) + sorted(folder.glob("*.json")):
        try:
            scenario = Scenario.load(path)
        except ScenarioError:
            continue
        found[scenario.name] = scenario
    return found


# --- simulation ----------------------------------------------------------------------

@dataclass
class ScenarioResult:
    """Ensemble paths for the baseline (index 0) and each scenario, from the end of data."""

    names: list[str]
    horizons: list[int]  # periods simulated that count for each name
    dates: pd.DatetimeIndex  # H+1 period starts, the first = last period of the data
    paths: np.ndarray  # (E, B, H+1, S)
    score_keys: list[str]
    score_labels: list[str]
    band: float
    period_days: int

    def quantiles(self, index: int, score: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        values = self.paths[:, index, :, score]
        low, high = (1 - self.band) / 2, 1 - (1 - self.band) / 2
        return (np.median(values, 0), np.quantile(values, low, axis=0),
                np.quantile(values, high, axis=0))

    def readout(self) -> list[dict]:
        """Per scenario and score: the change vs the baseline at the scenario's horizon."""
        rows = []
        low_q, high_q = (1 - self.band) / 2, 1 - (1 - self.band) / 2
        for b, name in enumerate(self.names[1:], start=1):
            step = self.horizons[b]
            for j, key in enumerate(self.score_keys):
                diffs = self.paths[:, b, :step + 1, j] - self.paths[:, 0, :step + 1, j]
                diff = diffs[:, -1]
                peak = int(np.argmax(np.abs(np.median(diffs, 0))))
                rows.append({
                    "scenario": name, "score": key, "label": self.score_labels[j],
                    "days": step * self.period_days,
                    "end_value": float(np.median(self.paths[:, b, step, j])),
                    "baseline_value": float(np.median(self.paths[:, 0, step, j])),
                    "difference": float(np.median(diff)),
                    "low": float(np.quantile(diff, low_q)),
                    "high": float(np.quantile(diff, high_q)),
                    "peak_difference": float(np.median(diffs[:, peak])),
                    "peak_low": float(np.quantile(diffs[:, peak], low_q)),
                    "peak_high": float(np.quantile(diffs[:, peak], high_q)),
                    "peak_date": self.dates[peak].date().isoformat(),
                })
        return rows


NEGLIGIBLE = 0.05  # score points: differences below this are "where the baseline is"


def describe(row: dict, band: float) -> str:
    """'Under X, unity ends 0.8 points lower after 90 days than the baseline, 80% band ...'."""
    size = abs(row["difference"])
    if size < NEGLIGIBLE:
        change = "ends about where the baseline does"
    else:
        direction = "higher" if row["difference"] > 0 else "lower"
        change = f"ends {size:.1f} points {direction} than the baseline"
    text = (f"Under '{row['scenario']}', {row['label']} {change} after {row['days']} days "
            f"({row['end_value']:.1f} vs {row['baseline_value']:.1f}); {band:.0%} band "
            f"{_signed(row['low'])} to {_signed(row['high'])} points.")
    peak = row.get("peak_difference", 0.0)
    if abs(peak) >= NEGLIGIBLE and abs(peak) > 1.5 * abs(row["difference"]):
        text += (f" The largest gap is {abs(peak):.1f} points "
                 f"{'above' if peak > 0 else 'below'} the baseline around {row['peak_date']} "
                 f"(band {_signed(row['peak_low'])} to {_signed(row['peak_high'])}).")
    return text


def _signed(value: float) -> str:
    """+0.3 / −0.3, and 0.0 (never −0.0) for what rounds to zero."""
    return "0.0" if abs(value) < NEGLIGIBLE else f"{value:+.1f}"


def changed(row: dict) -> bool:
    return max(abs(row["difference"]), abs(row.get("peak_difference", 0.0))) >= NEGLIGIBLE


def readout_sentences(result: ScenarioResult, scenario: Scenario) -> list[str]:
    """One sentence per score the scenario moved; what it leaves unchanged in one more; for
    volume changes a reminder that the model learned an association, not an effect."""
    rows = [r for r in result.readout() if r["scenario"] == scenario.name]
    moved = [r for r in rows if changed(r)]
    sentences = [describe(r, result.band) for r in moved]
    shocked = {shock.score for shock in scenario.shocks if shock.size}
    untouched = [r["label"] for r in rows if not changed(r) and r["score"] not in shocked]
    if shocked and untouched:
        sentences.append(
            f"The shock does not carry over to {', '.join(untouched)}: in this fitted model "
            "the scores do not influence one another by more than "
            f"{NEGLIGIBLE:g} points.")
    if scenario.driver_changes:
        sentences.append(
            "Volume changes move the paths only through the association the model learned "
            "between how much is published and the scores; they are not an estimate of what "
            "publishing more would cause.")
    if not sentences:
        sentences.append(f"'{scenario.name}' leaves every score where the baseline puts it.")
    return sentences


def scenario_inputs(fit, scenario: Scenario, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Drivers (steps, D) and forcing (steps, S) of one scenario from the end of data."""
    from analytics.dynamics.fit import driver_grid

    series, ensemble = fit.series, fit.full
    first = series.n_periods  # step k moves from period first-1+k to first+k
    total = first + steps
    factor = np.ones((total, len(series.sources)))
    for change in scenario.driver_changes:
        columns = _source_columns(series.sources, change.source)
        lo = series.period_index(change.start)
        hi = series.period_index(change.start + dt.timedelta(days=change.days - 1)) + 1
        if hi <= first:
            raise ScenarioError(f"Driver change starting {change.start} ends before the data "
                                f"ends ({series.end}): scenarios act after the data.")
        factor[max(lo, first):min(hi, total), columns] *= change.factor
    grid = driver_grid(series, total, ensemble.volume_center, first, volume_factor=factor)
    forcing = np.zeros((steps, len(series.score_keys)), dtype=np.float32)
    for shock in scenario.shocks:
        if shock.score not in series.score_keys:
            raise ScenarioError(f"Shock on unknown score '{shock.score}'; scores of this "
                                f"topic: {', '.join(series.score_keys)}.")
        row = series.period_index(shock.date) - first
        if not 0 <= row < steps:
            last = series.end + dt.timedelta(days=series.period_days * steps)
            raise ScenarioError(f"Shock date {shock.date} is outside the scenario window "
                                f"(after {series.end}, up to {last}).")
        forcing[row, series.score_keys.index(shock.score)] += shock.size
    return grid[first:total], forcing


def _source_columns(sources: list[str], source: str) -> list[int]:
    if source == "all":
        return list(range(len(sources)))
    if source not in sources:
        raise ScenarioError(f"Unknown source '{source}' in a driver change; use 'all' or one "
                            f"of: {', '.join(sources)}.")
    return [sources.index(source)]


def run_scenarios(fit, scenarios: list[Scenario]) -> ScenarioResult:
    """Integrate the fitted ensemble for the baseline and every scenario, in one batch."""
    from analytics.dynamics.fit import simulate

    series = fit.series
    horizons_days = [s.horizon_days for s in scenarios] or [90]
    periods = [max(1, math.ceil(h / series.period_days)) for h in horizons_days]
    steps = max(periods)
    baseline = Scenario(name=BASELINE, horizon_days=max(horizons_days))
    inputs = [scenario_inputs(fit, s, steps) for s in [baseline, *scenarios]]
    drivers = np.stack([d for d, _ in inputs])
    forcing = np.stack([f for _, f in inputs])
    paths = simulate(fit.full, fit.full.end_state, drivers, forcing)
    dates = pd.DatetimeIndex([pd.Timestamp(series.end) + pd.Timedelta(days=series.period_days * k)
                              for k in range(steps + 1)])
    return ScenarioResult(
        names=[BASELINE, *[s.name for s in scenarios]], horizons=[steps, *periods],
        dates=dates, paths=paths, score_keys=series.score_keys,
        score_labels=series.score_labels, band=fit.config.band, period_days=series.period_days)
