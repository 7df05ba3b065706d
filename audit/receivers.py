"""What other apps announce that the audit log keeps."""

from audit.log import record
from audit.models import Action


def traces_deleted(sender, actor, via, trace_ids, count, request=None, **kwargs):
    # trace_ids names at most the first hundred (traces.signals.IDS_NAMED); count says how many went.
    target = " ".join(trace_ids) + (" …" if count > len(trace_ids) else "")
    record(Action.DELETE_TRACES, actor, target, count=count, via=via, request=request)
