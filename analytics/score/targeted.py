"""A generic one-score topic: sentiment toward a named target (person, organisation...).

Used to measure the offline backend on human-labelled data (NewsMTSC) and by validation.
The target mention in a sentence is replaced by a placeholder, so one set of anchor
vectors serves every target.
"""

from __future__ import annotations

from analytics.core.topics import ScoreDefinition, Topic

PLACEHOLDER = "the person"


def target_sentiment_topic() -> Topic:
    score = ScoreDefinition(
        key="sentiment",
        label="Sentiment toward the target",
        question=f"What attitude toward {PLACEHOLDER} does the text express?",
        low=f"0 = {PLACEHOLDER} is attacked, blamed, criticized or portrayed negatively.",
        high=f"10 = {PLACEHOLDER} is praised, supported or portrayed positively.",
        anchors_low=[
            f"{PLACEHOLDER} is criticized and blamed.",
            f"{PLACEHOLDER} was accused of wrongdoing and faces harsh criticism.",
            f"Critics attacked {PLACEHOLDER} for a failure.",
        ],
        anchors_high=[
            f"{PLACEHOLDER} is praised and admired.",
            f"{PLACEHOLDER} was applauded for a success and won support.",
            f"Supporters celebrated {PLACEHOLDER} for a great achievement.",
        ],
        relevance_threshold=0.0,  # every sentence given is about the target
    )
    return Topic(name="target_sentiment", title="Sentiment toward a target", target=PLACEHOLDER,
                 keywords=[PLACEHOLDER], scores=[score])


def mask_target(sentence: str, start: int, end: int) -> str:
    """Replace the mention at [start, end) with the placeholder."""
    return f"{sentence[:start]}{PLACEHOLDER}{sentence[end:]}"
