"""Rendering untrusted text (titles, comments, summaries, LLM output): never as HTML."""

from __future__ import annotations

_MARKDOWN_SPECIAL = "\\`*_{}[]()#+-.!|<>~$:"


def escape_md(text: str | None) -> str:
    """Make untrusted text inert in st.markdown: no links, images, emphasis or HTML."""
    if not text:
        return ""
    return "".join(f"\\{ch}" if ch in _MARKDOWN_SPECIAL else ch for ch in str(text))


def safe_url(url: object) -> str | None:
    """Only http(s) links are offered to the user (no javascript: or data: URLs). Anything
    not a string (None; NaN, pandas' missing value in a text column) is no link."""
    if isinstance(url, str) and url.strip().lower().startswith(("http://", "https://")):
        return url.strip()
    return None


def document_id_param(value: str) -> int:
    """A link's document id; 0 (no such document) unless it is a plain ASCII number that
    fits a database integer (no '²', no 10**30 that would overflow the query)."""
    value = value.strip()
    if value.isascii() and value.isdigit() and 0 < int(value) < 2**31:
        return int(value)
    return 0


def invalid_param(name: str, value: str, fallback: str) -> None:
    """A link's query parameter that cannot be used: say so (a toast, like the sidebar's
    notices about the view) and what is shown instead."""
    import streamlit as st

    st.toast(f"The link's {name}={escape_md(value[:60])} is not valid here; showing "
             f"{fallback} instead.", icon=":material/link_off:")
