"""What the trace store tells other apps, so that it depends on none of them: the audit log listens."""

from django.dispatch import Signal

# Sent once per act of deletion (a click, an API call, an admin action, a prune or a retention round),
# after its last batch, with:
#   actor      who or what deleted: "alice", "API key mt_ab12cd34… (deploy)", "retention", "manage.py prune"
#   via        "ui", "api", "admin", "command" or "retention"
#   trace_ids  the hex ids of the first IDS_NAMED traces deleted, batch by batch
#   count      how many traces were deleted in all
#   request    the HttpRequest it answered, or None
traces_deleted = Signal()

# A retention round can delete millions of traces: the first ones are named, the rest counted.
IDS_NAMED = 100


class Deletion:
    """One act of deletion, gathered across the batches TraceQuerySet.delete_with_spans commits and
    announced once as traces_deleted when the `with` block ends, also when a later batch fails:
    the batches before it are gone for good.

        with Deletion(caller.name, via="api", request=request) as deletion:
            Trace.objects.filter(pk=pk).delete_with_spans(deletion=deletion)
    """

    def __init__(self, actor, via, request=None):
        self.actor, self.via, self.request = actor, via, request
        self.trace_ids = []
        self.count = 0

    def add(self, trace_ids):
        self.count += len(trace_ids)
        self.trace_ids += trace_ids[: max(0, IDS_NAMED - len(self.trace_ids))]

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        if self.count:
            # send_robust: the traces are gone whatever a listener does; its failure must not make it look otherwise
            traces_deleted.send_robust(sender=Deletion, actor=self.actor, via=self.via, trace_ids=list(self.trace_ids),
                                       count=self.count, request=self.request)
        return False
