"""Alerts: rules watched after every scheduled run (and on demand), their de-duplicated,
cooled-down history, and the channels (e-mail over SMTP, a JSON webhook) that carry them.

Modules: ``rules`` (kinds, checked parameters, defaults), ``conditions`` (what each kind
finds in the data up to a day), ``messages`` (title, text, HTML, link), ``channels``
(delivery with retries), ``cron`` (next evaluation time), ``service`` (rules, evaluation,
history, send test).
"""

from analytics.pipeline.alerts.channels import DeliveryError
from analytics.pipeline.alerts.rules import CHANNELS, KINDS, RuleSpec, default_params
from analytics.pipeline.alerts.service import (
    AlertsReport,
    create_rule,
    default_rules,
    delete_rule,
    evaluate_rules,
    history,
    next_evaluation,
    rules_table,
    send_test,
    set_paused,
    update_rule,
)

__all__ = [
    "CHANNELS", "KINDS", "AlertsReport", "DeliveryError", "RuleSpec", "create_rule",
    "default_params", "default_rules", "delete_rule", "evaluate_rules", "history",
    "next_evaluation", "rules_table", "send_test", "set_paused", "update_rule",
]
