"""The audit log page at /settings/audit, for admins: newest first, a page at a time, filtered by
action and by actor."""

from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django_htmx.http import push_url

from accounts.access import requires
from accounts.roles import ADMIN
from audit.forms import AuditFilterForm
from traces.pagination import page

PAGE_SIZE = 50


@requires(ADMIN)
def audit_log(request):
    form = AuditFilterForm(request.GET)
    events, older = [], None
    if form.is_valid():
        events, older = page(form.events(), "at", True, form.cleaned_data["cursor"], PAGE_SIZE)
    paged = form.is_valid() and bool(form.cleaned_data["cursor"])
    context = {
        "nav": "settings", "form": form, "events": events,
        "newest": form.url(cursor=None) if paged else None,
        "older": form.url(cursor=older) if older else None,
    }
    partial = request.htmx and not request.htmx.history_restore_request
    template = "audit/log.html#events" if partial else "audit/log.html"
    # HTMX swaps in only a 2xx answer: the fragment says what is wrong with the filters either way.
    response = render(request, template, context, status=200 if partial or form.is_valid() else 400)
    if partial and form.is_valid():
        push_url(response, form.url())  # the URL without blank fields, whatever the form sent
    patch_vary_headers(response, ["HX-Request"])
    return response
