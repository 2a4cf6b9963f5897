"""Alerts: rules (create, edit, pause), channels with a "send test", the history of alerts
(sent, failed with the reason, suppressed by cool-down) and the next evaluation time."""

import streamlit as st

from analytics.dashboard import actions, auth, loaders, state

view = state.current_view()
st.title("Alerts")
if view is None:
    st.stop()
topic = view.topic
analyst_help = auth.why_not("analyst")

when = loaders.next_alert_evaluation()
schedule = loaders.get_settings().pipeline.cron_schedule
top_left, top_right = st.columns([3, 1])
top_left.markdown(
    f"Rules are evaluated at the end of every scheduled run — next: **"
    f"{when:%a %d %b %Y, %H:%M} UTC**" if when else "Next evaluation: unknown (the cron "
    "schedule setting is invalid)", help=f"From ANALYTICS_CRON_SCHEDULE = `{schedule}` (the "
    "crontab line `python -m analytics cron` prints).")
if top_right.button("Evaluate now", type="primary", disabled=analyst_help is not None,
                    help=analyst_help):
    actions.run_alerts(topic)

# --- channels -------------------------------------------------------------------------------
st.subheader("Channels")
channels = loaders.alert_channels()
for column, (channel, label) in zip(st.columns(2), (("email", "E-mail (SMTP)"),
                                                    ("webhook", "Webhook (JSON)")),
                                    strict=True):
    with column.container(border=True):
        st.markdown(f"**{label}**")
        st.caption(channels[channel])
        if st.button("Send test", key=f"test_{channel}",
                     disabled=analyst_help is not None or channels[channel] == "not configured",
                     help=analyst_help or "Settings: docs/CONFIGURATION.md, Alerts section."):
            actions.send_test_alert(channel)

# --- rules ----------------------------------------------------------------------------------
st.subheader("Rules")
kinds = loaders.alert_kinds()
DEFAULT_NAMES = {"turning_point": "Turning points", "probability": "Decline likely",
                 "volume": "Volume spikes and drops", "agreement": "Agreement below the floor",
                 "step_failed": "Scheduled step failed"}
rules = loaders.alert_rules(topic.name)
views = {v.id: v.name for v in loaders.saved_views(auth.owner())}


def _describe(params: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in params.items())


if rules:
    table = [{"#": r["id"], "Rule": r["name"], "Watches": kinds.get(r["kind"], r["kind"]),
              "Parameters": _describe(r["params"]), "On": r["saved_view"] or "whole topic",
              "Channels": ", ".join(r["channels"]) or "history only",
              "Cool-down (h)": r["cooldown_hours"],
              "State": "paused" if r["paused"] else "active",
              "Last evaluated": r["last_evaluated_at"]} for r in rules]
    st.dataframe(table, hide_index=True, width="stretch")
else:
    st.info("No rules yet: create one below (they are evaluated after every scheduled run).")

by_id = {r["id"]: r for r in rules}
picked = st.selectbox("Rule to edit", [None, *by_id], key="alert_rule_pick",
                      format_func=lambda i: "New rule" if i is None else
                      f"#{i} {by_id[i]['name']}")
rule = by_id.get(picked) or {}
if rule:
    left, right, _rest = st.columns([1, 1, 4])
    if left.button("Resume" if rule["paused"] else "Pause", disabled=analyst_help is not None,
                   help=analyst_help) and actions.pause_rule(rule["id"], not rule["paused"]):
        st.rerun()
    if right.button("Delete rule", disabled=analyst_help is not None, help=analyst_help) \
            and actions.delete_rule(rule["id"]):
        st.session_state.pop("alert_rule_pick", None)
        st.rerun()

kind_list = list(kinds)
kind = st.selectbox("Watches", kind_list, format_func=kinds.get, key=f"alert_kind_{picked}",
                    index=kind_list.index(rule.get("kind", "turning_point")))
params = loaders.alert_defaults(kind) | (rule.get("params", {}) if rule.get("kind") == kind
                                         else {})
scores = ["all", *topic.score_keys]
labels = {"all": "every score", **{s.key: s.label for s in topic.scores}}
with st.form(f"alert_rule_form_{picked}_{kind}"):
    name = st.text_input("Name", value=rule.get("name", DEFAULT_NAMES[kind]))
    values: dict = {}
    if "score" in params:
        values["score"] = st.selectbox("Score", scores, format_func=labels.get,
                                       index=scores.index(params["score"])
                                       if params["score"] in scores else 0)
    if kind == "turning_point":
        values["direction"] = st.selectbox("Direction", ["any", "down", "up"],
                                           index=["any", "down", "up"].index(
                                               params["direction"]))
        values["min_size"] = st.number_input("Smallest size (score points)",
                                             value=float(params["min_size"]), step=0.1)
    elif kind == "probability":
        values["which"] = st.selectbox("Probability of a", ["decline", "rise"],
                                       index=["decline", "rise"].index(params["which"]))
        values["threshold"] = st.number_input("Alert when at least", value=float(
            params["threshold"]), step=0.01, help="Between 0.5 and 1 (e.g. 0.95).")
    elif kind == "volume":
        values["by"] = st.selectbox("For each", ["source", "outlet"],
                                    index=["source", "outlet"].index(params["by"]))
        values["direction"] = st.selectbox("Watch", ["both", "spike", "drop"],
                                           index=["both", "spike", "drop"].index(
                                               params["direction"]))
        values["alpha"] = st.number_input(
            "Significance (alpha)", value=float(params["alpha"]), format="%.4f",
            step=0.0005, help="Tail probability under the baseline's negative binomial, "
            "Bonferroni-corrected over the outlets/sources tested.")
        values["recent_days"] = st.number_input("Recent days tested", value=int(
            params["recent_days"]), step=1)
        values["baseline_days"] = st.number_input("Baseline days before them", value=int(
            params["baseline_days"]), step=1)
    elif kind == "agreement":
        values["threshold"] = st.number_input("Alert when α is below",
                                              value=float(params["threshold"]), step=0.01)
    elif kind == "step_failed":
        values["step"] = st.selectbox("Step", ["any", "ingest", "score", "summaries", "trends",
                                               "dynamics", "report"])
    view_ids = [None, *views]
    saved_view = st.selectbox("On the saved view", view_ids,
                              format_func=lambda i: "the whole topic" if i is None else
                              views[i], index=view_ids.index(rule.get("saved_view_id"))
                              if rule.get("saved_view_id") in view_ids else 0,
                              help="Its sources and outlets scope the rule; alerts link to "
                              "it.")
    chosen_channels = st.multiselect("Send to", ["email", "webhook"],
                                     default=rule.get("channels", []),
                                     help="None: recorded in the history only.")
    cooldown = st.number_input("Cool-down (hours)", value=float(rule.get(
        "cooldown_hours", loaders.get_settings().alerts.cooldown_hours)), step=1.0,
        help="After an alert, this rule's next new changes within this time are recorded "
        "as suppressed, not sent.")
    submitted = st.form_submit_button("Save rule", type="primary",
                                      disabled=analyst_help is not None, help=analyst_help)
if submitted and actions.save_rule(name, topic.name, kind, values, chosen_channels, cooldown,
                                   saved_view, rule.get("id")):
    st.rerun()

# --- history --------------------------------------------------------------------------------
st.subheader("History")
history = loaders.alert_history(topic.name)
if history.empty:
    st.caption("No alerts yet.")
else:
    counts = history["state"].value_counts()
    st.caption(" · ".join(f"{counts.get(s, 0)} {s}" for s in ("sent", "failed",
                                                               "suppressed")))
    st.dataframe(history.rename(columns={
        "created_at": "When", "rule": "Rule", "state": "State", "title": "Alert",
        "reason": "Reason", "as_of": "Data up to", "link": "Link"})[
        ["When", "Rule", "State", "Alert", "Reason", "Data up to", "Link"]],
        hide_index=True, width="stretch",
        column_config={"Link": st.column_config.LinkColumn("Link", display_text="open")})
