import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import models
from django.urls import reverse
from django.utils import timezone

from accounts.roles import INGEST, READ, WRITE

KEY_SCOPES = (INGEST, READ, WRITE)
KEY_PREFIX_LENGTH = 11  # "mt_" and 8 characters: shown in lists and logs, unique, never enough to use the key
# A key's last use is written at most this often, so that a busy exporter does not write on every batch.
LAST_USED_RESOLUTION = timedelta(minutes=1)
SHARE_LINK_SALT = "msgtrace.share-link"


def _digest(secret):
    # API keys are 256-bit random strings, not passwords: one SHA-256 suffices and keeps lookups cheap.
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeyQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)

    def with_scope(self, scope):
        return self.filter(scopes__contains=scope)

    def issue(self, name, scopes, created_by=None):
        """A new key and its secret, which is never stored and so can be shown only this once."""
        scopes = [scope for scope in KEY_SCOPES if scope in set(scopes)]
        if not scopes:
            raise ValueError("an API key needs at least one scope")
        while True:
            secret = f"mt_{secrets.token_urlsafe(6)[:8]}_{secrets.token_urlsafe(32)}"
            if not self.filter(prefix=secret[:KEY_PREFIX_LENGTH]).exists():
                break
        key = self.create(name=name, prefix=secret[:KEY_PREFIX_LENGTH], secret_hash=_digest(secret),
                          scopes=",".join(scopes), created_by=created_by)
        return key, secret

    def verify(self, presented):
        """The active key that `presented` is, or None. Records its use (at most once a minute)."""
        if not presented or not presented.startswith("mt_") or len(presented) > 200:
            return None
        key = self.active().filter(prefix=presented[:KEY_PREFIX_LENGTH]).first()
        if key is None or not hmac.compare_digest(key.secret_hash, _digest(presented)):
            return None
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
            type(key).objects.filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now
        return key


class ApiKey(models.Model):
    """A secret for scripts and exporters: `Authorization: Bearer <key>` or `x-api-key: <key>`."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=KEY_PREFIX_LENGTH, unique=True)
    secret_hash = models.CharField(max_length=64)
    scopes = models.CharField(max_length=32, help_text="comma-separated: ingest, read, write")
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def scope_list(self):
        return [scope for scope in self.scopes.split(",") if scope]

    @property
    def is_active(self):
        return self.revoked_at is None

    def revoke(self):
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


class SetupTokenQuerySet(models.QuerySet):
    def issue(self):
        """A new one-time token for creating the first admin; any earlier one stops working."""
        token = secrets.token_urlsafe(24)
        self.all().delete()
        self.create(token_hash=_digest(token))
        return token

    def accepts(self, token):
        return bool(token) and len(token) < 200 and self.filter(token_hash=_digest(token)).exists()


class SetupToken(models.Model):
    """The token of the setup link that `manage.py start` prints while no user exists."""

    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = SetupTokenQuerySet.as_manager()


def _share_signer():
    # No timestamp: a link's token never changes, and its row holds when it expires.
    return signing.Signer(salt=SHARE_LINK_SALT)


class ShareLinkQuerySet(models.QuerySet):
    def usable(self):
        return self.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())

    def issue(self, trace_id, created_by, lifetime):
        """A new link to the trace with this (hex) id, usable for `lifetime` (a timedelta) from now."""
        now = timezone.now()
        return self.create(trace_id=trace_id, created_by=created_by, created_at=now, expires_at=now + lifetime)

    def from_token(self, token):
        """The link a token was signed for, usable or not; None for a token msgtrace did not sign
        (tampered with, made up, or signed with another SECRET_KEY) or whose link is gone."""
        if not token or len(token) > 200:
            return None
        try:
            pk = _share_signer().unsign_object(token)
        except signing.BadSignature:
            return None
        return self.filter(pk=pk).first() if isinstance(pk, int) else None


class ShareLink(models.Model):
    """A read-only link to one trace (with its run), for someone who cannot sign in."""

    trace_id = models.CharField(max_length=32)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="share_links")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ShareLinkQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"share link to {self.trace_id}"

    @property
    def is_usable(self):
        return self.revoked_at is None and self.expires_at > timezone.now()

    @property
    def refusal(self):
        """Why the link no longer works ("revoked" or "expired"), or None while it does."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return None

    @property
    def token(self):
        """The link's id, signed with SECRET_KEY, so that a guessed or altered id is refused. The row,
        not the token, says until when it works and whether it was revoked."""
        return _share_signer().sign_object(self.pk)

    def get_absolute_url(self):
        return reverse("share", args=[self.token])

    def revoke(self):
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])
