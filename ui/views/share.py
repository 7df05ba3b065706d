"""Share links. A member creates one on the trace page (POST /traces/<trace_id>/share); anyone who has
it sees that trace and its run read-only at /share/<token>, with the span panel and the subtrees the
page fetches under the same token, and nothing else of msgtrace: no navigation, no list, no other
trace. The link's row decides whether it still works, at every request."""

import functools
from dataclasses import dataclass
from datetime import timedelta

from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from accounts.access import caller_of, requires
from accounts.models import ShareLink
from accounts.roles import WRITE
from audit.log import record
from audit.models import Action
from traces.models import Span, Trace
from ui.forms import ShareLinkForm
from ui.links import ShareLinks
from ui.span_panel import SpanPanel
from ui.trace_page import TEMPLATE, not_found, parameters, share_context, subtree_rows, trace_page, view_tab

# Every page behind a share link: the visitor may not read the rest of msgtrace, so it offers none of it.
NO_NAV = {"show_nav": False}
# Why a share link shows nothing: (status, title, explanation).
REFUSALS = {
    "invalid": (404, "This share link is not valid",
                "msgtrace did not make this link, or it was changed or cut short. Check that you copied all of it."),
    "expired": (410, "This share link has expired",
                "It showed a trace for a limited time, which is over. Ask whoever sent it to share the trace again."),
    "revoked": (410, "This share link was revoked",
                "Whoever shared the trace has withdrawn the link. Ask them to share it again if you still need it."),
    "deleted": (410, "The shared trace was deleted", "This link showed a trace that msgtrace no longer keeps."),
    "no-span": (404, "No such span in this share", "The shared trace has no span with this id."),
}


@require_POST
@requires(WRITE)
def create(request, trace_id):
    """Creates a link to the trace and shows its URL in the Share panel (the whole page without HTMX)."""
    trace = Trace.objects.with_trace_id(trace_id)
    if trace is None:
        return not_found(request, trace_id)
    form = ShareLinkForm(request.POST)
    if not form.is_valid():
        return _share_panel(request, trace, status=400, share_form=form)
    caller = caller_of(request)
    days = form.cleaned_data["days"]
    link = ShareLink.objects.issue(trace.trace_id, caller.user, timedelta(days=days))
    record(Action.SHARE_CREATED, caller.name, f"link {link.pk} to {trace.trace_id} for {days} days", via="ui",
           request=request)
    return _share_panel(request, trace, new_share=link,
                        new_share_url=request.build_absolute_uri(link.get_absolute_url()))


def _share_panel(request, trace, status=200, **extra):
    if request.htmx:
        context = {"trace": trace} | share_context(request, trace, **extra)
        return render(request, TEMPLATE + "#share", context, status=status)
    return trace_page(request, trace, "timeline", status=status, **extra)


@dataclass(frozen=True)
class Share:
    link: ShareLink
    trace: Trace
    links: ShareLinks


def shared(view):
    """A view of a share link's pages: called with the Share of a token that works, while any other
    token gets a page that says why, and nothing of the trace."""

    @_uncached
    @functools.wraps(view)
    def resolved(request, token, *args, **kwargs):
        link = ShareLink.objects.from_token(token)
        if link is None:
            return refused(request, "invalid")
        if link.refusal:
            return refused(request, link.refusal)
        trace = Trace.objects.with_trace_id(link.trace_id)
        if trace is None:
            return refused(request, "deleted")
        return view(request, Share(link, trace, ShareLinks(token, trace)), *args, **kwargs)

    return resolved


def _uncached(view):
    """Read-only; never kept by a browser or proxy, so that revoking a link stops it at once; never indexed."""

    @functools.wraps(view)
    def answered(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response

    return require_safe(never_cache(answered))


def refused(request, reason):
    status, title, explanation = REFUSALS[reason]
    context = {"reason": reason, "title": title, "explanation": explanation} | NO_NAV
    return render(request, "ui/share_refused.html", context, status=status)


@shared
def shared_trace(request, share):
    view, _ = parameters(request)
    if request.htmx and not request.htmx.history_restore_request:  # the Timeline / Tree tabs
        return view_tab(request, share.trace, view, share.links)
    return trace_page(request, share.trace, view, links=share.links, shared_until=share.link.expires_at, **NO_NAV)


@shared
def shared_span(request, share, span_id):
    """The span panel of a span of the shared trace or its run; opened directly, the shared trace's
    page with that panel open."""
    members = Trace.objects.run_members(share.trace)
    span = Span.objects.for_display().in_run(members, span_id)
    if span is None:
        return refused(request, "no-span")
    view, _ = parameters(request)
    panel = SpanPanel.load(span, view, share.links)
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "ui/partials/_span_detail.html", {"panel": panel})
    return trace_page(request, share.trace, view, panel=panel, links=share.links,
                      shared_until=share.link.expires_at, **NO_NAV)


@shared
def shared_subtree(request, share, span_id=None):
    rows = subtree_rows(request, share.trace, span_id, share.links)
    return refused(request, "no-span") if rows is None else rows
