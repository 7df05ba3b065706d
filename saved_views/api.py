"""/api/v1/views: saved views of the trace list, the caller's own and the shared ones."""

from datetime import datetime

from django.db import transaction
from ninja import Field, Router, Schema, Status

from accounts.access import caller_of
from saved_views.models import NAME_LENGTH, SavedView
from saved_views.parameters import InvalidView, normalized

router = Router(tags=["saved views"])


class Error(Schema):
    detail: str


class SavedViewOut(Schema):
    id: int
    name: str
    shared: bool
    owner: str | None = Field(description="the user who saved it; null for views saved with an API key "
                                          "or while access control was off, which are shared")
    params: dict[str, str] = Field(description="the trace list's parameters, normalized")
    url: str = Field(description="the trace list with this view applied")
    created_at: datetime
    updated_at: datetime


class SavedViewIn(Schema):
    name: str = Field(min_length=1, max_length=NAME_LENGTH)
    shared: bool = False
    params: dict[str, str | float] = Field(
        default_factory=dict, description="q, status, service, workflow, model, min_duration_ms, "
                                          "max_duration_ms, start, sort, group: as the trace list's URL spells them")


class SavedViewChange(Schema):
    name: str | None = Field(None, min_length=1, max_length=NAME_LENGTH)
    shared: bool | None = None


def _out(view):
    return {"id": view.pk, "name": view.name, "shared": view.shared, "owner": view.owner_name,
            "params": view.params, "url": view.url, "created_at": view.created_at, "updated_at": view.updated_at}


def _name(text):
    name = " ".join(text.split())
    if not name:
        raise InvalidView("name: must not be blank")
    return name


@router.get("/views", response={200: list[SavedViewOut], 401: Error, 403: Error})
def list_views(request):
    """The caller's own views and the shared ones, by name. An API key sees the shared ones."""
    return [_out(view) for view in SavedView.objects.visible_to(caller_of(request)).by_name()]


@router.post("/views", response={201: SavedViewOut, 400: Error, 401: Error, 403: Error, 422: Error})
def create_view(request, body: SavedViewIn):
    """Saves a view for the signed-in user (shared if asked). An API key with the write scope, or anyone
    while access control is off, saves a view without an owner, which is always shared."""
    user = caller_of(request).user
    try:
        view = SavedView.objects.create(name=_name(body.name), params=normalized(body.params), owner=user,
                                        shared=body.shared or user is None)
    except InvalidView as error:
        return Status(422, {"detail": str(error)})
    return Status(201, _out(view))


@router.patch("/views/{view_id}", response={200: SavedViewOut, 400: Error, 401: Error, 403: Error, 404: Error, 422: Error})
def change_view(request, view_id: int, body: SavedViewChange):
    """Renames or (un)shares a view: its owner or an admin; a view without an owner stays shared."""
    caller = caller_of(request)
    with transaction.atomic():
        view = SavedView.objects.visible_to(caller).select_for_update().filter(pk=view_id).first()
        if view is None:
            return Status(404, {"detail": "no such view"})
        if not view.may_change(caller):
            return Status(403, {"detail": "only its owner or an admin may change this view"})
        try:
            if body.name is not None:
                view.name = _name(body.name)
        except InvalidView as error:
            return Status(422, {"detail": str(error)})
        if body.shared is not None:
            if view.owner_id is None and not body.shared:
                return Status(422, {"detail": "shared: a view without an owner is always shared"})
            view.shared = body.shared
        view.save()
    return _out(view)


@router.delete("/views/{view_id}", response={204: None, 401: Error, 403: Error, 404: Error, 422: Error})
def delete_view(request, view_id: int):
    """Deletes a view: its owner or an admin; a view without an owner, anyone who may write."""
    caller = caller_of(request)
    view = SavedView.objects.visible_to(caller).filter(pk=view_id).first()
    if view is None:
        return Status(404, {"detail": "no such view"})
    if not view.may_change(caller):
        return Status(403, {"detail": "only its owner or an admin may delete this view"})
    view.delete()
    return Status(204, None)
