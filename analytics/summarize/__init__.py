"""Level 2: summaries of the level-1 summaries per period and source, and 'ask the corpus'.

Modules: ``periods`` (grouping and score statistics), ``prompts`` (level-2 prompts),
``summarizers`` (extractive offline, LLM map-reduce), ``service`` (the run and the reads
pages use), ``ask`` (retrieval over stored passages, optionally answered by the LLM).
"""

from analytics.summarize.periods import PERIODS
from analytics.summarize.service import (
    SummarizeResult,
    summaries_frame,
    summarize_topic,
    summary_detail,
)
from analytics.summarize.summarizers import EXTRACTIVE_LABEL

__all__ = ["EXTRACTIVE_LABEL", "PERIODS", "SummarizeResult", "summaries_frame",
           "summarize_topic", "summary_detail"]
