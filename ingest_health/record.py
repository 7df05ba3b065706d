"""Counting what each OTLP request brought: one upsert per request that never fails an ingest.

A request whose spans are stored is counted inside the ingest's own transaction, in a savepoint
(count_stored): one commit for both, and no second turn at SQLite's write lock, which every worker
queues for. Refusals, and the rare request stored trace by trace, are counted once answered, in a
short transaction of their own (record)."""

import json
import logging
from datetime import datetime, timezone

from django.conf import settings
from django.db import connection, transaction
from google.protobuf.message import DecodeError
from google.rpc import status_pb2

from ingest_health.models import CLIENT_FIELDS, REJECTIONS_KEPT, IngestRejection

log = logging.getLogger("msgtrace.ingest_health")

COUNTERS = ("requests", "failed_requests", "spans_stored", "duplicates", "rejected", "truncated")
_COLUMNS = ("minute", *CLIENT_FIELDS, *COUNTERS, "last_request_at")
_TABLE = "ingest_health_ingestcounter"
_UPSERT = (
    f"INSERT INTO {_TABLE} ({','.join(_COLUMNS)}) VALUES ({','.join(['%s'] * len(_COLUMNS))}) "
    f"ON CONFLICT (minute,{','.join(CLIENT_FIELDS)}) DO UPDATE SET "
    + ",".join(f"{c}={_TABLE}.{c}+excluded.{c}" for c in COUNTERS)
    + f",last_request_at=CASE WHEN excluded.last_request_at>{_TABLE}.last_request_at "
    f"THEN excluded.last_request_at ELSE {_TABLE}.last_request_at END"
)
# Statuses that say nothing about a client's exports: a GET on the endpoint, and a database that
# cannot take writes (the counters could not be written either).
NOT_COUNTED = {405, 503}
UNAUTHENTICATED = 401


def _text(value, limit):
    return value[:limit] if isinstance(value, str) else ("" if value is None else str(value)[:limit])


def client_of(batch, user_agent):
    """{service_name, sdk_name, sdk_version, user_agent} of a request: its first resource's service and
    telemetry.sdk.*, or the User-Agent when the resource names no SDK."""
    resource = batch.resource if batch is not None else None
    attributes = resource.attributes if resource is not None else {}
    sdk_name = _text(attributes.get("telemetry.sdk.name"), 128)
    return {
        "service_name": resource.service_name[:256] if resource is not None else "",
        "sdk_name": sdk_name,
        "sdk_version": _text(attributes.get("telemetry.sdk.version"), 64) if sdk_name else "",
        "user_agent": "" if sdk_name else _text(user_agent, 256),
    }


def record_http(request, response, batch, stored):
    """Counts one OTLP/HTTP request (see record)."""
    status = response.status_code
    if status in NOT_COUNTED:
        return
    refusal = "" if status == 200 else _message(response.content)
    record(request.headers.get("User-Agent", ""), status, batch, stored, refusal)


def record(user_agent, status, batch, stored, refusal=""):
    """Counts one export request under its client: answered with `status` (200, or the HTTP status of a
    refusal explained by `refusal`), `batch` as decoded (None when decoding never ran) and `stored` as
    store() returned it; unless its count was committed with its spans (count_stored). Never raises:
    losing a count must not lose the spans it counts."""
    if stored is not None and stored.counted:
        return
    try:
        with _relaxed_durability():
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute("SET LOCAL synchronous_commit = off")
                _record(user_agent, status, batch, stored, refusal)
    except Exception:
        log.warning("ingest health counters not updated", exc_info=True)


def count_stored(user_agent, batch, stored):
    """Counts a request whose spans are stored (answered 200), called by store() inside the ingest's
    transaction once they are written: the count commits with them. In a savepoint, so that a count
    the database refuses is undone alone and the ingest goes on; returns whether it was counted (when
    not, record() counts the request once it is answered)."""
    try:
        with transaction.atomic():
            _record(user_agent, 200, batch, stored, "")
        return True
    except Exception:
        log.warning("ingest health counters not updated with the spans; counting the request afterwards",
                    exc_info=True)
        return False


def _record(user_agent, status, batch, stored, refusal):
    now = datetime.now(timezone.utc)
    if status == UNAUTHENTICATED:
        # Anyone can send a wrong key: one shared row, so that such requests cannot add clients.
        client = dict.fromkeys(CLIENT_FIELDS, "")
        refusal = f"{refusal} (User-Agent: {_text(user_agent, 100) or 'none'})"
    else:
        client = client_of(batch, user_agent)
    ok = status == 200
    counts = (
        1,
        0 if ok else 1,
        stored.stored if ok and stored else 0,
        stored.duplicates if ok and stored else 0,
        batch.rejected if ok and batch is not None else 0,
        batch.truncated if ok and batch is not None else 0,
    )
    rejections = []
    if not ok:
        rejections.append((0, status, refusal))
    elif batch is not None and batch.reasons:
        rejections.extend((count, status, reason) for reason, count in batch.reasons.items())
    adapt = connection.ops.adapt_datetimefield_value
    row = (adapt(now.replace(second=0, microsecond=0)), *client.values(), *counts, adapt(now))
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT, row)
    if rejections:
        _keep_rejections(client, now, rejections)


class _relaxed_durability:
    """Counters are diagnostics: on SQLite the commit of a transaction of their own skips the fsync
    (WAL stays consistent; a power cut may lose the last few counts). PostgreSQL gets the same with
    SET LOCAL synchronous_commit = off (record)."""

    def __enter__(self):
        # (Not inside a caller's transaction, where SQLite refuses the change.)
        self.sqlite = (
            connection.vendor == "sqlite" and not connection.in_atomic_block
            and settings.MSGTRACE_SQLITE_SYNCHRONOUS not in ("OFF", "NORMAL")
        )
        if self.sqlite:
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA synchronous=NORMAL")

    def __exit__(self, *exc):
        if self.sqlite:
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA synchronous={settings.MSGTRACE_SQLITE_SYNCHRONOUS}")


def _keep_rejections(client, now, rejections):
    IngestRejection.objects.bulk_create(
        IngestRejection(**client, at=now, spans=spans, status=status, message=message[:2000])
        for spans, status, message in rejections
    )
    mine = IngestRejection.objects.filter(**client)
    older = list(mine.order_by("-id").values_list("id", flat=True)[REJECTIONS_KEPT : REJECTIONS_KEPT + 1])
    if older:
        mine.filter(id__lte=older[0]).delete()


def _message(body):
    """The message of an error answer (a google.rpc.Status, in protobuf or JSON)."""
    try:
        return str(json.loads(body).get("message", ""))
    except (ValueError, AttributeError):
        pass
    try:
        return status_pb2.Status.FromString(body).message
    except DecodeError:
        return ""
