"""Alert rules' states and notification deliveries (alerts/), read at scrape time. The tables are small
(rules people wrote, and one delivery row per attempt), so their counts are exact."""

from django.db.models import Case, Count, Q, Value, When
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from alerts.models import Delivery, Notification, Rule, State, Status, TargetKind

# Rules named in msgtrace_alert_rule_firing: the firing ones first.
RULES_NAMED = 50


def collect():
    by_state = dict(Rule.objects.order_by().values_list("state").annotate(Count("pk")))
    rules = GaugeMetricFamily("msgtrace_alert_rules", "Alert rules by state (ok, firing, resolved)", labels=["state"])
    for state in State.values:
        rules.add_metric([state], by_state.get(state, 0))
    yield rules

    firing = GaugeMetricFamily("msgtrace_alert_rule_firing", f"1 while a rule fires, else 0 (the first {RULES_NAMED} "
                               "rules, firing ones first)", labels=["rule"])
    firing_first = Case(When(state=State.FIRING, then=Value(0)), default=Value(1))
    named = Rule.objects.order_by(firing_first, "name", "pk").values_list("name", "state")[:RULES_NAMED]
    for name, state in named:
        firing.add_metric([name], 1 if state == State.FIRING else 0)
    yield firing

    succeeded = Q(status_code__gte=200, status_code__lt=300, error="")
    attempts = (Delivery.objects.order_by().values("notification__target__kind")
                .annotate(ok=Count("pk", filter=succeeded), failed=Count("pk", filter=~succeeded)))
    deliveries = CounterMetricFamily("msgtrace_alert_deliveries", "Attempts at delivering an alert notification, "
                                     "by target kind (webhook, slack, email) and outcome", labels=["kind", "outcome"])
    # Every kind, at 0 too: a dashboard's rate() needs the series before the first notification.
    counted = {row["notification__target__kind"]: row for row in attempts}
    for kind in TargetKind.values:
        row = counted.get(kind, {"ok": 0, "failed": 0})
        deliveries.add_metric([kind, "succeeded"], row["ok"])
        deliveries.add_metric([kind, "failed"], row["failed"])
    yield deliveries

    waiting = dict(Notification.objects.filter(status=Status.PENDING).order_by()
                   .values_list("target__kind").annotate(Count("pk")))
    pending = GaugeMetricFamily("msgtrace_alert_notifications_pending", "Notifications not yet delivered nor "
                                "given up, by target kind", labels=["kind"])
    for kind in TargetKind.values:
        pending.add_metric([kind], waiting.get(kind, 0))
    yield pending
