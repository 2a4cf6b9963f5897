"""Rendering untrusted text (titles, comments, summaries, LLM output): never as HTML."""

from __future__ import annotations

_MARKDOWN_SPECIAL = "\\`*_{}[]()#+-.!|<>~$:"


def escape_md(text: str | None) -> str:
    """Make untrusted text inert in st.markdown: no links, images, emphasis or HTML."""
    if not text:
        return ""
    return "".join(f"\\{ch}" if ch in _MARKDOWN_SPECIAL else ch for ch in str(text))


def safe_url(url: str | None) -> str | None:
    """Only http(s) links are offered to the user (no javascript: or data: URLs)."""
    if url and url.strip().lower().startswith(("http://", "https://")):
        return url.strip()
    return None
