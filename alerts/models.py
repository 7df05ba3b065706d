import secrets
from datetime import timedelta
from urllib.parse import urlencode

from django.db import models
from django.urls import reverse
from django.utils import timezone

NAME_LENGTH = 200
EXCERPT_BYTES = 500  # of a receiver's answer, in the delivery log


class Kind(models.TextChoices):
    THRESHOLD = "threshold", "A measure over a window"
    PER_TRACE = "per_trace", "Any single matching trace"


class Measure(models.TextChoices):
    COUNT = "count", "Trace count"
    ERROR_RATE = "error_rate", "Error rate (%)"
    P50 = "p50", "p50 duration (ms)"
    P95 = "p95", "p95 duration (ms)"
    P99 = "p99", "p99 duration (ms)"
    COST = "cost", "Sum of cost ($)"
    TOKENS = "tokens", "Sum of tokens"


class Comparison(models.TextChoices):
    ABOVE = ">", "above"
    AT_LEAST = ">=", "at least"
    BELOW = "<", "below"
    AT_MOST = "<=", "at most"


COMPARE = {">": float.__gt__, ">=": float.__ge__, "<": float.__lt__, "<=": float.__le__}


class State(models.TextChoices):
    OK = "ok", "OK"
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"


class RuleQuerySet(models.QuerySet):
    def due(self, now):
        return self.filter(next_evaluation_at__lte=now)

    def for_list(self):
        return self.order_by("name", "pk").prefetch_related("targets")


class Rule(models.Model):
    name = models.CharField(max_length=NAME_LENGTH)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.THRESHOLD)
    query = models.TextField(blank=True, help_text="the traces the rule looks at, in the query language")
    measure = models.CharField(max_length=16, choices=Measure.choices, default=Measure.ERROR_RATE)
    comparison = models.CharField(max_length=2, choices=Comparison.choices, default=Comparison.ABOVE)
    threshold = models.FloatField(default=0)
    window_minutes = models.PositiveIntegerField(default=10)
    # A threshold rule fires once the condition has held this long; 0: at the first evaluation that sees it.
    for_minutes = models.PositiveIntegerField(default=0)
    # A per-trace rule notifies at most once per cool-down, however many traces match meanwhile.
    cooldown_minutes = models.PositiveIntegerField(default=15)
    muted = models.BooleanField(default=False)
    targets = models.ManyToManyField("Target", blank=True, related_name="rules")
    created_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    # Evaluation state. `version` is bumped by every claim of an evaluation (a conditional UPDATE on it),
    # so of two schedulers on one database only one evaluates a rule's round and notifies.
    state = models.CharField(max_length=16, choices=State.choices, default=State.OK)
    version = models.BigIntegerField(default=0)
    next_evaluation_at = models.DateTimeField(default=timezone.now)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    last_value = models.FloatField(null=True, blank=True)
    breach_since = models.DateTimeField(null=True, blank=True)
    state_since = models.DateTimeField(null=True, blank=True)
    # Per-trace rules: the highest trace row already looked at, and when the rule last notified.
    last_trace_pk = models.BigIntegerField(default=0)
    last_fired_at = models.DateTimeField(null=True, blank=True)

    objects = RuleQuerySet.as_manager()

    class Meta:
        indexes = [
            # The scheduler's "which rules are due" read, every round.
            models.Index(fields=["next_evaluation_at"], name="alert_rule_due"),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("alert", args=[self.pk])

    @property
    def window(self):
        return timedelta(minutes=self.window_minutes)

    @property
    def is_per_trace(self):
        return self.kind == Kind.PER_TRACE

    @property
    def condition(self):
        """The rule in words, as pages and notifications show it."""
        where = f"traces matching {self.query}" if self.query.strip() else "all traces"
        if self.is_per_trace:
            return f"any of {where} (cool-down {self.cooldown_minutes} min)"
        held = f" for at least {self.for_minutes} min" if self.for_minutes else ""
        return (f"{self.get_measure_display()} of {where} over {self.window_minutes} min "
                f"{self.get_comparison_display()} {self.threshold:g}{held}")

    def traces_url(self, end=None):
        """The trace list filtered by the rule's query and window."""
        params = {"start": f"{self.window_minutes}m"} if end is None else {
            "start": (end - self.window).isoformat(), "end": end.isoformat()}
        if self.query.strip():
            params = {"q": self.query} | params
        return reverse("traces") + "?" + urlencode(params)


class TargetKind(models.TextChoices):
    WEBHOOK = "webhook", "Webhook (JSON)"
    SLACK = "slack", "Slack-compatible webhook"
    EMAIL = "email", "Email"


def new_signing_secret():
    return "whsec_" + secrets.token_urlsafe(32)


class Target(models.Model):
    """Where notifications go. A webhook's signing secret must be kept to sign each request, so unlike an
    API key it is stored; pages and the API show it once, when the target is created."""

    name = models.CharField(max_length=NAME_LENGTH)
    kind = models.CharField(max_length=16, choices=TargetKind.choices, default=TargetKind.WEBHOOK)
    url = models.URLField(max_length=2000, blank=True)
    email = models.EmailField(blank=True)
    signing_secret = models.CharField(max_length=100, default=new_signing_secret)
    created_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self):
        return self.name

    @property
    def address(self):
        return self.email if self.kind == TargetKind.EMAIL else self.url


class Event(models.Model):
    """A rule's history: each change of state, and each trace a per-trace rule notified about."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    state = models.CharField(max_length=16, choices=State.choices)
    value = models.FloatField(null=True, blank=True)
    trace_id = models.CharField(max_length=32, blank=True)
    matched = models.PositiveIntegerField(null=True, blank=True, help_text="per-trace rules: traces matched")
    message = models.TextField()
    # The trace list as it was when the event happened.
    traces_url = models.TextField()

    class Meta:
        indexes = [models.Index(fields=["rule", "-at"], name="alert_event_rule_at")]  # a rule's history, newest first


class Status(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Given up"


class NotificationQuerySet(models.QuerySet):
    def due(self, now):
        return self.filter(status=Status.PENDING, next_attempt_at__lte=now).order_by("next_attempt_at", "pk")


class Notification(models.Model):
    """One event to one target, created in the transaction that records the event and delivered by the
    delivery loop, which marks it sent: a restart resumes pending ones and never resends sent ones."""

    event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications")
    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="notifications")
    test = models.BooleanField(default=False)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "target"], name="alert_notification_once")]
        indexes = [
            # The delivery loop's "what is due" read, every round.
            models.Index(fields=["status", "next_attempt_at"], name="alert_notification_due"),
        ]


class Delivery(models.Model):
    """One attempt at sending a notification: the delivery log."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    at = models.DateTimeField()
    attempt = models.PositiveIntegerField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.FloatField()
    error = models.TextField(blank=True)
    response_excerpt = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name_plural = "deliveries"

    @property
    def succeeded(self):
        return self.status_code is not None and 200 <= self.status_code < 300 and not self.error
