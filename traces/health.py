"""GET /health: whether msgtrace can read and write its database, for load balancers and Docker.

The write probe inserts a row and rolls it back, so it leaves nothing behind; it waits for a busy
SQLite write lock only briefly. Reasons are short words, never a driver's message, which can name
hosts, users and paths: the full error goes to the server's log."""

import logging
import uuid

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.http import JsonResponse

log = logging.getLogger("msgtrace.health")

# How long the write probe waits for SQLite's write lock before it calls the database busy.
PROBE_LOCK_SECONDS = 5


def health(request):
    """200 when the database answers reads and takes writes; 503 with a reason for each when not."""
    read = _probe("read", _read)
    write = _probe("write", _write) if read["ok"] else {"ok": False, "reason": read["reason"]}
    healthy = read["ok"] and write["ok"]
    status = "ok" if healthy else ("read-only" if read["ok"] else "unavailable")
    body = {
        "status": status,
        "database": {"vendor": connection.vendor, "ok": healthy, "read": read, "write": write},
    }
    return JsonResponse(body, status=200 if healthy else 503)


def _probe(what, check):
    try:
        check()
    except DatabaseError as exc:
        log.warning("health: the database failed the %s probe: %s", what, exc)
        return {"ok": False, "reason": reason(exc)}
    return {"ok": True}


def _read():
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM (SELECT 1 FROM traces_trace LIMIT 1) AS t")
        cursor.fetchone()


def _write():
    sqlite = connection.vendor == "sqlite"
    if sqlite:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {PROBE_LOCK_SECONDS * 1000}")
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO traces_scope (fingerprint, name, version, attributes, dropped_attributes_count, "
                    "schema_url) VALUES (%s, '', '', '{}', 0, '')",
                    [f"health-probe-{uuid.uuid4().hex}"[:40]],
                )
            transaction.set_rollback(True)
    finally:
        if sqlite and connection.connection is not None:
            timeout = settings.DATABASES["default"].get("OPTIONS", {}).get("timeout", 30)
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")


def reason(exc):
    """A short, non-leaking word for what a database error means."""
    text = str(exc).lower()
    if "read-only" in text or "readonly" in text or "read only" in text:
        return "read-only"
    if "locked" in text or "busy" in text or "lock timeout" in text:
        return "busy"
    if "disk" in text and "full" in text or "no space" in text:
        return "disk full"
    if "connect" in text or "refused" in text or "timeout" in text or "closed" in text or "unable to open" in text:
        return "unreachable"
    return "error"
