"""Pages and the API answer 503 with Retry-After, not 500, while the database is unavailable
(down, unreachable, busy past its lock timeout, read-only): nothing is lost, and a reload or a
client's retry succeeds once it is back."""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

from traces.health import reason

log = logging.getLogger("msgtrace.database")
RETRY_AFTER_SECONDS = 5


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, UNAVAILABLE):
            return None
        return unavailable(request, exception)


UNAVAILABLE = (OperationalError, InterfaceError)


def unavailable(request, exception):
    """The 503 answer to a request that met an unavailable database."""
    why = reason(exception)
    log.warning("database unavailable (%s) for %s %s: %s", why, request.method, request.path, exception)
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": f"the trace store is unavailable ({why}); retry later"}, status=503)
    else:
        page = render_to_string("unavailable.html", {"reason": why, "retry_after": RETRY_AFTER_SECONDS}, request)
        response = HttpResponse(page, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
