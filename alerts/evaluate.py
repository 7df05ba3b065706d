"""Evaluating rules: one round looks at every rule that is due, over a clock passed in (so tests move
time by hand), and records changes of state with their notifications in one transaction.

Two schedulers on one database (two app servers) may run rounds at once. Each claims a rule's round
with a conditional UPDATE on its `version` and `next_evaluation_at`; the one whose UPDATE changes no
row skips the rule. The round's outcome is written only while the version is still the claimed one,
so a slow scheduler cannot overwrite a newer round either."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q, Sum

from alerts import payloads
from alerts.models import COMPARE, Event, Measure, Notification, Rule, State
from traces.models import Trace
from traces.stats import Total, duration_percentiles

log = logging.getLogger("msgtrace.alerts")
# A per-trace rule names this many of the traces it matched in one round.
TRACES_NAMED = 5


def interval():
    return timedelta(seconds=settings.MSGTRACE_ALERTS_INTERVAL_SECONDS)


def window_traces(rule, now):
    """The traces a threshold rule measures: matching its query, started in (now - window, now]."""
    return Trace.objects.matching(rule.query).filter(started_at__gt=now - rule.window, started_at__lte=now)


def measure(rule, now):
    """The rule's measure over its window, or None when there is nothing to measure (no traces for a
    rate or a percentile). Error rate is in percent, as thresholds are written."""
    traces = window_traces(rule, now).order_by()
    if rule.measure in (Measure.P50, Measure.P95, Measure.P99):
        p50, p95, p99 = duration_percentiles(traces)
        return {Measure.P50: p50, Measure.P95: p95, Measure.P99: p99}[rule.measure]
    totals = traces.aggregate(count=Count("pk"), errors=Count("pk", filter=Q(status="error")),
                              cost=Sum("total_cost"), tokens=Total("total_tokens"))
    if rule.measure == Measure.COUNT:
        return float(totals["count"])
    if rule.measure == Measure.ERROR_RATE:
        return 100.0 * totals["errors"] / totals["count"] if totals["count"] else None
    if rule.measure == Measure.COST:
        return float(totals["cost"] or 0)
    return float(totals["tokens"] or 0)


def breached(rule, value):
    return value is not None and COMPARE[rule.comparison](float(value), float(rule.threshold))


@dataclass
class Outcome:
    """What one evaluation decided: fields to store on the rule, and the event to record, if any."""

    changes: dict
    event: Event | None = None


def _threshold_outcome(rule, now):
    value = measure(rule, now)
    changes = {"last_value": value}
    if not breached(rule, value):
        changes["breach_since"] = None
        if rule.state == State.FIRING:
            return Outcome(changes | {"state": State.RESOLVED, "state_since": now},
                           _event(rule, now, State.RESOLVED, value, f"{rule.name} resolved: {_value_text(rule, value)}"))
        return Outcome(changes)
    since = rule.breach_since or now
    changes["breach_since"] = since
    if rule.state != State.FIRING and now - since >= timedelta(minutes=rule.for_minutes):
        return Outcome(changes | {"state": State.FIRING, "state_since": now},
                       _event(rule, now, State.FIRING, value, f"{rule.name} is firing: {_value_text(rule, value)}"))
    return Outcome(changes)


def _per_trace_outcome(rule, now):
    # Rows newer than the last one looked at, among recent traces: ids grow with every insert, and the
    # window keeps the read on the start-time index however old the rule's cursor is.
    matches = (Trace.objects.matching(rule.query).filter(pk__gt=rule.last_trace_pk, started_at__gt=now - rule.window)
               .order_by("-pk").values_list("pk", "trace_id"))
    found = list(matches[:TRACES_NAMED])
    changes = {"last_value": None}
    if not found:
        cooled = rule.last_fired_at is None or now - rule.last_fired_at >= timedelta(minutes=rule.cooldown_minutes)
        if rule.state == State.FIRING and cooled:
            return Outcome(changes | {"state": State.RESOLVED, "state_since": now},
                           _event(rule, now, State.RESOLVED, None, f"{rule.name} resolved: no matching trace "
                                                                   f"for {rule.cooldown_minutes} min"))
        return Outcome(changes)
    changes["last_trace_pk"] = found[0][0]
    count = matches.count() if len(found) == TRACES_NAMED else len(found)
    changes["last_value"] = float(count)
    if rule.last_fired_at is not None and now - rule.last_fired_at < timedelta(minutes=rule.cooldown_minutes):
        return Outcome(changes)  # in the cool-down: looked at, not notified
    newest = found[0][1]
    more = f" and {count - 1} more" if count > 1 else ""
    event = _event(rule, now, State.FIRING, float(count), f"{rule.name}: trace {newest}{more} matched",
                   trace_id=newest, matched=count)
    return Outcome(changes | {"state": State.FIRING, "state_since": now, "last_fired_at": now}, event)


def _value_text(rule, value):
    shown = "no traces" if value is None else f"{value:.4g}"
    return f"{rule.get_measure_display()} {shown} ({rule.get_comparison_display()} {rule.threshold:g} " \
           f"over {rule.window_minutes} min)"


def _event(rule, now, state, value, message, trace_id="", matched=None):
    return Event(rule=rule, at=now, state=state, value=value, message=message, trace_id=trace_id, matched=matched,
                 traces_url=rule.traces_url(end=now))


def claim(rule, now):
    """Claims this round of `rule`; False when another scheduler claimed it first."""
    claimed = Rule.objects.filter(pk=rule.pk, version=rule.version, next_evaluation_at__lte=now).update(
        version=F("version") + 1, next_evaluation_at=now + interval())
    if claimed:
        rule.version += 1
    return bool(claimed)


def evaluate(rule, now):
    """Evaluates one claimed rule and stores the outcome. Returns the event recorded, or None."""
    outcome = (_per_trace_outcome if rule.is_per_trace else _threshold_outcome)(rule, now)
    with transaction.atomic():
        stored = Rule.objects.filter(pk=rule.pk, version=rule.version).update(last_evaluated_at=now, **outcome.changes)
        if not stored or outcome.event is None:
            return None
        outcome.event.save()
        if not rule.muted:
            Notification.objects.bulk_create([
                Notification(event=outcome.event, target=target, payload=payloads.build(outcome.event, target),
                             next_attempt_at=now, created_at=now)
                for target in rule.targets.all()
            ])
    for field, value in outcome.changes.items():
        setattr(rule, field, value)
    return outcome.event


def run_round(now):
    """Evaluates every due rule once. Returns the events recorded."""
    events = []
    for rule in Rule.objects.due(now).order_by("next_evaluation_at", "pk"):
        if not claim(rule, now):
            continue
        try:
            event = evaluate(rule, now)
        except Exception:  # one broken rule must not stop the others
            log.exception("alert rule %s could not be evaluated", rule.pk)
            continue
        if event is not None:
            log.info("alert %s: %s", rule.pk, event.message)
            events.append(event)
    return events
