"""Rules and their evaluation: what the scheduled run, the CLI and the Alerts page call.

One evaluation of a rule: its condition lists findings (``conditions``); a finding that
matches a change the rule already alerted (same key, dated within ``TOLERANCE_DAYS``, seen
again before ``REARM_DAYS`` passed) is the same change and is not alerted again
(de-duplication). A new change is sent to the rule's channels, unless the rule sent one
within its cool-down: then it is recorded as ``suppressed``. Every new change is one row of
``alerts`` (sent / failed with the reason / suppressed), secrets redacted.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy import select

from analytics.core.errors import BadInput
from analytics.core.redact import redact, redact_data
from analytics.core.settings import Settings, get_settings
from analytics.core.topics import Topic, load_topic
from analytics.core.views import SOURCES
from analytics.pipeline.alerts import channels as delivery
from analytics.pipeline.alerts.conditions import CONDITIONS, Context, Finding
from analytics.pipeline.alerts.messages import Message, compose
from analytics.pipeline.alerts.rules import REARM_DAYS, TOLERANCE_DAYS, RuleSpec, check_rule
from analytics.store import session_scope
from analytics.store.models import Alert, AlertRule, SavedView, utcnow
from analytics.store.runs import describe_error, recorded_run

log = logging.getLogger("analytics.alerts")


@dataclass
class AlertsReport:
    evaluated: int = 0
    sent: int = 0
    failed: int = 0
    suppressed: int = 0
    errors: list[str] = field(default_factory=list)
    alerts: list[dict] = field(default_factory=list)  # the new rows, as plain dicts

    @property
    def ok(self) -> bool:
        return not self.errors

    def line(self) -> str:
        text = (f"{self.evaluated} rule(s) evaluated: {self.sent} alert(s) sent, "
                f"{self.failed} failed, {self.suppressed} suppressed by cool-down")
        return text + (f"; {len(self.errors)} rule(s) could not be evaluated: "
                       + "; ".join(self.errors) if self.errors else "")


# --- rules ------------------------------------------------------------------------------------


def create_rule(spec: RuleSpec, settings: Settings | None = None,
                owner: str | None = None) -> int:
    settings = settings or get_settings()
    topic = load_topic(spec.topic, settings)
    spec = check_rule(spec, topic, settings)
    with session_scope(settings.database_url) as session:
        _check_view(session, spec.saved_view_id)
        rule = AlertRule(name=spec.name, topic=spec.topic, kind=spec.kind, params=spec.params,
                         channels=list(spec.channels), cooldown_hours=spec.cooldown_hours,
                         saved_view_id=spec.saved_view_id, owner=owner, state={})
        session.add(rule)
        session.flush()
        return rule.id


def update_rule(rule_id: int, spec: RuleSpec, settings: Settings | None = None) -> None:
    """Edit a rule; its memory of alerted changes is kept unless the kind changes."""
    settings = settings or get_settings()
    topic = load_topic(spec.topic, settings)
    spec = check_rule(spec, topic, settings)
    with session_scope(settings.database_url) as session:
        rule = _rule(session, rule_id)
        _check_view(session, spec.saved_view_id)
        if rule.kind != spec.kind or rule.topic != spec.topic:
            rule.state = {}
        rule.name, rule.topic, rule.kind, rule.params = spec.name, spec.topic, spec.kind, \
            spec.params
        rule.channels, rule.cooldown_hours = list(spec.channels), spec.cooldown_hours
        rule.saved_view_id, rule.updated_at = spec.saved_view_id, utcnow()


def set_paused(rule_id: int, paused: bool, settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    with session_scope(settings.database_url) as session:
        rule = _rule(session, rule_id)
        rule.paused, rule.updated_at = paused, utcnow()


def delete_rule(rule_id: int, settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    with session_scope(settings.database_url) as session:
        session.delete(_rule(session, rule_id))


def _rule(session, rule_id: int) -> AlertRule:
    rule = session.get(AlertRule, rule_id)
    if rule is None:
        raise BadInput(f"No alert rule #{rule_id}.")
    return rule


def _check_view(session, view_id: int | None) -> None:
    if view_id is not None and session.get(SavedView, view_id) is None:
        raise BadInput(f"No saved view #{view_id}.")


def rules_table(settings: Settings | None = None, topic: str | None = None) -> list[dict]:
    settings = settings or get_settings()
    with session_scope(settings.database_url) as session:
        query = select(AlertRule).order_by(AlertRule.id)
        if topic:
            query = query.where(AlertRule.topic == topic)
        views = {v.id: v.name for v in session.scalars(select(SavedView))}
        return [{"id": r.id, "name": r.name, "topic": r.topic, "kind": r.kind,
                 "params": dict(r.params), "channels": list(r.channels),
                 "cooldown_hours": r.cooldown_hours, "paused": r.paused,
                 "saved_view_id": r.saved_view_id,
                 "saved_view": views.get(r.saved_view_id), "owner": r.owner,
                 "last_evaluated_at": r.last_evaluated_at}
                for r in session.scalars(query)]


def history(settings: Settings | None = None, topic: str | None = None,
            limit: int = 200) -> list[dict]:
    settings = settings or get_settings()
    with session_scope(settings.database_url) as session:
        query = select(Alert).order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit)
        if topic:
            query = query.where(Alert.topic == topic)
        names = {r.id: r.name for r in session.scalars(select(AlertRule))}
        return [{"id": a.id, "created_at": a.created_at, "rule": names.get(a.rule_id, "—"),
                 "rule_id": a.rule_id, "kind": a.kind, "as_of": a.as_of, "state": a.state,
                 "reason": a.reason, "title": a.title, "text": a.text, "link": a.link,
                 "deliveries": dict(a.deliveries), "details": dict(a.details)}
                for a in session.scalars(query)]


def default_rules(topic: Topic, settings: Settings | None = None,
                  channels: tuple[str, ...] = ()) -> list[RuleSpec]:
    """The rules the replay benchmark and a new installation start from (default
    thresholds): turning points, P(decline) and P(rise) of every score, per-source volume,
    agreement and failing steps."""
    return [RuleSpec("Turning points", topic.name, "turning_point", {}, channels),
            RuleSpec("Decline likely", topic.name, "probability", {"which": "decline"},
                     channels),
            RuleSpec("Rise likely", topic.name, "probability", {"which": "rise"}, channels),
            RuleSpec("Volume spikes and drops per source", topic.name, "volume", {}, channels),
            RuleSpec("Agreement below the floor", topic.name, "agreement", {}, channels),
            RuleSpec("Scheduled step failed", topic.name, "step_failed", {}, channels)]


# --- evaluation -------------------------------------------------------------------------------


def _matches(entry: dict, finding: Finding, kind: str) -> bool:
    if entry["key"] != finding.key:
        return False
    if entry.get("date") is None or finding.date is None:
        return entry.get("date") is None and finding.date is None
    gap = abs((dt.date.fromisoformat(entry["date"]) - finding.date).days)
    return gap <= TOLERANCE_DAYS.get(kind, 0)


def _new_changes(rule: AlertRule, findings: list[Finding], now: dt.datetime
                 ) -> list[Finding]:
    """The findings that are new changes; updates the rule's memory (``state['seen']``)."""
    seen = [dict(e) for e in (rule.state or {}).get("seen", [])]
    new = []
    for finding in findings:
        match = next((e for e in seen if _matches(e, finding, rule.kind)), None)
        if match is None:
            new.append(finding)
            seen.append({"key": finding.key, "date": str(finding.date) if finding.date else
                         None, "last": now.isoformat()})
        else:
            match["last"] = now.isoformat()
            if finding.date is not None:  # follow the change's best date
                match["date"] = str(finding.date)
    # Forget changes not seen for REARM_DAYS (0: as soon as they are gone).
    rearm = dt.timedelta(days=REARM_DAYS.get(rule.kind, 7))
    seen = [e for e in seen if dt.datetime.fromisoformat(e["last"]) >= now - rearm]
    rule.state = {"seen": seen}
    return new


def _in_cooldown(session, rule: AlertRule, now: dt.datetime) -> bool:
    if rule.cooldown_hours <= 0:
        return False
    since = now - dt.timedelta(hours=rule.cooldown_hours)
    # Earlier evaluations only: the changes found together in one evaluation all go out.
    last = session.scalars(select(Alert.created_at).where(
        Alert.rule_id == rule.id, Alert.state.in_(("sent", "failed")), Alert.created_at < now)
        .order_by(Alert.created_at.desc())).first()
    if last is None:
        return False
    if last.tzinfo is None:
        last = last.replace(tzinfo=dt.UTC)
    return last > since


def _saved(session, rule: AlertRule) -> tuple[str | None, dict | None]:
    if rule.saved_view_id is None:
        return None, None
    view = session.get(SavedView, rule.saved_view_id)
    return (view.page, dict(view.params)) if view else (None, None)


def _scope(params: dict | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The sources and outlets a saved view's URL state filters by."""
    if not params:
        return SOURCES, ()
    raw = params.get("sources", ",".join(SOURCES))
    sources = () if raw == "none" else tuple(s for s in raw.split(",") if s in SOURCES)
    outlets = tuple(o for o in params.get("outlets", "").split("|") if o)
    return sources or SOURCES, outlets


def evaluate_rules(topic: Topic | str | None = None, settings: Settings | None = None,
                   now: dt.datetime | None = None, as_of: dt.date | None = None,
                   step_outcomes: list | None = None, rule_ids: list[int] | None = None,
                   use_cache: bool = True, events_overrides: dict | None = None,
                   contexts: dict | None = None, record_run: bool = True) -> AlertsReport:
    """Evaluate the active rules (of a topic; or only ``rule_ids``) on the data up to
    ``as_of`` (default: today) at clock time ``now`` (default: now). A rule that cannot be
    evaluated is reported and the others still run; a channel that fails is recorded on
    the alert, never raised. ``contexts`` lets a caller (the replay) share loaded data."""
    settings = settings or get_settings()
    now = now or dt.datetime.now(dt.UTC)
    as_of = as_of or now.date()
    topic_name = topic.name if isinstance(topic, Topic) else topic
    report = AlertsReport()
    contexts = {} if contexts is None else contexts

    def work(run=None) -> AlertsReport:
        with session_scope(settings.database_url) as session:
            query = select(AlertRule).where(AlertRule.paused.is_(False)).order_by(AlertRule.id)
            if topic_name:
                query = query.where(AlertRule.topic == topic_name)
            if rule_ids is not None:
                query = query.where(AlertRule.id.in_(rule_ids))
            rule_list = list(session.scalars(query))
        for rule_id in [r.id for r in rule_list]:
            try:
                _evaluate_one(rule_id, settings, now, as_of, step_outcomes, use_cache,
                              events_overrides or {}, contexts, report,
                              run.id if run else None)
            except Exception as exc:  # one rule's failure must not stop the others
                log.warning("alert rule %s could not be evaluated", rule_id, exc_info=True)
                report.errors.append(f"rule #{rule_id}: {describe_error(exc)}")
        if run is not None:
            run.counts = {"evaluated": report.evaluated, "sent": report.sent,
                          "failed": report.failed, "suppressed": report.suppressed,
                          "errors": len(report.errors)}
        return report

    if not record_run:
        return work()
    with recorded_run("alerts", topic_name, None, {"as_of": str(as_of)},
                      database_url=settings.database_url) as run:
        return work(run)


def _evaluate_one(rule_id: int, settings: Settings, now: dt.datetime, as_of: dt.date,
                  step_outcomes, use_cache: bool, events_overrides: dict, contexts: dict,
                  report: AlertsReport, run_id: int | None) -> None:
    with session_scope(settings.database_url) as session:
        rule = _rule(session, rule_id)
        topic = load_topic(rule.topic, settings)
        page, saved_params = _saved(session, rule)
        sources, outlets = _scope(saved_params)
        key = (topic.name, sources, outlets, as_of)
        context = contexts.get(key)
        if context is None:
            previous = next((c for (t, s, o, _d), c in contexts.items()
                             if (t, s, o) == key[:3]), None)
            context = Context(topic, settings, as_of, sources, outlets, step_outcomes,
                              use_cache, events_overrides)
            if previous is not None:  # the replay: same data, a later day
                context.scored, context.documents = previous.scored, previous.documents
                context.agreement = previous.agreement
            if len(contexts) > 8:
                contexts.clear()
            contexts[key] = context
        context.step_outcomes = step_outcomes
        findings = CONDITIONS[rule.kind](dict(rule.params), context)
        new = _new_changes(rule, findings, now)
        rule.last_evaluated_at = now
        report.evaluated += 1
        for finding in new:
            message = compose(finding, topic, rule.name, as_of, settings, page, saved_params)
            cooled = _in_cooldown(session, rule, now)
            alert = _record(session, rule, finding, message, as_of, now, run_id, settings)
            if cooled:
                alert.state = "suppressed"
                alert.reason = (f"cool-down: the rule alerted within the last "
                                f"{rule.cooldown_hours:g} h")
                report.suppressed += 1
            elif not rule.channels:
                alert.state, alert.reason = "sent", "no channel: recorded on the Alerts page"
                report.sent += 1
            else:
                outcomes = delivery.deliver(message, rule.channels, settings)
                alert.deliveries = redact_data(outcomes, delivery.secrets(settings))
                failed = [f"{c}: {o['detail']}" for c, o in alert.deliveries.items()
                          if not o["ok"]]
                alert.state = "failed" if failed else "sent"
                alert.reason = "; ".join(failed) or None
                report.failed += bool(failed)
                report.sent += not failed
            session.flush()
            report.alerts.append({"rule": rule.name, "kind": rule.kind, "key": finding.key,
                                  "date": str(finding.date) if finding.date else None,
                                  "as_of": str(as_of), "state": alert.state,
                                  "title": alert.title, "details": finding.details})


def _record(session, rule: AlertRule, finding: Finding, message: Message, as_of: dt.date,
            now: dt.datetime, run_id: int | None, settings: Settings) -> Alert:
    secrets = delivery.secrets(settings)
    alert = Alert(rule_id=rule.id, topic=rule.topic, kind=rule.kind, change_key=finding.key,
                  as_of=as_of, state="pending",
                  title=redact(message.title, secrets) or "",
                  text=redact(message.text, secrets) or "", link=message.link,
                  details=redact_data(finding.details, secrets), deliveries={},
                  run_id=run_id, created_at=now)
    session.add(alert)
    return alert


# --- channels: "send test" --------------------------------------------------------------------


def send_test(channel: str, settings: Settings | None = None) -> str:
    """Send a test alert through one channel; DeliveryError (a safe message) if it fails."""
    settings = settings or get_settings()
    if channel not in delivery.SENDERS:
        raise BadInput(f"Unknown channel '{channel}'; use email or webhook.")
    topic = load_topic(settings.topic, settings)
    finding = Finding(key="test", date=None, title="Test alert from Opinion analytics",
                      what="This is a test of the alert channel. If you can read it, alerts "
                           "will reach you here.",
                      facts=[("Channel", channel)])
    message = compose(finding, topic, "send test", dt.date.today(), settings)
    return delivery.SENDERS[channel](message, settings)


def next_evaluation(settings: Settings | None = None,
                    now: dt.datetime | None = None) -> dt.datetime:
    from analytics.pipeline.alerts.cron import next_time

    settings = settings or get_settings()
    return next_time(settings.pipeline.cron_schedule, now or dt.datetime.now(dt.UTC))
