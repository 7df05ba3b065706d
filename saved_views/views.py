"""The trace list sidebar's forms: save the list as a view, rename or delete one. Each answers with a
redirect, so they work without JavaScript."""

from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.access import caller_of, forbidden, requires
from accounts.roles import WRITE
from saved_views.models import NAME_LENGTH, SavedView
from saved_views.parameters import InvalidView, from_list_url


def _refused(request, message):
    return render(request, "saved_views/refused.html", {"nav": "traces", "message": message}, status=400)


def _name(request):
    name = " ".join(request.POST.get("name", "").split())
    if not name or len(name) > NAME_LENGTH:
        raise InvalidView(f"a view needs a name of 1 to {NAME_LENGTH} characters")
    return name


def _back(request):
    back = request.POST.get("next", "")
    return back if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}) else "traces"


@require_POST
@requires(WRITE)
def save_view(request):
    """Saves the trace list the form was on (its URL in `list`); then shows the list with the view applied."""
    user = caller_of(request).user
    try:
        view = SavedView.objects.create(name=_name(request), params=from_list_url(request.POST.get("list", "")),
                                        owner=user, shared=bool(request.POST.get("shared")) or user is None)
    except InvalidView as error:
        return _refused(request, str(error))
    return redirect(view.url)


@require_POST
@requires(WRITE)
def rename_view(request, view_id):
    view = _changeable(request, view_id)
    if not isinstance(view, SavedView):
        return view
    try:
        view.name = _name(request)
    except InvalidView as error:
        return _refused(request, str(error))
    view.save(update_fields=["name", "updated_at"])
    return redirect(_back(request))


@require_POST
@requires(WRITE)
def delete_view(request, view_id):
    view = _changeable(request, view_id)
    if not isinstance(view, SavedView):
        return view
    view.delete()
    return redirect(_back(request))


def _changeable(request, view_id):
    """The view, or the response refusing to change it."""
    caller = caller_of(request)
    view = get_object_or_404(SavedView.objects.visible_to(caller), pk=view_id)
    return view if view.may_change(caller) else forbidden(request, WRITE)
