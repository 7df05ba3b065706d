"""The flows page at /flows: which step follows which across the latest runs of a workflow or service."""

from datetime import datetime, timezone

from django.http import HttpResponse
from django.shortcuts import render

from traces.flows import FLOW_RUNS, flow
from traces.models import Trace
from traces.query_limits import QueryTimeout, time_limit
from traces.timeframe import window_start
from ui.forms import FlowsForm
from ui.views.dashboard import WINDOW_LABELS, WINDOW_TEXT

CHOICES = 200  # workflows and services offered in the pickers


def flows_page(request):
    form = FlowsForm(request.GET)
    if not form.is_valid():
        return render(request, "ui/flows.html", {"nav": "flows", "form": form}, status=400)
    window = form.cleaned_data["window"]
    start = window_start(window, datetime.now(timezone.utc))
    in_window = Trace.objects.between(start)
    try:
        with time_limit():
            graph = flow(in_window.search(**form.search()))
            choices = {field: _names(in_window, field) for field in ("workflow_name", "service_name")}
    except QueryTimeout as timeout:
        return HttpResponse(f"{timeout}: pick a shorter window.", status=503, content_type="text/plain; charset=utf-8")
    context = {
        "nav": "flows", "form": form, "flow": graph, "window": window, "windows": WINDOW_LABELS.items(),
        "window_text": WINDOW_TEXT[window], "start": start, "sample_limit": FLOW_RUNS,
        "workflows": choices["workflow_name"], "services": choices["service_name"],
        "filters": form.search(),
    }
    return render(request, "ui/flows.html", context)


def _names(traces, field):
    rows = traces.exclude(**{field: ""}).order_by(field).values_list(field, flat=True).distinct()
    return list(rows[:CHOICES])
