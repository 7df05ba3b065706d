"""The address a request came from. Behind a proxy (MSGTRACE_BEHIND_PROXY or MSGTRACE_HTTPS) every
request arrives from the proxy, so the address is the last one the proxy appended to
X-Forwarded-For; anything left of it was written by the client and proves nothing."""

import ipaddress

from django.conf import settings


def client_address(request):
    if request is None:
        return None
    address = request.META.get("REMOTE_ADDR") or None
    if settings.MSGTRACE_BEHIND_PROXY or settings.MSGTRACE_HTTPS:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        address = forwarded or address
    try:
        return str(ipaddress.ip_address(address)) if address else None
    except ValueError:
        return None
