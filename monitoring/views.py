"""GET /metrics: the Prometheus scrape, open to a bearer token (MSGTRACE_METRICS_TOKEN) or to anyone when
MSGTRACE_METRICS_PUBLIC is on; closed otherwise. Session sign-in does not apply: Prometheus has none."""

import hmac

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from monitoring import metrics

CLOSED = ("/metrics is closed: set MSGTRACE_METRICS_TOKEN and have Prometheus send Authorization: Bearer "
          "<token> (its scrape config's `authorization: {credentials: <token>}`), or set "
          "MSGTRACE_METRICS_PUBLIC=true to open it to anyone who can reach the server.\n")
UNAUTHORIZED = "missing or wrong token: send Authorization: Bearer <MSGTRACE_METRICS_TOKEN>\n"


def _presented_token(request):
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def allowed(request):
    """None when the scrape may proceed, else the refusal to answer."""
    if settings.MSGTRACE_METRICS_PUBLIC:
        return None
    expected = settings.MSGTRACE_METRICS_TOKEN
    if not expected:
        return HttpResponse(CLOSED, status=403, content_type="text/plain; charset=utf-8")
    if not hmac.compare_digest(_presented_token(request).encode(), expected.encode()):
        response = HttpResponse(UNAUTHORIZED, status=401, content_type="text/plain; charset=utf-8")
        response["WWW-Authenticate"] = 'Bearer realm="msgtrace metrics"'
        return response
    return None


@require_GET
def scrape(request):
    refusal = allowed(request)
    if refusal is not None:
        return refusal
    return HttpResponse(metrics.exposition(), content_type=CONTENT_TYPE_LATEST)
