"""Who is asking, and what they may do: a signed-in user's role, or an API key's scopes on the API.
Pages and endpoints that need more than reading say so with @requires; AccessControlMiddleware
makes reading itself need a caller."""

import functools
from dataclasses import dataclass

from django.conf import settings
from django.http import JsonResponse
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render
from django.urls import reverse

from accounts import ingest_keys
from accounts.models import ApiKey
from accounts.roles import ADMIN, INGEST, PERMISSIONS, READ, WRITE, role_of

EVERYTHING = frozenset({READ, WRITE, ADMIN, INGEST})
API_PREFIX = "/api/"


@dataclass(frozen=True)
class Caller:
    permissions: frozenset
    user: object = None
    api_key: ApiKey | None = None
    name: str = "anonymous"

    def may(self, permission):
        return permission in self.permissions

    @property
    def signed_in(self):
        return self.user is not None


def presented_key(request):
    """The secret of an `Authorization: Bearer <key>` or else an `x-api-key: <key>` header."""
    return ingest_keys.presented_key(request.headers.get("Authorization"), request.headers.get("X-Api-Key"))


def is_api(request):
    return request.path_info.startswith(API_PREFIX)


def caller_of(request):
    """The request's Caller, worked out once per request."""
    caller = getattr(request, "_msgtrace_caller", None)
    if caller is None:
        caller = request._msgtrace_caller = _caller(request)
    return caller


def _caller(request):
    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated and role_of(user) is not None
    if not settings.MSGTRACE_AUTH:  # no access control: everyone may do everything
        return Caller(EVERYTHING, user=user if signed_in else None,
                      name=user.get_username() if signed_in else "anonymous (MSGTRACE_AUTH=off)")
    if signed_in:
        return Caller(PERMISSIONS[role_of(user)], user=user, name=user.get_username())
    if is_api(request) and (secret := presented_key(request)):
        key = ApiKey.objects.verify(secret)
        if key is not None:
            return Caller(frozenset(key.scope_list), api_key=key, name=f"API key {key.prefix}… ({key.name})")
    return Caller(frozenset())


def unauthenticated(request):
    if is_api(request):
        response = JsonResponse(
            {"detail": "authentication required: sign in, or send an API key as Authorization: Bearer <key>"},
            status=401)
        response["WWW-Authenticate"] = 'Bearer realm="msgtrace"'
        return response
    return redirect_to_login(request.get_full_path(), reverse("signin"))


def forbidden(request, permission):
    caller = caller_of(request)
    what = {READ: "read traces", WRITE: "change or delete data", ADMIN: "manage msgtrace",
            INGEST: "send traces"}[permission]
    if caller.api_key is not None:
        message = f"this API key may not {what}: it needs the {permission!r} scope"
    else:
        message = f"your role may not {what}" + ("" if permission == ADMIN else f": it needs the {permission!r} permission")
    if is_api(request):
        return JsonResponse({"detail": message}, status=403)
    return render(request, "accounts/forbidden.html", {"message": message}, status=403)


def requires(permission):
    """A view (page or API endpoint) that only callers with `permission` may reach."""

    def decorate(view):
        @functools.wraps(view)
        def guarded(request, *args, **kwargs):
            caller = caller_of(request)
            if not caller.permissions:
                return unauthenticated(request)
            if not caller.may(permission):
                return forbidden(request, permission)
            return view(request, *args, **kwargs)

        return guarded

    return decorate
