"""Sending notifications: signed webhook posts (standard library, no redirects followed, a bounded
timeout and answer excerpt) and emails through Django's email settings. Each attempt is logged as a
Delivery; a failed one is retried with exponential backoff, then given up.

A notification is claimed before it is sent, by a conditional UPDATE on its attempt count that also
pushes its next attempt past the timeout: two delivery loops never send it at once, and one that dies
mid-send leaves it to be retried rather than lost. A sent notification is never sent again."""

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F

from alerts import payloads
from alerts.models import EXCERPT_BYTES, Delivery, Notification, Status, TargetKind

log = logging.getLogger("msgtrace.alerts")
MAX_ATTEMPTS = 5
BACKOFF_SECONDS = 15  # then 30, 60, 120 s between attempts
SIGNATURE_HEADER = "X-Msgtrace-Signature"


class Refused(Exception):
    """A notification that cannot be sent as it stands (a redirect, a bad URL, no email configured)."""


def signature(secret, body, timestamp):
    """`t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, as receivers verify it (docs/deployment.md)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def check_url(url):
    """Raises ValueError unless `url` is an http(s) URL with a host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("a webhook URL must start with http:// or https:// and name a host")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise Refused(f"the receiver answered {code}, a redirect to {newurl[:200]}, which is not followed")


_opener = urllib.request.build_opener(_NoRedirects)


def _post(target, payload):
    """(status code, answer excerpt). Raises Refused or OSError for an answer that is not one."""
    check_url(target.url)
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    request = urllib.request.Request(target.url, data=body, method="POST", headers={
        "Content-Type": "application/json",
        "User-Agent": "msgtrace-alerts",
        # The wall clock, whatever clock the scheduler runs on: receivers refuse stale signatures.
        SIGNATURE_HEADER: signature(target.signing_secret, body, int(time.time())),
    })
    try:
        with _opener.open(request, timeout=settings.MSGTRACE_WEBHOOK_TIMEOUT_SECONDS) as response:
            return response.status, response.read(EXCERPT_BYTES).decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read(EXCERPT_BYTES).decode("utf-8", "replace")


def _email(target, payload):
    if not settings.EMAIL_HOST:
        raise Refused("email is not configured: set EMAIL_HOST")
    send_mail(payload["subject"], payload["text"], None, [target.email])
    return None, ""


def attempt(notification, now):
    """Sends once and logs the attempt. Returns the Delivery."""
    target = notification.target
    started = time.monotonic()
    status_code, excerpt, error = None, "", ""
    try:
        if target.kind == TargetKind.EMAIL:
            status_code, excerpt = _email(target, notification.payload)
        else:
            status_code, excerpt = _post(target, notification.payload)
    except (Refused, ValueError) as refused:
        error = str(refused)
    except (OSError, TimeoutError) as failed:  # URLError, timeouts, refused connections, SMTP errors
        error = f"{type(failed).__name__}: {getattr(failed, 'reason', failed)}"
    latency_ms = (time.monotonic() - started) * 1000
    ok = not error and (status_code is None or 200 <= status_code < 300)
    if not ok and not error:
        error = f"the receiver answered {status_code}"
    with transaction.atomic():
        delivery = Delivery.objects.create(notification=notification, at=now, attempt=notification.attempts,
                                           status_code=status_code, latency_ms=latency_ms, error=error[:1000],
                                           response_excerpt=excerpt)
        if ok:
            changes = {"status": Status.SENT, "sent_at": now}
        elif notification.attempts >= MAX_ATTEMPTS or notification.test:
            changes = {"status": Status.FAILED}
        else:
            changes = {"next_attempt_at": now + backoff(notification.attempts)}
        Notification.objects.filter(pk=notification.pk).update(**changes)
        for field, value in changes.items():
            setattr(notification, field, value)
    if not ok:
        log.warning("alert notification %s to %s failed (attempt %d): %s", notification.pk, target.name,
                    notification.attempts, error)
    return delivery


def backoff(attempts):
    return timedelta(seconds=BACKOFF_SECONDS * 2 ** (attempts - 1))


def claim(notification, now):
    """Claims the next attempt at `notification`; False when another loop has it or it is no longer due."""
    lease = now + timedelta(seconds=settings.MSGTRACE_WEBHOOK_TIMEOUT_SECONDS + 60)
    claimed = Notification.objects.filter(pk=notification.pk, status=Status.PENDING,
                                          attempts=notification.attempts).update(
        attempts=F("attempts") + 1, next_attempt_at=lease)
    if claimed:
        notification.attempts += 1
    return bool(claimed)


def deliver_due(now, limit=100):
    """Attempts every notification that is due. Returns the deliveries made."""
    deliveries = []
    for notification in Notification.objects.due(now).select_related("target")[:limit]:
        if claim(notification, now):
            deliveries.append(attempt(notification, now))
    return deliveries


def send_test(target, now):
    """"Send a test": one attempt, right away, logged like any other. Returns the Delivery."""
    notification = Notification.objects.create(target=target, test=True, payload=payloads.test_payload(target, now),
                                               next_attempt_at=now, created_at=now)
    claim(notification, now)
    notification.target = target
    return attempt(notification, now)
