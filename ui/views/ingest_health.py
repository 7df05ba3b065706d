"""The ingest-health page: why traces do not show up, per client, over a window."""

from datetime import datetime, timezone

from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from ingest_health.report import client_notes, ingest_health, service_notes
from traces.timeframe import window_start
from ui.forms import DashboardForm
from ui.views.dashboard import WINDOW_LABELS, WINDOW_TEXT


def ingest_health_page(request):
    window = DashboardForm(request.GET).window_name()
    now = datetime.now(timezone.utc)
    health = ingest_health(window_start(window, now), now)
    for client in health["clients"]:
        client["notes"] = client_notes(client)
    for service in health["services"]:
        service["notes"] = service_notes(service)
        service["clients"] = [c for c in health["clients"] if c["service_name"] == service["service_name"]]
    context = {
        "nav": "ingest-health", "window": window, "windows": WINDOW_LABELS.items(), "window_text": WINDOW_TEXT[window],
        "services": health["services"], "clients": health["clients"],
    }
    partial = request.htmx and not request.htmx.history_restore_request
    response = render(request, "ui/ingest_health.html#health" if partial else "ui/ingest_health.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response
