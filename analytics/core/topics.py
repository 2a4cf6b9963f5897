"""Topics: queries per source, score definitions with rubrics, dated events (YAML files).

Topics are configuration, not code: a new topic is a new YAML file in the topics folder.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from analytics.core.errors import BadInput
from analytics.core.settings import Settings, get_settings


class TopicError(BadInput):
    """A topic file that cannot be used; the message names the file and the field."""


class ScoreDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    kind: Literal["prototype", "attitude"] = Field(
        default="prototype",
        description="Offline scorer: 'prototype' = zero-shot, from the rubric and anchor "
        "sentences; 'attitude' = the learned attitude-toward-a-target scorer (trained on "
        "human labels; needs no anchors): the attitude toward `target` (default: the "
        "topic's target) in the sentences that mention it or one of its `aliases`. A "
        "general head serves any target; a target with human labels of its own (Russia, "
        "Ukraine: RUW tweets) gets a target-specific head when `target` or an alias names it.")
    target: str | None = Field(
        default=None, description="kind attitude: who or what the attitude is toward "
        "(default: the topic's target).")
    aliases: list[str] = Field(
        default_factory=list, description="kind attitude: other names of the target that "
        "count as a mention (a leader, a capital, an abbreviation).")
    question: str
    low: str = Field(description="What a 0 means.")
    high: str = Field(description="What a 10 means.")
    neutral: str = "5 = neutral, balanced or mixed."
    minimum: float = 0.0
    maximum: float = 10.0
    anchors_low: list[str] = Field(default_factory=list)
    anchors_high: list[str] = Field(default_factory=list)
    relevance_threshold: float | None = Field(
        default=None, ge=0.0, le=1.0,
        description="Offline scorer: cosine a passage needs to count for this score "
        "(None = the backend default; 0 = every passage is relevant).")

    def attitude_target(self, topic_target: str) -> str:
        return (self.target or topic_target).strip()

    @property
    def low_label(self) -> str:
        """The scale's low end in words, e.g. 'deeply divided' (from '0 = deeply divided: ...')."""
        return _end_label(self.low)

    @property
    def high_label(self) -> str:
        return _end_label(self.high)

    @property
    def scale(self) -> str:
        """'0 = deeply divided … 10 = fully united' for axes and column help."""
        return (f"{self.minimum:g} = {self.low_label} … {self.maximum:g} = {self.high_label}")


def _end_label(rubric: str) -> str:
    text = rubric.split("=", 1)[-1]
    return text.split(":", 1)[0].strip().rstrip(".")


class SourceQueries(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    queries: list[str] = Field(default_factory=list)
    feeds: list[str] = Field(default_factory=list)
    subreddits: list[str] = Field(default_factory=list)


class TopicEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: dt.date
    label: str


class Topic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    description: str = ""
    target: str = Field(description="The entity opinions are about, e.g. 'NATO'.")
    keywords: list[str] = Field(min_length=1)
    sources: dict[str, SourceQueries] = Field(default_factory=dict)
    scores: list[ScoreDefinition] = Field(min_length=1)
    events: list[TopicEvent] = Field(default_factory=list)

    @field_validator("scores")
    @classmethod
    def _unique_score_keys(cls, scores: list[ScoreDefinition]) -> list[ScoreDefinition]:
        keys = [s.key for s in scores]
        if len(keys) != len(set(keys)):
            raise ValueError(f"score keys must be unique, got {keys}")
        return scores

    @property
    def score_keys(self) -> list[str]:
        return [s.key for s in self.scores]

    @property
    def score_labels(self) -> dict[str, str]:
        return {s.key: s.label for s in self.scores}

    def score(self, key: str) -> ScoreDefinition:
        for definition in self.scores:
            if definition.key == key:
                return definition
        raise KeyError(key)


def _describe_validation_error(path: Path, error: ValidationError) -> str:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "(top level)"
    extra = f" ({len(error.errors()) - 1} more problem(s))" if len(error.errors()) > 1 else ""
    return f"Topic file {path.name}: field '{field}': {first['msg']}{extra}"


def load_topic_file(path: Path) -> Topic:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TopicError(f"Topic file {path} does not exist.") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise TopicError(f"Topic file {path.name} is not valid YAML{where}.") from exc
    if not isinstance(raw, dict):
        raise TopicError(f"Topic file {path.name}: expected a mapping at the top level.")
    try:
        return Topic.model_validate(raw)
    except ValidationError as exc:
        raise TopicError(_describe_validation_error(path, exc)) from exc


def available_topics(settings: Settings | None = None) -> list[str]:
    settings = settings or get_settings()
    return sorted(p.stem for p in Path(settings.topics_dir).glob("*.yaml"))


def load_topic(name: str | None = None, settings: Settings | None = None) -> Topic:
    settings = settings or get_settings()
    name = name or settings.topic
    if not isinstance(name, str) or not name.replace("_", "").isalnum():
        raise TopicError(f"'{name}' is not a topic name (letters, digits and _ only).")
    return load_topic_file(Path(settings.topics_dir) / f"{name}.yaml")
