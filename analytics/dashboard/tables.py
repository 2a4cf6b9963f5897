"""Shaping frames into the tables pages show."""

from __future__ import annotations

import pandas as pd

from analytics.dashboard.safe import safe_url


def documents_table(documents: pd.DataFrame, scored: pd.DataFrame,
                    keys: tuple[str, ...], unscored: dict[int, str] | None = None
                    ) -> pd.DataFrame:
    """Documents with their scores, newest first; only http(s) URLs become links.
    ``unscored``: why a document's scores are all null (document id -> reason)."""
    table = documents.merge(scored[["id", *keys]], on="id", how="left")
    table = table[table["duplicate_of"].isna()]
    table = table.assign(url=table["url"].map(safe_url),
                         unscored=table["id"].map(unscored or {}))
    columns = ["published_at", "source", "outlet", "title", *keys, "n_comments", "lang",
               "url", "id", "unscored"]
    return table[columns].sort_values("published_at", ascending=False).reset_index(drop=True)


NOT_ADDRESSED = "not addressed"
MAX_TABLE_ROWS = 2000  # rows sent to the browser at once; the caption says when there are more


def scores_as_text(table: pd.DataFrame, keys: tuple[str, ...]) -> pd.DataFrame:
    """Score cells as text for display: one decimal, or why there is none — "not addressed",
    or the stated reason in an ``unscored`` column (e.g. "language not supported (de)");
    st.dataframe would print "None". Width-4 numbers (" 5.3", "10.0") sort numerically."""
    missing = (table["unscored"].fillna(NOT_ADDRESSED) if "unscored" in table
               else pd.Series(NOT_ADDRESSED, index=table.index))
    return table.assign(**{key: table[key].map(
        lambda v: None if pd.isna(v) else f"{v:4.1f}").fillna(missing) for key in keys})


def filter_documents(table: pd.DataFrame, matches: dict[int, float] | None,
                     ranges: dict[str, tuple[float, float]], require_all: bool) -> pd.DataFrame:
    """Search matches (id -> relevance; None = no search: best matches first), then score
    ranges; a narrowed range drops documents without that score."""
    if matches is not None:
        table = table[table["id"].isin(matches)]
        table = table.assign(_rank=table["id"].map(matches)).sort_values(
            "_rank", ascending=False).drop(columns="_rank")
    for key, (low, high) in ranges.items():
        if require_all or (low, high) != (0.0, 10.0):
            table = table[table[key].between(low, high)]
    return table


def score_columns(topic) -> dict:
    """Column settings for score columns: the score's label, with its scale as help."""
    import streamlit as st

    return {s.key: st.column_config.Column(s.label, help=f"{s.scale}; empty or 'not "
                                           "addressed' = the document does not address it")
            for s in topic.scores}
