"""Level-2 prompts: summaries of summaries per period and source, and questions to the
corpus. The untrusted level-1 summaries and passages go inside the shared data block."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from analytics.core.topics import Topic
from analytics.llm.prompting import DATA_RULE, data_block, neutralise


class PeriodSummaryAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    themes: list[str] = Field(description="Three to six main themes, a short phrase each.")
    summary: str = Field(description="What this source said in the period, at most 150 words.")
    changes: str = Field(description="What changed since the previous period (one to three "
                         "sentences; say so when there is no previous period).")
    disagreements: str = Field(description="Notable disagreements between this source and the "
                               "others in the same period (one to three sentences, or 'none').")


class PartialSummaryAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    summary: str = Field(description="Condensed summary of these items, at most 150 words.")
    themes: list[str] = Field(description="Main themes, a short phrase each.")


class CorpusAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: str = Field(description="Answer from the passages only, citing [doc N] ids.")
    cited_document_ids: list[int] = Field(description="Ids N of the documents cited.")


def summary_system_prompt(topic: Topic, partial: bool) -> str:
    task = ("Condense the level-1 summaries below into one shorter summary with its themes."
            if partial else
            "Write the level-2 summary of one source for one period from the level-1 summaries "
            "(or partial summaries) below, the score statistics, and the previous period's "
            "summary: main themes, what changed since the previous period, and notable "
            "disagreements with the other sources.")
    return (f"You are a media analyst summarising coverage of {topic.target} ({topic.title}). "
            f"{task} Use only the data given. Answer with one JSON object that follows the "
            f"given schema, nothing else.\n\n{DATA_RULE}")


def summary_messages(topic: Topic, header: list[str], items: list[str],
                     partial: bool) -> list[dict[str, str]]:
    user = ("Summarise the data below.\n" + data_block([*header, *items]) +
            "\nReply with the JSON object only.")
    return [{"role": "system", "content": summary_system_prompt(topic, partial)},
            {"role": "user", "content": user}]


def question_messages(topic: Topic, question: str, passages: list[str]) -> list[dict[str, str]]:
    system = (f"You answer questions about how media and online discussions cover "
              f"{topic.target}, using only the numbered passages given. Cite documents as "
              f"[doc N]. If the passages do not answer the question, say so. Answer with one "
              f"JSON object that follows the given schema.\n\n{DATA_RULE}")
    user = ("Question (from the analyst): " + neutralise(question.strip()) + "\n"
            + data_block(passages) + "\nReply with the JSON object only.")
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def level2_prompt_hash_payload(topic: Topic) -> dict[str, Any]:
    return {"version": "level2-v1", "system": summary_system_prompt(topic, False),
            "partial": summary_system_prompt(topic, True),
            "schema": PeriodSummaryAnswer.model_json_schema()}
