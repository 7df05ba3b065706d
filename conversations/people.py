"""A user's page: their totals, their sessions, their usage and cost by day, and their latest failures."""

from datetime import datetime, timedelta, timezone

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDay

from conversations.listing import paged, sessions, user_figures
from traces.models import Span, Status, StatusCode, Trace, stored_text

USAGE_DAYS = 30
LATEST_ERRORS = 10
# The chart's drawing box; bars stretch with the page (preserveAspectRatio="none").
CHART_WIDTH, CHART_HEIGHT = 600, 120


class UnknownUser(LookupError):
    pass


class Day:
    __slots__ = ("day", "traces", "tokens", "cost", "errors", "x", "y", "height")

    def __init__(self, day, traces=0, tokens=0, cost=0.0, errors=0):
        self.day, self.traces, self.tokens, self.cost, self.errors = day, traces, tokens or 0, cost or 0.0, errors or 0
        self.x = self.y = self.height = 0


class Usage:
    """Traces, tokens, cost and failed traces by day over the last USAGE_DAYS days (empty days included),
    with the cost bars placed for an SVG of CHART_WIDTH x CHART_HEIGHT."""

    width, height = CHART_WIDTH, CHART_HEIGHT

    def __init__(self, days):
        self.days = days
        self.bar_width = CHART_WIDTH / len(days) * 0.7
        top = max((day.cost for day in days), default=0) or 1
        for i, day in enumerate(days):
            day.x = round(CHART_WIDTH / len(days) * (i + 0.15), 2)
            day.height = round(day.cost / top * CHART_HEIGHT, 2)
            day.y = round(CHART_HEIGHT - day.height, 2)

    @property
    def first(self):
        return self.days[0].day

    @property
    def last(self):
        return self.days[-1].day

    @property
    def top_cost(self):
        return max(day.cost for day in self.days)

    @classmethod
    def of(cls, traces, now):
        today = now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        start = today - timedelta(days=USAGE_DAYS - 1)
        rows = (traces.between(start).annotate(day=TruncDay("started_at", tzinfo=timezone.utc)).values("day")
                .annotate(traces=Count("id"), tokens=Sum("total_tokens"), cost=Sum("total_cost"),
                          errors=Count("id", filter=Q(status=Status.ERROR)))
                .order_by("day"))
        found = {row["day"].date(): row for row in rows}
        days = []
        for n in range(USAGE_DAYS):
            day = (start + timedelta(days=n)).date()
            row = found.get(day)
            days.append(Day(day, row["traces"], row["tokens"], row["cost"], row["errors"]) if row else Day(day))
        return cls(days)


class FailedTrace:
    __slots__ = ("pk", "trace_id", "started_at", "name", "session_id", "message")

    def __init__(self, pk, trace_id, started_at, name, session_id):
        self.pk, self.trace_id, self.started_at, self.name, self.session_id = pk, trace_id, started_at, name, session_id
        self.message = ""


class Person:
    """A user page: totals over all their traces, one page of their sessions (latest first), their usage
    by day and their latest failed traces with the first error message of each."""

    def __init__(self, user_id, totals, page, usage, failures):
        self.user_id, self.totals, self.page, self.usage, self.failures = user_id, totals, page, usage, failures

    @property
    def sessions(self):
        return self.page.rows

    @classmethod
    def load(cls, user_id, page=1, now=None):
        """Six queries, each over this user's traces only (index trace_user_started); UnknownUser when
        no trace has this id."""
        traces = Trace.objects.filter(user_id=stored_text(user_id)) if user_id else Trace.objects.none()
        totals = traces.aggregate(**user_figures())
        if not totals["trace_count"]:
            raise UnknownUser(f"no trace belongs to user {user_id!r}")
        page = paged(sessions(traces), page)
        usage = Usage.of(traces, now or datetime.now(timezone.utc))
        return cls(user_id, totals, page, usage, latest_failures(traces))


def latest_failures(traces, limit=LATEST_ERRORS):
    failed = [FailedTrace(*row) for row in traces.filter(status=Status.ERROR).order_by("-started_at", "-id")
              .values_list("id", "trace_id", "started_at", "root_span_name", "session_id")[:limit]]
    if failed:
        by_pk = {trace.pk: trace for trace in failed}
        messages = (Span.objects.filter(trace_id__in=by_pk, status_code=StatusCode.ERROR)
                    .order_by("start_ns", "id").values_list("trace_id", "status_message", "name"))
        for pk, message, name in messages:
            trace = by_pk[pk]
            trace.message = trace.message or message or f"{name} failed"
    return failed
