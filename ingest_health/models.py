"""Counters kept by the ingest path: one row per client and minute, and a few rejection messages per client.

A client is what sent a request: its service name plus the SDK named by the resource's telemetry.sdk.*
attributes, or the request's User-Agent when the resource names no SDK (msgtrace-sdk sends none)."""

from django.db import models

CLIENT_FIELDS = ("service_name", "sdk_name", "sdk_version", "user_agent")
# Rejection messages kept per client: enough to explain the problem, never a growing table.
REJECTIONS_KEPT = 5


class ClientFields(models.Model):
    service_name = models.CharField(max_length=256, blank=True, default="")
    sdk_name = models.CharField(max_length=128, blank=True, default="")
    sdk_version = models.CharField(max_length=64, blank=True, default="")
    # Only when the resource names no SDK.
    user_agent = models.CharField(max_length=256, blank=True, default="")

    class Meta:
        abstract = True


class CounterQuerySet(models.QuerySet):
    def between(self, start=None, end=None):
        if start is not None:
            self = self.filter(minute__gte=start.replace(second=0, microsecond=0))
        if end is not None:
            self = self.filter(minute__lt=end)
        return self

    def per_client(self):
        """One row per client with its summed counters, the most recent request first."""
        return (
            self.values(*CLIENT_FIELDS)
            .annotate(
                requests=models.Sum("requests"),
                failed_requests=models.Sum("failed_requests"),
                spans_stored=models.Sum("spans_stored"),
                duplicates=models.Sum("duplicates"),
                rejected=models.Sum("rejected"),
                truncated=models.Sum("truncated"),
                last_request_at=models.Max("last_request_at"),
            )
            .order_by("-last_request_at", *CLIENT_FIELDS)
        )


class IngestCounter(ClientFields):
    """What one client's requests brought in one minute (UTC), summed by an upsert per request."""

    minute = models.DateTimeField()
    requests = models.IntegerField(default=0)
    failed_requests = models.IntegerField(default=0)  # answered with an error: nothing of them stored
    spans_stored = models.IntegerField(default=0)
    duplicates = models.IntegerField(default=0)
    rejected = models.IntegerField(default=0)
    truncated = models.IntegerField(default=0)  # attribute values msgtrace cut to MSGTRACE_MAX_ATTRIBUTE_BYTES
    last_request_at = models.DateTimeField()

    objects = CounterQuerySet.as_manager()

    class Meta:
        constraints = [
            # The upsert's conflict target; minute first, so it also serves the page's window scan
            # and retention's delete of old minutes.
            models.UniqueConstraint(fields=["minute", *CLIENT_FIELDS], name="ingest_counter_client_minute"),
        ]


class IngestRejection(ClientFields):
    """A message explaining why spans (or a whole request) of a client were refused; the last
    REJECTIONS_KEPT per client are kept."""

    at = models.DateTimeField()
    spans = models.IntegerField(default=0)  # 0: the whole request was refused
    status = models.IntegerField(default=200)  # the HTTP status the request was answered with
    message = models.TextField()

    class Meta:
        indexes = [
            # The last messages of one client, and trimming it to REJECTIONS_KEPT.
            models.Index(fields=[*CLIENT_FIELDS, "-id"], name="ingest_rejection_client"),
        ]


# Counters outlive the traces they counted by no more than this when retention keeps traces for ever:
# the page's longest window but "all".
COUNTER_DAYS = 30


def trim(before):
    """Deletes the counters and rejection messages older than `before`; returns the rows deleted."""
    counters = IngestCounter.objects.filter(minute__lt=before)
    rejections = IngestRejection.objects.filter(at__lt=before)
    return counters._raw_delete(counters.db) + rejections._raw_delete(rejections.db)
