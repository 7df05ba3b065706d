"""Creating, changing and deleting rules and targets, with their audit events: the pages and the API
both go through here."""

from django.db import transaction
from django.utils import timezone

from alerts import deliver
from alerts.forms import RULE_FIELDS
from alerts.models import Rule
from audit.log import record
from audit.models import Action


def create_rule(form, caller, via, request=None):
    rule = form.save(commit=False)
    rule.created_by = caller.name
    with transaction.atomic():
        rule.save()
        form.save_m2m()
    record(Action.ALERT_RULE_CREATED, caller.name, f"rule {rule.pk} ({rule.name}): {rule.condition}", via=via,
           request=request)
    return rule


def change_rule(form, caller, via, request=None):
    """Saves the definition only, never the evaluation columns the scheduler may be writing meanwhile;
    the changed rule is evaluated at the next round, from a clean slate if it was not firing."""
    rule = form.save(commit=False)
    fields = [name for name in RULE_FIELDS if name != "targets"]
    with transaction.atomic():
        rule.save(update_fields=[*fields, "updated_at"])
        form.save_m2m()
        Rule.objects.filter(pk=rule.pk).update(next_evaluation_at=timezone.now(), breach_since=None)
    record(Action.ALERT_RULE_CHANGED, caller.name, f"rule {rule.pk} ({rule.name}): {rule.condition}"
           + (" (muted)" if rule.muted else ""), via=via, request=request)
    return rule


def set_muted(rule, muted, caller, via, request=None):
    Rule.objects.filter(pk=rule.pk).update(muted=muted, updated_at=timezone.now())
    rule.muted = muted
    record(Action.ALERT_RULE_CHANGED, caller.name, f"rule {rule.pk} ({rule.name}): {'muted' if muted else 'unmuted'}",
           via=via, request=request)


def delete_rule(rule, caller, via, request=None):
    target = f"rule {rule.pk} ({rule.name})"
    rule.delete()
    record(Action.ALERT_RULE_DELETED, caller.name, target, via=via, request=request)


def create_target(form, caller, via, request=None):
    target = form.save(commit=False)
    target.created_by = caller.name
    target.save()
    record(Action.ALERT_TARGET_CREATED, caller.name, f"target {target.pk} ({target.name}, {target.kind}): "
           f"{target.address}", via=via, request=request)
    return target


def change_target(form, caller, via, request=None):
    target = form.save()
    record(Action.ALERT_TARGET_CHANGED, caller.name, f"target {target.pk} ({target.name}, {target.kind}): "
           f"{target.address}", via=via, request=request)
    return target


def delete_target(target, caller, via, request=None):
    described = f"target {target.pk} ({target.name}, {target.kind}): {target.address}"
    target.delete()
    record(Action.ALERT_TARGET_DELETED, caller.name, described, via=via, request=request)


def send_test(target):
    return deliver.send_test(target, timezone.now())

