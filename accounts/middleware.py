"""Access control for every URL: nothing is readable without a caller, except what PUBLIC names."""

from django.conf import settings
from django.contrib.auth.middleware import RemoteUserMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import Resolver404, resolve

from accounts.access import caller_of, forbidden, is_api, unauthenticated
from accounts.roles import READ, WRITE
from traces.middleware import UNAVAILABLE, unavailable

# URL names anyone may reach: sign-in and first-run setup, the health probe, share links, and the
# Prometheus scrape, which checks its own bearer token (monitoring.views).
PUBLIC = {"signin", "signout", "setup", "health", "share", "share-span", "share-subtree", "share-subtree-top",
          "metrics"}
# OTLP ingest, which checks ingest keys itself (open while no ingest key exists).
INGEST = {("otlp-traces", None), ("dashboard", "POST"), ("traces-export", "POST")}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def _url_name(request):
    try:
        return resolve(request.path_info).url_name
    except Resolver404:
        return None


def is_public(request):
    name = _url_name(request)
    return (name in PUBLIC or (name, None) in INGEST or (name, request.method) in INGEST
            or request.path_info.startswith("/" + settings.STATIC_URL.lstrip("/")))


class AccessControlMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.csrf = CsrfViewMiddleware(get_response)

    def __call__(self, request):
        if is_public(request):
            return self.get_response(request)
        try:
            caller = caller_of(request)  # reads the session, the user or the API key
        except UNAVAILABLE as exc:
            return unavailable(request, exc)
        if request.path_info.startswith("/admin/"):
            # The Django admin needs a signed-in member or admin, also when access control is off.
            if not caller.signed_in:
                return unauthenticated(request)
            if not caller.user.is_staff:
                return forbidden(request, WRITE)
        if not caller.permissions:
            return unauthenticated(request)
        if is_api(request) and request.method not in SAFE_METHODS:
            if not caller.may(WRITE):
                return forbidden(request, WRITE)
            if caller.api_key is None and caller.signed_in:
                # A browser's session cookie goes with any site's request: unsafe API calls made with
                # it need the CSRF token, as forms do. API keys are never sent by a browser on its own.
                refused = self.csrf.process_view(request, None, (), {})
                if refused is not None:
                    return refused
        elif not caller.may(READ):
            return forbidden(request, READ)
        return self.get_response(request)


class ProxyUserMiddleware(RemoteUserMiddleware):
    """Trusts the user name an authenticating proxy puts in MSGTRACE_REMOTE_USER_HEADER."""

    def __init__(self, get_response):
        super().__init__(get_response)
        self.header = "HTTP_" + settings.MSGTRACE_REMOTE_USER_HEADER.upper().replace("-", "_")
