"""Whether OTLP ingest needs a key, and whether a presented one will do. Ingest stays open while no
ingest key exists (MSGTRACE_INGEST_KEYS or an API key with the ingest scope), so that an OpenTelemetry
SDK works with no configuration; once one exists, every export must carry one."""

import hmac
from dataclasses import dataclass

from django.conf import settings

from accounts.models import ApiKey
from accounts.roles import INGEST


@dataclass(frozen=True)
class IngestStatus:
    configured_keys: int  # MSGTRACE_INGEST_KEYS
    api_keys: int  # active API keys with the ingest scope

    @property
    def open(self):
        return not (self.configured_keys or self.api_keys)


def presented_key(authorization, api_key):
    """The key of an `Authorization: Bearer <key>` or else an `x-api-key: <key>` header (or metadata)."""
    authorization = authorization or ""
    if authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return (api_key or "").strip()


def status():
    return IngestStatus(len(settings.MSGTRACE_INGEST_KEYS), ApiKey.objects.active().with_scope(INGEST).count())


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
    return not configured and not ApiKey.objects.active().with_scope(INGEST).exists()
