"""Whether OTLP ingest needs a key, and whether a presented one will do. Ingest stays open while no
ingest key exists (MSGTRACE_INGEST_KEYS or an API key with the ingest scope), so that an OpenTelemetry
SDK works with no configuration; once one exists, every export must carry one. A revoked key still
counts: revoking the last (perhaps leaked) key must refuse it, not open ingest to everyone."""

import hmac
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Q

from accounts.models import ApiKey
from accounts.roles import INGEST


@dataclass(frozen=True)
class IngestStatus:
    configured_keys: int  # MSGTRACE_INGEST_KEYS
    api_keys: int  # active API keys with the ingest scope
    revoked_keys: int = 0  # revoked API keys with the ingest scope, which keep ingest closed

    @property
    def open(self):
        return not (self.configured_keys or self.api_keys or self.revoked_keys)


def presented_key(authorization, api_key):
    """The key of an `Authorization: Bearer <key>` or else an `x-api-key: <key>` header (or metadata)."""
    authorization = authorization or ""
    if authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return (api_key or "").strip()


def status():
    keys = ApiKey.objects.with_scope(INGEST).aggregate(
        active=Count("pk", filter=Q(revoked_at__isnull=True)), revoked=Count("pk", filter=Q(revoked_at__isnull=False)))
    return IngestStatus(len(settings.MSGTRACE_INGEST_KEYS), keys["active"], keys["revoked"])


def accepts(presented):
    """Whether an export presenting `presented` ("" for none) may be stored."""
    configured = settings.MSGTRACE_INGEST_KEYS
    if presented:
        secret = presented.encode()
        # compare_digest against every key, so timing does not tell which prefix matched
        if any([hmac.compare_digest(secret, key.encode()) for key in configured]):
            return True
        key = ApiKey.objects.verify(presented)
        if key is not None and INGEST in key.scope_list:
            return True
    return not configured and not ApiKey.objects.with_scope(INGEST).exists()
