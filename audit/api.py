"""GET /api/v1/audit: the audit log for admins, newest first, a page at a time."""

from ninja import Field, ModelSchema, Query, Router, Schema, Status

from accounts.access import requires
from accounts.roles import ADMIN
from audit.models import Action, AuditEvent
from traces.pagination import page
from traces.parameters import check_cursor, moment

router = Router(tags=["audit"])


class Error(Schema):
    detail: str


class AuditEventOut(ModelSchema):
    action: Action
    count: int | None = Field(description="traces deleted, for delete_traces; null otherwise")
    address: str | None = Field(description="where the request came from; null for commands and retention")

    class Meta:
        model = AuditEvent
        fields = ["at", "actor", "action", "target", "count", "via", "address"]


class AuditList(Schema):
    events: list[AuditEventOut]
    next_cursor: str | None = Field(description="pass as cursor for the next (older) page; null on the last page")


@router.get("/audit", response={200: AuditList, 401: Error, 403: Error, 422: Error})
@requires(ADMIN)
def audit_log(
    request,
    action: Action | None = None,
    actor: str | None = Query(None, max_length=200, description="part of the actor's name, in any case"),
    since: str | None = Query(None, description="events at or after: an ISO-8601 time, or 15m, 24h, 7d"),
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = None,
):
    """Sign-ins, deletions, API keys, users and share links, newest first. For signed-in admins: an API key
    is answered 403, whatever its scopes."""
    try:
        start = moment(since) if since else None
    except ValueError as error:
        return Status(422, {"detail": f"since: {error}"})
    if cursor:
        check_cursor(cursor, AuditEvent, "at")  # InvalidCursor: 422
    events = AuditEvent.objects.search(action=action, actor=(actor or "").strip(), since=start).newest_first()
    rows, next_cursor = page(events, "at", True, cursor, limit)
    return {"events": rows, "next_cursor": next_cursor}
