"""The dashboard at /, which also takes OTLP posts: msgtrace-sdk posts to a bare base URL."""

from datetime import datetime, timezone
from urllib.parse import urlencode

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.csrf import csrf_exempt

from traces import stats as trace_stats
from traces.ingest import export_traces
from traces.models import Status, Trace
from traces.query_limits import QueryTimeout, time_limit
from traces.timeframe import window_start
from ui import live
from saved_views.models import SavedView
from ui.dashboard_panels import panels
from ui.first_run import first_run
from ui.forms import DashboardForm

LATEST = 8  # rows in each of the "latest" tables
WINDOW_LABELS = {"1h": "1h", "24h": "24h", "7d": "7d", "30d": "30d", "all": "All"}
WINDOW_TEXT = {"1h": "in the last hour", "24h": "in the last 24 hours", "7d": "in the last 7 days",
               "30d": "in the last 30 days", "all": "all time"}


@csrf_exempt
def root(request):
    if request.method == "POST":
        return export_traces(request)
    return dashboard(request)


def dashboard(request):
    try:
        with time_limit():  # the latest tables are read while the template renders
            return _dashboard(request)
    except QueryTimeout as timeout:
        return HttpResponse(f"{timeout}: pick a shorter window.", status=503, content_type="text/plain; charset=utf-8")


def _dashboard(request):
    view = SavedView.objects.named_in(request)  # its filters narrow every figure; the window it names is the default
    form = DashboardForm(request.GET)
    window, usage_by = form.window_name(default=view and view.dashboard_window), form.usage_dimension()
    filters = view.dashboard_filters() if view else {}
    now = datetime.now(timezone.utc)
    # Read before the figures; the minute is in it as the window slides even while nothing arrives.
    tag = live.etag(live.store_version(), window, usage_by, int(now.timestamp()) // 60)
    partial = request.htmx and not request.htmx.history_restore_request
    if partial and (unchanged := live.not_modified(request, tag)):
        return live.tagged(unchanged, tag)
    start = window_start(window, now)
    traces = (Trace.objects.search(**filters) if filters else Trace.objects).between(start)
    figures = trace_stats.summarize(traces, start, now)
    # An empty window is not an empty store: only a store without a single trace shows the setup steps.
    empty_store = not figures["total_traces"] and not Trace.objects.exists()
    context = {
        "nav": "dashboard", "window": window, "windows": WINDOW_LABELS.items(), "figures": figures,
        "window_text": WINDOW_TEXT[window], "list_url": _list_url(start and window, **filters),
        "errors_url": _list_url(start and window, **filters, status=Status.ERROR),
        # What the window links and the live poll keep: the saved view, and what usage is stacked by.
        "view": view,
        "view_param": (f"&view={view.pk}" if view else "") + ("" if usage_by == "model" else f"&usage={usage_by}"),
        "latest": traces.sorted_by()[:LATEST], "latest_errors": traces.search(status=Status.ERROR).sorted_by()[:LATEST],
        "first_run": first_run(request) if empty_store else None,
    } | live.poll(tag) | ({} if empty_store else panels(traces, figures, usage_by, filters, start, now))
    response = render(request, "ui/dashboard.html#figures" if partial else "ui/dashboard.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return live.tagged(response, tag) if partial else response


def _list_url(start, **params):
    """The trace list over the same window, so a card's figure and the list it opens agree."""
    params = ({"start": start} if start else {}) | params
    return reverse("traces") + ("?" + urlencode(params) if params else "")
