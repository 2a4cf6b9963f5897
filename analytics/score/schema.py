"""The result every scoring backend returns, validated before anything is stored."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_SUMMARY_WORDS = 120


class ScoreValue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: float | None = Field(
        default=None, ge=0.0, le=10.0,
        description="0-10 on the score's scale (5 = neutral/balanced); null when the "
        "document does not address this score.",
    )
    rationale: str = Field(default="", max_length=400, description="One line: why this value.")
    evidence: list[int] = Field(
        default_factory=list, description="Ids (chunk indexes) of the passages relied on."
    )


class DocumentScores(BaseModel):
    """Level-1 result for one document."""

    model_config = ConfigDict(extra="forbid")

    on_topic: bool = Field(description="Whether the document is about the topic at all.")
    summary: str = Field(
        description=f"Short qualitative summary, at most {MAX_SUMMARY_WORDS} words.")
    scores: dict[str, ScoreValue]

    @field_validator("summary")
    @classmethod
    def _summary_length(cls, summary: str) -> str:
        if len(summary.split()) > MAX_SUMMARY_WORDS:
            raise ValueError(f"summary longer than {MAX_SUMMARY_WORDS} words")
        return summary.strip()

    @model_validator(mode="after")
    def _off_topic_has_no_scores(self) -> DocumentScores:
        if not self.on_topic:
            for score in self.scores.values():
                score.value = None
        return self

    def check_keys(self, expected: list[str]) -> DocumentScores:
        missing = set(expected) - set(self.scores)
        extra = set(self.scores) - set(expected)
        if missing or extra:
            raise ValueError(f"score keys mismatch: missing {sorted(missing)}, "
                             f"extra {sorted(extra)}")
        return self
