"""The agreement badge shown next to a score wherever a score is shown: Krippendorff's alpha
with its 95% bootstrap interval, the number of human-coded documents and the scorer version
(the same figures the Validation page and the headlines use)."""

from __future__ import annotations

import streamlit as st

from analytics.core.topics import Topic
from analytics.dashboard import loaders
from analytics.report.headlines import TENTATIVE_ALPHA, Validation

GOOD_ALPHA = 0.8


def badge_text(validation: Validation | None) -> str:
    v = validation or Validation()
    if v.pairs == 0:
        agreement = "not validated against human coding"
    elif not v.measured:
        agreement = f"α not measurable yet · n = {v.pairs}"
    else:
        interval = (f" [{v.alpha_low:.2f}, {v.alpha_high:.2f}]" if v.alpha_low is not None
                    else "")
        agreement = f"α = {v.alpha:.2f}{interval} · n = {v.pairs}"
    return f"{agreement} · scorer {v.scorer or 'unknown'}"


def badge_color(validation: Validation | None) -> str:
    v = validation or Validation()
    if not v.measured:
        return "gray"
    if v.alpha >= GOOD_ALPHA:
        return "green"
    return "orange" if v.alpha >= TENTATIVE_ALPHA else "red"


def agreement_badge(topic: Topic, key: str, container=None, with_label: bool = False) -> None:
    """One badge for one score of the topic."""
    v = loaders.headline_evidence(topic.name).get(key)
    text = badge_text(v)
    if with_label:
        text = f"{topic.score(key).label}: {text}"
    (container or st).badge(text, color=badge_color(v), icon=":material/verified:")


def agreement_badges(topic: Topic, keys: list[str] | None = None, container=None) -> None:
    """A badge per score (labelled), in one wrapping row, e.g. under a chart that shows
    every score."""
    container = container or st.container(horizontal=True)
    for key in keys or topic.score_keys:
        agreement_badge(topic, key, container, with_label=True)
