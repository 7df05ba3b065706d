"""Keeps a store from growing without bound: removes traces by age (start time) and by count,
then the resources and scopes no span uses any more, in small batches with a pause between them,
so ingest never waits long for the write lock."""

import logging
import time
from datetime import datetime, timedelta, timezone

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import Q

from ingest_health import models as ingest_counters
from traces.models import Resource, Scope, Trace
from traces.signals import Deletion

log = logging.getLogger("msgtrace.retention")
BATCH = 500
# Between batches: long enough for queued ingest requests to take the lock.
PAUSE_SECONDS = 0.05


def prune(older_than=None, keep_at_most=None, dry_run=False, batch_size=BATCH, progress=None, deletion=None):
    """Deletes traces that started before now - older_than, then the oldest beyond keep_at_most.
    Returns how many traces were (or, with dry_run, would be) deleted; each batch goes to `deletion`
    (a traces.signals.Deletion), if given."""
    deleted = 0
    if older_than is not None:
        cutoff = datetime.now(timezone.utc) - older_than
        old = Trace.objects.started_before(cutoff)
        if dry_run:
            deleted += old.count()
        else:
            deleted += _delete_in_batches(old, batch_size, progress, deletion)
    if keep_at_most:
        # The last trace kept, in list order (newest first): everything after it goes.
        last_kept = Trace.objects.sorted_by("-start_time").values_list("started_at", "pk")[keep_at_most - 1 : keep_at_most]
        last_kept = next(iter(last_kept), None)
        if last_kept is not None:
            started_at, pk = last_kept
            excess = Trace.objects.filter(Q(started_at__lt=started_at) | Q(started_at=started_at, pk__lt=pk))
            deleted += excess.count() if dry_run else _delete_in_batches(excess, batch_size, progress, deletion)
    return deleted


def _delete_in_batches(traces, batch_size, progress, deletion):
    deleted = 0
    while True:
        ids = list(traces.order_by("started_at").values_list("pk", flat=True)[:batch_size])
        if not ids:
            return deleted
        deleted += Trace.objects.filter(pk__in=ids).delete_with_spans(batch_size, deletion=deletion)
        if progress:
            progress(deleted)
        time.sleep(PAUSE_SECONDS)


def remove_unused(batch_size=BATCH):
    """Deletes the resources and scopes that no span refers to any more, in batches.
    Returns (resources, scopes) deleted."""
    return _delete_unused(Resource, batch_size), _delete_unused(Scope, batch_size)


def _delete_unused(model, batch_size):
    deleted, after = 0, 0
    while True:
        # One pass in primary key order: a row still in use is looked at once, not once per batch.
        candidates = list(
            model.objects.filter(pk__gt=after).unused().order_by("pk").values_list("pk", flat=True)[:batch_size]
        )
        if not candidates:
            return deleted
        after = candidates[-1]
        with transaction.atomic():
            # Ingest races this in two ways, and both end with every span stored:
            # - a row it inserted in a transaction not committed yet is invisible here, so never a candidate;
            # - a row it found committed (or had cached) and its new spans refer to: their foreign keys
            #   are checked at commit under a KEY SHARE lock on the row. Lock first, skipping rows such a
            #   commit holds (in use, so not deleted), then check again in a statement that sees every
            #   commit before the lock: an ingest that commits later waits for this transaction, fails
            #   its foreign key check and stores its batch again with fresh rows (traces.store.store).
            # SQLite has one writer at a time: the same holds without the lock.
            locked = list(
                model.objects.filter(pk__in=candidates)
                .order_by("pk")
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)
            )
            deleted += model.objects.filter(pk__in=locked).unused()._raw_delete(model.objects.db)
        time.sleep(PAUSE_SECONDS)


def trim_ingest_counters(now=None):
    """Ingest-health counters go with the traces they counted (MSGTRACE_RETENTION_DAYS), and after
    COUNTER_DAYS when traces are kept for ever."""
    days = settings.MSGTRACE_RETENTION_DAYS or ingest_counters.COUNTER_DAYS
    return ingest_counters.trim((now or datetime.now(timezone.utc)) - timedelta(days=days))


def configured():
    days = settings.MSGTRACE_RETENTION_DAYS
    return {
        "older_than": timedelta(days=days) if days else None,
        "keep_at_most": settings.MSGTRACE_RETENTION_MAX_TRACES or None,
    }


def run_round(policy):
    """One round of retention by `policy` (configured()). Returns how many traces it deleted."""
    # One audit event for the round, however many batches it takes.
    with Deletion("retention", via="retention") as deletion:
        deleted = prune(**policy, deletion=deletion)
    if deleted:
        log.info("retention removed %d traces", deleted)
    # Every round, not only after deleting traces: deletes through the API and the admin
    # leave unused rows behind too. One index probe per row, so cheap when nothing is unused.
    resources, scopes = remove_unused()
    if resources or scopes:
        log.info("retention removed %d resources and %d scopes no span uses", resources, scopes)
    trim_ingest_counters()
    return deleted


def run_forever(interval_seconds=None):
    """Prunes by the MSGTRACE_RETENTION_* settings, then every interval, until the process is stopped."""
    policy = configured()
    interval = interval_seconds or settings.MSGTRACE_RETENTION_INTERVAL_SECONDS
    while True:
        try:
            run_round(policy)
        except Exception:  # a failed round must not stop the next one
            log.exception("retention round failed")
        finally:
            close_old_connections()
        time.sleep(interval)
