"""The alert scheduler: every MSGTRACE_ALERTS_INTERVAL_SECONDS, evaluates the rules that are due, then
delivers the notifications that are due. `manage.py start` runs it in a process of its own beside
gunicorn (deploy/gunicorn.conf.py); `manage.py alerts` runs it alone."""

import logging
import time

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from alerts import deliver, evaluate

log = logging.getLogger("msgtrace.alerts")


def run_once(now=None):
    """One round at `now` (default: the real time). Returns (events recorded, deliveries made)."""
    events = evaluate.run_round(now or timezone.now())
    # On the real clock, read it again: evaluating took a while, and deliveries are logged when they happen.
    deliveries = deliver.deliver_due(now or timezone.now())
    return events, deliveries


def run_forever(interval_seconds=None):
    interval = interval_seconds or settings.MSGTRACE_ALERTS_INTERVAL_SECONDS
    while True:
        try:
            run_once()
        except Exception:  # a failed round must not stop the next one
            log.exception("alerts round failed")
        finally:
            close_old_connections()
        time.sleep(interval)
