"""The trace page (/traces/<trace_id>): header, timeline or span tree, errors, tokens and cost; and the
rows of a subtree the page left closed (/traces/<trace_id>/subtree/<span_id>)."""

from traces.models import Trace
from ui.trace_page import live_update, not_found, parameters, subtree_rows, trace_page, view_tab


def trace_detail(request, trace_id):
    trace = Trace.objects.with_trace_id(trace_id)
    if trace is None:
        return not_found(request, trace_id)
    view, _ = parameters(request)
    if request.htmx and "live" in request.GET:  # the open page asking whether its run grew
        return live_update(request, trace, view)
    if request.htmx and not request.htmx.history_restore_request:  # the Timeline / Tree tabs
        return view_tab(request, trace, view)
    return trace_page(request, trace, view)


def subtree(request, trace_id, span_id=None):
    """Rows under a span the page drew closed (or the next slice of a long level), for HTMX to insert."""
    trace = Trace.objects.with_trace_id(trace_id)
    if trace is None:
        return not_found(request, trace_id)
    rows = subtree_rows(request, trace, span_id)
    return not_found(request, trace_id, span_id) if rows is None else rows
