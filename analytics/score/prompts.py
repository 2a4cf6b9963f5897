"""Level-1 zero-shot prompts built from the topic YAML, their JSON schema and version hash.

The safety rules for untrusted text (one marked data block after the instructions, marker
look-alikes defused) live in ``analytics.llm.prompting`` and are shared with level 2.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from analytics.core.topics import Topic
from analytics.llm.prompting import DATA_RULE, data_block, response_format, strip_fences
from analytics.score.retrieval import Passage
from analytics.score.schema import MAX_SUMMARY_WORDS, DocumentScores, ScoreValue

PROMPT_VERSION = "level1-v1"
SUMMARY_WORDS_ASKED = 80  # ask for less than the hard limit so a wordy model still passes

# --- level 1: scoring -------------------------------------------------------------------

def _score_section(topic: Topic) -> str:
    parts = []
    for s in topic.scores:
        parts.append(
            f'- "{s.key}" ({s.label}): {s.question}\n'
            f"    {s.low}\n    {s.neutral}\n    {s.high}"
        )
    return "\n".join(parts)


def scoring_system_prompt(topic: Topic) -> str:
    return f"""You are a careful media analyst. You rate how one document (a news article, \
a video with its comments, or an online discussion thread) talks about {topic.target}.
Topic: {topic.title}. {topic.description.strip()}

Scores, each on a 0-10 scale:
{_score_section(topic)}

Rules:
- Rate only what the document itself expresses (text and comments together).
- Null rule: if the document does not address a score's question, its value is null. \
Null is not 5: 5 means the question is addressed but the picture is neutral, balanced or mixed.
- If the document is not about {topic.target} at all, set "on_topic" to false and every value \
to null.
- "rationale": one short line per score saying why.
- "evidence": the numeric ids of the passages you relied on (the n of [P n]); empty when null.
- "summary": a neutral summary of what the document says about {topic.target}, at most \
{SUMMARY_WORDS_ASKED} words.
- Answer with one JSON object that follows the given schema, nothing else.

{DATA_RULE}"""


def passage_lines(title: str, passages: list[Passage]) -> list[str]:
    lines = [f"Title: {title}"] if title else []
    lines += [f"[P {p.idx}] ({p.kind}) {p.text}" for p in passages]
    return lines


def scoring_messages(topic: Topic, title: str, passages: list[Passage]) -> list[dict[str, str]]:
    user = (
        "Rate the document below. Its passages are numbered [P n].\n"
        f"{data_block(passage_lines(title, passages))}\n"
        "Reply with the JSON object only."
    )
    return [{"role": "system", "content": scoring_system_prompt(topic)},
            {"role": "user", "content": user}]


def retrieval_queries(topic: Topic) -> list[str]:
    """One query per score: its question plus both rubric ends."""
    return [f"{s.question} {s.low} {s.high}" for s in topic.scores]


class _LevelOneAnswer(BaseModel):
    """Shape of the model's answer; scores get one required property per topic score key."""

    model_config = ConfigDict(extra="forbid")

    on_topic: bool = Field(description="Whether the document is about the topic at all.")
    summary: str = Field(description=f"At most {SUMMARY_WORDS_ASKED} words.")


def answer_model(topic: Topic) -> type[BaseModel]:
    """A pydantic model of the answer for this topic (the score keys become fields)."""
    return _answer_model(tuple(topic.score_keys))


@lru_cache(maxsize=32)
def _answer_model(keys: tuple[str, ...]) -> type[BaseModel]:
    # building a model costs ~30 ms: once per set of score keys, not once per call
    scores = create_model(  # type: ignore[call-overload]
        "Scores", __config__=ConfigDict(extra="forbid"), **{key: (ScoreValue, ...) for key in keys},
    )
    return create_model("LevelOneAnswer", __base__=_LevelOneAnswer, scores=(scores, ...))


def scoring_response_format(topic: Topic) -> dict[str, Any]:
    return _scoring_format(tuple(topic.score_keys))


@lru_cache(maxsize=32)
def _scoring_format(keys: tuple[str, ...]) -> dict[str, Any]:
    return response_format("document_scores", _answer_model(keys))


def parse_scores(content: str | None, topic: Topic, passage_ids: set[int]) -> DocumentScores:
    """Validate an answer; raises ValueError (incl. pydantic's) with the reason."""
    if not content or not content.strip():
        raise ValueError("empty answer")
    try:
        raw = json.loads(strip_fences(content))
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON ({exc.msg} at character {exc.pos})") from exc
    answer = answer_model(topic).model_validate(raw)
    scores = {key: getattr(answer.scores, key) for key in topic.score_keys}
    for value in scores.values():  # cited ids must be passages that were shown
        value.evidence = sorted({i for i in value.evidence if i in passage_ids})
    result = DocumentScores(on_topic=answer.on_topic, summary=answer.summary, scores=scores)
    if len(result.summary.split()) > MAX_SUMMARY_WORDS:  # pragma: no cover - schema checks it
        raise ValueError("summary too long")
    return result.check_keys(topic.score_keys)
