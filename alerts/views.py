"""The alert pages: rules with their state and history, and the targets they notify. Everyone who may
read sees them; admins create, change, mute and delete. Every form answers with a redirect or the page
with its errors, so the pages work without JavaScript."""

from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.access import caller_of, forbidden, requires
from accounts.roles import ADMIN
from alerts import changes
from alerts.forms import RuleForm, TargetForm
from alerts.models import Delivery, Rule, Target

HISTORY = 50
DELIVERY_LOG = 50


def rules(request):
    context = {"nav": "alerts", "rules": Rule.objects.for_list(), "may_manage": caller_of(request).may(ADMIN)}
    return render(request, "alerts/rules.html", context)


def rule_detail(request, rule_id):
    rule = get_object_or_404(Rule.objects.prefetch_related("targets"), pk=rule_id)
    deliveries = (Delivery.objects.filter(notification__event__rule=rule)
                  .select_related("notification__target", "notification__event")[:DELIVERY_LOG])
    context = {"nav": "alerts", "rule": rule, "events": rule.events.order_by("-at", "-pk")[:HISTORY],
               "deliveries": deliveries, "may_manage": caller_of(request).may(ADMIN)}
    return render(request, "alerts/rule.html", context)


@requires(ADMIN)
def rule_new(request):
    form = RuleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        rule = changes.create_rule(form, caller_of(request), "ui", request)
        return redirect(rule)
    return render(request, "alerts/rule_form.html", {"nav": "alerts", "form": form},
                  status=400 if form.errors else 200)


@requires(ADMIN)
def rule_edit(request, rule_id):
    rule = get_object_or_404(Rule, pk=rule_id)
    form = RuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        changes.change_rule(form, caller_of(request), "ui", request)
        return redirect(rule)
    return render(request, "alerts/rule_form.html", {"nav": "alerts", "form": form, "rule": rule},
                  status=400 if form.errors else 200)


@require_POST
@requires(ADMIN)
def rule_mute(request, rule_id):
    rule = get_object_or_404(Rule, pk=rule_id)
    changes.set_muted(rule, request.POST.get("muted") == "on", caller_of(request), "ui", request)
    return redirect(rule)


@require_POST
@requires(ADMIN)
def rule_delete(request, rule_id):
    changes.delete_rule(get_object_or_404(Rule, pk=rule_id), caller_of(request), "ui", request)
    return redirect("alerts")


def targets(request):
    """The targets and their delivery log; an admin's POST creates one, whose secret is shown this once."""
    caller = caller_of(request)
    form, created = TargetForm(request.POST or None), None
    if request.method == "POST":
        if not caller.may(ADMIN):
            return forbidden(request, ADMIN)
        if form.is_valid():
            created, form = changes.create_target(form, caller, "ui", request), TargetForm()
    deliveries = Delivery.objects.select_related("notification__target", "notification__event__rule")[:DELIVERY_LOG]
    context = {"nav": "alerts", "targets": Target.objects.all(), "form": form, "created": created,
               "deliveries": deliveries, "may_manage": caller.may(ADMIN)}
    return render(request, "alerts/targets.html", context, status=400 if form.errors else 200)


@requires(ADMIN)
def target_edit(request, target_id):
    """Changes a target's name, kind or address; its signing secret stays."""
    target = get_object_or_404(Target, pk=target_id)
    form = TargetForm(request.POST or None, instance=target)
    if request.method == "POST" and form.is_valid():
        changes.change_target(form, caller_of(request), "ui", request)
        return redirect("alert-targets")
    return render(request, "alerts/target_form.html", {"nav": "alerts", "form": form, "target": target},
                  status=400 if form.errors else 200)


@require_POST
@requires(ADMIN)
def target_test(request, target_id):
    changes.send_test(get_object_or_404(Target, pk=target_id))
    return redirect("alert-targets")


@require_POST
@requires(ADMIN)
def target_delete(request, target_id):
    changes.delete_target(get_object_or_404(Target, pk=target_id), caller_of(request), "ui", request)
    return redirect("alert-targets")
