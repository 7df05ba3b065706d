from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from monitoring.views import scrape
from msgtrace_server.api import api
from traces import ingest
from traces.health import health

urlpatterns = [
    # OTLP/HTTP: the standard path, the one msgtrace-sdk and msgflux default to, and the bare
    # base URL that msgtrace-sdk posts to when given one.
    path("v1/traces", ingest.export_traces, name="otlp-traces"),
    # POST /api/v1/traces/export (msgtrace-sdk's default) is routed through the API, which shares the path.
    path("api/v1/", api.urls),
    path("docs", RedirectView.as_view(url="/api/v1/docs", permanent=False)),
    path("health", health, name="health"),
    path("metrics", scrape, name="metrics"),  # Prometheus, with its own bearer token (monitoring/)
    # One sign-in page for the UI and the Django admin.
    path("admin/login/", RedirectView.as_view(pattern_name="signin", query_string=True)),
    path("admin/logout/", RedirectView.as_view(pattern_name="signout")),
    path("admin/", admin.site.urls),
    path("", include("accounts.urls")),
    path("", include("audit.urls")),
    path("", include("saved_views.urls")),
    path("", include("compare.urls")),
    path("", include("conversations.urls")),
    path("", include("reports.urls")),
    path("", include("alerts.urls")),
    # The pages; "/" also takes OTLP posts (msgtrace-sdk given a bare base URL posts there).
    path("", include("ui.urls")),
]
