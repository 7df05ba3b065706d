from django.contrib import admin
from django.urls import path

from traces import views as ingest

urlpatterns = [
    # OTLP/HTTP: the standard path, the one msgtrace-sdk and msgflux default to, and the bare
    # base URL that msgtrace-sdk posts to when given one.
    path("v1/traces", ingest.export_traces, name="otlp-traces"),
    path("api/v1/traces/export", ingest.export_traces, name="otlp-traces-export"),
    path("", ingest.export_traces, name="otlp-root"),
    path("admin/", admin.site.urls),
]
