"""/api/v1/alerts: rules, their history, targets, their delivery log and test deliveries. Anyone who may
read sees them; changing them needs an admin (an API key cannot: keys have no admin scope)."""

from datetime import datetime

from django.db import transaction
from ninja import Field, Router, Schema, Status

from accounts.access import caller_of
from accounts.roles import ADMIN
from alerts import changes
from alerts.forms import RuleForm, TargetForm, errors_text
from alerts.models import Delivery, Rule, Target

router = Router(tags=["alerts"])
HISTORY = 100


class Error(Schema):
    detail: str


class RuleOut(Schema):
    id: int
    name: str
    kind: str = Field(description="threshold: a measure over a window; per_trace: any single matching trace")
    query: str
    measure: str
    comparison: str
    threshold: float
    window_minutes: int
    for_minutes: int
    cooldown_minutes: int
    muted: bool
    targets: list[int]
    condition: str = Field(description="the rule in words")
    state: str = Field(description="ok, firing or resolved")
    state_since: datetime | None
    last_value: float | None
    last_evaluated_at: datetime | None
    traces_url: str = Field(description="the trace list filtered by the rule's query and window")


class RuleIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    kind: str = "threshold"
    query: str = ""
    measure: str = "error_rate"
    comparison: str = ">"
    threshold: float = 0
    window_minutes: int = 10
    for_minutes: int = 0
    cooldown_minutes: int = 15
    muted: bool = False
    targets: list[int] = Field(default_factory=list)


class RuleChange(Schema):
    name: str | None = None
    kind: str | None = None
    query: str | None = None
    measure: str | None = None
    comparison: str | None = None
    threshold: float | None = None
    window_minutes: int | None = None
    for_minutes: int | None = None
    cooldown_minutes: int | None = None
    muted: bool | None = None
    targets: list[int] | None = None


class EventOut(Schema):
    at: datetime
    state: str
    value: float | None
    trace_id: str
    matched: int | None
    message: str
    traces_url: str


class TargetOut(Schema):
    id: int
    name: str
    kind: str = Field(description="webhook (generic JSON), slack (text + blocks) or email")
    url: str
    email: str
    created_at: datetime


class NewTargetOut(TargetOut):
    signing_secret: str = Field(description="signs each request (X-Msgtrace-Signature); shown only here")


class TargetIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    kind: str = "webhook"
    url: str = ""
    email: str = ""


class TargetChange(Schema):
    name: str | None = None
    kind: str | None = None
    url: str | None = None
    email: str | None = None


class DeliveryOut(Schema):
    at: datetime
    target: int
    test: bool
    attempt: int
    status_code: int | None
    latency_ms: float
    error: str
    response_excerpt: str
    notification_status: str = Field(description="pending (to be retried), sent or failed (given up)")


def _rule_out(rule):
    return {**{field: getattr(rule, field) for field in (
        "id", "name", "kind", "query", "measure", "comparison", "threshold", "window_minutes", "for_minutes",
        "cooldown_minutes", "muted", "state", "state_since", "last_value", "last_evaluated_at", "condition")},
        "targets": [target.pk for target in rule.targets.all()], "traces_url": rule.traces_url()}


def _delivery_out(delivery):
    return {"at": delivery.at, "target": delivery.notification.target_id, "test": delivery.notification.test,
            "attempt": delivery.attempt, "status_code": delivery.status_code, "latency_ms": delivery.latency_ms,
            "error": delivery.error, "response_excerpt": delivery.response_excerpt,
            "notification_status": delivery.notification.status}


def _refused(request):
    """None when the caller may manage alerts, else the answer refusing them."""
    if caller_of(request).may(ADMIN):
        return None
    return Status(403, {"detail": "only an admin may manage alerts"})


def _form_data(values):
    return {key: value for key, value in values.items() if value is not None and key != "targets"} | {
        "targets": values.get("targets") or []}


@router.get("/alerts/rules", response={200: list[RuleOut], 401: Error, 403: Error})
def list_rules(request):
    return [_rule_out(rule) for rule in Rule.objects.for_list()]


@router.post("/alerts/rules", response={201: RuleOut, 400: Error, 401: Error, 403: Error, 422: Error})
def create_rule(request, body: RuleIn):
    """Creates a rule; a query the language refuses, or any other bad field, is answered 422."""
    if refused := _refused(request):
        return refused
    form = RuleForm(_form_data(body.dict()))
    if not form.is_valid():
        return Status(422, {"detail": errors_text(form)})
    return Status(201, _rule_out(changes.create_rule(form, caller_of(request), "api", request)))


@router.get("/alerts/rules/{rule_id}", response={200: RuleOut, 401: Error, 403: Error, 404: Error, 422: Error})
def get_rule(request, rule_id: int):
    rule = Rule.objects.prefetch_related("targets").filter(pk=rule_id).first()
    if rule is None:
        return Status(404, {"detail": "no such rule"})
    return _rule_out(rule)


@router.patch("/alerts/rules/{rule_id}", response={200: RuleOut, 400: Error, 401: Error, 403: Error, 404: Error,
                                                   422: Error})
def change_rule(request, rule_id: int, body: RuleChange):
    """Changes the fields given (muted: true mutes it), keeping the others."""
    if refused := _refused(request):
        return refused
    with transaction.atomic():
        rule = Rule.objects.filter(pk=rule_id).first()
        if rule is None:
            return Status(404, {"detail": "no such rule"})
        current = {field: getattr(rule, field) for field in RuleIn.model_fields if field != "targets"}
        current["targets"] = [target.pk for target in rule.targets.all()]
        form = RuleForm(current | body.dict(exclude_none=True), instance=rule)
        if not form.is_valid():
            return Status(422, {"detail": errors_text(form)})
        changes.change_rule(form, caller_of(request), "api", request)
    return _rule_out(Rule.objects.prefetch_related("targets").get(pk=rule_id))


@router.delete("/alerts/rules/{rule_id}", response={204: None, 400: Error, 401: Error, 403: Error, 404: Error,
                                                    422: Error})
def delete_rule(request, rule_id: int):
    if refused := _refused(request):
        return refused
    rule = Rule.objects.filter(pk=rule_id).first()
    if rule is None:
        return Status(404, {"detail": "no such rule"})
    changes.delete_rule(rule, caller_of(request), "api", request)
    return Status(204, None)


@router.get("/alerts/rules/{rule_id}/history", response={200: list[EventOut], 401: Error, 403: Error, 404: Error,
                                                         422: Error})
def rule_history(request, rule_id: int):
    """The rule's changes of state (and per-trace matches), newest first."""
    rule = Rule.objects.filter(pk=rule_id).first()
    if rule is None:
        return Status(404, {"detail": "no such rule"})
    return list(rule.events.order_by("-at", "-pk")[:HISTORY])


@router.get("/alerts/targets", response={200: list[TargetOut], 401: Error, 403: Error})
def list_targets(request):
    return list(Target.objects.all())


@router.post("/alerts/targets", response={201: NewTargetOut, 400: Error, 401: Error, 403: Error, 422: Error})
def create_target(request, body: TargetIn):
    """Creates a target; the answer carries its signing secret, which is never shown again."""
    if refused := _refused(request):
        return refused
    form = TargetForm(body.dict())
    if not form.is_valid():
        return Status(422, {"detail": errors_text(form)})
    return Status(201, changes.create_target(form, caller_of(request), "api", request))


@router.patch("/alerts/targets/{target_id}", response={200: TargetOut, 400: Error, 401: Error, 403: Error,
                                                       404: Error, 422: Error})
def change_target(request, target_id: int, body: TargetChange):
    """Changes the fields given; the signing secret stays."""
    if refused := _refused(request):
        return refused
    target = Target.objects.filter(pk=target_id).first()
    if target is None:
        return Status(404, {"detail": "no such target"})
    current = {"name": target.name, "kind": target.kind, "url": target.url, "email": target.email}
    form = TargetForm(current | body.dict(exclude_none=True), instance=target)
    if not form.is_valid():
        return Status(422, {"detail": errors_text(form)})
    return changes.change_target(form, caller_of(request), "api", request)


@router.delete("/alerts/targets/{target_id}", response={204: None, 400: Error, 401: Error, 403: Error, 404: Error,
                                                        422: Error})
def delete_target(request, target_id: int):
    if refused := _refused(request):
        return refused
    target = Target.objects.filter(pk=target_id).first()
    if target is None:
        return Status(404, {"detail": "no such target"})
    changes.delete_target(target, caller_of(request), "api", request)
    return Status(204, None)


@router.post("/alerts/targets/{target_id}/test", response={200: DeliveryOut, 400: Error, 401: Error, 403: Error,
                                                            404: Error, 422: Error})
def test_target(request, target_id: int):
    """Sends a test notification now, once, and answers how it went (also in the delivery log)."""
    if refused := _refused(request):
        return refused
    target = Target.objects.filter(pk=target_id).first()
    if target is None:
        return Status(404, {"detail": "no such target"})
    return _delivery_out(changes.send_test(target))


@router.get("/alerts/deliveries", response={200: list[DeliveryOut], 401: Error, 403: Error})
def deliveries(request):
    """The delivery log, newest first: every attempt at every notification."""
    return [_delivery_out(delivery) for delivery in Delivery.objects.select_related("notification")[:HISTORY]]
