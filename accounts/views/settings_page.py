"""The settings page: one's own account for everyone; share links for members; users, API keys and
whether ingest is open for admins. Every change is a POST that answers with the page (or, from HTMX,
the section it changed)."""

from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts import ingest_keys
from accounts.access import caller_of, requires
from accounts.forms import NewKeyForm, NewUserForm, RoleForm
from accounts.models import ApiKey, ShareLink
from accounts.roles import ADMIN, READ, WRITE, Role, assign_role, role_of
from audit.log import record
from audit.models import Action


def _context(request, **extra):
    caller = caller_of(request)
    context = {"nav": "settings", "caller": caller, "role": role_of(caller.user) if caller.user else None,
               "auth_on": django_settings.MSGTRACE_AUTH}
    if caller.may(WRITE):
        links = ShareLink.objects.select_related("created_by")
        if not caller.may(ADMIN):
            links = links.filter(created_by=caller.user)
        # With the URL of each link that still works, to copy again (it is no secret from its creator).
        context["share_links"] = [(link, request.build_absolute_uri(link.get_absolute_url()) if link.is_usable else None)
                                  for link in links[:200]]
    if caller.may(ADMIN):
        context |= {
            "users": [(user, role_of(user)) for user in get_user_model().objects.order_by("username")],
            "roles": Role.choices,
            "keys": ApiKey.objects.select_related("created_by")[:200],
            "ingest": ingest_keys.status(),
            "key_form": extra.pop("key_form", None) or NewKeyForm(),
            "user_form": extra.pop("user_form", None) or NewUserForm(),
        }
    return context | extra


@requires(READ)
def settings_page(request):
    return render(request, "accounts/settings.html", _context(request))


def _section(request, name, status=200, **extra):
    """The page, or from HTMX the section `name` (with the ingest section out of band when
    `ingest_out_of_band`: a key's creation or revocation changes what it says)."""
    template = "accounts/settings.html" + (f"#{name}" if request.htmx else "")
    return render(request, template, _context(request, **extra), status=status)


@require_POST
@requires(ADMIN)
def create_key(request):
    form = NewKeyForm(request.POST)
    if not form.is_valid():
        return _section(request, "keys", status=400, key_form=form)
    actor = caller_of(request)
    key, secret = ApiKey.objects.issue(form.cleaned_data["name"], form.cleaned_data["scopes"],
                                       created_by=actor.user)
    record(Action.KEY_CREATED, actor.name, f"{key.prefix}… ({key.name}; {key.scopes})", via="ui", request=request)
    return _section(request, "keys", new_key=key, new_secret=secret, ingest_out_of_band=bool(request.htmx))


@require_POST
@requires(ADMIN)
def revoke_key(request, key_id):
    key = get_object_or_404(ApiKey, pk=key_id)
    if key.is_active:
        key.revoke()
        record(Action.KEY_REVOKED, caller_of(request).name, f"{key.prefix}… ({key.name})", via="ui",
               request=request)
    return _section(request, "keys", ingest_out_of_band=bool(request.htmx))


@require_POST
@requires(ADMIN)
def create_user(request):
    form = NewUserForm(request.POST)
    if not form.is_valid():
        return _section(request, "users", status=400, user_form=form)
    user = form.save()
    assign_role(user, form.cleaned_data["role"])
    record(Action.USER_CREATED, caller_of(request).name, f"{user.get_username()} ({form.cleaned_data['role']})",
           via="ui", request=request)
    return _section(request, "users")


@require_POST
@requires(ADMIN)
def change_user(request, user_id):
    """Changes a user's role, or deactivates or reactivates them. An admin cannot demote or deactivate
    themselves, so msgtrace never ends up without an admin by accident."""
    user = get_object_or_404(get_user_model(), pk=user_id)
    actor = caller_of(request)
    if user == actor.user:
        return _section(request, "users", status=400, user_error="You cannot change your own role or deactivate yourself.")
    if "active" in request.POST:
        user.is_active = request.POST["active"] == "true"
        user.save(update_fields=["is_active"])
        action = Action.USER_ACTIVATED if user.is_active else Action.USER_DEACTIVATED
        record(action, actor.name, user.get_username(), via="ui", request=request)
        return _section(request, "users")
    form = RoleForm(request.POST)
    if not form.is_valid():
        return _section(request, "users", status=400, user_error="Pick a role: viewer, member or admin.")
    before = role_of(user)
    assign_role(user, form.cleaned_data["role"])
    if before != form.cleaned_data["role"]:
        record(Action.ROLE_CHANGED, actor.name, f"{user.get_username()}: {before} → {form.cleaned_data['role']}",
               via="ui", request=request)
    return _section(request, "users")


def may_manage(caller, link):
    return caller.may(ADMIN) or (caller.may(WRITE) and link.created_by_id == getattr(caller.user, "pk", None))


@require_POST
@requires(WRITE)
def revoke_share_link(request, link_id):
    link = get_object_or_404(ShareLink, pk=link_id)
    caller = caller_of(request)
    if not may_manage(caller, link):
        return _section(request, "shares", status=403)
    if link.is_usable:
        link.revoke()
        record(Action.SHARE_REVOKED, caller.name, f"link {link.pk} to {link.trace_id}", via="ui", request=request)
    return _section(request, "shares") if request.htmx else redirect("settings")


