"""The alert as people read it: a title, a plain-text body, an HTML body (from the report
templates, autoescaped: outlet names and other ingested text stay text) and a link to the
event view or saved view that shows the change."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from urllib.parse import urlencode

from analytics.core.settings import Settings
from analytics.core.topics import Topic
from analytics.pipeline.alerts.conditions import Finding


@dataclass
class Message:
    title: str
    text: str
    html: str
    link: str | None
    payload: dict = field(default_factory=dict)  # the webhook's JSON body


def view_params(topic: Topic, saved: dict | None) -> dict[str, str]:
    """The URL state an alert link opens: the saved view's filters, else the whole topic."""
    if saved:
        return dict(saved)
    return {"topic": topic.name, "window": "all", "sources": "news,youtube,reddit"}


def link_for(finding: Finding, topic: Topic, settings: Settings, saved_page: str | None,
             saved_params: dict | None) -> tuple[str | None, str]:
    base = settings.alerts.base_url.rstrip("/")
    if not base:
        return None, ""
    params = view_params(topic, saved_params)
    if finding.event_date is not None:
        keep = {k: v for k, v in params.items() if k in ("topic", "window", "sources", "from",
                                                          "to", "outlets")}
        query = keep | {"date": str(finding.event_date), "label": finding.title[:80]}
        return f"{base}/event?{urlencode(query)}", "Open the event view"
    if saved_page is not None:
        return f"{base}/{saved_page}?{urlencode(params)}", "Open the saved view"
    return f"{base}/?{urlencode(params)}", "Open the dashboard"


def compose(finding: Finding, topic: Topic, rule_name: str, as_of: dt.date,
            settings: Settings, saved_page: str | None = None,
            saved_params: dict | None = None) -> Message:
    from analytics.report.render import render_template

    link, link_label = link_for(finding, topic, settings, saved_page, saved_params)
    facts = [(k, v) for k, v in finding.facts if v]
    lines = [finding.title, "", finding.what, ""]
    lines += [f"{k}: {v}" for k, v in facts]
    if link:
        lines += ["", f"{link_label}: {link}"]
    lines += ["", f"Rule “{rule_name}” · {topic.title} · data up to {as_of}."]
    text = "\n".join(lines)
    html = render_template("alert.html.j2", alert={
        "title": finding.title, "what": finding.what, "facts": facts, "link": link,
        "link_label": link_label, "rule_name": rule_name, "topic_title": topic.title,
        "as_of": as_of})
    # Slack and Teams (incoming webhooks) both read "text"; the rest is for other receivers.
    payload = {"text": f"*{finding.title}*\n{finding.what}" + (f"\n<{link}|{link_label}>"
                                                               if link else ""),
               "title": finding.title, "summary": finding.what, "link": link,
               "facts": dict(facts), "rule": rule_name, "topic": topic.name,
               "as_of": str(as_of), "change": finding.key}
    return Message(finding.title, text, html, link, payload)
