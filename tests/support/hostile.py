"""A small corpus whose untrusted text tries to run script, open javascript: links and plant
spreadsheet formulas: the reports and the browser must show all of it as inert text."""

from __future__ import annotations

import datetime as dt

from analytics.store.records import CommentRecord, DocumentRecord

XSS_TITLE = "<img src=x onerror=alert(1)>"
XSS_COMMENT = "<script>alert('comment')</script> NATO allies stand united."
FORMULA_TITLE = '=HYPERLINK("http://evil")'


def hostile_records(n: int = 12) -> list[DocumentRecord]:
    moment = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    return [
        DocumentRecord(
            source="news" if i % 2 else "reddit", provider="test", external_id=f"x{i}",
            topic="nato", published_at=moment + dt.timedelta(days=i),
            title=XSS_TITLE if i == 0 else (FORMULA_TITLE if i == 1 else f"Allies meet {i}"),
            text="The allies stand fully united and speak with one voice. "
                 f"Article 5 is ironclad. Item {i}.",
            url="javascript:alert(1)" if i == 0 else f"https://example.test/{i}",
            comments=[CommentRecord(external_id="c0", text=XSS_COMMENT)])
        for i in range(n)
    ]


def build_hostile_corpus(settings, topic) -> None:
    from analytics.ingest.runner import ingest_records
    from analytics.score.pipeline import score_topic

    ingest_records(hostile_records(), topic="nato", provider="test",
                   database_url=settings.database_url)
    score_topic(topic, settings=settings)
