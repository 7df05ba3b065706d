"""The trace page (/traces/<trace_id>): header, timeline or span tree, errors, tokens and cost; and the
rows of a subtree the page left closed (/traces/<trace_id>/subtree/<span_id>)."""

from django.shortcuts import render

from traces.models import Trace
from ui.trace_page import TEMPLATE, layout_for, not_found, parameters, trace_page


def trace_detail(request, trace_id):
    trace = Trace.objects.with_trace_id(trace_id)
    if trace is None:
        return not_found(request, trace_id)
    view, _ = parameters(request)
    if request.htmx and not request.htmx.history_restore_request:  # the Timeline / Tree tabs
        layout = layout_for(trace, view)[0]
        return render(request, TEMPLATE + "#trace-view", {"trace": trace, "layout": layout, "rows": layout.rows()})
    return trace_page(request, trace, view)


def subtree(request, trace_id, span_id=None):
    """Rows under a span the page drew closed (or the next slice of a long level), for HTMX to insert."""
    trace = Trace.objects.with_trace_id(trace_id)
    if trace is None:
        return not_found(request, trace_id)
    view, offset = parameters(request)
    layout = layout_for(trace, view)[0]
    node = layout.node(span_id.lower()) if span_id else None
    if span_id and node is None:
        return not_found(request, trace_id, span_id)
    rows = layout.rows(under=node, offset=offset)
    return render(request, f"ui/partials/_{layout.view}_rows.html", {"trace": trace, "layout": layout, "rows": rows})
