"""The two level-2 summarizers: extractive (offline, labelled as such) and LLM
(map-reduce when the level-1 summaries do not fit one prompt)."""

from __future__ import annotations

import math
import re
from collections import Counter

import pandas as pd

from analytics import __version__
from analytics.core.hashing import stable_hash
from analytics.core.settings import Settings
from analytics.core.topics import Topic
from analytics.llm.client import ChatClient, Usage
from analytics.llm.costs import estimate_tokens, messages_tokens
from analytics.llm.prompting import response_format, strip_fences
from analytics.summarize import prompts
from analytics.summarize.periods import (
    PeriodGroup,
    change_lines,
    disagreement_lines,
    item_line,
)

EXTRACTIVE_LABEL = ("Extractive summary (offline backend, no LLM): themes are distinctive "
                    "frequent terms, the summary quotes level-1 summaries verbatim, changes and "
                    "disagreements are computed from the scores.")

_STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been
before being below between both but by can could did do does doing down during each few
for from further had has have having he her here hers him his how i if in into is it
its itself just me more most my no nor not now of off on once only or other our out
over own same she should so some such than that the their them then there these they
this those through to too under until up very was we were what when where which while
who whom why will with would you your says said say according amid among new one two
three week month year years today document documents summary discusses discussed text
video thread comments comment people
""".split())  # noqa: SIM905


class ExtractiveSummarizer:
    name = "offline"
    model = "extractive-v1"
    label = EXTRACTIVE_LABEL

    def __init__(self, settings: Settings, topic: Topic, frame: pd.DataFrame):
        self.topic = topic
        self.prompt_hash = stable_hash({"method": self.model, "version": __version__})
        exclude = {w.lower() for k in topic.keywords for w in re.findall(r"[a-zA-Z]+", k)}
        self.exclude = exclude | _STOPWORDS
        self.background = Counter(w for text in frame["summary"] for w in self._words(text))
        self.total = sum(self.background.values()) or 1

    def _words(self, text: str) -> set[str]:
        return {w for w in re.findall(r"[a-z][a-z\-]{3,}", text.lower()) if w not in self.exclude}

    def themes(self, summaries: list[str], k: int = 6) -> list[tuple[str, float]]:
        counts = Counter(w for text in summaries for w in self._words(text))
        size = sum(counts.values()) or 1
        weights = {w: c * math.log((c / size) / (self.background[w] / self.total) + 1.0)
                   for w, c in counts.items() if c >= 2 or len(summaries) < 4}
        return sorted(weights.items(), key=lambda kv: -kv[1])[:k]

    async def summarize(self, group: PeriodGroup) -> dict:
        summaries = list(group.rows["summary"])
        themes = self.themes(summaries)
        weight = dict(themes)
        ranked = sorted(range(len(summaries)),
                        key=lambda i: -sum(weight.get(w, 0) for w in self._words(summaries[i])))
        picked = [group.rows.iloc[i] for i in sorted(ranked[:3])]
        quote = " ".join(f"[doc {int(r['id'])}] {r['summary']}" for r in picked)
        return {"themes": [w for w, _ in themes], "summary": quote,
                "changes": "; ".join(change_lines(group, self.topic)),
                "disagreements": "; ".join(disagreement_lines(group, self.topic)),
                "label": self.label, "calls": 0, "tokens_in": 0, "tokens_out": 0, "cost": 0.0,
                "map_groups": 0}


class LLMSummarizer:
    name = "openai"
    label = "LLM summary of level-1 summaries"

    def __init__(self, settings: Settings, topic: Topic, frame: pd.DataFrame):
        self.settings = settings
        self.topic = topic
        self.client = ChatClient(settings)
        self.model = self.client.model
        self.label = f"LLM summary ({self.model}) of level-1 summaries"
        self.prompt_hash = stable_hash({
            **prompts.level2_prompt_hash_payload(topic), "model": self.model,
            "temperature": settings.llm.temperature, "seed": settings.llm.seed,
            "max_tokens": settings.llm.max_tokens,
            "context": settings.summarize.context_tokens})
        self.final_format = response_format("period_summary", prompts.PeriodSummaryAnswer)
        self.partial_format = response_format("partial_summary", prompts.PartialSummaryAnswer)

    def _budget(self, header: list[str]) -> int:
        overhead = messages_tokens(prompts.summary_messages(self.topic, header, [], False))
        return max(self.settings.summarize.context_tokens - overhead, 200)

    @staticmethod
    def _groups(items: list[str], budget: int) -> list[list[str]]:
        groups, current, used = [], [], 0
        for item in items:
            size = estimate_tokens(item) + 2
            if current and used + size > budget:
                groups.append(current)
                current, used = [], 0
            current.append(item[: budget * 3])  # one huge item is cut, never dropped
            used += size
        return [*groups, current] if current else groups

    async def _call(self, messages: list[dict], fmt: dict, model: type, usage: dict):
        result, error, used = await self.client.complete_json(
            messages, fmt, lambda content: model.model_validate_json(strip_fences(content or "")))
        _add_usage(usage, used)
        if result is None:
            raise ValueError(error)
        return result

    async def summarize(self, group: PeriodGroup) -> dict:
        usage = {"calls": 0, "tokens_in": 0, "tokens_out": 0, "cost": 0.0, "map_groups": 0}
        header = [
            (f"Source: {group.source}. Period: {group.start:%Y-%m-%d} to {group.end:%Y-%m-%d} "
            f"({len(group.rows)} documents)."),
            "Score changes since the previous period: " + "; ".join(change_lines(group,
                                                                                 self.topic)),
            "Score gaps to other sources: " + "; ".join(disagreement_lines(group, self.topic)),
        ]
        items = [item_line(row, self.topic) for _, row in group.rows.iterrows()]
        budget = self._budget(header)
        level = 0
        while sum(len(i) for i in items) / 3.5 > budget and level < 4:  # map-reduce
            groups = self._groups(items, budget)
            usage["map_groups"] += len(groups)
            partials = []
            for number, chunk in enumerate(groups, 1):
                answer = await self._call(
                    prompts.summary_messages(self.topic, [], chunk, True), self.partial_format,
                    prompts.PartialSummaryAnswer, usage)
                partials.append(f"[part {level}.{number}] {answer.summary} (themes: "
                                f"{'; '.join(answer.themes)})")
            items, level = partials, level + 1
        answer = await self._call(prompts.summary_messages(self.topic, header, items, False),
                                  self.final_format, prompts.PeriodSummaryAnswer, usage)
        return {"themes": answer.themes, "summary": answer.summary, "changes": answer.changes,
                "disagreements": answer.disagreements, "label": self.label, **usage}


SUMMARIZERS = {"offline": ExtractiveSummarizer, "openai": LLMSummarizer}


def _add_usage(usage: dict, used: Usage) -> None:
    usage["calls"] += used.calls
    usage["tokens_in"] += used.tokens_in
    usage["tokens_out"] += used.tokens_out
    usage["cost"] += used.cost
