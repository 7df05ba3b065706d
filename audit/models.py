from django.db import models
from django.utils import timezone

from traces.models import stored_text


TARGET_SHOWN = 140


class Action(models.TextChoices):
    SIGN_IN = "sign_in", "Signed in"
    SIGN_IN_FAILED = "sign_in_failed", "Failed sign-in"
    SIGN_OUT = "sign_out", "Signed out"
    SETUP = "setup", "Created the first admin"
    DELETE_TRACES = "delete_traces", "Deleted traces"
    KEY_CREATED = "key_created", "Created an API key"
    KEY_REVOKED = "key_revoked", "Revoked an API key"
    KEY_DELETED = "key_deleted", "Deleted a revoked API key"
    USER_CREATED = "user_created", "Created a user"
    ROLE_CHANGED = "role_changed", "Changed a role"
    USER_DEACTIVATED = "user_deactivated", "Deactivated a user"
    USER_ACTIVATED = "user_activated", "Reactivated a user"
    PASSWORD_CHANGED = "password_changed", "Changed a password"
    SHARE_CREATED = "share_created", "Shared a trace"
    SHARE_REVOKED = "share_revoked", "Revoked a share link"
    ALERT_RULE_CREATED = "alert_rule_created", "Created an alert rule"
    ALERT_RULE_CHANGED = "alert_rule_changed", "Changed an alert rule"
    ALERT_RULE_DELETED = "alert_rule_deleted", "Deleted an alert rule"
    ALERT_TARGET_CREATED = "alert_target_created", "Created an alert target"
    ALERT_TARGET_CHANGED = "alert_target_changed", "Changed an alert target"
    ALERT_TARGET_DELETED = "alert_target_deleted", "Deleted an alert target"


class AuditEventQuerySet(models.QuerySet):
    def newest_first(self):
        """Ordered for keyset pagination (traces.pagination.page on "at"): id breaks ties."""
        return self.order_by("-at", "-id")

    def search(self, action=None, actor=None, since=None):
        """The audit page's and API's filters, each applied only when given: one action, part of the
        actor's name in any case, events at or after a moment."""
        if action:
            self = self.filter(action=action)
        if actor:
            self = self.filter(actor__icontains=stored_text(actor))  # PostgreSQL refuses a NUL in a query too
        if since is not None:
            self = self.filter(at__gte=since)
        return self


class AuditEvent(models.Model):
    at = models.DateTimeField(default=timezone.now)
    # Who or what acted: a user name, "API key mt_… (name)", "retention", "manage.py prune", …
    actor = models.CharField(max_length=200)
    action = models.CharField(max_length=32, choices=Action.choices)
    # What it acted on: trace ids, a key's prefix, a user name, a share link.
    target = models.TextField(blank=True)
    count = models.PositiveIntegerField(null=True, blank=True)
    via = models.CharField(max_length=32, blank=True, help_text="ui, api, admin, command, retention, …")
    address = models.GenericIPAddressField(null=True, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["-at"], name="audit_newest_first"),  # the audit page and API
            # The same filtered by action: a rare action (a deletion) amid a year of sign-ins is found at once.
            models.Index(fields=["action", "-at"], name="audit_action_newest_first"),
        ]

    @property
    def target_is_long(self):
        return len(self.target) > TARGET_SHOWN

    @property
    def target_head(self):
        """What a table shows of the target before it is opened: a deletion names up to a hundred trace ids."""
        return self.target[:TARGET_SHOWN]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.get_action_display()}"
