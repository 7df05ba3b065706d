"""The session and user lists: one GROUP BY over the traces of a window, sorted and paged in the database."""

from dataclasses import dataclass

from django.db.models import BigIntegerField, Case, Count, F, Max, Min, Q, Sum, When

from traces.models import RunLink, Status, Trace, stored_text
from traces.query_limits import time_limit

PAGE_SIZE = 50
# Offset pages over a sorted aggregate: the groups are counted whichever page is read, so the list stops
# at a page that still answers fast; narrowing the window or searching reaches the rest.
MAX_PAGE = 200
# Sort name -> the aggregate it orders by, largest (or latest) first; ties by id, so pages never overlap.
SORTS = {"latest": "last_at", "traces": "trace_count", "cost": "cost", "errors": "errors", "tokens": "tokens"}
DEFAULT_SORT = "latest"
DEFAULT_WINDOW = "24h"

# A turn is a run (traces.runs): a trace stitched into another's run counts with its outermost trace.
TURN = Case(When(run_link=RunLink.STITCHED, then=F("run_root_id")), default=F("id"), output_field=BigIntegerField())
FIGURES = {
    "first_at": Min("started_at"),
    "last_at": Max("started_at"),
    "trace_count": Count("id"),
    "tokens": Sum("total_tokens"),
    "cost": Sum("total_cost"),
    "errors": Sum("error_count"),
    "failed_traces": Count("id", filter=Q(status=Status.ERROR)),
}


def session_figures():
    """What the session list, a session page and a user's sessions show of a session's traces."""
    # Max: a session is normally one user's; of several (or none on some traces) one is shown.
    return FIGURES | {"turn_count": Count(TURN, distinct=True), "user_id": Max("user_id")}


def user_figures():
    return FIGURES | {"session_count": Count("session_id", distinct=True, filter=~Q(session_id=""))}


@dataclass
class Page:
    rows: list
    number: int
    has_next: bool

    @property
    def next_number(self):
        return self.number + 1 if self.has_next else None

    @property
    def previous_number(self):
        return self.number - 1 if self.number > 1 else None


def listed(rows, number):
    """A page of a session or user list, read within MSGTRACE_QUERY_TIMEOUT_SECONDS: a window of
    millions of traces raises traces.query_limits.QueryTimeout rather than hold a worker."""
    with time_limit():
        return paged(rows, number)


def paged(rows, number, size=PAGE_SIZE):
    """Page `number` (from 1) of an ordered queryset: one query, one row more than the page to tell
    whether another follows."""
    start = (number - 1) * size
    found = list(rows[start : start + size + 1])
    return Page(found[:size], number, len(found) > size and number < MAX_PAGE)


def _grouped(traces, field, figures, q, sort):
    traces = traces.exclude(**{field: ""})
    if q:
        traces = traces.filter(**{f"{field}__icontains": stored_text(q)})
    order = SORTS[sort]
    return traces.values(field).annotate(**figures).order_by(f"-{order}", field)


def sessions(traces, q="", sort=DEFAULT_SORT):
    """One row per session of `traces` (session_id and session_figures()), `q` a substring of the id."""
    return _grouped(traces, "session_id", session_figures(), q, sort)


def users(traces, q="", sort=DEFAULT_SORT):
    """One row per user of `traces` (user_id and user_figures()), `q` a substring of the id."""
    return _grouped(traces, "user_id", user_figures(), q, sort)


def in_window(start, now):
    """The traces that started in [start, now]. Both bounds keep SQLite (which has no statistics) on the
    trace_started range: with a lower bound alone it walks trace_session_started whole to skip a sort."""
    return Trace.objects.filter(started_at__lte=now).between(start)
