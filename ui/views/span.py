"""One span (/traces/<trace_id>/spans/<span_id>): the side panel HTMX loads when a span is clicked, or,
opened directly, the trace page with that panel open."""

from django.shortcuts import render

from traces.models import Span
from ui.span_panel import SpanPanel
from ui.trace_page import not_found, parameters, trace_page


def span_detail(request, trace_id, span_id):
    span = Span.objects.for_display().with_ids(trace_id, span_id)
    if span is None:
        return not_found(request, trace_id.lower(), span_id.lower())
    view, _ = parameters(request)
    panel = SpanPanel.load(span, view)
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "ui/partials/_span_detail.html", {"panel": panel})
    return trace_page(request, span.trace, view, panel=panel)
