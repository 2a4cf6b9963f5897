"""Shaping frames into the tables pages show."""

from __future__ import annotations

import pandas as pd

from analytics.dashboard.safe import safe_url


def documents_table(documents: pd.DataFrame, scored: pd.DataFrame,
                    keys: tuple[str, ...]) -> pd.DataFrame:
    """Documents with their scores, newest first; only http(s) URLs become links."""
    table = documents.merge(scored[["id", *keys]], on="id", how="left")
    table = table[table["duplicate_of"].isna()]
    table = table.assign(url=table["url"].map(safe_url))
    columns = ["published_at", "source", "title", *keys, "n_comments", "url", "id"]
    return table[columns].sort_values("published_at", ascending=False).reset_index(drop=True)


def filter_documents(table: pd.DataFrame, matching_ids: set[int] | None,
                     ranges: dict[str, tuple[float, float]], require_all: bool) -> pd.DataFrame:
    """Text-search hits (None = no search), then score ranges; a narrowed range drops
    documents without that score."""
    if matching_ids is not None:
        table = table[table["id"].isin(matching_ids)]
    for key, (low, high) in ranges.items():
        if require_all or (low, high) != (0.0, 10.0):
            table = table[table[key].between(low, high)]
    return table
