from django import template

from accounts.access import caller_of
from accounts.roles import WRITE
from saved_views.models import RecentSearch, SavedView

register = template.Library()


@register.inclusion_tag("saved_views/_sidebar.html", takes_context=True)
def saved_views_sidebar(context):
    """The trace list's panel of saved views; `here` is the list's URL, which "Save this view" saves."""
    request = context["request"]
    caller = caller_of(request)
    mine, shared = [], []
    for view in SavedView.objects.visible_to(caller).by_name():
        view.changeable = view.may_change(caller)
        if view.is_mine(caller):
            view.note = "shared" if view.shared else ""
            mine.append(view)
        else:
            view.note = view.owner_name or ""
            shared.append(view)
    return {"mine": mine, "shared": shared, "may_save": caller.may(WRITE), "owned": caller.user is not None,
            "here": context.get("here", ""), "signed_in": caller.user is not None, "csrf_token": context.get("csrf_token")}


@register.inclusion_tag("saved_views/_recent_searches.html", takes_context=True)
def recent_searches(context):
    """The <datalist id="recent-searches"> the search boxes offer: the signed-in user's latest searches."""
    user = caller_of(context["request"]).user
    return {"searches": list(RecentSearch.objects.of(user).values_list("q", flat=True)) if user else []}


@register.inclusion_tag("saved_views/_dashboard_select.html", takes_context=True)
def dashboard_view_select(context, current=None):
    """The dashboard's "View" select: the views the caller may use, `current` chosen."""
    views = SavedView.objects.visible_to(caller_of(context["request"])).by_name()
    return {"views": views, "current": current, "window": context.get("window")}
