"""Which origins' browsers may call msgtrace across origins: the OTLP ingest paths answer the
origins of MSGTRACE_CORS_ORIGINS ("*" for every origin), the REST API only those named in
MSGTRACE_CORS_API_ORIGINS. A "*" meant for browser exporters must never open the reads and
deletes of the API to every web page. django-cors-headers asks `allow_cross_origin` per request."""

import re

from django.conf import settings

# POST / is an ingest path too, but it is also the dashboard: browser exporters post to /v1/traces.
INGEST_PATHS = re.compile(r"^/(v1/traces|api/v1/traces/export)$")


def allow_cross_origin(sender, request, **kwargs):
    origin = request.headers.get("Origin", "")
    path = request.path_info
    if INGEST_PATHS.match(path):
        allowed = settings.MSGTRACE_CORS_ORIGINS
    elif path.startswith("/api/v1/"):
        allowed = settings.MSGTRACE_CORS_API_ORIGINS
    else:
        return False
    return "*" in allowed or origin in allowed
