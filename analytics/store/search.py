"""Full-text search of documents (title and text), combined with the view's filters.

One query syntax on both stores (web-search style, as PostgreSQL's websearch_to_tsquery):
words must all appear; ``"an exact phrase"``; ``OR`` between alternatives; ``-word`` or
``-"a phrase"`` excludes; ``word*`` matches a prefix. SQLite answers from an FTS5 index
(porter stemming) with ``fts5_expression``, PostgreSQL from a tsvector column (English
stemming) with the same terms built into a tsquery (``tsquery_sql``); both rank by
relevance (BM25 / ts_rank).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from analytics.core.errors import BadInput

HELP = ('All words must appear; "exact phrase"; OR between alternatives; -word excludes; '
        "word* matches the start of words.")
_TOKEN = re.compile(r'(-?)"([^"]*)"|(\S+)')


class SearchError(BadInput):
    """A search the index cannot run; the message shows the syntax."""


@dataclass(frozen=True)
class Term:
    text: str
    phrase: bool
    excluded: bool
    prefix: bool


def terms(query: str) -> list[Term | str]:
    """Terms and 'OR' markers, in order."""
    out: list[Term | str] = []
    for match in _TOKEN.finditer(query or ""):
        negated, phrase, word = match.groups()
        if phrase is not None:
            words = " ".join(re.findall(r"\w+", phrase))
            if words:
                out.append(Term(words, True, bool(negated), False))
            continue
        if word == "OR":
            out.append("OR")
            continue
        excluded = word.startswith("-") and len(word) > 1
        core = word[1:] if excluded else word
        prefix = core.endswith("*")
        core = " ".join(re.findall(r"\w+", core))
        if core:
            out.append(Term(core, " " in core, excluded, prefix and " " not in core))
    return out


def fts5_expression(query: str) -> str:
    """The query as an FTS5 MATCH expression (every term quoted: no syntax errors)."""
    positive, negative = [], []
    for item in terms(query):
        if item == "OR":
            if positive and positive[-1] != "OR":
                positive.append("OR")
            continue
        quoted = '"' + item.text.replace('"', "") + '"' + ("*" if item.prefix else "")
        (negative if item.excluded else positive).append(quoted)
    while positive and positive[-1] == "OR":
        positive.pop()
    if not positive:
        raise SearchError(f"Give at least one word to look for. {HELP}")
    expression = " ".join(positive)
    if negative:
        expression = f"({expression}) NOT ({' OR '.join(negative)})"
    return expression


def tsquery_sql(query: str) -> tuple[str, dict[str, str]]:
    """The query as a PostgreSQL tsquery expression over bound parameters (the same
    precedence as FTS5: AND before OR, exclusions last): each word or phrase is
    ``phraseto_tsquery``, a prefix ``to_tsquery('word:*')`` on a word of letters and
    digits only, so user input never reaches the tsquery syntax."""
    parts: list[str] = []
    negative: list[str] = []
    params: dict[str, str] = {}
    for i, item in enumerate(terms(query)):
        if item == "OR":
            if parts and parts[-1] != "||":
                parts.append("||")
            continue
        name = f"term{i}"
        word = re.sub(r"[\W_]+", "", item.text)
        if item.prefix and word:
            params[name] = f"{word}:*"
            sql = f"to_tsquery('english', :{name})"
        else:
            params[name] = item.text
            sql = f"phraseto_tsquery('english', :{name})"
        if item.excluded:
            negative.append(sql)
            continue
        if parts and parts[-1] != "||":
            parts.append("&&")
        parts.append(sql)
    while parts and parts[-1] == "||":
        parts.pop()
    if not parts:
        raise SearchError(f"Give at least one word to look for. {HELP}")
    expression = "(" + " ".join(parts) + ")"
    if negative:
        expression = f"({expression} && !!({' || '.join(negative)}))"
    return expression, params


def ranked_ids(session: Session, query: str, limit: int = 5000) -> dict[int, float]:
    """Matching document ids with a relevance score (higher = better), best first."""
    if not (query or "").strip():
        return {}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        expression, params = tsquery_sql(query)
        rows = session.execute(text(
            f"SELECT id, ts_rank(search_vector, {expression}) AS rank FROM documents "
            f"WHERE search_vector @@ {expression} ORDER BY rank DESC LIMIT :limit"),
            {**params, "limit": limit}).all()
        return {int(r.id): float(r.rank) for r in rows}
    rows = session.execute(text(
        "SELECT rowid AS id, bm25(documents_fts) AS rank FROM documents_fts "
        "WHERE documents_fts MATCH :q ORDER BY rank LIMIT :limit"),
        {"q": fts5_expression(query), "limit": limit}).all()
    return {int(r.id): -float(r.rank) for r in rows}  # bm25: lower is better
