"""Alert rule kinds, their parameters (checked: a bad threshold is refused with a message)
and the defaults taken from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from analytics.core.errors import BadInput
from analytics.core.settings import Settings
from analytics.core.topics import Topic

KINDS = {
    "turning_point": "A new turning point or shock found by the trend model",
    "probability": "P(decline) or P(rise) of a score crossing a threshold",
    "volume": "An outlet's or source's document volume spiking or dropping against its "
              "recent baseline",
    "agreement": "Human–machine agreement (α) of a score falling below a threshold",
    "step_failed": "A step of the scheduled run failing",
}
CHANNELS = ("email", "webhook")
# How far apart (days) two findings of the same change may be dated and still be one change.
TOLERANCE_DAYS = {"turning_point": 21, "volume": 14}
# A change that has not been seen for this long is forgotten: if it comes back, it is new.
REARM_DAYS = {"turning_point": 45, "probability": 7, "volume": 7, "agreement": 7,
              "step_failed": 0}


@dataclass(frozen=True)
class RuleSpec:
    """A rule as created or edited (before it is stored)."""

    name: str
    topic: str
    kind: str
    params: dict
    channels: tuple[str, ...] = ()
    cooldown_hours: float | None = None  # None = the alert_cooldown_hours setting
    saved_view_id: int | None = None


def default_params(kind: str, settings: Settings) -> dict:
    alerts = settings.alerts
    return {
        "turning_point": {"score": "all", "direction": "any", "min_size": 0.0},
        "probability": {"score": "all", "which": "decline", "threshold": alerts.p_threshold},
        "volume": {"by": "source", "direction": "both", "alpha": alerts.volume_alpha,
                   "recent_days": alerts.volume_recent_days,
                   "baseline_days": alerts.volume_baseline_days},
        "agreement": {"score": "all", "threshold": alerts.alpha_threshold},
        "step_failed": {"step": "any"},
    }[check_kind(kind)]


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise BadInput(f"Unknown alert kind '{kind}'; use one of {', '.join(KINDS)}.")
    return kind


def _number(params: dict, name: str, low: float, high: float, what: str,
            inclusive: bool = False) -> float:
    raw = params.get(name)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise BadInput(f"The {what} must be a number; got {raw!r}.") from None
    inside = low <= value <= high if inclusive else low < value < high
    if not inside:
        bounds = (f"from {low:g} to {high:g}" if inclusive
                  else f"above {low:g} and below {high:g}")
        raise BadInput(f"The {what} must be {bounds}; got {value:g}.")
    return value


def check_params(kind: str, params: dict, topic: Topic, settings: Settings) -> dict:
    """The parameters with defaults filled in; BadInput (one clear sentence) if unusable."""
    out = default_params(kind, settings) | {k: v for k, v in params.items() if v is not None}
    if "score" in out and out["score"] not in ("all", *topic.score_keys):
        raise BadInput(f"Unknown score '{out['score']}'; use 'all' or one of "
                       f"{', '.join(topic.score_keys)}.")
    if kind == "turning_point":
        if out["direction"] not in ("any", "down", "up"):
            raise BadInput("The direction must be 'any', 'down' or 'up'.")
        out["min_size"] = _number(out, "min_size", 0, 10, "minimum size (score points)",
                                  inclusive=True)
    elif kind == "probability":
        if out["which"] not in ("decline", "rise"):
            raise BadInput("A probability rule watches 'decline' or 'rise'.")
        out["threshold"] = _number(out, "threshold", 0.5, 1.0,
                                   f"P({out['which']}) threshold")
    elif kind == "volume":
        if out["by"] not in ("source", "outlet"):
            raise BadInput("A volume rule watches each 'source' or each 'outlet'.")
        if out["direction"] not in ("both", "spike", "drop"):
            raise BadInput("The volume direction must be 'both', 'spike' or 'drop'.")
        out["alpha"] = _number(out, "alpha", 0.0, 0.5, "significance level (alpha)")
        out["recent_days"] = int(_number(out, "recent_days", 1, 30, "number of recent days",
                                         inclusive=True))
        out["baseline_days"] = int(_number(out, "baseline_days", 7, 365,
                                           "number of baseline days", inclusive=True))
    elif kind == "agreement":
        out["threshold"] = _number(out, "threshold", 0.0, 1.0, "agreement threshold (α)")
    return out


def check_rule(spec: RuleSpec, topic: Topic, settings: Settings) -> RuleSpec:
    check_kind(spec.kind)
    name = " ".join((spec.name or "").split())
    if not name:
        raise BadInput("Give the rule a name.")
    unknown = [c for c in spec.channels if c not in CHANNELS]
    if unknown:
        raise BadInput(f"Unknown channel(s) {unknown}; use {', '.join(CHANNELS)}.")
    try:
        cooldown = float(settings.alerts.cooldown_hours if spec.cooldown_hours is None
                         else spec.cooldown_hours)
    except (TypeError, ValueError):
        raise BadInput("The cool-down must be a number of hours.") from None
    if not 0 <= cooldown <= 24 * 90:
        raise BadInput("The cool-down must be between 0 and 2160 hours (90 days).")
    params = check_params(spec.kind, dict(spec.params), topic, settings)
    return RuleSpec(name[:120], topic.name, spec.kind, params, tuple(spec.channels), cooldown,
                    spec.saved_view_id)
