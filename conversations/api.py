"""GET /api/v1/sessions, /sessions/{session_id}, /users and /users/{user_id}: the pages' figures as JSON."""

from datetime import date, datetime, timezone
from typing import Literal

from ninja import Query, Router, Schema, Status
from pydantic import Field

from conversations import ids, listing  # noqa: F401  (ids registers the anytext converter)
from conversations.people import Person, UnknownUser
from conversations.turns import Conversation, UnknownSession
from traces.query_limits import QueryTimeout
from traces.timeframe import window_start

router = Router(tags=["sessions and users"])


class Error(Schema):
    detail: str


class ListParams(Schema):
    q: str = Field("", max_length=256, description="A part of the id")
    sort: Literal["latest", "traces", "cost", "errors", "tokens"] = listing.DEFAULT_SORT
    window: Literal["1h", "24h", "7d", "30d", "all"] = Field(
        listing.DEFAULT_WINDOW, description="Only the traces that started in this window count")
    page: int = Field(1, ge=1, le=listing.MAX_PAGE)


class Figures(Schema):
    first_at: datetime
    last_at: datetime
    trace_count: int
    tokens: int
    cost: float
    errors: int = Field(description="Failed spans")
    failed_traces: int


class SessionOut(Figures):
    session_id: str
    user_id: str
    turn_count: int


class SessionList(Schema):
    sessions: list[SessionOut]
    page: int
    next_page: int | None


class TurnOut(Schema):
    number: int
    trace_id: str = Field(description="The outermost trace of the turn's run: its page shows the whole turn")
    trace_ids: list[str]
    started_at: datetime
    duration_ms: float
    tokens: int
    cost: float
    errors: int
    error_message: str
    user_message: str | None
    answer: str | None


class SessionDetail(SessionOut):
    duration_ms: float
    turns: list[TurnOut]
    page: int
    next_page: int | None


class UserOut(Figures):
    user_id: str
    session_count: int


class UserList(Schema):
    users: list[UserOut]
    page: int
    next_page: int | None


class DayOut(Schema):
    day: date
    traces: int
    tokens: int
    cost: float
    failed_traces: int


class FailedTraceOut(Schema):
    trace_id: str
    started_at: datetime
    name: str
    session_id: str
    message: str


class UserDetail(UserOut):
    sessions: list[SessionOut]
    page: int
    next_page: int | None
    usage: list[DayOut] = Field(description="The last 30 days, oldest first")
    latest_errors: list[FailedTraceOut]


def _listed(params, rows):
    now = datetime.now(timezone.utc)
    traces = listing.in_window(window_start(params.window, now), now)
    return listing.listed(rows(traces, params.q, params.sort), params.page)


@router.get("/sessions", response={200: SessionList, 422: Error, 503: Error})
def list_sessions(request, params: Query[ListParams]):
    """Sessions with traces in the window, `q` a part of their id, sorted largest (or latest) first; 50 a page.
    Figures count the window's traces; 503 when reading them takes longer than the query time limit."""
    try:
        page = _listed(params, listing.sessions)
    except QueryTimeout as timeout:
        return Status(503, {"detail": str(timeout)})
    return {"sessions": page.rows, "page": page.number, "next_page": page.next_number}


@router.get("/sessions/{anytext:session_id}", response={200: SessionDetail, 404: Error, 422: Error})
def session_detail(request, session_id: str, page: int = Query(1, ge=1, le=listing.MAX_PAGE)):
    """A session as a conversation: its totals and its turns (one per run) in time order, 50 a page, each
    with the user's message, the assistant's answer, latency, tokens, cost and errors. The id is URL-encoded."""
    try:
        conversation = Conversation.load(session_id, page)
    except UnknownSession as unknown:
        return Status(404, {"detail": str(unknown)})
    return {
        **conversation.totals, "session_id": session_id, "duration_ms": conversation.duration_ms,
        "turns": [_turn(turn) for turn in conversation.turns],
        "page": conversation.page.number, "next_page": conversation.page.next_number,
    }


def _turn(turn):
    return {
        "number": turn.number, "trace_id": turn.trace_id, "trace_ids": turn.trace_ids, "started_at": turn.started_at,
        "duration_ms": turn.duration_ms, "tokens": turn.tokens, "cost": turn.cost, "errors": turn.errors,
        "error_message": turn.error_message,
        "user_message": turn.user_message and turn.user_message.text, "answer": turn.answer and turn.answer.text,
    }


@router.get("/users", response={200: UserList, 422: Error, 503: Error})
def list_users(request, params: Query[ListParams]):
    """Users with traces in the window, `q` a part of their id, sorted largest (or latest) first; 50 a page.
    Figures count the window's traces; 503 when reading them takes longer than the query time limit."""
    try:
        page = _listed(params, listing.users)
    except QueryTimeout as timeout:
        return Status(503, {"detail": str(timeout)})
    return {"users": page.rows, "page": page.number, "next_page": page.next_number}


@router.get("/users/{anytext:user_id}", response={200: UserDetail, 404: Error, 422: Error})
def user_detail(request, user_id: str, page: int = Query(1, ge=1, le=listing.MAX_PAGE)):
    """A user: totals over all their traces, their sessions (latest first, 50 a page), cost and usage by
    day over the last 30 days, and their latest failed traces with the first error of each. The id is URL-encoded."""
    try:
        person = Person.load(user_id, page)
    except UnknownUser as unknown:
        return Status(404, {"detail": str(unknown)})
    return {
        **person.totals, "user_id": user_id, "sessions": person.sessions,
        "page": person.page.number, "next_page": person.page.next_number,
        "usage": [{"day": day.day, "traces": day.traces, "tokens": day.tokens, "cost": day.cost,
                   "failed_traces": day.errors} for day in person.usage.days],
        "latest_errors": [{"trace_id": failed.trace_id, "started_at": failed.started_at, "name": failed.name,
                           "session_id": failed.session_id, "message": failed.message} for failed in person.failures],
    }
